"""A run's lease as a fencing token, checked by the database inside the caller's transaction.

A worker holds a run by (run id, worker id, attempt): every claim counts `attempts` up, so
the token of a worker that was taken over never matches again, whatever its clock says.
Anything that must not happen outside the lease — marking a tool call `started` in the
execution ledger, recording a pause's inbox items — calls `confirm_lease` in the same
transaction as its write; the check extends the lease and locks the run's row until
commit, so a takeover cannot slip in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from langgraph_ollama_local.agent.ledger import FencedOffError
from langgraph_ollama_local.store.clock import as_utc, db_now
from langgraph_ollama_local.store.schema import runs


@dataclass(frozen=True)
class LeaseFence:
    """What a worker holds a run by: the run, the worker, and the attempt it claimed.

    `attempt` is the run's `attempts` at the claim: a takeover (by another process or by
    another task of this one) counts it up, so an old holder's token never matches again.
    """

    run_id: str
    worker_id: str
    attempt: int
    lease_seconds: float


def held_by(fence: LeaseFence) -> ColumnElement[bool]:
    return and_(
        runs.c.id == fence.run_id,
        runs.c.lease_owner == fence.worker_id,
        runs.c.attempts == fence.attempt,
        runs.c.status == "running",
    )


async def confirm_lease(conn: AsyncConnection, fence: LeaseFence) -> bool:
    """Inside the caller's transaction: does the database confirm this worker holds the run?

    The token decides, not the time: a takeover changes the owner and counts the attempt
    up, so False means another worker took the run (or it ended). True renews the lease on
    the database's clock and write-locks the run's row until the transaction ends, so no
    takeover can commit between this check and what the caller writes next. A lease that
    ran out while nobody took the run is renewed here, like the heartbeat does: nobody
    else drives the thread, and throwing the work away would only slow a loaded machine.
    """
    dialect = conn.dialect.name
    result = await conn.execute(
        update(runs).where(held_by(fence)).values(lease_expires_at=db_now(dialect, fence.lease_seconds))
    )
    return result.rowcount == 1


async def confirm_lease_at(conn: AsyncConnection, fence: LeaseFence) -> datetime | None:
    """`confirm_lease` that also reads the database's clock in the same statement: the
    time of the confirmation (UTC), or None when the lease is not held."""
    dialect = conn.dialect.name
    row = (
        await conn.execute(
            update(runs)
            .where(held_by(fence))
            .values(lease_expires_at=db_now(dialect, fence.lease_seconds))
            .returning(db_now(dialect).label("now"))
        )
    ).first()
    if row is None:
        return None
    now = row.now if isinstance(row.now, datetime) else datetime.fromisoformat(str(row.now))
    return as_utc(now)


def _fenced_off(fence: LeaseFence, what: str) -> FencedOffError:
    return FencedOffError(
        f"run {fence.run_id} is no longer held by {fence.worker_id} (attempt {fence.attempt}): "
        f"another worker took it over, so {what} was not done here"
    )


async def require_lease(conn: AsyncConnection, fence: LeaseFence | None, what: str) -> None:
    """`confirm_lease`, raising `FencedOffError` (naming `what` was not done) when it fails."""
    if fence is not None and not await confirm_lease(conn, fence):
        raise _fenced_off(fence, what)


async def require_lease_at(conn: AsyncConnection, fence: LeaseFence, what: str) -> datetime:
    """`require_lease` returning the database's time of the confirmation (`confirm_lease_at`)."""
    now = await confirm_lease_at(conn, fence)
    if now is None:
        raise _fenced_off(fence, what)
    return now
