"""LLM providers behind one factory: Ollama, any OpenAI-compatible server, embedded llama.cpp.

from langgraph_ollama_local.llm import create_chat_model
model = create_chat_model(config)          # auto: Ollama if ready, else the offline model
model.bind_tools([send_email, get_weather])
"""

from typing import TYPE_CHECKING

from langgraph_ollama_local._lazy import lazy_exports

if TYPE_CHECKING:
    from langgraph_ollama_local.llm.embedded import (
        EmbeddedChatModel,
        ensure_model_file,
        parse_tool_calls,
        verify_model_file,
    )
    from langgraph_ollama_local.llm.errors import (
        ModelChecksumError,
        ModelNotFoundError,
        ModelNotInstalledError,
        ProviderError,
        ProviderUnavailableError,
    )
    from langgraph_ollama_local.llm.factory import (
        ProviderChoice,
        create_chat_model,
        create_embedded_chat,
        describe_choice,
        resolve_provider,
    )
    from langgraph_ollama_local.llm.ollama import OllamaHealth, check_ollama, create_ollama_chat
    from langgraph_ollama_local.llm.openai_compat import OpenAIHealth, check_openai, create_openai_chat

__all__ = [
    "EmbeddedChatModel",
    "ModelChecksumError",
    "ModelNotFoundError",
    "ModelNotInstalledError",
    "OllamaHealth",
    "OpenAIHealth",
    "ProviderChoice",
    "ProviderError",
    "ProviderUnavailableError",
    "check_ollama",
    "check_openai",
    "create_chat_model",
    "create_embedded_chat",
    "create_ollama_chat",
    "create_openai_chat",
    "describe_choice",
    "ensure_model_file",
    "parse_tool_calls",
    "resolve_provider",
    "verify_model_file",
]

if not TYPE_CHECKING:  # checkers see the imports above; at run time each loads on first use
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "langgraph_ollama_local.llm.embedded": (
                "EmbeddedChatModel",
                "ensure_model_file",
                "parse_tool_calls",
                "verify_model_file",
            ),
            "langgraph_ollama_local.llm.errors": (
                "ModelChecksumError",
                "ModelNotFoundError",
                "ModelNotInstalledError",
                "ProviderError",
                "ProviderUnavailableError",
            ),
            "langgraph_ollama_local.llm.factory": (
                "ProviderChoice",
                "create_chat_model",
                "create_embedded_chat",
                "describe_choice",
                "resolve_provider",
            ),
            "langgraph_ollama_local.llm.ollama": ("OllamaHealth", "check_ollama", "create_ollama_chat"),
            "langgraph_ollama_local.llm.openai_compat": (
                "OpenAIHealth",
                "check_openai",
                "create_openai_chat",
            ),
        },
    )
