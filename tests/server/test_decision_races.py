"""Decision races: N approvers decide the SAME approval at the same moment through two API
processes sharing one PostgreSQL database. Exactly one wins (200), every other caller gets
409, the audit log holds exactly one `approval.decided` for the request, and the thread
resumes exactly once (the email is written once when the winner approved, never when the
winner rejected).

Sizes: HITL_RACE_TRIALS (default 20) trials x HITL_RACE_APPROVERS (default 8) approvers.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.server.support import STRICT_POLICY, Service, launch, wait_until

TRIALS = int(os.environ.get("HITL_RACE_TRIALS", "20"))
APPROVERS = int(os.environ.get("HITL_RACE_APPROVERS", "8"))
GRAPH = "scripted_graph.py:graph"
# Each approver decides once per trial; keep the per-identity limiter out of the race.
ENV = {"HITL_AUTH__DECISION_RATE": "10000/minute"}
TERMINAL_RUNS = {"succeeded", "failed", "cancelled", "paused"}


def recipient(trial: int) -> str:
    return f"race-{trial}@example.com"


def emails_to(home: Path, address: str) -> int:
    count = 0
    for path in (home / "outbox").glob("*.eml"):
        message = message_from_bytes(path.read_bytes())
        if address in str(message["To"]):
            count += 1
    return count


def thread_runs(db: str, thread_id: str) -> list[tuple[str, str | None, str | None]]:
    """(status, resume_key, error) of every run of the thread, read straight from the store."""
    with psycopg.connect(db) as conn:
        return [
            (row[0], row[1], row[2])
            for row in conn.execute(
                "SELECT status, resume_key, error FROM hitl_runs WHERE thread_id = %s ORDER BY created_at",
                (thread_id,),
            ).fetchall()
        ]


def tool_executions(db: str, thread_id: str) -> list[tuple[str, str, int]]:
    with psycopg.connect(db) as conn:
        return [
            (row[0], row[1], row[2])
            for row in conn.execute(
                "SELECT tool, status, attempts FROM hitl_tool_executions WHERE thread_id = %s", (thread_id,)
            ).fetchall()
        ]


def full_audit(svc: Service) -> list[dict]:
    """Every audit entry, paged by seq (GET /audit returns at most 1000 at a time)."""
    root = svc.client("root")
    entries: list[dict] = []
    after = 0
    while True:
        page = root.get("/audit", params={"after_seq": after, "limit": 1000})
        assert page.status_code == 200, page.text
        rows = page.json()
        if not rows:
            return entries
        entries += rows
        after = rows[-1]["seq"]


def start_pending(svc: Service, thread: str, to: str) -> dict:
    alice = svc.client("alice")
    run = alice.post(f"/threads/{thread}/runs", json={"message": f"Send email to {to}"})
    assert run.status_code == 202, run.text
    waited = alice.get(f"/runs/{run.json()['id']}/wait", params={"seconds": 30})
    assert waited.json()["status"] == "paused", waited.text
    items = alice.get("/approvals", params={"thread_id": thread}).json()["items"]
    assert len(items) == 1, items
    item = items[0]
    assert item["status"] == "pending" and item["requested_by"] == "alice"
    return item


@pytest.mark.postgres
def test_concurrent_decisions_one_winner_across_two_api_processes(tmp_path, pg_url):
    assert APPROVERS >= 2 and TRIALS >= 1
    approvers = [f"approver{i}" for i in range(APPROVERS)]
    users = {"alice": ("requester",), "root": ("admin",), **{name: ("approver",) for name in approvers}}
    began = time.monotonic()
    a = launch(tmp_path, graph=GRAPH, users=users, policy=STRICT_POLICY, db=pg_url,
               extra_args=("--workers", "1"), env=ENV)
    b = None
    clients: dict[tuple[str, int], httpx.Client] = {}
    try:
        b = launch(tmp_path, graph=GRAPH, users=users, policy=STRICT_POLICY, db=pg_url,
                   extra_args=("--workers", "0"), env=ENV, tokens=a.tokens)
        services = (a, b)
        # One client per (approver, process), connected before the race starts so the
        # barrier releases requests, not TCP handshakes.
        for name in approvers:
            for index, svc in enumerate(services):
                client = svc.client(name)
                assert client.get("/approvals", params={"limit": 1}).status_code == 200
                clients[(name, index)] = client

        status_tally: Counter[int] = Counter()
        winners_by_process: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        violations: list[str] = []

        for trial in range(TRIALS):
            thread = f"race-{trial}"
            to = recipient(trial)
            starter = services[trial % 2]
            item = start_pending(starter, thread, to)
            request_id = item["id"]

            barrier = threading.Barrier(APPROVERS)
            results: list[tuple[str, str, str, httpx.Response | BaseException] | None] = [None] * APPROVERS

            def fire(slot: int, request_id: str = request_id, barrier: threading.Barrier = barrier,
                     results: list = results, trial: int = trial) -> None:
                name = approvers[slot]
                process = (slot + trial) % 2  # alternate A and B, and swap them every trial
                decision = "approve" if slot % 2 == 0 else "reject"
                body = {"type": decision} if decision == "approve" else {"type": "reject", "reason": f"no ({name})"}
                try:
                    barrier.wait(timeout=30)
                    response = clients[(name, process)].post(f"/approvals/{request_id}/decision", json=body)
                    results[slot] = (name, "AB"[process], decision, response)
                except BaseException as exc:  # reported as a failure below
                    results[slot] = (name, "AB"[process], decision, exc)

            threads = [threading.Thread(target=fire, args=(slot,)) for slot in range(APPROVERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert not any(t.is_alive() for t in threads), f"trial {trial}: a decision never returned"

            errors = [r for r in results if r is None or isinstance(r[3], BaseException)]
            assert not errors, f"trial {trial}: requests failed: {errors}"
            statuses = Counter(r[3].status_code for r in results)  # type: ignore[union-attr]
            status_tally.update(statuses)
            detail = [(r[0], r[1], r[2], r[3].status_code, r[3].text[:200]) for r in results]  # type: ignore[union-attr]
            if statuses != Counter({200: 1, 409: APPROVERS - 1}):
                violations.append(f"trial {trial}: statuses {dict(statuses)}: {detail}")
                continue

            (win,) = [r for r in results if r[3].status_code == 200]  # type: ignore[union-attr]
            winner, process, decision, response = win  # type: ignore[misc]
            expected_status = "approved" if decision == "approve" else "rejected"
            winners_by_process[process] += 1
            outcomes[expected_status] += 1
            body = response.json()
            if body["decided_by"] != winner or body["status"] != expected_status:
                violations.append(f"trial {trial}: winner {winner} ({decision}) got back {body}")
            for name, _, _, lost in results:  # type: ignore[misc]
                if lost.status_code == 409:
                    seen = lost.json().get("approval", {})
                    if seen.get("status") == "pending" or seen.get("decided_by") != winner:
                        violations.append(f"trial {trial}: 409 for {name} shows {seen}, winner {winner}")

            stored = a.client("root").get(f"/approvals/{request_id}").json()
            if stored["decided_by"] != winner or stored["status"] != expected_status:
                violations.append(f"trial {trial}: stored {stored['status']} by {stored['decided_by']}, "
                                  f"winner {winner} {expected_status}")

            # The thread resumes once: one resume run, and it ends.
            def settled(thread: str = thread) -> list | None:
                runs = thread_runs(pg_url, thread)
                done = len(runs) >= 2 and all(status in TERMINAL_RUNS for status, _, _ in runs)
                return runs if done else None

            runs = wait_until(settled, 30)
            if not runs:
                violations.append(f"trial {trial}: the thread did not finish: {thread_runs(pg_url, thread)}")
                continue
            time.sleep(0.05)  # a duplicate resume, were there one, has had its chance to be queued
            runs = thread_runs(pg_url, thread)
            resumes = [r for r in runs if r[1] is not None]
            if len(runs) != 2 or len(resumes) != 1 or resumes[0][0] != "succeeded":
                violations.append(f"trial {trial}: runs {runs}")

            trail = a.client("root").get("/audit", params={"thread_id": thread, "limit": 1000}).json()
            decided = [e for e in trail if e["action"] == "approval.decided" and e["subject_id"] == request_id]
            if len(decided) != 1 or decided[0]["actor"] != winner or decided[0]["data"]["status"] != expected_status:
                violations.append(f"trial {trial}: approval.decided entries {[(e['actor'], e['data']) for e in decided]}")

            want = 1 if expected_status == "approved" else 0
            sent = emails_to(tmp_path, to)
            executions = [e for e in tool_executions(pg_url, thread) if e[0] == "send_email"]
            if sent != want:
                violations.append(f"trial {trial}: {sent} email(s) to {to}, expected {want} ({expected_status} by {winner})")
            if executions != [("send_email", "succeeded", 1)] * want:
                violations.append(f"trial {trial}: send_email executions {executions}, expected {want} x succeeded once")

        # Across the whole run: one decision per request, and the hash chain survived the races.
        everything = full_audit(a)
        per_request = Counter(e["subject_id"] for e in everything if e["action"] == "approval.decided")
        if len(per_request) != TRIALS or set(per_request.values()) != {1}:
            violations.append(f"approval.decided per request: {dict(per_request)}")
        verified = a.client("root").get("/audit/verify").json()
        if verified["ok"] is not True:
            violations.append(f"audit chain broken: {verified}")
        total_emails = len(list((tmp_path / "outbox").glob("*.eml")))
        if total_emails != outcomes["approved"]:
            violations.append(f"{total_emails} emails in the outbox for {outcomes['approved']} approvals")

        print(
            f"\nraces: {TRIALS} trials x {APPROVERS} approvers over 2 API processes: "
            f"200s {status_tally[200]} (winners via A {winners_by_process['A']}, B {winners_by_process['B']}), "
            f"409s {status_tally[409]}, other {sum(v for k, v in status_tally.items() if k not in (200, 409))}; "
            f"approved {outcomes['approved']}, rejected {outcomes['rejected']}, emails {total_emails}; "
            f"violations {len(violations)}; {time.monotonic() - began:.1f}s"
        )
        assert not violations, "\n".join(violations)
        assert status_tally[200] == TRIALS and status_tally[409] == TRIALS * (APPROVERS - 1)
    finally:
        for client in clients.values():
            client.close()
        if b is not None:
            b.stop()
        a.stop()
