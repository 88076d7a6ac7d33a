"""`ApprovalRunner`: a small synchronous facade over a compiled graph for one process.

It is what the CLI and notebooks use: list what a thread waits for, answer an interrupt
by its id (checked against what is really pending, before anything is resumed), continue
past a static breakpoint, and resolve approvals whose deadline passed by their policy.

Deadlines here run from the moment this runner first saw the request, kept in memory;
the service records requests in its store so deadlines survive restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import Command, StateSnapshot

from langgraph_ollama_local.approvals.errors import NotPausedError, UnknownInterruptError
from langgraph_ollama_local.approvals.requests import InterruptView, read_interrupt

PendingKind = Literal["tool_approval", "batched_approval", "question", "breakpoint"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PendingItem:
    """Something a paused thread waits for: an approval, a question, or a breakpoint."""

    thread_id: str
    kind: PendingKind
    interrupt_id: str | None
    view: InterruptView | None
    next_nodes: tuple[str, ...]
    seen_at: datetime
    deadline: datetime | None


@dataclass(frozen=True)
class ExpiryAction:
    """What the deadline check did to one overdue request."""

    thread_id: str
    interrupt_id: str
    outcome: str
    decision: dict[str, Any]


def timeout_decision(view: InterruptView, waited_seconds: float) -> dict[str, Any]:
    """The decision a deadline produces, from the policy carried in the request."""
    outcome = view.on_timeout or "reject"
    actor = "system:deadline"
    if outcome == "approve":
        return {"type": "approve", "actor": actor}
    if outcome == "escalate" and view.escalate_to:
        return {"type": "escalate", "actor": actor, "message": f"no decision in {waited_seconds:.0f}s"}
    return {
        "type": "reject",
        "actor": actor,
        "message": f"approval timed out after {waited_seconds:.0f}s with no decision",
    }


class ApprovalRunner:
    """Drive a checkpointed graph thread by thread."""

    def __init__(self, graph: Pregel[Any, Any, Any, Any], *, clock: Callable[[], datetime] = utcnow) -> None:
        if graph.checkpointer is None:
            raise NotPausedError(
                "this graph has no checkpointer, so it can never be paused and resumed; compile it "
                "with checkpointer=InMemorySaver() (or a SQLite/PostgreSQL checkpointer)"
            )
        self.graph = graph
        self.clock = clock
        self._seen: dict[str, datetime] = {}

    @staticmethod
    def config(thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}}

    # -- running -------------------------------------------------------------------------

    def start(self, thread_id: str, message: str | BaseMessage | Mapping[str, Any]) -> StateSnapshot:
        """Send a user message; returns the state once the run ends or pauses."""
        item: Any = ("user", message) if isinstance(message, str) else message
        self.graph.invoke({"messages": [item]}, self.config(thread_id))
        return self.state(thread_id)

    def state(self, thread_id: str) -> StateSnapshot:
        snapshot = self.graph.get_state(self.config(thread_id))
        now = self.clock()
        for interrupt in snapshot.interrupts:
            self._seen.setdefault(interrupt.id, now)
        return snapshot

    def pending(self, thread_id: str) -> list[PendingItem]:
        snapshot = self.state(thread_id)
        items = []
        for interrupt in snapshot.interrupts:
            view = read_interrupt(interrupt.value)
            seen = self._seen[interrupt.id]
            deadline = seen + timedelta(seconds=view.timeout_seconds) if view.timeout_seconds else None
            items.append(PendingItem(thread_id, view.kind, interrupt.id, view, snapshot.next, seen, deadline))
        if snapshot.next and not snapshot.interrupts:
            items.append(PendingItem(thread_id, "breakpoint", None, None, snapshot.next, self.clock(), None))
        return items

    def decide(self, thread_id: str, interrupt_id: str, answer: Any) -> StateSnapshot:
        """Answer one pending interrupt by id. Anything not pending is refused first."""
        self.check_pending(thread_id, {interrupt_id})
        self.graph.invoke(Command(resume={interrupt_id: answer}), self.config(thread_id))
        self._seen.pop(interrupt_id, None)
        return self.state(thread_id)

    def continue_run(self, thread_id: str) -> StateSnapshot:
        """Go on past a static breakpoint (`invoke(None, config)`), only if paused at one."""
        snapshot = self.state(thread_id)
        if not snapshot.next:
            raise NotPausedError(self._not_paused_message(thread_id, snapshot))
        if snapshot.interrupts:
            raise NotPausedError(
                f"thread {thread_id!r} waits for an answer to interrupt(s) "
                f"{[i.id for i in snapshot.interrupts]}, not at a breakpoint; use decide()"
            )
        self.graph.invoke(None, self.config(thread_id))
        return self.state(thread_id)

    def last_reply(self, thread_id: str) -> str:
        messages = self.state(thread_id).values.get("messages") or []
        for message in reversed(messages):
            if isinstance(message, AIMessage) and not message.tool_calls:
                return str(message.content)
        return ""

    # -- deadlines -----------------------------------------------------------------------

    def expire_overdue(self, thread_id: str, *, now: datetime | None = None) -> list[ExpiryAction]:
        """Resolve every overdue approval of the thread as its policy says."""
        now = now or self.clock()
        actions = []
        for item in self.pending(thread_id):
            if item.deadline is None or item.deadline > now or item.view is None:
                continue
            assert item.interrupt_id is not None
            waited = (now - item.seen_at).total_seconds()
            decision = timeout_decision(item.view, waited)
            self.decide(thread_id, item.interrupt_id, decision)
            actions.append(ExpiryAction(thread_id, item.interrupt_id, decision["type"], decision))
        return actions

    # -- checks --------------------------------------------------------------------------

    def check_pending(self, thread_id: str, ids: set[str]) -> None:
        snapshot = self.state(thread_id)
        pending = {i.id for i in snapshot.interrupts}
        if not pending:
            raise NotPausedError(self._not_paused_message(thread_id, snapshot))
        unknown = sorted(ids - pending)
        if unknown:
            raise UnknownInterruptError(
                f"interrupt(s) {unknown} are not pending on thread {thread_id!r} (already answered, "
                f"or from another thread); pending now: {sorted(pending)}",
                interrupt_ids=tuple(unknown),
                pending_ids=tuple(sorted(pending)),
            )

    @staticmethod
    def _not_paused_message(thread_id: str, snapshot: StateSnapshot) -> str:
        if not snapshot.values:
            return (
                f"thread {thread_id!r} has no saved state: nothing to resume. Check the thread_id "
                "(a resume must use the same thread_id as the run it continues)."
            )
        return f"thread {thread_id!r} is not paused: its run already finished. Start a new turn instead."
