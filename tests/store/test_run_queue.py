"""The run queue on real SQLite and PostgreSQL: claims, per-thread order, leases, fencing, resume keys."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from langgraph_ollama_local.store.approval_store import ApprovalStore, utcnow
from langgraph_ollama_local.store.run_queue import RunQueue


async def _queue(url: str) -> tuple[ApprovalStore, RunQueue]:
    store = await ApprovalStore.open(url)
    return store, RunQueue(store.engine)


async def test_claims_oldest_first_and_one_run_per_thread_at_a_time(store_url):
    store, queue = await _queue(store_url)
    try:
        a1, _ = await queue.enqueue("a", {"n": 1}, actor="u")
        a2, _ = await queue.enqueue("a", {"n": 2}, actor="u")
        b1, _ = await queue.enqueue("b", {"n": 1}, actor="u")
        first = await queue.claim("w1", 30)
        second = await queue.claim("w2", 30)
        assert (first.id, second.id) == (a1.id, b1.id)  # a2 waits: a1 of the same thread runs
        assert await queue.claim("w3", 30) is None
        assert first.attempts == 1 and first.lease_owner == "w1"
        assert await queue.finish(a1.id, "w1", "succeeded")
        third = await queue.claim("w3", 30)
        assert third.id == a2.id
    finally:
        await store.close()


async def test_expired_lease_is_taken_over_and_the_old_holder_is_fenced_off(store_url):
    store, queue = await _queue(store_url)
    try:
        run, _ = await queue.enqueue("t", {}, actor="u")
        held = await queue.claim("dead-worker", 30)
        assert held.id == run.id
        assert await queue.claim("w2", 30) is None  # lease still live
        later = utcnow() + timedelta(seconds=31)
        taken = await queue.claim("w2", 30, now=later)
        assert taken.id == run.id and taken.attempts == 2 and taken.lease_owner == "w2"
        assert not await queue.renew(run.id, "dead-worker", 30)
        assert not await queue.finish(run.id, "dead-worker", "succeeded")  # fenced
        assert await queue.finish(run.id, "w2", "paused")
        assert (await store.get_run(run.id)).status == "paused"
    finally:
        await store.close()


async def test_a_resume_key_queues_one_run_however_often_it_is_enqueued(store_url):
    store, queue = await _queue(store_url)
    try:
        results = await asyncio.gather(
            *(queue.enqueue("t", {"kind": "resume"}, actor="u", resume_key="interrupt-1") for _ in range(5))
        )
        assert len({run.id for run, _ in results}) == 1
        assert sum(new for _, new in results) == 1
        assert len(await store.thread_runs("t")) == 1
    finally:
        await store.close()


async def test_release_gives_runs_back_at_once(store_url):
    store, queue = await _queue(store_url)
    try:
        run, _ = await queue.enqueue("t", {}, actor="u")
        await queue.claim("w1", 30)
        assert await queue.release_owned_by("w1") == 1
        assert (await queue.claim("w2", 30)).id == run.id
    finally:
        await store.close()


@pytest.mark.postgres
async def test_concurrent_workers_on_postgres_never_take_the_same_run(pg_url):
    """Eight engines (as eight processes would have) race for 200 runs over 50 threads."""
    store = await ApprovalStore.open(pg_url)
    queues = [RunQueue((await ApprovalStore.open(pg_url, run_migrations=False)).engine) for _ in range(8)]
    try:
        for index in range(200):
            await store_queue_enqueue(queues[0], f"t{index % 50}", index)
        taken: list[tuple[str, str]] = []
        running_threads: set[str] = set()
        overlaps = 0

        async def work(worker: int) -> None:
            nonlocal overlaps
            queue = queues[worker]
            while True:
                run = await queue.claim(f"w{worker}", 30)
                if run is None:
                    if (await queue.health()).queued == 0:
                        return
                    await asyncio.sleep(0.01)
                    continue
                if run.thread_id in running_threads:
                    overlaps += 1
                running_threads.add(run.thread_id)
                taken.append((run.id, f"w{worker}"))
                await asyncio.sleep(0.002)
                running_threads.discard(run.thread_id)
                assert await queue.finish(run.id, f"w{worker}", "succeeded")

        await asyncio.gather(*(work(i) for i in range(8)))
        ids = [run_id for run_id, _ in taken]
        assert len(ids) == 200 and len(set(ids)) == 200, "a run was taken twice or lost"
        assert overlaps == 0, "two runs of one thread ran at once"
        assert len({w for _, w in taken}) > 1
    finally:
        for queue in queues:
            await queue.engine.dispose()
        await store.close()


async def store_queue_enqueue(queue: RunQueue, thread_id: str, index: int) -> None:
    await queue.enqueue(thread_id, {"n": index}, actor="u")
