"""Notifications through an outbox: events become rows, a loop delivers them with retries.

Webhooks get every lifecycle event as JSON, signed `X-HITL-Signature: sha256=<hex>` with
HMAC-SHA256 over `<timestamp>.<body>` (timestamp in `X-HITL-Timestamp`), so receivers can
check origin and reject replays. Approvers of the role a request needs get an email on
the events configured (by default: requested, escalated, expired). Failed deliveries are
retried with exponential backoff, then marked failed (visible in the store).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
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


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def email_text(event: str, approval: dict[str, Any]) -> tuple[str, str]:
    what = {
        "approval.requested": "needs your approval",
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
        self._client = httpx.AsyncClient(timeout=10)

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
        await self._client.aclose()

    async def _loop(self) -> None:
        while True:
            try:
                await self.deliver_due()
            except Exception:
                log.exception("notification delivery pass failed")
            await asyncio.sleep(self.poll_seconds)

    async def deliver_due(self) -> int:
        now = datetime.now(UTC)
        delivered = 0
        for row in await self.store.due_notifications(now):
            attempts = int(row["attempts"]) + 1
            try:
                await self._send(row)
            except Exception as exc:
                failed = attempts >= self.settings.max_attempts
                delay = self.settings.base_backoff_seconds * 2 ** (attempts - 1)
                await self.store.mark_notification(
                    row["id"],
                    status="failed" if failed else "pending",
                    attempts=attempts,
                    next_attempt_at=now + timedelta(seconds=delay),
                    error=f"{type(exc).__name__}: {exc}",
                )
                continue
            await self.store.mark_notification(
                row["id"], status="sent", attempts=attempts, next_attempt_at=now, error=None
            )
            delivered += 1
        return delivered

    async def _send(self, row: dict[str, Any]) -> None:
        if row["channel"] == "webhook":
            body = json.dumps(row["payload"], default=str).encode()
            headers = {"Content-Type": "application/json", "X-HITL-Event": row["event"]}
            if self.settings.webhook_secret:
                timestamp = str(int(time.time()))
                headers["X-HITL-Timestamp"] = timestamp
                headers["X-HITL-Signature"] = sign(self.settings.webhook_secret, timestamp, body)
            response = await self._client.post(row["target"], content=body, headers=headers)
            response.raise_for_status()
        else:
            subject, text = email_text(row["event"], row["payload"]["approval"])
            await asyncio.to_thread(self.mailer.deliver, row["target"], subject, text)
