"""The run queue: runs are rows, taken by workers under a lease.

Any number of processes share it. A worker takes the oldest runnable run with one
`UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)` (on SQLite, where one writer
holds the database at a time, the same statement without the lock clause), holds it under
a lease it renews while the graph runs, and finishes it only while it still holds the
lease (a fencing check). A run whose lease ran out — its worker was killed or hung — is
runnable again and is taken over, its `attempts` counting up.

Every time here is the database's (`store/clock.py`), never a process's own clock: a
worker whose clock runs ahead must not see live leases as expired. The lease is also a
fencing token — (run, worker, attempt), the attempt counting up on every claim — that
`confirm_lease` checks inside the caller's transaction: the execution ledger marks a call
`started`, and inbox items are recorded, only under a lease the database confirms at
that moment (`agent/ledger.py`).

A run that hit a storage or connection error (the database restarting, a full disk) is
not failed: `retry_later` puts it back in the queue with a backoff (`not_before`), and
whoever takes it continues from LangGraph's last checkpoint.

One thread never has two runs at once: a run is runnable only when no earlier run of its
thread is queued or running. On PostgreSQL a new run is announced with `NOTIFY hitl_runs`
in the same transaction, so idle workers wake at commit instead of at their next poll.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from langgraph_ollama_local.store.approval_store import Run, _to_run, utcnow
from langgraph_ollama_local.store.audit import NewAuditEntry, append_audit, as_utc
from langgraph_ollama_local.store.clock import at_or_db_now
from langgraph_ollama_local.store.lease import LeaseFence, confirm_lease, held_by
from langgraph_ollama_local.store.schema import approval_requests, insert_unless_exists, runs

RUNS_CHANNEL = "hitl_runs"
ACTIVE = ("queued", "running")
__all__ = ["ACTIVE", "RUNS_CHANNEL", "LeaseFence", "QueueHealth", "RunQueue", "confirm_lease"]


@dataclass(frozen=True)
class QueueHealth:
    """What `hitl doctor` shows about the queue."""

    queued: int
    running: int
    expired_leases: list[Run]
    stuck_queued: list[Run]
    retrying: list[Run]
    failed: list[Run]  # the latest run of their thread failed: the thread does not move


class RunQueue:
    """Enqueue, claim under lease, renew, finish (fenced), retry later."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _clock(self, now: datetime | None = None, seconds: float = 0.0) -> ColumnElement[datetime]:
        return at_or_db_now(self.engine.dialect.name, now, seconds)

    async def enqueue(
        self,
        thread_id: str,
        run_input: Any,
        *,
        actor: str,
        resume_key: str | None = None,
        run_id: str | None = None,
    ) -> tuple[Run, bool]:
        """(the run, True if new). With a `resume_key`, a second enqueue returns the first run.
        `run_id`: the new run's id, when the caller needs it before the commit."""
        run, row = self._queued(thread_id, run_input, actor, resume_key, run_id)
        try:
            async with self.engine.begin() as conn:
                created = await conn.scalar(insert(runs).values(**row).returning(runs.c.created_at))
                run = _created_at(run, created)
                await append_audit(
                    conn,
                    actor=actor,
                    action="run.created",
                    subject_type="run",
                    subject_id=run.id,
                    thread_id=thread_id,
                    data={"input": run_input},
                )
                await self._announce(conn, run.id)
        except IntegrityError:
            if resume_key is None:
                raise
            async with self.engine.connect() as conn:
                found = (await conn.execute(select(runs).where(runs.c.resume_key == resume_key))).first()
            if found is None:  # pragma: no cover - the conflicting row cannot vanish
                raise
            return _to_run(found), False
        return run, True

    async def enqueue_in(
        self,
        conn: AsyncConnection,
        thread_id: str,
        run_input: Any,
        *,
        actor: str,
        resume_key: str | None = None,
        run_id: str | None = None,
    ) -> tuple[Run, NewAuditEntry] | None:
        """`enqueue` inside the caller's transaction (a decision's, which queues its resume):
        the run row and its wake-up; returns the run and its `run.created` entry, which the
        caller appends with its own (`append_audit_entries`). None when a run with this
        `resume_key` exists already: nothing is written, and the caller's transaction is
        not broken by the conflict (`ON CONFLICT DO NOTHING`)."""
        run, row = self._queued(thread_id, run_input, actor, resume_key, run_id)
        stmt = (
            insert_unless_exists(conn.dialect.name, runs, ("resume_key",), row)
            if resume_key is not None
            else insert(runs).values(**row)
        )
        created = (await conn.execute(stmt.returning(runs.c.created_at))).first()
        if created is None:
            return None
        run = _created_at(run, created.created_at)
        await self._announce(conn, run.id)
        entry = NewAuditEntry(
            actor=actor,
            action="run.created",
            subject_type="run",
            subject_id=run.id,
            thread_id=thread_id,
            data={"input": run_input},
        )
        return run, entry

    def _queued(
        self, thread_id: str, run_input: Any, actor: str, resume_key: str | None, run_id: str | None
    ) -> tuple[Run, dict[str, Any]]:
        """A new queued run, and its row (queue order: the database's clock)."""
        run = Run(
            id=run_id or uuid.uuid4().hex,
            thread_id=thread_id,
            status="queued",
            input=run_input,
            created_at=utcnow(),
            created_by=actor,
            resume_key=resume_key,
        )
        return run, {**run.__dict__, "created_at": self._clock()}

    async def _announce(self, conn: AsyncConnection, run_id: str) -> None:
        if self.is_postgres:
            await conn.execute(
                text("SELECT pg_notify(:channel, :run_id)"), {"channel": RUNS_CHANNEL, "run_id": run_id}
            )

    async def claim(
        self, worker_id: str, lease_seconds: float, now: datetime | None = None, *, probe: bool = True
    ) -> Run | None:
        """Take the oldest runnable run for `worker_id`, or None when there is none.

        `now` replaces the database's clock (tests that fast-forward time); leave it None.
        `probe=False` skips the plain read that answers "nothing to do" without a write: for
        a worker woken because a run was just queued, which most likely finds one.
        """
        clock = self._clock(now)
        earlier = runs.alias("earlier")
        runnable = or_(
            and_(runs.c.status == "queued", or_(runs.c.not_before.is_(None), runs.c.not_before <= clock)),
            and_(runs.c.status == "running", runs.c.lease_expires_at < clock),
        )
        blocked = exists(
            select(earlier.c.id).where(
                earlier.c.thread_id == runs.c.thread_id,
                earlier.c.status.in_(ACTIVE),
                or_(
                    earlier.c.created_at < runs.c.created_at,
                    and_(earlier.c.created_at == runs.c.created_at, earlier.c.id < runs.c.id),
                ),
            )
        )
        eligible = select(runs.c.id).where(runnable, ~blocked).order_by(runs.c.created_at, runs.c.id).limit(1)
        # Idle workers ask often (every wake-up, every poll, after every run): a plain read
        # answers "nothing to do" without taking SQLite's write lock or committing.
        if probe:
            async with self.engine.connect() as conn:
                if (await conn.execute(eligible)).first() is None:
                    return None
        candidate = eligible.with_for_update(skip_locked=True, of=runs).scalar_subquery()
        stmt = (
            update(runs)
            .where(runs.c.id == candidate, runnable)
            .values(
                status="running",
                lease_owner=worker_id,
                lease_expires_at=self._clock(now, lease_seconds),
                started_at=clock,
                not_before=None,
                attempts=runs.c.attempts + 1,
            )
            .returning(*runs.c)
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(stmt)).first()
        return _to_run(row) if row is not None else None

    async def renew(
        self, run_id: str, worker_id: str, lease_seconds: float, *, attempt: int | None = None
    ) -> bool:
        """Extend the lease; False when this worker (at this attempt) no longer holds the run."""
        held = [runs.c.id == run_id, runs.c.lease_owner == worker_id, runs.c.status == "running"]
        if attempt is not None:
            held.append(runs.c.attempts == attempt)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(runs).where(*held).values(lease_expires_at=self._clock(seconds=lease_seconds))
            )
        return bool(result.rowcount)

    async def finish(
        self,
        run_id: str,
        worker_id: str,
        status: str,
        *,
        error: str | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Record the outcome if `worker_id` still holds the run; False when it was taken over."""
        held = [runs.c.id == run_id, runs.c.lease_owner == worker_id, runs.c.status == "running"]
        if attempt is not None:
            held.append(runs.c.attempts == attempt)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(runs)
                .where(*held)
                .values(
                    status=status,
                    error=error,
                    finished_at=self._clock(),
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
        return bool(result.rowcount)

    async def retry_later(self, fence: LeaseFence, *, delay_seconds: float, error: str) -> bool:
        """Back to the queue after a storage/connection error, runnable again in `delay_seconds`.

        False when the lease was already lost (then its new holder owns the run).
        """
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(runs)
                .where(held_by(fence))
                .values(
                    status="queued",
                    lease_owner=None,
                    lease_expires_at=None,
                    not_before=self._clock(seconds=delay_seconds),
                    retries=runs.c.retries + 1,
                    error=error,
                )
            )
            if result.rowcount == 1:
                await self._announce(conn, fence.run_id)
        return bool(result.rowcount)

    async def requeue_failed(self, run_id: str) -> bool:
        """A failed run back in the queue (the reconciler, for runs failed by a storage error)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.status == "failed")
                .values(status="queued", finished_at=None, not_before=None, retries=runs.c.retries + 1)
            )
            if result.rowcount == 1:
                await self._announce(conn, run_id)
        return bool(result.rowcount)

    async def cancel(self, run_id: str, *, actor: str) -> bool:
        """Mark a queued or running run cancelled; False when it had already ended.

        A running run's worker learns it at its next lease renewal (the renewal only holds
        a run that is still "running") and stops the graph there; its finish is fenced off.
        """
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.status.in_(ACTIVE))
                .values(
                    status="cancelled", finished_at=self._clock(), lease_owner=None, lease_expires_at=None
                )
                .returning(runs.c.thread_id)
            )
            thread_id = result.scalar()
            if thread_id is None:
                return False
            await append_audit(
                conn,
                actor=actor,
                action="run.cancelled",
                subject_type="run",
                subject_id=run_id,
                thread_id=thread_id,
            )
        return True

    async def release_owned_by(self, worker_id: str) -> int:
        """Give back every run a stopping worker holds, so others take them at once."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(runs)
                .where(runs.c.lease_owner == worker_id, runs.c.status == "running")
                .values(status="queued", lease_owner=None, lease_expires_at=None)
            )
        return int(result.rowcount or 0)

    async def expire_all_leases(self) -> int:
        """Single-process start: nobody else can hold a lease, so every running run is orphaned."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(runs)
                .where(runs.c.status == "running")
                .values(lease_expires_at=self._clock(seconds=-1))
            )
        return int(result.rowcount or 0)

    def _latest_of_thread(self) -> ColumnElement[bool]:
        later = runs.alias("later")
        return ~exists(
            select(later.c.id).where(
                later.c.thread_id == runs.c.thread_id, later.c.created_at > runs.c.created_at
            )
        )

    async def paused_with_nothing_pending(self, limit: int = 200) -> list[Run]:
        """Threads whose latest run paused and whose inbox items are all decided.

        The candidates for a lost resume (a process died between a decision's commit and
        the resume's enqueue); normally empty. Uses the thread indexes, so paused threads
        still waiting for people cost nothing here.
        """
        pending = approval_requests.alias("pending")
        stmt = (
            select(runs)
            .where(
                runs.c.status == "paused",
                self._latest_of_thread(),
                ~exists(
                    select(pending.c.id).where(
                        pending.c.thread_id == runs.c.thread_id, pending.c.status == "pending"
                    )
                ),
            )
            .order_by(runs.c.created_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [_to_run(r) for r in await conn.execute(stmt)]

    async def failed_latest(self, limit: int = 200) -> list[Run]:
        """Runs that failed and are the latest of their thread: threads that do not move."""
        stmt = (
            select(runs)
            .where(runs.c.status == "failed", self._latest_of_thread())
            .order_by(runs.c.created_at)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [_to_run(r) for r in await conn.execute(stmt)]

    async def health(self, now: datetime | None = None, *, stuck_after_seconds: float = 300) -> QueueHealth:
        async with self.engine.connect() as conn:
            counts: dict[str, int] = dict(
                (
                    await conn.execute(
                        select(runs.c.status, func.count())
                        .where(runs.c.status.in_(ACTIVE))
                        .group_by(runs.c.status)
                    )
                ).all()
            )
            expired = await conn.execute(
                select(runs)
                .where(runs.c.status == "running", runs.c.lease_expires_at < self._clock(now))
                .order_by(runs.c.created_at)
                .limit(50)
            )
            expired_runs = [_to_run(r) for r in expired]
            stuck = await conn.execute(
                select(runs)
                .where(runs.c.status == "queued", runs.c.created_at < self._clock(now, -stuck_after_seconds))
                .order_by(runs.c.created_at)
                .limit(50)
            )
            stuck_runs = [_to_run(r) for r in stuck]
            retrying = await conn.execute(
                select(runs)
                .where(runs.c.status.in_(ACTIVE), runs.c.retries > 0)
                .order_by(runs.c.created_at)
                .limit(50)
            )
            retrying_runs = [_to_run(r) for r in retrying]
        return QueueHealth(
            queued=int(counts.get("queued", 0)),
            running=int(counts.get("running", 0)),
            expired_leases=expired_runs,
            stuck_queued=stuck_runs,
            retrying=retrying_runs,
            failed=await self.failed_latest(limit=50),
        )


def _created_at(run: Run, created: Any) -> Run:
    return replace(run, created_at=as_utc(created)) if isinstance(created, datetime) else run
