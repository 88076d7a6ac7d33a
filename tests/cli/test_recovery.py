"""`hitl doctor`'s recovery rows on a real store: what a crash left behind is listed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from langgraph_ollama_local.cli.recovery import recovery_checks
from langgraph_ollama_local.store.approval_store import ApprovalStore
from langgraph_ollama_local.store.ledger import SqlExecutionLedger
from langgraph_ollama_local.store.run_queue import RunQueue
from langgraph_ollama_local.store.schema import notifications, runs


async def leave_a_crash_behind(url: str) -> None:
    store = await ApprovalStore.open(url)
    queue = RunQueue(store.engine)
    try:
        long_ago = datetime.now(UTC) - timedelta(minutes=20)
        # a worker took a run and died: its lease ran out long ago
        await queue.enqueue("t-dead", {"kind": "message", "message": "hi"}, actor="alice")
        taken = await queue.claim("host:4242:dead", 15, now=long_ago)
        assert taken is not None
        # a run nobody took for 20 minutes
        waiting, _ = await queue.enqueue("t-wait", {"kind": "message", "message": "hi"}, actor="alice")
        async with store.engine.begin() as conn:
            await conn.execute(update(runs).where(runs.c.id == waiting.id).values(created_at=long_ago))
            await conn.execute(
                insert(notifications).values(
                    id="n1", channel="webhook", target="http://127.0.0.1:9/hook", event="approval.requested",
                    payload={}, status="failed", attempts=5, next_attempt_at=long_ago,
                    last_error="connection refused", created_at=long_ago,
                )
            )  # fmt: skip
        # an approved call was running when its process died
        await SqlExecutionLedger(store.engine).abegin(
            "t-pay/ai-1/call-1", thread_id="t-pay", tool_call_id="call-1", tool="pay", digest=None
        )
    finally:
        await store.close()


def test_doctor_lists_expired_leases_stuck_runs_failed_notifications_and_calls_in_doubt(store_url):
    asyncio.run(leave_a_crash_behind(store_url))
    rows = {check.name: check for check in recovery_checks(store_url)}
    assert rows["run queue"].ok and "1 queued, 1 running" in rows["run queue"].detail
    assert not rows["expired leases"].ok and "worker host:4242:dead" in rows["expired leases"].detail
    assert "hitl worker" in rows["expired leases"].fix
    assert not rows["stuck runs"].ok and "thread t-wait, queued 20min" in rows["stuck runs"].detail
    assert not rows["notifications"].ok and "1 failed for good" in rows["notifications"].detail
    assert not rows["tool calls in doubt"].ok and "pay call-1 in thread t-pay (started)" in rows["tool calls in doubt"].detail


def test_doctor_recovery_rows_are_green_on_a_quiet_store(store_url):
    async def create() -> None:
        await (await ApprovalStore.open(store_url)).close()

    asyncio.run(create())
    rows = recovery_checks(store_url)
    assert [r.name for r in rows if not r.ok] == []
