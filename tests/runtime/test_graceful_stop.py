"""Stopping a worker (SIGTERM → `ServiceRuntime.stop`) lets the approved call that is
running end, then releases the run: after the restart the call is not "in doubt" and
did not run twice. (Before, stopping cancelled it mid-call: in doubt in 4 of 4 trials.)"""

from __future__ import annotations

import asyncio

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent
from langgraph_ollama_local.auth import Principal
from langgraph_ollama_local.runtime.service import ServiceRuntime, Settings
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import ApprovalStore, InboxQuery
from langgraph_ollama_local.testing import ScriptedChatModel, tool_call

POLICY = ApprovalPolicy.from_mapping({"default": "allow", "tools": {"pay": {"allowed_decisions": ["approve"]}}})


def script(messages):
    last = messages[-1]
    if isinstance(last, HumanMessage):
        return AIMessage(content="", tool_calls=[tool_call("pay", {"amount": 5})])
    return AIMessage(content="Done." if isinstance(last, ToolMessage) else "Okay.")


async def test_stopping_lets_the_running_call_finish_and_releases_the_run(store_url, tmp_path):
    started, release, payments = asyncio.Event(), asyncio.Event(), []

    @tool
    async def pay(amount: int) -> str:
        """Pay an amount (cannot recognise a repeat)."""
        payments.append(amount)
        started.set()
        await release.wait()
        return f"paid {amount}"

    store = await ApprovalStore.open(store_url)
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        graph = create_approval_agent(ScriptedChatModel(script=script), [pay], policy=POLICY, checkpointer=saver)
        settings = Settings(workers=1, sweep_interval=3600, single_process=False)
        runtime = ServiceRuntime(graph, store, settings=settings)
        await runtime.start()
        run = await runtime.submit_message("t", "pay five", actor="alice")
        assert (await runtime.wait_run(run.id, 30)).status == "paused"
        (request,) = (await store.inbox(InboxQuery()))[0]
        await runtime.decide(request.id, {"type": "approve"}, principal=Principal("bob", frozenset({"approver"})))
        await asyncio.wait_for(started.wait(), 30)

        stopping = asyncio.create_task(runtime.stop(grace_seconds=60))  # SIGTERM arrives mid-call
        await asyncio.sleep(0.2)
        release.set()  # the call ends within the grace period
        await stopping
        (record,) = await runtime.ledger.arecords()
        assert record.status == "succeeded", record  # ended and recorded, not cut off

        runtime = ServiceRuntime(graph, store, settings=settings)  # the restarted worker
        await runtime.start()
        try:
            await runtime.idle()
            assert (await runtime.last_reply("t")) == "Done."
            assert payments == [5]
            assert [r.status for r in await runtime.ledger.arecords()] == ["succeeded"]
        finally:
            await runtime.stop()
            await store.close()
