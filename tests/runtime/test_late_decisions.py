"""A decision after its deadline is not stored: the deadline's policy decides, with or
without the sweeper running (the deadline is part of the decision's conditional update)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent
from langgraph_ollama_local.auth import Principal
from langgraph_ollama_local.runtime.service import DEADLINE_ACTOR, ServiceRuntime, Settings
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import (
    AlreadyDecidedError,
    ApprovalStore,
    DeadlinePassedError,
    InboxQuery,
    NewRequest,
)
from langgraph_ollama_local.store.schema import approval_requests
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.agent.test_approval_patterns import Spy

BOB = Principal("bob", frozenset({"manager"}))


def policy(on_timeout: str) -> ApprovalPolicy:
    stage = {"name": "manager", "role": "manager", "timeout_seconds": 1, "on_timeout": on_timeout}
    return ApprovalPolicy.from_mapping({"default": "allow", "tools": {"send_email": {"stages": [stage]}}})


async def test_the_store_refuses_a_decision_past_the_deadline_on_the_database_clock(store_url):
    store = await ApprovalStore.open(store_url)
    try:
        (request,) = await store.record_requests(
            "t", None, [NewRequest(kind="tool_approval", interrupt_id="i1", tool="pay", allowed_decisions=("approve",))]
        )
        async with store.engine.begin() as conn:  # the deadline passed a moment ago
            await conn.execute(
                update(approval_requests)
                .where(approval_requests.c.id == request.id)
                .values(deadline=await store.db_now() - timedelta(milliseconds=50), on_timeout="reject")
            )
        with pytest.raises(DeadlinePassedError, match="passed its deadline") as late:
            await store.decide(request.id, status="approved", decision={"type": "approve"}, actor="bob")
        assert late.value.request.is_pending and isinstance(late.value, AlreadyDecidedError)  # 409 in HTTP
        assert (await store.get(request.id)).is_pending  # nothing stored
        expired = await store.decide(
            request.id, status="expired", decision={"type": "reject"}, actor=DEADLINE_ACTOR, enforce_deadline=False
        )
        assert expired.status == "expired" and expired.decided_by == DEADLINE_ACTOR
    finally:
        await store.close()


@pytest.mark.parametrize(("on_timeout", "outcome", "emails"), [("reject", "expired", 0), ("approve", "expired", 1)])
async def test_a_late_approval_without_any_sweeper_gets_the_policy_outcome_and_a_conflict(
    store_url, tmp_path, on_timeout, outcome, emails
):
    """The review's case: only an API process up, an approval 4.8 s after an
    `on_timeout: reject` deadline was accepted and the payment ran later."""
    spy = Spy()
    store = await ApprovalStore.open(store_url)
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        graph = create_approval_agent(
            ScriptedChatModel(script=email_assistant_script), spy.tools(), policy=policy(on_timeout), checkpointer=saver
        )
        # The sweeper's first pass runs at start (nothing is due), the next in an hour.
        runtime = ServiceRuntime(graph, store, settings=Settings(workers=1, sweep_interval=3600))
        await runtime.start()
        try:
            run = await runtime.submit_message("t", "Send email to alice@example.com", actor="alice")
            assert (await runtime.wait_run(run.id, 30)).status == "paused"
            (request,) = (await store.inbox(InboxQuery()))[0]
            assert request.deadline is not None
            for _ in range(400):  # until the database's clock is past the deadline
                if await store.db_now() > request.deadline:
                    break
                await asyncio.sleep(0.05)
            with pytest.raises(DeadlinePassedError, match="passed its deadline") as late:
                await runtime.decide(request.id, {"type": "approve"}, principal=BOB)
            assert late.value.request.status == outcome and late.value.request.decided_by == DEADLINE_ACTOR
            assert f"resolved it: {outcome}" in str(late.value)
            stored = await store.get(request.id)
            assert stored.status == outcome and stored.decided_by == DEADLINE_ACTOR
            await runtime.idle()
            assert len(spy.emails) == emails  # the policy's outcome ran, not the late decision
            assert (await runtime.last_reply("t")).startswith("Done.")
        finally:
            await runtime.stop()
            await store.close()


def test_over_http_a_late_approval_is_a_409_with_the_reason_and_nothing_runs(tmp_path):
    """A real `hitl serve` (its sweeper running every second): whoever gets there first,
    the late approver gets 409 saying the deadline passed, and the email is not sent."""
    import time
    from datetime import UTC, datetime

    from tests.server.support import HERE as SERVER_TESTS
    from tests.server.support import launch

    graph_file = tmp_path / "timed_graph.py"
    graph_file.write_text((SERVER_TESTS / "scripted_graph.py").read_text().replace(
        '"allowed_decisions": ["approve", "edit", "reject", "respond"]',
        '"stages": [{"role": "manager", "timeout_seconds": 1}]'))
    service = launch(tmp_path, graph=f"{graph_file}:graph", users={"root": ("admin", "manager")}, policy=None)
    try:
        client = service.client("root")
        reply = client.post("/chat", json={"thread_id": "late", "message": "Send email to frank@example.com"})
        assert reply.status_code == 200 and reply.json()["pending_approval"] is True
        item = reply.json()["pending_action"]
        deadline = datetime.fromisoformat(item["deadline"])
        while datetime.now(UTC) <= deadline:  # one machine: its clock is the database's
            time.sleep(0.05)
        answer = client.post(f"/approvals/{item['id']}/decision", json={"type": "approve"})
        assert answer.status_code == 409, answer.text
        assert "passed its deadline" in answer.json()["detail"]
        assert answer.json()["approval"]["status"] == "expired"
        assert answer.json()["approval"]["decided_by"] == "system:deadline"
        for _ in range(200):
            if not client.get("/approvals", params={"thread_id": "late"}).json()["items"]:
                break
            time.sleep(0.05)
        assert service.outbox() == []  # the late approval did not send it
    finally:
        service.stop()
