"""A tiny LangGraph graph that pauses on `interrupt()`, run one step per process.

`python restart_graph.py URL THREAD STEP MODE` opens the checkpointer for URL (MODE
`sync` or `async`), runs STEP (`start`, `resume` or `status`) on THREAD and prints the
thread's state as one JSON line. Tests run each step in a fresh interpreter, so a
paused thread must come back from storage, not from memory.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
import sys
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt

from langgraph_ollama_local.store import open_async_checkpointer, open_checkpointer


class State(TypedDict, total=False):
    request: str
    decision: str
    log: Annotated[list[str], operator.add]


def ask(state: State) -> dict[str, Any]:
    decision = interrupt({"question": f"approve {state['request']}?"})
    return {"decision": decision, "log": [f"asked in pid {os.getpid()}"]}


def act(state: State) -> dict[str, Any]:
    return {"log": [f"{state['request']} -> {state['decision']} in pid {os.getpid()}"]}


def build(saver: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any]:
    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_node("act", act)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", "act")
    builder.add_edge("act", END)
    return builder.compile(checkpointer=saver)


def _input(step: str) -> Any:
    if step == "start":
        return {"request": "wire $5", "log": []}
    if step == "resume":
        return Command(resume="approved")
    return None


def _report(state: Any) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "next": list(state.next),
        "interrupts": [i.value for i in state.interrupts],
        "values": state.values,
    }


def run_sync(url: str, thread: str, step: str) -> dict[str, Any]:
    config: RunnableConfig = {"configurable": {"thread_id": thread}}
    with open_checkpointer(url) as saver:
        graph = build(saver)
        if step != "status":
            graph.invoke(_input(step), config)
        return _report(graph.get_state(config))


async def run_async(url: str, thread: str, step: str) -> dict[str, Any]:
    config: RunnableConfig = {"configurable": {"thread_id": thread}}
    async with open_async_checkpointer(url) as saver:
        graph = build(saver)
        if step != "status":
            await graph.ainvoke(_input(step), config)
        return _report(await graph.aget_state(config))


if __name__ == "__main__":
    url, thread, step, mode = sys.argv[1:5]
    result = run_sync(url, thread, step) if mode == "sync" else asyncio.run(run_async(url, thread, step))
    print(json.dumps(result))
