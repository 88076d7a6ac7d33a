"""The approval store on real SQLite and PostgreSQL: decide once, audit chain holds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update

from langgraph_ollama_local.store.approval_store import (
    AlreadyDecidedError,
    ApprovalStore,
    InboxQuery,
    NewRequest,
    NotFoundError,
)
from langgraph_ollama_local.store.schema import audit_log


def email_request(interrupt_id: str, deadline: datetime | None = None, to: str = "a@example.com") -> NewRequest:
    return NewRequest(
        kind="tool_approval", interrupt_id=interrupt_id, tool="send_email", tool_call_id="c1",
        args={"to": to}, stage="manager", required_role="manager",
        allowed_decisions=("approve", "edit", "reject"), deadline=deadline,
    )  # fmt: skip


async def test_record_is_idempotent_and_inbox_is_ordered(store_url):
    store = await ApprovalStore.open(store_url)
    try:
        now = datetime.now(UTC)
        await store.ensure_thread("t1", actor="alice")
        late = await store.record_requests("t1", None, [email_request("i" * 32, now + timedelta(hours=2))])
        soon = await store.record_requests("t1", None, [email_request("j" * 32, now + timedelta(minutes=5))])
        none = await store.record_requests("t1", None, [email_request("k" * 32)])
        again = await store.record_requests("t1", None, [email_request("i" * 32)])
        assert again[0].id == late[0].id  # recorded once per interrupt
        page, total = await store.inbox(InboxQuery())
        assert total == 3
        assert [r.id for r in page] == [soon[0].id, late[0].id, none[0].id]
        assert (await store.inbox(InboxQuery(tool="get_weather")))[1] == 0
        assert (await store.inbox(InboxQuery(role="manager", limit=1)))[0][0].id == soon[0].id
        capped_page, capped = await store.inbox(InboxQuery(limit=1, count_limit=2))
        assert capped == 2 and [r.id for r in capped_page] == [soon[0].id]  # counts stop at the cap
        assert (await store.inbox(InboxQuery(count_limit=5)))[1] == 3  # below the cap: exact
        assert (await store.inbox(InboxQuery(count_limit=0)))[1] == 0  # not counted
    finally:
        await store.close()


async def test_search_and_decider_filters(store_url):
    """`q`: a case-insensitive substring of tool, summary, thread or requester, LIKE's own
    wildcards taken literally; `decider`: the role half of who may decide."""
    from dataclasses import replace

    from langgraph_ollama_local.store.approval_store import Reader

    store = await ApprovalStore.open(store_url)
    try:
        await store.ensure_thread("ops_1", actor="alice")
        await store.ensure_thread("sales", actor="bob")
        mail = replace(email_request("m" * 32), summary='Email to Partner@Example.com — "Agenda"', requested_by="alice")
        other = replace(email_request("n" * 32), tool="transfer", required_role="finance", summary="transfer(amount=5)",
                        requested_by="bob")
        await store.record_requests("ops_1", None, [mail])
        await store.record_requests("sales", None, [other])

        async def found(**query) -> list[str | None]:
            return sorted(r.tool or "" for r in (await store.inbox(InboxQuery(**query)))[0])

        assert await found(q="partner@example") == ["send_email"]  # summary, any case
        assert await found(q="TRANS") == ["transfer"]  # tool
        assert await found(q="BOB") == ["transfer"]  # requester
        assert await found(q="s_1") == ["send_email"]  # thread
        assert await found(q="p_") == []  # "_" is literal, not LIKE's one-character wildcard
        assert await found(q="o%s") == []  # "%" is literal too
        assert await found(decider=Reader("carol", frozenset({"finance"}))) == ["transfer"]
        assert await found(decider=Reader("carol", frozenset({"manager", "finance"}))) == ["send_email", "transfer"]
        assert await found(decider=Reader("carol", frozenset())) == []
    finally:
        await store.close()


async def test_concurrent_decisions_exactly_one_wins(store_url):
    store = await ApprovalStore.open(store_url)
    try:
        (request,) = await store.record_requests("t", None, [email_request("r" * 32)])

        async def decide(who: str):
            return await store.decide(request.id, status="approved", decision={"type": "approve"}, actor=who)

        results = await asyncio.gather(*(decide(f"approver-{i}") for i in range(8)), return_exceptions=True)
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, AlreadyDecidedError)]
        assert len(winners) == 1 and len(losers) == 7
        assert all(f"by {winners[0].decided_by}" in str(e) for e in losers)
        decided = [e for e in await store.audit_entries() if e.action == "approval.decided"]
        assert len(decided) == 1 and decided[0].actor == winners[0].decided_by
        with pytest.raises(NotFoundError):
            await store.decide("nope", status="approved", decision={}, actor="x")
        assert (await store.verify_audit()).ok
    finally:
        await store.close()


async def test_audit_verify_detects_edits_and_deletions(store_url):
    store = await ApprovalStore.open(store_url)
    try:
        for i in range(5):
            await store.ensure_thread(f"t{i}", actor="alice")
        report = await store.verify_audit()
        assert report.ok and report.entries == 5
        async with store.engine.begin() as conn:
            await conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(actor="mallory"))
        report = await store.verify_audit()
        assert not report.ok and any("entry 3" in p and "edited" in p for p in report.problems)
        async with store.engine.begin() as conn:
            await conn.execute(update(audit_log).where(audit_log.c.seq == 3).values(actor="alice"))
            await conn.execute(delete(audit_log).where(audit_log.c.seq == 5))
        report = await store.verify_audit()
        assert not report.ok and any("tail deleted" in p for p in report.problems)
    finally:
        await store.close()


async def test_concurrent_audit_appends_keep_one_chain(store_url):
    store = await ApprovalStore.open(store_url)
    try:
        await asyncio.gather(*(store.ensure_thread(f"c{i}", actor="x") for i in range(20)))
        report = await store.verify_audit()
        assert report.ok and report.entries == 20
    finally:
        await store.close()


async def test_overdue_and_runs(store_url):
    store = await ApprovalStore.open(store_url)
    try:
        now = datetime.now(UTC)
        (past,) = await store.record_requests("t", None, [email_request("p" * 32, now - timedelta(seconds=1))])
        await store.record_requests("t", None, [email_request("f" * 32, now + timedelta(hours=1))])
        assert [r.id for r in await store.overdue(now)] == [past.id]
        run = await store.create_run("t", {"message": "hi"}, actor="alice")
        await store.set_run_status(run.id, "running")
        assert (await store.get_run(run.id)).attempts == 1
        assert [r.id for r in await store.runs_with_status("running")] == [run.id]
    finally:
        await store.close()
