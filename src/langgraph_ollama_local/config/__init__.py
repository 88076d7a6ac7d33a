"""Configuration: one settings object read from kwargs, env vars and `.env`."""

from langgraph_ollama_local.config.settings import (
    EmbeddedSettings,
    LocalAgentConfig,
    NotificationSettings,
    OllamaSettings,
    OpenAISettings,
    ProviderName,
    RetentionSettings,
    SmtpSettings,
)

__all__ = [
    "EmbeddedSettings",
    "LocalAgentConfig",
    "NotificationSettings",
    "OllamaSettings",
    "OpenAISettings",
    "ProviderName",
    "RetentionSettings",
    "SmtpSettings",
]
