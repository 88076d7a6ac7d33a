"""Open LangGraph's own checkpointers from one URL: `memory`, `sqlite:///…`, `postgresql://…`.

LangGraph's checkpointer is the source of truth for graph state, so nothing here
persists state by hand: this module only turns a URL into the right LangGraph saver,
opened and migrated, and turns the ways that can fail into errors a user can act on.

- `memory`: `InMemorySaver`, gone when the process exits (tests, throwaway sessions).
- `sqlite:///relative/file.db` or `sqlite:////absolute/file.db` (SQLAlchemy's rule:
  three slashes then the path): `SqliteSaver` / `AsyncSqliteSaver`; parent folders are
  created.
- `postgresql://`, `postgres://`, `postgresql+psycopg://`: `PostgresSaver` /
  `AsyncPostgresSaver` over a psycopg pool configured as LangGraph requires
  (`autocommit=True`, `prepare_threshold=0`, `row_factory=dict_row`); LangGraph's
  migrations run once per open via `.setup()`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langgraph_ollama_local.store.files import private_sqlite

if TYPE_CHECKING:  # LangGraph loads when a saver is opened: URL checks and errors stay cheap to import
    from langchain_core.runnables import RunnableConfig
    from langgraph.checkpoint.base import BaseCheckpointSaver

StorageKind = Literal["memory", "sqlite", "postgres"]

SUPPORTED_FORMS = (
    "memory, sqlite:///relative/file.db, sqlite:////absolute/file.db or postgresql://user@host:5432/db"
)
_PG_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg://")
_MEMORY_URLS = ("memory", "memory://")
_PG_CONNECT_TIMEOUT_S = 10
_PG_POOL_MAX_SIZE = 8


class StorageConfigError(ValueError):
    """The storage URL is malformed or names no supported backend; fix the URL."""


class StorageUnavailableError(RuntimeError):
    """The storage URL is fine but the backend could not be opened (server down, bad path…)."""


def storage_kind(url: str) -> StorageKind:
    """Which backend `url` names; `StorageConfigError` if none."""
    if url in _MEMORY_URLS:
        return "memory"
    if url.startswith("sqlite:"):
        return "sqlite"
    if url.startswith(_PG_PREFIXES):
        return "postgres"
    raise StorageConfigError(
        f"unsupported storage URL {url!r}: use {SUPPORTED_FORMS} (set HITL_STORAGE_URL or --db)"
    )


def sqlite_path(url: str) -> Path:
    """The file a `sqlite:` URL names.

    SQLAlchemy's convention, so the same URL works for the approval store:
    `sqlite:///rel/path.db` is relative to the working directory, `sqlite:////abs/path.db`
    is absolute. A leading `~` is expanded for convenience.
    """
    rest = url.removeprefix("sqlite:")
    if not rest.startswith("///") or len(rest) == 3:
        raise StorageConfigError(
            f"storage URL {url!r} names no SQLite file: write sqlite:///relative/file.db "
            "or sqlite:////absolute/file.db (three slashes, then the path)"
        )
    if "?" in rest:
        raise StorageConfigError(
            f"storage URL {url!r} has query parameters, which are not supported for SQLite: "
            "remove everything from '?' on"
        )
    return Path(rest[3:]).expanduser()


def postgres_conninfo(url: str) -> str:
    """A libpq connection string for psycopg (the SQLAlchemy `+psycopg` driver tag dropped)."""
    if url.startswith("postgresql+psycopg://"):
        return "postgresql://" + url.removeprefix("postgresql+psycopg://")
    return url


def _postgres_params(url: str) -> dict[str, Any]:
    from psycopg import conninfo

    try:
        return conninfo.conninfo_to_dict(postgres_conninfo(url))
    except Exception as exc:  # psycopg.ProgrammingError: libpq could not parse it
        raise StorageConfigError(
            f"storage URL {_redact(url)} is not a valid PostgreSQL URL ({_flat(exc)}): "
            "write postgresql://user[:password]@host[:port]/database"
        ) from exc


def describe_storage(url: str) -> str:
    """Where graph state will live, in words, without opening anything (passwords hidden)."""
    kind = storage_kind(url)
    if kind == "memory":
        return "in-memory (InMemorySaver): state is lost when the process exits"
    if kind == "sqlite":
        path = sqlite_path(url)
        return f"SQLite file {path.absolute()} (SqliteSaver)"
    params = _postgres_params(url)
    host = params.get("host") or params.get("hostaddr") or "local socket"
    port = params.get("port") or "5432"
    user = params.get("user") or "the current OS user"
    database = params.get("dbname") or user
    return f"PostgreSQL database {database!r} on {host}:{port} as {user} (PostgresSaver)"


def check_storage(url: str) -> tuple[bool, str]:
    """Open the storage once and read from it; `(ok, message)` for `hitl doctor`."""
    probe: RunnableConfig = {"configurable": {"thread_id": "hitl-doctor-probe", "checkpoint_ns": ""}}
    try:
        description = describe_storage(url)
        with open_checkpointer(url) as saver:
            saver.get_tuple(probe)
    except (StorageConfigError, StorageUnavailableError) as exc:
        return False, str(exc)
    except Exception as exc:  # doctor reports, it must not crash
        return False, f"cannot use the storage {_redact(url)}: {_flat(exc)}"
    return True, f"{description}; opened and ready"


@contextmanager
def open_checkpointer(url: str) -> Iterator[BaseCheckpointSaver[Any]]:
    """A synchronous LangGraph checkpointer for `url`, set up, and closed on exit.

    Errors opening it raise `StorageConfigError` (bad URL) or `StorageUnavailableError`
    (backend down or unusable); errors raised inside the `with` body pass through as-is.
    """
    kind = storage_kind(url)
    if kind == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        yield InMemorySaver()
    elif kind == "sqlite":
        with _open_sqlite(url) as saver:
            yield saver
    else:
        with _open_postgres(url) as pg_saver:
            yield pg_saver


@asynccontextmanager
async def open_async_checkpointer(url: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    """The asyncio counterpart of `open_checkpointer` (for `ainvoke` and the service)."""
    kind = storage_kind(url)
    if kind == "memory":
        from langgraph.checkpoint.memory import InMemorySaver

        yield InMemorySaver()
    elif kind == "sqlite":
        async with _open_async_sqlite(url) as saver:
            yield saver
    else:
        async with _open_async_postgres(url) as pg_saver:
            yield pg_saver


# --- SQLite ------------------------------------------------------------------------------


def _sqlite_unavailable(path: Path, exc: BaseException) -> StorageUnavailableError:
    return StorageUnavailableError(
        f"cannot open the storage SQLite file {path} ({_flat(exc)}). Check that its folder can be "
        "created and written and that the file (if it exists) is a SQLite database, or point "
        "HITL_STORAGE_URL / --db at another path"
    )


@contextmanager
def _open_sqlite(url: str) -> Iterator[BaseCheckpointSaver[Any]]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    path = sqlite_path(url)
    try:
        private_sqlite(path)
        # SqliteSaver serialises access with its own lock; LangGraph runs nodes in threads.
        conn = sqlite3.connect(path, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise _sqlite_unavailable(path, exc) from exc
    try:
        saver = SqliteSaver(conn)
        try:
            saver.setup()
        except sqlite3.Error as exc:
            raise _sqlite_unavailable(path, exc) from exc
        yield saver
    finally:
        conn.close()


@asynccontextmanager
async def _open_async_sqlite(url: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = sqlite_path(url)
    try:
        private_sqlite(path)
        conn = await aiosqlite.connect(path)
    except (OSError, sqlite3.Error) as exc:
        raise _sqlite_unavailable(path, exc) from exc
    try:
        saver = AsyncSqliteSaver(conn)
        try:
            await saver.setup()
        except sqlite3.Error as exc:
            raise _sqlite_unavailable(path, exc) from exc
        yield saver
    finally:
        await conn.close()


# --- PostgreSQL --------------------------------------------------------------------------


def _pg_connect_kwargs() -> dict[str, Any]:
    """What LangGraph's Postgres savers need from every connection (see their docs)."""
    from psycopg.rows import dict_row

    return {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}


def _pg_probe_conninfo(url: str) -> str:
    """The URL's conninfo with a connect timeout, unless the URL sets its own."""
    from psycopg import conninfo

    params = _postgres_params(url)
    if "connect_timeout" in params:
        return postgres_conninfo(url)
    return conninfo.make_conninfo(postgres_conninfo(url), connect_timeout=_PG_CONNECT_TIMEOUT_S)


def _pg_unavailable(url: str, exc: BaseException) -> StorageUnavailableError:
    reason = _flat(exc)
    lowered = reason.lower()
    if "does not exist" in lowered and "database" in lowered:
        fix = "create the database first (e.g. `createdb -h HOST -U USER DBNAME`) or fix its name in the URL"
    elif "resolve host" in lowered or "translate host name" in lowered:
        fix = "the host name in the URL is not known here: fix it (e.g. 127.0.0.1 for this machine)"
    elif "password" in lowered or "authentication" in lowered or ("role" in lowered and "exist" in lowered):
        fix = "check the user and password in the URL and the server's pg_hba.conf"
    else:
        fix = (
            "start the PostgreSQL server (e.g. `pg_ctlcluster <version> main start` or "
            "`docker run -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres`) and check "
            "the host and port in the URL"
        )
    return StorageUnavailableError(
        f"cannot open the storage PostgreSQL {_redact(url)} ({reason}). To fix: {fix}; "
        "or set HITL_STORAGE_URL / --db to sqlite:///path/to/file.db for a local file"
    )


def _pg_setup_failed(url: str, exc: BaseException) -> StorageUnavailableError:
    return StorageUnavailableError(
        f"connected to PostgreSQL {_redact(url)} but LangGraph's checkpoint migrations failed "
        f"({_flat(exc)}). The user needs permission to create tables in the database's schema "
        "(e.g. `GRANT CREATE ON SCHEMA public TO <user>`)"
    )


@contextmanager
def _open_postgres(url: str) -> Iterator[BaseCheckpointSaver[Any]]:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import DictRow
    from psycopg_pool import ConnectionPool

    probe_conninfo = _pg_probe_conninfo(url)
    try:
        # One direct connection first: a pool only reports "timed out"; libpq says why.
        psycopg.connect(probe_conninfo).close()
    except psycopg.Error as exc:
        raise _pg_unavailable(url, exc) from exc
    pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
        probe_conninfo,
        connection_class=psycopg.Connection[DictRow],
        kwargs=_pg_connect_kwargs(),
        min_size=1,
        max_size=_PG_POOL_MAX_SIZE,
        open=False,
        check=ConnectionPool.check_connection,  # after a server restart: a fresh one, not a dead one
    )
    try:
        try:
            pool.open(wait=True, timeout=_PG_CONNECT_TIMEOUT_S)
        except Exception as exc:  # PoolTimeout, or psycopg.Error
            raise _pg_unavailable(url, exc) from exc
        saver = PostgresSaver(pool)
        try:
            saver.setup()
        except psycopg.Error as exc:
            raise _pg_setup_failed(url, exc) from exc
        yield saver
    finally:
        pool.close()


@asynccontextmanager
async def _open_async_postgres(url: str) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    import psycopg
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import DictRow
    from psycopg_pool import AsyncConnectionPool

    probe_conninfo = _pg_probe_conninfo(url)
    try:
        await (await psycopg.AsyncConnection.connect(probe_conninfo)).close()
    except psycopg.Error as exc:
        raise _pg_unavailable(url, exc) from exc
    pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]] = AsyncConnectionPool(
        probe_conninfo,
        connection_class=psycopg.AsyncConnection[DictRow],
        kwargs=_pg_connect_kwargs(),
        min_size=1,
        max_size=_PG_POOL_MAX_SIZE,
        open=False,
        check=AsyncConnectionPool.check_connection,  # after a server restart: a fresh one
    )
    try:
        try:
            await pool.open(wait=True, timeout=_PG_CONNECT_TIMEOUT_S)
        except Exception as exc:
            raise _pg_unavailable(url, exc) from exc
        saver = AsyncPostgresSaver(pool)
        try:
            await saver.setup()
        except psycopg.Error as exc:
            raise _pg_setup_failed(url, exc) from exc
        yield saver
    finally:
        await pool.close()


# --- helpers -----------------------------------------------------------------------------


def storage_unavailable(url: str, exc: BaseException) -> StorageUnavailableError:
    """The actionable one-line error for a storage at `url` that could not be opened."""
    orig = getattr(exc, "orig", None)  # SQLAlchemy's wrapper: the driver's own words say why
    exc = orig if isinstance(orig, BaseException) else exc
    if storage_kind(url) == "sqlite":
        return _sqlite_unavailable(sqlite_path(url), exc)
    return _pg_unavailable(url, exc)


def _flat(exc: BaseException) -> str:
    """An exception's message on one line (libpq's are multi-line)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _redact(url: str) -> str:
    """`url` with any password replaced by `***`, safe to print and log."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, location = rest.rpartition("@")
    if ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"


# --- checkpoint order across processes ------------------------------------------------------


def order_after(checkpoint_id: str | None) -> None:
    """Make this process's next LangGraph checkpoint ids sort after `checkpoint_id`.

    LangGraph names checkpoints with time-based UUIDv6 from the process's clock and reads
    a thread's newest checkpoint as the greatest id. A thread is driven by whichever
    worker holds its run, so when one worker's clock runs ahead of another's, the
    checkpoints the slower one writes later would sort *before* the fast one's and stay
    hidden: the thread would go back in time. LangGraph already keeps ids increasing
    within one process (its generator never goes below the last timestamp it used); we
    move that floor past the thread's newest checkpoint before a run writes any.
    """
    if not checkpoint_id:
        return
    import uuid

    from langgraph.checkpoint.base import id as checkpoint_ids

    try:
        value = uuid.UUID(checkpoint_id).int
    except ValueError:
        return  # not LangGraph's UUIDv6: nothing to order after
    timestamp = (((value >> 80) & 0xFFFFFFFFFFFF) << 12) | ((value >> 64) & 0x0FFF)
    floor: int | None = checkpoint_ids._last_v6_timestamp
    if floor is None or floor < timestamp:
        setattr(checkpoint_ids, "_last_v6_timestamp", timestamp)  # noqa: B010 - module global
