"""Persistence: LangGraph checkpointers (graph state) opened from one storage URL."""

from langgraph_ollama_local.store.checkpointer import (
    StorageConfigError,
    StorageUnavailableError,
    check_storage,
    describe_storage,
    open_async_checkpointer,
    open_checkpointer,
)

__all__ = [
    "StorageConfigError",
    "StorageUnavailableError",
    "check_storage",
    "describe_storage",
    "open_async_checkpointer",
    "open_checkpointer",
]
