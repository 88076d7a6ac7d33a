"""Email delivery against a real local SMTP server (aiosmtpd) and a real outbox folder."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from langgraph_ollama_local.agent.mail import (
    DeliveryReceipt,
    EmailConfigError,
    EmailDelivery,
    EmailDeliveryError,
    InvalidEmailError,
    OutboxDelivery,
    SmtpDelivery,
    delivery_from_config,
    message_id_for,
    parse_recipients,
)
from langgraph_ollama_local.config import LocalAgentConfig, SmtpSettings
from tests.conftest import free_port


@dataclass
class Envelope:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class MailServer:
    """A real aiosmtpd server on loopback that keeps each envelope, not just the content."""

    port: int
    envelopes: list[Envelope] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    logins: list[str] = field(default_factory=list)

    def settings(self, **overrides: Any) -> SmtpSettings:
        return SmtpSettings(host="127.0.0.1", port=self.port, sender="agent@example.com", **overrides)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.envelopes.append(Envelope(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


def _start(**smtp_kwargs: Any) -> Iterator[MailServer]:
    server = MailServer(port=free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port, **smtp_kwargs)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    yield from _start()


@pytest.fixture
def auth_mail_server() -> Iterator[MailServer]:
    """Same, but offering LOGIN/PLAIN auth over plain TCP (a test server only)."""
    holder: list[MailServer] = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"agent",
            b"pw",
        )
        if ok:
            holder[0].logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: the server sends the 535

    for server in _start(authenticator=authenticator, auth_require_tls=False):
        holder.append(server)
        yield server


# --- SMTP --------------------------------------------------------------------------------


def test_smtp_delivers_a_real_message(mail_server):
    receipt = SmtpDelivery(mail_server.settings()).deliver(
        "alice@example.com", "Quarterly report", "Hi Alice,\n\nThe report is attached.\n— the agent"
    )
    (env,) = mail_server.envelopes
    assert env.mail_from == "agent@example.com"
    assert env.rcpt_tos == ["alice@example.com"]
    msg = env.message
    assert msg["From"] == "agent@example.com"
    assert msg["To"] == "alice@example.com"
    assert msg["Subject"] == "Quarterly report"
    assert msg["Date"] and msg["Message-ID"] == receipt.message_id
    assert msg.get_content().replace("\r\n", "\n") == "Hi Alice,\n\nThe report is attached.\n— the agent\n"
    assert receipt == DeliveryReceipt(
        "smtp", receipt.message_id, ("alice@example.com",), f"smtp://127.0.0.1:{mail_server.port}"
    )
    assert receipt.message_id.startswith("<") and receipt.message_id.endswith("@langgraph-ollama-local>")


def test_smtp_several_recipients_and_display_names(mail_server):
    receipt = SmtpDelivery(mail_server.settings()).deliver(
        "a@example.com; Bob <bob@example.org>, A@example.com", "Hello", "body"
    )
    (env,) = mail_server.envelopes
    assert env.rcpt_tos == ["a@example.com", "bob@example.org"]
    assert env.message["To"] == "a@example.com, bob@example.org"
    assert receipt.recipients == ("a@example.com", "bob@example.org")


def test_caller_supplied_message_id_is_used(mail_server):
    key = "thread-1/call-42"
    assert message_id_for(key) == message_id_for(key) != message_id_for("another key")
    delivery = SmtpDelivery(mail_server.settings())
    first = delivery.deliver("alice@example.com", "s", "b", message_id=message_id_for(key))
    second = delivery.deliver("alice@example.com", "s", "b", message_id="retry-7@example.com")
    assert first.message_id == message_id_for(key)
    assert second.message_id == "<retry-7@example.com>"
    assert [e.message["Message-ID"] for e in mail_server.envelopes] == [first.message_id, second.message_id]


def test_connection_refused_is_a_typed_actionable_error():
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), timeout_seconds=5)
    started = time.monotonic()
    with pytest.raises(EmailDeliveryError) as caught:
        SmtpDelivery(settings).deliver("alice@example.com", "s", "b")
    message = str(caught.value)
    assert f"could not connect to the SMTP server 127.0.0.1:{settings.port}" in message
    assert "Connection refused" in message and "HITL_SMTP__HOST" in message and "Nothing was sent" in message
    assert time.monotonic() - started < 5


def test_starttls_requested_but_not_offered(mail_server):
    with pytest.raises(EmailDeliveryError, match=r"does not offer STARTTLS.*HITL_SMTP__STARTTLS=false"):
        SmtpDelivery(mail_server.settings(starttls=True)).deliver("alice@example.com", "s", "b")
    assert mail_server.envelopes == []


def test_login_when_configured(auth_mail_server):
    SmtpDelivery(auth_mail_server.settings(username="agent", password="pw")).deliver(
        "alice@example.com", "s", "b"
    )
    assert auth_mail_server.logins == ["agent"]
    assert len(auth_mail_server.envelopes) == 1


def test_wrong_password_is_reported(auth_mail_server):
    with pytest.raises(EmailDeliveryError, match=r"rejected the login for 'agent'.*HITL_SMTP__PASSWORD"):
        SmtpDelivery(auth_mail_server.settings(username="agent", password="nope")).deliver(
            "a@example.com", "s", "b"
        )
    assert auth_mail_server.envelopes == []


def test_login_configured_but_server_offers_none(mail_server):
    with pytest.raises(EmailDeliveryError, match="offers no login"):
        SmtpDelivery(mail_server.settings(username="agent", password="pw")).deliver("a@example.com", "s", "b")


def test_partly_refused_recipients_are_in_the_receipt(mail_server):
    mail_server.refuse = {"ghost@example.com"}
    receipt = SmtpDelivery(mail_server.settings()).deliver("alice@example.com, ghost@example.com", "s", "b")
    assert receipt.recipients == ("alice@example.com",)
    assert receipt.refused == ("ghost@example.com",)
    assert mail_server.envelopes[0].rcpt_tos == ["alice@example.com"]


def test_all_recipients_refused_is_an_error(mail_server):
    mail_server.refuse = {"ghost@example.com"}
    with pytest.raises(EmailDeliveryError, match=r"refused every recipient.*ghost@example.com: 550"):
        SmtpDelivery(mail_server.settings()).deliver("ghost@example.com", "s", "b")
    assert mail_server.envelopes == []


# --- hostile and malformed input: refused before anything is sent ------------------------

INJECTIONS = [
    {"to": "a@b.com\nBcc: evil@x.com"},
    {"to": "a@b.com\r\nBcc: evil@x.com"},
    {"to": "a@b.com\rBcc: evil@x.com"},
    {"subject": "Hello\nBcc: evil@x.com"},
    {"subject": "Hello\r\n\r\nInjected body"},
    {"subject": "nul\x00byte"},
    {"message_id": "<x@y>\nBcc: evil@x.com"},
]


@pytest.mark.parametrize("hostile", INJECTIONS)
def test_header_injection_is_refused_before_sending(mail_server, tmp_path, hostile):
    args = {"to": "alice@example.com", "subject": "Hello", "body": "b"} | hostile
    message_id = args.pop("message_id", None)
    deliveries: list[EmailDelivery] = [
        SmtpDelivery(mail_server.settings()),
        OutboxDelivery(tmp_path / "outbox"),
    ]
    for delivery in deliveries:
        with pytest.raises(InvalidEmailError, match="nothing was sent"):
            delivery.deliver(**args, message_id=message_id)
    assert mail_server.envelopes == []
    assert not (tmp_path / "outbox").exists()


@pytest.mark.parametrize(
    "to",
    ["", " , ", "alice", "alice@", "@example.com", "alice@example", "a b@example.com", "alice@@example.com",
     "<alice@example.com", "alice@example.com>", "alice@-example.com", "x" * 250 + "@example.com"],
)  # fmt: skip
def test_invalid_addresses_are_refused(to):
    with pytest.raises(InvalidEmailError, match="nothing was sent"):
        parse_recipients(to)


def test_valid_addresses():
    assert parse_recipients("ops+alerts@mail.example.co.uk") == ("ops+alerts@mail.example.co.uk",)
    assert parse_recipients("root@localhost") == ("root@localhost",)
    assert parse_recipients('"Alice Smith" <alice@example.com>') == ("alice@example.com",)


def test_too_many_recipients():
    with pytest.raises(InvalidEmailError, match="more than the 50"):
        parse_recipients(",".join(f"u{i}@example.com" for i in range(51)))


@pytest.mark.parametrize("message_id", ["no-at-sign", "<a@b> <c@d>", "<a b@c>"])
def test_invalid_message_ids(tmp_path, message_id):
    with pytest.raises(InvalidEmailError, match="not a valid Message-ID"):
        OutboxDelivery(tmp_path).deliver("a@example.com", "s", "b", message_id=message_id)


def test_hostile_configured_sender_is_refused(tmp_path):
    with pytest.raises(InvalidEmailError):
        SmtpDelivery(SmtpSettings(host="127.0.0.1", sender="agent@example.com\nBcc: evil@x.com"))
    with pytest.raises(InvalidEmailError):
        OutboxDelivery(tmp_path, sender="agent@example.com\r\nBcc: evil@x.com")


# --- outbox ------------------------------------------------------------------------------


def test_outbox_writes_a_parseable_eml(tmp_path):
    outbox = tmp_path / "deep" / "outbox"
    receipt = OutboxDelivery(outbox, sender="agent@example.com").deliver(
        "bob@example.com", "Café menu ☕", "Soup of the day: lentil.\n"
    )
    (eml,) = outbox.iterdir()  # no temporary files left behind
    assert receipt.transport == "outbox"
    assert receipt.location == str(eml)
    assert receipt.recipients == ("bob@example.com",)
    assert eml.suffix == ".eml"
    assert eml.name[:8].isdigit() and receipt.message_id.strip("<>").replace("@", "_") in eml.name
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["From"] == "agent@example.com"
    assert msg["To"] == "bob@example.com"
    assert msg["Subject"] == "Café menu ☕"
    assert msg["Message-ID"] == receipt.message_id
    assert msg["Date"]
    assert msg.get_content() == "Soup of the day: lentil.\n"


def test_outbox_files_sort_by_time(tmp_path):
    delivery = OutboxDelivery(tmp_path)
    first = delivery.deliver("a@example.com", "first", "1")
    second = delivery.deliver("a@example.com", "second", "2")
    assert sorted(p.name for p in tmp_path.glob("*.eml")) == [
        Path(first.location).name,
        Path(second.location).name,
    ]


def test_outbox_that_cannot_be_written_is_a_typed_error(tmp_path):
    not_a_folder = tmp_path / "outbox"
    not_a_folder.write_text("a file where the outbox folder should be")
    with pytest.raises(
        EmailDeliveryError, match=r"could not write the email to the local outbox.*HITL_OUTBOX_DIR"
    ):
        OutboxDelivery(not_a_folder).deliver("a@example.com", "s", "b")


# --- choosing a transport from the config ------------------------------------------------


def test_delivery_from_config(tmp_path):
    offline = delivery_from_config(LocalAgentConfig(home=tmp_path))
    assert isinstance(offline, OutboxDelivery)
    assert offline.outbox_dir == tmp_path / "outbox"
    custom = delivery_from_config(LocalAgentConfig(home=tmp_path, outbox_dir=tmp_path / "mail"))
    assert isinstance(custom, OutboxDelivery) and custom.outbox_dir == tmp_path / "mail"
    online = delivery_from_config(LocalAgentConfig(home=tmp_path, smtp={"host": "127.0.0.1", "port": 2525}))
    assert isinstance(online, SmtpDelivery) and online.where == "127.0.0.1:2525"
    assert isinstance(online, EmailDelivery) and isinstance(offline, EmailDelivery)


def test_smtp_delivery_needs_a_host():
    with pytest.raises(EmailConfigError, match="HITL_SMTP__HOST"):
        SmtpDelivery(SmtpSettings())
