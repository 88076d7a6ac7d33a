"""`SqlExecutionLedger`: the execution ledger in the approval store's database.

Each row commits on its own before (and after) the tool runs — that ordering is the whole
guarantee, so it never shares a transaction with anything else but its fence: bound to a
run's lease (`fenced`), the ledger marks a call `started` (or re-runs one in doubt) only in
a transaction where the database confirms that lease (`run_queue.confirm_lease`), and
otherwise raises `FencedOffError` without writing. Recording a result is never fenced: an
effect that happened is recorded whoever holds the run now. Both sync (the tutorial's
`invoke`) and async (the service) paths are served; only the async one is fenced.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from langgraph_ollama_local.agent.ledger import ExecutionRecord, ExecutionStatus
from langgraph_ollama_local.store.lease import LeaseFence, require_lease
from langgraph_ollama_local.store.schema import tool_executions


def _now() -> datetime:
    return datetime.now(UTC)


def _record(row: Any) -> ExecutionRecord:
    return ExecutionRecord(
        key=row.key,
        tool=row.tool,
        status=row.status,
        attempts=row.attempts,
        content=row.content,
        outcome=row.outcome,
    )


class CallTracker(Protocol):
    """Told when a call starts running and when it ends (the service's graceful stop)."""

    def start(self, key: str) -> None:
        """A call is about to start; raise `FencedOffError` to refuse it (nothing written)."""

    def done(self, key: str) -> None: ...


class SqlExecutionLedger:
    def __init__(
        self,
        engine: AsyncEngine | None = None,
        *,
        sync_engine: Engine | None = None,
        fence: LeaseFence | None = None,
        tracker: CallTracker | None = None,
    ) -> None:
        if engine is None and sync_engine is None:
            raise ValueError("SqlExecutionLedger needs an async engine, a sync engine, or both")
        self.engine, self.sync_engine, self.fence, self.tracker = engine, sync_engine, fence, tracker

    def fenced(self, fence: LeaseFence, tracker: CallTracker | None = None) -> SqlExecutionLedger:
        """This ledger, starting calls only while `fence` (a run's lease) holds (and `tracker` agrees)."""
        return SqlExecutionLedger(self.engine, sync_engine=self.sync_engine, fence=fence, tracker=tracker)

    def _starting(self, key: str) -> None:
        if self.tracker is not None:
            self.tracker.start(key)

    def _settled(self, key: str) -> None:
        if self.tracker is not None:
            self.tracker.done(key)

    async def _confirm(self, conn: AsyncConnection, key: str) -> None:
        await require_lease(conn, self.fence, f"tool call {key}")

    # -- async (service) -------------------------------------------------------------------

    async def abegin(
        self, key: str, *, thread_id: str, tool_call_id: str, tool: str, digest: str | None
    ) -> ExecutionRecord | None:
        engine = self._async()
        self._starting(key)
        try:
            async with engine.begin() as conn:
                await self._confirm(conn, key)  # same transaction: the lease holds while we commit
                await conn.execute(_insert(key, thread_id, tool_call_id, tool, digest))
            return None
        except IntegrityError:
            self._settled(key)  # not started here: the executor replays or retries it
            async with engine.connect() as conn:
                row = (await conn.execute(_select(key))).one()
            return _record(row)
        except BaseException:
            self._settled(key)
            raise

    async def aretry(self, key: str) -> None:
        self._starting(key)
        try:
            async with self._async().begin() as conn:
                await self._confirm(conn, key)
                await conn.execute(_retry(key))
        except BaseException:
            self._settled(key)
            raise

    async def afinish(
        self, key: str, *, status: ExecutionStatus, content: str | None, outcome: str | None
    ) -> None:
        try:
            async with self._async().begin() as conn:
                if status == "in_doubt":  # a judgement on a row another holder may be running
                    await self._confirm(conn, key)
                await conn.execute(_finish(key, status, content, outcome))
        finally:
            self._settled(key)

    async def arecords(self, *statuses: ExecutionStatus) -> list[ExecutionRecord]:
        stmt = select(tool_executions).order_by(tool_executions.c.started_at)
        if statuses:
            stmt = stmt.where(tool_executions.c.status.in_(statuses))
        async with self._async().connect() as conn:
            return [_record(r) for r in await conn.execute(stmt)]

    # -- sync (library) --------------------------------------------------------------------

    def begin(
        self, key: str, *, thread_id: str, tool_call_id: str, tool: str, digest: str | None
    ) -> ExecutionRecord | None:
        engine = self._sync()
        try:
            with engine.begin() as conn:
                conn.execute(_insert(key, thread_id, tool_call_id, tool, digest))
            return None
        except IntegrityError:
            with engine.connect() as conn:
                return _record(conn.execute(_select(key)).one())

    def retry(self, key: str) -> None:
        with self._sync().begin() as conn:
            conn.execute(_retry(key))

    def finish(self, key: str, *, status: ExecutionStatus, content: str | None, outcome: str | None) -> None:
        with self._sync().begin() as conn:
            conn.execute(_finish(key, status, content, outcome))

    def _async(self) -> AsyncEngine:
        if self.engine is None:
            raise RuntimeError("this ledger was opened for sync use; run the graph with invoke()")
        return self.engine

    def _sync(self) -> Engine:
        if self.sync_engine is None:
            raise RuntimeError("this ledger was opened for async use; run the graph with ainvoke()")
        return self.sync_engine


def _insert(key: str, thread_id: str, tool_call_id: str, tool: str, digest: str | None) -> Any:
    return insert(tool_executions).values(
        key=key,
        thread_id=thread_id,
        tool_call_id=tool_call_id,
        tool=tool,
        digest=digest,
        status="started",
        attempts=1,
        started_at=_now(),
    )


def _select(key: str) -> Any:
    return select(tool_executions).where(tool_executions.c.key == key)


def _retry(key: str) -> Any:
    return (
        update(tool_executions)
        .where(tool_executions.c.key == key)
        .values(attempts=tool_executions.c.attempts + 1)
    )


def _finish(key: str, status: str, content: str | None, outcome: str | None) -> Any:
    return (
        update(tool_executions)
        .where(tool_executions.c.key == key)
        .values(status=status, content=content, outcome=outcome, finished_at=_now())
    )
