"""`ServiceRuntime`: graph runs in the background, approvals through the store.

- A run is queued in the store and executed by a worker task of whichever process takes
  it first (leases, `store/run_queue.py`); API calls never wait on the LLM unless they ask
  to (`wait_run`). On PostgreSQL, wake-ups and live events cross processes by
  LISTEN/NOTIFY (`store/pg_events.py`).
- Approved tool calls run through the execution ledger (`agent/ledger.py`), so a run
  recovered after a crash never repeats an effect.
- When a run pauses, every pending interrupt becomes inbox items (approval requests, or
  a generic question / breakpoint item), recorded with an audit entry, then announced.
- A decision is checked like the gate checks it, stored once (with its audit entry), and
  when every item of that interrupt is decided the thread is resumed by interrupt id.
- A sweeper resolves requests past their deadline by their policy, as the system actor.
- Recovery: a run whose worker died is taken over when its lease runs out (at once on a
  single-process SQLite start) and continues from its checkpoint; decided-but-not-resumed
  interrupts are resumed by the periodic `reconcile`; paused threads stay pending.
- Faults: a storage or connection error (`store/faults.py`) sends the run back to the
  queue with a backoff instead of failing it; only graph errors fail a run. Effects and
  inbox items happen only under a lease the database confirms in the same transaction
  (`store/lease.py`); a worker fenced off stops without finishing. Every time that is
  compared across processes (leases, deadlines) is the database's clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.types import Command, Interrupt, StreamMode
from sqlalchemy.ext.asyncio import AsyncConnection

from langgraph_ollama_local.agent.ledger import LEDGER_CONFIG_KEY, FencedOffError
from langgraph_ollama_local.approvals.decisions import parse_decision
from langgraph_ollama_local.approvals.errors import DecisionError
from langgraph_ollama_local.approvals.lifecycle import DECIDED_BY_TYPE, ApprovalRequest, RequestKind
from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.approvals.requests import InterruptView, read_interrupt
from langgraph_ollama_local.approvals.summary import MAX_SUMMARY, one_line, summarize
from langgraph_ollama_local.auth import Denied, Principal, ThreadFacts, can_decide, can_write_thread
from langgraph_ollama_local.config import RetentionSettings
from langgraph_ollama_local.runtime.events import EventBus
from langgraph_ollama_local.runtime.jsonable import to_jsonable
from langgraph_ollama_local.runtime.local import timeout_decision
from langgraph_ollama_local.runtime.metrics import Metrics
from langgraph_ollama_local.store.approval_store import (
    AlreadyDecidedError,
    ApprovalStore,
    DeadlinePassedError,
    InboxQuery,
    NewRequest,
    Run,
    refusal,
)
from langgraph_ollama_local.store.audit import NewAuditEntry
from langgraph_ollama_local.store.checkpointer import order_after
from langgraph_ollama_local.store.faults import DatabaseUnavailableError, is_transient, is_transient_text
from langgraph_ollama_local.store.lease import LeaseFence
from langgraph_ollama_local.store.ledger import SqlExecutionLedger
from langgraph_ollama_local.store.pg_events import PgNotifier
from langgraph_ollama_local.store.retention import PruneReport, aprune_threads
from langgraph_ollama_local.store.run_queue import RunQueue

log = logging.getLogger(__name__)
SYSTEM = "system"
DEADLINE_ACTOR = "system:deadline"


class InvalidDecisionError(ValueError):
    """The decision does not fit the request; nothing was stored."""


class ForbiddenError(PermissionError):
    """The authenticated person may not do this; `denied` says which rule and why."""

    def __init__(self, denied: Denied, principal: Principal) -> None:
        super().__init__(denied.reason)
        self.denied, self.principal = denied, principal


class DecisionForbiddenError(ForbiddenError):
    """The authenticated person may not make this decision (role, own request, same person)."""


class ThreadForbiddenError(ForbiddenError):
    """The authenticated person may not post into this thread (it is someone else's)."""


class ThreadBusyError(RuntimeError):
    """A message for a thread that waits for a decision: it would orphan that request (HTTP 409)."""

    def __init__(self, pending: ApprovalRequest) -> None:
        what = f"{pending.tool} ({pending.stage or pending.kind})" if pending.tool else pending.kind
        super().__init__(
            f"thread {pending.thread_id!r} waits for a decision on {what}, approval {pending.id}: "
            "decide it (reject or cancel to drop it) before sending a new message"
        )
        self.pending = pending


class ThreadNotPausedError(RuntimeError):
    """A resume was asked for a thread that waits for nothing."""


class Notifier:
    """Receives lifecycle events to tell people about (webhook, email)."""

    async def notify(self, event: str, request: ApprovalRequest) -> None:  # pragma: no cover - interface
        return None


@dataclass(frozen=True)
class Settings:
    """How this process takes part: `workers=0` is an API-only process (`hitl serve --workers 0`).

    `single_process`: nobody else shares the database (SQLite), so at start every run
    left "running" is orphaned and taken over at once instead of after its lease.
    """

    workers: int = 2
    sweep_interval: float = 1.0
    access: AccessRules = field(default_factory=AccessRules)
    stream_tokens: bool = True
    lease_seconds: float = 15.0
    poll_seconds: float = 1.0
    single_process: bool | None = None  # None: True on SQLite, False on PostgreSQL
    # On stop (SIGTERM): claim nothing more, start no new tool call, and wait this long for
    # the calls already running to end before the runs are released to other workers.
    stop_grace_seconds: float = 20.0
    # Checkpoint retention: threads whose run ended here are pruned to their newest
    # `keep_checkpoints` by the sweeper, a bounded batch per pass. None: no pruning
    # (`hosted_runtime` fills in the configured one).
    retention: RetentionSettings | None = None


def _items_for(interrupt: Interrupt, now: datetime, requested_by: str | None) -> list[NewRequest]:
    view = read_interrupt(interrupt.value)
    schema = interrupt.response_schema if isinstance(interrupt.response_schema, dict) else None
    deadline = now + timedelta(seconds=view.timeout_seconds) if view.timeout_seconds else None
    common: dict[str, Any] = {
        "interrupt_id": interrupt.id,
        "deadline": deadline,
        "on_timeout": view.on_timeout,
        "escalate_to": view.escalate_to,
        "requested_by": requested_by,
        "payload": interrupt.value if _jsonable(interrupt.value) else repr(interrupt.value),
        "response_schema": schema,
    }
    if view.kind == "question":
        question = view.question or "the agent asks"
        return [
            NewRequest(
                kind="question", description=view.question, summary=one_line(question, MAX_SUMMARY), **common
            )
        ]
    raw = view.raw if isinstance(view.raw, Mapping) else {}
    hitl = raw.get("hitl") if isinstance(raw.get("hitl"), Mapping) else {}
    stage = hitl.get("stage") if isinstance(hitl, Mapping) and isinstance(hitl.get("stage"), Mapping) else {}
    kind: RequestKind = "tool_approval" if view.kind == "tool_approval" else "batched_action"
    return [
        NewRequest(
            kind=kind,
            action_index=index,
            tool=action.name,
            tool_call_id=action.tool_call_id,
            args=action.args,
            digest=view.digest,
            stage=view.stage,
            stage_index=int(stage.get("index", 0)) if isinstance(stage, Mapping) else 0,
            stage_count=int(stage.get("count", 1)) if isinstance(stage, Mapping) else 1,
            required_role=view.role,
            allowed_decisions=action.allowed_decisions,
            description=action.description,
            summary=_summary_of(hitl if isinstance(hitl, Mapping) else {}, action.name, action.args),
            **common,
        )
        for index, action in enumerate(view.actions)
    ]


def _summary_of(hitl: Mapping[str, Any], tool: str, args: Mapping[str, Any]) -> str:
    """The gate's line (the tool's own summariser ran where the tool lives); any other
    graph's interrupt gets the generic one."""
    given = hitl.get("summary")
    return one_line(given, MAX_SUMMARY) if isinstance(given, str) and given.strip() else summarize(tool, args)


def _jsonable(value: Any) -> bool:
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class ServiceRuntime:
    """Owns the worker tasks, the sweeper and the decision path for one graph.

    Runs live in the store's run queue (`store/run_queue.py`): any process sharing the
    database may take them, under a lease this process renews while the graph runs.
    """

    def __init__(
        self,
        graph: Pregel[Any, Any, Any, Any],
        store: ApprovalStore,
        *,
        events: EventBus | None = None,
        notifier: Notifier | None = None,
        metrics: Metrics | None = None,
        settings: Settings = Settings(),
        clock: Any = None,
        broadcast_url: str | None = None,
    ) -> None:
        if graph.checkpointer is None:
            raise ValueError("the service runtime needs a graph compiled with a checkpointer")
        self.graph = graph
        self.store = store
        self.queue = RunQueue(store.engine)
        self.ledger = SqlExecutionLedger(store.engine)
        self.events = events or EventBus()
        self.notifier = notifier or Notifier()
        self.metrics = metrics or Metrics()
        self.settings = settings
        # Deadlines and leases are measured on the database's clock; `clock` replaces it
        # (tests fast-forward time with it).
        self.fake_clock: Callable[[], datetime] | None = clock
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.worker_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = _Doorbell(max(1, settings.workers))
        self._calls = _RunningCalls()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._to_prune: dict[str, None] = {}  # threads whose run ended, oldest first
        self._prune_refused: set[str] = set()
        self._broadcast = (
            PgNotifier(
                broadcast_url, origin=self.worker_id, on_event=self._remote_event, on_run=self._remote_run
            )
            if broadcast_url and self.queue.is_postgres
            else None
        )

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def single_process(self) -> bool:
        if self.settings.single_process is not None:
            return self.settings.single_process
        return not self.queue.is_postgres

    async def start(self) -> None:
        if self._broadcast is not None:
            await self._broadcast.start()
        if self.single_process and self.settings.workers:
            await self.queue.expire_all_leases()  # orphans of a crash: nobody else can hold them
        if self.settings.workers:
            await self.reconcile()
        for index in range(self.settings.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"hitl-worker-{index}"))
        self._tasks.append(asyncio.create_task(self._sweeper(), name="hitl-sweeper"))
        await self._refresh_pending_gauge()

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Stop: claim no more runs and start no more tool calls; let the calls running now
        end (within `grace_seconds`, default `Settings.stop_grace_seconds`), then release
        this process's runs so other workers continue them at once."""
        grace = self.settings.stop_grace_seconds if grace_seconds is None else grace_seconds
        self._calls.stopping = True
        self._wake.ring_all()
        if not await self._calls.settled(grace):
            log.warning("stopping with tool calls still running after %.0fs: %s", grace, self._calls.keys)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.settings.workers:
            with contextlib.suppress(Exception):
                await self.queue.release_owned_by(self.worker_id)
        if self._broadcast is not None:
            await self._broadcast.stop()

    def config(
        self, thread_id: str, run_id: str | None = None, *, fence: LeaseFence | None = None
    ) -> RunnableConfig:
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        if run_id:
            config["metadata"] = {"hitl_run_id": run_id}
            ledger = self.ledger.fenced(fence, self._calls) if fence else self.ledger
            config["configurable"][LEDGER_CONFIG_KEY] = ledger
        return config

    async def now(self) -> datetime:
        """The time deadlines are measured on: the database's clock (or the test's fake one)."""
        if self.fake_clock is not None:
            return self.fake_clock()
        return await self.store.db_now()

    # -- events --------------------------------------------------------------------------

    async def emit(self, event_type: str, **data: Any) -> None:
        """Publish to this process's live clients and, on PostgreSQL, to every other process."""
        event = self.events.publish(event_type, **data)
        if self._broadcast is not None:
            await self._broadcast.publish(event)

    def _remote_event(self, event: dict[str, Any]) -> None:
        if "approval_ref" in event:
            task = asyncio.create_task(self._resolve_reference(event))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        self.events.deliver(event)

    async def _resolve_reference(self, event: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):
            request = await self.store.get(str(event.pop("approval_ref")))
            self.events.deliver({**event, "approval": _public(request)})

    def _remote_run(self, run_id: str) -> None:
        self._wake.ring(run_id, remote=True)

    # -- runs ----------------------------------------------------------------------------

    async def submit_message(
        self, thread_id: str, message: str, *, actor: str | None = None, principal: Principal | None = None
    ) -> Run:
        """Queue a run for a new message. People post as a `principal`: a new thread becomes
        theirs, and only its owner (or the admin role) may post into an existing one — checked
        here, after the thread row exists, so no adapter can forget it and no race can move it."""
        if principal is not None:
            actor = principal.user
        if actor is None:
            raise ValueError("submit_message() needs the authenticated principal (or an actor)")
        poster = actor
        queued: list[Run] = []

        async def enqueue_after_checks(conn: AsyncConnection, owner: str) -> list[NewAuditEntry]:
            # In the transaction that creates the thread row (if new): whose thread it is is
            # checked after that row exists, so no race can move it; a refusal writes nothing.
            if principal is not None:
                facts = ThreadFacts(thread_id, exists=True, owner=owner)
                denied = can_write_thread(principal, facts, self.settings.access)
                if denied is not None:
                    raise ThreadForbiddenError(denied, principal)
            pending = await self._pending_in(thread_id, conn=conn)
            if pending is not None:
                raise ThreadBusyError(pending)
            spec = {"kind": "message", "message": message}
            run_id = self._wake.expect()
            made = await self.queue.enqueue_in(conn, thread_id, spec, actor=poster, run_id=run_id)
            if made is None:  # pragma: no cover - only a resume key can conflict
                raise RuntimeError(f"the run for a message in thread {thread_id!r} was not queued")
            run, entry = made
            queued.append(run)
            return [entry]

        # One transaction: the thread row, the ownership and pending checks, the run, and
        # their audit entries (was two transactions, each locking the audit head).
        await self.store.post_to_thread(thread_id, actor=actor, then=enqueue_after_checks)
        (run,) = queued
        self._wake.ring(run.id)
        await self.emit("run.queued", run_id=run.id, thread_id=thread_id)
        return run

    async def _pending_in(
        self, thread_id: str, conn: AsyncConnection | None = None
    ) -> ApprovalRequest | None:
        query = InboxQuery(thread_id=thread_id, limit=1, count_limit=0)
        page, _ = await self.store.inbox(query, conn=conn)
        return page[0] if page else None

    async def submit_graph_run(self, thread_id: str, spec: Mapping[str, Any], *, actor: str) -> Run:
        """Queue a run with LangGraph's own input: `input` (state), or `command` with `update`
        / `goto`, plus per-run `interrupt_before` / `interrupt_after`, `context` and the
        `stream_mode`s whose chunks the worker publishes (`run.stream` events).

        A `command.resume` is never taken here: answering an interrupt is a decision
        (`decide`), so it passes the policy's checks.
        """
        run_input = {k: v for k, v in spec.items() if k in GRAPH_RUN_KEYS}
        command = run_input.get("command")
        if isinstance(command, Mapping) and "resume" in command:
            raise ValueError("a resume is a decision: answer it through decide()")
        await self.store.ensure_thread(thread_id, actor=actor)
        return await self._enqueue(thread_id, {**run_input, "kind": "graph"}, actor)

    async def cancel_run(self, run_id: str, *, actor: str) -> Run:
        """Cancel a queued or running run (a running one stops at its next lease renewal)."""
        if await self.queue.cancel(run_id, actor=actor):
            run = await self.store.get_run(run_id)
            await self.emit("run.cancelled", run_id=run_id, thread_id=run.thread_id, error=None)
            return run
        return await self.store.get_run(run_id)

    async def _enqueue(
        self, thread_id: str, run_input: dict[str, Any], actor: str, *, resume_key: str | None = None
    ) -> Run:
        run, new = await self.queue.enqueue(
            thread_id, run_input, actor=actor, resume_key=resume_key, run_id=self._wake.expect()
        )
        if new:
            self._wake.ring(run.id)
            await self.emit("run.queued", run_id=run.id, thread_id=thread_id)
        return run

    async def wait_run(self, run_id: str, wait_seconds: float | None = None) -> Run:
        """The run once it is no longer queued or running, or as it is after `wait_seconds`.

        Whichever process runs it, its end arrives as an event; the store is re-read every
        second too, so a lost event only costs a second. The run returned is read from the
        store (its finish time, its error): see `wait_run_end` for callers that only wait.
        """
        async with self.events.subscribe() as queue:
            run = await self.store.get_run(run_id)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_seconds):
                    while run.status in ("queued", "running"):
                        await self._run_end_event(queue, run_id)
                        run = await self.store.get_run(run_id)
        return run

    async def wait_run_end(self, run_id: str, wait_seconds: float | None = None) -> str:
        """Wait like `wait_run` and return the run's status, without reading the run again
        when its end event arrives: the event is published after the run's end committed
        (`_execute`, `cancel_run`, or another process's, by NOTIFY after its commit). One
        statement (the first read) instead of two for a caller that only waits (`/chat`)."""
        async with self.events.subscribe() as queue:
            return await self.wait_subscribed(queue, (await self.store.get_run(run_id)), wait_seconds)

    async def wait_subscribed(
        self, queue: asyncio.Queue[dict[str, Any]], run: Run, wait_seconds: float | None = None
    ) -> str:
        """`wait_run_end` for a caller already subscribed to the events before it read `run`
        (so an end published after that read is in `queue`); returns the run's status."""
        status = run.status
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait_seconds):
                while status in ("queued", "running"):
                    ended = await self._run_end_event(queue, run.id)
                    status = ended or (await self.store.get_run(run.id)).status
        return status

    @staticmethod
    async def _run_end_event(queue: asyncio.Queue[dict[str, Any]], run_id: str) -> str | None:
        """The status a run-end event of `run_id` names, or None after a second without one."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                while True:
                    event = await queue.get()
                    if event.get("run_id") == run_id and event["type"] in _RUN_ENDS:
                        return str(event["type"]).removeprefix("run.")
        return None

    async def idle(self, within: float = 60.0) -> None:
        """Wait until no run is queued or running (tests, graceful shutdown)."""
        async with asyncio.timeout(within):
            while True:
                health = await self.queue.health()
                if not health.queued and not health.running:
                    return
                await asyncio.sleep(0.05)

    async def _worker(self) -> None:
        rung = False  # woken by a run queued just now: claim it without a read first
        while not self._calls.stopping:
            try:
                run = await self.queue.claim(self.worker_id, self.settings.lease_seconds, probe=not rung)
            except Exception as exc:  # the database is away: try again shortly
                if not is_transient(exc):
                    log.exception("could not take a run from the queue")
                else:
                    log.warning("could not take a run from the queue (%s); retrying", _one_line(exc))
                await asyncio.sleep(self.settings.poll_seconds)
                continue
            rung = False
            if run is None:
                rung = await self._wake.wait(self.settings.poll_seconds)
                continue
            try:
                await self._execute(run)
            except Exception:  # a worker must outlive any single run
                log.exception("run %s failed unexpectedly", run.id)

    async def _execute(self, run: Run) -> None:
        # One run per thread at a time is the queue's rule (claim), across processes.
        fence = self._fence(run)
        await self.emit("run.started", run_id=run.id, thread_id=run.thread_id)
        started = time.perf_counter()
        work = asyncio.create_task(self._advance(run, fence))
        heartbeat = asyncio.create_task(self._keep_lease(fence, work))
        try:
            status, error = await work
        except asyncio.CancelledError:
            if not heartbeat.done() or heartbeat.result() is not False:
                raise
            log.warning("run %s was taken over by another worker; this attempt stopped", run.id)
            return
        finally:
            heartbeat.cancel()
            self._calls.forget(run.thread_id)  # calls cut off with the run end with it
        if status == "fenced":
            log.warning("run %s: %s; this attempt stopped", run.id, error)
            return
        if status == "retry":
            await self._retry_later(run, fence, error or "storage error")
            return
        finished = await _persist(
            lambda: self.queue.finish(run.id, self.worker_id, status, error=error, attempt=fence.attempt),
            f"finish run {run.id}",
        )
        if not finished:
            log.warning("run %s finished after its lease was lost; the new holder records it", run.id)
            return
        self.metrics.run_duration.labels(status).observe(time.perf_counter() - started)
        self.metrics.runs.labels(status).inc()
        await self.emit(f"run.{status}", run_id=run.id, thread_id=run.thread_id, error=error)
        if self._retention is not None and run.thread_id not in self._prune_refused:
            self._to_prune[run.thread_id] = None  # pruned by the sweeper, off this run's path

    async def _advance(self, run: Run, fence: LeaseFence | None = None) -> tuple[str, str | None]:
        """Run the graph to its next pause or its end, under `fence` (default: the run's own lease).

        ("paused" | "succeeded" | "failed", error), or "retry" after a storage/connection
        error (the run goes back to the queue), or "fenced" when the lease was lost.
        """
        fence = fence or self._fence(run)
        try:
            latest = await self.graph.checkpointer.aget_tuple(self.config(run.thread_id))  # type: ignore[union-attr]
            order_after(latest.config["configurable"].get("checkpoint_id") if latest else None)
            if (run.input or {}).get("kind") == "message":
                # queued before the thread paused (a race with the pause): running it now would
                # drop the pending interrupt and leave its request orphaned
                pending = await self._pending_in(run.thread_id)
                if pending is not None:
                    return "cancelled", str(ThreadBusyError(pending))
            graph_input = await self._graph_input(run)
            if graph_input is not _SKIP:
                await self._run_graph(run, graph_input, fence)
            state = await self.graph.aget_state(self.config(run.thread_id))
            if state.interrupts or state.next:
                await self._record_pause(run, list(state.interrupts), tuple(state.next), fence)
                return "paused", None
        except FencedOffError as exc:
            return "fenced", str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {_one_line(exc)}"
            if is_transient(exc):
                log.warning("run %s hit a storage error, back to the queue: %s", run.id, error)
                return "retry", error
            log.warning("run %s failed: %s", run.id, error)
            return "failed", error
        return "succeeded", None

    def _fence(self, run: Run) -> LeaseFence:
        """The token this claim holds the run by (its attempt counts up on every takeover)."""
        owner = run.lease_owner or self.worker_id
        return LeaseFence(run.id, owner, run.attempts, self.settings.lease_seconds)

    async def _retry_later(self, run: Run, fence: LeaseFence, error: str) -> None:
        """Back to the queue with a capped exponential backoff; if the database stays away
        even for that, the lease runs out and any worker takes the run over anyway."""
        delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** min(run.retries, 10))
        requeued = await _persist(
            lambda: self.queue.retry_later(fence, delay_seconds=delay, error=error),
            f"requeue run {run.id}",
        )
        if requeued:
            await self.emit("run.requeued", run_id=run.id, thread_id=run.thread_id, error=error)
            self.metrics.runs.labels("requeued").inc()

    async def _keep_lease(self, fence: LeaseFence, work: asyncio.Task[Any]) -> bool:
        """Renew the lease while the run works; stop the work if the lease was lost."""
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            try:
                held = await self.queue.renew(
                    fence.run_id, self.worker_id, self.settings.lease_seconds, attempt=fence.attempt
                )
            except Exception as exc:
                log.warning("could not renew the lease of run %s (%s)", fence.run_id, _one_line(exc))
                continue
            if not held:
                work.cancel()
                return False

    async def _run_graph(self, run: Run, graph_input: Any, fence: LeaseFence | None = None) -> None:
        """Run to the next pause or the end, publishing reply tokens as they stream, and the
        chunks of every stream mode the run asked for (LangGraph's server API)."""
        config = self.config(run.thread_id, run.id, fence=fence)
        spec = run.input if isinstance(run.input, Mapping) else {}
        asked = [m for m in spec.get("stream_mode") or () if m in STREAM_MODES]
        options: dict[str, Any] = {
            key: spec[key] for key in ("interrupt_before", "interrupt_after", "context") if spec.get(key)
        }
        modes: set[StreamMode] = {STREAM_MODES[m] for m in asked}
        if self.settings.stream_tokens:
            modes.add("messages")
        if not modes:
            await self.graph.ainvoke(graph_input, config, **options)
            return
        async for mode, chunk in self.graph.astream(
            graph_input, config, stream_mode=sorted(modes), **options
        ):
            if mode == "messages":
                message = chunk[0] if isinstance(chunk, tuple) else chunk
                if (
                    self.settings.stream_tokens
                    and isinstance(message, AIMessageChunk)
                    and isinstance(message.content, str)
                    and message.content
                ):
                    await self.emit(
                        "message.delta", thread_id=run.thread_id, run_id=run.id, content=message.content
                    )
                if "messages-tuple" not in asked:
                    continue
            # `content` is what PgNotifier drops from an event too large to broadcast.
            await self.emit(
                "run.stream", thread_id=run.thread_id, run_id=run.id, mode=mode, content=to_jsonable(chunk)
            )

    async def _graph_input(self, run: Run) -> Any:
        """The input for this run; after a crash, continue from the checkpoint instead."""
        spec = run.input or {}
        if run.attempts > 1:  # this run was started before: did LangGraph take its input?
            checkpoint = await self.graph.checkpointer.aget_tuple(self.config(run.thread_id))  # type: ignore[union-attr]
            if checkpoint is not None and checkpoint.metadata.get("hitl_run_id") == run.id:
                state = await self.graph.aget_state(self.config(run.thread_id))
                # `next` leaves out tasks whose writes were saved before the crash; the step
                # is still unfinished while the snapshot has tasks: None continues it.
                unfinished = bool(state.next or state.tasks)
                return None if unfinished and not state.interrupts else _SKIP
        kind = spec.get("kind")
        if kind == "message":
            return {"messages": [("user", spec["message"])]}
        if kind == "resume":
            return Command(resume=spec["resume"])
        if kind == "continue":
            return None
        if kind == "graph":
            command = spec.get("command")
            if isinstance(command, Mapping):
                goto = command.get("goto")
                return Command(update=command.get("update"), goto=goto if goto is not None else ())
            return spec.get("input")
        raise ValueError(f"unknown run input {spec!r}")

    async def _record_pause(
        self,
        run: Run,
        interrupts: list[Interrupt],
        next_nodes: tuple[str, ...],
        fence: LeaseFence | None = None,
    ) -> None:
        requester = _requester_of(run)

        def items(db_now: datetime) -> list[NewRequest]:
            # Deadlines count from the database's time the lease was confirmed at (read by
            # the fencing statement itself), or from the test's fake clock.
            now = self.fake_clock() if self.fake_clock is not None else db_now
            made: list[NewRequest] = []
            for interrupt in interrupts:
                made.extend(_items_for(interrupt, now, requester))
            if not interrupts and next_nodes:
                # A breakpoint pauses someone's action too: it records whose, so separation of
                # duties (`self_approval: false`) applies to `continue` as to any approval.
                marker = f"breakpoint:{run.id}"
                made.append(
                    NewRequest(
                        kind="breakpoint",
                        interrupt_id=marker,
                        description=f"Paused before {list(next_nodes)}",
                        summary=one_line(f"Paused before {', '.join(map(str, next_nodes))}", MAX_SUMMARY),
                        # so the continue run works for the same person, not for whoever continued
                        requested_by=requester,
                    )
                )
            return made

        # A turn's other calls pause again each time one of them is resumed: their items are
        # announced once, when first recorded. A run recovering from a crash announces them
        # all again (it may have died between recording and announcing).
        created = await self.store.record_requests(
            run.thread_id, run.id, items, fence=fence, only_new=run.attempts <= 1
        )
        for request in created:
            await self.emit("approval.requested", approval=_public(request))
            await self.notifier.notify("approval.requested", request)

    # -- decisions -----------------------------------------------------------------------

    def check_decision(self, request: ApprovalRequest, answer: Any, actor: str) -> dict[str, Any]:
        """The same checks the gate applies, before anything is stored."""
        if request.kind == "question":
            if request.response_schema:
                try:
                    jsonschema.validate(answer, request.response_schema)
                except jsonschema.ValidationError as exc:
                    raise InvalidDecisionError(f"answer does not fit the question: {exc.message}") from exc
            return {"type": "answer", "value": answer}
        if request.kind == "breakpoint":
            if not isinstance(answer, Mapping) or answer.get("type") not in ("continue", "cancel"):
                raise InvalidDecisionError('a breakpoint takes {"type": "continue"} or {"type": "cancel"}')
            return {"type": str(answer["type"])}
        payload = request.payload if isinstance(request.payload, Mapping) else {}
        hitl = payload.get("hitl") if isinstance(payload.get("hitl"), Mapping) else {}
        prior = hitl.get("prior_decisions", []) if isinstance(hitl, Mapping) else []
        forbidden = {p.get("actor") for p in prior if p.get("type") in ("approve", "edit") and p.get("actor")}
        try:
            decision = parse_decision(
                answer,
                allowed=request.allowed_decisions,
                tool_name=request.tool or "",
                can_escalate=bool(request.escalate_to) and actor.startswith(SYSTEM),
                forbidden_actors=forbidden,
            )
        except DecisionError as exc:
            raise InvalidDecisionError(str(exc)) from exc
        out = decision.to_payload()
        out["actor"] = actor
        if decision.type == "edit" and request.response_schema:
            try:
                jsonschema.validate(out, request.response_schema)
            except jsonschema.ValidationError as exc:
                raise InvalidDecisionError(f"edited args do not fit {request.tool}: {exc.message}") from exc
        return out

    async def decide(
        self,
        request_id: str,
        answer: Any,
        *,
        actor: str | None = None,
        principal: Principal | None = None,
        status_override: str | None = None,
        run_options: Mapping[str, Any] | None = None,
        known: ApprovalRequest | None = None,
    ) -> ApprovalRequest:
        """Store a decision and resume when the interrupt is complete.

        People decide as a `principal` (authorization from the policy is checked here, so
        no adapter can forget it); only the service itself passes a bare system `actor`.
        `run_options` (stream modes, per-run breakpoints, …) go to the resume run it queues.
        `known`: the request as the caller has just read it (`/approve`'s inbox page), which
        spares reading it again. What is checked on it before the write (kind, role,
        requester, earlier stages, allowed decisions, schema) never changes once recorded;
        whether it is still pending and its deadline are decided by the store's conditional
        UPDATE, whatever the copy says.
        """
        if principal is not None:
            actor = principal.user
        if actor is None or (principal is None and not actor.startswith(SYSTEM)):
            raise ValueError("decide() needs the authenticated principal (or a system actor)")
        try:
            if known is not None and known.id == request_id:
                request = known
            else:
                request = await self.store.get(request_id)
        except Exception as exc:
            if is_transient(exc):
                raise DatabaseUnavailableError(exc, decision_stored=False) from exc
            raise
        if not request.is_pending:
            raise refusal(request)
        if principal is not None:
            denied = can_decide(principal, request, self.settings.access)
            if denied is not None:
                raise DecisionForbiddenError(denied, principal)
        decision = self.check_decision(request, answer, actor)
        status = status_override or DECIDED_BY_TYPE.get(decision["type"], "rejected")
        if decision["type"] == "cancel":
            status = "cancelled"
        by_deadline = actor == DEADLINE_ACTOR
        queued: list[Run] = []
        siblings_pending = False

        async def resume_in_decision(conn: AsyncConnection, decided: ApprovalRequest) -> list[NewAuditEntry]:
            # One transaction per decision: the resume is queued with it when this decision
            # completes its interrupt (reading the interrupt's items inside the transaction).
            nonlocal siblings_pending
            if decided.interrupt_id is None:
                return []
            items = await self.store.pending_for_interrupt(decided.interrupt_id, conn=conn)
            if any(i.is_pending for i in items):
                # A sibling is pending as this transaction sees it. On PostgreSQL a sibling's
                # decision committing meanwhile is not seen here: looked at again after commit.
                siblings_pending = True
                return []
            resume = self._resume_of(decided, items, run_options)
            if resume is None:
                return []
            made = await self.queue.enqueue_in(
                conn,
                decided.thread_id,
                resume,
                actor=actor,
                resume_key=decided.interrupt_id,
                run_id=self._wake.expect(),
            )
            if made is None:
                return []  # queued already (keyed by the interrupt)
            run, entry = made
            queued.append(run)
            return [entry]

        try:
            decided = await self.store.decide(
                request_id,
                status=status,  # type: ignore[arg-type]
                decision=decision,
                actor=actor,
                edited_args=decision.get("edited_action", {}).get("args")
                if decision["type"] == "edit"
                else None,
                reason=decision.get("message") if decision["type"] in ("reject", "escalate") else None,
                enforce_deadline=not by_deadline,
                now=self.fake_clock() if self.fake_clock else None,
                then=resume_in_decision,
            )
        except DeadlinePassedError as late:
            if by_deadline:
                raise  # another sweeper resolved it first
            # Too late, whether or not a sweeper runs: the deadline's policy decides, now.
            raise DeadlinePassedError(await self._apply_deadline(late.request)) from None
        except Exception as exc:
            if is_transient(exc):  # the connection may have dropped around the commit
                raise DatabaseUnavailableError(exc, decision_stored=None) from exc
            raise
        latency = (decided.decided_at or self.clock()) - request.created_at
        self.metrics.approval_latency.labels(status).observe(max(latency.total_seconds(), 0.0))
        self.metrics.decisions.labels(status).inc()
        try:
            await self.emit("approval.decided", approval=_public(decided))
            if not by_deadline:  # the deadline's own outcome is notified as expired / escalated
                await self.notifier.notify("approval.decided", decided)
            for run in queued:  # committed with the decision
                self._wake.ring(run.id)
                await self.emit("run.queued", run_id=run.id, thread_id=run.thread_id)
            if siblings_pending:
                await self._resume_if_complete(decided, actor, run_options)
        except Exception as exc:
            if not is_transient(exc):
                raise
            # Stored: the reconciler queues the resume once the database answers again.
            log.warning("decision on %s stored; its resume waits for the database (%s)", request_id, exc)
        return decided

    async def _resume_if_complete(
        self, decided: ApprovalRequest, actor: str, run_options: Mapping[str, Any] | None = None
    ) -> None:
        if decided.interrupt_id is None:
            return
        siblings = await self.store.pending_for_interrupt(decided.interrupt_id)
        if any(s.is_pending for s in siblings):
            return  # a batched interrupt resumes once every action is decided
        resume = self._resume_of(decided, siblings, run_options)
        if resume is None:
            return
        # Keyed by the interrupt: two processes that both see the last decision land (or the
        # reconciler after a crash) queue one resume between them.
        await self._enqueue(decided.thread_id, resume, actor, resume_key=decided.interrupt_id)

    @classmethod
    def _resume_of(
        cls, decided: ApprovalRequest, items: list[ApprovalRequest], run_options: Mapping[str, Any] | None
    ) -> dict[str, Any] | None:
        """The resume run's input once every item of the interrupt is decided (None: no resume)."""
        resume = cls._resume_value(items)
        if resume is None:
            return None
        if decided.requested_by:
            resume["requester"] = decided.requested_by
        options = {k: v for k, v in (run_options or {}).items() if k in GRAPH_RUN_KEYS and k != "command"}
        return {**options, **resume}

    @staticmethod
    def _resume_value(items: list[ApprovalRequest]) -> dict[str, Any] | None:
        first = items[0]
        decision = first.decision or {}
        if first.kind == "breakpoint":
            return {"kind": "continue"} if decision.get("type") == "continue" else None
        if first.kind == "question":
            return {"kind": "resume", "resume": {first.interrupt_id: decision.get("value")}}
        if first.kind == "batched_action":
            decisions = [dict(i.decision or {}) for i in sorted(items, key=lambda i: i.action_index)]
            return {"kind": "resume", "resume": {first.interrupt_id: {"decisions": decisions}}}
        return {"kind": "resume", "resume": {first.interrupt_id: decision}}

    # -- deadlines -----------------------------------------------------------------------

    async def _sweeper(self) -> None:
        """Deadlines and the decided-but-not-resumed check (worker processes); the gauge (all)."""
        sweeps = 0
        while True:
            jobs: list[Callable[[], Awaitable[object]]] = (
                [self.sweep_deadlines] if self.settings.workers else []
            )
            if self.settings.workers and sweeps % RECONCILE_EVERY == 0:
                jobs.append(self.reconcile)
            if self._to_prune:
                jobs.append(self.prune_checkpoints)
            sweeps += 1
            for job in jobs:
                try:
                    await job()
                except Exception:
                    log.exception("%s failed", job.__name__)
            with contextlib.suppress(Exception):
                await self._refresh_pending_gauge()
            await asyncio.sleep(self.settings.sweep_interval)

    async def sweep_deadlines(self) -> list[ApprovalRequest]:
        """Resolve every overdue request by its policy; returns what was resolved."""
        now = await self.now()
        resolved = []
        for request in await self.store.overdue(now):
            done = await self._resolve_by_deadline(request, now)
            if done is not None:
                resolved.append(done)
        return resolved

    async def _resolve_by_deadline(self, request: ApprovalRequest, now: datetime) -> ApprovalRequest | None:
        """Apply the deadline's policy to an overdue request; None if it was decided meanwhile."""
        view = _view_of(request)
        waited = (now - request.created_at).total_seconds()
        decision = timeout_decision(view, waited)
        status = "escalated" if decision["type"] == "escalate" else "expired"
        try:
            done = await self.decide(request.id, decision, actor=DEADLINE_ACTOR, status_override=status)
        except (AlreadyDecidedError, InvalidDecisionError):
            return None  # decided in time by a person, or by another sweeper
        if status == "escalated":
            self.metrics.escalations.inc()
            await self.emit("approval.escalated", approval=_public(done))
            await self.notifier.notify("approval.escalated", done)
        else:
            self.metrics.timeouts.inc()
            await self.emit("approval.expired", approval=_public(done))
            await self.notifier.notify("approval.expired", done)
        return done

    async def _apply_deadline(self, request: ApprovalRequest) -> ApprovalRequest:
        """A decision came late: resolve the request by its policy now (as the sweeper would)."""
        done = await self._resolve_by_deadline(request, await self.now())
        return done if done is not None else await self.store.get(request.id)

    # -- retention -----------------------------------------------------------------------

    @property
    def _retention(self) -> RetentionSettings | None:
        retention = self.settings.retention
        return retention if retention is not None and retention.enabled else None

    async def prune_checkpoints(self) -> PruneReport:
        """Prune a bounded batch of the threads whose run ended, to their newest checkpoints.

        The latest checkpoint always stays (a pending interrupt is one of its writes, and
        crash recovery reads its `hitl_run_id`); a run that writes to a thread meanwhile is
        safe (store/retention.py). A batch that hits a storage error is tried again later.
        """
        retention, saver = self._retention, self.graph.checkpointer
        if retention is None or not isinstance(saver, BaseCheckpointSaver):
            self._to_prune.clear()
            return PruneReport()
        batch = list(self._to_prune)[: retention.threads_per_pass]
        for thread_id in batch:
            self._to_prune.pop(thread_id, None)
        try:
            report = await aprune_threads(saver, batch, retention.keep_checkpoints)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("pruning checkpoints waits for the database (%s)", _one_line(exc))
            self._to_prune.update(dict.fromkeys(batch))
            return PruneReport()
        for thread_id in report.refused:
            log.info("thread %s uses a DeltaChannel: its checkpoints are not pruned", thread_id)
            self._prune_refused.add(thread_id)
        return report

    # -- recovery ------------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Queue the resume of every paused thread whose interrupt is fully decided, and put
        back in the queue every thread's latest run that failed on a storage error.

        Normally the last decision queues the resume; this catches a process that died
        between the decision's commit and the enqueue. The resume key makes a second
        enqueue a no-op. Runs failed by a storage error (versions before runs were retried)
        are queued again: their resume or message was acknowledged, so it must happen.
        """
        queued = 0
        for failed in await self.queue.failed_latest():
            if is_transient_text(failed.error) and await self.queue.requeue_failed(failed.id):
                log.warning(
                    "run %s had failed on a storage error (%s); queued again", failed.id, failed.error
                )
                queued += 1
                self._wake.ring(failed.id)
        for run in await self.queue.paused_with_nothing_pending():
            state = await self.graph.aget_state(self.config(run.thread_id))
            markers = [i.id for i in state.interrupts] or ([f"breakpoint:{run.id}"] if state.next else [])
            for interrupt_id in markers:
                items = await self.store.pending_for_interrupt(interrupt_id)
                if not items or any(i.is_pending for i in items):
                    continue
                resume = self._resume_value(items)
                if resume is None:
                    continue
                if items[0].requested_by:
                    resume["requester"] = items[0].requested_by
                resumed, new = await self.queue.enqueue(
                    run.thread_id, resume, actor=SYSTEM, resume_key=interrupt_id, run_id=self._wake.expect()
                )
                if new:
                    queued += 1
                    self._wake.ring(resumed.id)
        return queued

    recover = reconcile  # the name older callers use

    async def _refresh_pending_gauge(self) -> None:
        _, total = await self.store.inbox(InboxQuery(limit=1))
        self.metrics.pending.set(total)

    # -- reading -------------------------------------------------------------------------

    async def last_reply(self, thread_id: str) -> str:
        state = await self.graph.aget_state(self.config(thread_id))
        for message in reversed(state.values.get("messages") or []):
            if isinstance(message, AIMessage) and not message.tool_calls:
                return str(message.content)
        return ""


class _Doorbell:
    """Wakes one idle worker per run queued, not all of them.

    Each ring leaves a token (at most one per worker is kept); a worker that found nothing
    to claim waits for a token, or for its poll. A ring while every worker is busy or in
    the middle of a claim keeps its token, so the next worker to wait looks once more: no
    wake-up is lost. (An `asyncio.Event` woke every worker per run: all of them raced
    for it with a claim, the losers' a read, an UPDATE that matched nothing and a commit.)

    On PostgreSQL a run queued here also comes back as this process's own NOTIFY, which
    may arrive before the enqueue returns: a run's id is therefore made here (`expect`)
    before it is inserted, and the echo of an expected id is dropped (the last `ECHOES`).
    """

    ECHOES = 256

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._tokens: asyncio.Queue[None] = asyncio.Queue(maxsize=workers)
        self._expected: dict[str, None] = {}

    def expect(self) -> str:
        """The id for a run this process is about to queue: its NOTIFY echo wakes nobody."""
        run_id = uuid.uuid4().hex
        self._expected[run_id] = None
        while len(self._expected) > self.ECHOES:
            self._expected.pop(next(iter(self._expected)))
        return run_id

    def ring(self, run_id: str | None = None, *, remote: bool = False) -> None:
        if remote and run_id and run_id in self._expected:
            del self._expected[run_id]
            return  # our own NOTIFY coming back: this process rings for it itself
        with contextlib.suppress(asyncio.QueueFull):
            self._tokens.put_nowait(None)

    def ring_all(self) -> None:
        for _ in range(self.workers):
            with contextlib.suppress(asyncio.QueueFull):
                self._tokens.put_nowait(None)

    async def wait(self, within: float) -> bool:
        """A token (True), or `within` seconds (False: the worker polls the queue anyway)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._tokens.get()
                return True
        return False


class _RunningCalls:
    """The approved tool calls running in this process, and whether new ones may start."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.stopping = False
        self._changed = asyncio.Event()

    def start(self, key: str) -> None:
        if self.stopping:
            raise FencedOffError(f"this worker is stopping: tool call {key} was not started here")
        self.keys.add(key)

    def done(self, key: str) -> None:
        self.keys.discard(key)
        self._changed.set()

    def forget(self, thread_id: str) -> None:
        """A run's execution ended: none of its calls (keys `thread/message/call`) runs any more."""
        self.keys -= {key for key in self.keys if key.rsplit("/", 2)[0] == thread_id}
        self._changed.set()

    async def settled(self, within: float) -> bool:
        """Wait until no call runs (at most `within` seconds); True when none does."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while self.keys:
                    self._changed.clear()
                    await self._changed.wait()
        return not self.keys


_SKIP = object()
# Stream modes of LangGraph's server API the worker publishes, and the graph's mode for each.
STREAM_MODES: dict[str, StreamMode] = {
    "values": "values",
    "updates": "updates",
    "custom": "custom",
    "messages-tuple": "messages",
}
# What a run queued through LangGraph's server API keeps in its input.
GRAPH_RUN_KEYS = frozenset(
    {
        "input",
        "command",
        "interrupt_before",
        "interrupt_after",
        "context",
        "stream_mode",
        "assistant_id",
        "metadata",
        "multitask_strategy",
    }
)
RECONCILE_EVERY = 10  # sweeps between two reconcile passes
RETRY_BASE_SECONDS = 0.5  # backoff of a run sent back to the queue by a storage error
RETRY_MAX_SECONDS = 30.0
PERSIST_SECONDS = 30.0  # how long a finished run's outcome is retried against a database away


async def _persist(write: Callable[[], Awaitable[bool]], what: str) -> bool:
    """`write()` retried through storage errors for a while; False if it never got through
    (then the lease runs out and the run's next holder re-derives the outcome)."""
    delay, deadline = 0.2, time.monotonic() + PERSIST_SECONDS
    while True:
        try:
            return await write()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() > deadline:
                log.warning("could not %s (%s); its lease will run out and it is taken over", what, exc)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


_RUN_ENDS = frozenset({"run.succeeded", "run.failed", "run.paused", "run.cancelled"})


def _requester_of(run: Run) -> str | None:
    """Who the paused turn works for: a resume run carries the original requester, so
    stage 2 of a call is not 'requested by' the person who approved stage 1."""
    spec = run.input if isinstance(run.input, Mapping) else {}
    requester = spec.get("requester")
    return str(requester) if requester else run.created_by


def _view_of(request: ApprovalRequest) -> InterruptView:
    if request.payload is not None:
        return read_interrupt(request.payload)
    return InterruptView(kind="question", on_timeout=request.on_timeout, escalate_to=request.escalate_to)


def _public(request: ApprovalRequest) -> dict[str, Any]:
    """The JSON shape of a request in events and API responses."""
    data = {k: v for k, v in request.__dict__.items() if k not in ("payload", "response_schema")}
    for key in ("created_at", "deadline", "decided_at"):
        if data.get(key) is not None:
            data[key] = data[key].isoformat()
    data["allowed_decisions"] = list(request.allowed_decisions)
    data["provenance"] = provenance_of(request.payload)
    data["policy"] = policy_of(request.payload)
    choices = request.payload.get("choices") if isinstance(request.payload, dict) else None
    data["choices"] = choices if request.kind == "question" and isinstance(choices, list) else None
    return data


def policy_of(payload: Any) -> dict[str, Any] | None:
    """Why a person is asked, from the gate's payload: the policy rule that matched, its
    notes, and who decided the earlier stages of this call (the card shows them)."""
    hitl = payload.get("hitl") if isinstance(payload, dict) else None
    if not isinstance(hitl, dict):
        return None
    prior = hitl.get("prior_decisions")
    earlier = [
        {"stage": p.get("stage"), "actor": p.get("actor"), "type": p.get("type")}
        for p in (prior if isinstance(prior, list) else [])
        if isinstance(p, dict)
    ]
    notes = hitl.get("notes")
    return {
        "rule": hitl.get("rule"),
        "notes": [str(n) for n in notes] if isinstance(notes, list) else [],
        "earlier": earlier,
        "call_index": hitl.get("call_index"),
        "call_count": hitl.get("call_count"),
        # The model message that made the call: the inbox shows the calls of one turn together.
        "turn_id": hitl.get("turn_id"),
    }


def provenance_of(payload: Any) -> dict[str, Any] | None:
    """The gate's argument provenance (`hitl.provenance`), shown on every inbox item."""
    hitl = payload.get("hitl") if isinstance(payload, dict) else None
    provenance = hitl.get("provenance") if isinstance(hitl, dict) else None
    return provenance if isinstance(provenance, dict) else None


public_request = _public
