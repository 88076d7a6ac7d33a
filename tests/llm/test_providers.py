"""Provider health checks and the `auto` choice. No Ollama server can run here, so a tiny
local HTTP server imitating Ollama's `/api/tags` stands in for it (a test double)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from langgraph_ollama_local import LocalAgentConfig
from langgraph_ollama_local.llm import (
    ModelNotFoundError,
    ProviderUnavailableError,
    check_ollama,
    create_chat_model,
    resolve_provider,
)


@pytest.fixture
def fake_ollama():
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"models": [{"name": "llama3.2:3b"}, {"name": "qwen2.5:latest"}]}).encode()
            self.send_response(200 if self.path == "/api/tags" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_health_lines_say_what_to_do(fake_ollama):
    assert check_ollama(fake_ollama, "llama3.2:3b").ok
    assert check_ollama(fake_ollama, "qwen2.5").ok  # ":latest" is implied
    missing = check_ollama(fake_ollama, "mistral:7b")
    assert missing.reachable and not missing.model_present and "ollama pull mistral:7b" in missing.message
    down = check_ollama("http://127.0.0.1:1", "llama3.2:3b")
    assert not down.reachable and "ollama serve" in down.message


def test_auto_prefers_ollama_then_falls_back(fake_ollama):
    up = LocalAgentConfig(ollama={"base_url": fake_ollama, "model": "llama3.2:3b"})
    assert resolve_provider(up).name == "ollama"
    assert type(create_chat_model(up)).__name__ == "ChatOllama"
    down = LocalAgentConfig(ollama={"base_url": "http://127.0.0.1:1"})
    choice = resolve_provider(down)
    assert choice.name == "embedded" and "not reachable" in choice.reason


def test_explicit_ollama_errors_are_actionable(fake_ollama):
    with pytest.raises(ProviderUnavailableError, match="ollama serve"):
        create_chat_model(LocalAgentConfig(provider="ollama", ollama={"base_url": "http://127.0.0.1:1"}))
    with pytest.raises(ModelNotFoundError, match="ollama pull nope"):
        create_chat_model(LocalAgentConfig(provider="ollama", ollama={"base_url": fake_ollama, "model": "nope"}))


def test_ollama_host_is_honoured(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:12345")
    assert LocalAgentConfig().ollama.base_url == "http://localhost:12345"
    monkeypatch.setenv("HITL_OLLAMA__MODEL", "qwen2.5:7b")
    assert LocalAgentConfig().ollama.model == "qwen2.5:7b"


def test_openai_compatible_provider():
    model = create_chat_model(LocalAgentConfig(provider="openai", openai={"base_url": "http://127.0.0.1:9/v1"}))
    assert type(model).__name__ == "ChatOpenAI" and hasattr(model, "bind_tools")
