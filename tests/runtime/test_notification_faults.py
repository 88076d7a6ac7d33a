"""Notifications under a slow receiver, and webhooks for decisions — for real: a local
HTTP receiver that hangs, and a local SMTP server."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from langgraph_ollama_local import ApprovalPolicy, LocalAgentConfig, create_approval_agent
from langgraph_ollama_local.auth import Principal
from langgraph_ollama_local.runtime.notify import BATCH, PER_TARGET, NotificationDispatcher
from langgraph_ollama_local.runtime.service import ServiceRuntime, Settings
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import ApprovalStore, InboxQuery
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.agent.test_approval_patterns import Spy


class Receiver:
    """A real webhook receiver; with `hang`, every request waits until `release` is set."""

    def __init__(self, *, hang: bool = False) -> None:
        self.received: list[dict] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hang:
                    receiver.release.wait(60)
                receiver.received.append({"id": self.headers["X-HITL-Delivery"], **body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True  # a request cut off mid-body must not hold the test's exit
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


async def test_a_hanging_webhook_does_not_hold_back_the_approvers_email(tmp_path, smtp_server):
    host, port, inbox = smtp_server
    slow = Receiver(hang=True)
    config = LocalAgentConfig(home=tmp_path, smtp={"host": host, "port": port},
                              notifications={"webhook_urls": [slow.url]})
    store = await ApprovalStore.open(f"sqlite:///{tmp_path}/store.db")
    dispatcher = NotificationDispatcher(store, config, poll_seconds=0.05)
    try:
        payload = {"event": "approval.requested", "approval": {"id": "a1", "tool": "pay", "status": "pending"}}
        await store.enqueue_notifications([("webhook", slow.url, "approval.requested", payload)] * 5)
        await store.enqueue_notifications([("email", "maria@corp.example", "approval.requested", payload)])
        await dispatcher.start()
        for _ in range(600):  # a bound for a busy machine; the webhook hangs all along
            if inbox.messages:
                break
            await asyncio.sleep(0.05)
        assert inbox.recipients() == ["maria@corp.example"], "the email waited behind the hanging webhook"
        assert slow.received == []  # still hanging: the email did not wait for it
        slow.release.set()
        for _ in range(600):
            if len(slow.received) == 5:
                break
            await asyncio.sleep(0.05)
        assert len({r["id"] for r in slow.received}) == 5  # each delivered once, each with its own id
    finally:
        slow.release.set()
        await dispatcher.stop()
        await store.close()


def test_a_claim_outlasts_the_longest_batch(tmp_path):
    """Another process must never take a row still being sent (that sent duplicates)."""
    dispatcher = NotificationDispatcher(None, LocalAgentConfig(home=tmp_path))  # type: ignore[arg-type]
    longest = -(-BATCH // PER_TARGET) * dispatcher._send_timeout  # every row to one slow receiver
    assert dispatcher.claim_seconds > longest


async def test_webhooks_hear_of_decisions(tmp_path):
    receiver = Receiver()
    config = LocalAgentConfig(home=tmp_path, notifications={"webhook_urls": [receiver.url]})
    policy = ApprovalPolicy.from_mapping({"default": "allow", "tools": {"send_email": {"stages": [{"role": "manager"}]}}})
    store = await ApprovalStore.open(f"sqlite:///{tmp_path}/store.db")
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        graph = create_approval_agent(ScriptedChatModel(script=email_assistant_script), Spy().tools(), policy=policy,
                                      checkpointer=saver)
        dispatcher = NotificationDispatcher(store, config, poll_seconds=0.05)
        runtime = ServiceRuntime(graph, store, notifier=dispatcher, settings=Settings(sweep_interval=3600))
        await runtime.start()
        await dispatcher.start()
        try:
            run = await runtime.submit_message("t", "Send email to alice@example.com", actor="alice")
            await runtime.wait_run(run.id, 30)
            (request,) = (await store.inbox(InboxQuery()))[0]
            await runtime.decide(request.id, {"type": "approve"}, principal=Principal("bob", frozenset({"manager"})))
            for _ in range(400):
                if any(r["event"] == "approval.decided" for r in receiver.received):
                    break
                await asyncio.sleep(0.05)
        finally:
            await dispatcher.stop()
            await runtime.stop()
            await store.close()
    decided = [r for r in receiver.received if r["event"] == "approval.decided"]
    assert [(d["approval"]["status"], d["approval"]["decided_by"]) for d in decided] == [("approved", "bob")]
