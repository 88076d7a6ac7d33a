"""Fault campaigns on real processes: PostgreSQL restarting under traffic, and one worker's
clock 20 s ahead (Debian's libfaketime), while client threads drive approval cycles.

Two `hitl serve --workers 0` API processes and two `hitl worker` processes run the crash
suite's graph (`crash_graph.py`: a gated `pay` that takes an idempotency key and a gated
`wipe` that cannot recognise repeats). The bank, where the effects land, is a database
on the shared server; the service's own database is where the fault is. Afterwards the
crash suite's checks hold: no gated action without its approval, none twice, every
acknowledged decision stored, every thread finished, no run failed.

    HITL_FAULT_RESTARTS=4 (CI)  HITL_SKEW_SECONDS=40 (CI)  HITL_FAULT_SEED=…
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.runtime.crash_graph import SCHEMA
from tests.runtime.private_postgres import PrivatePostgres
from tests.runtime.test_crash_recovery import (
    DRIVERS,
    GRAPH,
    THREAD_DEADLINE,
    Cluster,
    Driver,
    check_invariants,
)
from tests.server.support import start_worker

RESTARTS = int(os.environ.get("HITL_FAULT_RESTARTS", "4"))
SKEW_SECONDS = float(os.environ.get("HITL_SKEW_SECONDS", "40"))
SEED = int(os.environ.get("HITL_FAULT_SEED", str(int(time.time()))))
HERE = Path(__file__).parent
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")

pytestmark = pytest.mark.postgres


def _drive(cluster: Cluster, rng: random.Random, chaos, label: str) -> str:
    """Run the drivers while `chaos()` does its work, then let every thread finish and check."""
    stop = threading.Event()
    drivers = [Driver(cluster, random.Random(SEED + i + 1), stop) for i in range(DRIVERS)]
    threads = [threading.Thread(target=d.run, args=(f"{label}{i}",), daemon=True) for i, d in enumerate(drivers)]
    for thread in threads:
        thread.start()
    try:
        chaos()
    finally:
        stop.set()
    for thread in threads:
        thread.join(THREAD_DEADLINE + 60)
    return drivers  # type: ignore[return-value]


def _print_unfinished(drivers: list[Driver], db: str) -> None:
    for thread in [t for d in drivers for t in d.unfinished]:
        print(f"unfinished {thread}: {drivers[0].describe(thread)}")
        with psycopg.connect(db) as conn:
            for row in conn.execute("SELECT id, status, attempts, retries, input->>'kind', error FROM hitl_runs "
                                    "WHERE thread_id = %s ORDER BY created_at", (thread,)):
                print(f"  run {row}")


def test_postgres_restarts_during_approval_cycles_lose_no_approval_and_repeat_no_effect(pg_url, tmp_path):
    rng = random.Random(SEED)
    print(f"\nrestart campaign: seed {SEED}, {RESTARTS} restarts")
    with psycopg.connect(pg_url, autocommit=True) as bank:
        bank.execute(SCHEMA)
    server = PrivatePostgres()
    env = {"CRASH_BANK_URL": pg_url, "HITL_AUTH__DECISION_RATE": "100000/minute",
           "PYTHONPATH": str(HERE.parent.parent)}
    cluster = Cluster(tmp_path, server.url, env)
    outages: list[float] = []

    def restarts() -> None:
        time.sleep(3)
        for n in range(RESTARTS):
            time.sleep(rng.uniform(2.0, 5.0))
            mode = "immediate" if n % 2 else "fast"  # a crash, or AdminShutdown of every session
            down = time.monotonic()
            server.stop(mode)
            time.sleep(rng.uniform(1.0, 4.0))
            server.start()
            outages.append(time.monotonic() - down)
        time.sleep(3)

    try:
        drivers = _drive(cluster, rng, restarts, "r")
        try:
            report = check_invariants(server.url, drivers, bank_db=pg_url)
        except AssertionError:
            _print_unfinished(drivers, server.url)
            raise
    finally:
        cluster.stop()
        server.destroy()
    print(f"restart campaign: {len(outages)} outages of {min(outages):.1f}-{max(outages):.1f}s, {report}")


class SkewedCluster(Cluster):
    """The first worker's clock runs `SKEW` ahead of everyone else's; leases are 5 s."""

    SKEW = "+20s"

    def __init__(self, home: Path, db: str, env: dict[str, str]) -> None:
        self.started_workers = 0
        super().__init__(home, db, env)

    def _worker(self):
        self.started_workers += 1
        env = dict(self.env)
        if self.started_workers == 1:
            env.update(LD_PRELOAD=str(LIBFAKETIME), FAKETIME=self.SKEW, FAKETIME_DONT_FAKE_MONOTONIC="1")
        return start_worker(self.home, self.db, graph=GRAPH, policy=None, env=env, lease_seconds=5.0,
                            log_name=f"worker-{self.started_workers}.log")


def test_a_worker_clock_20s_ahead_runs_nothing_unapproved_and_nothing_twice(pg_url, tmp_path):
    if not LIBFAKETIME.exists():
        pytest.fail(f"{LIBFAKETIME} is missing: apt-get install -y faketime (scripts/install.sh does)")
    rng = random.Random(SEED)
    print(f"\nskew campaign: seed {SEED}, {SKEW_SECONDS:g}s of traffic, one worker {SkewedCluster.SKEW}")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
    env = {"CRASH_BANK_URL": pg_url, "HITL_AUTH__DECISION_RATE": "100000/minute",
           "PYTHONPATH": str(HERE.parent.parent)}
    cluster = SkewedCluster(tmp_path, pg_url, env)
    skewed_log = tmp_path / "worker-1.log"
    try:
        drivers = _drive(cluster, rng, lambda: time.sleep(SKEW_SECONDS), "s")
        try:
            report = check_invariants(pg_url, drivers)
        except AssertionError:
            _print_unfinished(drivers, pg_url)
            raise
        with psycopg.connect(pg_url) as conn:
            breakpoints = conn.execute(
                "SELECT count(*) FROM hitl_approval_requests WHERE kind = 'breakpoint'").fetchone()[0]
            skewed_calls = conn.execute(  # calls made by the worker whose clock is 20 s ahead
                "SELECT (SELECT count(*) FROM bank_attempts WHERE process_clock - extract(epoch FROM at) > 10)"
                " + (SELECT count(*) FROM bank_wipes WHERE process_clock - extract(epoch FROM at) > 10)").fetchone()[0]
        assert breakpoints == 0, f"{breakpoints} bogus breakpoint items (a worker drove a thread it did not hold)"
    finally:
        cluster.stop()
    assert "worker " in skewed_log.read_text()
    assert skewed_calls > 0, "the skewed worker made no call: the campaign tested nothing"
    print(f"skew campaign: {report}; {skewed_calls} of the calls were made by the skewed worker")
