"""Leases on the database's clock, and the lease as a fencing token, on real SQLite and PostgreSQL.

A worker taken over (stalled past its lease, or with a clock running ahead of everyone
else's) must not start an effect or record inbox items: the ledger and the store check
the lease in the same transaction as their write.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from langgraph_ollama_local.agent.ledger import FencedOffError
from langgraph_ollama_local.store import approval_store
from langgraph_ollama_local.store.approval_store import ApprovalStore, NewRequest, utcnow
from langgraph_ollama_local.store.lease import LeaseFence
from langgraph_ollama_local.store.ledger import SqlExecutionLedger
from langgraph_ollama_local.store.run_queue import RunQueue
from langgraph_ollama_local.store.schema import approval_requests, runs, tool_executions

CALL = {"thread_id": "t", "tool_call_id": "call-1", "tool": "pay", "digest": None}


async def _expire(store: ApprovalStore, run_id: str) -> None:
    """The lease ran out (on the database's clock): what a stalled worker comes back to."""
    async with store.engine.begin() as conn:
        await conn.execute(
            update(runs).where(runs.c.id == run_id).values(lease_expires_at=utcnow() - timedelta(hours=1))
        )


async def _ledger_keys(store: ApprovalStore) -> list[str]:
    async with store.engine.connect() as conn:
        return list((await conn.execute(select(tool_executions.c.key))).scalars())


async def test_a_fenced_off_worker_starts_no_call_and_the_new_holder_does(store_url):
    store = await ApprovalStore.open(store_url)
    queue = RunQueue(store.engine)
    ledger = SqlExecutionLedger(store.engine)
    try:
        await queue.enqueue("t", {}, actor="u")
        first = await queue.claim("w1", 30)
        old = ledger.fenced(LeaseFence(first.id, "w1", first.attempts, 30))
        await _expire(store, first.id)
        second = await queue.claim("w2", 30)
        assert second.id == first.id and second.attempts == first.attempts + 1
        new = ledger.fenced(LeaseFence(second.id, "w2", second.attempts, 30))

        with pytest.raises(FencedOffError, match="another worker took it over"):
            await old.abegin("t/m/call-1", **CALL)
        assert await _ledger_keys(store) == []  # nothing written: the call did not start
        assert await new.abegin("t/m/call-1", **CALL) is None
        assert await _ledger_keys(store) == ["t/m/call-1"]
        # the old holder may not re-run nor judge the call the new holder is running
        with pytest.raises(FencedOffError):
            await old.aretry("t/m/call-1")
        with pytest.raises(FencedOffError):
            await old.afinish("t/m/call-1", status="in_doubt", content="?", outcome="error")
        # ... but a result it really got is recorded (the effect happened)
        await old.afinish("t/m/call-1", status="succeeded", content="paid", outcome="success")
        assert [r.status for r in await ledger.arecords()] == ["succeeded"]
        # the old holder cannot finish the run either
        assert not await queue.finish(first.id, "w1", "succeeded", attempt=first.attempts)
    finally:
        await store.close()


async def test_the_token_is_the_attempt_so_one_process_taking_over_its_own_run_is_fenced_too(store_url):
    """Two worker tasks of one process share a worker id: the attempt tells them apart."""
    store = await ApprovalStore.open(store_url)
    queue = RunQueue(store.engine)
    try:
        await queue.enqueue("t", {}, actor="u")
        first = await queue.claim("host:1:a", 30)
        await _expire(store, first.id)
        again = await queue.claim("host:1:a", 30)
        stale = SqlExecutionLedger(store.engine).fenced(LeaseFence(first.id, "host:1:a", first.attempts, 30))
        with pytest.raises(FencedOffError):
            await stale.abegin("t/m/call-1", **CALL)
        live = SqlExecutionLedger(store.engine).fenced(LeaseFence(again.id, "host:1:a", again.attempts, 30))
        assert await live.abegin("t/m/call-1", **CALL) is None
        assert not await queue.renew(first.id, "host:1:a", 30, attempt=first.attempts)
        assert await queue.renew(first.id, "host:1:a", 30, attempt=again.attempts)
    finally:
        await store.close()


async def test_a_lease_run_out_is_renewed_if_nobody_took_it_and_refused_once_somebody_did(store_url):
    """Safety is the token: a stalled holder that wakes before any takeover still holds the
    run (nobody else drives the thread); once taken over, it records nothing."""
    store = await ApprovalStore.open(store_url)
    queue = RunQueue(store.engine)
    try:
        await queue.enqueue("t", {}, actor="u")
        run = await queue.claim("w1", 30)
        fence = LeaseFence(run.id, "w1", run.attempts, 30)
        await _expire(store, run.id)  # the holder stalled past its lease; nobody took it yet
        assert await SqlExecutionLedger(store.engine).fenced(fence).abegin("t/m/call-1", **CALL) is None
        assert await queue.claim("w2", 30) is None  # the confirm renewed the lease
        await _expire(store, run.id)
        assert (await queue.claim("w2", 30)).attempts == run.attempts + 1  # now it is taken over
        item = NewRequest(kind="breakpoint", interrupt_id=f"breakpoint:{run.id}", description="Paused")
        with pytest.raises(FencedOffError, match="inbox items"):
            await store.record_requests("t", run.id, [item], fence=fence)
        async with store.engine.connect() as conn:
            assert (await conn.execute(select(approval_requests.c.id))).first() is None
    finally:
        await store.close()


async def test_a_process_clock_far_ahead_does_not_take_over_a_live_lease(store_url, monkeypatch):
    """The review's skewed worker: its clock 20 s ahead saw every 5 s lease as expired."""
    store = await ApprovalStore.open(store_url)
    queue = RunQueue(store.engine)
    try:
        await queue.enqueue("t", {}, actor="u")
        held = await queue.claim("honest", 5)
        ahead = utcnow() + timedelta(seconds=20)
        monkeypatch.setattr(approval_store, "utcnow", lambda: ahead)
        monkeypatch.setattr("langgraph_ollama_local.store.run_queue.utcnow", lambda: ahead)
        assert await queue.claim("skewed", 5) is None  # the lease is live on the database's clock
        assert await queue.renew(held.id, "honest", 5, attempt=held.attempts)
        assert (await queue.health()).expired_leases == []
    finally:
        await store.close()
