"""Configuration: one settings object read from kwargs, env vars and `.env`."""

from langgraph_ollama_local.config.settings import (
    EmbeddedSettings,
    LocalAgentConfig,
    OllamaSettings,
    OpenAISettings,
    ProviderName,
    SmtpSettings,
)

__all__ = [
    "EmbeddedSettings",
    "LocalAgentConfig",
    "OllamaSettings",
    "OpenAISettings",
    "ProviderName",
    "SmtpSettings",
]
