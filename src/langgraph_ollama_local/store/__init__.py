"""Persistence: LangGraph checkpointers (graph state) opened from one storage URL."""

from typing import TYPE_CHECKING

from langgraph_ollama_local._lazy import lazy_exports

if TYPE_CHECKING:
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

if not TYPE_CHECKING:  # checkers see the imports above; at run time each loads on first use
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "langgraph_ollama_local.store.checkpointer": __all__,  # the one module they come from
        },
    )
