"""Every inbox item and every decision has its audit entry, on SQLite and PostgreSQL.

The service cycle's statements are being cut (issue 16); an earlier attempt at that lost the
`approval.requested` entries on PostgreSQL while SQLite kept them. Here the audit log is
checked item by item against the store after real service cycles: a single call (pause,
approve, run), a turn of two calls (two items, the second raised again after the first is
resumed, then decided), and a rejection. Exactly one `approval.requested` per item and one
`approval.decided` per decided item, each naming its item; one `run.created` per run, one
`thread.created` per thread; the chain verifies.
"""

from __future__ import annotations

from collections import Counter

from langgraph_ollama_local.store.approval_store import InboxQuery
from tests.runtime.test_coherent_turns_service import ALICE, BOB, email_service


async def test_every_request_and_decision_is_audited(store_url, tmp_path):
    async with email_service(store_url, tmp_path, workers=2) as (runtime, store, spy):
        async with runtime.events.subscribe() as events:
            # one call: pause, approve, the email runs
            run = await runtime.submit_message("one", "Send email to a@example.com", principal=ALICE)
            assert await runtime.wait_run_end(run.id, 30) == "paused"
            (item,), _ = await store.inbox(InboxQuery(thread_id="one"))
            await runtime.decide(item.id, {"type": "approve"}, principal=BOB)
            await runtime.idle()
            # a turn of two calls: both pending at once, each decided on its own
            run = await runtime.submit_message("two", "Send email to b@example.com and c@example.com", principal=ALICE)
            assert (await runtime.wait_run(run.id, 30)).status == "paused"
            items, _ = await store.inbox(InboxQuery(thread_id="two"))
            assert len(items) == 2
            await runtime.decide(items[0].id, {"type": "approve"}, principal=BOB)
            await runtime.idle()
            (left,), _ = await store.inbox(InboxQuery(thread_id="two"))
            await runtime.decide(left.id, {"type": "reject", "message": "no"}, principal=BOB)
            await runtime.idle()
            published = [events.get_nowait() for _ in range(events.qsize())]
        assert len(spy.emails) == 2

        requests, _ = await store.inbox(InboxQuery(status=None, limit=1000))
        assert len(requests) == 3 and not any(r.is_pending for r in requests)
        entries = await store.audit_entries(limit=10_000)
        requested = Counter(e.subject_id for e in entries if e.action == "approval.requested")
        decided = Counter(e.subject_id for e in entries if e.action == "approval.decided")
        assert requested == Counter(r.id for r in requests)  # one each, none missing, none extra
        assert decided == Counter(r.id for r in requests)
        for entry in entries:
            if entry.action == "approval.requested":
                request = next(r for r in requests if r.id == entry.subject_id)
                assert entry.thread_id == request.thread_id
                assert entry.data["tool"] == request.tool and entry.data["args"] == request.args
            if entry.action == "approval.decided":
                request = next(r for r in requests if r.id == entry.subject_id)
                assert entry.data["status"] == request.status and entry.actor == request.decided_by
                assert entry.at == request.decided_at  # the decision's own time
        # what was announced is what was audited
        announced = Counter(e["approval"]["id"] for e in published if e["type"] == "approval.requested")
        assert announced == requested

        runs = [r for thread in ("one", "two") for r in await store.thread_runs(thread)]
        assert Counter(e.subject_id for e in entries if e.action == "run.created") == Counter(r.id for r in runs)
        assert sorted(e.subject_id for e in entries if e.action == "thread.created") == ["one", "two"]
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
        assert (await store.verify_audit()).ok
