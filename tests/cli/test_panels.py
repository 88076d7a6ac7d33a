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


def rendered(args: dict, said: str, width: int = 120) -> str:
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
    console = Console(record=True, width=width)
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


def test_long_values_wrap_inside_the_panel_and_nothing_is_cut():
    url = "https://example.com/" + "x" * 150 + "/END"
    body = "word " * 40 + "LAST"
    text = rendered({"to": "bob@example.com", "body": body, "link": url}, "mail bob@example.com", width=60)
    assert all(len(line) <= 60 for line in text.splitlines())
    inside = "".join(line.strip("│ ") for line in text.splitlines())  # the panel's lines, borders off
    assert "LAST" in inside and "/END" in inside
    assert url.replace("/", "") in inside.replace("/", "").replace(" ", "")  # folded, not cut


def test_the_edit_diff_shows_old_and_new_of_what_changed_only():
    from langgraph_ollama_local.cli.panels import edit_diff_panel

    console = Console(record=True, width=60)
    long_body = "line " * 30 + "TAIL"
    console.print(edit_diff_panel("send_email", {"to": "a@x.com", "subject": "Hi", "body": "old"},
                                  {"to": "b@x.com", "subject": "Hi", "body": long_body}))  # fmt: skip
    text = console.export_text()
    assert "- a@x.com" in text and "+ b@x.com" in text and "- old" in text
    assert "unchanged: subject" in text and "TAIL" in text
    assert all(len(line) <= 60 for line in text.splitlines())
