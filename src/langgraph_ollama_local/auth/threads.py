"""Object-level authorization: who may read and who may write which thread.

A thread holds what people asked the agent and what it proposed to do (email addresses,
amounts), so being signed in is not enough to read it. A thread may be read by:

- its owner: whoever started its first run;
- the people who may decide something pending in it (the role of a pending item; the
  requester of a pending question) and everyone who asked or decided something in it
  (they have seen it already);
- the admin role and the roles the policy names in `access.read_roles` (auditors).

Only its owner (and the admin role) may write to it, i.e. post messages that start runs.
Deciding is not writing: that is `can_decide`, which the runtime checks on every decision.
The `monitor` role reads metrics only. The store computes the same rule in SQL for
listings (`ApprovalStore.readable_by`); the tests hold the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest
from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.auth.authorization import Denied
from langgraph_ollama_local.auth.identity import Principal

DEFAULT_ITEM_ROLE = "approver"  # an item with no required role is for approvers (can_decide)


@dataclass(frozen=True)
class ThreadFacts:
    """What the store knows about a thread that decides who may see it."""

    thread_id: str
    exists: bool
    owner: str | None = None
    pending_roles: frozenset[str] = frozenset()  # roles that may decide an item pending in it
    participants: frozenset[str] = frozenset()  # people who asked or decided something in it


def reads_every_thread(principal: Principal, rules: AccessRules) -> bool:
    return principal.has_role(rules.admin_role) or bool(principal.roles & set(rules.read_roles))


def can_read_thread(principal: Principal, facts: ThreadFacts, rules: AccessRules) -> Denied | None:
    if reads_every_thread(principal, rules):
        return None
    if facts.exists and (
        facts.owner == principal.user
        or principal.user in facts.participants
        or principal.roles & facts.pending_roles
    ):
        return None
    # The same answer whether the thread exists or not: ids of other people's threads leak nothing.
    return Denied(
        f"{principal.user} may not read thread {facts.thread_id!r}: it is not yours and nothing in it "
        f"waits for your roles {sorted(principal.roles)}; its owner, its approvers, the "
        f"{rules.admin_role!r} role and access.read_roles {list(rules.read_roles)} may",
        rule="thread.read",
    )


def can_see_request(
    principal: Principal, request: ApprovalRequest, facts: ThreadFacts, rules: AccessRules
) -> Denied | None:
    """Answering about one request (a decision, and the 409 when it was decided first) is for
    those who may read its thread and for those who could have decided it: the loser of a race
    between two approvers learns who won, a stranger learns nothing."""
    if can_read_thread(principal, facts, rules) is None:
        return None
    if request.kind == "question" and request.requested_by == principal.user:
        return None
    if principal.has_role(request.required_role or DEFAULT_ITEM_ROLE):
        return None
    return can_read_thread(principal, facts, rules)


def can_write_thread(principal: Principal, facts: ThreadFacts, rules: AccessRules) -> Denied | None:
    """Post into a thread: a new thread becomes the poster's; an existing one only its owner's."""
    if not facts.exists or facts.owner is None or facts.owner == principal.user:
        return None
    if principal.has_role(rules.admin_role):
        return None
    return Denied(
        f"thread {facts.thread_id!r} belongs to someone else: {principal.user} may not post into it; "
        "start a conversation under a new thread id",
        rule="thread.write",
    )


def event_thread_id(event: Mapping[str, Any]) -> str | None:
    """The thread a live event is about (run events name it; approval events carry the item)."""
    thread_id = event.get("thread_id")
    approval = event.get("approval")
    if thread_id is None and isinstance(approval, Mapping):
        thread_id = approval.get("thread_id")
    return str(thread_id) if thread_id is not None else None
