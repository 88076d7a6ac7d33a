"""Provider health checks, the `auto` choice and the factory's actionable errors.

No Ollama (or OpenAI-compatible) server can run in this environment, so a small real
HTTP server on loopback imitating Ollama's `GET /api/tags` (and `GET /v1/models`) stands
in for it: a test double for the server, while our client code, httpx and the network
path are the real ones. "Unreachable" is a real closed port.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from langgraph_ollama_local import LocalAgentConfig
from langgraph_ollama_local.llm import (
    EmbeddedChatModel,
    ModelNotFoundError,
    ModelNotInstalledError,
    ProviderChoice,
    ProviderUnavailableError,
    check_ollama,
    check_openai,
    create_chat_model,
    describe_choice,
    resolve_provider,
)
from langgraph_ollama_local.llm.ollama import model_matches


@dataclass
class FakeServer:
    """A loopback HTTP server answering GET paths with canned (status, body)."""

    routes: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    state = FakeServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            status, body = state.routes.get(self.path, (404, b"404 page not found"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def ollama_tags(*names: str) -> tuple[int, bytes]:
    """The shape of Ollama's real /api/tags answer (trimmed)."""
    models = [
        {"name": n, "model": n, "size": 2019393189, "digest": "a80c4f17acd5", "details": {"format": "gguf"}}
        for n in names
    ]
    return 200, json.dumps({"models": models}).encode()


@pytest.fixture
def fake_ollama(fake_server) -> str:
    fake_server.routes["/api/tags"] = ollama_tags("llama3.2:3b", "qwen2.5:latest", "library/mistral:7b")
    return fake_server.url


@pytest.fixture
def dead_url() -> str:
    """A loopback port with nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.mark.parametrize(
    ("wanted", "available", "same"),
    [
        ("llama3.2", "llama3.2:latest", True),
        ("llama3.2:latest", "llama3.2", True),
        ("llama3.2:3b", "llama3.2:3b", True),
        ("llama3.2:3b", "llama3.2:1b", False),
        ("llama3.2", "llama3.2:3b", False),
        ("llama3", "llama3.2:latest", False),
        ("registry.local:5000/llama3.2", "registry.local:5000/llama3.2:latest", True),
    ],
)
def test_model_name_matching(wanted, available, same):
    assert model_matches(wanted, available) is same


def test_ollama_with_the_model(fake_ollama):
    health = check_ollama(fake_ollama, "llama3.2:3b")
    assert health.reachable and health.model_present and health.ok
    assert health.models == ["llama3.2:3b", "qwen2.5:latest", "library/mistral:7b"]
    assert health.error() is None


def test_latest_tag_is_implied(fake_ollama):
    assert check_ollama(fake_ollama, "qwen2.5").ok


def test_ollama_without_the_model_says_which_pull(fake_ollama):
    health = check_ollama(fake_ollama, "llama3.2:1b")
    assert health.reachable and not health.model_present
    assert "`ollama pull llama3.2:1b`" in health.message and "llama3.2:3b" in health.message
    assert "\n" not in health.message
    error = health.error()
    assert isinstance(error, ModelNotFoundError) and error.fix == "ollama pull llama3.2:1b"


def test_unreachable_ollama_says_ollama_serve(dead_url):
    health = check_ollama(dead_url, "llama3.2:3b", timeout=1.0)
    assert not health.reachable and not health.model_present and health.models == []
    assert "not reachable" in health.message and "`ollama serve`" in health.message
    assert "\n" not in health.message
    error = health.error()
    assert isinstance(error, ProviderUnavailableError) and error.fix == "ollama serve"


@pytest.mark.parametrize(
    "route",
    [(404, b"404 page not found"), (200, b"<html>not json</html>"), (200, b'{"status": "ok"}'), (500, b"")],
)
def test_something_else_on_the_port_is_not_taken_for_ollama(fake_server, route):
    fake_server.routes["/api/tags"] = route
    health = check_ollama(fake_server.url, "llama3.2:3b")
    assert not health.reachable and "ollama serve" in health.message


def test_trailing_slash_in_the_base_url(fake_ollama, fake_server):
    assert check_ollama(fake_ollama + "/", "llama3.2:3b").ok
    assert fake_server.requests[-1] == "/api/tags"


def test_openai_compatible_health(fake_server, dead_url):
    fake_server.routes["/v1/models"] = (200, json.dumps({"data": [{"id": "qwen-7b"}]}).encode())
    assert check_openai(fake_server.url + "/v1", "qwen-7b").ok
    wrong = check_openai(fake_server.url + "/v1", "other")
    assert wrong.reachable and not wrong.model_present and "HITL_OPENAI__MODEL" in wrong.message
    fake_server.routes["/v1/models"] = (401, b"{}")
    assert "HITL_OPENAI__API_KEY" in check_openai(fake_server.url + "/v1", "qwen-7b").message
    down = check_openai(dead_url + "/v1", "qwen-7b", timeout=1.0)
    assert not down.reachable and "HITL_OPENAI__BASE_URL" in down.message


def test_auto_prefers_a_ready_ollama(fake_ollama):
    config = LocalAgentConfig(ollama={"base_url": fake_ollama, "model": "llama3.2:3b"})
    choice = resolve_provider(config)
    assert choice.name == "ollama" and "llama3.2:3b" in choice.reason
    model = create_chat_model(config, choice)
    assert type(model).__name__ == "ChatOllama"
    assert model.model == "llama3.2:3b" and model.base_url == fake_ollama and model.temperature == 0.0


def test_auto_falls_back_when_ollama_is_down(dead_url):
    choice = resolve_provider(LocalAgentConfig(ollama={"base_url": dead_url}))
    assert choice == ProviderChoice(
        "embedded", f"Ollama at {dead_url} is not reachable; using the embedded model"
    )


def test_auto_falls_back_when_the_model_is_not_pulled(fake_ollama):
    choice = resolve_provider(LocalAgentConfig(ollama={"base_url": fake_ollama, "model": "phi3:mini"}))
    assert choice.name == "embedded"
    assert "`ollama pull phi3:mini`" in choice.reason and "using the embedded model" in choice.reason


def test_explicit_ollama_down_raises_with_the_fix(dead_url):
    with pytest.raises(ProviderUnavailableError, match="ollama serve") as info:
        create_chat_model(LocalAgentConfig(provider="ollama", ollama={"base_url": dead_url}))
    assert info.value.fix == "ollama serve"


def test_explicit_ollama_without_the_model_raises_with_the_pull(fake_ollama, fake_server):
    config = LocalAgentConfig(provider="ollama", ollama={"base_url": fake_ollama, "model": "nope:1b"})
    with pytest.raises(ModelNotFoundError, match=r"`ollama pull nope:1b`"):
        create_chat_model(config)
    assert fake_server.requests == ["/api/tags"]  # resolve's health check is reused, not repeated


def test_explicit_providers_do_not_probe_ollama(fake_ollama, fake_server, tmp_path):
    gguf = tmp_path / "own.gguf"
    gguf.write_bytes(b"GGUF")
    for provider in ("embedded", "openai"):
        config = LocalAgentConfig(
            provider=provider, ollama={"base_url": fake_ollama}, embedded={"model_path": gguf}
        )
        assert resolve_provider(config).name == provider
    assert fake_server.requests == []


def test_openai_compatible_provider():
    config = LocalAgentConfig(
        provider="openai", temperature=0.3, openai={"base_url": "http://127.0.0.1:9/v1", "model": "m"}
    )
    model = create_chat_model(config)
    assert type(model).__name__ == "ChatOpenAI" and hasattr(model, "bind_tools")
    assert model.model_name == "m" and model.temperature == 0.3


def test_embedded_with_an_own_model_path_is_lazy(tmp_path):
    """Creating the model neither joins the packaged file nor loads llama.cpp."""
    gguf = tmp_path / "own.gguf"
    gguf.write_bytes(b"GGUF")
    config = LocalAgentConfig(
        provider="embedded",
        temperature=0.2,
        embedded={"model_path": gguf, "cache_dir": tmp_path / "cache", "n_ctx": 2048, "max_tokens": 64},
    )
    model = create_chat_model(config)
    assert isinstance(model, EmbeddedChatModel)
    assert (model.model_path, model.n_ctx, model.max_tokens, model.temperature) == (str(gguf), 2048, 64, 0.2)
    assert not (tmp_path / "cache").exists()


def test_embedded_with_a_missing_model_path(tmp_path):
    config = LocalAgentConfig(provider="embedded", embedded={"model_path": tmp_path / "nope.gguf"})
    with pytest.raises(ProviderUnavailableError, match="HITL_EMBEDDED__MODEL_PATH"):
        create_chat_model(config)


def test_embedded_without_llama_cpp_says_make_install(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "llama_cpp" else real(name, *a)
    )
    with pytest.raises(ModelNotInstalledError, match="make install") as info:
        create_chat_model(LocalAgentConfig(provider="embedded", embedded={"cache_dir": tmp_path}))
    assert "langgraph-ollama-local[embedded]" in str(info.value)


def test_describe_choice(tmp_path):
    config = LocalAgentConfig()
    down = ProviderChoice(
        "embedded", "Ollama at http://localhost:11434 is not reachable; using the embedded model"
    )
    line = describe_choice(down, config)
    assert line.startswith("embedded · Qwen2.5-Coder-0.5B-Instruct Q4_K_M") and "not reachable" in line
    assert "llama3.2:3b" in describe_choice(ProviderChoice("ollama", "up"), config)
    own = LocalAgentConfig(embedded={"model_path": Path("/m/x.gguf")})
    assert "/m/x.gguf" in describe_choice(ProviderChoice("embedded", "set"), own)


def test_ollama_host_is_honoured(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0:12345")
    assert LocalAgentConfig().ollama.base_url == "http://localhost:12345"
    monkeypatch.setenv("HITL_OLLAMA__MODEL", "qwen2.5:7b")
    assert LocalAgentConfig().ollama.model == "qwen2.5:7b"
