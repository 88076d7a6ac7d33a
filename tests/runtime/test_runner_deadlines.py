"""Approval deadlines: an overdue request is resolved by its policy, never left hanging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from langchain_core.messages import ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_ollama_local import ApprovalPolicy, ApprovalRunner, create_approval_agent
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.agent.test_approval_patterns import Spy


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def runner_for(stage: dict, spy: Spy, clock: Clock) -> ApprovalRunner:
    policy = ApprovalPolicy.from_mapping({"default": "allow", "tools": {"send_email": {"stages": [stage]}}})
    graph = create_approval_agent(
        ScriptedChatModel(script=email_assistant_script), spy.tools(), policy=policy, checkpointer=InMemorySaver()
    )
    return ApprovalRunner(graph, clock=clock)


def test_timeout_rejects_by_default():
    spy, clock = Spy(), Clock()
    runner = runner_for({"name": "manager", "role": "manager", "timeout_seconds": 300}, spy, clock)
    runner.start("t", "Send email to alice@example.com")
    (item,) = runner.pending("t")
    assert item.deadline == clock.now + timedelta(seconds=300)
    clock.advance(299)
    assert runner.expire_overdue("t") == []
    clock.advance(2)
    (action,) = runner.expire_overdue("t")
    assert action.outcome == "reject" and action.decision["actor"] == "system:deadline"
    assert spy.emails == []
    tool_msg = next(m for m in runner.state("t").values["messages"] if isinstance(m, ToolMessage))
    assert "timed out" in tool_msg.content
    assert runner.pending("t") == []


def test_timeout_escalates_to_the_next_group_with_a_new_deadline():
    spy, clock = Spy(), Clock()
    stage = {
        "name": "manager", "role": "manager", "timeout_seconds": 60,
        "on_timeout": "escalate", "escalate_to": "director", "escalation_timeout_seconds": 600,
    }  # fmt: skip
    runner = runner_for(stage, spy, clock)
    runner.start("t", "Send email to alice@example.com")
    first = runner.pending("t")[0]
    assert first.view.role == "manager" and first.view.on_timeout == "escalate"
    clock.advance(61)
    (action,) = runner.expire_overdue("t")
    assert action.outcome == "escalate"
    escalated = runner.pending("t")[0]
    assert escalated.interrupt_id != first.interrupt_id
    assert escalated.view.role == "director" and escalated.view.timeout_seconds == 600
    assert escalated.deadline == clock.now + timedelta(seconds=600)
    assert escalated.view.on_timeout == "reject"  # an escalated stage never escalates forever
    runner.decide("t", escalated.interrupt_id, {"type": "approve", "actor": "dana"})
    assert [e["to"] for e in spy.emails] == ["alice@example.com"]


def test_escalated_request_that_times_out_again_is_rejected():
    spy, clock = Spy(), Clock()
    stage = {"role": "manager", "timeout_seconds": 60, "on_timeout": "escalate", "escalate_to": "director"}
    runner = runner_for(stage, spy, clock)
    runner.start("t", "Send email to alice@example.com")
    clock.advance(61)
    runner.expire_overdue("t")
    clock.advance(61)
    (action,) = runner.expire_overdue("t")
    assert action.outcome == "reject"
    assert spy.emails == []


def test_auto_approve_on_timeout_is_an_explicit_opt_in():
    spy, clock = Spy(), Clock()
    runner = runner_for({"role": "ops", "timeout_seconds": 10, "on_timeout": "approve"}, spy, clock)
    runner.start("t", "Send email to alice@example.com")
    clock.advance(11)
    (action,) = runner.expire_overdue("t")
    assert action.outcome == "approve"
    assert len(spy.emails) == 1


def test_policy_refuses_timeout_outcomes_without_a_timeout():
    from langgraph_ollama_local.approvals import PolicyError

    with pytest.raises(PolicyError, match="needs timeout_seconds"):
        ApprovalPolicy.from_mapping({"tools": {"x": {"stages": [{"on_timeout": "approve"}]}}})
    with pytest.raises(PolicyError, match="needs escalate_to"):
        ApprovalPolicy.from_mapping({"tools": {"x": {"stages": [{"timeout_seconds": 5, "on_timeout": "escalate"}]}}})


def test_static_breakpoint_is_listed_and_continued():
    spy, clock = Spy(), Clock()
    graph = create_approval_agent(
        ScriptedChatModel(script=email_assistant_script),
        spy.tools(),
        policy=ApprovalPolicy.allow_all(),
        checkpointer=InMemorySaver(),
        interrupt_before=["tools"],
    )
    runner = ApprovalRunner(graph, clock=clock)
    runner.start("t", "Send email to alice@example.com")
    (item,) = runner.pending("t")
    assert item.kind == "breakpoint" and item.next_nodes == ("tools",)
    runner.continue_run("t")
    assert runner.pending("t") == [] and len(spy.emails) == 1
    assert runner.last_reply("t").startswith("Done. Email sent")
