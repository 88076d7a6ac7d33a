"""An approved email meets a failing SMTP server, for real: a server answering 451 "try
later", one rejecting with 554, and one that takes the message and drops the connection
before its 250. Retried with the same Message-ID when it passes; reported when it is
final; in doubt (never resent) when the outcome is unknown."""

from __future__ import annotations

import asyncio
import socket
import threading
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

from langgraph_ollama_local import ApprovalPolicy, create_approval_agent
from langgraph_ollama_local.agent.mail import SmtpDelivery
from langgraph_ollama_local.agent.tools import make_send_email_tool
from langgraph_ollama_local.auth import Principal
from langgraph_ollama_local.cli.recovery import recovery_checks
from langgraph_ollama_local.config import SmtpSettings
from langgraph_ollama_local.runtime.service import ServiceRuntime, Settings
from langgraph_ollama_local.store import open_async_checkpointer
from langgraph_ollama_local.store.approval_store import ApprovalStore, InboxQuery
from langgraph_ollama_local.testing import ScriptedChatModel, email_assistant_script
from tests.conftest import free_port

POLICY = ApprovalPolicy.from_mapping({"default": "allow", "tools": {"send_email": {"stages": [{"role": "manager"}]}}})


class Answering:
    """aiosmtpd handler: answers DATA with the given replies in turn, then 250."""

    def __init__(self, *replies: str) -> None:
        self.replies, self.accepted, self.attempts = list(replies), [], 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.attempts += 1
        if self.replies:
            return self.replies.pop(0)
        self.accepted.append(message_from_bytes(envelope.content))
        return "250 OK"


def dropping_server() -> tuple[int, list[bytes]]:
    """A minimal SMTP server that reads the whole message, then closes without answering it."""
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            conn, _ = listener.accept()
            with conn, conn.makefile("rwb") as stream:
                stream.write(b"220 drop.example ESMTP\r\n")
                stream.flush()
                while line := stream.readline():
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        stream.write(b"354 go ahead\r\n")
                        stream.flush()
                        body = b"".join(iter(lambda: stream.readline(), b".\r\n"))
                        received.append(body)
                        break  # the message is here; the connection drops before "250"
                    stream.write(b"221 bye\r\n" if verb == b"QUIT" else b"250 ok\r\n")
                    stream.flush()

    threading.Thread(target=serve, daemon=True).start()
    return port, received


async def approved_email(tmp_path, port: int, store_url: str) -> tuple[ApprovalStore, str]:
    """Run the tutorial's email agent to its approval, approve, and wait for the thread."""
    tool = make_send_email_tool(SmtpDelivery(SmtpSettings(host="127.0.0.1", port=port, timeout_seconds=5)))
    store = await ApprovalStore.open(store_url)
    async with open_async_checkpointer(f"sqlite:///{tmp_path}/cp.db") as saver:
        graph = create_approval_agent(ScriptedChatModel(script=email_assistant_script), [tool], policy=POLICY,
                                      checkpointer=saver)
        runtime = ServiceRuntime(graph, store, settings=Settings(workers=1, sweep_interval=3600))
        await runtime.start()
        try:
            run = await runtime.submit_message("t", "Send email to alice@example.com", actor="alice")
            await runtime.wait_run(run.id, 30)
            (request,) = (await store.inbox(InboxQuery()))[0]
            await runtime.decide(request.id, {"type": "approve"}, principal=Principal("bob", frozenset({"manager"})))
            await runtime.idle(120)
            reply = await runtime.last_reply("t")
        finally:
            await runtime.stop()
    return store, reply


@pytest.fixture
def smtp_answering():
    controllers = []

    def start(*replies: str) -> tuple[int, Answering]:
        handler, port = Answering(*replies), free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return port, handler

    yield start
    for controller in controllers:
        controller.stop()


async def test_a_temporary_smtp_failure_is_retried_with_the_same_message_id(tmp_path, smtp_answering):
    port, server = smtp_answering("451 4.3.0 try again later", "451 4.3.0 try again later")
    store, reply = await approved_email(tmp_path, port, f"sqlite:///{tmp_path}/store.db")
    try:
        assert server.attempts == 3 and len(server.accepted) == 1  # delivered once, on the third try
        assert reply.startswith("Done. Email sent to alice@example.com")
        (record,) = await _ledger(store)
        assert (record.status, record.attempts) == ("succeeded", 3)
    finally:
        await store.close()


async def test_a_final_rejection_is_reported_not_retried_and_listed_by_doctor(tmp_path, smtp_answering):
    port, server = smtp_answering("554 5.7.1 message rejected")
    url = f"sqlite:///{tmp_path}/store.db"
    store, reply = await approved_email(tmp_path, port, url)
    try:
        assert server.attempts == 1 and server.accepted == []
        assert "554 5.7.1 message rejected" in reply  # the requester is told
        (record,) = await _ledger(store)
        assert record.status == "failed"
    finally:
        await store.close()
    rows = {c.name: c for c in await asyncio.to_thread(recovery_checks, url)}
    assert not rows["failed tool calls"].ok and "554 5.7.1" in rows["failed tool calls"].detail


async def test_a_dropped_connection_after_the_message_is_in_doubt_and_never_resent(tmp_path):
    port, received = dropping_server()
    url = f"sqlite:///{tmp_path}/store.db"
    store, reply = await approved_email(tmp_path, port, url)
    try:
        assert len(received) == 1  # the server has it once; no second copy was sent
        assert "outcome of this send_email call is unknown" in reply
        (record,) = await _ledger(store)
        assert record.status == "in_doubt"
    finally:
        await store.close()
    rows = {c.name: c for c in await asyncio.to_thread(recovery_checks, url)}
    assert not rows["tool calls in doubt"].ok and "send_email" in rows["tool calls in doubt"].detail


async def _ledger(store: ApprovalStore):
    from langgraph_ollama_local.store.ledger import SqlExecutionLedger

    return await SqlExecutionLedger(store.engine).arecords()
