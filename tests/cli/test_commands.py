"""The typer commands: help, `hitl chat` wiring and its one-line errors, `hitl doctor`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import langgraph_ollama_local.llm as llm
from langgraph_ollama_local.cli.app import app
from langgraph_ollama_local.llm import ProviderChoice
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.cli.conftest import outbox

runner = CliRunner()
DEAD_OLLAMA = "http://127.0.0.1:9"  # the discard port: nothing listens, refused at once


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean configuration under tmp_path: outbox, SQLite file, no SMTP, no policy."""
    for name in (
        "HITL_SMTP__HOST",
        "HITL_POLICY_FILE",
        "HITL_STORAGE_URL",
        "HITL_OUTBOX_DIR",
        "HITL_PROVIDER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HITL_HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no stray .env file
    return tmp_path


@pytest.fixture
def scripted_provider(monkeypatch):
    """`hitl chat` with the scripted model in place of the configured provider."""
    monkeypatch.setattr(
        llm, "resolve_provider", lambda config: ProviderChoice("ollama", "scripted for tests")
    )
    monkeypatch.setattr(
        llm, "create_chat_model", lambda config, choice=None: ScriptedChatModel(script=email_assistant_script)
    )


def test_help_lists_every_command_with_one_line():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("chat", "doctor", "graph"):
        assert command in result.output
    assert "Chat with the agent; approve, edit, reject or answer its tool calls" in result.output


def test_chat_command_pauses_exits_on_eof_and_resumes_the_thread(env, scripted_provider):
    db = f"sqlite:///{env}/chat.db"
    first = runner.invoke(
        app, ["chat", "--thread", "t1", "--db", db], input="Send email to bob@example.com\n"
    )
    assert first.exit_code == 0, first.output
    assert "model  ollama — scripted for tests" in first.output
    assert f"thread t1 — stored in {db}" in first.output
    assert "approval needed" in first.output
    assert f"Resume with: hitl chat --thread t1 --db {db}" in first.output
    assert outbox(env) == []

    second = runner.invoke(app, ["chat", "--thread", "t1", "--db", db], input="a\n/quit\n")
    assert second.exit_code == 0, second.output
    assert "Resuming thread t1" in second.output
    assert second.output.index("approval needed") < second.output.index("you> ")
    assert outbox(env) == ["bob@example.com"]


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    return lines[0]


def test_chat_with_a_bad_policy_file_is_one_line(env):
    policy = env / "policy.yaml"
    policy.write_text("tools:\n  send_emial: require_approval\n")
    line = _one_line_error(runner.invoke(app, ["chat", "--policy", str(policy), "--provider", "embedded"]))
    assert "send_emial" in line and "Fix the tool name in the policy" in line


def test_chat_with_an_unreadable_policy_file_is_one_line(env):
    line = _one_line_error(runner.invoke(app, ["chat", "--policy", str(env / "missing.yaml")]))
    assert "cannot read policy file" in line


def test_chat_with_a_bad_db_url_is_one_line(env):
    line = _one_line_error(runner.invoke(app, ["chat", "--db", "mysql://localhost/x"]))
    assert "storage_url" in line and "sqlite:///" in line


def test_chat_with_an_unopenable_sqlite_path_is_one_line(env, scripted_provider):
    blocker = env / "file"
    blocker.write_text("")
    line = _one_line_error(runner.invoke(app, ["chat", "--db", f"sqlite:///{blocker}/sub/chat.db"]))
    assert "cannot open the storage" in line


def test_chat_with_ollama_unreachable_is_one_line(env, monkeypatch):
    monkeypatch.setenv("HITL_OLLAMA__BASE_URL", DEAD_OLLAMA)
    line = _one_line_error(runner.invoke(app, ["chat", "--provider", "ollama"]))
    assert "ollama serve" in line


def test_chat_rejects_an_unknown_provider(env):
    result = runner.invoke(app, ["chat", "--provider", "gpt9"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_doctor_json_ready_for_the_embedded_provider(env):
    result = runner.invoke(app, ["doctor", "--json", "--provider", "embedded"])
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert report["ok"] is True
    assert report["provider"] == {
        "configured": "embedded",
        "resolved": "embedded",
        "reason": "provider set to embedded (llama.cpp in-process)",
    }
    checks = {c["name"]: c for c in report["checks"]}
    assert {"python", "provider", "ollama", "llama.cpp", "model file", "storage", "email"} <= set(checks)
    assert checks["model file"]["ok"] and "sha256 verified" in checks["model file"]["detail"]
    assert checks["storage"]["ok"] and checks["email"]["ok"]
    assert "outbox" in checks["email"]["detail"]
    assert checks["ollama"]["required"] is False


def test_doctor_fails_with_fixes_when_the_configured_provider_is_down(env, monkeypatch):
    monkeypatch.setenv("HITL_OLLAMA__BASE_URL", DEAD_OLLAMA)
    result = runner.invoke(app, ["doctor", "--provider", "ollama"])
    assert result.exit_code == 1, result.output
    assert "✗ ollama" in result.output
    assert "fix: start it with `ollama serve`" in result.output
    assert "not ready" in result.output


def test_doctor_reports_bad_storage_and_policy(env):
    policy = env / "policy.yaml"
    policy.write_text("tools:\n  nope: allow\n")
    result = runner.invoke(
        app,
        ["doctor", "--json", "--provider", "embedded", "--db", "postgresql://postgres@127.0.0.1:1/none"],
        env={"HITL_POLICY_FILE": str(policy)},
    )
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert not checks["storage"]["ok"] and checks["storage"]["fix"]
    assert not checks["policy"]["ok"] and "nope" in checks["policy"]["detail"]


def test_chat_model_server_dying_mid_chat_exits_2_with_one_line(env, monkeypatch):
    import httpx

    class DeadServer(ScriptedChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            raise httpx.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(
        llm, "resolve_provider", lambda config: ProviderChoice("ollama", "scripted for tests")
    )
    monkeypatch.setattr(llm, "create_chat_model", lambda config, choice=None: DeadServer())
    result = runner.invoke(app, ["chat", "--thread", "t2", "--db", "memory"], input="hello\n")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: the model server stopped answering (ConnectError")
    assert "hitl chat --thread t2 --db memory" in last


def test_graph_writes_mermaid(env):
    result = runner.invoke(app, ["graph", "--out", str(env / "g"), "--no-png"])
    assert result.exit_code == 0, result.output
    assert "send_email" not in (env / "g.mmd").read_text()  # nodes, not tools
    assert "tools" in (env / "g.mmd").read_text()
