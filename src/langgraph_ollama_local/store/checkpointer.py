"""Open LangGraph's own checkpointers from a URL: `memory`, `sqlite:///…`, `postgresql://…`.

LangGraph's checkpointer is the source of truth for graph state; nothing here persists
state by hand. PostgreSQL uses a psycopg pool configured as LangGraph requires
(autocommit, no prepared statements, dict rows) and runs LangGraph's migrations once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver


class StorageConfigError(ValueError):
    """The storage URL names no supported backend."""


class StorageUnavailableError(RuntimeError):
    """The storage backend could not be opened."""


def sqlite_path(url: str) -> Path:
    """`sqlite:///rel/path.db` is relative, `sqlite:////abs/path.db` absolute (SQLAlchemy style)."""
    rest = url.removeprefix("sqlite://")
    if not rest.startswith("/") or rest == "/":
        raise StorageConfigError(f"{url!r}: write sqlite:///relative/file.db or sqlite:////absolute/file.db")
    return Path(rest[1:])


def _kind(url: str) -> str:
    if url == "memory":
        return "memory"
    if url.startswith("sqlite://"):
        return "sqlite"
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        return "postgres"
    raise StorageConfigError(
        f"unsupported storage URL {url!r}: use memory, sqlite:///path/to/file.db or "
        "postgresql://user@host:5432/database"
    )


def _pg_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


_PG_KWARGS: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0}


def _pg_unavailable(url: str, exc: Exception) -> StorageUnavailableError:
    return StorageUnavailableError(
        f"cannot open PostgreSQL at {url}: {exc}. Start the server (e.g. `pg_ctlcluster "
        "--skip-systemctl-redirect $(ls /etc/postgresql) main start`) or fix HITL_STORAGE_URL."
    )


@contextmanager
def open_checkpointer(url: str) -> Iterator[BaseCheckpointSaver[Any]]:
    """A synchronous checkpointer for `url`, closed on exit."""
    kind = _kind(url)
    if kind == "memory":
        yield InMemorySaver()
    elif kind == "sqlite":
        import sqlite3

        from langgraph.checkpoint.sqlite import SqliteSaver

        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False)
        try:
            saver = SqliteSaver(conn)
            saver.setup()
            yield saver
        finally:
            conn.close()
    else:
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        try:
            pool = ConnectionPool(
                _pg_conninfo(url), max_size=8, kwargs={**_PG_KWARGS, "row_factory": dict_row}, open=False
            )
            pool.open(wait=True, timeout=10)
        except Exception as exc:
            raise _pg_unavailable(url, exc) from exc
        try:
            pg_saver = PostgresSaver(pool)  # type: ignore[arg-type]
            pg_saver.setup()
            yield pg_saver
        finally:
            pool.close()


@asynccontextmanager
async def open_async_checkpointer(url: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """An asyncio checkpointer for `url` (for `ainvoke` / the service), closed on exit."""
    kind = _kind(url)
    if kind == "memory":
        yield InMemorySaver()
    elif kind == "sqlite":
        import aiosqlite
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(path) as conn:
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            yield saver
    else:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import AsyncConnectionPool

        try:
            pool = AsyncConnectionPool(
                _pg_conninfo(url), max_size=8, kwargs={**_PG_KWARGS, "row_factory": dict_row}, open=False
            )
            await pool.open(wait=True, timeout=10)
        except Exception as exc:
            raise _pg_unavailable(url, exc) from exc
        try:
            asaver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
            await asaver.setup()
            yield asaver
        finally:
            await pool.close()


def check_storage(url: str) -> tuple[bool, str]:
    """Open the storage once; `(ok, message)` for `hitl doctor`."""
    try:
        with open_checkpointer(url) as saver:
            name = type(saver).__name__
    except (StorageConfigError, StorageUnavailableError) as exc:
        return False, str(exc)
    except Exception as exc:
        return False, f"cannot open {url}: {exc}"
    return True, f"{url} ({name})"
