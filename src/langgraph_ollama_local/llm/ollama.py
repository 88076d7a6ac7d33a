"""Ollama: the spec's `ChatOllama`, plus a health check with one actionable line."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from langchain_ollama import ChatOllama

from langgraph_ollama_local.config import LocalAgentConfig


@dataclass(frozen=True)
class OllamaHealth:
    reachable: bool
    model_present: bool
    message: str
    models: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reachable and self.model_present


def _same_model(wanted: str, available: str) -> bool:
    with_tag = wanted if ":" in wanted else f"{wanted}:latest"
    return available in (wanted, with_tag)


def check_ollama(base_url: str, model: str, timeout: float = 3.0) -> OllamaHealth:
    try:
        response = httpx.get(f"{base_url.rstrip('/')}/api/tags", timeout=timeout)
        response.raise_for_status()
        models = [str(m.get("name") or m.get("model")) for m in response.json().get("models", [])]
    except (httpx.HTTPError, ValueError) as exc:
        return OllamaHealth(
            False,
            False,
            f"Ollama is not reachable at {base_url} ({type(exc).__name__}); start it with `ollama serve` "
            "or set OLLAMA_HOST to where it runs",
        )
    if not any(_same_model(model, m) for m in models):
        return OllamaHealth(
            True, False, f"Ollama at {base_url} does not have {model!r}; run `ollama pull {model}`", models
        )
    return OllamaHealth(True, True, f"Ollama at {base_url} has {model!r}", models)


def create_ollama_chat(config: LocalAgentConfig) -> ChatOllama:
    return ChatOllama(
        model=config.ollama.model, base_url=config.ollama.base_url, temperature=config.temperature
    )
