"""`ApprovalStore`: the approval lifecycle on SQLite or PostgreSQL.

Every change and its audit entry commit in one transaction. A request is decided once:
the decision is a conditional `UPDATE … WHERE status = 'pending' AND (no deadline or the
deadline is still ahead)`, so of two concurrent deciders exactly one changes the row and
the other gets `AlreadyDecidedError`, and a decision after the deadline changes nothing
(`DeadlinePassedError`: the deadline's policy decides). Times are the database's clock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, cast, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest, RequestKind, RequestStatus
from langgraph_ollama_local.auth.threads import DEFAULT_ITEM_ROLE, ThreadFacts
from langgraph_ollama_local.store.audit import (
    _KEYS,
    Anchor,
    AuditEntry,
    AuditReport,
    NewAuditEntry,
    append_audit,
    append_audit_entries,
    as_utc,
    head_of,
    use_audit_key,
    verify_audit,
)
from langgraph_ollama_local.store.clock import at_or_db_now, read_db_now
from langgraph_ollama_local.store.database import create_engine_for, migrate
from langgraph_ollama_local.store.lease import LeaseFence, require_lease_at
from langgraph_ollama_local.store.schema import (
    approval_requests,
    audit_log,
    insert_unless_exists,
    notifications,
    runs,
    threads,
)


class StoreError(Exception):
    """Base of the store's errors."""


class NotFoundError(StoreError, LookupError):
    """No such request, run or thread."""


class AlreadyDecidedError(StoreError):
    """The request is no longer pending: someone (or the deadline) decided it first."""

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__(
            f"approval {request.id} is already {request.status}"
            + (f" by {request.decided_by}" if request.decided_by else "")
            + "; nothing was changed"
        )
        self.request = request


class DeadlinePassedError(AlreadyDecidedError):
    """The decision arrived after the request's deadline; it was not stored.

    The deadline's policy (`on_timeout`: reject, escalate or approve) decides instead;
    `request` is the request as that left it (still pending if nobody applied it yet).
    """

    def __init__(self, request: ApprovalRequest) -> None:
        deadline = request.deadline.isoformat() if request.deadline else "?"
        if request.is_pending:
            outcome = f"its policy (on_timeout: {request.on_timeout or 'reject'}) decides it"
        else:
            outcome = f"its policy resolved it: {request.status}"
        StoreError.__init__(
            self,
            f"approval {request.id} passed its deadline ({deadline}) before this decision arrived, "
            f"so {outcome}; your decision was not stored",
        )
        self.request = request


def refusal(request: ApprovalRequest) -> AlreadyDecidedError:
    """Why a decision on `request` cannot be stored: its deadline passed, or someone decided first."""
    if request.is_pending or request.status in DEADLINE_STATUSES:
        return DeadlinePassedError(request)
    return AlreadyDecidedError(request)


DEADLINE_STATUSES = ("expired", "escalated")  # only a deadline's policy leaves these


@dataclass(frozen=True)
class NewRequest:
    """What the runtime knows about one item when an interrupt is raised."""

    kind: RequestKind
    interrupt_id: str | None
    action_index: int = 0
    tool: str | None = None
    tool_call_id: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    digest: str | None = None
    stage: str | None = None
    stage_index: int = 0
    stage_count: int = 1
    required_role: str | None = None
    allowed_decisions: tuple[str, ...] = ()
    description: str | None = None
    summary: str | None = None
    deadline: datetime | None = None
    on_timeout: str | None = None
    escalate_to: str | None = None
    requested_by: str | None = None
    payload: Any = None
    response_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Run:
    id: str
    thread_id: str
    status: str
    input: Any
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0
    error: str | None = None
    created_by: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    resume_key: str | None = None
    not_before: datetime | None = None
    retries: int = 0


_REQUEST_FIELDS = {f.name for f in fields(ApprovalRequest)}


def _to_request(row: Any) -> ApprovalRequest:
    data = {k: v for k, v in row._mapping.items() if k in _REQUEST_FIELDS}
    for key in ("created_at", "deadline", "decided_at"):
        if data.get(key) is not None:
            data[key] = as_utc(data[key])
    data["allowed_decisions"] = tuple(data.get("allowed_decisions") or ())
    data["args"] = data.get("args") or {}
    return ApprovalRequest(**data)


async def _insert_new_item(conn: AsyncConnection, row: dict[str, Any]) -> bool:
    """Insert an inbox item unless its (interrupt id, action index) has one; True if inserted.

    One statement (`INSERT … ON CONFLICT DO NOTHING RETURNING id`) instead of a read, then
    an insert: the unique key `uq_hitl_request_interrupt_action` decides, which also holds
    against a concurrent insert of the same item (the read could not see it)."""
    stmt = insert_unless_exists(conn.dialect.name, approval_requests, ("interrupt_id", "action_index"), row)
    return (await conn.execute(stmt.returning(approval_requests.c.id))).first() is not None


def _to_run(row: Any) -> Run:
    data = dict(row._mapping)
    for key in ("created_at", "started_at", "finished_at", "lease_expires_at", "not_before"):
        if data.get(key) is not None:
            data[key] = as_utc(data[key])
    return Run(**data)


ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
# A thread's status is its latest run's: LangGraph's four words over our run states.
RUN_STATUSES_OF_THREAD: dict[str, tuple[str, ...]] = {
    "idle": ("succeeded", "cancelled"),
    "busy": ("queued", "running"),
    "interrupted": ("paused",),
    "error": ("failed",),
}


@dataclass(frozen=True)
class ThreadQuery:
    ids: Sequence[str] | None = None
    status: ThreadStatus | None = None
    metadata: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0


@dataclass(frozen=True)
class ThreadRow:
    id: str
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    metadata: dict[str, Any]
    status: ThreadStatus
    run_status: str | None


def _to_thread(row: Any) -> ThreadRow:
    data = row._mapping
    created = as_utc(data["created_at"])
    run_at = as_utc(data["run_at"]) if data["run_at"] is not None else created
    run_status = data["run_status"]
    status: ThreadStatus = "idle"
    for name, statuses in RUN_STATUSES_OF_THREAD.items():
        if run_status in statuses:
            status = name  # type: ignore[assignment]
    return ThreadRow(
        id=data["id"],
        created_at=created,
        updated_at=max(created, run_at),
        created_by=data["created_by"],
        metadata=dict(data["meta"] or {}),
        status=status,
        run_status=run_status,
    )


def _latest_run_status() -> Any:
    """SQL: the status of the thread's latest run (NULL when it has none)."""
    return (
        select(runs.c.status)
        .where(runs.c.thread_id == threads.c.id)
        .order_by(runs.c.created_at.desc(), runs.c.id.desc())
        .limit(1)
        .correlate(threads)
        .scalar_subquery()
    )


def _latest_run_at() -> Any:
    return (
        select(func.max(runs.c.created_at))
        .where(runs.c.thread_id == threads.c.id)
        .correlate(threads)
        .scalar_subquery()
    )


def _thread_status_is(latest: Any, status: ThreadStatus) -> ColumnElement[bool]:
    """SQL: the thread's status (from its latest run's, `RUN_STATUSES_OF_THREAD`) is `status`."""
    condition: ColumnElement[bool] = latest.in_(RUN_STATUSES_OF_THREAD[status])
    if status == "idle":
        condition = or_(condition, latest.is_(None))  # no run yet
    return condition


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Reader:
    """Someone who reads only some threads (auth/threads.py): listings are cut to those."""

    user: str
    roles: frozenset[str] = frozenset()


def decidable_by(decider: Reader) -> ColumnElement[bool]:
    """SQL for the role half of `can_decide`: the item's role is one of the person's (no
    role: the default approver role), or a question this person asked."""
    items = approval_requests.c
    roles = sorted(decider.roles)
    match: ColumnElement[bool] = items.required_role.in_(roles) if roles else false()
    if DEFAULT_ITEM_ROLE in decider.roles:
        match = or_(match, items.required_role.is_(None))
    asked = and_(items.kind == "question", items.requested_by == decider.user)
    return or_(match, asked)


def readable_by(reader: Reader, thread_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """SQL for `can_read_thread` without the read-everything roles: owner, participant, or a
    role that may decide an item pending in the thread."""
    items = approval_requests.alias("readable_items")
    roles = sorted(reader.roles)
    role_match: ColumnElement[bool] = items.c.required_role.in_(roles) if roles else false()
    if DEFAULT_ITEM_ROLE in reader.roles:
        role_match = or_(role_match, items.c.required_role.is_(None))
    involved = select(items.c.thread_id).where(
        or_(
            and_(items.c.status == "pending", role_match),
            items.c.requested_by == reader.user,
            items.c.decided_by == reader.user,
        )
    )
    owned = select(threads.c.id).where(threads.c.owner == reader.user)
    return or_(thread_id.in_(owned), thread_id.in_(involved))


@dataclass(frozen=True)
class InboxQuery:
    status: str | None = "pending"
    tool: str | None = None
    thread_id: str | None = None
    role: str | None = None
    limit: int = 50
    offset: int = 0
    # Count at most this many matching rows (None: all). An exact COUNT reads every
    # matching row, so it grows with the backlog; a capped one stays flat.
    count_limit: int | None = None
    # Only items of threads this person may read (None: everything, e.g. the admin role).
    reader: Reader | None = None
    # Substring (case-insensitive) of the tool, summary, thread id or requester.
    q: str | None = None
    # Only items this person could hold the decision of by role (the SQL half of
    # `decision_refusal`; the caller applies the rest: own request, earlier stages).
    decider: Reader | None = None


class ApprovalStore:
    """Async repository over one SQL database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    async def open(
        cls, url: str, *, run_migrations: bool = True, audit_key: bytes | None = None
    ) -> ApprovalStore:
        """Open (and migrate) the store; with `audit_key` every audit entry it appends is keyed.

        `StorageUnavailableError` when the database does not answer.
        """
        if run_migrations:
            import asyncio

            from langgraph_ollama_local.store.checkpointer import storage_unavailable
            from langgraph_ollama_local.store.faults import is_transient

            try:
                await asyncio.to_thread(migrate, url)
            except Exception as exc:
                if is_transient(exc):
                    raise storage_unavailable(url, exc) from exc
                raise
        store = cls(create_engine_for(url))
        use_audit_key(store.engine, audit_key)
        return store

    async def close(self) -> None:
        await self.engine.dispose()

    # -- threads and runs ---------------------------------------------------------------

    async def ensure_thread(
        self,
        thread_id: str,
        *,
        actor: str,
        title: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Create the thread row, owned by `actor`, if missing; returns the thread's owner.

        Of two people creating the same new thread at once, one insert wins and both are
        told that winner, so nobody posts into a thread that became someone else's.
        `metadata` is LangGraph's thread metadata (`threads.create(metadata=…)`).
        """
        try:
            async with self.engine.begin() as conn:
                row = (
                    await conn.execute(
                        select(threads.c.owner, threads.c.created_by).where(threads.c.id == thread_id)
                    )
                ).first()
                if row is not None:
                    return str(row.owner or row.created_by or actor)
                await conn.execute(
                    insert(threads).values(
                        id=thread_id,
                        created_at=utcnow(),
                        created_by=actor,
                        owner=actor,
                        title=title,
                        meta=metadata,
                    )
                )
                await append_audit(
                    conn,
                    actor=actor,
                    action="thread.created",
                    subject_type="thread",
                    subject_id=thread_id,
                    thread_id=thread_id,
                    data={"owner": actor, **({"metadata": metadata} if metadata else {})},
                )
                return actor
        except IntegrityError:
            facts = await self.thread_facts(thread_id)
            if facts.owner is None:  # pragma: no cover - the conflicting row cannot vanish
                raise
            return facts.owner

    async def post_to_thread(
        self,
        thread_id: str,
        *,
        actor: str,
        then: Callable[[AsyncConnection, str], Awaitable[Sequence[NewAuditEntry]]],
    ) -> str:
        """`ensure_thread` and what is posted into the thread, in one transaction.

        The thread row is created, owned by `actor`, if missing (of two creating it at once,
        `ON CONFLICT DO NOTHING` lets one win and the other reads the winner); then
        `then(conn, owner)` runs in the same transaction: it may refuse by raising (nothing
        is written then, not even a new thread row) or write and return its audit entries,
        which follow `thread.created` in the chain (the head written once). Returns the owner.
        """
        async with self.engine.begin() as conn:
            entries: list[NewAuditEntry] = []
            owner_of = select(threads.c.owner, threads.c.created_by).where(threads.c.id == thread_id)
            row = (await conn.execute(owner_of)).first()
            if row is None:
                new = {"id": thread_id, "created_at": utcnow(), "created_by": actor, "owner": actor}
                insert_thread = insert_unless_exists(conn.dialect.name, threads, ("id",), new)
                created = (await conn.execute(insert_thread.returning(threads.c.id))).first()
                if created is not None:
                    entries.append(
                        NewAuditEntry(
                            actor=actor,
                            action="thread.created",
                            subject_type="thread",
                            subject_id=thread_id,
                            thread_id=thread_id,
                            data={"owner": actor},
                        )
                    )
                else:  # created meanwhile by someone else: it is theirs
                    row = (await conn.execute(owner_of)).one()
            owner = actor if row is None else str(row.owner or row.created_by or actor)
            entries.extend(await then(conn, owner))
            await append_audit_entries(conn, entries)
        return owner

    async def search_threads(self, query: ThreadQuery) -> list[ThreadRow]:
        """Threads with the status of their latest run, newest first (LangGraph's threads.search).

        Status and metadata are filtered in SQL, so a search never loads every thread.
        """
        latest, touched = _latest_run_status(), _latest_run_at()
        stmt = select(threads, latest.label("run_status"), touched.label("run_at"))
        if query.ids is not None:
            stmt = stmt.where(threads.c.id.in_(query.ids))
        if query.status is not None:
            stmt = stmt.where(_thread_status_is(latest, query.status))
        for key, value in (query.metadata or {}).items():
            stmt = stmt.where(self._metadata_matches(key, value))
        stmt = (
            stmt.order_by(threads.c.created_at.desc(), threads.c.id).limit(query.limit).offset(query.offset)
        )
        async with self.engine.connect() as conn:
            rows = await conn.execute(stmt)
            return [_to_thread(r) for r in rows]

    def _metadata_matches(self, key: str, value: Any) -> Any:
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return cast(threads.c.meta, JSONB).contains({key: value})
        path = '$."' + key.replace('"', "") + '"'
        found = func.json_extract(threads.c.meta, path)
        if value is None:
            return found.is_(None)
        if isinstance(value, (dict, list)):
            return func.json(found) == func.json(json.dumps(value))
        return found == value

    async def get_thread(self, thread_id: str) -> ThreadRow:
        found = await self.search_threads(ThreadQuery(ids=[thread_id], limit=1))
        if not found:
            raise NotFoundError(f"thread {thread_id!r} does not exist")
        return found[0]

    async def run_by_resume_key(self, resume_key: str) -> Run | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.resume_key == resume_key))).first()
        return _to_run(row) if row is not None else None

    async def thread_exists(self, thread_id: str) -> bool:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(select(threads.c.id).where(threads.c.id == thread_id))
            ).first() is not None

    async def thread_facts(self, thread_id: str) -> ThreadFacts:
        """Owner, the roles of its pending items and who took part: what `can_read_thread` needs."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(threads.c.owner, threads.c.created_by).where(threads.c.id == thread_id)
                )
            ).first()
            if row is None:
                return ThreadFacts(thread_id, exists=False)
            items = (
                await conn.execute(
                    select(
                        approval_requests.c.status,
                        approval_requests.c.required_role,
                        approval_requests.c.requested_by,
                        approval_requests.c.decided_by,
                    ).where(approval_requests.c.thread_id == thread_id)
                )
            ).all()
        pending = frozenset(i.required_role or DEFAULT_ITEM_ROLE for i in items if i.status == "pending")
        people = frozenset(p for i in items for p in (i.requested_by, i.decided_by) if p)
        return ThreadFacts(
            thread_id,
            exists=True,
            owner=row.owner or row.created_by,
            pending_roles=pending,
            participants=people,
        )

    async def list_threads(
        self,
        limit: int = 50,
        offset: int = 0,
        *,
        reader: Reader | None = None,
        status: ThreadStatus | None = None,
    ) -> list[dict[str, Any]]:
        """Threads newest first, cut to what `reader` may read, each with its status (its latest
        run's, as `search_threads`), `updated_at` and how many requests are `pending` in it."""
        latest, touched = _latest_run_status(), _latest_run_at()
        pending = (
            select(func.count())
            .select_from(approval_requests)
            .where(approval_requests.c.thread_id == threads.c.id, approval_requests.c.status == "pending")
            .correlate(threads)
            .scalar_subquery()
        )
        stmt = select(threads, latest.label("run_status"), touched.label("run_at"), pending.label("pending"))
        if reader is not None:
            stmt = stmt.where(readable_by(reader, threads.c.id))
        if status is not None:
            stmt = stmt.where(_thread_status_is(latest, status))
        async with self.engine.connect() as conn:
            rows = await conn.execute(stmt.order_by(threads.c.created_at.desc()).limit(limit).offset(offset))
            listed = []
            for r in rows:
                shown = _to_thread(r)
                data = {k: v for k, v in r._mapping.items() if k not in ("run_status", "run_at")}
                listed.append({**data, "status": shown.status, "updated_at": shown.updated_at})
            return listed

    async def create_run(self, thread_id: str, run_input: Any, *, actor: str) -> Run:
        run = Run(
            id=uuid.uuid4().hex,
            thread_id=thread_id,
            status="queued",
            input=run_input,
            created_at=utcnow(),
            created_by=actor,
        )
        async with self.engine.begin() as conn:
            await conn.execute(insert(runs).values(**run.__dict__))
            await append_audit(
                conn,
                actor=actor,
                action="run.created",
                subject_type="run",
                subject_id=run.id,
                thread_id=thread_id,
                data={"input": run_input},
            )
        return run

    async def active_runs_by(self, actor: str) -> int:
        """Runs this person started that are queued or running (uses the status index)."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                select(func.count())
                .select_from(runs)
                .where(runs.c.status.in_(("queued", "running")), runs.c.created_by == actor)
            )
        return int(value or 0)

    async def get_run(self, run_id: str) -> Run:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(runs).where(runs.c.id == run_id))).first()
        if row is None:
            raise NotFoundError(f"run {run_id} does not exist")
        return _to_run(row)

    async def set_run_status(self, run_id: str, status: str, *, error: str | None = None) -> None:
        values: dict[str, Any] = {"status": status}
        now = utcnow()
        if status == "running":
            values["started_at"] = now
            values["attempts"] = runs.c.attempts + 1
        if status in ("succeeded", "failed", "cancelled", "paused"):
            values["finished_at"] = now
        if error is not None:
            values["error"] = error
        async with self.engine.begin() as conn:
            await conn.execute(update(runs).where(runs.c.id == run_id).values(**values))

    async def runs_with_status(self, *statuses: str) -> list[Run]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(runs).where(runs.c.status.in_(statuses)).order_by(runs.c.created_at)
            )
            return [_to_run(r) for r in rows]

    async def thread_runs(self, thread_id: str) -> list[Run]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(runs).where(runs.c.thread_id == thread_id).order_by(runs.c.created_at)
            )
            return [_to_run(r) for r in rows]

    # -- approval requests -------------------------------------------------------------

    async def record_requests(
        self,
        thread_id: str,
        run_id: str | None,
        items: Sequence[NewRequest] | Callable[[datetime], Sequence[NewRequest]],
        *,
        actor: str = "system",
        fence: LeaseFence | None = None,
        only_new: bool = False,
    ) -> list[ApprovalRequest]:
        """Record the items of an interrupt; idempotent per (interrupt id, action index).

        Returns every item, or with `only_new` the ones this call created (an interrupt that
        is raised again, as a turn's other calls are while one is resumed, is not new).
        With a `fence` (the run's lease), only while the database confirms it, in the same
        transaction (`FencedOffError` otherwise): a worker that was taken over records nothing.
        `items` may be a function of the database's time (when the deadlines are measured
        from): it is called with the time the lease was confirmed at, so the pause reads
        the clock once, in the fencing statement.
        """
        created: list[ApprovalRequest] = []
        audited: list[NewAuditEntry] = []
        async with self.engine.begin() as conn:
            if fence is not None:
                now = await require_lease_at(conn, fence, "recording the pause's inbox items")
            else:
                now = await read_db_now(conn)
            for item in items(now) if callable(items) else items:
                request = ApprovalRequest(
                    id=uuid.uuid4().hex,
                    thread_id=thread_id,
                    status="pending",
                    created_at=now,
                    **{k: v for k, v in item.__dict__.items()},
                )
                row = {k: v for k, v in request.__dict__.items()}
                row["allowed_decisions"] = list(request.allowed_decisions)
                if item.interrupt_id is None:
                    await conn.execute(insert(approval_requests).values(**row, run_id=run_id))
                elif not await _insert_new_item(conn, {**row, "run_id": run_id}):
                    # Raised before (a turn's other call, a recovered run): that item and its
                    # audit entry exist; nothing is written for it now.
                    if not only_new:
                        existing = (
                            await conn.execute(
                                select(approval_requests).where(
                                    approval_requests.c.interrupt_id == item.interrupt_id,
                                    approval_requests.c.action_index == item.action_index,
                                )
                            )
                        ).one()
                        created.append(_to_request(existing))
                    continue
                audited.append(
                    NewAuditEntry(
                        actor=actor,
                        action="approval.requested",
                        subject_type="approval",
                        subject_id=request.id,
                        thread_id=thread_id,
                        data={
                            "kind": request.kind,
                            "tool": request.tool,
                            "args": request.args,
                            "digest": request.digest,
                            "stage": request.stage,
                            "role": request.required_role,
                            "deadline": request.deadline.isoformat() if request.deadline else None,
                        },
                    )
                )
                created.append(request)
            # One entry per item created here, in the items' order; the chain's head is
            # locked and written once for all of them.
            await append_audit_entries(conn, audited)
        return created

    async def get(self, request_id: str) -> ApprovalRequest:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(approval_requests).where(approval_requests.c.id == request_id))
            ).first()
        if row is None:
            raise NotFoundError(f"approval {request_id} does not exist")
        return _to_request(row)

    def _inbox_select(self, query: InboxQuery) -> Select[Any]:
        stmt = select(approval_requests)
        if query.status:
            stmt = stmt.where(approval_requests.c.status == query.status)
        if query.tool:
            stmt = stmt.where(approval_requests.c.tool == query.tool)
        if query.thread_id:
            stmt = stmt.where(approval_requests.c.thread_id == query.thread_id)
        if query.role:
            stmt = stmt.where(approval_requests.c.required_role == query.role)
        if query.reader is not None:
            stmt = stmt.where(readable_by(query.reader, approval_requests.c.thread_id))
        if query.q:
            pattern = (
                "%" + query.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            columns = ("tool", "summary", "thread_id", "requested_by")
            stmt = stmt.where(
                or_(*(func.lower(approval_requests.c[c]).like(pattern, escape="\\") for c in columns))
            )
        if query.decider is not None:
            stmt = stmt.where(decidable_by(query.decider))
        return stmt

    async def inbox(
        self, query: InboxQuery = InboxQuery(), *, conn: AsyncConnection | None = None
    ) -> tuple[list[ApprovalRequest], int]:
        """Inbox page ordered by deadline (soonest first, none last), then age; and the total.

        The total counts at most `query.count_limit` rows (0: not counted, returns 0).
        With `conn`, read inside that transaction.
        """
        if conn is not None:
            return await self._inbox(conn, query)
        async with self.engine.connect() as own:
            return await self._inbox(own, query)

    async def _inbox(self, conn: AsyncConnection, query: InboxQuery) -> tuple[list[ApprovalRequest], int]:
        stmt = self._inbox_select(query)
        order = (
            approval_requests.c.deadline.is_(None),
            approval_requests.c.deadline,
            approval_requests.c.created_at,
        )
        rows = await conn.execute(stmt.order_by(*order).limit(query.limit).offset(query.offset))
        page = [_to_request(r) for r in rows]
        if query.count_limit == 0:
            return page, 0
        counted = stmt.with_only_columns(approval_requests.c.id)
        if query.count_limit is not None:
            counted = counted.limit(query.count_limit)
        total = await conn.scalar(select(func.count()).select_from(counted.subquery()))
        return page, int(total or 0)

    async def pending_for_interrupt(
        self, interrupt_id: str, *, conn: AsyncConnection | None = None
    ) -> list[ApprovalRequest]:
        """Every item of an interrupt (decided or not), by action index; with `conn`, read
        inside that transaction."""
        stmt = (
            select(approval_requests)
            .where(approval_requests.c.interrupt_id == interrupt_id)
            .order_by(approval_requests.c.action_index)
        )
        if conn is not None:
            return [_to_request(r) for r in await conn.execute(stmt)]
        async with self.engine.connect() as own:
            return [_to_request(r) for r in await own.execute(stmt)]

    async def db_now(self) -> datetime:
        """The database's current time: the clock deadlines and leases are measured on."""
        async with self.engine.connect() as conn:
            return await read_db_now(conn)

    async def overdue(self, now: datetime | None = None, limit: int = 100) -> list[ApprovalRequest]:
        """Pending requests past their deadline at `now` (default: the database's clock)."""
        async with self.engine.connect() as conn:
            clock = at_or_db_now(conn.dialect.name, now)
            rows = await conn.execute(
                select(approval_requests)
                .where(approval_requests.c.status == "pending", approval_requests.c.deadline <= clock)
                .order_by(approval_requests.c.deadline)
                .limit(limit)
            )
            return [_to_request(r) for r in rows]

    async def decide(
        self,
        request_id: str,
        *,
        status: RequestStatus,
        decision: dict[str, Any],
        actor: str,
        edited_args: dict[str, Any] | None = None,
        reason: str | None = None,
        audit_action: str = "approval.decided",
        enforce_deadline: bool = True,
        now: datetime | None = None,
        then: Callable[[AsyncConnection, ApprovalRequest], Awaitable[Sequence[NewAuditEntry]]] | None = None,
    ) -> ApprovalRequest:
        """Move a pending request to `status`, once. Decision and audit entry commit together.

        With `enforce_deadline` (everyone but the deadline's own resolution), a request past
        its deadline at `now` (default: the database's clock) is not changed and
        `DeadlinePassedError` says so; the caller applies the deadline's policy.

        `then(conn, decided)` runs inside the same transaction once the decision is made
        (the service queues the resume there) and returns the audit entries of what it
        wrote; they follow the decision's entry in the chain, the head written once.
        """
        async with self.engine.begin() as conn:
            # One statement decides, stamps the time and reads the row back: the database's
            # clock (or the given `now`) is evaluated once, for the deadline and `decided_at`.
            clock = at_or_db_now(conn.dialect.name, now)
            conditions = [approval_requests.c.id == request_id, approval_requests.c.status == "pending"]
            if enforce_deadline:
                conditions.append(
                    or_(approval_requests.c.deadline.is_(None), approval_requests.c.deadline > clock)
                )
            row = (
                await conn.execute(
                    update(approval_requests)
                    .where(*conditions)
                    .values(
                        status=status,
                        decided_at=clock,
                        decided_by=actor,
                        decision=decision,
                        edited_args=edited_args,
                        reason=reason,
                    )
                    .returning(*approval_requests.c)
                )
            ).first()
            if row is None:
                found = (
                    await conn.execute(select(approval_requests).where(approval_requests.c.id == request_id))
                ).first()
                if found is None:
                    raise NotFoundError(f"approval {request_id} does not exist")
                raise refusal(_to_request(found))  # pending: only the deadline stopped the update
            decided = _to_request(row)
            entry = NewAuditEntry(
                actor=actor,
                action=audit_action,
                subject_type="approval",
                subject_id=request_id,
                thread_id=decided.thread_id,
                data={"status": status, "decision": decision, "reason": reason},
                at=decided.decided_at,
            )
            following = await then(conn, decided) if then is not None else ()
            await append_audit_entries(conn, [entry, *following])
        return decided

    async def cancel_pending_for_thread(self, thread_id: str, *, actor: str, reason: str) -> int:
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(approval_requests.c.id).where(
                        approval_requests.c.thread_id == thread_id, approval_requests.c.status == "pending"
                    )
                )
            ).all()
            for (request_id,) in rows:
                await conn.execute(
                    update(approval_requests)
                    .where(approval_requests.c.id == request_id, approval_requests.c.status == "pending")
                    .values(status="cancelled", decided_at=utcnow(), decided_by=actor, reason=reason)
                )
                await append_audit(
                    conn,
                    actor=actor,
                    action="approval.cancelled",
                    subject_type="approval",
                    subject_id=request_id,
                    thread_id=thread_id,
                    data={"reason": reason},
                )
            return len(rows)

    # -- notification outbox ----------------------------------------------------------

    async def enqueue_notifications(self, items: Sequence[tuple[str, str, str, dict[str, Any]]]) -> int:
        """(channel, target, event, payload) rows, delivered later by the dispatcher."""
        if not items:
            return 0
        now = utcnow()
        rows = [
            {
                "id": uuid.uuid4().hex,
                "channel": channel,
                "target": target,
                "event": event,
                "payload": payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for channel, target, event, payload in items
        ]
        async with self.engine.begin() as conn:
            await conn.execute(insert(notifications), rows)
        return len(rows)

    async def due_notifications(
        self, now: datetime, limit: int = 50, *, claim_seconds: float = 60.0
    ) -> list[dict[str, Any]]:
        """Take up to `limit` due notifications for this process to send.

        Taking one moves its next attempt `claim_seconds` ahead (rows locked with SKIP
        LOCKED on PostgreSQL), so dispatchers of several processes never send the same row
        at once; a dispatcher that dies before marking it leaves it due again later.
        """
        due = (
            select(notifications.c.id)
            .where(notifications.c.status == "pending", notifications.c.next_attempt_at <= now)
            .order_by(notifications.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self.engine.begin() as conn:
            ids = list((await conn.execute(due)).scalars())
            if not ids:
                return []
            # Conditional: on SQLite the read above takes no lock, so two passes may see the
            # same rows; only the one whose update still finds them due takes them.
            rows = await conn.execute(
                update(notifications)
                .where(
                    notifications.c.id.in_(ids),
                    notifications.c.status == "pending",
                    notifications.c.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + timedelta(seconds=claim_seconds))
                .returning(*notifications.c)
            )
            return sorted((dict(r._mapping) for r in rows), key=lambda r: ids.index(r["id"]))

    async def mark_notification(
        self,
        notification_id: str,
        *,
        status: str,
        attempts: int,
        next_attempt_at: datetime,
        error: str | None,
    ) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(notifications)
                .where(notifications.c.id == notification_id)
                .values(status=status, attempts=attempts, next_attempt_at=next_attempt_at, last_error=error)
            )

    async def notifications_with_status(self, status: str) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(notifications).where(notifications.c.status == status))
            return [dict(r._mapping) for r in rows]

    # -- audit --------------------------------------------------------------------------

    async def audit(self, conn: AsyncConnection | None = None, **entry: Any) -> AuditEntry:
        """Append a standalone audit entry (e.g. a denied request) in its own transaction."""
        async with self.engine.begin() as own:
            return await append_audit(own, **entry)

    async def audit_entries(
        self, *, thread_id: str | None = None, after_seq: int = 0, limit: int = 100
    ) -> list[AuditEntry]:
        stmt = select(audit_log).where(audit_log.c.seq > after_seq)
        if thread_id:
            stmt = stmt.where(audit_log.c.thread_id == thread_id)
        async with self.engine.connect() as conn:
            rows = await conn.execute(stmt.order_by(audit_log.c.seq).limit(limit))
            return [
                AuditEntry(**{**dict(r._mapping), "at": as_utc(r.at), "data": r.data or {}}) for r in rows
            ]

    async def verify_audit(self, anchor: Anchor | None = None) -> AuditReport:
        async with self.engine.connect() as conn:
            return await verify_audit(conn, anchor=anchor)

    async def audit_anchor(self) -> Anchor:
        """A keyed checkpoint of the newest entry, to keep outside the database."""
        key = _KEYS.get(self.engine.sync_engine)
        if key is None:
            raise ValueError("anchoring needs the audit key: open the store with audit_key=")
        async with self.engine.connect() as conn:
            seq, digest = await head_of(conn)
        return Anchor.make(key, seq, digest)
