"""The terminal's approval panel shows where the arguments came from, and the flags."""

from __future__ import annotations

from datetime import UTC, datetime

from langchain_core.messages import HumanMessage
from rich.console import Console

from langgraph_ollama_local.approvals.policy import ApprovalPolicy
from langgraph_ollama_local.approvals.provenance import trace_arguments
from langgraph_ollama_local.approvals.requests import StageTicket, approval_payload, read_interrupt
from langgraph_ollama_local.cli.panels import approval_panel
from langgraph_ollama_local.runtime.local import PendingItem


def rendered(args: dict, said: str) -> str:
    policy = ApprovalPolicy.require_approval_for("send_email")
    verdict = policy.classify("send_email", args)
    provenance = trace_arguments(args, [HumanMessage(said)], key_args=["to"], on_ungrounded="flag")
    payload = approval_payload(
        tool_call_id="c1", name="send_email", args=args, verdict=verdict,
        ticket=StageTicket(0, 1, verdict.stages[0], None, 0), call_index=0, call_count=1,
        provenance=provenance.payload(),
    )
    view = read_interrupt(payload)
    item = PendingItem("t", "approval", "i1", view, ("tools",), datetime.now(UTC), None)
    console = Console(record=True, width=120)
    console.print(approval_panel(view.actions[0], item))
    return console.export_text()


def test_an_invented_recipient_is_flagged_in_the_panel():
    text = rendered({"to": "x@invented.example", "subject": "Hi", "body": "Hello"}, "Good morning!")
    assert "⚠ to: x@invented.example appears nowhere in the conversation (written by the model)" in text
    assert "to, subject, body written by the model" in text


def test_a_recipient_the_user_wrote_is_shown_as_the_users_without_a_flag():
    text = rendered({"to": "bob@example.com", "subject": "Hi", "body": "Hello"}, "email bob@example.com")
    assert "⚠" not in text
    assert "to from the user · subject, body written by the model" in text
