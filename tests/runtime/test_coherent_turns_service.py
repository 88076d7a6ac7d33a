"""Coherent turns in the service: a turn's calls are inbox items at once, each resumed on its own.

Issue 15 saw "an approved email ran 3 minutes later, when its sibling was decided". Here the
approved email is sent as soon as its own decision lands, while its sibling still waits; each
item is announced once, though the sibling's interrupt is raised again by every resume.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent
from langgraph_ollama_local.auth import Principal
from langgraph_ollama_local.runtime.service import ServiceRuntime, Settings, ThreadBusyError
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import ApprovalStore, InboxQuery
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.agent.test_approval_patterns import Spy

POLICY = ApprovalPolicy.require_approval_for("send_email")
ALICE = Principal("alice", frozenset({"requester"}))
BOB = Principal("bob", frozenset({"approver"}))


@asynccontextmanager
async def email_service(store_url: str, tmp_path, workers: int) -> AsyncIterator[tuple[ServiceRuntime, ApprovalStore, Spy]]:
    """The scripted email agent behind a running `ServiceRuntime` on a real store."""
    spy = Spy()
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        graph = create_approval_agent(ScriptedChatModel(script=email_assistant_script), spy.tools(), policy=POLICY,
                                      checkpointer=saver)  # fmt: skip
        store = await ApprovalStore.open(store_url)
        runtime = ServiceRuntime(graph, store, settings=Settings(workers=workers, sweep_interval=3600))
        await runtime.start()
        try:
            yield runtime, store, spy
        finally:
            await runtime.stop()
            await store.close()


async def test_a_turns_calls_are_pending_together_and_an_approved_one_runs_before_its_sibling(store_url, tmp_path):
    async with email_service(store_url, tmp_path, workers=2) as (runtime, store, spy):
        async with runtime.events.subscribe() as events:
            run = await runtime.submit_message("t", "Send email to a@example.com and b@example.com", principal=ALICE)
            assert (await runtime.wait_run(run.id, 30)).status == "paused"
            items, _ = await store.inbox(InboxQuery(thread_id="t"))
            by_to = {i.args["to"]: i for i in items}
            assert sorted(by_to) == ["a@example.com", "b@example.com"]  # both at once
            assert len({i.interrupt_id for i in items}) == 2

            await runtime.decide(by_to["b@example.com"].id, {"type": "approve"}, principal=BOB)
            await runtime.idle()
            assert [e["to"] for e in spy.emails] == ["b@example.com"]  # ran without waiting for a
            (left,), _ = await store.inbox(InboxQuery(thread_id="t"))
            assert left.id == by_to["a@example.com"].id  # the same item, still pending
            # the other call's rule for new messages holds while it waits
            try:
                await runtime.submit_message("t", "and c@example.com", principal=ALICE)
                raise AssertionError("a message to a paused thread must be refused")
            except ThreadBusyError:
                pass

            await runtime.decide(left.id, {"type": "reject", "message": "not a"}, principal=BOB)
            await runtime.idle()
            kinds = [events.get_nowait() for _ in range(events.qsize())]
        assert [e["to"] for e in spy.emails] == ["b@example.com"]
        requested = [e["approval"]["id"] for e in kinds if e["type"] == "approval.requested"]
        assert sorted(requested) == sorted(i.id for i in items)  # each announced once
        assert (await store.inbox(InboxQuery(thread_id="t")))[0] == []
        reply = await runtime.last_reply("t")
        assert "rejected the send_email call: not a" in reply and "Email sent to b@example.com" in reply
        assert (await store.verify_audit()).ok


async def test_the_inbox_item_carries_the_turn(store_url, tmp_path):
    from langgraph_ollama_local.runtime.service import public_request

    async with email_service(store_url, tmp_path, workers=1) as (runtime, store, _):
        run = await runtime.submit_message("t", "Send email to a@example.com and b@example.com", principal=ALICE)
        assert (await runtime.wait_run(run.id, 30)).status == "paused"
        items, _ = await store.inbox(InboxQuery(thread_id="t"))
        policies = [public_request(i)["policy"] for i in items]
        assert len({p["turn_id"] for p in policies}) == 1 and policies[0]["turn_id"]
        assert sorted(p["call_index"] for p in policies) == [0, 1]
