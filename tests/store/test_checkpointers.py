"""Checkpointers from a URL, on a real SQLite file and the real PostgreSQL server.

The restart tests pause a graph on `interrupt()` in one Python process and resume it
in another (`subprocess`), so the paused thread can only come from storage.
PostgreSQL tests get a fresh database each (`pg_url` in tests/conftest.py) and fail,
not skip, when the server at 127.0.0.1:5432 is down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_ollama_local.store import (
    StorageConfigError,
    StorageUnavailableError,
    check_storage,
    describe_storage,
    open_async_checkpointer,
    open_checkpointer,
)
from langgraph_ollama_local.store.checkpointer import sqlite_path
from tests.conftest import free_port

GRAPH_SCRIPT = Path(__file__).with_name("restart_graph.py")
QUESTION = {"question": "approve wire $5?"}


def run_step(url: str, thread: str, step: str, mode: str = "sync", cwd: Path | None = None) -> dict[str, Any]:
    """One step of the interrupt graph in a NEW Python process; its JSON report."""
    proc = subprocess.run(
        [sys.executable, str(GRAPH_SCRIPT), url, thread, step, mode],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip
    assert proc.returncode == 0, f"step {step!r} ({mode}) failed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def pause_in_one_process_resume_in_another(
    url: str, start_mode: str, resume_mode: str, cwd: Path | None = None
) -> None:
    thread = f"restart-{uuid.uuid4().hex}"
    paused = run_step(url, thread, "start", start_mode, cwd)
    assert paused["next"] == ["ask"]
    assert paused["interrupts"] == [QUESTION]
    assert paused["values"] == {"request": "wire $5", "log": []}

    reopened = run_step(url, thread, "status", resume_mode, cwd)
    assert reopened["pid"] != paused["pid"]
    assert reopened["next"] == ["ask"] and reopened["interrupts"] == [QUESTION]

    done = run_step(url, thread, "resume", resume_mode, cwd)
    assert done["pid"] not in (paused["pid"], reopened["pid"])
    assert done["next"] == [] and done["interrupts"] == []
    assert done["values"]["decision"] == "approved"
    assert done["values"]["log"] == [
        f"asked in pid {done['pid']}",  # a node re-runs from its start when resumed
        f"wire $5 -> approved in pid {done['pid']}",
    ]
    assert run_step(url, f"other-{uuid.uuid4().hex}", "status", start_mode, cwd)["values"] == {}


# --- restarts: SQLite --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start_mode", "resume_mode"), [("sync", "sync"), ("async", "async"), ("sync", "async")]
)
def test_sqlite_paused_interrupt_survives_process_restart(tmp_path, start_mode, resume_mode):
    db = tmp_path / "nested" / "state" / "hitl.db"
    url = f"sqlite:///{db}"
    assert url.startswith("sqlite:////")  # the absolute form
    pause_in_one_process_resume_in_another(url, start_mode, resume_mode)
    assert db.is_file()


def test_sqlite_relative_path_is_relative_to_the_working_directory(tmp_path):
    pause_in_one_process_resume_in_another("sqlite:///rel/dir/hitl.db", "sync", "sync", cwd=tmp_path)
    assert (tmp_path / "rel" / "dir" / "hitl.db").is_file()


# --- restarts: PostgreSQL ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("start_mode", "resume_mode"), [("sync", "sync"), ("async", "async"), ("sync", "async")]
)
def test_postgres_paused_interrupt_survives_process_restart(pg_url, start_mode, resume_mode):
    pause_in_one_process_resume_in_another(pg_url, start_mode, resume_mode)


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgres://", "postgresql+psycopg://"])
def test_postgres_url_spellings(pg_url, scheme):
    url = pg_url.replace("postgresql://", scheme, 1)
    pause_in_one_process_resume_in_another(url, "sync", "sync")


# --- restarts: the real approval agent ---------------------------------------------------

AGENT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from langgraph.types import Command
    from langgraph_ollama_local import ApprovalPolicy, LocalAgentConfig, create_approval_agent
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


def run_agent_step(url: str, thread: str, step: str, home: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", AGENT_SCRIPT, url, thread, step, str(home)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert proc.returncode == 0, f"agent step {step!r} failed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_paused_approval_agent_survives_restart(request, tmp_path, backend):
    url = f"sqlite:///{tmp_path}/agent.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    thread = f"agent-{uuid.uuid4().hex}"
    assert run_agent_step(url, thread, "start", tmp_path) == {"next": ["tools"], "interrupts": 1}
    assert not list((tmp_path / "outbox").glob("*.eml"))  # nothing sent while paused
    assert run_agent_step(url, thread, "resume", tmp_path) == {"next": [], "interrupts": 0}
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert "To: restart@example.com" in eml.read_text()


# --- memory and the savers behind each URL -----------------------------------------------


def test_memory_pauses_and_resumes_but_forgets_on_reopen():
    from restart_graph import build

    config = {"configurable": {"thread_id": "m1"}}
    with open_checkpointer("memory") as saver:
        assert isinstance(saver, InMemorySaver)
        graph = build(saver)
        graph.invoke({"request": "wire $5", "log": []}, config)
        assert [i.value for i in graph.get_state(config).interrupts] == [QUESTION]
        graph.invoke(Command(resume="approved"), config)
        assert graph.get_state(config).values["decision"] == "approved"
    with open_checkpointer("memory") as saver:
        assert build(saver).get_state(config).values == {}


async def test_async_memory_pauses_and_resumes():
    from restart_graph import build

    config = {"configurable": {"thread_id": "m2"}}
    async with open_async_checkpointer("memory://") as saver:
        assert isinstance(saver, InMemorySaver)
        graph = build(saver)
        await graph.ainvoke({"request": "wire $5", "log": []}, config)
        assert (await graph.aget_state(config)).next == ("ask",)
        await graph.ainvoke(Command(resume="approved"), config)
        assert (await graph.aget_state(config)).values["decision"] == "approved"


def test_sqlite_uses_langgraphs_savers(tmp_path):
    with open_checkpointer(f"sqlite:///{tmp_path}/s.db") as saver:
        assert isinstance(saver, SqliteSaver)


async def test_async_sqlite_uses_langgraphs_savers(tmp_path):
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/a.db") as saver:
        assert isinstance(saver, AsyncSqliteSaver)
        assert await saver.aget_tuple({"configurable": {"thread_id": "none"}}) is None


def _assert_langgraph_pool_settings(conn: psycopg.Connection[Any]) -> None:
    assert conn.autocommit is True
    assert conn.prepare_threshold == 0
    assert conn.row_factory is dict_row


@pytest.mark.postgres
def test_postgres_saver_uses_a_pool_configured_as_langgraph_requires(pg_url):
    with open_checkpointer(pg_url) as saver:
        assert isinstance(saver, PostgresSaver)
        assert isinstance(saver.conn, ConnectionPool)
        with saver.conn.connection() as conn:
            _assert_langgraph_pool_settings(conn)
            tables = {r["tablename"] for r in conn.execute("select tablename from pg_tables")}
        assert {"checkpoints", "checkpoint_writes", "checkpoint_blobs", "checkpoint_migrations"} <= tables
    with open_checkpointer(pg_url):  # migrations are idempotent: a second open is fine
        pass


@pytest.mark.postgres
async def test_async_postgres_saver_uses_a_pool_configured_as_langgraph_requires(pg_url):
    async with open_async_checkpointer(pg_url) as saver:
        assert isinstance(saver, AsyncPostgresSaver)
        assert isinstance(saver.conn, AsyncConnectionPool)
        async with saver.conn.connection() as conn:
            assert conn.autocommit is True and conn.prepare_threshold == 0 and conn.row_factory is dict_row
        assert await saver.aget_tuple({"configurable": {"thread_id": "none"}}) is None


# --- URLs: parsing, bad URLs, unavailable backends ---------------------------------------


def test_sqlite_paths_follow_sqlalchemy(tmp_path, monkeypatch):
    assert sqlite_path("sqlite:///rel/x.db") == Path("rel/x.db")
    assert sqlite_path("sqlite:////abs/x.db") == Path("/abs/x.db")
    assert sqlite_path("sqlite:///~/x.db") == Path.home() / "x.db"
    monkeypatch.chdir(tmp_path)
    with open_checkpointer("sqlite:///a/b/rel.db"):
        pass
    assert (tmp_path / "a" / "b" / "rel.db").is_file()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root@localhost/db", "unsupported storage URL"),
        ("", "unsupported storage URL"),
        ("redis://localhost", "sqlite:///relative/file.db"),
        ("sqlite:relative.db", "three slashes"),
        ("sqlite://host/file.db", "three slashes"),
        ("sqlite:///", "names no SQLite file"),
        ("sqlite:///x.db?mode=ro", "query parameters"),
        ("postgresql://a b c", "not a valid PostgreSQL URL"),
    ],
)
async def test_bad_urls_raise_a_typed_actionable_error(url, says):
    with pytest.raises(StorageConfigError, match=says) as caught, open_checkpointer(url):
        pass
    assert isinstance(caught.value, ValueError)
    with pytest.raises(StorageConfigError, match=says):
        async with open_async_checkpointer(url):
            pass
    ok, message = check_storage(url)
    assert not ok and says in message


async def test_unopenable_sqlite_file_is_storage_unavailable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    not_a_db = tmp_path / "junk.db"
    not_a_db.write_bytes(b"this is not a SQLite database, just junk bytes" * 100)
    for url in (f"sqlite:///{blocker}/sub/x.db", f"sqlite:///{not_a_db}"):
        with (
            pytest.raises(StorageUnavailableError, match="cannot open the storage SQLite file"),
            open_checkpointer(url),
        ):
            pass
        with pytest.raises(StorageUnavailableError, match="HITL_STORAGE_URL"):
            async with open_async_checkpointer(url):
                pass
        assert check_storage(url)[0] is False


def test_errors_inside_the_with_body_are_not_rewrapped(tmp_path):
    with pytest.raises(KeyError), open_checkpointer(f"sqlite:///{tmp_path}/x.db"):
        raise KeyError("mine")


async def test_unreachable_postgres_is_fast_typed_and_actionable():
    url = f"postgresql://postgres:s3cret@127.0.0.1:{free_port()}/test"
    started = time.monotonic()
    with pytest.raises(StorageUnavailableError) as caught, open_checkpointer(url):
        pass
    message = str(caught.value)
    assert "Connection refused" in message
    assert "start the PostgreSQL server" in message and "HITL_STORAGE_URL" in message
    assert "s3cret" not in message and "postgres:***@" in message
    with pytest.raises(StorageUnavailableError, match="start the PostgreSQL server"):
        async with open_async_checkpointer(url):
            pass
    assert time.monotonic() - started < 10
    ok, doctor_message = check_storage(url)
    assert not ok and "start the PostgreSQL server" in doctor_message


@pytest.mark.postgres
def test_missing_postgres_database_says_to_create_it(pg_url):
    url = pg_url.rsplit("/", 1)[0] + f"/missing_{uuid.uuid4().hex[:8]}"
    with pytest.raises(StorageUnavailableError, match=r"does not exist.*createdb"), open_checkpointer(url):
        pass


# --- describe_storage / check_storage (for `hitl doctor`) --------------------------------


def test_describe_storage(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "in-memory" in describe_storage("memory")
    assert describe_storage("sqlite:///rel/x.db") == f"SQLite file {tmp_path}/rel/x.db (SqliteSaver)"
    assert describe_storage("sqlite:////abs/x.db") == "SQLite file /abs/x.db (SqliteSaver)"
    described = describe_storage("postgresql://bob:hunter2@db.internal:6543/hitl")
    assert described == "PostgreSQL database 'hitl' on db.internal:6543 as bob (PostgresSaver)"
    assert "hunter2" not in described
    assert not (tmp_path / "rel").exists()  # describing opens nothing
    with pytest.raises(StorageConfigError):
        describe_storage("mongodb://x")


def test_check_storage_opens_sqlite_and_memory(tmp_path):
    ok, message = check_storage(f"sqlite:///{tmp_path}/doctor.db")
    assert ok and message.startswith(f"SQLite file {tmp_path}/doctor.db (SqliteSaver)")
    assert (tmp_path / "doctor.db").is_file()
    assert check_storage("memory")[0] is True


@pytest.mark.postgres
def test_check_storage_reports_postgres(pg_url):
    ok, message = check_storage(pg_url)
    assert ok and "PostgresSaver" in message and "opened and ready" in message
