"""Who is asking, and may they: identities, API tokens, JWT verification, authorization.

Pure policy code: it knows the approval core (roles, stages, access rules) but nothing of
HTTP or SQL. The server turns a request into a `Principal`; the store keeps token hashes.
"""

from typing import TYPE_CHECKING

from langgraph_ollama_local._lazy import lazy_exports

if TYPE_CHECKING:
    from langgraph_ollama_local.auth.authorization import (
        Denied,
        can_decide,
        can_edit_state,
        can_read_full_audit,
        can_start_runs,
        decision_refusal,
    )
    from langgraph_ollama_local.auth.identity import SYSTEM_PREFIX, Principal, check_user_name
    from langgraph_ollama_local.auth.threads import (
        ThreadFacts,
        can_read_thread,
        can_see_request,
        can_write_thread,
        event_thread_id,
        reads_every_thread,
    )
    from langgraph_ollama_local.auth.tokens import TOKEN_PREFIX, hash_token, new_token, token_id_of

__all__ = [
    "SYSTEM_PREFIX",
    "TOKEN_PREFIX",
    "Denied",
    "Principal",
    "ThreadFacts",
    "can_decide",
    "can_edit_state",
    "can_read_full_audit",
    "can_read_thread",
    "can_see_request",
    "can_start_runs",
    "can_write_thread",
    "check_user_name",
    "decision_refusal",
    "event_thread_id",
    "hash_token",
    "new_token",
    "reads_every_thread",
    "token_id_of",
]

if not TYPE_CHECKING:  # checkers see the imports above; at run time each loads on first use
    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "langgraph_ollama_local.auth.authorization": (
                "Denied",
                "can_decide",
                "can_edit_state",
                "can_read_full_audit",
                "can_start_runs",
                "decision_refusal",
            ),
            "langgraph_ollama_local.auth.identity": ("SYSTEM_PREFIX", "Principal", "check_user_name"),
            "langgraph_ollama_local.auth.threads": (
                "ThreadFacts",
                "can_read_thread",
                "can_see_request",
                "can_write_thread",
                "event_thread_id",
                "reads_every_thread",
            ),
            "langgraph_ollama_local.auth.tokens": ("TOKEN_PREFIX", "hash_token", "new_token", "token_id_of"),
        },
    )
