"""Object-level authorization applied: the store's facts, `auth/threads.py`'s rules.

Every route that reads or writes a thread goes through `ThreadGuard`; every live event
stream goes through an `EventFilter` of its own subscriber, so events from this process and
from any other (PostgreSQL LISTEN/NOTIFY) are cut the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest
from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.auth import (
    Principal,
    ThreadFacts,
    can_read_thread,
    can_see_request,
    event_thread_id,
    reads_every_thread,
)
from langgraph_ollama_local.server.security import AuthError
from langgraph_ollama_local.store.approval_store import ApprovalStore, Reader

_CACHE_LIMIT = 1000


class ThreadGuard:
    def __init__(self, store: ApprovalStore, rules: AccessRules) -> None:
        self.store = store
        self.rules = rules

    def reader(self, principal: Principal) -> Reader | None:
        """What to cut listings to (None: this person reads every thread)."""
        if reads_every_thread(principal, self.rules):
            return None
        return Reader(principal.user, principal.roles)

    async def read(self, principal: Principal, thread_id: str) -> ThreadFacts:
        """The thread's facts, or a 403 `AuthError` (the same for a thread that does not exist)."""
        facts = await self.store.thread_facts(thread_id)
        denied = can_read_thread(principal, facts, self.rules)
        if denied is not None:
            raise AuthError.forbidden(denied, principal)
        return facts

    async def decide_on(self, principal: Principal, request: ApprovalRequest) -> None:
        """403 unless this person may read the request's thread or could have decided it."""
        facts = await self.store.thread_facts(request.thread_id)
        denied = can_see_request(principal, request, facts, self.rules)
        if denied is not None:
            raise AuthError.forbidden(denied, principal)

    def events(self, principal: Principal) -> EventFilter:
        return EventFilter(self, principal)


class EventFilter:
    """Decides, per event, whether one subscriber may see it.

    Who may read a thread changes only when an item in it is requested or decided, and
    those arrive as `approval.*` events: they drop the cached answer for their thread, so
    the answer is recomputed from the store then (after the change committed).
    """

    def __init__(self, guard: ThreadGuard, principal: Principal) -> None:
        self.guard = guard
        self.principal = principal
        self.everything = reads_every_thread(principal, guard.rules)
        self._cache: dict[str, bool] = {}

    async def allows(self, event: Mapping[str, Any]) -> bool:
        if self.everything:
            return True
        thread_id = event_thread_id(event)
        if thread_id is None:
            return False  # not about a thread: only for those who read everything
        if str(event.get("type", "")).startswith("approval."):
            self._cache.pop(thread_id, None)
        allowed = self._cache.get(thread_id)
        if allowed is None:
            facts = await self.guard.store.thread_facts(thread_id)
            allowed = can_read_thread(self.principal, facts, self.guard.rules) is None
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[thread_id] = allowed
        return allowed
