"""Growth with conversation length: time per HITL cycle and checkpoint bytes written per turn.

One thread, T turns; each turn is a full HITL cycle (message → pause → approve → tool →
reply, 4 new messages). After every turn the bytes that turn added to LangGraph's SQLite
checkpointer are summed from its own tables: `checkpoints` (checkpoint + metadata blobs)
and `writes` (value blobs), counting only rows added by that turn (by rowid).

Variants (all on `SqliteSaver`, same scripted model):
- ours: `create_approval_agent` (src/, unchanged);
- raw: the minimal raw graph, `add_messages` reducer (LangGraph's default);
- raw durability=exit: the same, invoked with `durability="exit"` (LangGraph ≥0.6: one
  checkpoint per run instead of one per step);
- raw DeltaChannel: `messages: Annotated[list, DeltaChannel(_messages_delta_reducer)]`
  (langgraph.channels.delta, beta in 1.2): only a sentinel in each checkpoint, a full
  snapshot every `snapshot_frequency` (100) updates, writes replayed on read;
- ours DeltaChannel (prototype, bench only): our own nodes (`make_agent_node`,
  `GatedToolExecutor`, the same routing) over a DeltaChannel state, built here because
  src/ is not to be edited.

Retention (store/retention.py): the same "ours" thread of T turns on SQLite and on
PostgreSQL (a fresh database), without pruning and with the thread pruned after every turn
to its newest `--keep` checkpoints (what the service does in the background after each
run): the storage it ends with (SQLite: the file; PostgreSQL: the three checkpoint tables
with their indexes and TOAST), the checkpoint data left, the cycle time at turn 10 and at
turn T, and the prune time per turn.

    .venv/bin/python bench/growth.py [--quick] [--turns 10,100,500] [--retention-only] [--keep 10]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

import psycopg
from _common import DEFAULT_PG, build_raw, machine, our_graph, save, send_email, table
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.channels.delta import DeltaChannel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import _messages_delta_reducer
from langgraph.types import Command
from raw_graph import ScriptedChatModel, email_assistant_script

from langgraph_ollama_local import ApprovalPolicy
from langgraph_ollama_local.agent.nodes import (
    GatedToolExecutor,
    after_tools,
    make_agent_node,
    should_continue,
)
from langgraph_ollama_local.store import open_checkpointer
from langgraph_ollama_local.store.retention import checkpoint_usage, prune_threads, vacuum


class DeltaState(TypedDict):
    messages: Annotated[list[AnyMessage], DeltaChannel(_messages_delta_reducer)]


def our_delta_graph(checkpointer: Any) -> Any:
    """build_workflow's layout (agent ⇄ gated tools) over a DeltaChannel state."""
    executor = GatedToolExecutor([send_email], ApprovalPolicy.require_approval_for("send_email"))
    workflow = StateGraph(DeltaState)
    workflow.add_node("agent", make_agent_node(ScriptedChatModel(script=email_assistant_script), [send_email], None))
    workflow.add_node("tools", executor.as_runnable("tools"))
    workflow.add_edge(START, "agent")
    # untyped wrappers: the src routers are annotated with AgentState (add_messages channel)
    workflow.add_conditional_edges("agent", lambda s: should_continue(s), {"tools": "tools", "end": END})
    workflow.add_conditional_edges("tools", lambda s: after_tools(s), {"agent": "agent", "end": END})
    return workflow.compile(checkpointer=checkpointer)


VARIANTS: dict[str, tuple[Callable[[Any], Any], bool, dict[str, Any]]] = {
    # name: (graph factory, resume keyed by interrupt id, invoke kwargs)
    "ours": (our_graph, True, {}),
    "raw": (lambda saver: build_raw().compile(checkpointer=saver), False, {}),
    "raw durability=exit": (lambda saver: build_raw().compile(checkpointer=saver), False, {"durability": "exit"}),
    "raw DeltaChannel": (lambda saver: build_raw(DeltaState).compile(checkpointer=saver), False, {}),
    "ours DeltaChannel (prototype)": (our_delta_graph, True, {}),
}


def added_bytes(db: sqlite3.Connection, marks: dict[str, int]) -> int:
    total = 0
    for name, expr in (("checkpoints", "LENGTH(checkpoint) + LENGTH(metadata)"), ("writes", "LENGTH(value)")):
        row = db.execute(f"SELECT COALESCE(SUM({expr}), 0), COALESCE(MAX(rowid), 0) FROM {name} WHERE rowid > ?", (marks[name],)).fetchone()
        total += int(row[0])
        marks[name] = max(marks[name], int(row[1]))
    return total


def run_variant(name: str, turns: int, checkpoints_at: list[int], tmp: Path) -> dict[str, Any]:
    factory, keyed, kwargs = VARIANTS[name]
    path = tmp / f"growth-{abs(hash(name))}.sqlite"
    config = {"configurable": {"thread_id": "long-conversation"}}
    per_turn_s: list[float] = []
    per_turn_bytes: list[int] = []
    with open_checkpointer(f"sqlite:///{path}") as saver:
        graph = factory(saver)
        db = sqlite3.connect(path)
        marks = {"checkpoints": 0, "writes": 0}
        for turn in range(1, turns + 1):
            started = time.perf_counter()
            graph.invoke({"messages": [HumanMessage(f"Send email to user{turn}@example.com")]}, config, **kwargs)
            (pending,) = graph.get_state(config).interrupts
            resume = {pending.id: {"type": "approve"}} if keyed else {"type": "approve"}
            graph.invoke(Command(resume=resume), config, **kwargs)
            per_turn_s.append(time.perf_counter() - started)
            per_turn_bytes.append(added_bytes(db, marks))
        final = graph.get_state(config).values["messages"]
        assert len(final) == 4 * turns and isinstance(final[-1], AIMessage), (name, len(final))
        db.close()
    size = path.stat().st_size
    path.unlink()
    out: dict[str, Any] = {"db_bytes": size, "at": {}}
    for n in checkpoints_at:
        # the (up to) 25 turns ending at turn n: 25 turns = 100 message updates = one
        # DeltaChannel snapshot period, so the mean is the amortized cost, the median the typical turn
        window = slice(max(0, n - 25), n)
        out["at"][str(n)] = {
            "cycle_ms": statistics.median(per_turn_s[window]) * 1000,
            "bytes_per_turn": statistics.mean(per_turn_bytes[window]),
            "median_bytes_per_turn": statistics.median(per_turn_bytes[window]),
        }
    out["per_turn_bytes"] = per_turn_bytes
    out["per_turn_ms"] = [s * 1000 for s in per_turn_s]
    return out


def _storage_bytes(backend: str, path: Path, saver: Any) -> int:
    if backend == "sqlite":
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))  # with -wal, -shm
    usage = checkpoint_usage(saver, keep=1)
    assert usage is not None and usage.disk_bytes is not None
    return usage.disk_bytes


def run_retention(backend: str, turns: int, keep: int | None, at: list[int], tmp: Path) -> dict[str, Any]:
    """One "ours" thread of `turns` turns; pruned to `keep` after every turn unless None."""
    path = tmp / f"retention-{backend}-{keep}.sqlite"
    pg_name = f"hitl_growth_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        url = f"sqlite:///{path}"
    else:
        with psycopg.connect(DEFAULT_PG, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        url = DEFAULT_PG.rsplit("/", 1)[0] + f"/{pg_name}"
    thread = "long-conversation"
    config = {"configurable": {"thread_id": thread}}
    cycle_ms: list[float] = []
    prune_ms: list[float] = []
    try:
        with open_checkpointer(url) as saver:
            graph = our_graph(saver)
            for turn in range(1, turns + 1):
                started = time.perf_counter()
                graph.invoke({"messages": [HumanMessage(f"Send email to user{turn}@example.com")]}, config)
                (pending,) = graph.get_state(config).interrupts
                graph.invoke(Command(resume={pending.id: {"type": "approve"}}), config)
                cycle_ms.append((time.perf_counter() - started) * 1000)
                if keep is not None:
                    started = time.perf_counter()
                    prune_threads(saver, [thread], keep)
                    prune_ms.append((time.perf_counter() - started) * 1000)
                    if backend == "postgres" and turn % 25 == 0:
                        vacuum(saver)  # what autovacuum does (it is off on the bench's server)
            final = graph.get_state(config).values["messages"]
            assert len(final) == 4 * turns and isinstance(final[-1], AIMessage), (backend, keep, len(final))
            usage = checkpoint_usage(saver, keep=keep or 1)
            assert usage is not None
            storage = _storage_bytes(backend, path, saver)
    finally:
        if backend == "postgres":
            with psycopg.connect(DEFAULT_PG, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
    out: dict[str, Any] = {
        "storage_bytes": storage,
        "checkpoint_data_bytes": usage.data_bytes,
        "checkpoints": usage.checkpoints,
        "at": {},
    }
    for n in at:
        window = slice(max(0, n - 25), n)
        out["at"][str(n)] = {
            "cycle_ms": statistics.median(cycle_ms[window]),
            "prune_ms": statistics.median(prune_ms[window]) if prune_ms else None,
        }
    return out


CASES: list[str] = []  # --retention-cases: only these (e.g. "postgres pruned, keep 10")


def retention_section(at: list[int], keep: int, tmp: Path) -> tuple[dict[str, Any], str]:
    results: dict[str, Any] = {}
    rows = []
    first, last = str(at[0]), str(at[-1])
    for backend in ("sqlite", "postgres"):
        for label, depth in (("no pruning", None), (f"pruned, keep {keep}", keep)):
            if CASES and f"{backend} {label}" not in CASES:
                continue
            started = time.perf_counter()
            res = run_retention(backend, max(at), depth, at, tmp)
            print(f"  {backend} {label}: {max(at)} turns in {time.perf_counter() - started:.0f} s", flush=True)
            results[f"{backend} {label}"] = res
            c0, c1 = res["at"][first]["cycle_ms"], res["at"][last]["cycle_ms"]
            rows.append([
                backend, label, res["storage_bytes"] / 1e6, res["checkpoint_data_bytes"] / 1e6,
                res["checkpoints"], c0, c1, c1 / c0, res["at"][last]["prune_ms"],
            ])  # fmt: skip
    text = table(
        ["backend", "retention", f"storage MB at turn {last}", "checkpoint data MB", "checkpoints",
         f"cycle ms turn {first}", f"cycle ms turn {last}", f"turn {last} / turn {first}", f"prune ms turn {last}"],
        rows,
    )  # fmt: skip
    return results, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--turns", default=None, help="comma-separated, e.g. 10,100,500")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--keep", type=int, default=10, help="checkpoints kept per thread when pruning")
    parser.add_argument("--retention-only", action="store_true", help="only the retention section")
    parser.add_argument("--no-retention", action="store_true", help="skip the retention section")
    parser.add_argument("--retention-cases", default="", help="';'-separated, e.g. 'postgres pruned, keep 10'")
    args = parser.parse_args()
    CASES.extend(c for c in args.retention_cases.split(";") if c)
    at = [int(t) for t in (args.turns or ("10,50" if args.quick else "10,100,500")).split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="hitl-growth-"))
    result: dict[str, Any] = {"machine": machine(), "turns": at, "variants": {}}
    retention_text = ""
    if not args.no_retention:
        result["retention"], retention_text = retention_section(at, args.keep, tmp)
        result["retention_keep"] = args.keep
    rows = []
    for name in [] if args.retention_only else args.variants.split(","):
        started = time.perf_counter()
        res = run_variant(name, max(at), at, tmp)
        result["variants"][name] = res
        print(f"  {name}: {max(at)} turns in {time.perf_counter() - started:.0f} s", flush=True)
        first = res["at"][str(at[0])]["bytes_per_turn"]
        for n in at:
            r = res["at"][str(n)]
            rows.append([name, n, r["cycle_ms"], r["median_bytes_per_turn"], r["bytes_per_turn"], r["bytes_per_turn"] / first])
        rows.append([name, "db file", None, None, res["db_bytes"], None])
    if rows:
        print("\nGrowth with conversation length (SQLite checkpointer; over the up-to-25 turns ending at turn N)")
        print(table(["variant", "turn", "median cycle ms", "median bytes/turn", "mean bytes/turn", f"mean vs turn {at[0]}"], rows))
    if retention_text:
        print(f"\nRetention: one thread of {max(at)} turns, pruned after every turn or not (median of the up-to-25 turns ending at turn N)")
        print(retention_text)
    save("growth-retention" if args.retention_only else "growth", result)


if __name__ == "__main__":
    main()
