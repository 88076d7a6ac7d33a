"""HITL cycle through our library vs raw LangGraph, same model, same checkpointer.

One cycle: a message → the graph pauses before `send_email` → the pending approval is read
→ it is approved → the tool runs → the final reply. Both sides use the same scripted model
(a test double: the point is the framework cost, not the LLM) and the same tool; raw
LangGraph is the minimal graph a tutorial reader writes (agent node, a review node calling
`interrupt()`, ToolNode). Sides alternate so noise hits both.

- latency: median of sequential cycles after a warm-up, sync API. "ours (runner)" is
  `ApprovalRunner` (start → pending → decide, which checks the interrupt is really
  pending); "ours (graph)" the compiled gated graph driven like raw (invoke / get_state /
  invoke(Command)).
- throughput: cycles/s with 1, 16 and 64 concurrent clients on one event loop (async API,
  `open_async_checkpointer`), each client its own threads; median of 5 rounds in which the
  two sides alternate.

    .venv/bin/python bench/hitl_cycle.py [--quick] [--postgres URL|'']
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import Any

from _common import DEFAULT_PG, SENT, machine, median_ms, our_graph, postgres_db, raw_graph, save, table
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command

from langgraph_ollama_local import ApprovalRunner
from langgraph_ollama_local.store import open_async_checkpointer, open_checkpointer

MESSAGE = "Send email to bob@example.com"


def cycle_graph(graph: Any, keyed: bool) -> None:
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    graph.invoke({"messages": [HumanMessage(MESSAGE)]}, config)
    (pending,) = graph.get_state(config).interrupts
    resume = {pending.id: {"type": "approve"}} if keyed else {"type": "approve"}
    graph.invoke(Command(resume=resume), config)
    final = graph.get_state(config).values["messages"][-1]
    assert isinstance(final, AIMessage) and final.content.startswith("Done."), final


def cycle_runner(runner: ApprovalRunner) -> None:
    thread = uuid.uuid4().hex
    runner.start(thread, MESSAGE)
    (item,) = runner.pending(thread)
    assert item.interrupt_id is not None
    runner.decide(thread, item.interrupt_id, {"type": "approve"})
    assert runner.last_reply(thread).startswith("Done.")


async def acycle(graph: Any, keyed: bool) -> None:
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    await graph.ainvoke({"messages": [HumanMessage(MESSAGE)]}, config)
    (pending,) = (await graph.aget_state(config)).interrupts
    resume = {pending.id: {"type": "approve"}} if keyed else {"type": "approve"}
    await graph.ainvoke(Command(resume=resume), config)
    final = (await graph.aget_state(config)).values["messages"][-1]
    assert isinstance(final, AIMessage) and final.content.startswith("Done."), final


def latency(opener: Callable[[], AbstractContextManager[Any]], cycles: int, warmup: int) -> dict[str, float]:
    with opener() as saver:
        ours, raw = our_graph(saver), raw_graph(saver)
        runner = ApprovalRunner(ours)
        sides: dict[str, Callable[[], None]] = {
            "ours_runner": lambda: cycle_runner(runner),
            "ours_graph": lambda: cycle_graph(ours, True),
            "raw": lambda: cycle_graph(raw, False),
        }
        for _ in range(warmup):
            for run in sides.values():
                run()
        times: dict[str, list[float]] = {k: [] for k in sides}
        for _ in range(cycles):
            for side, run in sides.items():
                started = time.perf_counter()
                run()
                times[side].append(time.perf_counter() - started)
        return {k: median_ms(v) for k, v in times.items()}


async def throughput(
    opener: Callable[[], AbstractAsyncContextManager[Any]], clients: int, per_client: int, rounds: int
) -> dict[str, float]:
    """Median over `rounds` of cycles/s; the sides alternate (and swap order) every round."""
    samples: dict[str, list[float]] = {"ours": [], "raw": []}
    async with opener() as saver:
        graphs = {"ours": (our_graph(saver), True), "raw": (raw_graph(saver), False)}
        for graph, keyed in graphs.values():
            await asyncio.gather(*(acycle(graph, keyed) for _ in range(min(clients, 8))))  # warm-up
        for index in range(rounds):
            order = list(graphs.items()) if index % 2 == 0 else list(reversed(graphs.items()))
            for side, (graph, keyed) in order:

                async def client(graph: Any = graph, keyed: bool = keyed) -> None:
                    for _ in range(per_client):
                        await acycle(graph, keyed)

                started = time.perf_counter()
                await asyncio.gather(*(client() for _ in range(clients)))
                samples[side].append(clients * per_client / (time.perf_counter() - started))
    return {side: statistics.median(v) for side, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short mode (CI smoke run)")
    parser.add_argument("--cycles", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--postgres", default=DEFAULT_PG, help="PostgreSQL server URL; '' to skip")
    args = parser.parse_args()
    cycles = args.cycles or (30 if args.quick else 200)
    warmup = args.warmup or (5 if args.quick else 20)
    tmp = tempfile.mkdtemp(prefix="hitl-bench-")
    pg = postgres_db(args.postgres, "hitl_bench_cycle") if args.postgres else None
    sync: dict[str, Callable[[], AbstractContextManager[Any]]] = {
        "memory": lambda: open_checkpointer("memory"),
        "sqlite": lambda: open_checkpointer(f"sqlite:///{tmp}/bench.sqlite"),
    }
    asyn: dict[str, Callable[[], AbstractAsyncContextManager[Any]]] = {
        "memory": lambda: open_async_checkpointer("memory"),
        "sqlite": lambda: open_async_checkpointer(f"sqlite:///{tmp}/bench-async.sqlite"),
    }
    if pg:
        sync["postgres"] = lambda: open_checkpointer(pg)
        asyn["postgres"] = lambda: open_async_checkpointer(pg)

    result: dict[str, Any] = {"machine": machine(), "cycles": cycles, "warmup": warmup, "latency": {}, "throughput": {}}
    rows = []
    for name, opener in sync.items():
        lat = latency(opener, cycles, warmup)
        result["latency"][name] = lat
        rows.append([name, lat["ours_runner"], lat["ours_graph"], lat["raw"], lat["ours_runner"] / lat["raw"], lat["ours_graph"] / lat["raw"]])
        print(f"  latency {name} done", flush=True)
    print(f"\nHITL cycle, library (sync), median ms of {cycles} after {warmup} warm-up, scripted model")
    print(table(["checkpointer", "ours runner ms", "ours graph ms", "raw ms", "runner/raw", "graph/raw"], rows))

    concurrency = (1, 16, 64)
    trows = []
    for name, aopener in asyn.items():
        result["throughput"][name] = {}
        for clients in concurrency:
            per_client = max(2, (40 if args.quick else 128) // clients)
            tp = asyncio.run(throughput(aopener, clients, per_client, 1 if args.quick else 5))
            result["throughput"][name][str(clients)] = tp
            trows.append([name, clients, tp["ours"], tp["raw"], tp["ours"] / tp["raw"]])
        print(f"  throughput {name} done", flush=True)
    print(f"\nHITL cycle, library (async), throughput in cycles/s{'' if args.quick else ', median of 5 alternating rounds'}")
    print(table(["checkpointer", "clients", "ours cyc/s", "raw cyc/s", "ours/raw"], trows))
    assert SENT, "no email was sent"
    save("library", result)


if __name__ == "__main__":
    main()
