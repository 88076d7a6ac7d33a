"""The one line a card shows first (approvals/summary.py)."""

from __future__ import annotations

from langgraph_ollama_local.agent import default_tools
from langgraph_ollama_local.approvals.summary import MAX_SUMMARY, SUMMARY_METADATA, summarize
from langgraph_ollama_local.config import LocalAgentConfig


def test_send_email_supplies_its_own_line():
    send_email = default_tools(LocalAgentConfig())[0]
    template = (send_email.metadata or {})[SUMMARY_METADATA]
    args = {"to": "partner@example.com", "subject": "Agenda", "body": "See you\nat ten"}
    assert summarize("send_email", args, template) == 'Email to partner@example.com — "Agenda"'


def test_generic_line_for_any_other_tool_is_one_trimmed_line():
    assert summarize("delete_file", {"path": "/tmp/x", "force": True}) == "delete_file(path=/tmp/x, force=True)"
    line = summarize("post", {"text": "line one\nline two " + "x" * 500, "n": [1, 2]})
    assert "\n" not in line and len(line) <= MAX_SUMMARY and line.startswith("post(text=line one line two x")
    assert "…" in line


def test_a_broken_summariser_falls_back_instead_of_failing():
    def boom(args):
        raise RuntimeError("bug in a tool's summariser")

    assert summarize("t", {"a": 1}, boom) == "t(a=1)"
    assert summarize("t", {"a": 1}, lambda args: f"A is {args['a']}\nforged line") == "A is 1 forged line"
    # a template may only name arguments: no attribute access, no missing names
    assert summarize("t", {"a": 1}, "{a.__class__}") == "t(a=1)"
    assert summarize("t", {"a": 1}, "{b}") == "t(a=1)"
