"""Notifications through an outbox: events become rows, a loop delivers them with retries.

Webhooks get every lifecycle event (requested, decided, escalated, expired) as JSON,
signed `X-HITL-Signature: sha256=<hex>` with HMAC-SHA256 over `<timestamp>.<body>`
(timestamp in `X-HITL-Timestamp`), so receivers can check origin and reject replays.
Approvers of the role a request needs get an email on the events configured (by default:
requested, escalated, expired). Failed deliveries are retried with exponential backoff,
then marked failed (visible in the store).

Delivery is concurrent: every due row of a batch is sent at once, at most `PER_TARGET`
to one destination, and a new batch starts each poll while slow ones are still sending
(up to `MAX_BATCHES`), so a receiver that hangs delays nothing sent elsewhere. A batch's
claim lasts longer than the batch can take (each send is bounded by its timeout), so
another process never takes a row that is still being sent. `X-HITL-Delivery` carries
the row's id: the same on every retry, for receivers to drop repeats (a timeout is
ambiguous: the receiver may have the first attempt).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from langgraph_ollama_local.agent.mail import EmailDelivery, delivery_from_config
from langgraph_ollama_local.approvals.lifecycle import ApprovalRequest
from langgraph_ollama_local.config import LocalAgentConfig
from langgraph_ollama_local.runtime.service import Notifier, public_request
from langgraph_ollama_local.store.approval_store import ApprovalStore

log = logging.getLogger(__name__)
BATCH = 20  # rows claimed per pass
PER_TARGET = 2  # sends in flight to one destination within a pass
MAX_BATCHES = 4  # passes sending at once
WEBHOOK_TIMEOUT_SECONDS = 10.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def email_text(event: str, approval: dict[str, Any]) -> tuple[str, str]:
    what = {
        "approval.requested": "needs your approval",
        "approval.decided": f"was decided: {approval.get('status')} by {approval.get('decided_by')}",
        "approval.escalated": "was escalated to you",
        "approval.expired": "expired without a decision",
    }.get(event, event)
    subject = f"[hitl] {approval.get('tool') or 'a question'} {what}"
    body = "\n".join(
        [
            f"Approval {approval.get('id')} on thread {approval.get('thread_id')} {what}.",
            f"Tool: {approval.get('tool')}",
            f"Arguments: {json.dumps(approval.get('args'), indent=2, ensure_ascii=False)}",
            f"Stage: {approval.get('stage')} (role {approval.get('required_role')})",
            f"Deadline: {approval.get('deadline')}",
            f"Status: {approval.get('status')}",
        ]
    )
    return subject, body


class NotificationDispatcher(Notifier):
    """A `Notifier` that enqueues, plus the delivery loop."""

    def __init__(
        self,
        store: ApprovalStore,
        config: LocalAgentConfig,
        *,
        mailer: EmailDelivery | None = None,
        poll_seconds: float = 0.5,
    ) -> None:
        self.store = store
        self.settings = config.notifications
        self.mailer = mailer or delivery_from_config(config)
        self.poll_seconds = poll_seconds
        self._task: asyncio.Task[None] | None = None
        self._client = httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS)
        self._send_timeout = max(WEBHOOK_TIMEOUT_SECONDS, float(config.smtp.timeout_seconds))
        self._batches: set[asyncio.Task[int]] = set()

    @property
    def claim_seconds(self) -> float:
        """Longer than a batch can take: all its rows to one destination, `PER_TARGET` at a
        time, each bounded by its timeout — plus a margin."""
        return math.ceil(BATCH / PER_TARGET) * (self._send_timeout + 1) + 30

    async def notify(self, event: str, request: ApprovalRequest) -> None:
        approval = public_request(request)
        payload = {"event": event, "approval": approval}
        items: list[tuple[str, str, str, dict[str, Any]]] = [
            ("webhook", url, event, payload) for url in self.settings.webhook_urls
        ]
        if event in self.settings.email_events:
            role = request.escalate_to if event == "approval.escalated" else request.required_role
            for address in self.settings.approvers.get(role or "", []):
                items.append(("email", address, event, payload))
        await self.store.enqueue_notifications(items)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="hitl-notifications")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._batches:  # let sends in flight end and be recorded (each is bounded by its timeout)
            _, late = await asyncio.wait(set(self._batches), timeout=self._send_timeout + 5)
            for batch in late:
                batch.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._client.aclose()

    async def _loop(self) -> None:
        while True:
            if len(self._batches) < MAX_BATCHES:  # slow batches keep sending; new rows go now
                batch = asyncio.create_task(self._pass())
                self._batches.add(batch)
                batch.add_done_callback(self._batches.discard)
            await asyncio.sleep(self.poll_seconds)

    async def _pass(self) -> int:
        try:
            return await self.deliver_due()
        except Exception as exc:
            log.warning("notification delivery pass failed: %s", exc)
            return 0

    async def deliver_due(self) -> int:
        """Claim a batch of due rows and send them all concurrently; how many were sent."""
        now = datetime.now(UTC)
        rows = await self.store.due_notifications(now, limit=BATCH, claim_seconds=self.claim_seconds)
        limits: dict[str, asyncio.Semaphore] = {}
        sent = await asyncio.gather(
            *(
                self._deliver(row, limits.setdefault(row["target"], asyncio.Semaphore(PER_TARGET)))
                for row in rows
            )
        )
        return sum(sent)

    async def _deliver(self, row: dict[str, Any], limit: asyncio.Semaphore) -> bool:
        attempts = int(row["attempts"]) + 1
        try:
            async with limit:
                await asyncio.wait_for(self._send(row), self._send_timeout + 1)
        except Exception as exc:
            failed = attempts >= self.settings.max_attempts
            delay = self.settings.base_backoff_seconds * 2 ** (attempts - 1)
            await self.store.mark_notification(
                row["id"],
                status="failed" if failed else "pending",
                attempts=attempts,
                next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay),
                error=f"{type(exc).__name__}: {exc}",
            )
            return False
        await self.store.mark_notification(
            row["id"], status="sent", attempts=attempts, next_attempt_at=datetime.now(UTC), error=None
        )
        return True

    async def _send(self, row: dict[str, Any]) -> None:
        if row["channel"] == "webhook":
            body = json.dumps(row["payload"], default=str).encode()
            headers = {
                "Content-Type": "application/json",
                "X-HITL-Event": row["event"],
                "X-HITL-Delivery": row["id"],
            }
            if self.settings.webhook_secret:
                timestamp = str(int(time.time()))
                headers["X-HITL-Timestamp"] = timestamp
                headers["X-HITL-Signature"] = sign(self.settings.webhook_secret, timestamp, body)
            response = await self._client.post(row["target"], content=body, headers=headers)
            response.raise_for_status()
        else:
            subject, text = email_text(row["event"], row["payload"]["approval"])
            await asyncio.to_thread(self.mailer.deliver, row["target"], subject, text)
