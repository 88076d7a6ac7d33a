"""The append-only, hash-chained audit log.

Times are the database's clock (read in the append's first statement), so the chain's
order and its times agree whichever process wrote each entry.

Each entry carries the hash of the one before; its own hash covers its sequence number,
time, actor, action, subject and data. Editing or deleting a row breaks the chain at that
row, and the head row (last seq + hash) exposes a deleted tail. Appends lock the head, so
concurrent writers extend the chain one after another, in the same transaction as the
change they record.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from langgraph_ollama_local.approvals.digest import canonical_json
from langgraph_ollama_local.store.clock import as_utc, db_now
from langgraph_ollama_local.store.schema import audit_head, audit_log

__all__ = ["GENESIS", "AuditEntry", "AuditReport", "append_audit", "as_utc", "entry_hash", "verify_audit"]

GENESIS = "0" * 64


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    body = canonical_json({**fields, "at": as_utc(fields["at"]).isoformat()})
    return hashlib.sha256(f"{prev_hash}|{body}".encode()).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    thread_id: str | None
    data: dict[str, Any]
    prev_hash: str
    hash: str


async def append_audit(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str,
    thread_id: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction."""
    # Write first: takes the head's row lock (PostgreSQL) / the write lock (SQLite) at once,
    # and reads the head in the same statement.
    # The same statement reads the database's clock: entries of processes whose clocks
    # disagree still carry times in the order of their sequence numbers.
    head = (
        await conn.execute(
            update(audit_head)
            .where(audit_head.c.id == 1)
            .values(id=1)
            .returning(audit_head.c.last_seq, audit_head.c.last_hash, db_now(conn.dialect.name).label("now"))
        )
    ).first()
    if head is None:
        raise RuntimeError("the audit chain head row is missing: run the store migrations (hitl serve does)")
    seq = int(head.last_seq) + 1
    fields: dict[str, Any] = {
        "seq": seq,
        "at": as_utc(at or _as_datetime(head.now)),
        "actor": actor,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "thread_id": thread_id,
        "data": data or {},
    }
    digest = entry_hash(head.last_hash, fields)
    await conn.execute(insert(audit_log).values(**fields, prev_hash=head.last_hash, hash=digest))
    await conn.execute(update(audit_head).where(audit_head.c.id == 1).values(last_seq=seq, last_hash=digest))
    return AuditEntry(**fields, prev_hash=head.last_hash, hash=digest)


def _as_datetime(value: Any) -> datetime:
    """SQLite hands a function's value back as text; PostgreSQL as a datetime."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    entries: int
    problems: list[str]


async def verify_audit(conn: AsyncConnection) -> AuditReport:
    """Walk the whole chain; report every row whose link or hash does not hold."""
    problems: list[str] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    rows = await conn.stream(select(audit_log).order_by(audit_log.c.seq))
    async for row in rows:
        count += 1
        if row.seq != expected_seq:
            problems.append(f"entry {expected_seq}..{row.seq - 1} missing (deleted?)")
        if row.prev_hash != prev_hash:
            problems.append(f"entry {row.seq}: does not link to the entry before it")
        fields = {
            "seq": row.seq,
            "at": row.at,
            "actor": row.actor,
            "action": row.action,
            "subject_type": row.subject_type,
            "subject_id": row.subject_id,
            "thread_id": row.thread_id,
            "data": row.data or {},
        }
        if entry_hash(row.prev_hash, fields) != row.hash:
            problems.append(f"entry {row.seq}: content does not match its hash (edited?)")
        prev_hash, expected_seq = row.hash, row.seq + 1
    head = (await conn.execute(select(audit_head).where(audit_head.c.id == 1))).first()
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != prev_hash):
        problems.append(
            f"the chain ends at entry {expected_seq - 1} but its head says {head.last_seq} (tail deleted?)"
        )
    if head is None and count:
        problems.append("the chain head is missing")
    return AuditReport(ok=not problems, entries=count, problems=problems)
