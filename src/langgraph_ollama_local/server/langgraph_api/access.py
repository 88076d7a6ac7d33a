"""The one question every route of this adapter asks: may this principal do that to this thread?

It applies the same object-level rules as our own routes (`auth/threads.py`, the thread's
owner, its approvers, admin and `access.read_roles`) on the store's facts, plus the
policy's role rules: `access.start_roles` start runs, `access.state_edit_roles` edit state.
Decisions are not decided here: `ServiceRuntime.decide` checks each one (stage role, no
self-approval, distinct people).
"""

from __future__ import annotations

from typing import Literal

from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.auth import (
    Denied,
    Principal,
    can_edit_state,
    can_read_thread,
    can_start_runs,
    can_write_thread,
)
from langgraph_ollama_local.store.approval_store import ApprovalStore

ThreadAction = Literal["read", "run", "decide", "edit_state", "cancel"]


async def thread_access(
    store: ApprovalStore, principal: Principal, thread_id: str, action: ThreadAction, rules: AccessRules
) -> Denied | None:
    """None when allowed, else why not (answered as 403 and audited as `auth.denied`)."""
    facts = await store.thread_facts(thread_id)
    if action in ("run", "cancel"):
        return can_start_runs(principal, rules) or can_write_thread(principal, facts, rules)
    if action == "edit_state":
        return can_edit_state(principal, rules) or can_read_thread(principal, facts, rules)
    if action == "decide" and not facts.exists:
        return None  # nothing to decide in it: the route answers 404
    return can_read_thread(principal, facts, rules) if facts.exists or action == "read" else None
