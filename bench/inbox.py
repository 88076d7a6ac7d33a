"""Inbox query latency with 1k, 10k and 100k pending approvals, vs LangGraph's own APIs.

Ours: the `hitl_approval_requests` table is seeded directly (bulk INSERT of realistic rows
through SQLAlchemy Core, the table `ApprovalStore.record_requests` writes) in a SQLite file
and a PostgreSQL database; then `ApprovalStore.inbox()` is timed: the first page (50 items,
soonest deadline first, with the total), the same page with the total capped at 1,000 (what
the web inbox asks for), one thread's items, one tool's page (capped total, as the web
inbox asks). The COUNT(*) behind an exact "total" is also timed alone, since it reads
every pending row.

LangGraph: real paused threads (the raw graph, a plain `interrupt()` before the tool) in
LangGraph's own SQLite / PostgreSQL checkpointer, and the pending interrupts found the
only ways LangGraph offers without a side index: (a) scan `checkpointer.list(None)` and
keep each thread's newest checkpoint that has an `__interrupt__` write; (b)
`graph.get_state()` per known thread id. Seeding 100k real threads takes too long here, so
LangGraph is measured at 1k and 10k (1k only with --quick) and 100k is EXTRAPOLATED
linearly from 10k; the table says which.

    .venv/bin/python bench/inbox.py [--quick] [--postgres URL|'']
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import DEFAULT_PG, machine, median_ms, postgres_db, raw_graph, save, table
from langchain_core.messages import HumanMessage
from sqlalchemy import func, insert, select

from langgraph_ollama_local.store import open_checkpointer
from langgraph_ollama_local.store.approval_store import ApprovalStore, InboxQuery
from langgraph_ollama_local.store.schema import approval_requests

SIZES = (1_000, 10_000, 100_000)
ORDER = (approval_requests.c.deadline.is_(None), approval_requests.c.deadline, approval_requests.c.created_at)


def request_row(i: int, now: datetime) -> dict[str, Any]:
    thread = f"thread-{i:07d}"
    args = {"to": f"user{i}@example.com", "subject": "Hello", "body": f"Message number {i}"}
    return {
        "id": uuid.uuid4().hex,
        "thread_id": thread,
        "run_id": uuid.uuid4().hex,
        "interrupt_id": uuid.uuid4().hex,
        "action_index": 0,
        "kind": "tool_approval",
        "status": "pending",
        "tool": "send_email" if i % 4 else "get_weather",
        "tool_call_id": f"call_{i:012d}",
        "args": args,
        "digest": uuid.uuid4().hex,
        "stage": None,
        "stage_index": 0,
        "stage_count": 1,
        "required_role": "approver" if i % 3 else None,
        "allowed_decisions": ["approve", "edit", "reject", "respond"],
        "description": "Tool execution requires approval",
        "created_at": now + timedelta(milliseconds=i),
        "deadline": now + timedelta(hours=1, seconds=i) if i % 10 == 0 else None,
        "requested_by": "bench",
        "payload": {"action_requests": [{"name": "send_email", "args": args}], "hitl": {"kind": "tool_approval"}},
    }


async def seed(store: ApprovalStore, start: int, stop: int) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    batch = 5000
    for lo in range(start, stop, batch):
        rows = [request_row(i, now) for i in range(lo, min(stop, lo + batch))]
        async with store.engine.begin() as conn:
            await conn.execute(insert(approval_requests), rows)


async def timed(fn: Any, repeat: int) -> float:
    for _ in range(3):
        await fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


async def bench_store(url: str, repeat: int) -> dict[str, dict[str, float]]:
    store = await ApprovalStore.open(url)
    out: dict[str, dict[str, float]] = {}
    try:
        have = 0
        for size in SIZES:
            seeded = time.perf_counter()
            await seed(store, have, size)
            have = size
            async with store.engine.begin() as conn:  # what autovacuum/`ANALYZE` does in a live db
                await conn.exec_driver_sql("ANALYZE")
            probe_thread = f"thread-{size // 2:07d}"

            async def first_page() -> None:
                page, total = await store.inbox(InboxQuery(limit=50))
                assert len(page) == 50 and total == have  # noqa: B023

            async def by_thread() -> None:
                page, _ = await store.inbox(InboxQuery(thread_id=probe_thread))  # noqa: B023
                assert len(page) == 1

            async def by_tool() -> None:  # as the web inbox filters: capped total
                page, _ = await store.inbox(InboxQuery(tool="send_email", limit=50, count_limit=1001))
                assert len(page) == 50

            async def page_only() -> None:
                stmt = store._inbox_select(InboxQuery()).order_by(*ORDER).limit(50)
                async with store.engine.connect() as conn:
                    assert len((await conn.execute(stmt)).all()) == 50

            async def count_only() -> None:
                async with store.engine.connect() as conn:
                    await conn.scalar(
                        select(func.count()).select_from(approval_requests).where(approval_requests.c.status == "pending")
                    )

            out[str(size)] = {
                "seed_s": time.perf_counter() - seeded,
                "first_page_ms": await timed(first_page, repeat),
                "by_thread_ms": await timed(by_thread, repeat),
                "by_tool_ms": await timed(by_tool, repeat),
                "page_only_ms": await timed(page_only, repeat),
                "count_ms": await timed(count_only, repeat),
            }

            async def first_page_capped() -> None:  # what the web inbox asks: ?count=capped
                page, total = await store.inbox(InboxQuery(limit=50, count_limit=1001))
                assert len(page) == 50 and total == min(have, 1001)  # noqa: B023

            out[str(size)]["capped_page_ms"] = await timed(first_page_capped, repeat)
            print(f"  store {url.split(':')[0]} {size} done", flush=True)
    finally:
        await store.close()
    return out


def bench_langgraph(url: str, sizes: tuple[int, ...], repeat: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with open_checkpointer(url) as saver:
        graph = raw_graph(saver)
        threads: list[str] = []
        for size in sizes:
            seeded = time.perf_counter()
            while len(threads) < size:
                thread = f"lg-{len(threads):07d}"
                graph.invoke(
                    {"messages": [HumanMessage(f"Send email to user{len(threads)}@example.com")]},
                    {"configurable": {"thread_id": thread}},
                )
                threads.append(thread)
            seed_s = time.perf_counter() - seeded

            def scan() -> int:
                seen: set[str] = set()
                pending = []
                for tup in saver.list(None):
                    thread = tup.config["configurable"]["thread_id"]
                    if thread in seen:
                        continue
                    seen.add(thread)
                    if any(w[1] == "__interrupt__" for w in tup.pending_writes or ()):
                        pending.append((tup.checkpoint["ts"], thread))
                pending.sort()
                return len(pending)

            def per_thread() -> int:
                found = 0
                for thread in threads:
                    found += len(graph.get_state({"configurable": {"thread_id": thread}}).interrupts)
                return found

            row: dict[str, Any] = {"seed_s": seed_s}
            for name, fn in (("scan", scan), ("get_state", per_thread)):
                reps = max(1, repeat if size <= 1000 else repeat // 5)
                samples = []
                for _ in range(reps):
                    started = time.perf_counter()
                    n = fn()
                    samples.append(time.perf_counter() - started)
                    assert n == size, (name, n, size)
                row[f"{name}_ms"] = median_ms(samples)
            out[str(size)] = row
            print(f"  langgraph {url.split(':')[0]} {size} done (seeded in {seed_s:.0f} s)", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL server URL; '' to skip")
    args = parser.parse_args()
    repeat = 10 if args.quick else 30
    lg_sizes = (1_000,) if args.quick else (1_000, 10_000)
    tmp = tempfile.mkdtemp(prefix="hitl-inbox-bench-")
    backends = {"sqlite": (f"sqlite:///{tmp}/inbox.sqlite", f"sqlite:///{tmp}/lg.sqlite")}
    if args.postgres:
        store_pg = postgres_db(args.postgres, "hitl_bench_inbox")
        lg_pg = postgres_db(args.postgres, "hitl_bench_inbox_lg")
        if store_pg and lg_pg:
            backends["postgres"] = (store_pg, lg_pg)
    result: dict[str, Any] = {"machine": machine(), "store": {}, "langgraph": {}, "langgraph_sizes": list(lg_sizes)}
    for name, (store_url, lg_url) in backends.items():
        result["store"][name] = asyncio.run(bench_store(store_url, repeat))
        result["langgraph"][name] = bench_langgraph(lg_url, lg_sizes, max(3, repeat // 3))

    rows: list[list[Any]] = []
    proto_rows: list[list[Any]] = []
    for name in backends:
        store, lg = result["store"][name], result["langgraph"][name]
        last = str(lg_sizes[-1])
        for size in SIZES:
            s = store[str(size)]
            if str(size) in lg:
                scan, per, how = lg[str(size)]["scan_ms"], lg[str(size)]["get_state_ms"], "measured"
            else:
                factor = size / lg_sizes[-1]
                scan, per = lg[last]["scan_ms"] * factor, lg[last]["get_state_ms"] * factor
                how = f"extrapolated x{factor:.0f} from {lg_sizes[-1]:,}"
            rows.append([name, size, s["first_page_ms"], s["page_only_ms"], s["count_ms"], s["by_thread_ms"], s["by_tool_ms"], scan, per, how])
            proto_rows.append([name, size, s["first_page_ms"], s["capped_page_ms"]])
    print(f"\nInbox query latency, median ms ({repeat} runs); LangGraph columns find ALL pending interrupts")
    print(
        table(
            ["db", "pending", "ours page+total", "page alone", "COUNT alone", "by thread", "by tool", "LG list() scan", "LG get_state/thread", "LG figures"],
            rows,
        )
    )
    print("\nFirst page with the exact total vs with the total capped at 1000 (GET /approvals?count=capped, the web inbox)")
    print(table(["db", "pending", "page + exact total ms", "page + capped total ms"], proto_rows))
    save("inbox", result)


if __name__ == "__main__":
    main()
