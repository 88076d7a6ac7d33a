"""LLM providers behind one factory: ollama, openai-compatible, embedded llama.cpp."""

from langgraph_ollama_local.llm.errors import (
    ModelChecksumError,
    ModelNotFoundError,
    ModelNotInstalledError,
    ProviderError,
    ProviderUnavailableError,
)
from langgraph_ollama_local.llm.factory import ProviderChoice, create_chat_model, resolve_provider
from langgraph_ollama_local.llm.ollama import OllamaHealth, check_ollama

__all__ = [
    "ModelChecksumError",
    "ModelNotFoundError",
    "ModelNotInstalledError",
    "OllamaHealth",
    "ProviderChoice",
    "ProviderError",
    "ProviderUnavailableError",
    "check_ollama",
    "create_chat_model",
    "resolve_provider",
]
