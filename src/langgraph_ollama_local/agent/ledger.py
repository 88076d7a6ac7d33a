"""The execution ledger: an approved tool call runs at most once, across crashes.

LangGraph re-runs a node from its start when a run is resumed or recovered, so a tools
node that crashed after `send_money` ran (but before its checkpoint was written) would
run it again. The executor therefore writes a durable "started" row *before* a call
runs and the result *after*:

- no row: the call never started — it runs now (a crash before it ran: it runs once on
  recovery);
- a finished row: it ran — its recorded result is replayed, the tool is not called;
- a "started" row with no result: the process died while the call ran, so whether the
  effect happened is unknown. A tool that declares itself idempotent (metadata
  `{"idempotent": True}`) or takes an injected `idempotency_key` (which the executor
  fills with the same key every time) is run again; any other tool is **not** run again
  and the model and the audit see "outcome unknown" (`in_doubt`) — at most once, never
  twice. `hitl doctor` lists such calls.

A ledger may also refuse to start a call (`FencedOffError`): the service's ledger marks a
call `started` only in a transaction where the database confirms that this worker still
holds the run's lease, so a worker that was taken over (stalled, clock skewed, cut off)
never starts an effect the new holder may start too.

A tool reports how it failed by raising `RetryableToolError` (nothing happened; run it
again with the same key) or `OutcomeUnknownError` (it may have happened: in doubt, not
repeated); any other exception is a failure reported to the model.

The key is thread + AI message id + tool-call id, so a model that reuses call ids across
turns cannot make a new call look like an old one. This module is the interface and an
in-memory ledger; the durable one is `store.ledger.SqlExecutionLedger`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Literal, Protocol

ExecutionStatus = Literal["started", "succeeded", "failed", "in_doubt"]
LEDGER_CONFIG_KEY = "hitl_execution_ledger"
IDEMPOTENCY_ARG = "idempotency_key"


class RetryableToolError(Exception):
    """Raised by a tool whose call did not take effect for a reason that passes (a server
    refusing connections, a 4xx "try later"): the executor runs it again, with the same
    idempotency key, a few times with a backoff, before reporting it failed."""


class OutcomeUnknownError(Exception):
    """Raised by a tool when the call may or may not have taken effect (the connection
    dropped after the request was sent): the call is recorded `in_doubt` and never run
    again by itself — a person checks (`hitl doctor`)."""


class FencedOffError(RuntimeError):
    """The call was not started: this process no longer holds the run it belongs to.

    Another worker took the run over (this one stalled past its lease, or lost the
    database); the new holder runs the call. Nothing was executed or recorded.
    """


@dataclass(frozen=True)
class ExecutionRecord:
    key: str
    tool: str
    status: ExecutionStatus
    attempts: int = 1
    content: str | None = None
    outcome: str | None = None  # the ToolMessage status of the result: success | error


def execution_key(thread_id: str, message_id: str | None, tool_call_id: str) -> str:
    return f"{thread_id}/{message_id or '-'}/{tool_call_id}"


class ExecutionLedger(Protocol):
    """Durable memory of which approved calls started and how they ended."""

    def begin(
        self, key: str, *, thread_id: str, tool_call_id: str, tool: str, digest: str | None
    ) -> ExecutionRecord | None:
        """Record that the call starts now; None if new, else the existing record (nothing written).

        Raises `FencedOffError` when the caller may no longer start effects (nothing written).
        """

    def retry(self, key: str) -> None:
        """An in-doubt call is being run again (idempotent tool): count the attempt (or `FencedOffError`)."""

    def finish(self, key: str, *, status: ExecutionStatus, content: str | None, outcome: str | None) -> None:
        """Record how the call ended (or that its outcome is unknown: `in_doubt`)."""

    async def abegin(
        self, key: str, *, thread_id: str, tool_call_id: str, tool: str, digest: str | None
    ) -> ExecutionRecord | None: ...

    async def aretry(self, key: str) -> None: ...

    async def afinish(
        self, key: str, *, status: ExecutionStatus, content: str | None, outcome: str | None
    ) -> None: ...


class InMemoryLedger:
    """A ledger for one process (tests, notebooks): it guards re-runs, not crashes."""

    def __init__(self) -> None:
        self.records: dict[str, ExecutionRecord] = {}
        self._lock = threading.Lock()

    def begin(
        self, key: str, *, thread_id: str, tool_call_id: str, tool: str, digest: str | None
    ) -> ExecutionRecord | None:
        with self._lock:
            if key in self.records:
                return self.records[key]
            self.records[key] = ExecutionRecord(key=key, tool=tool, status="started")
            return None

    def retry(self, key: str) -> None:
        with self._lock:
            record = self.records[key]
            self.records[key] = replace(record, attempts=record.attempts + 1)

    def finish(self, key: str, *, status: ExecutionStatus, content: str | None, outcome: str | None) -> None:
        with self._lock:
            self.records[key] = replace(self.records[key], status=status, content=content, outcome=outcome)

    async def abegin(
        self, key: str, *, thread_id: str, tool_call_id: str, tool: str, digest: str | None
    ) -> ExecutionRecord | None:
        return self.begin(key, thread_id=thread_id, tool_call_id=tool_call_id, tool=tool, digest=digest)

    async def aretry(self, key: str) -> None:
        self.retry(key)

    async def afinish(
        self, key: str, *, status: ExecutionStatus, content: str | None, outcome: str | None
    ) -> None:
        self.finish(key, status=status, content=content, outcome=outcome)
