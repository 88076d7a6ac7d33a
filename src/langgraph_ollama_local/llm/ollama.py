"""Ollama: the spec's `ChatOllama`, plus a health check that ends in one actionable line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from langchain_ollama import ChatOllama

from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.llm.errors import ModelNotFoundError, ProviderError, ProviderUnavailableError


@dataclass(frozen=True)
class OllamaHealth:
    """What `GET /api/tags` said. `message` is one line that says what to do next."""

    reachable: bool
    model_present: bool
    message: str
    models: list[str] = field(default_factory=list)
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.reachable and self.model_present

    def error(self) -> ProviderError | None:
        """The typed error this health means (None when healthy)."""
        if not self.reachable:
            return ProviderUnavailableError(self.message, fix=self.fix)
        if not self.model_present:
            return ModelNotFoundError(self.message, fix=self.fix)
        return None


def _with_tag(name: str) -> str:
    """Ollama names without a tag mean `:latest`."""
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def model_matches(wanted: str, available: str) -> bool:
    """`llama3.2` is `llama3.2:latest`; everything else must match exactly."""
    return _with_tag(wanted.strip()) == _with_tag(available.strip())


def _model_names(payload: Any) -> list[str]:
    if not isinstance(payload, dict) or not isinstance(payload.get("models"), list):
        raise ValueError("not an Ollama /api/tags answer (no 'models' list)")
    names = []
    for item in payload["models"]:
        if isinstance(item, dict):
            name = item.get("name") or item.get("model")
            if isinstance(name, str):
                names.append(name)
    return names


def check_ollama(base_url: str, model: str, timeout: float = 3.0) -> OllamaHealth:
    """Ask Ollama which models it has; never raises (the answer says what is wrong)."""
    url = f"{base_url.rstrip('/')}/api/tags"

    def down(detail: str) -> OllamaHealth:
        error = ProviderUnavailableError.ollama(base_url, detail)
        return OllamaHealth(False, False, str(error), fix=error.fix or "")

    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return down(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if response.status_code != 200:
        return down(f"GET /api/tags answered HTTP {response.status_code}; is something else on that port?")
    try:
        models = _model_names(response.json())
    except ValueError as exc:
        return down(str(exc))
    if not any(model_matches(model, name) for name in models):
        missing = ModelNotFoundError.ollama(base_url, model, models)
        return OllamaHealth(True, False, str(missing), models, fix=missing.fix or "")
    return OllamaHealth(True, True, f"Ollama at {base_url} has {model!r}", models)


def create_ollama_chat(config: LocalAgentConfig) -> ChatOllama:
    """`ChatOllama` for the configured model; it supports `.bind_tools()` natively."""
    return ChatOllama(
        model=config.ollama.model,
        base_url=config.ollama.base_url,
        temperature=config.temperature,
        client_kwargs={"timeout": config.ollama.timeout_seconds},
    )
