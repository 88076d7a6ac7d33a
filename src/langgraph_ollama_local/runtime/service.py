"""`ServiceRuntime`: graph runs in the background, approvals through the store.

- A run is queued in the store and executed by a worker task; API calls never wait on
  the LLM unless they ask to (`wait_run`).
- When a run pauses, every pending interrupt becomes inbox items (approval requests, or
  a generic question / breakpoint item), recorded with an audit entry, then announced.
- A decision is checked like the gate checks it, stored once (with its audit entry), and
  when every item of that interrupt is decided the thread is resumed by interrupt id.
- A sweeper resolves requests past their deadline by their policy, as the system actor.
- On start it recovers: queued and interrupted runs are re-run from their checkpoint,
  decided-but-not-resumed interrupts are resumed, paused threads stay pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import Command, Interrupt

from langgraph_ollama_local.approvals.decisions import parse_decision
from langgraph_ollama_local.approvals.errors import DecisionError
from langgraph_ollama_local.approvals.lifecycle import DECIDED_BY_TYPE, ApprovalRequest, RequestKind
from langgraph_ollama_local.approvals.policy import AccessRules
from langgraph_ollama_local.approvals.requests import InterruptView, read_interrupt
from langgraph_ollama_local.auth import Denied, Principal, can_decide
from langgraph_ollama_local.runtime.events import EventBus
from langgraph_ollama_local.runtime.local import timeout_decision
from langgraph_ollama_local.runtime.metrics import Metrics
from langgraph_ollama_local.store.approval_store import (
    AlreadyDecidedError,
    ApprovalStore,
    InboxQuery,
    NewRequest,
    Run,
)

log = logging.getLogger(__name__)
SYSTEM = "system"
DEADLINE_ACTOR = "system:deadline"


class InvalidDecisionError(ValueError):
    """The decision does not fit the request; nothing was stored."""


class DecisionForbiddenError(PermissionError):
    """The authenticated person may not make this decision (role, own request, same person)."""

    def __init__(self, denied: Denied, principal: Principal) -> None:
        super().__init__(denied.reason)
        self.denied, self.principal = denied, principal


class ThreadNotPausedError(RuntimeError):
    """A resume was asked for a thread that waits for nothing."""


class Notifier:
    """Receives lifecycle events to tell people about (webhook, email)."""

    async def notify(self, event: str, request: ApprovalRequest) -> None:  # pragma: no cover - interface
        return None


@dataclass(frozen=True)
class Settings:
    workers: int = 2
    sweep_interval: float = 1.0
    access: AccessRules = field(default_factory=AccessRules)
    stream_tokens: bool = True


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
        return [NewRequest(kind="question", description=view.question, **common)]
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
            **common,
        )
        for index, action in enumerate(view.actions)
    ]


def _jsonable(value: Any) -> bool:
    import json

    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class ServiceRuntime:
    """Owns the worker tasks, the sweeper and the decision path for one graph."""

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
    ) -> None:
        if graph.checkpointer is None:
            raise ValueError("the service runtime needs a graph compiled with a checkpointer")
        self.graph = graph
        self.store = store
        self.events = events or EventBus()
        self.notifier = notifier or Notifier()
        self.metrics = metrics or Metrics()
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._thread_locks: dict[str, asyncio.Lock] = {}
        self._run_done: dict[str, asyncio.Event] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        await self.recover()
        for index in range(self.settings.workers):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"hitl-worker-{index}"))
        self._tasks.append(asyncio.create_task(self._sweeper(), name="hitl-sweeper"))
        await self._refresh_pending_gauge()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    @staticmethod
    def config(thread_id: str, run_id: str | None = None) -> RunnableConfig:
        config: RunnableConfig = {"configurable": {"thread_id": thread_id}}
        if run_id:
            config["metadata"] = {"hitl_run_id": run_id}
        return config

    # -- runs ----------------------------------------------------------------------------

    async def submit_message(self, thread_id: str, message: str, *, actor: str) -> Run:
        await self.store.ensure_thread(thread_id, actor=actor)
        return await self._enqueue(thread_id, {"kind": "message", "message": message}, actor)

    async def _enqueue(self, thread_id: str, run_input: dict[str, Any], actor: str) -> Run:
        run = await self.store.create_run(thread_id, run_input, actor=actor)
        self._run_done[run.id] = asyncio.Event()
        self.events.publish("run.queued", run_id=run.id, thread_id=thread_id)
        await self._queue.put(run.id)
        return run

    async def wait_run(self, run_id: str, wait_seconds: float | None = None) -> Run:
        event = self._run_done.get(run_id)
        run = await self.store.get_run(run_id)
        if event is not None and run.status in ("queued", "running"):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_seconds):
                    await event.wait()
        return await self.store.get_run(run_id)

    async def _worker(self) -> None:
        while True:
            run_id = await self._queue.get()
            try:
                await self._execute(run_id)
            except Exception:  # a worker must outlive any single run
                log.exception("run %s failed unexpectedly", run_id)
            finally:
                self._queue.task_done()

    async def _execute(self, run_id: str) -> None:
        run = await self.store.get_run(run_id)
        lock = self._thread_locks.setdefault(run.thread_id, asyncio.Lock())
        async with lock:
            await self.store.set_run_status(run_id, "running")
            self.events.publish("run.started", run_id=run_id, thread_id=run.thread_id)
            started = time.perf_counter()
            status, error = "succeeded", None
            try:
                graph_input = await self._graph_input(run)
                if graph_input is not _SKIP:
                    await self._run_graph(run, graph_input)
                state = await self.graph.aget_state(self.config(run.thread_id))
                if state.interrupts or state.next:
                    status = "paused"
                    await self._record_pause(run, list(state.interrupts), tuple(state.next))
            except Exception as exc:
                status, error = "failed", f"{type(exc).__name__}: {exc}"
                log.warning("run %s failed: %s", run_id, error)
            await self.store.set_run_status(run_id, status, error=error)
            self.metrics.run_duration.labels(status).observe(time.perf_counter() - started)
            self.metrics.runs.labels(status).inc()
            self.events.publish(f"run.{status}", run_id=run_id, thread_id=run.thread_id, error=error)
            done = self._run_done.pop(run_id, None)
            if done:
                done.set()

    async def _run_graph(self, run: Run, graph_input: Any) -> None:
        """Run to the next pause or the end, publishing reply tokens as they stream."""
        config = self.config(run.thread_id, run.id)
        if not self.settings.stream_tokens:
            await self.graph.ainvoke(graph_input, config)
            return
        async for chunk, _meta in self.graph.astream(graph_input, config, stream_mode="messages"):
            if isinstance(chunk, AIMessageChunk) and isinstance(chunk.content, str) and chunk.content:
                self.events.publish(
                    "message.delta", thread_id=run.thread_id, run_id=run.id, content=chunk.content
                )

    async def _graph_input(self, run: Run) -> Any:
        """The input for this run; after a crash, continue from the checkpoint instead."""
        spec = run.input or {}
        if run.attempts > 0:  # this run was started before: did LangGraph take its input?
            checkpoint = await self.graph.checkpointer.aget_tuple(self.config(run.thread_id))  # type: ignore[union-attr]
            if checkpoint is not None and checkpoint.metadata.get("hitl_run_id") == run.id:
                state = await self.graph.aget_state(self.config(run.thread_id))
                return None if state.next and not state.interrupts else _SKIP
        kind = spec.get("kind")
        if kind == "message":
            return {"messages": [("user", spec["message"])]}
        if kind == "resume":
            return Command(resume=spec["resume"])
        if kind == "continue":
            return None
        raise ValueError(f"unknown run input {spec!r}")

    async def _record_pause(self, run: Run, interrupts: list[Interrupt], next_nodes: tuple[str, ...]) -> None:
        now = self.clock()
        items: list[NewRequest] = []
        for interrupt in interrupts:
            items.extend(_items_for(interrupt, now, _requester_of(run)))
        if not interrupts and next_nodes:
            marker = f"breakpoint:{run.id}"
            items.append(
                NewRequest(
                    kind="breakpoint", interrupt_id=marker, description=f"Paused before {list(next_nodes)}"
                )
            )
        created = await self.store.record_requests(run.thread_id, run.id, items)
        for request in created:
            self.events.publish("approval.requested", approval=_public(request))
            await self.notifier.notify("approval.requested", request)
        await self._refresh_pending_gauge()

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
    ) -> ApprovalRequest:
        """Store a decision and resume when the interrupt is complete.

        People decide as a `principal` (authorization from the policy is checked here, so
        no adapter can forget it); only the service itself passes a bare system `actor`.
        """
        if principal is not None:
            actor = principal.user
        if actor is None or (principal is None and not actor.startswith(SYSTEM)):
            raise ValueError("decide() needs the authenticated principal (or a system actor)")
        request = await self.store.get(request_id)
        if not request.is_pending:
            raise AlreadyDecidedError(request)
        if principal is not None:
            denied = can_decide(principal, request, self.settings.access)
            if denied is not None:
                raise DecisionForbiddenError(denied, principal)
        decision = self.check_decision(request, answer, actor)
        status = status_override or DECIDED_BY_TYPE.get(decision["type"], "rejected")
        if decision["type"] == "cancel":
            status = "cancelled"
        decided = await self.store.decide(
            request_id,
            status=status,  # type: ignore[arg-type]
            decision=decision,
            actor=actor,
            edited_args=decision.get("edited_action", {}).get("args") if decision["type"] == "edit" else None,
            reason=decision.get("message") if decision["type"] in ("reject", "escalate") else None,
        )
        latency = (decided.decided_at or self.clock()) - request.created_at
        self.metrics.approval_latency.labels(status).observe(max(latency.total_seconds(), 0.0))
        self.metrics.decisions.labels(status).inc()
        self.events.publish("approval.decided", approval=_public(decided))
        await self._refresh_pending_gauge()
        await self._resume_if_complete(decided, actor)
        return decided

    async def _resume_if_complete(self, decided: ApprovalRequest, actor: str) -> None:
        if decided.interrupt_id is None:
            return
        siblings = await self.store.pending_for_interrupt(decided.interrupt_id)
        if any(s.is_pending for s in siblings):
            return  # a batched interrupt resumes once every action is decided
        resume = self._resume_value(siblings)
        if resume is None:
            return
        if decided.requested_by:
            resume["requester"] = decided.requested_by
        await self._enqueue(decided.thread_id, resume, actor)

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
        while True:
            try:
                await self.sweep_deadlines()
            except Exception:
                log.exception("deadline sweep failed")
            await asyncio.sleep(self.settings.sweep_interval)

    async def sweep_deadlines(self) -> list[ApprovalRequest]:
        """Resolve every overdue request by its policy; returns what was resolved."""
        now = self.clock()
        resolved = []
        for request in await self.store.overdue(now):
            view = _view_of(request)
            waited = (now - request.created_at).total_seconds()
            decision = timeout_decision(view, waited)
            status = "escalated" if decision["type"] == "escalate" else "expired"
            try:
                done = await self.decide(request.id, decision, actor=DEADLINE_ACTOR, status_override=status)
            except (AlreadyDecidedError, InvalidDecisionError):
                continue  # decided meanwhile by a person: theirs wins
            if status == "escalated":
                self.metrics.escalations.inc()
                self.events.publish("approval.escalated", approval=_public(done))
                await self.notifier.notify("approval.escalated", done)
            else:
                self.metrics.timeouts.inc()
                self.events.publish("approval.expired", approval=_public(done))
                await self.notifier.notify("approval.expired", done)
            resolved.append(done)
        return resolved

    # -- recovery ------------------------------------------------------------------------

    async def recover(self) -> None:
        """After a restart: re-run interrupted runs, resume decided interrupts."""
        for run in await self.store.runs_with_status("queued", "running"):
            self._run_done[run.id] = asyncio.Event()
            await self._queue.put(run.id)
        for run in await self.store.runs_with_status("paused"):
            state = await self.graph.aget_state(self.config(run.thread_id))
            for interrupt in state.interrupts:
                items = await self.store.pending_for_interrupt(interrupt.id)
                if items and not any(i.is_pending for i in items):
                    resume = self._resume_value(items)
                    if resume is not None and items[0].requested_by:
                        resume["requester"] = items[0].requested_by
                    if resume is not None and not await self._resume_already_queued(run.thread_id):
                        await self._enqueue(run.thread_id, resume, SYSTEM)

    async def _resume_already_queued(self, thread_id: str) -> bool:
        return any(r.thread_id == thread_id for r in await self.store.runs_with_status("queued", "running"))

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


_SKIP = object()


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
    return data


public_request = _public
