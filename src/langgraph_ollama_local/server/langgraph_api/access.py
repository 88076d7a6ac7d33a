"""The one question every route of this adapter asks: may this principal do that to this thread?

Object-level authorization (who may see and write which thread) is to be a pure check in
`auth/`; until it lands, this is where it plugs in, and it applies what the policy says
today: anyone signed in reads, `access.start_roles` start runs, `access.state_edit_roles`
edit state. Decisions are not decided here: `ServiceRuntime.decide` checks each one
(stage role, no self-approval, distinct people).
"""

from __future__ import annotations

from typing import Literal

from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.auth import Denied, Principal, can_edit_state, can_start_runs

ThreadAction = Literal["read", "run", "decide", "edit_state", "cancel"]


def thread_access(
    principal: Principal, thread_id: str, action: ThreadAction, rules: AccessRules
) -> Denied | None:
    """None when allowed, else why not (answered as 403 and audited as `auth.denied`)."""
    del thread_id  # object-level rules will need it
    if action in ("run", "cancel"):
        return can_start_runs(principal, rules)
    if action == "edit_state":
        return can_edit_state(principal, rules)
    return None
