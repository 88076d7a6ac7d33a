"""The offline provider: llama.cpp in-process with a small model installed from PyPI."""

from langgraph_ollama_local.llm.embedded.chat_model import EmbeddedChatModel
from langgraph_ollama_local.llm.embedded.model_file import (
    MODEL_FILENAME,
    QWEN_SHA256,
    ensure_model_file,
    packaged_chunk_paths,
    resolve_model_file,
    verify_model_file,
)
from langgraph_ollama_local.llm.embedded.tool_calls import parse_tool_calls

__all__ = [
    "MODEL_FILENAME",
    "QWEN_SHA256",
    "EmbeddedChatModel",
    "ensure_model_file",
    "packaged_chunk_paths",
    "parse_tool_calls",
    "resolve_model_file",
    "verify_model_file",
]
