"""Any OpenAI-compatible server (vLLM, llama.cpp server, LM Studio)."""

from __future__ import annotations

import httpx
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from langgraph_ollama_local.config import LocalAgentConfig


def check_openai(base_url: str, api_key: str, timeout: float = 3.0) -> tuple[bool, str]:
    try:
        response = httpx.get(
            f"{base_url.rstrip('/')}/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout
        )
        response.raise_for_status()
    except httpx.HTTPError as exc:
        return False, (
            f"the OpenAI-compatible server at {base_url} is not reachable ({type(exc).__name__}); "
            "start it or set HITL_OPENAI__BASE_URL"
        )
    return True, f"OpenAI-compatible server at {base_url} answers"


def create_openai_chat(config: LocalAgentConfig) -> ChatOpenAI:
    return ChatOpenAI(
        model=config.openai.model,
        base_url=config.openai.base_url,
        api_key=SecretStr(config.openai.api_key),
        temperature=config.temperature,
    )
