"""Any OpenAI-compatible server (vLLM, llama.cpp server, LM Studio, Ollama's /v1)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.llm.errors import ProviderUnavailableError


@dataclass(frozen=True)
class OpenAIHealth:
    """What `GET {base_url}/models` said; `message` is one actionable line."""

    reachable: bool
    model_present: bool
    message: str
    models: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reachable and self.model_present


def check_openai(
    base_url: str, model: str, api_key: str = "not-needed", timeout: float = 3.0
) -> OpenAIHealth:
    """Never raises. Servers that list no models (some serve whatever is loaded) count as present."""
    base = base_url.rstrip("/")
    try:
        response = httpx.get(
            f"{base}/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )
    except httpx.HTTPError as exc:
        return OpenAIHealth(False, False, str(ProviderUnavailableError.openai(base, type(exc).__name__)))
    if response.status_code in (401, 403):
        return OpenAIHealth(
            False,
            False,
            f"{base}/models refused the API key (HTTP {response.status_code}); set HITL_OPENAI__API_KEY",
        )
    if response.status_code != 200:
        detail = f"GET /models answered HTTP {response.status_code}"
        return OpenAIHealth(False, False, str(ProviderUnavailableError.openai(base, detail)))
    try:
        data = response.json().get("data", [])
        models = [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]
    except (ValueError, AttributeError, TypeError):
        models = []
    if models and model not in models:
        return OpenAIHealth(
            True,
            False,
            f"the server at {base} does not serve {model!r} (it has: {', '.join(models[:8])}); "
            "set HITL_OPENAI__MODEL to one of those",
            models,
        )
    return OpenAIHealth(True, True, f"OpenAI-compatible server at {base} answers (model {model})", models)


def create_openai_chat(config: LocalAgentConfig) -> ChatOpenAI:
    """`ChatOpenAI` pointed at `config.openai.base_url`; supports `.bind_tools()`."""
    return ChatOpenAI(
        model=config.openai.model,
        base_url=config.openai.base_url,
        api_key=SecretStr(config.openai.api_key),
        temperature=config.temperature,
    )
