"""The database's clock, as SQL: the one clock every process sharing the store agrees on.

Leases, deadlines and audit times compared across processes must come from one clock; a
process whose own clock runs 20 s ahead would otherwise take over live runs and accept
late decisions. `db_now(dialect, seconds)` is "now + seconds" evaluated by the database:
PostgreSQL's `statement_timestamp()`, SQLite's `'now'` (written in the same text format
SQLAlchemy stores datetimes in, so comparisons with stored values hold).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, func, literal, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%f000"  # %f is SS.SSS: pad to SQLAlchemy's microseconds


def db_now(dialect: str, seconds: float = 0.0) -> ColumnElement[datetime]:
    """`now + seconds` on the database's clock, for `dialect` ("postgresql" or "sqlite")."""
    if dialect == "postgresql":
        now: ColumnElement[datetime] = func.statement_timestamp(type_=DateTime(timezone=True))
        if seconds:
            return now + func.make_interval(0, 0, 0, 0, 0, 0, literal(float(seconds)))
        return now
    return func.strftime(
        _SQLITE_FORMAT, "now", f"{float(seconds):+.6f} seconds", type_=DateTime(timezone=True)
    )


def at_or_db_now(dialect: str, now: datetime | None, seconds: float = 0.0) -> ColumnElement[datetime]:
    """A given time (tests fast-forward with it) plus `seconds`, else the database's now."""
    if now is None:
        return db_now(dialect, seconds)
    from datetime import timedelta

    return literal(now + timedelta(seconds=seconds), DateTime(timezone=True))


async def read_db_now(conn: AsyncConnection) -> datetime:
    """The database's current time (UTC), for values computed in Python (deadlines, audit)."""
    value = await conn.scalar(select(db_now(conn.dialect.name)))
    if not isinstance(value, datetime):  # pragma: no cover - both dialects return datetimes
        raise RuntimeError(f"the database returned {value!r} for the current time")
    return as_utc(value)
