"""The append-only, hash-chained audit log, keyed and anchorable.

Each entry carries the MAC of the one before; its own MAC (HMAC-SHA256 under the audit
key, which lives outside the database: `HITL_AUTH__AUDIT_KEY` or `$HITL_HOME/audit.key`)
covers its sequence number, time, actor, action, subject and data. Editing or deleting a
row breaks the chain at that row, the head row exposes a deleted tail, and someone who can
write the database but lacks the key cannot recompute the chain. Anchors (`hitl audit
anchor`: a keyed `{seq, hash}` checkpoint written to a file or a webhook) are what catch a
truncated tail with the head reset, a wiped log, or a rewrite by someone holding the key
but not the anchors. Appends lock the head, so concurrent writers extend the chain one
after another, in the same transaction as the change they record.

Entries written before a key was in use (unkeyed SHA-256) verify as a legacy prefix; an
unkeyed entry after a keyed one is reported as forged.

Times are the database's clock (read in the append's first statement), so the chain's
order and its times agree whichever process wrote each entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from langgraph_ollama_local.approvals.digest import canonical_json
from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.store.clock import as_utc, db_now
from langgraph_ollama_local.store.files import private_dir, write_private
from langgraph_ollama_local.store.schema import audit_head, audit_log

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditReport",
    "NewAuditEntry",
    "append_audit",
    "append_audit_entries",
    "as_utc",
    "entry_hash",
    "verify_audit",
]

GENESIS = "0" * 64
_KEYS: weakref.WeakKeyDictionary[Engine, bytes] = weakref.WeakKeyDictionary()


def load_audit_key(configured: str | None, home: Path) -> bytes:
    """The configured key, or a random one kept (0600) in `home` across restarts."""
    if configured:
        return configured.encode()
    path = home / "audit.key"
    if not path.exists():
        private_dir(home)
        write_private(path, secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip().encode()


def audit_key_of(config: LocalAgentConfig) -> bytes:
    secret = config.auth.audit_key.get_secret_value() if config.auth.audit_key else None
    return load_audit_key(secret, config.home)


def anchors_file(config: LocalAgentConfig) -> Path:
    """Where `hitl audit anchor` writes by default (and `verify` looks first)."""
    return config.home / "audit-anchors.jsonl"


def use_audit_key(engine: AsyncEngine, key: bytes | None) -> None:
    """Every entry appended through `engine` from now on is keyed with `key`."""
    if key:
        _KEYS[engine.sync_engine] = key


def entry_hash(prev_hash: str, fields: dict[str, Any], key: bytes | None = None) -> str:
    body = canonical_json({**fields, "at": as_utc(fields["at"]).isoformat()})
    message = f"{prev_hash}|{body}".encode()
    if key:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def anchor_mac(key: bytes, seq: int, digest: str, at: str) -> str:
    return hmac.new(key, f"anchor|{seq}|{digest}|{at}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Anchor:
    """A checkpoint of the chain kept outside the database: entry `seq` had MAC `hash`."""

    seq: int
    hash: str
    at: str
    mac: str

    @classmethod
    def make(cls, key: bytes, seq: int, digest: str) -> Anchor:
        at = datetime.now(UTC).isoformat()
        return cls(seq, digest, at, anchor_mac(key, seq, digest, at))

    def genuine(self, key: bytes) -> bool:
        return hmac.compare_digest(self.mac, anchor_mac(key, self.seq, self.hash, self.at))

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def last_in(cls, path: Path) -> Anchor | None:
        """The newest anchor of a file of JSON lines (None when there is none)."""
        if not path.exists():
            return None
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            return None
        data = json.loads(lines[-1])
        return cls(int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["mac"]))


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


@dataclass(frozen=True)
class NewAuditEntry:
    """An entry to append (`append_audit_entries`): what happened, not yet chained."""

    actor: str
    action: str
    subject_type: str
    subject_id: str
    thread_id: str | None = None
    data: dict[str, Any] | None = None
    at: datetime | None = None


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
    (entry,) = await append_audit_entries(
        conn, [NewAuditEntry(actor, action, subject_type, subject_id, thread_id, data, at)]
    )
    return entry


async def append_audit_entries(conn: AsyncConnection, entries: Sequence[NewAuditEntry]) -> list[AuditEntry]:
    """Append `entries`, in order, inside the caller's transaction.

    The head is locked and read once and written once for all of them: 2 + n statements
    for n entries (3 for one). A transaction that records several changes appends their
    entries with one call, at its end; it must not append to the chain any other way in
    between (the head is written only here, after the last entry)."""
    if not entries:
        return []
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
    key = _KEYS.get(conn.engine.sync_engine)
    seq, prev_hash = int(head.last_seq), str(head.last_hash)
    appended: list[AuditEntry] = []
    for entry in entries:
        seq += 1
        fields: dict[str, Any] = {
            "seq": seq,
            "at": as_utc(entry.at or _as_datetime(head.now)),
            "actor": entry.actor,
            "action": entry.action,
            "subject_type": entry.subject_type,
            "subject_id": entry.subject_id,
            "thread_id": entry.thread_id,
            "data": entry.data or {},
        }
        digest = entry_hash(prev_hash, fields, key)
        await conn.execute(insert(audit_log).values(**fields, prev_hash=prev_hash, hash=digest))
        appended.append(AuditEntry(**fields, prev_hash=prev_hash, hash=digest))
        prev_hash = digest
    await conn.execute(
        update(audit_head).where(audit_head.c.id == 1).values(last_seq=seq, last_hash=prev_hash)
    )
    return appended


def _as_datetime(value: Any) -> datetime:
    """SQLite hands a function's value back as text; PostgreSQL as a datetime."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class AuditReport:
    ok: bool
    entries: int
    problems: list[str]
    keyed: bool = False  # verified with the audit key
    legacy_unkeyed: int = 0  # entries from before the key was used (a prefix)
    anchored_seq: int | None = None  # the anchor checked against, if any
    notes: list[str] = field(default_factory=list)


async def head_of(conn: AsyncConnection) -> tuple[int, str]:
    """(seq, hash) of the newest entry, or (0, GENESIS) for an empty log."""
    row = (
        await conn.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        )
    ).first()
    return (int(row.seq), str(row.hash)) if row else (0, GENESIS)


async def verify_audit(
    conn: AsyncConnection, key: bytes | None = None, anchor: Anchor | None = None
) -> AuditReport:
    """Walk the whole chain; report every row whose link or MAC does not hold, and whether the
    log still reaches (and agrees with) the latest anchor."""
    key = key or _KEYS.get(conn.engine.sync_engine)
    problems: list[str] = []
    notes: list[str] = []
    prev_hash, expected_seq, count, legacy, keyed_seen = GENESIS, 1, 0, 0, False
    anchored: str | None = None
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
        if key and hmac.compare_digest(entry_hash(row.prev_hash, fields, key), row.hash):
            keyed_seen = True
        elif entry_hash(row.prev_hash, fields) == row.hash:
            if key and keyed_seen:
                problems.append(f"entry {row.seq}: not keyed, after keyed entries (forged without the key?)")
            elif key:
                legacy += 1
        else:
            problems.append(
                f"entry {row.seq}: content does not match its hash (edited?"
                + (")" if key else ", or keyed: verify with the audit key)")
            )
        if anchor is not None and row.seq == anchor.seq:
            anchored = row.hash
        prev_hash, expected_seq = row.hash, row.seq + 1
    head = (await conn.execute(select(audit_head).where(audit_head.c.id == 1))).first()
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != prev_hash):
        problems.append(
            f"the chain ends at entry {expected_seq - 1} but its head says {head.last_seq} (tail deleted?)"
        )
    if head is None and count:
        problems.append("the chain head is missing")
    if legacy:
        notes.append(f"entries 1..{legacy} predate the audit key (unkeyed SHA-256): anchors protect them")
    if anchor is not None:
        if key is None or not anchor.genuine(key):
            problems.append(f"the anchor of {anchor.at} does not verify with this audit key (forged anchor?)")
        elif expected_seq - 1 < anchor.seq:
            problems.append(
                f"truncated: the anchor of {anchor.at} saw entry {anchor.seq}, the log ends at "
                f"{expected_seq - 1} ({anchor.seq - expected_seq + 1} entries or more gone)"
            )
        elif anchored != anchor.hash:
            problems.append(
                f"entry {anchor.seq} differs from the anchor of {anchor.at}: the chain was rewritten"
            )
    elif key is not None:
        notes.append(
            "no anchor given: a truncated tail with its head reset would not show (hitl audit anchor)"
        )
    return AuditReport(
        ok=not problems,
        entries=count,
        problems=problems,
        keyed=key is not None,
        legacy_unkeyed=legacy,
        anchored_seq=anchor.seq if anchor else None,
        notes=notes,
    )
