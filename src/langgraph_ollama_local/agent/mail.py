"""Email delivery for `send_email`: real SMTP when configured, else a local outbox.

The outbox keeps the demo honest offline: each message is written as an RFC 822 `.eml`
file and the receipt says so, instead of pretending it reached a mailbox.

Arguments come from an LLM, so they are treated as hostile: every header value is
checked for line breaks (header injection such as `to="a@b.com\\nBcc: evil@x.com"`) and
every recipient must be a plain address, all before anything is sent or written.
Callers may pass the Message-ID (`message_id_for(key)` derives one from an idempotency
key), so a retried delivery can be recognised downstream as the same message.
"""

from __future__ import annotations

import hashlib
import os
import re
import smtplib
import ssl
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from langgraph_ollama_local.agent.ledger import OutcomeUnknownError, RetryableToolError
from langgraph_ollama_local.config import LocalAgentConfig, SmtpSettings

MESSAGE_ID_DOMAIN = "langgraph-ollama-local"
MAX_RECIPIENTS = 50

_LOCAL_PART = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_DOMAIN = r"(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}|localhost)"
_ADDRESS = re.compile(rf"{_LOCAL_PART}@{_DOMAIN}")
_NAMED_ADDRESS = re.compile(r'^"?([^"<>]*?)"?\s*<([^<>]*)>$')  # `Alice <alice@example.com>`
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # every control character but TAB
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>")


class InvalidEmailError(ValueError):
    """A recipient, header or Message-ID is malformed or hostile; nothing was sent."""


class EmailConfigError(ValueError):
    """The email settings cannot work (e.g. an SMTP delivery without a host)."""


class EmailDeliveryError(RuntimeError):
    """The message could not be handed to the mail server or written to the outbox."""


class EmailRetryableError(EmailDeliveryError, RetryableToolError):
    """Not sent, for a reason that passes (server down or refusing, a 4xx "try later"):
    the executor sends it again with the same Message-ID."""


class EmailOutcomeUnknownError(EmailDeliveryError, OutcomeUnknownError):
    """The connection dropped after the message went out and before the server's 250:
    it may have been delivered. Recorded in doubt, never resent by itself."""


def _temporary(exc: BaseException) -> bool:
    """A failure before anything was accepted that passes: a 4xx reply, or the network."""
    code = getattr(exc, "smtp_code", None)
    if isinstance(code, int):
        return 400 <= code < 500
    return isinstance(exc, OSError | smtplib.SMTPServerDisconnected)


def _not_sent(exc: BaseException, message: str) -> EmailDeliveryError:
    """Nothing was sent: retryable when the cause passes, else final."""
    return (EmailRetryableError if _temporary(exc) else EmailDeliveryError)(message)


@dataclass(frozen=True)
class DeliveryReceipt:
    """What happened to one message, so the tool can tell the truth about it.

    `transport` is "smtp" (accepted by a real mail server) or "outbox" (written to a
    local `.eml` file, not sent); `location` is the server (`smtp://host:port`) or the
    file path; `refused` lists recipients the server turned down while accepting others.
    """

    transport: Literal["smtp", "outbox"]
    message_id: str
    recipients: tuple[str, ...]
    location: str
    refused: tuple[str, ...] = ()


@runtime_checkable
class EmailDelivery(Protocol):
    """Anything that can deliver `send_email`'s message: SMTP, the outbox, a test double."""

    def deliver(
        self, to: str, subject: str, body: str, *, message_id: str | None = None
    ) -> DeliveryReceipt: ...


# --- validation --------------------------------------------------------------------------


def check_header(name: str, value: str) -> str:
    """`value`, if it is safe in header `name`; refuses line breaks and control characters."""
    if "\r" in value or "\n" in value:
        raise InvalidEmailError(
            f"the {name} contains a line break, which could inject extra headers (e.g. Bcc); "
            "nothing was sent. Put each value on one line"
        )
    if _CONTROL.search(value):
        raise InvalidEmailError(
            f"the {name} contains a control character; nothing was sent. Remove it and retry"
        )
    return value


def parse_recipients(to: str) -> tuple[str, ...]:
    """The addresses in `to` (comma or semicolon separated), each checked; display names dropped."""
    check_header("recipient (to)", to)
    addresses: list[str] = []
    for part in re.split(r"[,;]", to):
        candidate = part.strip()
        if not candidate:
            continue
        named = _NAMED_ADDRESS.match(candidate)
        if named:
            candidate = named.group(2).strip()
        if len(candidate) > 254 or not _ADDRESS.fullmatch(candidate):
            raise InvalidEmailError(
                f"{candidate!r} is not a valid email address; nothing was sent. "
                "Give plain addresses like alice@example.com, separated by commas"
            )
        if candidate.lower() not in (a.lower() for a in addresses):
            addresses.append(candidate)
    if not addresses:
        raise InvalidEmailError(
            "no recipient given; nothing was sent. Give an address like alice@example.com"
        )
    if len(addresses) > MAX_RECIPIENTS:
        raise InvalidEmailError(
            f"{len(addresses)} recipients is more than the {MAX_RECIPIENTS} allowed in one email; "
            "nothing was sent. Split the list"
        )
    return tuple(addresses)


def message_id_for(key: str, domain: str = MESSAGE_ID_DOMAIN) -> str:
    """A stable Message-ID for an idempotency key: the same key always gives the same ID."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]  # short enough not to fold
    return f"<hitl.{digest}@{domain}>"


def normalize_message_id(message_id: str) -> str:
    """`<local@domain>` form of a caller-supplied Message-ID (angle brackets added if missing)."""
    check_header("Message-ID", message_id)
    value = message_id.strip()
    if not value.startswith("<"):
        value = f"<{value}>"
    if not _MESSAGE_ID.fullmatch(value):
        raise InvalidEmailError(
            f"{message_id!r} is not a valid Message-ID; nothing was sent. "
            "Use the form <unique-part@domain> (see message_id_for)"
        )
    return value


def build_message(
    sender: str, recipients: tuple[str, ...], subject: str, body: str, message_id: str | None = None
) -> EmailMessage:
    """An RFC 5322 message; every header is checked before it is set."""
    message = EmailMessage()
    message["From"] = check_header("sender (From)", sender)
    message["To"] = ", ".join(recipients)
    message["Subject"] = check_header("subject", subject)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = (
        normalize_message_id(message_id) if message_id else make_msgid(domain=MESSAGE_ID_DOMAIN)
    )
    message.set_content(body)
    return message


# --- SMTP --------------------------------------------------------------------------------


def _smtp_reply(exc: BaseException) -> str:
    code = getattr(exc, "smtp_code", None)
    reply = getattr(exc, "smtp_error", None)
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    if code is not None and reply:
        return f"{code} {' '.join(str(reply).split())}"
    return " ".join(str(exc).split()) or type(exc).__name__


class SmtpDelivery:
    """Sends through a real SMTP server: STARTTLS (certificate verified) and login when configured."""

    def __init__(self, settings: SmtpSettings) -> None:
        if not settings.host:
            raise EmailConfigError(
                "SmtpDelivery needs an SMTP host: set HITL_SMTP__HOST, or use OutboxDelivery "
                "(delivery_from_config picks it when no host is set)"
            )
        check_header("configured sender (HITL_SMTP__SENDER)", settings.sender)
        self.settings = settings
        self.host: str = settings.host

    @property
    def where(self) -> str:
        return f"{self.host}:{self.settings.port}"

    def deliver(self, to: str, subject: str, body: str, *, message_id: str | None = None) -> DeliveryReceipt:
        """Send one message; `EmailDeliveryError` says which step failed and what to change."""
        recipients = parse_recipients(to)
        message = build_message(self.settings.sender, recipients, subject, body, message_id)
        s = self.settings
        try:
            client = smtplib.SMTP(self.host, s.port, timeout=s.timeout_seconds)
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, a stalled banner, 4xx/5xx
            raise _not_sent(
                exc,
                f"could not connect to the SMTP server {self.where} ({_smtp_reply(exc)}). Start the mail "
                "server or fix HITL_SMTP__HOST / HITL_SMTP__PORT; unset HITL_SMTP__HOST to write emails "
                "to the local outbox instead. Nothing was sent",
            ) from exc
        try:
            self._prepare(client)
            refused = self._send(client, message, recipients)
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()  # the message (if sent) is already accepted; a failed QUIT is no error
        accepted = tuple(r for r in recipients if r not in refused)
        return DeliveryReceipt(
            "smtp", str(message["Message-ID"]), accepted, f"smtp://{self.where}", tuple(refused)
        )

    def _prepare(self, client: smtplib.SMTP) -> None:
        s = self.settings
        if s.starttls:
            try:
                client.starttls(context=ssl.create_default_context())
            except smtplib.SMTPNotSupportedError as exc:
                raise EmailDeliveryError(
                    f"the SMTP server {self.where} does not offer STARTTLS. Use a server or port that "
                    "does, or set HITL_SMTP__STARTTLS=false for a trusted local server. Nothing was sent"
                ) from exc
            except (OSError, smtplib.SMTPException) as exc:  # ssl.SSLError is an OSError
                retry = isinstance(exc, smtplib.SMTPServerDisconnected | TimeoutError | ConnectionError)
                raise (EmailRetryableError if retry else EmailDeliveryError)(
                    f"STARTTLS with the SMTP server {self.where} failed ({_smtp_reply(exc)}). Check that "
                    f"the server's certificate is valid for {self.host}. Nothing was sent"
                ) from exc
        if s.username:
            try:
                client.login(s.username, s.password or "")
            except smtplib.SMTPAuthenticationError as exc:
                raise EmailDeliveryError(
                    f"the SMTP server {self.where} rejected the login for {s.username!r} "
                    f"({_smtp_reply(exc)}). Check HITL_SMTP__USERNAME / HITL_SMTP__PASSWORD. Nothing was sent"
                ) from exc
            except smtplib.SMTPNotSupportedError as exc:
                raise EmailDeliveryError(
                    f"the SMTP server {self.where} offers no login (AUTH). Many servers offer it only "
                    "after STARTTLS: set HITL_SMTP__STARTTLS=true, or unset HITL_SMTP__USERNAME if it "
                    "needs none. Nothing was sent"
                ) from exc
            except (OSError, smtplib.SMTPException) as exc:
                raise _not_sent(
                    exc,
                    f"logging in to the SMTP server {self.where} failed ({_smtp_reply(exc)}). "
                    "Check the SMTP settings. Nothing was sent",
                ) from exc

    def _send(self, client: smtplib.SMTP, message: EmailMessage, recipients: tuple[str, ...]) -> list[str]:
        try:
            refused = client.send_message(message, to_addrs=list(recipients))
        except smtplib.SMTPRecipientsRefused as exc:
            detail = "; ".join(f"{addr}: {_smtp_reply_of(reply)}" for addr, reply in exc.recipients.items())
            temporary = all(400 <= code < 500 for code, _ in exc.recipients.values())
            raise (EmailRetryableError if temporary else EmailDeliveryError)(
                f"the SMTP server {self.where} refused every recipient ({detail}). Check the addresses, "
                "or whether the server relays mail for them. Nothing was sent"
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise (EmailRetryableError if _temporary(exc) else EmailDeliveryError)(
                f"the SMTP server {self.where} refused the sender {self.settings.sender!r} "
                f"({_smtp_reply(exc)}). Set HITL_SMTP__SENDER to an address it accepts. Nothing was sent"
            ) from exc
        except smtplib.SMTPDataError as exc:  # the server answered: 4xx "try later", 5xx no
            raise (EmailRetryableError if _temporary(exc) else EmailDeliveryError)(
                f"the SMTP server {self.where} rejected the message ({_smtp_reply(exc)}). "
                "Nothing was delivered"
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:  # no answer to the message: ambiguous
            raise EmailOutcomeUnknownError(
                f"the connection to the SMTP server {self.where} failed while sending "
                f"({_smtp_reply(exc)}); the message may not have been delivered. Check the server "
                "and retry with the same Message-ID so a duplicate can be recognised"
            ) from exc
        return list(refused)


def _smtp_reply_of(reply: tuple[int, bytes]) -> str:
    code, text = reply
    return f"{code} {' '.join(text.decode('utf-8', 'replace').split())}"


# --- outbox ------------------------------------------------------------------------------


class OutboxDelivery:
    """Writes each message as an `.eml` file in a local folder (used when no SMTP host is set).

    Files are written atomically (temporary file, fsync, rename), so a reader never sees
    half a message; names sort by time: `<UTC timestamp>-<message id>.eml`.
    """

    def __init__(self, outbox_dir: Path, sender: str = "agent@localhost") -> None:
        check_header("configured sender (HITL_SMTP__SENDER)", sender)
        self.outbox_dir = Path(outbox_dir)
        self.sender = sender

    def deliver(self, to: str, subject: str, body: str, *, message_id: str | None = None) -> DeliveryReceipt:
        """Write one message; the receipt's `location` is the `.eml` file.

        With a caller's `message_id` the outbox is idempotent: a message with that ID
        already written is not written again (the retry after a crash).
        """
        recipients = parse_recipients(to)
        message = build_message(self.sender, recipients, subject, body, message_id)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", str(message["Message-ID"]).strip("<>"))[:120]
        if message_id:
            earlier = sorted(self.outbox_dir.glob(f"*-{safe_id}.eml")) if self.outbox_dir.is_dir() else []
            if earlier:
                return DeliveryReceipt("outbox", str(message["Message-ID"]), recipients, str(earlier[0]))
        target = self.outbox_dir / f"{stamp}-{safe_id}.eml"
        try:
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
            _write_atomically(target, message.as_bytes())
        except OSError as exc:
            raise EmailDeliveryError(
                f"could not write the email to the local outbox {self.outbox_dir} ({exc}). Make the "
                "folder writable, set HITL_OUTBOX_DIR to another folder, or configure HITL_SMTP__HOST. "
                "Nothing was sent"
            ) from exc
        return DeliveryReceipt("outbox", str(message["Message-ID"]), recipients, str(target))


def _write_atomically(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".eml.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def delivery_from_config(config: LocalAgentConfig) -> EmailDelivery:
    """SMTP when `config.smtp.host` is set, else the local outbox (`config.resolved_outbox_dir`)."""
    if config.smtp.host:
        return SmtpDelivery(config.smtp)
    return OutboxDelivery(config.resolved_outbox_dir, config.smtp.sender)
