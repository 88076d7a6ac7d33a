"""Storage faults in the service runtime, injected for real: a full SQLite database, runs
failed by older versions, and what `hitl doctor` says about threads that do not move.

A storage error must not fail a run for good: the run goes back to the queue with a
backoff, and an acknowledged approval executes once the storage is back — exactly once.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from sqlalchemy import update

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent
from langgraph_ollama_local.auth import Principal
from langgraph_ollama_local.cli.recovery import recovery_checks
from langgraph_ollama_local.runtime.service import ServiceRuntime, Settings
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import ApprovalStore, InboxQuery
from langgraph_ollama_local.store.faults import is_transient, is_transient_text
from langgraph_ollama_local.store.schema import runs
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.agent.test_approval_patterns import Spy

POLICY = ApprovalPolicy.from_mapping(
    {"default": "allow", "tools": {"send_email": {"stages": [{"name": "manager", "role": "manager"}]}}}
)
BOB = Principal("bob", frozenset({"manager"}))


async def wait_for(predicate, seconds: float = 60.0):
    """Poll an async predicate (a bound for a busy machine, not a timing assert)."""
    for _ in range(int(seconds / 0.05)):
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    return await predicate()


async def test_a_full_sqlite_database_sends_the_run_back_to_the_queue_and_the_approval_still_executes(tmp_path):
    """SQLite's real SQLITE_FULL ("database or disk is full", as on a full disk): the
    checkpointer cannot grow the file while the approved resume runs."""
    spy = Spy()
    url = f"sqlite:///{tmp_path}/hitl.db"  # one file for store and checkpoints, as `hitl serve`
    store = await ApprovalStore.open(url)
    async with open_async_checkpointer(url) as saver:
        graph = create_approval_agent(
            ScriptedChatModel(script=email_assistant_script), spy.tools(), policy=POLICY, checkpointer=saver
        )
        runtime = ServiceRuntime(graph, store, settings=Settings(workers=1, sweep_interval=3600))
        await runtime.start()
        try:
            run = await runtime.submit_message("t", "Send email to alice@example.com", actor="alice")
            assert (await runtime.wait_run(run.id, 30)).status == "paused"
            (request,) = (await store.inbox(InboxQuery()))[0]

            conn = saver.conn  # the checkpointer's own connection: cap the file at its size
            pages = (await (await conn.execute("PRAGMA page_count")).fetchone())[0]
            await conn.execute(f"PRAGMA max_page_count = {pages}")
            await runtime.decide(request.id, {"type": "approve"}, principal=BOB)  # HTTP 200 in the service

            async def requeued():
                resumes = [r for r in await store.thread_runs("t") if r.resume_key]
                return resumes and resumes[0].retries >= 1 and resumes[0]

            resume = await wait_for(requeued)
            assert resume, f"the resume was not sent back to the queue: {await store.thread_runs('t')}"
            assert resume.status in ("queued", "running") and "full" in (resume.error or "")
            await conn.execute("PRAGMA max_page_count = 1073741823")  # space is back

            async def finished():
                return (await store.get_run(resume.id)).status == "succeeded"

            assert await wait_for(finished), await store.thread_runs("t")
            assert [e["to"] for e in spy.emails] == ["alice@example.com"]  # once, not zero, not twice
            assert (await runtime.last_reply("t")).startswith("Done. Email sent")
            assert [r.status for r in await store.thread_runs("t")] == ["paused", "succeeded"]
        finally:
            await runtime.stop()
            await store.close()


async def test_runs_failed_on_storage_errors_by_older_versions_are_queued_again(store_url, tmp_path):
    """The review's 8 runs: failed with AdminShutdown / connection refused, thread stuck."""
    spy = Spy()
    store = await ApprovalStore.open(store_url)
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        graph = create_approval_agent(
            ScriptedChatModel(script=email_assistant_script), spy.tools(), policy=POLICY, checkpointer=saver
        )
        runtime = ServiceRuntime(graph, store, settings=Settings(workers=1, sweep_interval=3600))
        await runtime.start()
        try:
            run = await runtime.submit_message("t", "Send email to alice@example.com", actor="alice")
            await runtime.wait_run(run.id, 30)
            (request,) = (await store.inbox(InboxQuery()))[0]
            await runtime.stop()  # no worker: the resume stays queued, then "fails" as it used to
            await runtime.decide(request.id, {"type": "approve"}, principal=BOB)
            (resume,) = [r for r in await store.thread_runs("t") if r.resume_key]
            async with store.engine.begin() as conn:
                await conn.execute(
                    update(runs)
                    .where(runs.c.id == resume.id)
                    .values(
                        status="failed",
                        attempts=1,
                        error="AdminShutdown: terminating connection due to administrator command",
                    )
                )
            assert spy.emails == []
            assert await runtime.reconcile() == 1
            runtime = ServiceRuntime(graph, store, settings=Settings(workers=1, sweep_interval=3600))
            await runtime.start()

            async def done():
                return (await store.get_run(resume.id)).status == "succeeded"

            assert await wait_for(done), await store.thread_runs("t")
            assert [e["to"] for e in spy.emails] == ["alice@example.com"]
        finally:
            await runtime.stop()
            await store.close()


async def test_doctor_lists_a_failed_thread_with_its_fix_and_runs_retrying_on_storage_errors(store_url):
    store = await ApprovalStore.open(store_url)
    try:
        failed, _ = await _runtime_queue(store).enqueue("t-broken", {"kind": "message", "message": "x"}, actor="a")
        retrying, _ = await _runtime_queue(store).enqueue("t-retry", {"kind": "message", "message": "y"}, actor="a")
        async with store.engine.begin() as conn:
            await conn.execute(
                update(runs).where(runs.c.id == failed.id).values(status="failed", error="ValueError: bad graph")
            )
            await conn.execute(
                update(runs)
                .where(runs.c.id == retrying.id)
                .values(retries=3, error="OperationalError: database or disk is full")
            )
    finally:
        await store.close()
    rows = {check.name: check for check in await asyncio.to_thread(recovery_checks, store_url)}
    assert not rows["failed threads"].ok
    assert "thread t-broken" in rows["failed threads"].detail and "ValueError: bad graph" in rows["failed threads"].detail
    assert "hitl runs retry" in rows["failed threads"].fix
    assert not rows["runs retrying"].ok and "database or disk is full" in rows["runs retrying"].detail


def _runtime_queue(store: ApprovalStore):
    from langgraph_ollama_local.store.run_queue import RunQueue

    return RunQueue(store.engine)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (sqlite3.OperationalError("database or disk is full"), True),
        (sqlite3.OperationalError("disk I/O error"), True),
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("no such table: hitl_runs"), False),
        (ConnectionRefusedError(111, "Connection refused"), True),
        (ValueError("the graph raised"), False),
    ],
)
def test_which_errors_are_passing_storage_trouble(error, transient):
    assert is_transient(error) is transient


def test_psycopg_shutdown_and_wrapped_errors_are_transient():
    import psycopg
    from sqlalchemy.exc import OperationalError

    shutdown = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    assert is_transient(shutdown)
    assert is_transient(OperationalError("SELECT 1", {}, shutdown))
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = shutdown
    assert is_transient(wrapped)
    assert is_transient_text("AdminShutdown: terminating connection")
    assert is_transient_text("OperationalError: the database system is shutting down")
    assert not is_transient_text("ValueError: unknown run input")
