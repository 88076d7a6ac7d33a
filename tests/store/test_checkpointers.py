"""Checkpointers from a URL; a paused approval survives a process restart (SQLite, PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import pytest

from langgraph_ollama_local.store import (
    StorageConfigError,
    StorageUnavailableError,
    check_storage,
    open_async_checkpointer,
    open_checkpointer,
)

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

# Each step runs in its own Python process: a real restart between pause and resume.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    from langgraph.types import Command
    from langgraph_ollama_local import ApprovalPolicy, create_approval_agent, LocalAgentConfig
    from langgraph_ollama_local.agent.tools import default_tools
    from langgraph_ollama_local.store import open_checkpointer
    from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script

    url, thread, step, home = sys.argv[1:5]
    config = LocalAgentConfig(home=home)
    cfg = {"configurable": {"thread_id": thread}}
    with open_checkpointer(url) as saver:
        graph = create_approval_agent(
            ScriptedChatModel(script=email_assistant_script), default_tools(config),
            policy=ApprovalPolicy.require_approval_for("send_email"), checkpointer=saver)
        if step == "start":
            graph.invoke({"messages": [("user", "Send email to restart@example.com")]}, cfg)
        else:
            (pending,) = graph.get_state(cfg).interrupts
            graph.invoke(Command(resume={pending.id: {"type": "approve"}}), cfg)
        state = graph.get_state(cfg)
        print(json.dumps({"next": list(state.next), "interrupts": len(state.interrupts)}))
    """
)


def run_step(url: str, thread: str, step: str, home: str) -> dict:
    import json

    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, thread, step, home], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def restart_roundtrip(url: str, tmp_path) -> None:
    thread = f"restart-{uuid.uuid4().hex}"
    paused = run_step(url, thread, "start", str(tmp_path))
    assert paused == {"next": ["tools"], "interrupts": 1}
    assert not list((tmp_path / "outbox").glob("*.eml"))
    done = run_step(url, thread, "resume", str(tmp_path))
    assert done == {"next": [], "interrupts": 0}
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert "To: restart@example.com" in eml.read_text()


def test_sqlite_paused_thread_survives_restart(tmp_path):
    restart_roundtrip(f"sqlite:///{tmp_path}/state/hitl.db", tmp_path)
    assert (tmp_path / "state" / "hitl.db").exists()


@pytest.mark.postgres
def test_postgres_paused_thread_survives_restart(tmp_path):
    restart_roundtrip(PG_URL, tmp_path)


def test_memory_and_bad_urls():
    with open_checkpointer("memory") as saver:
        assert type(saver).__name__ == "InMemorySaver"
    with pytest.raises(StorageConfigError, match="unsupported"), open_checkpointer("mysql://x"):
        pass
    assert check_storage("redis://x")[0] is False


def test_unreachable_postgres_is_actionable():
    with pytest.raises(StorageUnavailableError, match="Start the server"), open_checkpointer(
        "postgresql://postgres@127.0.0.1:1/test"
    ):
        pass


@pytest.mark.postgres
async def test_async_checkpointers(tmp_path):
    from langgraph.checkpoint.memory import InMemorySaver  # noqa: F401

    for url in (f"sqlite:///{tmp_path}/a.db", PG_URL, "memory"):
        async with open_async_checkpointer(url) as saver:
            assert await saver.aget_tuple({"configurable": {"thread_id": f"none-{uuid.uuid4().hex}"}}) is None


@pytest.mark.postgres
def test_check_storage_reports_backend():
    ok, message = check_storage(PG_URL)
    assert ok and "PostgresSaver" in message
