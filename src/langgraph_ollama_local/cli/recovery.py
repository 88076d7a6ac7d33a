"""The recovery rows of `hitl doctor`: what a crash left behind, and whether it is moving.

- expired leases: runs whose worker stopped renewing (killed, hung); a live worker takes
  them over, so rows that stay here mean no worker is running;
- stuck runs: queued for more than five minutes;
- runs retrying: sent back to the queue by storage/connection errors (a database
  restarting, a full disk) and not through yet — they move once the storage is back;
- failed threads: the thread's latest run failed on a graph error, so the thread never
  moves by itself — fix the cause, then `hitl runs retry RUN_ID`;
- notifications: pending (due or backing off) and failed for good;
- in-doubt tool calls: the process died while an approved call ran, or the tool could not
  tell whether it took effect (a connection dropped before the answer), so it was not
  repeated and a person should check whether it took effect;
- failed tool calls: calls that ran and failed for good (after retries where it passes).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from langgraph_ollama_local.cli.doctor import Check
from langgraph_ollama_local.store.checkpointer import storage_kind

STUCK_AFTER_SECONDS = 300


def recovery_checks(url: str) -> list[Check]:
    if storage_kind(url) == "memory":
        return []
    try:
        return asyncio.run(_recovery_checks(url))
    except SQLAlchemyError as exc:
        detail = str(exc).splitlines()[0][:200]
        if "no such table" in detail or "does not exist" in detail:
            return [Check("service state", True, "no service data yet (nothing has been served here)")]
        return [Check("service state", False, f"could not read the service tables: {detail}", required=False)]


async def _recovery_checks(url: str) -> list[Check]:
    from langgraph_ollama_local.store.approval_store import ApprovalStore
    from langgraph_ollama_local.store.run_queue import RunQueue
    from langgraph_ollama_local.store.schema import notifications, tool_executions

    store = await ApprovalStore.open(url, run_migrations=False)
    try:
        now = datetime.now(UTC)
        health = await RunQueue(store.engine).health(now, stuck_after_seconds=STUCK_AFTER_SECONDS)
        async with store.engine.connect() as conn:
            counts: dict[str, int] = dict(
                (
                    await conn.execute(
                        select(notifications.c.status, func.count()).group_by(notifications.c.status)
                    )
                ).all()
            )
            oldest = await conn.scalar(
                select(func.min(notifications.c.created_at)).where(notifications.c.status == "pending")
            )
            failed_calls = list(
                (
                    await conn.execute(
                        select(tool_executions)
                        .where(tool_executions.c.status == "failed")
                        .order_by(tool_executions.c.started_at.desc())
                        .limit(20)
                    )
                ).all()
            )
            doubtful = list(
                (
                    await conn.execute(
                        select(tool_executions)
                        .where(tool_executions.c.status.in_(("in_doubt", "started")))
                        .order_by(tool_executions.c.started_at)
                        .limit(20)
                    )
                ).all()
            )
    finally:
        await store.close()
    return [
        Check("run queue", True, f"{health.queued} queued, {health.running} running"),
        _leases_check(health.expired_leases, now),
        _stuck_check(health.stuck_queued, now),
        _retrying_check(health.retrying),
        _failed_check(health.failed),
        _notifications_check(counts, oldest),
        _doubt_check(doubtful),
        _failed_calls_check(failed_calls),
    ]


def _age(since: datetime | None, now: datetime) -> str:
    if since is None:
        return "?"
    seconds = (now - (since if since.tzinfo else since.replace(tzinfo=UTC))).total_seconds()
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}min"


def _leases_check(expired: list[Any], now: datetime) -> Check:
    if not expired:
        return Check("expired leases", True, "none")
    rows = "; ".join(
        f"run {r.id[:12]} (thread {r.thread_id}, worker {r.lease_owner}, "
        f"expired {_age(r.lease_expires_at, now)} ago)"
        for r in expired[:10]
    )
    return Check(
        "expired leases",
        False,
        f"{len(expired)} run(s) whose worker stopped: {rows}",
        "a running worker takes these over by itself; if they stay, start one: `hitl worker` "
        "(PostgreSQL) or restart `hitl serve` (SQLite)",
    )


def _stuck_check(stuck: list[Any], now: datetime) -> Check:
    if not stuck:
        return Check("stuck runs", True, f"none queued longer than {STUCK_AFTER_SECONDS // 60} min")
    rows = "; ".join(
        f"run {r.id[:12]} (thread {r.thread_id}, queued {_age(r.created_at, now)})" for r in stuck[:10]
    )
    return Check(
        "stuck runs",
        False,
        f"{len(stuck)} run(s) waiting: {rows}",
        "no worker is taking runs: start `hitl worker`, or `hitl serve` with --workers above 0",
    )


def _retrying_check(retrying: list[Any]) -> Check:
    if not retrying:
        return Check("runs retrying", True, "none sent back by storage errors")
    rows = "; ".join(
        f"run {r.id[:12]} (thread {r.thread_id}, {r.retries} retries, last: {(r.error or '?')[:120]})"
        for r in retrying[:10]
    )
    return Check(
        "runs retrying",
        False,
        f"{len(retrying)} run(s) went back to the queue after storage errors: {rows}",
        "they continue by themselves once the database answers again: check that it runs, "
        "has disk space and accepts connections (`hitl doctor` storage row)",
        required=False,
    )


def _failed_check(failed: list[Any]) -> Check:
    if not failed:
        return Check("failed threads", True, "no thread ends in a failed run")
    rows = "; ".join(f"thread {r.thread_id} (run {r.id[:12]}: {(r.error or '?')[:160]})" for r in failed[:10])
    return Check(
        "failed threads",
        False,
        f"{len(failed)} thread(s) whose latest run failed on a graph error never move by themselves: {rows}",
        "fix what the error names (the graph, a tool, the model), then queue the run again: "
        "`hitl runs retry RUN_ID` (it continues from its last checkpoint; approved calls "
        "that already ran are not repeated)",
        required=False,
    )


def _notifications_check(counts: dict[str, int], oldest: datetime | None) -> Check:
    pending, failed = counts.get("pending", 0), counts.get("failed", 0)
    detail = f"{pending} pending" + (f" (oldest {_age(oldest, datetime.now(UTC))})" if pending else "")
    detail += f", {failed} failed for good, {counts.get('sent', 0)} sent"
    if failed:
        return Check(
            "notifications",
            False,
            detail,
            "check the webhook URLs / SMTP settings (HITL_NOTIFICATIONS__*, HITL_SMTP__*); "
            "`last_error` of each row in hitl_notifications says why",
            required=False,
        )
    return Check("notifications", True, detail)


def _failed_calls_check(rows: list[Any]) -> Check:
    if not rows:
        return Check("failed tool calls", True, "none")
    listed = "; ".join(
        f"{r.tool} {r.tool_call_id} in thread {r.thread_id}: {(r.content or '?')[:160]}" for r in rows[:10]
    )
    return Check(
        "failed tool calls",
        False,
        f"{len(rows)} call(s) ran and failed (after retries where the failure could pass): {listed}",
        "the error says why (a refused address, a server rejecting the message); fix it, then ask "
        "the agent again — the approval was used by the failed attempt, and the requester was told",
        required=False,
    )


def _doubt_check(rows: list[Any]) -> Check:
    if not rows:
        return Check("tool calls in doubt", True, "none")
    listed = "; ".join(f"{r.tool} {r.tool_call_id} in thread {r.thread_id} ({r.status})" for r in rows[:10])
    return Check(
        "tool calls in doubt",
        False,
        f"{len(rows)} approved call(s) were running when a process died: {listed}",
        "they were not run again; check whether each took effect (a 'started' row is one whose "
        "thread has not been recovered yet)",
        required=False,
    )
