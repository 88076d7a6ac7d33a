"""Times compared across processes come from the database's clock, not each process's.

A real second process runs with its clock 20 s ahead (Debian's libfaketime) against a
PostgreSQL store, as the review's skewed worker did.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from langgraph_ollama_local.store.approval_store import ApprovalStore

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
AHEAD = {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": "+20s", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


def run_ahead(url: str, code: str) -> str:
    """Run `code` (with `store` open on `url`) in a process whose clock is 20 s ahead."""
    if not LIBFAKETIME.exists():
        pytest.fail(f"{LIBFAKETIME} is missing: apt-get install -y faketime (scripts/install.sh does)")
    body = textwrap.indent(textwrap.dedent(code).strip(), " " * 12)
    script = "\n".join([
        "import asyncio, time",
        "from langgraph_ollama_local.store.approval_store import ApprovalStore",
        "async def main():",
        f"    store = await ApprovalStore.open({url!r}, run_migrations=False)",
        "    try:",
        body,
        "    finally:",
        "        await store.close()",
        f"print('ahead by', round(time.time() - {time.time()!r}))",
        "asyncio.run(main())",
    ])
    done = subprocess.run([sys.executable, "-c", script], env={**os.environ, **AHEAD},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "ahead by 2" in done.stdout, f"libfaketime did not skew the clock: {done.stdout}"  # 20 s (+ start-up)
    return done.stdout


@pytest.mark.postgres
async def test_audit_times_follow_the_chain_whatever_the_writers_clock(pg_url):
    store = await ApprovalStore.open(pg_url)
    try:
        run_ahead(pg_url, 'await store.audit(actor="skewed", action="test.ahead", subject_type="t", subject_id="1")')
        await store.audit(actor="honest", action="test.after", subject_type="t", subject_id="2")
        ahead, after = [e for e in await store.audit_entries() if e.action.startswith("test.")]
        assert ahead.seq < after.seq
        assert ahead.at <= after.at, f"seq {ahead.seq} at {ahead.at} is after seq {after.seq} at {after.at}"
        assert (await store.verify_audit()).ok
    finally:
        await store.close()


@pytest.mark.postgres
async def test_deadlines_recorded_by_a_fast_process_are_on_the_database_clock(pg_url):
    store = await ApprovalStore.open(pg_url)
    try:
        before = datetime.now(UTC)  # the shared server runs on this machine: same clock
        run_ahead(pg_url, """
            from langgraph_ollama_local.store.approval_store import NewRequest
            await store.record_requests("t", None, [NewRequest(kind="question", interrupt_id="q1")])
        """)
        (request,) = (await store.inbox())[0]
        assert before <= request.created_at <= datetime.now(UTC), f"created {request.created_at}, now {datetime.now(UTC)}"
    finally:
        await store.close()
