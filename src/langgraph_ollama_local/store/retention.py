"""Checkpoint retention: keep each thread's newest checkpoints, delete the older ones.

Why: LangGraph writes a full checkpoint of the state at every step, and our state is the
whole message list, so a thread's checkpoints grow with the square of its length (a
500-turn thread took 771 MB on SQLite). Nothing the product does reads an old checkpoint:

- a run, a resume and crash recovery read the thread's **latest** checkpoint (recovery
  compares its metadata `hitl_run_id`, `ServiceRuntime._graph_input`), and a pending
  interrupt is a pending write *of* the latest checkpoint, so it is kept with it;
- the approval store, the audit log and the run queue name threads, runs and interrupt
  ids, never a checkpoint id (so deleting one orphans no inbox item or audit entry);
- only time travel (`get_state_history`, LangGraph's `/threads/{id}/history`) reads
  older ones: `keep` checkpoints per namespace stay for it.

How: PostgreSQL with `keep=1` is LangGraph's own `PostgresSaver.prune(strategy=
"keep_latest")`. LangGraph has no depth > 1 and no SQLite `prune` (langgraph-checkpoint-sqlite
3.1), so those are the minimal SQL here, on the saver's own tables, following the rules of
LangGraph's Postgres `keep_latest` (its statements are reused where they fit): per
namespace keep the newest `keep`, delete the older ones with their pending writes (and, on
PostgreSQL, the blobs no kept checkpoint references), unset the dangling parent of the
oldest kept one, delete a finished subgraph call's namespace with its root checkpoint,
and refuse threads that use a `DeltaChannel` (their latest value is rebuilt from older
checkpoints). A run writing to the thread meanwhile is safe: its new checkpoints sort after
every kept one and are never deleted (PostgreSQL prunes on one snapshot, SQLite holds the
write lock).

The statements are written once as generators (no I/O) and run by a sync or async driver,
as LangGraph's own prune does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langgraph.checkpoint.base import BaseCheckpointSaver

T = TypeVar("T")
Row = dict[str, Any]
# (sql, params, fetch rows?) out, rows back in; the generator's return value is the result
Plan = Generator[tuple[str, Sequence[Any], bool], list[Row], T]
Statements = Plan[None]


class DeltaChannelThreadError(NotImplementedError):
    """The thread uses a `DeltaChannel`: pruning would lose its value; it is left alone."""


@dataclass(frozen=True)
class CheckpointUsage:
    """What LangGraph's checkpoint tables hold, and what keeping `keep` per thread would free.

    `data_bytes` are the stored payloads (checkpoints, metadata, writes, blobs); `disk_bytes`
    is the storage used (SQLite: the whole file; PostgreSQL: the three tables with indexes
    and TOAST); `free_bytes` (SQLite) are free pages in the file, reused by new rows.
    """

    threads: int
    checkpoints: int
    data_bytes: int
    keep: int
    prunable_checkpoints: int
    prunable_bytes: int
    disk_bytes: int | None = None
    free_bytes: int | None = None


@dataclass
class PruneReport:
    """Threads pruned, and threads left alone because they use a DeltaChannel."""

    pruned: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


# --- which backend ---------------------------------------------------------------------------


def _dialect(saver: BaseCheckpointSaver[Any]) -> str:
    module = type(saver).__module__
    if module.startswith("langgraph.checkpoint.sqlite"):
        return "sqlite"
    if module.startswith("langgraph.checkpoint.postgres"):
        return "postgres"
    return "other"  # memory: nothing on disk; pruning is a no-op


# --- SQLite statements ---------------------------------------------------------------------

_SQLITE_DELTA = """
SELECT 1 AS delta FROM checkpoints WHERE thread_id = ? AND (
    json_type(metadata, '$.counters_since_delta_snapshot') IS NOT NULL
    OR json_type(metadata, '$.delta_writes_versioned') IS NOT NULL
) LIMIT 1
"""

_SQLITE_KEPT = """
SELECT checkpoint_ns, checkpoint_id, json_extract(metadata, '$.parents.""') AS root, n
FROM (
    SELECT checkpoint_ns, checkpoint_id, metadata,
        ROW_NUMBER() OVER (PARTITION BY checkpoint_ns ORDER BY checkpoint_id DESC) AS rn,
        COUNT(*) OVER (PARTITION BY checkpoint_ns) AS n
    FROM checkpoints WHERE thread_id = ?
) WHERE rn <= ?
"""

_SQLITE_SAVED = (
    "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
    "AND checkpoint_id IN ({})"
)

_SQLITE_DROP_NS = (
    "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ?",
    "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?",
)

_SQLITE_PRUNE_NS = (
    # the writes of the checkpoints deleted next (a run's newer writes may precede their checkpoint)
    """DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id IN (
        SELECT checkpoint_id FROM checkpoints
        WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id < ?)""",
    "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id < ?",
    """UPDATE checkpoints SET parent_checkpoint_id = NULL
       WHERE thread_id = ? AND checkpoint_ns = ? AND checkpoint_id >= ? AND parent_checkpoint_id < ?""",
)


def _sqlite_keep(thread_id: str, keep: int) -> Statements:
    """One SQLite thread's prune (the driver wraps it in `BEGIN IMMEDIATE` … `COMMIT`)."""
    if (yield _SQLITE_DELTA, (thread_id,), True):
        raise DeltaChannelThreadError(thread_id)
    rows = yield _SQLITE_KEPT, (thread_id, keep), True
    kept = _kept_by_ns(rows)
    over = {str(r["checkpoint_ns"]) for r in rows if int(r["n"]) > keep}
    roots = sorted({str(r["root"]) for r in rows if ":" in r["checkpoint_ns"] and r["root"]})
    saved: set[str] = set()
    if roots:
        found = yield _SQLITE_SAVED.format(",".join("?" * len(roots))), (thread_id, *roots), True
        saved = {str(r["checkpoint_id"]) for r in found}
    for ns in _finished_calls(rows, kept, saved):
        for sql in _SQLITE_DROP_NS:
            yield sql, (thread_id, ns), False
        over.discard(ns)
    for ns in sorted(over):
        oldest = min(kept[ns])
        delete_writes, delete_checkpoints, unset_parent = _SQLITE_PRUNE_NS
        yield delete_writes, (thread_id, ns, thread_id, ns, oldest), False
        yield delete_checkpoints, (thread_id, ns, oldest), False
        yield unset_parent, (thread_id, ns, oldest, oldest), False


def _kept_by_ns(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    kept: dict[str, list[str]] = {}
    for row in rows:
        kept.setdefault(str(row["checkpoint_ns"]), []).append(str(row["checkpoint_id"]))
    return kept


def _finished_calls(
    rows: Iterable[Mapping[str, Any]], kept: Mapping[str, list[str]], saved_roots: set[str]
) -> list[str]:
    """Subgraph-call namespaces (`node:task_id`) whose root checkpoint is saved and pruned.

    LangGraph's own rule: a call goes with the root checkpoint it started from, but only once
    that one is saved (a call can commit first); a `checkpointer=True` subgraph's namespace
    has no task id and keeps its newest checkpoints like the root does.
    """
    calls = set()
    for row in rows:
        ns, root = str(row["checkpoint_ns"]), row["root"]
        if ":" in ns and root and str(root) in saved_roots and str(root) not in kept.get("", ()):
            calls.add(ns)
    return sorted(calls)


# --- PostgreSQL statements (depth > 1; depth 1 is LangGraph's own prune) ----------------------

_PG_KEPT = """
SELECT checkpoint_ns, checkpoint_id, metadata -> 'parents' ->> '' AS root
FROM (
    SELECT checkpoint_ns, checkpoint_id, metadata,
        ROW_NUMBER() OVER (PARTITION BY checkpoint_ns ORDER BY checkpoint_id DESC) AS rn
    FROM checkpoints WHERE thread_id = %s
) AS k WHERE rn <= %s
"""

_PG_SAVED = (
    "SELECT checkpoint_id FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' "
    "AND checkpoint_id = ANY(%s)"
)


def _pg_keep(thread_id: str, keep: int) -> Statements:
    """LangGraph's `keep_latest` transaction with the newest `keep` kept per namespace."""
    from langgraph.checkpoint.postgres import base as pg

    yield pg.PRUNE_SNAPSHOT_SQL, (), False
    if (yield pg.PRUNE_DELTA_THREADS_SQL, ([thread_id], [thread_id]), True):
        raise DeltaChannelThreadError(thread_id)
    rows = yield _PG_KEPT, (thread_id, keep), True
    kept = _kept_by_ns(rows)
    roots = sorted({str(r["root"]) for r in rows if ":" in r["checkpoint_ns"] and r["root"]})
    saved: set[str] = set()
    if roots:
        found = yield _PG_SAVED, (thread_id, roots), True
        saved = {str(r["checkpoint_id"]) for r in found}
    calls = _finished_calls(rows, kept, saved)
    if calls:
        for sql in pg.PRUNE_SUBGRAPH_CALLS_SQL:
            yield sql, (thread_id, calls), False
    for ns, ids in kept.items():
        if ns in calls:
            continue
        unkept = yield pg.PRUNE_UNKEPT_SQL, (thread_id, ns, ids), True
        if not unkept:
            continue
        yield pg.PRUNE_WRITES_SQL, (thread_id, ns, [r["checkpoint_id"] for r in unkept]), False
        freed = yield pg.PRUNE_CHECKPOINTS_SQL, (thread_id, ns, ids), True
        yield pg.PRUNE_PARENTS_SQL, (thread_id, ns, ids, ids), False
        if freed:
            referenced = yield pg.PRUNE_REFERENCED_BLOBS_SQL, (thread_id, ns), True
            for channel, versions in pg._garbage_blobs(freed, referenced).items():
                yield pg.PRUNE_BLOBS_SQL, (thread_id, ns, channel, versions), False


# --- which threads, how much ------------------------------------------------------------------

_OVER = {
    "sqlite": "SELECT DISTINCT thread_id FROM (SELECT thread_id FROM checkpoints "
    "GROUP BY thread_id, checkpoint_ns HAVING COUNT(*) > ?) ORDER BY thread_id",
    "postgres": "SELECT DISTINCT thread_id FROM (SELECT thread_id FROM checkpoints "
    "GROUP BY thread_id, checkpoint_ns HAVING COUNT(*) > %s) AS o ORDER BY thread_id",
}

# Checkpoints beyond the newest `keep` of their namespace, and their writes; `{where}` narrows
# to some threads. Payload sizes: LENGTH on SQLite, the stored (compressed) size on PostgreSQL.
_USAGE = {
    "sqlite": """
WITH ranked AS (
    SELECT thread_id, checkpoint_ns, checkpoint_id, LENGTH(checkpoint) + LENGTH(metadata) AS size,
        ROW_NUMBER() OVER (PARTITION BY thread_id, checkpoint_ns ORDER BY checkpoint_id DESC) AS rn
    FROM checkpoints {where}
), w AS (
    SELECT thread_id, checkpoint_ns, checkpoint_id, SUM(LENGTH(value)) AS size
    FROM writes {where} GROUP BY thread_id, checkpoint_ns, checkpoint_id
)
SELECT COUNT(DISTINCT r.thread_id) AS threads, COUNT(*) AS checkpoints,
    COALESCE(SUM(r.size), 0) + COALESCE((SELECT SUM(size) FROM w), 0) AS data_bytes,
    COALESCE(SUM(CASE WHEN r.rn > ? THEN 1 ELSE 0 END), 0) AS prunable_checkpoints,
    COALESCE(SUM(CASE WHEN r.rn > ? THEN r.size + COALESCE(w.size, 0) ELSE 0 END), 0) AS prunable_bytes
FROM ranked r LEFT JOIN w USING (thread_id, checkpoint_ns, checkpoint_id)
""",
    "postgres": """
WITH ranked AS (
    SELECT thread_id, checkpoint_ns, checkpoint_id,
        pg_column_size(checkpoint) + pg_column_size(metadata) AS size,
        ROW_NUMBER() OVER (PARTITION BY thread_id, checkpoint_ns ORDER BY checkpoint_id DESC) AS rn
    FROM checkpoints {where}
), w AS (
    SELECT thread_id, checkpoint_ns, checkpoint_id, SUM(octet_length(blob)) AS size
    FROM checkpoint_writes {where} GROUP BY thread_id, checkpoint_ns, checkpoint_id
), kept AS (
    SELECT DISTINCT r.thread_id, r.checkpoint_ns, v.key AS channel, v.value AS version
    FROM ranked r JOIN checkpoints c USING (thread_id, checkpoint_ns, checkpoint_id)
    CROSS JOIN LATERAL jsonb_each_text(c.checkpoint -> 'channel_versions') AS v
    WHERE r.rn <= %s
), b AS (
    SELECT b.thread_id, b.checkpoint_ns, COALESCE(octet_length(b.blob), 0) AS size,
        NOT EXISTS (SELECT 1 FROM kept k WHERE k.thread_id = b.thread_id
            AND k.checkpoint_ns = b.checkpoint_ns AND k.channel = b.channel AND k.version = b.version)
            AS prunable
    FROM checkpoint_blobs b {where_b}
)
SELECT COUNT(DISTINCT r.thread_id) AS threads, COUNT(*) AS checkpoints,
    COALESCE(SUM(r.size), 0) + COALESCE((SELECT SUM(size) FROM w), 0)
        + COALESCE((SELECT SUM(size) FROM b), 0) AS data_bytes,
    COALESCE(SUM(CASE WHEN r.rn > %s THEN 1 ELSE 0 END), 0) AS prunable_checkpoints,
    COALESCE(SUM(CASE WHEN r.rn > %s THEN r.size + COALESCE(w.size, 0) ELSE 0 END), 0)
        + COALESCE((SELECT SUM(size) FROM b WHERE prunable), 0) AS prunable_bytes
FROM ranked r LEFT JOIN w USING (thread_id, checkpoint_ns, checkpoint_id)
""",
}

_DISK = {
    "sqlite": (
        "SELECT page_count * page_size AS disk_bytes, freelist_count * page_size AS free_bytes "
        "FROM pragma_page_count(), pragma_page_size(), pragma_freelist_count()"
    ),
    "postgres": (
        "SELECT pg_total_relation_size('checkpoints') + pg_total_relation_size('checkpoint_blobs') "
        "+ pg_total_relation_size('checkpoint_writes') AS disk_bytes, NULL AS free_bytes"
    ),
}


def _usage_plan(dialect: str, keep: int, thread_ids: Sequence[str] | None) -> Plan[CheckpointUsage]:
    scope: list[Any] = []
    if thread_ids is None:
        where, where_b = "", ""
    elif dialect == "sqlite":
        where = f"WHERE thread_id IN ({','.join('?' * len(thread_ids))})"
        where_b, scope = "", list(thread_ids)
    else:
        where, where_b, scope = "WHERE thread_id = ANY(%s)", "WHERE b.thread_id = ANY(%s)", [list(thread_ids)]
    sql = _USAGE[dialect].format(where=where, where_b=where_b)
    if dialect == "sqlite":
        params: list[Any] = [*scope, *scope, keep, keep]
    else:
        params = [*scope, *scope, keep, *scope, keep, keep]
    (row,) = yield sql, params, True
    disk = yield _DISK[dialect], (), True
    sizes = disk[0] if disk else {}
    return CheckpointUsage(
        threads=int(row["threads"] or 0),
        checkpoints=int(row["checkpoints"] or 0),
        data_bytes=int(row["data_bytes"] or 0),
        keep=keep,
        prunable_checkpoints=int(row["prunable_checkpoints"] or 0),
        prunable_bytes=int(row["prunable_bytes"] or 0),
        disk_bytes=None if sizes.get("disk_bytes") is None else int(sizes["disk_bytes"]),
        free_bytes=None if sizes.get("free_bytes") is None else int(sizes["free_bytes"]),
    )


def _over_plan(dialect: str, keep: int) -> Plan[list[str]]:
    rows = yield _OVER[dialect], (keep,), True
    return [str(r["thread_id"]) for r in rows]


# --- drivers ----------------------------------------------------------------------------------


def _sqlite_rows(cur: sqlite3.Cursor | Any, fetch: bool, rows: Sequence[Any]) -> list[Row]:
    if not fetch or cur.description is None:
        return []
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _run_sqlite(conn: sqlite3.Connection, plan: Plan[T], *, write: bool) -> T:
    """Run `plan` on the saver's connection; a write plan holds SQLite's write lock throughout."""
    if write:
        conn.execute("BEGIN IMMEDIATE")
    try:
        sql, params, fetch = next(plan)
        while True:
            cur = conn.execute(sql, params)
            sql, params, fetch = plan.send(_sqlite_rows(cur, fetch, cur.fetchall() if fetch else ()))
    except StopIteration as done:
        if write:
            conn.commit()
        return done.value  # type: ignore[no-any-return]
    except BaseException:
        if write:
            conn.rollback()
        raise


async def _arun_sqlite(conn: Any, plan: Plan[T], *, write: bool) -> T:
    """`_run_sqlite` on an aiosqlite connection."""
    if write:
        await conn.execute("BEGIN IMMEDIATE")
    try:
        sql, params, fetch = next(plan)
        while True:
            cur = await conn.execute(sql, params)
            rows = await cur.fetchall() if fetch else ()
            sql, params, fetch = plan.send(_sqlite_rows(cur, fetch, rows))
    except StopIteration as done:
        if write:
            await conn.commit()
        return done.value  # type: ignore[no-any-return]
    except BaseException:
        if write:
            await conn.rollback()
        raise


def _run_pg(saver: Any, plan: Plan[T], *, write: bool) -> T:
    """Run `plan` in one transaction on a connection of the saver's pool (unprepared, as
    LangGraph's prune does: each statement is planned knowing its arrays)."""
    from langgraph.checkpoint.postgres import _internal
    from psycopg.rows import dict_row

    with (
        saver.lock,
        _internal.get_connection(saver.conn) as conn,
        conn.transaction(),
        conn.cursor(row_factory=dict_row) as cur,
    ):
        try:
            sql, params, fetch = next(plan)
            while True:
                cur.execute(sql, params, prepare=False)
                sql, params, fetch = plan.send(list(cur.fetchall()) if fetch else [])
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


async def _arun_pg(saver: Any, plan: Plan[T], *, write: bool) -> T:
    from langgraph.checkpoint.postgres import _ainternal
    from psycopg.rows import dict_row

    async with (
        saver.lock,
        _ainternal.get_connection(saver.conn) as conn,
        conn.transaction(),
        conn.cursor(row_factory=dict_row) as cur,
    ):
        try:
            sql, params, fetch = next(plan)
            while True:
                await cur.execute(sql, params, prepare=False)
                sql, params, fetch = plan.send(list(await cur.fetchall()) if fetch else [])
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def _run(saver: BaseCheckpointSaver[Any], plan: Plan[T], *, write: bool = False) -> T:
    if _dialect(saver) == "sqlite":
        with saver.lock:  # type: ignore[attr-defined]
            return _run_sqlite(saver.conn, plan, write=write)  # type: ignore[attr-defined]
    return _run_pg(saver, plan, write=write)


async def _arun(saver: BaseCheckpointSaver[Any], plan: Plan[T], *, write: bool = False) -> T:
    if _dialect(saver) == "sqlite":
        async with saver.lock:  # type: ignore[attr-defined]
            return await _arun_sqlite(saver.conn, plan, write=write)  # type: ignore[attr-defined]
    return await _arun_pg(saver, plan, write=write)


# --- the API ----------------------------------------------------------------------------------


def checkpoint_usage(
    saver: BaseCheckpointSaver[Any], keep: int, thread_ids: Sequence[str] | None = None
) -> CheckpointUsage | None:
    """What the checkpoint tables hold and what `prune(keep=keep)` would free (None: memory)."""
    dialect = _dialect(saver)
    if dialect == "other":
        return None
    return _run(saver, _usage_plan(dialect, _check_keep(keep), thread_ids))


def threads_to_prune(saver: BaseCheckpointSaver[Any], keep: int) -> list[str]:
    """Threads with more than `keep` checkpoints in some namespace."""
    dialect = _dialect(saver)
    if dialect == "other":
        return []
    return _run(saver, _over_plan(dialect, _check_keep(keep)))


def prune_threads(saver: BaseCheckpointSaver[Any], thread_ids: Iterable[str], keep: int) -> PruneReport:
    """Keep the newest `keep` checkpoints per namespace of each thread; one transaction each."""
    dialect, keep = _dialect(saver), _check_keep(keep)
    report = PruneReport()
    if dialect == "other":
        return report
    for thread_id in thread_ids:
        try:
            if dialect == "postgres" and keep == 1:
                saver.prune([thread_id], strategy="keep_latest")
            else:
                plan = _sqlite_keep(thread_id, keep) if dialect == "sqlite" else _pg_keep(thread_id, keep)
                _run(saver, plan, write=True)
        except NotImplementedError:  # LangGraph's refusal, or ours: the thread uses a DeltaChannel
            report.refused.append(thread_id)
            continue
        report.pruned.append(thread_id)
    return report


async def aprune_threads(
    saver: BaseCheckpointSaver[Any], thread_ids: Iterable[str], keep: int
) -> PruneReport:
    """The asyncio counterpart of `prune_threads` (the service's background pruning)."""
    dialect, keep = _dialect(saver), _check_keep(keep)
    report = PruneReport()
    if dialect == "other":
        return report
    for thread_id in thread_ids:
        try:
            if dialect == "postgres" and keep == 1:
                await saver.aprune([thread_id], strategy="keep_latest")
            else:
                plan = _sqlite_keep(thread_id, keep) if dialect == "sqlite" else _pg_keep(thread_id, keep)
                await _arun(saver, plan, write=True)
        except NotImplementedError:
            report.refused.append(thread_id)
            continue
        report.pruned.append(thread_id)
    return report


def vacuum(saver: BaseCheckpointSaver[Any]) -> None:
    """Make freed space usable: SQLite `VACUUM` (the file shrinks; takes the write lock),
    PostgreSQL `VACUUM` of the three tables (space reusable, what autovacuum does — needed
    where autovacuum is off)."""
    dialect = _dialect(saver)
    if dialect == "sqlite":
        with saver.lock:  # type: ignore[attr-defined]
            saver.conn.execute("VACUUM")  # type: ignore[attr-defined]
    elif dialect == "postgres":
        from langgraph.checkpoint.postgres import _internal

        with saver.lock, _internal.get_connection(saver.conn) as conn:  # type: ignore[attr-defined]
            for table in ("checkpoints", "checkpoint_blobs", "checkpoint_writes"):
                conn.execute(f"VACUUM {table}")  # autocommit: the saver's connections are


def _check_keep(keep: int) -> int:
    if keep < 1:
        raise ValueError("keep must be at least 1: the latest checkpoint is the thread's state")
    return keep
