"""The audit chain against someone who can write the database but holds neither the audit key
nor the anchors: every rewrite the review tried is caught (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import delete, select, update

from langgraph_ollama_local.store.approval_store import ApprovalStore
from langgraph_ollama_local.store.audit import Anchor, entry_hash
from langgraph_ollama_local.store.schema import audit_head, audit_log

KEY = b"k" * 48


async def rewrite(store: ApprovalStore, start: int, key: bytes | None = None, **change) -> None:
    """What an attacker with database access does: change entry `start`, recompute every hash
    after it (unkeyed, or with a key of their own) and move the head along."""
    async with store.engine.begin() as conn:
        rows = (await conn.execute(select(audit_log).where(audit_log.c.seq >= start).order_by(audit_log.c.seq))).all()
        prev = (await conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == start - 1))).scalar() or "0" * 64
        for i, row in enumerate(rows):
            fields = {k: getattr(row, k) for k in ("seq", "at", "actor", "action", "subject_type", "subject_id", "thread_id")}
            fields["data"] = row.data or {}
            if i == 0:
                fields.update(change)
            digest = entry_hash(prev, fields, key)
            await conn.execute(update(audit_log).where(audit_log.c.seq == row.seq).values(**change if i == 0 else {},
                                                                                          prev_hash=prev, hash=digest))
            prev = digest
        await conn.execute(update(audit_head).values(last_seq=rows[-1].seq, last_hash=prev))


async def test_a_database_writer_cannot_rewrite_truncate_wipe_or_append(store_url):
    store = await ApprovalStore.open(store_url, audit_key=KEY)
    try:
        for i in range(5):
            await store.ensure_thread(f"t{i}", actor="alice")
        report = await store.verify_audit()
        assert report.ok and report.keyed and report.entries == 5
        anchor = await store.audit_anchor()
        assert anchor.seq == 5 and (await store.verify_audit(anchor=anchor)).ok

        # 1. recompute-and-rewrite without the key (the old chain's weakness), or with a key of one's own
        for key in (None, b"mallory-key" * 4):
            await rewrite(store, 3, key, actor="mallory")
            report = await store.verify_audit()
            assert not report.ok and any("entry 3" in p for p in report.problems), report
            await rewrite(store, 3, KEY, actor="alice")  # (test only: restore with the real key)
            assert (await store.verify_audit(anchor=anchor)).ok

        # 2. appended forgeries
        await store.ensure_thread("t5", actor="alice")
        await rewrite(store, 6, None, actor="mallory")
        assert any("not keyed" in p for p in (await store.verify_audit()).problems)
        await rewrite(store, 6, KEY, actor="alice")

        # 3. truncate the tail and reset the head: only the anchor sees it
        async with store.engine.begin() as conn:
            await conn.execute(delete(audit_log).where(audit_log.c.seq >= 4))
            last = (await conn.execute(select(audit_log.c.hash).where(audit_log.c.seq == 3))).scalar()
            await conn.execute(update(audit_head).values(last_seq=3, last_hash=last))
        assert (await store.verify_audit()).ok  # consistent on its own ...
        truncated = await store.verify_audit(anchor=anchor)
        assert not truncated.ok and any("truncated" in p and "entry 5" in p for p in truncated.problems)

        # 4. wipe everything
        async with store.engine.begin() as conn:
            await conn.execute(delete(audit_log))
            await conn.execute(update(audit_head).values(last_seq=0, last_hash="0" * 64))
        assert not (await store.verify_audit(anchor=anchor)).ok

        # 5. a forged anchor
        fake = Anchor(anchor.seq, anchor.hash, anchor.at, "0" * 64)
        assert any("does not verify" in p for p in (await store.verify_audit(anchor=fake)).problems)
    finally:
        await store.close()


def test_hitl_audit_anchor_then_verify_reports_truncation(tmp_path):
    hitl = Path(sys.executable).with_name("hitl")
    env = {**os.environ, "HITL_HOME": str(tmp_path)}
    db = f"sqlite:///{tmp_path}/hitl.db"
    for user in ("a", "b", "c"):
        subprocess.run([str(hitl), "tokens", "create", user, "--db", db, "-q"], env=env, check=True, capture_output=True)
    anchored = subprocess.run([str(hitl), "audit", "anchor", "--db", db], env=env, capture_output=True, text=True)
    assert anchored.returncode == 0 and "anchored entry 3" in anchored.stdout
    assert (tmp_path / "audit-anchors.jsonl").exists() and (tmp_path / "audit.key").stat().st_mode & 0o077 == 0
    ok = subprocess.run([str(hitl), "audit", "verify", "--db", db], env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and "matches the anchor at entry 3" in ok.stdout
    import sqlite3

    with sqlite3.connect(tmp_path / "hitl.db") as conn:
        conn.execute("DELETE FROM hitl_audit_log WHERE seq = 3")
        last = conn.execute("SELECT hash FROM hitl_audit_log WHERE seq = 2").fetchone()[0]
        conn.execute("UPDATE hitl_audit_head SET last_seq = 2, last_hash = ?", (last,))
    bad = subprocess.run([str(hitl), "audit", "verify", "--db", db], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "truncated" in bad.stdout
