"""A new message to a thread that waits for a decision is refused (409), never run over it.

Before, the message started a new turn that dropped the pending interrupt: its request stayed
in the inbox as an orphan, and approving it was recorded as "approved" though nothing ran.
"""

from __future__ import annotations

import pytest

from langgraph_ollama_local.runtime.service import ThreadBusyError
from langgraph_ollama_local.store.approval_store import InboxQuery
from tests.runtime.test_coherent_turns_service import ALICE, BOB, email_service


async def test_a_message_to_a_paused_thread_is_refused_and_the_request_stays_whole(store_url, tmp_path):
    async with email_service(store_url, tmp_path, workers=1) as (runtime, store, spy):
        run = await runtime.submit_message("p", "Send email to alice@example.com", principal=ALICE)
        assert (await runtime.wait_run(run.id, 30)).status == "paused"
        (item,) = (await store.inbox(InboxQuery(thread_id="p")))[0]
        with pytest.raises(ThreadBusyError, match="waits for a decision on send_email"):
            await runtime.submit_message("p", "Send email to mallory@example.com", principal=ALICE)
        # a message queued anyway (a race with the pause) is cancelled when a worker takes it
        raced, _ = await runtime.queue.enqueue("p", {"kind": "message", "message": "Send email to x@example.com"},
                                               actor="alice")  # fmt: skip
        raced = await runtime.wait_run(raced.id, 30)
        assert raced.status == "cancelled" and "waits for a decision" in (raced.error or "")
        assert (await store.get(item.id)).is_pending
        state = await runtime.graph.aget_state(runtime.config("p"))
        assert [i.id for i in state.interrupts] == [item.interrupt_id]  # the interrupt is still there

        await runtime.decide(item.id, {"type": "approve"}, principal=BOB)
        await runtime.idle()
        assert [e["to"] for e in spy.emails] == ["alice@example.com"]  # what was approved is what ran
        after = await runtime.submit_message("p", "thanks", principal=ALICE)  # nothing pending: fine
        assert (await runtime.wait_run(after.id, 30)).status == "succeeded"
