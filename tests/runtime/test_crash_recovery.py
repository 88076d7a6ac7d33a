"""Crash suite: kill -9 API and worker processes at random points of approval cycles.

Two `hitl serve --workers 0` API processes and two `hitl worker` processes share one
PostgreSQL database. Client threads drive conversations (each asks for a gated `pay` and
a gated `wipe`, see crash_graph.py), approving or rejecting at random, while a chaos loop
SIGKILLs a random live process every 0.4–1.5 s and starts a new one in the background
(both workers may be down at once). Each kill is one trial.
Afterwards, checked from the database and the bank's own tables:

- no gated action ran without an approved request;
- no approved action ran twice (`pay` at most one payment per call; `wipe`, which cannot
  recognise repeats, at most one execution) and every approved one ran once, unless the
  ledger marks it in doubt (a kill inside the tool: then it ran at most once);
- no acknowledged decision was lost, and each request was decided exactly once (audit);
- every conversation ended consistent: no run queued or running, nothing pending, the
  graph at its end.

    HITL_CRASH_TRIALS=50 (kills, CI default)  HITL_CRASH_SEED=…  pytest tests/runtime/test_crash_recovery.py -s
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.server.support import launch, start_worker

HERE = Path(__file__).parent
GRAPH = f"{HERE / 'crash_graph.py'}:graph"
TRIALS = int(os.environ.get("HITL_CRASH_TRIALS", "50"))
SEED = int(os.environ.get("HITL_CRASH_SEED", str(int(time.time()))))
DRIVERS = 4
THREAD_DEADLINE = 240.0

pytestmark = pytest.mark.postgres


class Cluster:
    """The live processes; the chaos loop replaces them, the drivers use whichever is up."""

    def __init__(self, home: Path, db: str, env: dict[str, str]) -> None:
        self.home, self.db, self.env = home, db, env
        self.lock = threading.Lock()
        first = launch(home, graph=GRAPH, users={"root": ("admin", "approver")}, policy=None, db=db, env=env,
                       extra_args=("--workers", "0"))
        self.tokens = first.tokens
        self.apis = [first, self._api()]
        self.workers = [self._worker() for _ in range(2)]

    def _api(self):
        return launch(self.home, graph=GRAPH, users={}, policy=None, db=self.db, env=self.env,
                      extra_args=("--workers", "0"), tokens=self.tokens)

    def _worker(self):
        return start_worker(self.home, self.db, graph=GRAPH, policy=None, env=self.env, lease_seconds=2.0)

    def base(self, rng: random.Random) -> str:
        with self.lock:
            return rng.choice(self.apis).base

    def kill_one(self, rng: random.Random) -> str | None:
        """SIGKILL a random live process and start its replacement in the background.

        None when nothing may be killed now (every worker is down, or only one API is up,
        which the drivers need to reach the service at all): the caller waits.
        """
        with self.lock:
            kinds = ["worker"] * (2 if self.workers else 0) + ["api"] * (1 if len(self.apis) > 1 else 0)
            if not kinds:
                return None
            kind = rng.choice(kinds)
            pool = self.workers if kind == "worker" else self.apis
            victim = pool.pop(rng.randrange(len(pool)))
        proc = victim if kind == "worker" else victim.proc
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

        def replace() -> None:
            fresh = self._worker() if kind == "worker" else self._api()
            with self.lock:
                (self.workers if kind == "worker" else self.apis).append(fresh)

        threading.Thread(target=replace, daemon=True).start()
        return kind

    def full_strength(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.apis) == 2 and len(self.workers) == 2:
                    return
            time.sleep(0.2)
        raise AssertionError("replacement processes did not come up")

    def stop(self) -> None:
        with self.lock:
            for api in self.apis:
                api.stop()
            for worker in self.workers:
                worker.terminate()
                try:
                    worker.wait(10)
                except Exception:
                    worker.kill()


class Driver:
    """Runs conversations back to back until told to stop; records what the API acknowledged."""

    def __init__(self, cluster: Cluster, rng: random.Random, stop: threading.Event) -> None:
        self.cluster, self.rng, self.stop = cluster, rng, stop
        self.headers = {"Authorization": f"Bearer {cluster.tokens['root']}"}
        self.acked: dict[str, str] = {}  # request id -> status the API confirmed
        self.done: list[str] = []
        self.unfinished: list[str] = []
        self.not_started: list[str] = []

    def call(self, method: str, path: str, **kwargs) -> httpx.Response | None:
        try:
            return httpx.request(method, self.cluster.base(self.rng) + path, headers=self.headers,
                                 timeout=10, **kwargs)
        except httpx.HTTPError:
            return None  # that process was killed mid-request: the caller decides what it means

    def run(self, prefix: str) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            self.conversation(f"{prefix}-{n}")

    def conversation(self, thread: str) -> None:
        started = self.call("POST", f"/threads/{thread}/runs", json={"message": f"pay for thread {thread}"})
        # A failed start may have committed before the kill; we never retry (that would be a
        # second request), and watch whether the thread moves anyway.
        if (started is None or started.status_code != 202) and not self.appears(thread):
            self.not_started.append(thread)
            return
        deadline = time.monotonic() + THREAD_DEADLINE
        while time.monotonic() < deadline:
            page = self.call("GET", "/approvals", params={"thread_id": thread})
            if page is None or page.status_code != 200:
                time.sleep(0.1)
                continue
            items = page.json()["items"]
            for item in items:
                self.decide(item["id"])
            if not items and self.finished(thread):
                self.done.append(thread)
                return
            time.sleep(0.05)
        self.unfinished.append(thread)

    def appears(self, thread: str, seconds: float = 20) -> bool:
        """Whether the start committed its run (the thread alone may exist without one)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            trail = self.call("GET", "/audit", params={"thread_id": thread})
            if trail is not None and trail.status_code == 200:
                return any(e["action"] == "run.created" for e in trail.json())
            time.sleep(0.2)
        return False

    def decide(self, request_id: str) -> None:
        choice = "approve" if self.rng.random() < 0.8 else "reject"
        want = {"approve": "approved", "reject": "rejected"}[choice]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = self.call("POST", f"/approvals/{request_id}/decision", json={"type": choice})
            if answer is not None and answer.status_code == 200:
                self.acked[request_id] = want
                return
            if answer is not None and answer.status_code == 409:
                # Our earlier attempt may have committed before its process died.
                current = answer.json()["approval"]
                if current["decided_by"] == "root" and current["status"] == want:
                    self.acked[request_id] = want
                return
            time.sleep(0.1)

    def describe(self, thread: str) -> str:
        """Where an unfinished thread stands, for the failure message."""
        state = self.call("GET", f"/threads/{thread}/state")
        if state is None or state.status_code != 200:
            return "state unreadable"
        body = state.json()
        last = (body.get("values", {}).get("messages") or [{}])[-1]
        content = str(last.get("data", last).get("content", ""))[:80]
        return f"next={body.get('next')} interrupts={len(body.get('interrupts') or [])} last={last.get('type')}:{content!r}"

    def finished(self, thread: str) -> bool:
        state = self.call("GET", f"/threads/{thread}/state")
        if state is None or state.status_code != 200:
            return False
        body = state.json()
        messages = body.get("values", {}).get("messages", [])
        return not body.get("next") and bool(messages) and messages[-1].get("type") == "ai" \
            and messages[-1].get("data", messages[-1]).get("content") == "Done."


def test_kill_9_at_random_points_loses_no_decision_and_repeats_no_effect(pg_url, tmp_path):
    rng = random.Random(SEED)
    print(f"\ncrash suite: seed {SEED}, {TRIALS} kills")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        from tests.runtime.crash_graph import SCHEMA

        conn.execute(SCHEMA)
    env = {"CRASH_BANK_URL": pg_url, "HITL_AUTH__DECISION_RATE": "100000/minute",
           "PYTHONPATH": str(HERE.parent.parent)}
    cluster = Cluster(tmp_path, pg_url, env)
    stop = threading.Event()
    drivers = [Driver(cluster, random.Random(SEED + i + 1), stop) for i in range(DRIVERS)]
    threads = [threading.Thread(target=d.run, args=(f"c{i}",), daemon=True) for i, d in enumerate(drivers)]
    kills: Counter[str] = Counter()
    try:
        for thread in threads:
            thread.start()
        time.sleep(2)
        while sum(kills.values()) < TRIALS:
            time.sleep(rng.uniform(0.4, 1.5))
            kind = cluster.kill_one(rng)
            if kind is not None:
                kills[kind] += 1
                if sum(kills.values()) % 100 == 0:  # long campaigns (`make faults`) show they progress
                    print(f"crash suite: {sum(kills.values())}/{TRIALS} kills ({dict(kills)})", flush=True)
        stop.set()
        cluster.full_strength()
        for thread in threads:
            thread.join(THREAD_DEADLINE + 60)
        report = check_invariants(pg_url, drivers)
    except AssertionError:
        for thread in [t for d in drivers for t in d.unfinished]:
            print(f"unfinished {thread}: {drivers[0].describe(thread)}")
            with psycopg.connect(pg_url) as conn:
                for row in conn.execute("SELECT id, status, attempts, input->>'kind', resume_key, error, created_at "
                                        "FROM hitl_runs WHERE thread_id = %s ORDER BY created_at", (thread,)):
                    print(f"  run {row}")
                for row in conn.execute("SELECT id, tool, status, interrupt_id, created_at FROM hitl_approval_requests "
                                        "WHERE thread_id = %s ORDER BY created_at", (thread,)):
                    print(f"  request {row}")
                for row in conn.execute("SELECT key, status FROM hitl_tool_executions WHERE key LIKE %s",
                                        (f"{thread}/%",)):
                    print(f"  ledger {row}")
        raise
    finally:
        stop.set()
        cluster.stop()
    print(f"crash suite: {sum(kills.values())} kills ({dict(kills)}), {report}")


def check_invariants(db: str, drivers: list[Driver], bank_db: str | None = None) -> str:
    """`db` holds the service's tables; `bank_db` (default: the same) the bank's."""
    acked = {k: v for d in drivers for k, v in d.acked.items()}
    done = [t for d in drivers for t in d.done]
    unfinished = [t for d in drivers for t in d.unfinished]
    violations: list[str] = []
    with psycopg.connect(db) as conn:
        requests = {
            row[0]: row[1:]
            for row in conn.execute(
                "SELECT id, thread_id, tool, tool_call_id, status, decided_by FROM hitl_approval_requests"
            )
        }
        by_call = {(r[0], r[2]): (rid, r[3]) for rid, r in requests.items()}  # (thread, call id)
        decided_entries = Counter(
            row[0] for row in conn.execute("SELECT subject_id FROM hitl_audit_log WHERE action = 'approval.decided'")
        )
        with psycopg.connect(bank_db or db) as bank:
            payments = list(bank.execute("SELECT key, thread FROM bank_payments"))
            attempts = bank.execute("SELECT count(*) FROM bank_attempts").fetchone()[0]
            wipes = Counter(row[0] for row in bank.execute("SELECT target FROM bank_wipes"))
        ledger = {row[0]: row[1] for row in conn.execute("SELECT key, status FROM hitl_tool_executions")}
        checkpoints = [row[0] for row in conn.execute("SELECT count(*) FROM checkpoints GROUP BY thread_id")]
        active_runs = list(conn.execute("SELECT id, thread_id, status FROM hitl_runs WHERE status IN ('queued','running')"))
        failed_runs = list(conn.execute("SELECT id, thread_id, error FROM hitl_runs WHERE status = 'failed'"))

    # 1. no lost decision, each decided once
    for request_id, status in acked.items():
        if requests[request_id][3] != status:
            violations.append(f"decision lost: {request_id} acknowledged {status}, stored {requests[request_id][3]}")
    for request_id, row in requests.items():
        if row[3] != "pending" and decided_entries[request_id] != 1:
            violations.append(f"{request_id} has {decided_entries[request_id]} approval.decided entries")

    # 2. effects only with approval, never twice
    paid_calls: Counter[tuple[str, str]] = Counter()
    for key, _thread in payments:
        thread_id, _message, call_id = key.rsplit("/", 2)
        paid_calls[(thread_id, call_id)] += 1
        match = by_call.get((thread_id, call_id))
        if match is None or requests[match[0]][3] != "approved":
            violations.append(f"payment without approval: {key}")
    for (thread_id, tool_call), (request_id, tool) in by_call.items():
        status = requests[request_id][3]
        if tool == "pay":
            count = paid_calls[(thread_id, tool_call)]
            if count > 1:
                violations.append(f"paid twice: {thread_id}/{tool_call}")
            if status != "approved" and count:
                violations.append(f"paid though {status}: {thread_id}/{tool_call}")
            if status == "approved" and thread_id in done and count != 1:
                violations.append(f"approved payment not made: {thread_id}/{tool_call}")
        elif tool == "wipe":
            count = wipes[f"logs_{thread_id}"]
            in_doubt = any(k.startswith(f"{thread_id}/") and k.endswith(f"/{tool_call}") and s == "in_doubt"
                           for k, s in ledger.items())
            if count > 1:
                violations.append(f"wiped {count} times: {thread_id}")
            if status != "approved" and count:
                violations.append(f"wiped though {status}: {thread_id}")
            if status == "approved" and thread_id in done and count != 1 and not in_doubt:
                violations.append(f"approved wipe neither ran nor is in doubt: {thread_id}")

    # 3. every thread consistent
    if unfinished:
        violations.append(f"threads that never finished: {unfinished}")
    if active_runs:
        violations.append(f"runs still queued/running: {active_runs}")
    if failed_runs:
        violations.append(f"failed runs: {failed_runs}")
    pending_done = [r for r in requests.values() if r[0] in done and r[3] == "pending"]
    if pending_done:
        violations.append(f"finished threads with pending requests: {pending_done}")

    assert not violations, "\n".join(violations[:30])
    in_doubt = sum(1 for s in ledger.values() if s == "in_doubt")
    return (
        f"{len(done)} conversations, {len(requests)} approval requests, {len(acked)} acknowledged decisions, "
        f"{len(payments)} payments from {attempts} pay attempts, {sum(wipes.values())} wipes, "
        f"{in_doubt} calls in doubt, violations 0; checkpoints per thread at the end: "
        f"max {max(checkpoints, default=0)}, total {sum(checkpoints)} (retention prunes them to its depth)"
    )
