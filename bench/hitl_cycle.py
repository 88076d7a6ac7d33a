"""HITL cycle through our library vs raw LangGraph, same model, same checkpointer.

One cycle: a message → the graph pauses before `send_email` → the pending approval is read
→ it is approved with `Command(resume=...)` → the tool runs → the final reply. Both sides
use the same scripted model (a test double: the point is the framework cost, not the LLM)
and the same tool; raw LangGraph is the minimal graph a tutorial reader would write (agent
node, a review node calling `interrupt()`, ToolNode). Sides alternate so noise hits both.

    .venv/bin/python bench/hitl_cycle.py [--cycles 200] [--warmup 20] [--postgres URL]

Prints the median cycle time per checkpointer and the ours/raw ratio (the aim: ≤ 1.3).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, interrupt

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent
from langgraph_ollama_local.store import open_checkpointer
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script

SENT: list[str] = []


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email."""
    SENT.append(to)
    return f"Email sent to {to}"


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def raw_graph(checkpointer: Any) -> Any:
    model = ScriptedChatModel(script=email_assistant_script).bind_tools([send_email])

    def agent(state: State) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def review(state: State) -> dict[str, Any]:
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        answer = interrupt({"tool_calls": last.tool_calls})
        if answer.get("type") != "approve":
            raise RuntimeError("rejected")
        return {}

    def route(state: State) -> str:
        last = state["messages"][-1]
        return "review" if isinstance(last, AIMessage) and last.tool_calls else END

    builder = StateGraph(State)
    builder.add_node("agent", agent)
    builder.add_node("review", review)
    builder.add_node("tools", ToolNode([send_email]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["review", END])
    builder.add_edge("review", "tools")
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer)


def our_graph(checkpointer: Any) -> Any:
    return create_approval_agent(
        ScriptedChatModel(script=email_assistant_script),
        [send_email],
        policy=ApprovalPolicy.require_approval_for("send_email"),
        checkpointer=checkpointer,
        system_prompt=None,
    )


def cycle(graph: Any, keyed: bool) -> None:
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    graph.invoke({"messages": [HumanMessage("Send email to bob@example.com")]}, config)
    (pending,) = graph.get_state(config).interrupts
    resume = {pending.id: {"type": "approve"}} if keyed else {"type": "approve"}
    graph.invoke(Command(resume=resume), config)
    final = graph.get_state(config).values["messages"][-1]
    assert isinstance(final, AIMessage) and final.content.startswith("Done."), final


def measure(
    backends: dict[str, Callable[[], AbstractContextManager[Any]]], cycles: int, warmup: int
) -> Iterator[tuple[str, float, float]]:
    for name, opener in backends.items():
        with opener() as saver:
            ours, raw = our_graph(saver), raw_graph(saver)
            for _ in range(warmup):
                cycle(ours, True)
                cycle(raw, False)
            times: dict[str, list[float]] = {"ours": [], "raw": []}
            for _ in range(cycles):
                for side, graph in (("ours", ours), ("raw", raw)):
                    started = time.perf_counter()
                    cycle(graph, side == "ours")
                    times[side].append(time.perf_counter() - started)
            yield name, statistics.median(times["ours"]), statistics.median(times["raw"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL URL; '' to skip"
    )
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="hitl-bench-")
    backends: dict[str, Callable[[], AbstractContextManager[Any]]] = {
        "memory": lambda: open_checkpointer("memory"),
        "sqlite": lambda: open_checkpointer(f"sqlite:///{tmp}/bench.sqlite"),
    }
    if args.postgres:
        backends["postgres"] = lambda: open_checkpointer(args.postgres)
    print(f"HITL cycle, library, median of {args.cycles} after {args.warmup} warm-up (scripted model)")
    print(f"{'checkpointer':<12} {'ours ms':>9} {'raw ms':>9} {'ours/raw':>9}")
    for name, ours, raw in measure(backends, args.cycles, args.warmup):
        print(f"{name:<12} {ours * 1000:>9.2f} {raw * 1000:>9.2f} {ours / raw:>9.2f}")
    expected = (args.cycles + args.warmup) * 2 * len(backends)
    assert len(SENT) == expected, f"{len(SENT)} emails for {expected} approved cycles"


if __name__ == "__main__":
    main()
