"""Email delivery for `send_email`: real SMTP when configured, else a local outbox.

The outbox keeps the demo honest offline: a message is written as an RFC 822 `.eml`
file and the tool says so, instead of pretending it reached a mailbox.
"""

from __future__ import annotations

import os
import re
import smtplib
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Literal, Protocol

from langgraph_ollama_local.config import LocalAgentConfig, SmtpSettings

_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


class EmailDeliveryError(RuntimeError):
    """The message could not be handed to the mail server."""


class InvalidEmailError(ValueError):
    """A recipient or header is malformed; nothing was sent."""


@dataclass(frozen=True)
class DeliveryReceipt:
    transport: Literal["smtp", "outbox"]
    message_id: str
    recipients: tuple[str, ...]
    location: str


class EmailDelivery(Protocol):
    def deliver(
        self, to: str, subject: str, body: str, *, message_id: str | None = None
    ) -> DeliveryReceipt: ...


def parse_recipients(to: str) -> tuple[str, ...]:
    """Split and check addresses; refuse header injection (CR/LF) and junk."""
    if "\r" in to or "\n" in to:
        raise InvalidEmailError("recipient contains a line break (header injection); nothing was sent")
    addresses = tuple(a.strip() for a in re.split(r"[,;]", to) if a.strip())
    if not addresses:
        raise InvalidEmailError("no recipient given")
    for address in addresses:
        if not _ADDRESS.match(address):
            raise InvalidEmailError(f"{address!r} is not a valid email address")
    return addresses


def build_message(sender: str, to: str, subject: str, body: str, message_id: str | None) -> EmailMessage:
    recipients = parse_recipients(to)
    if "\r" in subject or "\n" in subject:
        raise InvalidEmailError("subject contains a line break (header injection); nothing was sent")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or make_msgid(domain="langgraph-ollama-local")
    message.set_content(body)
    return message


class SmtpDelivery:
    """Sends through a real SMTP server (STARTTLS and login when configured)."""

    def __init__(self, settings: SmtpSettings) -> None:
        if not settings.host:
            raise ValueError("SmtpDelivery needs settings.host")
        self.settings = settings

    def deliver(self, to: str, subject: str, body: str, *, message_id: str | None = None) -> DeliveryReceipt:
        s = self.settings
        message = build_message(s.sender, to, subject, body, message_id)
        assert s.host is not None
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as client:
                if s.starttls:
                    client.starttls()
                if s.username:
                    client.login(s.username, s.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise EmailDeliveryError(
                f"could not send through SMTP server {s.host}:{s.port}: {exc}. Check that the server "
                "is running and HITL_SMTP__HOST/PORT are right, or unset HITL_SMTP__HOST to use the outbox."
            ) from exc
        return DeliveryReceipt(
            "smtp", str(message["Message-ID"]), parse_recipients(to), f"smtp://{s.host}:{s.port}"
        )


class OutboxDelivery:
    """Writes each message as an `.eml` file in a local folder (no server configured)."""

    def __init__(self, outbox_dir: Path, sender: str = "agent@localhost") -> None:
        self.outbox_dir = outbox_dir
        self.sender = sender

    def deliver(self, to: str, subject: str, body: str, *, message_id: str | None = None) -> DeliveryReceipt:
        message = build_message(self.sender, to, subject, body, message_id)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        safe_id = re.sub(r"[^A-Za-z0-9.-]", "_", str(message["Message-ID"]).strip("<>"))
        target = self.outbox_dir / f"{stamp}-{safe_id}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.outbox_dir, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())
        os.replace(tmp, target)
        return DeliveryReceipt("outbox", str(message["Message-ID"]), parse_recipients(to), str(target))


def delivery_from_config(config: LocalAgentConfig) -> EmailDelivery:
    if config.smtp.host:
        return SmtpDelivery(config.smtp)
    return OutboxDelivery(config.resolved_outbox_dir, config.smtp.sender)
