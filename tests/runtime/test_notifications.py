"""Notifications for real: a local webhook receiver (HMAC checked, a failure retried) and
a local SMTP server receiving the approvers' emails on escalation and expiry."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from langgraph_ollama_local import ApprovalPolicy, LocalAgentConfig, create_approval_agent
from langgraph_ollama_local.runtime.notify import NotificationDispatcher
from langgraph_ollama_local.runtime.service import ServiceRuntime, Settings
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import ApprovalStore
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.agent.test_approval_patterns import Spy

SECRET = "s3cret"


class Receiver:
    """A real HTTP server on loopback that fails its first request, then accepts."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, dict]] = []
        self.calls = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                if receiver.calls == 1:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.received.append((dict(self.headers), {"raw": body, **json.loads(body)}))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


POLICY = ApprovalPolicy.from_mapping({"default": "allow", "tools": {"send_email": {"stages": [
    {"name": "manager", "role": "manager", "timeout_seconds": 60, "on_timeout": "escalate", "escalate_to": "director"}]}}})


async def test_webhooks_signed_and_retried_and_emails_to_approvers(tmp_path, smtp_server):
    host, port, inbox = smtp_server
    receiver = Receiver()
    config = LocalAgentConfig(
        home=tmp_path, smtp={"host": host, "port": port},
        notifications={"webhook_urls": [receiver.url], "webhook_secret": SECRET, "base_backoff_seconds": 0.05,
                       "approvers": {"manager": ["maria@corp.example"], "director": ["dana@corp.example"]}},
    )
    clock = [datetime.now(UTC)]
    spy = Spy()
    store = await ApprovalStore.open(f"sqlite:///{tmp_path}/store.db")
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        graph = create_approval_agent(ScriptedChatModel(script=email_assistant_script), spy.tools(), policy=POLICY,
                                      checkpointer=saver)
        dispatcher = NotificationDispatcher(store, config, poll_seconds=0.05)
        runtime = ServiceRuntime(graph, store, notifier=dispatcher, settings=Settings(sweep_interval=3600),
                                 clock=lambda: clock[0])
        await runtime.start()
        await dispatcher.start()
        try:
            run = await runtime.submit_message("t", "Send email to alice@example.com", actor="alice")
            await runtime.wait_run(run.id, 30)
            clock[0] += timedelta(seconds=61)
            (escalated,) = await runtime.sweep_deadlines()
            assert escalated.status == "escalated"
            for _ in range(200):
                if len(receiver.received) >= 3 and len(inbox.messages) >= 2:
                    break
                await asyncio.sleep(0.05)
        finally:
            await dispatcher.stop()
            await runtime.stop()
            await store.close()
    events = [payload["event"] for _, payload in receiver.received]
    assert events.count("approval.requested") == 2 and "approval.escalated" in events  # original + escalated stage
    assert receiver.calls == len(receiver.received) + 1  # the first delivery failed and was retried
    for headers, payload in receiver.received:
        expected = hmac.new(SECRET.encode(), headers["X-HITL-Timestamp"].encode() + b"." + payload["raw"],
                            hashlib.sha256).hexdigest()
        assert headers["X-HITL-Signature"] == f"sha256={expected}"
    recipients = sorted(inbox.recipients())
    assert "maria@corp.example" in recipients and "dana@corp.example" in recipients
    subjects = [m["Subject"] for m in inbox.messages]
    assert any("escalated" in s for s in subjects)
    assert spy.emails == []  # notifications are not the gated action


async def test_undeliverable_webhook_ends_failed(tmp_path):
    config = LocalAgentConfig(home=tmp_path, notifications={"webhook_urls": ["http://127.0.0.1:1/none"],
                                                            "max_attempts": 2, "base_backoff_seconds": 0.01})
    store = await ApprovalStore.open(f"sqlite:///{tmp_path}/store.db")
    try:
        dispatcher = NotificationDispatcher(store, config)
        await store.enqueue_notifications([("webhook", "http://127.0.0.1:1/none", "approval.requested", {"x": 1})])
        for _ in range(50):
            await dispatcher.deliver_due()
            if await store.notifications_with_status("failed"):
                break
            await asyncio.sleep(0.02)
        (failed,) = await store.notifications_with_status("failed")
        assert failed["attempts"] == 2 and "ConnectError" in failed["last_error"]
        await dispatcher.stop()
    finally:
        await store.close()
