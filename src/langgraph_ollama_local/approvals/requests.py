"""Interrupt payloads: the ones our gate raises, and reading anyone's.

Our gate raises one interrupt per gated call and stage. Its value is a superset of
LangChain's per-call `ToolApprovalRequest` (`type: "tool_approval"`, `tool_call_id`,
`name`, `args`, `description`) and of its batched `HITLRequest` with one action
(`action_requests`, `review_configs`), so clients written for either read it; our own
fields (stage, role, deadline policy, digest) live under `hitl`.

`read_interrupt` classifies any graph's interrupt value — ours, LangChain's per-call or
batched payloads, or a free-form question — so the CLI and the service can present and
answer interrupts from graphs they did not build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph_ollama_local.approvals.digest import call_digest
from langgraph_ollama_local.approvals.policy import DecisionType, Stage, Verdict
from langgraph_ollama_local.approvals.summary import summarize

PAYLOAD_VERSION = 1


@dataclass(frozen=True)
class StageTicket:
    """Where a call is in its review: which stage, asked of which role."""

    index: int
    count: int
    stage: Stage
    role: str
    escalation_level: int = 0

    @property
    def timeout_seconds(self) -> float | None:
        if self.escalation_level:
            return self.stage.escalation_timeout_seconds or self.stage.timeout_seconds
        return self.stage.timeout_seconds

    @property
    def on_timeout(self) -> str:
        # An escalated stage that times out again is rejected: it never auto-approves twice.
        return "reject" if self.escalation_level else self.stage.on_timeout

    @property
    def escalate_to(self) -> str | None:
        return None if self.escalation_level else self.stage.escalate_to


def approval_payload(
    *,
    tool_call_id: str,
    name: str,
    args: Mapping[str, Any],
    verdict: Verdict,
    ticket: StageTicket,
    call_index: int,
    call_count: int,
    prior: Sequence[Mapping[str, Any]] = (),
    provenance: Mapping[str, Any] | None = None,
    barred: Sequence[str] = (),
    summary: str | None = None,
    turn_id: str | None = None,
) -> dict[str, Any]:
    """The value our gate passes to `interrupt()` for one call at one stage.

    `turn_id` (the id of the model message that made the call) lets an inbox show the calls
    of one turn together.
    """
    description = verdict.description or f"Approve {name} with args {dict(args)}?"
    if ticket.count > 1:
        description = (
            f"[{ticket.stage.name} approval, stage {ticket.index + 1} of {ticket.count}] {description}"
        )
    allowed: list[DecisionType] = list(verdict.allowed_decisions)
    return {
        "type": "tool_approval",
        "tool_call_id": tool_call_id,
        "name": name,
        "args": dict(args),
        "description": description,
        "message": description,
        "stage": ticket.stage.name,
        "action_requests": [{"name": name, "args": dict(args), "description": description}],
        "review_configs": [{"action_name": name, "allowed_decisions": allowed}],
        "hitl": {
            "version": PAYLOAD_VERSION,
            "digest": call_digest(name, args),
            "rule": verdict.rule_id,
            "stage": {
                "index": ticket.index,
                "count": ticket.count,
                "name": ticket.stage.name,
                "role": ticket.role,
                "escalation_level": ticket.escalation_level,
            },
            "timeout_seconds": ticket.timeout_seconds,
            "on_timeout": ticket.on_timeout,
            "escalate_to": ticket.escalate_to,
            "call_index": call_index,
            "call_count": call_count,
            "turn_id": turn_id,
            "prior_decisions": [dict(p) for p in prior],
            "notes": list(verdict.notes),
            "provenance": dict(provenance) if provenance is not None else None,
            # Who may not decide this stage: approvers of earlier stages of this version of
            # the call, and its editors (the gate's rule; the service checks the same list).
            "barred_actors": sorted(barred),
            # One line a person reads (approvals/summary.py; the tool's own when it has one).
            "summary": summary if summary is not None else summarize(name, args),
        },
    }


InterruptKind = Literal["tool_approval", "batched_approval", "question"]


@dataclass(frozen=True)
class ActionView:
    """One action awaiting a decision, whatever payload shape it came in."""

    name: str
    args: dict[str, Any]
    description: str
    allowed_decisions: tuple[str, ...]
    tool_call_id: str | None = None


@dataclass(frozen=True)
class InterruptView:
    """A pending interrupt, read into a shape the CLI and service can present."""

    kind: InterruptKind
    actions: tuple[ActionView, ...] = ()
    question: str | None = None
    stage: str | None = None
    role: str | None = None
    timeout_seconds: float | None = None
    on_timeout: str | None = None
    escalate_to: str | None = None
    digest: str | None = None
    raw: Any = field(default=None, compare=False)


def read_interrupt(value: Any) -> InterruptView:
    """Classify an interrupt value from any graph."""
    if isinstance(value, Mapping):
        if value.get("type") == "tool_approval" and isinstance(value.get("name"), str):
            return _read_per_call(value)
        requests = value.get("action_requests")
        if isinstance(requests, list) and requests:
            return _read_batched(value, requests)
        for key in ("question", "message", "prompt", "description"):
            if isinstance(value.get(key), str):
                return InterruptView(kind="question", question=value[key], raw=value)
    text = value if isinstance(value, str) else repr(value)
    return InterruptView(kind="question", question=text, raw=value)


def _allowed_from(configs: Any, name: str) -> tuple[str, ...]:
    if isinstance(configs, list):
        for cfg in configs:
            if isinstance(cfg, Mapping) and cfg.get("action_name") == name:
                return tuple(cfg.get("allowed_decisions") or ())
    return ("approve", "edit", "reject")


def _read_per_call(value: Mapping[str, Any]) -> InterruptView:
    hitl = value.get("hitl") if isinstance(value.get("hitl"), Mapping) else {}
    assert isinstance(hitl, Mapping)
    stage = hitl.get("stage") if isinstance(hitl.get("stage"), Mapping) else {}
    assert isinstance(stage, Mapping)
    name = str(value["name"])
    action = ActionView(
        name=name,
        args=dict(value.get("args") or {}),
        description=str(value.get("description") or ""),
        allowed_decisions=_allowed_from(value.get("review_configs"), name),
        tool_call_id=value.get("tool_call_id"),
    )
    return InterruptView(
        kind="tool_approval",
        actions=(action,),
        stage=stage.get("name") or value.get("stage"),
        role=stage.get("role"),
        timeout_seconds=hitl.get("timeout_seconds"),
        on_timeout=hitl.get("on_timeout"),
        escalate_to=hitl.get("escalate_to"),
        digest=hitl.get("digest"),
        raw=value,
    )


def _read_batched(value: Mapping[str, Any], requests: list[Any]) -> InterruptView:
    actions = []
    for item in requests:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            return InterruptView(kind="question", question=repr(value), raw=value)
        name = item["name"]
        actions.append(
            ActionView(
                name=name,
                args=dict(item.get("args") or {}),
                description=str(item.get("description") or ""),
                allowed_decisions=_allowed_from(value.get("review_configs"), name),
            )
        )
    return InterruptView(kind="batched_approval", actions=tuple(actions), raw=value)


def batched_resume(view: InterruptView, decisions: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """Build `{"decisions": [...]}` for a batched payload from decisions keyed by action index.

    Keyed, not positional: every action must be decided explicitly, so a decision can
    never slide onto the wrong action.
    """
    if view.kind != "batched_approval":
        raise ValueError("batched_resume is only for batched approval payloads")
    missing = [i for i in range(len(view.actions)) if i not in decisions]
    extra = sorted(set(decisions) - set(range(len(view.actions))))
    if missing or extra:
        raise ValueError(f"decide every action exactly once: missing {missing}, unknown {extra}")
    return {"decisions": [dict(decisions[i]) for i in range(len(view.actions))]}
