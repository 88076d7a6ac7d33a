"""Static breakpoints obey separation of duties: the item records who started the run.

A breakpoint item (`interrupt_before` / `interrupt_after`) with no requester let the person
who asked `continue` their own paused action even under `self_approval: false`.
"""

from __future__ import annotations

import pytest

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent
from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.auth import Principal
from langgraph_ollama_local.runtime.service import DecisionForbiddenError, ServiceRuntime, Settings
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import ApprovalStore, InboxQuery
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.agent.test_approval_patterns import Spy

ALICE = Principal("alice", frozenset({"approver", "requester"}))
BOB = Principal("bob", frozenset({"approver"}))


async def test_breakpoint_items_carry_the_requester_through_resumes(store_url, tmp_path):
    spy = Spy()
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        graph = create_approval_agent(
            ScriptedChatModel(script=email_assistant_script),
            spy.tools(),
            policy=ApprovalPolicy.allow_all(),
            checkpointer=saver,
            interrupt_before=["tools"],
            interrupt_after=["tools"],
        )
        store = await ApprovalStore.open(store_url)
        settings = Settings(workers=1, sweep_interval=3600, access=AccessRules(self_approval=False))
        runtime = ServiceRuntime(graph, store, settings=settings)
        await runtime.start()
        try:
            run = await runtime.submit_message("bp", "Send email to alice@example.com", actor="alice")
            assert (await runtime.wait_run(run.id, 30)).status == "paused"
            (item,) = (await store.inbox(InboxQuery(thread_id="bp")))[0]
            assert item.kind == "breakpoint" and item.requested_by == "alice"
            with pytest.raises(DecisionForbiddenError, match="own request"):
                await runtime.decide(item.id, {"type": "continue"}, principal=ALICE)
            assert (await store.get(item.id)).is_pending and spy.emails == []

            await runtime.decide(item.id, {"type": "continue"}, principal=BOB)
            await runtime.idle()
            # the resume run (started by bob's decision) paused again after `tools`: still alice's
            (after,) = (await store.inbox(InboxQuery(thread_id="bp")))[0]
            assert after.id != item.id and after.kind == "breakpoint"
            assert after.requested_by == "alice"
            with pytest.raises(DecisionForbiddenError, match="own request"):
                await runtime.decide(after.id, {"type": "continue"}, principal=ALICE)
            assert len(spy.emails) == 1
        finally:
            await runtime.stop()
            await store.close()
