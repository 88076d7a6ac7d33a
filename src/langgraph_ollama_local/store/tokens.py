"""API token records: create (returns the secret once), look up by token, list, revoke.

Every change is an audit entry in the same transaction, so who issued or revoked which
token is part of the tamper-evident trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from langgraph_ollama_local.auth.identity import Principal, check_user_name
from langgraph_ollama_local.auth.tokens import hash_token, new_token, same_hash, token_id_of
from langgraph_ollama_local.store.audit import append_audit, as_utc
from langgraph_ollama_local.store.schema import api_tokens

LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenNotFoundError(LookupError):
    """No token with this id."""


@dataclass(frozen=True)
class TokenRecord:
    id: str
    user: str
    roles: tuple[str, ...]
    created_at: datetime
    created_by: str
    note: str | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    last_used_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    def principal(self) -> Principal:
        return Principal(user=self.user, roles=frozenset(self.roles), via="token", token_id=self.id)

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {**self.__dict__, "roles": list(self.roles)}
        for key in ("created_at", "expires_at", "revoked_at", "last_used_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def _record(row: Any) -> TokenRecord:
    return _from_mapping(dict(row._mapping))


def _from_mapping(values: dict[str, Any]) -> TokenRecord:
    data: dict[str, Any] = {f: values.get(f) for f in TokenRecord.__dataclass_fields__}
    data["roles"] = tuple(data["roles"] or ())
    for key in ("created_at", "expires_at", "revoked_at", "last_used_at"):
        if data[key] is not None:
            data[key] = as_utc(data[key])
    return TokenRecord(**data)


class TokenStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(
        self,
        user: str,
        roles: list[str],
        *,
        created_by: str,
        now: datetime,
        note: str | None = None,
        expires_in: timedelta | None = None,
    ) -> tuple[TokenRecord, str]:
        """Issue a token; the returned secret is never stored and cannot be shown again."""
        check_user_name(user)
        clean_roles = sorted({r.strip() for r in roles if r.strip()})
        token_id, token = new_token()
        values = {
            "id": token_id,
            "user": user,
            "roles": clean_roles,
            "token_hash": hash_token(token),
            "note": note,
            "created_at": now,
            "created_by": created_by,
            "expires_at": now + expires_in if expires_in else None,
        }
        async with self.engine.begin() as conn:
            await conn.execute(insert(api_tokens).values(**values))
            await append_audit(
                conn,
                actor=created_by,
                action="token.created",
                subject_type="token",
                subject_id=token_id,
                data={"user": user, "roles": clean_roles, "expires_at": str(values["expires_at"] or "")},
                at=now,
            )
        return _from_mapping(values), token

    async def authenticate(self, token: str, now: datetime) -> TokenRecord | None:
        """The active record this token proves, else None (unknown, revoked or expired)."""
        token_id = token_id_of(token)
        if token_id is None:
            return None
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_tokens).where(api_tokens.c.id == token_id))).first()
        if row is None or not same_hash(row.token_hash, hash_token(token)):
            return None
        record = _record(row)
        if not record.active(now):
            return None
        if record.last_used_at is None or now - record.last_used_at > LAST_USED_RESOLUTION:
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
                )
        return record

    async def get(self, token_id: str) -> TokenRecord:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(api_tokens).where(api_tokens.c.id == token_id))).first()
        if row is None:
            raise TokenNotFoundError(f"no API token with id {token_id!r} (see `hitl tokens list`)")
        return _record(row)

    async def list(self) -> list[TokenRecord]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(api_tokens).order_by(api_tokens.c.created_at))
            return [_record(r) for r in rows]

    async def revoke(self, token_id: str, *, revoked_by: str, now: datetime) -> TokenRecord:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(api_tokens)
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=now, revoked_by=revoked_by)
            )
            if result.rowcount:
                await append_audit(
                    conn,
                    actor=revoked_by,
                    action="token.revoked",
                    subject_type="token",
                    subject_id=token_id,
                    at=now,
                )
        return await self.get(token_id)

    async def count_active(self, now: datetime) -> int:
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                select(func.count())
                .select_from(api_tokens)
                .where(
                    api_tokens.c.revoked_at.is_(None),
                    (api_tokens.c.expires_at.is_(None)) | (api_tokens.c.expires_at > now),
                )
            )
            return int(value or 0)

    async def count_all(self) -> int:
        """Every token ever issued, revoked and expired ones included."""
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(api_tokens)) or 0)
