"""One factory for every provider; `auto` prefers Ollama and falls back to the embedded model.

`auto` never fails just because Ollama is missing: the embedded model always works
offline. An explicitly chosen provider that cannot work raises a typed error whose
message is the fix, instead of a stack trace at the first model call.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from langchain_core.language_models import BaseChatModel

from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.llm.errors import ModelNotInstalledError
from langgraph_ollama_local.llm.ollama import OllamaHealth, check_ollama

Resolved = Literal["ollama", "embedded", "openai"]
EMBEDDED_MODEL_NAME = "Qwen2.5-Coder-0.5B-Instruct Q4_K_M"
AUTO_PROBE_TIMEOUT = 2.0


@dataclass(frozen=True)
class ProviderChoice:
    """Which provider will serve the model, and a one-line reason to show the user."""

    name: Resolved
    reason: str
    health: OllamaHealth | None = field(default=None, compare=False, repr=False)


def resolve_provider(config: LocalAgentConfig) -> ProviderChoice:
    """Which provider `config` means, and why. Only `auto` and `ollama` touch the network."""
    if config.provider == "embedded":
        return ProviderChoice("embedded", "provider set to embedded (llama.cpp in-process)")
    if config.provider == "openai":
        return ProviderChoice("openai", f"provider set to openai at {config.openai.base_url}")
    base_url, model = config.ollama.base_url, config.ollama.model
    health = check_ollama(base_url, model, timeout=AUTO_PROBE_TIMEOUT)
    if config.provider == "ollama":
        return ProviderChoice("ollama", health.message, health)
    if health.ok:
        return ProviderChoice("ollama", f"Ollama at {base_url} is up and has {model}", health)
    if not health.reachable:
        why = f"Ollama at {base_url} is not reachable"
    else:
        why = f"Ollama at {base_url} does not have {model} (`ollama pull {model}` to use it)"
    return ProviderChoice("embedded", f"{why}; using the embedded model", health)


def describe_choice(choice: ProviderChoice, config: LocalAgentConfig | None = None) -> str:
    """One line naming the model that will answer, e.g. for `hitl chat`'s banner."""
    config = config or LocalAgentConfig()
    if choice.name == "ollama":
        what = f"ollama · {config.ollama.model} at {config.ollama.base_url}"
    elif choice.name == "openai":
        what = f"openai-compatible · {config.openai.model} at {config.openai.base_url}"
    elif config.embedded.model_path is not None:
        what = f"embedded · {config.embedded.model_path} (llama.cpp in-process)"
    else:
        what = f"embedded · {EMBEDDED_MODEL_NAME} (llama.cpp in-process)"
    return f"{what} — {choice.reason}"


def create_chat_model(
    config: LocalAgentConfig | None = None, choice: ProviderChoice | None = None
) -> BaseChatModel:
    """A LangChain chat model (supports `.bind_tools()`) for the configured provider.

    Raises a `ProviderError` subclass with the fixing command when the chosen provider
    cannot work (Ollama down or without the model, embedded packages missing).
    """
    config = config or LocalAgentConfig()
    choice = choice or resolve_provider(config)
    if choice.name == "ollama":
        health = choice.health or check_ollama(config.ollama.base_url, config.ollama.model)
        error = health.error()
        if error is not None:
            raise error
        from langgraph_ollama_local.llm.ollama import create_ollama_chat

        return create_ollama_chat(config)
    if choice.name == "openai":
        from langgraph_ollama_local.llm.openai_compat import create_openai_chat

        return create_openai_chat(config)
    return create_embedded_chat(config)


def resolve_planner_file(config: LocalAgentConfig) -> Path | None:
    """The GGUF that plans guided turns (None: the chat model plans itself).

    The packaged 1.5B plans for the packaged chat model; a chat model of your own
    (`model_path`) plans for itself unless `planner_model_path` says otherwise. The 1.5B
    is joined and checksum-verified on first use, like the chat model.
    """
    from langgraph_ollama_local.llm.embedded.model_file import (
        QWEN_1_5B,
        ensure_model_file,
        resolve_model_file,
    )

    settings = config.embedded
    if settings.planner_model_path is not None:
        return resolve_model_file(settings.planner_model_path, settings.cache_dir)
    if settings.planner == "same" or settings.model_path is not None:
        return None
    return ensure_model_file(settings.cache_dir, model=QWEN_1_5B)


def create_embedded_chat(config: LocalAgentConfig) -> BaseChatModel:
    """The offline model. Joins/verifies the model file now; loads llama.cpp on first use."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise ModelNotInstalledError.llama_cpp("no module named llama_cpp")
    from langgraph_ollama_local.llm.embedded import EmbeddedChatModel
    from langgraph_ollama_local.llm.embedded.model_file import resolve_model_file

    settings = config.embedded
    path = resolve_model_file(settings.model_path, settings.cache_dir)
    return EmbeddedChatModel(
        model_path=str(path),
        planner_model_path=str(resolve_planner_file(config)) if config.turns != "native" else None,
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
        max_tokens=settings.max_tokens,
        temperature=config.temperature,
        seed=settings.seed,
        context_per_prompt_kind=settings.context_per_prompt_kind,
        staged_json=settings.staged_json,
        lazy_grammar=settings.lazy_grammar,
    )
