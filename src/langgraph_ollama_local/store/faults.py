"""Which errors are the storage's passing trouble, not the run's: retry those, fail the rest.

A PostgreSQL restart (`AdminShutdown`, "the database system is shutting down", connection
refused), a dropped connection, a pool with no free connection, a serialization failure,
SQLite's "database is locked", "disk I/O error" or "database or disk is full" all end
when the database is back, has space, or the other writer commits: a run that hit one
goes back to the queue (`RunQueue.retry_later`) and continues from its last checkpoint.
Everything else (a graph or application error) fails the run.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator

import psycopg
from psycopg_pool import PoolTimeout
from sqlalchemy import exc as sa_exc

from langgraph_ollama_local.agent.ledger import FencedOffError

# SQLite's primary result codes that pass: busy/locked writers, I/O errors, a full disk.
_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN")
_SQLITE_MESSAGES = ("database is locked", "disk i/o error", "database or disk is full", "unable to open")
_OS_TRANSIENT = {errno.ENOSPC, errno.EIO, errno.ECONNREFUSED, errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT}
# How such errors read in `hitl_runs.error` ("Name: message"), for runs failed before this
# module existed: the reconciler puts them back in the queue.
_TRANSIENT_NAMES = (
    "OperationalError",
    "InterfaceError",
    "AdminShutdown",
    "CrashShutdown",
    "CannotConnectNow",
    "ConnectionFailure",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "PoolTimeout",
    "SerializationFailure",
    "DeadlockDetected",
)


def is_transient(error: BaseException) -> bool:
    """True when `error` (or what caused it) is a storage or connection error that passes."""
    for exc in _causes(error):
        if isinstance(exc, FencedOffError):
            return False
        if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | PoolTimeout):
            return True
        if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
            return True
        if isinstance(exc, sa_exc.TimeoutError):  # SQLAlchemy's pool had no connection to give
            return True
        if isinstance(exc, sqlite3.OperationalError) and _sqlite_transient(exc):
            return True
        if isinstance(exc, ConnectionError) or (isinstance(exc, OSError) and exc.errno in _OS_TRANSIENT):
            return True
    return False


def is_transient_text(error: str | None) -> bool:
    """The same judgement from a recorded `"Name: message"` (runs failed by older versions)."""
    if not error:
        return False
    name, _, message = error.partition(":")
    lowered = message.lower()
    return name.strip() in _TRANSIENT_NAMES or any(m in lowered for m in _SQLITE_MESSAGES)


def _sqlite_transient(exc: sqlite3.OperationalError) -> bool:
    code = str(getattr(exc, "sqlite_errorname", "") or "")
    if any(code.startswith(name) for name in _SQLITE_TRANSIENT):
        return True
    return any(m in str(exc).lower() for m in _SQLITE_MESSAGES)


def _causes(error: BaseException) -> Iterator[BaseException]:
    """`error`, what it wraps (`orig`, `__cause__`) and group members, once each.

    Not `__context__`: an error raised while handling a storage error is its own error.
    """
    seen: set[int] = set()
    todo = [error]
    while todo:
        exc = todo.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        yield exc
        if isinstance(exc, BaseExceptionGroup):
            todo.extend(exc.exceptions)
        orig = getattr(exc, "orig", None)
        for nxt in (orig, exc.__cause__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


class DatabaseUnavailableError(RuntimeError):
    """The database did not answer (restarting, unreachable, full): try again shortly.

    `decision_stored` says what became of a decision being stored when it happened:
    False (not stored), True (stored; what follows it is recovered by the service), or
    None (unknown: the connection dropped around the commit — read the request to know).
    """

    def __init__(self, cause: BaseException, *, decision_stored: bool | None = False) -> None:
        super().__init__(
            f"the database is unavailable ({type(cause).__name__}: {' '.join(str(cause).split())[:300]})"
        )
        self.decision_stored = decision_stored
