"""Authorization from the approval policy: pure checks that return a reason to refuse.

Each check returns `None` when allowed, or a `Denied` whose message tells the person
what rule refused them and what would let the action through. Roles are exact strings;
`admin` does not imply the approver roles of stages (give an admin those roles
explicitly), so separation of duties cannot be sidestepped by being an administrator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest
from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.auth.identity import Principal

DEFAULT_DECIDER_ROLE = "approver"


@dataclass(frozen=True)
class Denied:
    """Why an authenticated principal may not do this (HTTP 403)."""

    reason: str
    rule: str


def can_start_runs(principal: Principal, rules: AccessRules) -> Denied | None:
    if not rules.start_roles or principal.roles & set(rules.start_roles):
        return None
    return Denied(
        f"{principal.user} may not start runs: the policy allows roles {list(rules.start_roles)} "
        f"and you have {sorted(principal.roles)}",
        rule="access.start_roles",
    )


def can_read_full_audit(principal: Principal, rules: AccessRules) -> Denied | None:
    if principal.has_role(rules.admin_role):
        return None
    return Denied(
        f"only the {rules.admin_role!r} role reads the whole audit log; ask for one thread's "
        "trail with ?thread_id=…",
        rule="access.admin_role",
    )


def can_edit_state(principal: Principal, rules: AccessRules) -> Denied | None:
    if principal.roles & set(rules.state_edit_roles):
        return None
    return Denied(
        f"editing a thread's state needs one of the roles {list(rules.state_edit_roles)}",
        rule="access.state_edit_roles",
    )


def can_decide(principal: Principal, request: ApprovalRequest, rules: AccessRules) -> Denied | None:
    """Role of the stage, requester ≠ decider, and one person per stage of one call."""
    is_requester = request.requested_by is not None and request.requested_by == principal.user
    if request.kind == "question":
        # The agent asks the human it is working for; approvers may answer too.
        if is_requester or principal.has_role(request.required_role or DEFAULT_DECIDER_ROLE):
            return None
        return Denied(
            f"this question is for {request.requested_by or 'the requester'} or the "
            f"{request.required_role or DEFAULT_DECIDER_ROLE!r} role",
            rule="question",
        )
    role = request.required_role or DEFAULT_DECIDER_ROLE
    if not principal.has_role(role):
        stage = f"stage {request.stage!r} of " if request.stage else ""
        return Denied(
            f"{stage}this request needs the {role!r} role; {principal.user} has {sorted(principal.roles)}",
            rule="stage.role",
        )
    if is_requester and not rules.self_approval:
        return Denied(
            f"{principal.user} started this run and cannot decide their own request: "
            "another person with the role must (policy access.self_approval is false)",
            rule="access.self_approval",
        )
    earlier = _earlier_deciders(request.payload)
    if principal.user in earlier:
        return Denied(
            f"{principal.user} already approved an earlier stage of this call; stage "
            f"{request.stage!r} needs a different person",
            rule="stages.distinct_people",
        )
    return None


def decision_refusal(
    principal: Principal, request: ApprovalRequest, rules: AccessRules, now: datetime
) -> Denied | None:
    """Why a decision by `principal` on `request` at `now` would be refused, or None.

    The inbox shows this instead of buttons that would fail: the decision path refuses a
    decided request (409), one past its deadline (the store's `enforce_deadline`, then the
    deadline's policy applies) and whatever `can_decide` refuses (403), in that order.
    """
    if not request.is_pending:
        by = f" by {request.decided_by}" if request.decided_by else ""
        return Denied(f"this request is already {request.status}{by}", rule="status")
    if request.deadline is not None and request.deadline <= now:
        outcome = (
            f"escalated to the {request.escalate_to!r} role"
            if request.on_timeout == "escalate"
            else "approved"
            if request.on_timeout == "approve"
            else "rejected"
        )
        return Denied(f"the deadline has passed: the request is being {outcome} by policy", rule="deadline")
    return can_decide(principal, request, rules)


def _earlier_deciders(payload: Any) -> set[str]:
    """Who the gate bars from this stage (`hitl.barred_actors`: earlier approvers of this
    version of the call, and its editors); older payloads: everyone in the trail."""
    hitl = payload.get("hitl") if isinstance(payload, Mapping) else None
    barred = hitl.get("barred_actors") if isinstance(hitl, Mapping) else None
    if isinstance(barred, list):
        return {str(actor) for actor in barred}
    prior = hitl.get("prior_decisions") if isinstance(hitl, Mapping) else None
    if not isinstance(prior, list):
        return set()
    return {str(p["actor"]) for p in prior if isinstance(p, Mapping) and p.get("actor")}
