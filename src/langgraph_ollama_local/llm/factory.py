"""One factory for every provider; `auto` prefers Ollama and falls back to the embedded model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from langchain_core.language_models import BaseChatModel

from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.llm.errors import ModelNotFoundError, ProviderUnavailableError
from langgraph_ollama_local.llm.ollama import check_ollama

Resolved = Literal["ollama", "embedded", "openai"]


@dataclass(frozen=True)
class ProviderChoice:
    name: Resolved
    reason: str


def resolve_provider(config: LocalAgentConfig) -> ProviderChoice:
    """Which provider `config` means, and why (shown to the user)."""
    if config.provider == "embedded":
        return ProviderChoice("embedded", "provider set to embedded (llama.cpp in-process)")
    if config.provider == "openai":
        return ProviderChoice("openai", f"provider set to openai at {config.openai.base_url}")
    health = check_ollama(config.ollama.base_url, config.ollama.model, timeout=2.0)
    if config.provider == "ollama":
        return ProviderChoice("ollama", health.message)
    if health.ok:
        return ProviderChoice("ollama", f"auto: {health.message}")
    return ProviderChoice("embedded", f"auto: {health.message}; using the embedded offline model")


def create_chat_model(
    config: LocalAgentConfig | None = None, choice: ProviderChoice | None = None
) -> BaseChatModel:
    """A LangChain chat model (supports `.bind_tools()`) for the configured provider."""
    config = config or LocalAgentConfig()
    choice = choice or resolve_provider(config)
    if choice.name == "ollama":
        health = check_ollama(config.ollama.base_url, config.ollama.model)
        if not health.reachable:
            raise ProviderUnavailableError(health.message)
        if not health.model_present:
            raise ModelNotFoundError(health.message)
        from langgraph_ollama_local.llm.ollama import create_ollama_chat

        return create_ollama_chat(config)
    if choice.name == "openai":
        from langgraph_ollama_local.llm.openai_compat import create_openai_chat

        return create_openai_chat(config)
    from langgraph_ollama_local.llm.embedded import EmbeddedChatModel, ensure_model_file

    settings = config.embedded
    path = settings.model_path or ensure_model_file(settings.cache_dir)
    if settings.model_path and not settings.model_path.is_file():
        raise ProviderUnavailableError(f"embedded model_path {settings.model_path} does not exist")
    return EmbeddedChatModel(
        model_path=str(path),
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
        max_tokens=settings.max_tokens,
        temperature=config.temperature,
        seed=settings.seed,
    )
