"""Load: thousands of threads paused at approvals, decided at a steady rate, memory flat.

Real processes on one PostgreSQL database: one `hitl serve --workers 0` (the API) and two
`hitl worker` processes (the runs). The scripted graph asks to `send_email` once per
thread; approved emails land in $HITL_HOME/outbox.

- Phase 1: HITL_LOAD_THREADS threads (default 1000) are started over HTTP by a small pool
  of clients; wait until GET /approvals reports that many pending.
- Phase 2: approve them through POST /approvals/{id}/decision at HITL_LOAD_RATE decisions/s
  (default 10), paced by a shared schedule (decision k is sent at t0 + k/rate by one of a
  few client threads), for at most HITL_LOAD_SECONDS (default 90). RSS of every process is
  sampled at the start, every ~10 s and at the end.
- Phase 3: wait until every decided thread's resume run has ended.

Asserts: every decision answered 200; every decided thread's email is in the outbox
exactly once and no undecided thread's email is; no run failed (read from the store);
memory flat (see RSS_FACTOR / RSS_SLACK_MB). No timing asserts: the achieved rate is
printed, not checked.

Long mode, e.g. 5000 threads at 20/s for 10 minutes:

    HITL_LOAD_THREADS=5000 HITL_LOAD_RATE=20 HITL_LOAD_SECONDS=600 \\
        .venv/bin/pytest -m load tests/runtime/test_load.py -s
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.server.support import STRICT_POLICY, launch, start_worker

THREADS = int(os.environ.get("HITL_LOAD_THREADS", "1000"))
RATE = float(os.environ.get("HITL_LOAD_RATE", "10"))
SECONDS = float(os.environ.get("HITL_LOAD_SECONDS", "90"))
SAMPLE_EVERY = 10.0
START_CLIENTS = 8  # concurrent POST /threads/{id}/runs in phase 1
DECIDERS = max(4, min(32, math.ceil(RATE / 2)))  # client threads sharing the decision schedule
# Leak guard, not a timing assert: a process's RSS after the decisions may be at most
# 1.5 x its RSS when they started, plus 30 MB for allocator noise and caches warming up.
# The scripted model (a test double) keeps only its latest 1000 prompts.
RSS_FACTOR = 1.5
RSS_SLACK_MB = 30.0

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.load,
    # Generous, so the long mode is not cut short: startup + phase 1 + phase 2 + drain.
    pytest.mark.timeout(int(max(600, 300 + THREADS * 0.3 + SECONDS * 2))),
]


def rss_mb(pid: int) -> float:
    """Resident set size of `pid` in MB, from /proc/<pid>/status (VmRSS, in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far (diagnostic only; /proc/<pid>/stat fields 14-15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def address(i: int) -> str:
    return f"load{i}@example.com"


def store_runs(db: str) -> list[tuple[str, str, str, str | None]]:
    """(thread_id, status, input kind, error) of every run, read from the store itself."""
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT thread_id, status, input, error FROM hitl_runs").fetchall()
    return [(t, s, (i or {}).get("kind", "?"), e) for t, s, i, e in rows]


def outbox_recipients(home: Path) -> Counter[str]:
    return Counter(str(message_from_bytes(p.read_bytes())["To"]) for p in (home / "outbox").glob("*.eml"))


def wait_for(predicate, seconds: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")
        time.sleep(every)


def test_thousands_paused_steady_decisions_flat_memory(tmp_path, pg_url):
    home = tmp_path
    procs: dict[str, int] = {}
    service = None
    workers = []
    try:
        # Decisions come from one approver identity at RATE/s; the per-identity limit
        # (auth.decision_rate, 60/minute by default) is raised for this load like an
        # operator would for a bulk-approving integration.
        limit = f"{int(RATE * 60 * 10) + 600}/minute"
        service = launch(
            home,
            graph="scripted_graph.py:graph",
            users={"alice": ("requester",), "bob": ("approver",)},
            policy=STRICT_POLICY,
            db=pg_url,
            extra_args=("--workers", "0"),
            env={"HITL_AUTH__DECISION_RATE": limit},
        )
        for n in range(2):
            workers.append(
                start_worker(
                    home,
                    pg_url,
                    graph="scripted_graph.py:graph",
                    policy=STRICT_POLICY,
                    concurrency=4,
                    lease_seconds=15,
                    log_name=f"worker-{n}.log",
                )
            )
        procs = {"api": service.proc.pid, "worker-0": workers[0].pid, "worker-1": workers[1].pid}

        # -- phase 1: THREADS threads paused at an approval ---------------------------------
        t_phase1 = time.monotonic()
        start_errors: list[str] = []
        local = threading.local()

        def start(i: int) -> None:
            if not hasattr(local, "client"):
                local.client = service.client("alice")
            try:
                r = local.client.post(
                    f"/threads/load-{i}/runs", json={"message": f"Send email to {address(i)}"}
                )
                if r.status_code != 202:
                    start_errors.append(f"load-{i}: {r.status_code} {r.text[:200]}")
            except httpx.HTTPError as exc:
                start_errors.append(f"load-{i}: {type(exc).__name__}: {exc}")

        with ThreadPoolExecutor(START_CLIENTS) as pool:
            list(pool.map(start, range(THREADS)))
        assert start_errors == [], start_errors[:5]
        submitted = time.monotonic() - t_phase1

        bob = service.client("bob")

        def pending() -> int:
            failed = [r for r in store_runs(pg_url) if r[1] == "failed"]
            assert failed == [], f"runs failed while pausing: {failed[:3]}"
            total = bob.get("/approvals", params={"limit": 1}).json()["total"]
            return total if total >= THREADS else 0

        wait_for(pending, 120 + THREADS * 0.5, f"{THREADS} pending approvals")
        paused_in = time.monotonic() - t_phase1
        ids: list[str] = []
        for offset in range(0, THREADS, 500):
            page = bob.get("/approvals", params={"limit": 500, "offset": offset}).json()
            ids += [item["id"] for item in page["items"]]
        assert len(ids) == len(set(ids)) == THREADS
        print(
            f"\nphase 1: {THREADS} runs submitted in {submitted:.1f}s, all paused at approvals "
            f"after {paused_in:.1f}s"
        )

        # -- phase 2: decisions at a steady RATE, RSS sampled --------------------------------
        target = min(THREADS, int(RATE * SECONDS))
        samples: list[tuple[float, dict[str, float]]] = []
        lock = threading.Lock()
        cursor = 0
        outcomes: list[tuple[int, int, float, str]] = []  # (k, status, latency s, thread_id or error)
        t0 = time.monotonic()
        samples.append((0.0, {name: rss_mb(pid) for name, pid in procs.items()}))
        cpu_start = {name: cpu_seconds(pid) for name, pid in procs.items()}
        done = threading.Event()

        def sampler() -> None:
            while not done.wait(SAMPLE_EVERY):
                samples.append((time.monotonic() - t0, {name: rss_mb(pid) for name, pid in procs.items()}))

        def decider() -> None:
            nonlocal cursor
            with service.client("bob") as client:
                while True:
                    with lock:
                        k = cursor
                        if k >= target:
                            return
                        cursor += 1
                    delay = t0 + k / RATE - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    sent = time.monotonic()
                    try:
                        r = client.post(f"/approvals/{ids[k]}/decision", json={"type": "approve"})
                        body = r.json() if r.status_code == 200 else {}
                        ok = r.status_code == 200 and body.get("status") == "approved"
                        note = body.get("thread_id", "") if ok else f"{r.status_code} {r.text[:200]}"
                        outcomes.append(
                            (k, r.status_code if ok else -r.status_code, time.monotonic() - sent, note)
                        )
                    except httpx.HTTPError as exc:
                        outcomes.append((k, 0, time.monotonic() - sent, f"{type(exc).__name__}: {exc}"))

        watcher = threading.Thread(target=sampler, daemon=True)
        watcher.start()
        clients = [threading.Thread(target=decider) for _ in range(DECIDERS)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        elapsed = time.monotonic() - t0
        cpu = {name: (cpu_seconds(pid) - cpu_start[name]) / elapsed for name, pid in procs.items()}
        done.set()
        watcher.join()
        samples.append((elapsed, {name: rss_mb(pid) for name, pid in procs.items()}))

        errors = [o for o in outcomes if o[1] != 200]
        decided = sorted(o[3] for o in outcomes if o[1] == 200)
        latencies = sorted(o[2] for o in outcomes)
        achieved = len(outcomes) / elapsed if elapsed else 0.0

        # -- phase 3: every decided thread's run ends ----------------------------------------
        decided_set = set(decided)

        def drained() -> list | None:
            rows = store_runs(pg_url)
            if any(status in ("queued", "running") for _, status, _, _ in rows):
                return None
            resumed = [r for r in rows if r[2] == "resume"]
            return rows if len(resumed) >= len(decided_set) else None

        t_drain = time.monotonic()
        rows = wait_for(drained, 120 + THREADS * 0.2, "every resume run to end")
        drain = time.monotonic() - t_drain
        samples.append((time.monotonic() - t0, {name: rss_mb(pid) for name, pid in procs.items()}))
        logs = {p.name: p.read_text() for p in home.glob("*.log")}

        start_rss, end_rss = samples[0][1], samples[-1][1]
        peak_rss = {name: max(s[1][name] for s in samples) for name in procs}
        rss_text = ", ".join(
            f"{name} {start_rss[name]:.0f}→{end_rss[name]:.0f} MB (peak {peak_rss[name]:.0f})"
            for name in procs
        )
        p50 = latencies[len(latencies) // 2] if latencies else 0.0
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else 0.0
        print(
            f"phase 2: {len(outcomes)} decisions in {elapsed:.1f}s; latency p50 {p50 * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms; phase 3 drained in {drain:.1f}s; CPU "
            + ", ".join(f"{n} {c * 100:.0f}%" for n, c in cpu.items())
        )
        for at, values in samples:
            print(f"  rss t={at:6.1f}s " + " ".join(f"{n}={v:.0f}MB" for n, v in values.items()))
        print(
            f"LOAD SUMMARY: threads={THREADS} decisions={len(outcomes)} "
            f"rate={achieved:.2f}/s (target {RATE:g}/s) errors={len(errors)} rss: {rss_text}"
        )

        # -- asserts --------------------------------------------------------------------------
        assert errors == [], f"{len(errors)} decisions failed: {errors[:5]}"
        assert len(decided) == len(decided_set) == target
        by_thread: dict[str, list[tuple[str, str, str | None]]] = {}
        for thread_id, status, kind, error in rows:
            by_thread.setdefault(thread_id, []).append((status, kind, error))
        failed = [
            (t, r) for t, runs in by_thread.items() for r in runs if r[0] not in ("paused", "succeeded")
        ]
        assert failed == [], f"runs that did not end well: {failed[:5]}"
        for i in range(THREADS):
            kinds = sorted((kind, status) for status, kind, _ in by_thread[f"load-{i}"])
            expected = (
                [("message", "paused"), ("resume", "succeeded")]
                if f"load-{i}" in decided_set
                else [("message", "paused")]
            )
            assert kinds == expected, f"load-{i}: {kinds}"
        sent = outbox_recipients(home)
        want = Counter(address(int(t.removeprefix("load-"))) for t in decided_set)
        assert sent == want, (
            f"outbox differs: {sum((sent - want).values())} extra, "
            f"{sum((want - sent).values())} missing, e.g. {list((sent - want) + (want - sent))[:5]}"
        )
        undecided = bob.get("/approvals", params={"limit": 1}).json()["total"]
        assert undecided == THREADS - target
        for name, text in logs.items():
            assert "Traceback" not in text, f"{name} logged a traceback:\n{text[-3000:]}"
        for name in procs:
            bound = start_rss[name] * RSS_FACTOR + RSS_SLACK_MB
            assert end_rss[name] <= bound, (
                f"{name} RSS grew {start_rss[name]:.0f}→{end_rss[name]:.0f} MB (> {bound:.0f})"
            )
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(15)
            except Exception:
                w.kill()
        if service is not None:
            service.stop()
