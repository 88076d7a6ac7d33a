"""Checkpoint retention on real SQLite and PostgreSQL savers (store/retention.py).

A real approval agent (scripted model) writes a long thread; pruning must leave the
thread exactly as usable as before — state, a pending interrupt that then resumes,
history within the kept depth — while deleting the older checkpoints and their data.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langgraph.types import Command

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent
from langgraph_ollama_local.store import open_async_checkpointer, open_checkpointer
from langgraph_ollama_local.store.retention import (
    aprune_threads,
    checkpoint_usage,
    prune_threads,
    threads_to_prune,
)
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script

SENT: list[str] = []


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email."""
    SENT.append(to)
    return f"sent to {to}"


def agent(saver: Any) -> Any:
    return create_approval_agent(
        ScriptedChatModel(script=email_assistant_script),
        [send_email],
        policy=ApprovalPolicy.require_approval_for("send_email"),
        checkpointer=saver,
        system_prompt=None,
    )


def turn(graph: Any, config: Any, n: int, *, approve: bool = True) -> None:
    graph.invoke({"messages": [HumanMessage(f"Email user{n}@example.com")]}, config)
    if approve:
        (pending,) = graph.get_state(config).interrupts
        graph.invoke(Command(resume={pending.id: {"type": "approve"}}), config)


def count(saver: Any, thread: str) -> int:
    return sum(1 for _ in saver.list({"configurable": {"thread_id": thread}}))


def test_prune_keeps_depth_and_a_pending_interrupt_resumes(store_url: str) -> None:
    thread, other = f"long-{uuid.uuid4().hex[:8]}", f"short-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread}}
    with open_checkpointer(store_url) as saver:
        graph = agent(saver)
        for n in range(5):
            turn(graph, config, n)
        turn(graph, config, 99, approve=False)  # paused on its approval
        turn(graph, {"configurable": {"thread_id": other}}, 0, approve=False)
        before = graph.get_state(config)
        total = count(saver, thread)
        assert total > 12 and before.interrupts

        usage = checkpoint_usage(saver, keep=4)
        assert usage is not None and usage.checkpoints == total + count(saver, other)
        assert usage.prunable_checkpoints == total - 4 + max(0, count(saver, other) - 4)
        assert 0 < usage.prunable_bytes < usage.data_bytes
        assert thread in threads_to_prune(saver, keep=4)

        report = prune_threads(saver, [thread], keep=4)
        assert report.pruned == [thread] and not report.refused
        assert count(saver, thread) == 4
        after = graph.get_state(config)
        assert after.values == before.values and after.next == before.next
        assert [i.id for i in after.interrupts] == [i.id for i in before.interrupts]
        history = list(graph.get_state_history(config))
        assert len(history) == 4 and history[0].values == before.values
        assert history[-1].parent_config is None  # no pointer to a deleted checkpoint
        assert checkpoint_usage(saver, keep=4, thread_ids=[thread]).prunable_checkpoints == 0  # type: ignore[union-attr]
        assert count(saver, other) > 1  # other threads untouched

        # the pending interrupt resumes after the prune, and the thread goes on
        SENT.clear()
        (pending,) = after.interrupts
        graph.invoke(Command(resume={pending.id: {"type": "approve"}}), config)
        assert SENT == ["user99@example.com"]
        final = graph.get_state(config)
        assert len(final.values["messages"]) == len(before.values["messages"]) + 2
        assert not final.interrupts

        # keep=1 (LangGraph's own keep_latest on PostgreSQL) leaves only the state
        prune_threads(saver, [thread], keep=1)
        assert count(saver, thread) == 1
        assert graph.get_state(config).values == final.values
        turn(graph, config, 100)
        assert len(graph.get_state(config).values["messages"]) == len(final.values["messages"]) + 4


@pytest.mark.asyncio
async def test_async_prune_matches_and_is_idempotent(store_url: str) -> None:
    thread = f"async-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread}}
    async with open_async_checkpointer(store_url) as saver:
        graph = agent(saver)
        for n in range(3):
            await graph.ainvoke({"messages": [HumanMessage(f"Email a{n}@example.com")]}, config)
            (pending,) = (await graph.aget_state(config)).interrupts
            await graph.ainvoke(Command(resume={pending.id: {"type": "approve"}}), config)
        before = await graph.aget_state(config)
        assert (await aprune_threads(saver, [thread], keep=3)).pruned == [thread]
        assert (await aprune_threads(saver, [thread], keep=3)).pruned == [thread]  # again: nothing to do
        assert len([s async for s in graph.aget_state_history(config)]) == 3
        assert (await graph.aget_state(config)).values == before.values
        await aprune_threads(saver, [thread], keep=1)
        assert len([c async for c in saver.alist(config)]) == 1
        assert (await graph.aget_state(config)).values == before.values
