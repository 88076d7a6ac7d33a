"""The resume shapes of LangGraph's clients, as one answer per inbox item (pure, no server)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest
from langgraph_ollama_local.server.langgraph_api.resume import ResumeError, answers_for, ignore_answers

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def item(interrupt: str, kind: str = "tool_approval", index: int = 0) -> ApprovalRequest:
    return ApprovalRequest(id=f"{interrupt}-{index}", thread_id="t", interrupt_id=interrupt, kind=kind,  # type: ignore[arg-type]
                           status="pending", created_at=NOW, tool="send_email", action_index=index)


def test_bare_value_and_keyed_by_interrupt():
    one = [item("i1")]
    assert answers_for({"type": "approve"}, one) == [(one[0], {"type": "approve"})]
    assert answers_for({"i1": {"type": "approve"}}, one) == [(one[0], {"type": "approve"})]
    two = [item("i1"), item("i2")]
    assert answers_for({"i2": "no"}, two) == [(two[1], "no")]
    with pytest.raises(ResumeError, match="2 interrupts are pending"):
        answers_for({"type": "approve"}, two)
    with pytest.raises(ResumeError, match="waits for no answer"):
        answers_for({"type": "approve"}, [])


def test_langchain_decisions_map_to_actions_by_position():
    batch = [item("i1", "batched_action", 1), item("i1", "batched_action", 0)]
    pairs = answers_for({"decisions": [{"type": "approve"}, {"type": "reject", "message": "no"}]}, batch)
    assert [(p.action_index, a["type"]) for p, a in pairs] == [(0, "approve"), (1, "reject")]
    with pytest.raises(ResumeError, match="2 actions"):
        answers_for({"decisions": [{"type": "approve"}]}, batch)
    with pytest.raises(ResumeError, match="2 actions"):
        answers_for({"type": "approve"}, batch)  # one answer for two actions is never guessed


def test_agent_inbox_responses():
    one = [item("i1")]
    (_, accept), = answers_for([{"type": "accept", "args": None}], one)
    (_, edit), = answers_for([{"type": "edit", "args": {"action": "send_email", "args": {"to": "x@example.com"}}}], one)
    (_, respond), = answers_for([{"type": "response", "args": "not now"}], one)
    (_, ignore), = answers_for([{"type": "ignore", "args": None}], one)
    assert accept == {"type": "approve"}
    assert edit == {"type": "edit", "edited_action": {"name": "send_email", "args": {"to": "x@example.com"}}}
    assert respond == {"type": "respond", "message": "not now"}
    assert ignore["type"] == "reject"
    with pytest.raises(ResumeError, match="carries its text"):
        answers_for([{"type": "response", "args": {"x": 1}}], one)
    question = [item("q", "question")]
    assert answers_for([{"type": "response", "args": "yes"}], question) == [(question[0], "yes")]


def test_breakpoints_continue_or_cancel():
    bp = [item("breakpoint:r1", "breakpoint")]
    assert answers_for(None, bp) == [(bp[0], {"type": "continue"})]
    assert answers_for([{"type": "ignore", "args": None}], bp) == [(bp[0], {"type": "cancel"})]
    assert ignore_answers(bp) == [(bp[0], {"type": "cancel"})]
    assert ignore_answers([item("i1")])[0][1]["type"] == "reject"
