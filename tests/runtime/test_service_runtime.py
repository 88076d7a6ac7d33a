"""The service runtime on a real store: background runs, inbox items, decisions, deadlines, recovery."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent
from langgraph_ollama_local.auth import Principal
from langgraph_ollama_local.runtime.service import (
    DecisionForbiddenError,
    InvalidDecisionError,
    ServiceRuntime,
    Settings,
)
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import AlreadyDecidedError, ApprovalStore, InboxQuery
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.agent.test_approval_patterns import Spy

POLICY = ApprovalPolicy.from_mapping(
    {"default": "allow", "tools": {"send_email": {"stages": [{"name": "manager", "role": "manager", "timeout_seconds": 60}]}}}
)


def approver(name: str) -> Principal:
    return Principal(name, frozenset({"manager"}))


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def make_runtime(url: str, spy: Spy, clock: Clock, saver) -> ServiceRuntime:
    store = await ApprovalStore.open(url)
    graph = create_approval_agent(
        ScriptedChatModel(script=email_assistant_script), spy.tools(), policy=POLICY, checkpointer=saver
    )
    runtime = ServiceRuntime(graph, store, settings=Settings(workers=2, sweep_interval=3600), clock=clock)
    await runtime.start()
    return runtime


async def pending(runtime: ServiceRuntime):
    page, _ = await runtime.store.inbox(InboxQuery())
    return page


async def test_message_pauses_then_approval_resumes(store_url, tmp_path):
    spy, clock = Spy(), Clock()
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        runtime = await make_runtime(store_url, spy, clock, saver)
        try:
            async with runtime.events.subscribe() as events:
                run = await runtime.submit_message("t1", "Send email to alice@example.com", actor="alice")
                run = await runtime.wait_run(run.id, 30)
                assert run.status == "paused"
                (request,) = await pending(runtime)
                assert request.tool == "send_email" and request.args["to"] == "alice@example.com"
                assert request.required_role == "manager" and request.deadline is not None
                kinds = [events.get_nowait()["type"] for _ in range(events.qsize())]
                assert "approval.requested" in kinds
            with pytest.raises(InvalidDecisionError):
                await runtime.decide(request.id, {"type": "respond", "message": "x"}, principal=approver("bob"))
            assert (await runtime.store.get(request.id)).is_pending  # nothing stored
            decided = await runtime.decide(request.id, {"type": "approve"}, principal=approver("bob"))
            assert decided.status == "approved" and decided.decided_by == "bob"
            with pytest.raises(AlreadyDecidedError):
                await runtime.decide(request.id, {"type": "reject"}, principal=approver("carol"))
            await runtime.idle()
            assert [e["to"] for e in spy.emails] == ["alice@example.com"]
            assert (await runtime.last_reply("t1")).startswith("Done. Email sent")
            assert (await runtime.store.verify_audit()).ok
        finally:
            await runtime.stop()
            await runtime.store.close()


async def test_edit_through_the_runtime(store_url, tmp_path):
    spy, clock = Spy(), Clock()
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        runtime = await make_runtime(store_url, spy, clock, saver)
        try:
            run = await runtime.submit_message("t", "Send email to alice@example.com", actor="alice")
            await runtime.wait_run(run.id, 30)
            (request,) = await pending(runtime)
            with pytest.raises(InvalidDecisionError, match="do not fit"):
                await runtime.decide(request.id, {"type": "edit", "args": {"to": 5}}, principal=approver("bob"))
            args = {"to": "carol@example.com", "subject": "s", "body": "b"}
            decided = await runtime.decide(request.id, {"type": "edit", "args": args}, principal=approver("bob"))
            assert decided.status == "edited" and decided.edited_args == args
            await runtime.idle()
            # Separation of duties: the edited call is a new call, reviewed by someone else.
            assert spy.emails == []
            (again,) = await pending(runtime)
            assert again.args == args and again.id != request.id
            with pytest.raises((InvalidDecisionError, DecisionForbiddenError)):
                await runtime.decide(again.id, {"type": "approve"}, principal=approver("bob"))
            await runtime.decide(again.id, {"type": "approve"}, principal=approver("dave"))
            await runtime.idle()
            assert spy.emails == [args]
        finally:
            await runtime.stop()
            await runtime.store.close()


async def test_deadline_rejects_even_across_a_restart(store_url, tmp_path):
    spy, clock = Spy(), Clock()
    cp = f"sqlite:///{tmp_path}/cp.db"
    async with open_async_checkpointer(cp) as saver:
        runtime = await make_runtime(store_url, spy, clock, saver)
        run = await runtime.submit_message("t", "Send email to alice@example.com", actor="alice")
        await runtime.wait_run(run.id, 30)
        await runtime.stop()
        await runtime.store.close()
    clock.now += timedelta(seconds=61)
    async with open_async_checkpointer(cp) as saver:  # a new runtime: the "restarted server"
        runtime = await make_runtime(store_url, spy, clock, saver)
        try:
            # The sweeper runs as soon as the runtime starts: the deadline passed while it was down.
            (request,) = (await runtime.store.inbox(InboxQuery(status=None)))[0]
            for _ in range(600):  # a bound for a busy machine, not a timing assert
                expired = await runtime.store.get(request.id)
                if not expired.is_pending:
                    break
                await asyncio.sleep(0.05)
            assert expired.status == "expired" and expired.decided_by == "system:deadline"
            await runtime.idle()
            assert spy.emails == []
            entries = [e for e in await runtime.store.audit_entries() if e.action == "approval.decided"]
            assert entries[-1].actor == "system:deadline"
            assert (await runtime.last_reply("t")).startswith("Done.")
        finally:
            await runtime.stop()
            await runtime.store.close()


async def test_decided_but_not_resumed_is_resumed_on_start(store_url, tmp_path):
    spy, clock = Spy(), Clock()
    cp = f"sqlite:///{tmp_path}/cp.db"
    async with open_async_checkpointer(cp) as saver:
        runtime = await make_runtime(store_url, spy, clock, saver)
        run = await runtime.submit_message("t", "Send email to alice@example.com", actor="alice")
        await runtime.wait_run(run.id, 30)
        (request,) = await pending(runtime)
        await runtime.stop()  # the server dies after storing the decision, before resuming
        await runtime.store.decide(request.id, status="approved", decision={"type": "approve", "actor": "bob"}, actor="bob")
        await runtime.store.close()
    assert spy.emails == []
    async with open_async_checkpointer(cp) as saver:
        runtime = await make_runtime(store_url, spy, clock, saver)
        try:
            for _ in range(100):
                if spy.emails:
                    break
                await asyncio.sleep(0.05)
            await runtime.idle()
            assert [e["to"] for e in spy.emails] == ["alice@example.com"]
        finally:
            await runtime.stop()
            await runtime.store.close()


class Killed(BaseException):
    """Stands in for SIGKILL inside the graph: nothing of ours catches a BaseException."""


async def test_run_killed_between_a_nodes_writes_and_the_next_checkpoint_continues(store_url, tmp_path):
    """LangGraph saved the agent node's writes, then the process died before the next
    checkpoint: the snapshot shows no `next` (that task has its writes) yet the graph is
    not done. The run taken over must continue to the approval, not call it finished."""
    spy, clock = Spy(), Clock()
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        store = await ApprovalStore.open(store_url)
        graph = create_approval_agent(
            ScriptedChatModel(script=email_assistant_script), spy.tools(), policy=POLICY, checkpointer=saver
        )
        runtime = ServiceRuntime(graph, store, settings=Settings(workers=0, sweep_interval=3600), clock=clock)
        try:
            await store.ensure_thread("t", actor="alice")
            await runtime.queue.enqueue("t", {"kind": "message", "message": "Send email to alice@example.com"}, actor="alice")
            first = await runtime.queue.claim("w1", 30)
            real_aput = saver.aput

            async def dies_after_the_agent_step(config, checkpoint, metadata, new_versions):
                if metadata.get("step") == 1:  # the checkpoint after the agent node
                    raise Killed
                return await real_aput(config, checkpoint, metadata, new_versions)

            saver.aput = dies_after_the_agent_step
            with pytest.raises(Killed):
                await runtime._advance(first)
            saver.aput = real_aput
            snapshot = await graph.aget_state({"configurable": {"thread_id": "t"}})
            assert snapshot.next == () and snapshot.tasks  # looks finished, is not

            await runtime.queue.expire_all_leases()
            second = await runtime.queue.claim("w2", 30)
            assert second is not None and second.id == first.id and second.attempts == 2
            assert await runtime._advance(second) == ("paused", None)
            (request,) = await pending(runtime)
            assert request.tool == "send_email" and spy.emails == []
        finally:
            await store.close()


async def test_pruned_thread_with_a_pending_approval_is_approved(store_url):
    """Background retention keeps what the thread needs: the pending approval resumes, the
    latest checkpoint still names its run (crash recovery), time travel keeps its depth."""
    from langgraph_ollama_local.config import RetentionSettings

    spy, clock = Spy(), Clock()
    thread, config = "long", {"configurable": {"thread_id": "long"}}
    async with open_async_checkpointer(store_url) as saver:  # graph state in the same database
        store = await ApprovalStore.open(store_url)
        graph = create_approval_agent(
            ScriptedChatModel(script=email_assistant_script), spy.tools(), policy=POLICY, checkpointer=saver
        )
        retention = RetentionSettings(enabled=True, keep_checkpoints=3, threads_per_pass=5)
        settings = Settings(workers=1, sweep_interval=3600, retention=retention)
        runtime = ServiceRuntime(graph, store, settings=settings, clock=clock)
        await runtime.start()
        try:
            for n in range(3):
                run = await runtime.submit_message(thread, f"Send email to u{n}@example.com", actor="alice")
                assert (await runtime.wait_run(run.id, 30)).status == "paused"
                (request,) = await pending(runtime)
                await runtime.decide(request.id, {"type": "approve"}, principal=approver("bob"))
                await runtime.idle()
            run = await runtime.submit_message(thread, "Send email to last@example.com", actor="alice")
            assert (await runtime.wait_run(run.id, 30)).status == "paused"
            before = [c async for c in saver.alist(config)]
            assert len(before) > 3
            report = await runtime.prune_checkpoints()
            assert report.pruned == [thread] and not runtime._to_prune
            kept = [c async for c in saver.alist(config)]
            assert [c.config for c in kept] == [c.config for c in before[:3]]
            assert kept[0].metadata["hitl_run_id"] == run.id  # what a takeover of this run reads
            (request,) = await pending(runtime)
            await runtime.decide(request.id, {"type": "approve"}, principal=approver("bob"))
            await runtime.idle()
            assert [e["to"] for e in spy.emails][-1] == "last@example.com" and len(spy.emails) == 4
            assert (await runtime.last_reply(thread)).startswith("Done. Email sent")
            assert thread in runtime._to_prune  # queued again by the resume run's end
        finally:
            await runtime.stop()
            await store.close()
