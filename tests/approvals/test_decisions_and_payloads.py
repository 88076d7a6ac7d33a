"""Decisions are normalized then checked strictly; payloads of any graph are readable."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from langgraph_ollama_local.approvals import DecisionError, batched_resume, parse_decision, read_interrupt
from langgraph_ollama_local.approvals.decisions import normalize_answer


class EmailArgs(BaseModel):
    to: str
    subject: str
    body: str


ALL = ("approve", "edit", "reject", "respond")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("approve", {"type": "approve"}),
        ("Yes", {"type": "approve"}),
        ("no", {"type": "reject"}),
        ({"approved": True}, {"type": "approve"}),
        ({"approved": False, "reason": "no"}, {"type": "reject", "message": "no"}),
        ({"decisions": [{"type": "approve"}]}, {"type": "approve"}),
        ({"type": "edit", "args": {"a": 1}}, {"type": "edit", "edited_action": {"args": {"a": 1}}}),
    ],
)
def test_friendly_shapes_normalize(raw, expected):
    assert normalize_answer(raw) == expected


def test_edit_is_checked_against_the_tool_schema():
    good = {"type": "edit", "args": {"to": "a@b.c", "subject": "s", "body": "b"}}
    decision = parse_decision(good, allowed=ALL, tool_name="send_email", args_schema=EmailArgs)
    assert decision.type == "edit" and decision.args == good["args"]
    with pytest.raises(DecisionError, match="subject"):
        parse_decision({"type": "edit", "args": {"to": "x"}}, allowed=ALL, tool_name="send_email", args_schema=EmailArgs)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"approved": "yes"}, "true or false"),
        ({"type": "respond"}, "non-empty"),
        ({"type": "reject", "message": "x" * 10_001}, "longer"),
        ({"type": "approve", "edited_action": {}}, "only goes with"),
        ({"type": "nuke"}, "unknown decision"),
        (42, "must be an object"),
        ({"type": "approve", "actor": 7}, "actor"),
    ],
)
def test_bad_decisions(raw, problem):
    with pytest.raises(DecisionError, match=problem):
        parse_decision(raw, allowed=ALL, tool_name="t")


def test_same_person_cannot_sign_two_stages():
    with pytest.raises(DecisionError, match="another person"):
        parse_decision({"type": "approve", "actor": "ann"}, allowed=ALL, tool_name="t", forbidden_actors={"ann"})
    # ...but may still reject.
    assert parse_decision({"type": "reject", "actor": "ann"}, allowed=ALL, tool_name="t", forbidden_actors={"ann"}).type == "reject"


def test_reads_langchain_batched_payload_and_resumes_by_key():
    value = {
        "action_requests": [
            {"name": "send_email", "args": {"to": "a"}, "description": "first"},
            {"name": "delete_file", "args": {"path": "/x"}, "description": "second"},
        ],
        "review_configs": [
            {"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]},
            {"action_name": "delete_file", "allowed_decisions": ["approve", "reject"]},
        ],
    }
    view = read_interrupt(value)
    assert view.kind == "batched_approval"
    assert [a.name for a in view.actions] == ["send_email", "delete_file"]
    assert view.actions[1].allowed_decisions == ("approve", "reject")
    # Decisions are keyed by action index, so none can land on the wrong action.
    resume = batched_resume(view, {1: {"type": "reject"}, 0: {"type": "approve"}})
    assert resume == {"decisions": [{"type": "approve"}, {"type": "reject"}]}
    with pytest.raises(ValueError, match="missing"):
        batched_resume(view, {0: {"type": "approve"}})


def test_reads_langchain_per_call_payload_and_questions():
    per_call = read_interrupt(
        {"type": "tool_approval", "tool_call_id": "c1", "name": "send_email", "args": {"to": "a"}, "description": "d"}
    )
    assert per_call.kind == "tool_approval" and per_call.actions[0].tool_call_id == "c1"
    assert read_interrupt({"question": "Should I proceed?"}).question == "Should I proceed?"
    assert read_interrupt("free text").kind == "question"
    # The tutorial's ad-hoc shape reads as a question showing its message.
    assert read_interrupt({"stage": "manager", "action": {}, "message": "Manager approval required"}).question == (
        "Manager approval required"
    )


def test_edit_with_unknown_argument_is_refused():
    args = {"to": "a@b.c", "subject": "s", "body": "b", "bcc": "evil@x.com"}
    with pytest.raises(DecisionError, match="unknown argument"):
        parse_decision({"type": "edit", "args": args}, allowed=ALL, tool_name="send_email", args_schema=EmailArgs)
