"""Web sessions and one-time login codes, kept server side.

A session cookie only names a row here (by a random id, stored as its SHA-256): logging out
ends the row, so a copied cookie stops working at once; a session also ends after
`idle` without a request and at its absolute `expires_at`. A login code lets a link sign
someone in without carrying a long-lived token: it lives minutes and is used once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from langgraph_ollama_local.store.audit import append_audit, as_utc
from langgraph_ollama_local.store.schema import login_codes, web_sessions

TOUCH_RESOLUTION = timedelta(seconds=30)  # last_seen_at is written at most this often


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "backslashreplace")).hexdigest()


@dataclass(frozen=True)
class WebSession:
    token_id: str
    user: str
    last_seen_at: datetime
    expires_at: datetime


class SessionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def start(self, token_id: str, user: str, *, now: datetime, max_age: timedelta) -> str:
        """A new session for this token; returns the id the cookie carries (never stored)."""
        session_id = secrets.token_urlsafe(32)
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(web_sessions).values(
                    id_hash=_digest(session_id),
                    token_id=token_id,
                    user=user,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + max_age,
                )
            )
        return session_id

    async def active(self, session_id: str, *, now: datetime, idle: timedelta) -> WebSession | None:
        """The live session this id names (not ended, not idle too long, not expired), else None."""
        key = _digest(session_id)
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(web_sessions).where(web_sessions.c.id_hash == key))).first()
        if row is None or row.ended_at is not None:
            return None
        seen, expires = as_utc(row.last_seen_at), as_utc(row.expires_at)
        if now >= expires or now - seen >= idle:
            await self.end(session_id, by="system:idle" if now < expires else "system:expired", now=now)
            return None
        if now - seen >= TOUCH_RESOLUTION:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(web_sessions).where(web_sessions.c.id_hash == key).values(last_seen_at=now)
                )
        return WebSession(row.token_id, row.user, seen, expires)

    async def end(self, session_id: str, *, by: str, now: datetime) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id_hash == _digest(session_id), web_sessions.c.ended_at.is_(None))
                .values(ended_at=now, ended_by=by)
            )
            return bool(result.rowcount)

    async def new_login_code(self, token_id: str, *, created_by: str, now: datetime, ttl: timedelta) -> str:
        code = secrets.token_urlsafe(24)
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(login_codes).values(
                    code_hash=_digest(code),
                    token_id=token_id,
                    created_at=now,
                    created_by=created_by,
                    expires_at=now + ttl,
                )
            )
            await append_audit(
                conn,
                actor=created_by,
                action="login_code.created",
                subject_type="token",
                subject_id=token_id,
                data={"expires_at": (now + ttl).isoformat()},
                at=now,
            )
        return code

    async def redeem_login_code(self, code: str, *, now: datetime) -> str | None:
        """The token id a valid, unused, unexpired code stands for; the code is spent either way."""
        key = _digest(code)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(login_codes)
                .where(login_codes.c.code_hash == key, login_codes.c.used_at.is_(None))
                .values(used_at=now)
                .returning(login_codes.c.token_id, login_codes.c.expires_at)
            )
            row = result.first()
        if row is None or as_utc(row.expires_at) <= now:
            return None
        return str(row.token_id)
