"""What LangGraph's clients send to answer an interrupt, as one answer per inbox item.

Pure (no I/O): the route hands each answer to `ServiceRuntime.decide`, the same path as
`POST /approvals/{id}/decision`. Shapes understood:

- a bare value (one interrupt pending) or `{interrupt_id: value, …}`;
- our decisions `{"type": "approve" | "edit" | "reject" | "respond", …}`;
- LangChain HITL `{"decisions": [...]}` (agent-chat-ui), one decision per action;
- Agent Inbox `[{"type": "accept" | "edit" | "response" | "ignore", "args": …}]`.

Anything that matches no pending item, or leaves an item of a named interrupt without an
answer, is refused before anything is stored (fail closed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest

AGENT_INBOX_TYPES = ("accept", "edit", "response", "ignore")
IGNORED = "ignored from the client"


class ResumeError(ValueError):
    """The resume value does not answer the pending interrupts (HTTP 422); nothing was stored."""


def answers_for(resume: Any, pending: Sequence[ApprovalRequest]) -> list[tuple[ApprovalRequest, Any]]:
    """Pair every item of each answered interrupt with its answer."""
    by_interrupt: dict[str, list[ApprovalRequest]] = {}
    for item in sorted(pending, key=lambda i: (i.created_at, i.action_index)):
        by_interrupt.setdefault(item.interrupt_id or item.id, []).append(item)
    if not by_interrupt:
        raise ResumeError("the thread waits for no answer")
    if isinstance(resume, Mapping) and resume and set(map(str, resume)) <= set(by_interrupt):
        chosen = {str(k): v for k, v in resume.items()}
    elif len(by_interrupt) == 1:
        chosen = {next(iter(by_interrupt)): resume}
    else:
        raise ResumeError(
            f"{len(by_interrupt)} interrupts are pending ({sorted(by_interrupt)}): resume with "
            "{interrupt_id: value, …}"
        )
    out: list[tuple[ApprovalRequest, Any]] = []
    for interrupt_id, value in chosen.items():
        out.extend(_answers_for_interrupt(value, by_interrupt[interrupt_id]))
    return out


def ignore_answers(pending: Sequence[ApprovalRequest]) -> list[tuple[ApprovalRequest, Any]]:
    """Agent Inbox's ignore (`update_state(values=None, as_node="__end__")`): nothing runs."""
    return [(item, _ignore(item)) for item in pending]


def _answers_for_interrupt(value: Any, items: list[ApprovalRequest]) -> list[tuple[ApprovalRequest, Any]]:
    if _is_agent_inbox(value):
        responses = list(value)
        if len(items) == 1 and len(responses) == 1:
            return [(items[0], _from_agent_inbox(responses[0], items[0]))]
        if len(responses) != len(items):
            raise ResumeError(
                f"{len(responses)} Agent Inbox responses for {len(items)} pending actions: send one each"
            )
        return [(item, _from_agent_inbox(r, item)) for item, r in zip(items, responses, strict=True)]
    if len(items) > 1:
        decisions = value.get("decisions") if isinstance(value, Mapping) else None
        if not isinstance(decisions, list) or len(decisions) != len(items):
            raise ResumeError(
                f"this interrupt has {len(items)} actions: resume with "
                f'{{"decisions": [...]}} holding {len(items)} decisions, in the order of action_requests'
            )
        return [(item, d) for item, d in zip(items, decisions, strict=True)]
    item = items[0]
    if item.kind == "breakpoint":
        return [(item, _breakpoint_answer(value))]
    return [(item, value)]


def _is_agent_inbox(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, Mapping) and v.get("type") in AGENT_INBOX_TYPES for v in value)
    )


def _from_agent_inbox(response: Mapping[str, Any], item: ApprovalRequest) -> Any:
    kind, args = response.get("type"), response.get("args")
    if item.kind == "breakpoint":
        return {"type": "cancel" if kind == "ignore" else "continue"}
    if kind == "ignore":
        return _ignore(item)
    if item.kind == "question":
        return args if kind == "response" else (args if args is not None else True)
    if kind == "accept":
        return {"type": "approve"}
    if kind == "response":
        if not isinstance(args, str):
            raise ResumeError("an Agent Inbox 'response' carries its text in 'args'")
        return {"type": "respond", "message": args}
    # edit: {"action": name, "args": {...}} (Agent Inbox's ActionRequest)
    edited = args.get("args") if isinstance(args, Mapping) and "args" in args else args
    name = args.get("action") if isinstance(args, Mapping) else None
    action: dict[str, Any] = {"args": edited}
    if name:
        action["name"] = name
    return {"type": "edit", "edited_action": action}


def _ignore(item: ApprovalRequest) -> Any:
    if item.kind == "breakpoint":
        return {"type": "cancel"}
    if item.kind == "question":
        return None
    return {"type": "reject", "message": IGNORED}


def _breakpoint_answer(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping) and value.get("type") in ("cancel", "reject", "ignore"):
        return {"type": "cancel"}
    return {"type": "continue"}
