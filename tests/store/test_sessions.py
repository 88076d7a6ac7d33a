"""Server-side web sessions and one-time login codes on SQLite and PostgreSQL (explicit clocks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from langgraph_ollama_local.store.approval_store import ApprovalStore
from langgraph_ollama_local.store.sessions import SessionStore

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
IDLE = timedelta(minutes=30)


async def test_sessions_end_on_logout_idle_and_age(store_url):
    store = await ApprovalStore.open(store_url)
    sessions = SessionStore(store.engine)
    try:
        sid = await sessions.start("tok1", "alice", now=T0, max_age=timedelta(hours=12))
        assert (await sessions.active(sid, now=T0 + timedelta(minutes=29), idle=IDLE)) is not None
        # each request moves the idle clock on: 29 + 29 minutes is fine
        assert (await sessions.active(sid, now=T0 + timedelta(minutes=58), idle=IDLE)) is not None
        assert (await sessions.active(sid, now=T0 + timedelta(minutes=89), idle=IDLE)) is None  # idle 31 min
        assert (await sessions.active(sid, now=T0 + timedelta(minutes=90), idle=IDLE)) is None  # ended for good

        other = await sessions.start("tok1", "alice", now=T0, max_age=timedelta(hours=1))
        assert await sessions.end(other, by="alice", now=T0)
        assert (await sessions.active(other, now=T0, idle=IDLE)) is None

        old = await sessions.start("tok1", "alice", now=T0, max_age=timedelta(hours=1))
        for minute in range(0, 61, 20):
            alive = await sessions.active(old, now=T0 + timedelta(minutes=minute), idle=IDLE)
        assert alive is None  # at 60 min the absolute age ends it, however busy
        assert (await sessions.active("made-up", now=T0, idle=IDLE)) is None
    finally:
        await store.close()


async def test_login_codes_are_single_use_and_short_lived(store_url):
    store = await ApprovalStore.open(store_url)
    sessions = SessionStore(store.engine)
    try:
        code = await sessions.new_login_code("tok1", created_by="cli:x", now=T0, ttl=timedelta(minutes=15))
        assert await sessions.redeem_login_code(code, now=T0 + timedelta(minutes=1)) == "tok1"
        assert await sessions.redeem_login_code(code, now=T0 + timedelta(minutes=2)) is None
        late = await sessions.new_login_code("tok1", created_by="cli:x", now=T0, ttl=timedelta(minutes=15))
        assert await sessions.redeem_login_code(late, now=T0 + timedelta(minutes=16)) is None
        assert await sessions.redeem_login_code("nope", now=T0) is None
        assert (await store.verify_audit()).ok
    finally:
        await store.close()
