"""Mail as the standard library builds and sends it: a ``Letter`` (the facts of one message)
rendered from Jinja templates (text and HTML alternatives) into an ``email.message.EmailMessage``,
sent with ``smtplib`` (SMTP_URL) or written as an .eml file (MAIL_DIR).

Threading: every message about a ticket to one person refers to the same root Message-ID,
derived from the ticket and the person; the first message (the receipt) carries it as its own.
Each other message's Message-ID is its outbox row's id, so a message sent again after a worker
died mid-send is the same message. Failures come out as RetryLater (connection errors, SMTP 4xx)
or GiveUp (SMTP 5xx), the reason never holding the SMTP password."""
from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from service.adapters.config import Settings
from service.adapters.outbound import GiveUp, RetryLater
from service.adapters.unsubscribe import token_for
from service.domain.case_numbers import case_number

Send = Callable[[EmailMessage], None]
FIRST_NOTICES = frozenset({"received"})


@dataclass(frozen=True)
class Letter:
    """What one message says, to whom."""

    message_id: str
    kind: str
    side: str
    ticket_id: str
    number: int
    type: str
    environment: str
    stage: str
    summary: str
    status: str
    to_email: str
    recipient_id: str
    at: datetime
    to_name: str | None = None
    resources: list[dict[str, Any]] = field(default_factory=list)
    period: tuple[datetime, datetime] | None = None
    reason: str | None = None
    comment: str | None = None


_TEMPLATES = Environment(loader=PackageLoader("service.adapters", "mail_templates"),
                         autoescape=select_autoescape(["html"]), undefined=StrictUndefined,
                         trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
WORDS = {"received": "received", "approved": "approved", "scheduled": "scheduled",
         "rejected": "rejected", "completed": "completed", "failed": "failed", "reverted": "reverted",
         "expired": "expired", "comment": "new comment", "awaiting_approval": "awaiting approval",
         "second_approval": "awaiting a second approval", "sla_breach": "past its decision SLA"}
STAFF_WORDS = {"received": "awaiting approval"}


@dataclass(frozen=True)
class Composer:
    """Builds messages with this deployment's sender, links and signing keys."""

    mail_from: str
    base_url: str
    keys: tuple[str, ...]
    portal_ticket_url: str = ""
    console_url: str = ""

    def compose(self, letter: Letter) -> EmailMessage:
        domain = self.domain
        message = EmailMessage()
        message["Subject"] = subject(letter)
        message["From"] = self.mail_from
        message["To"] = str(Address(display_name=letter.to_name or "", addr_spec=letter.to_email))
        message["Date"] = format_datetime(letter.at)
        root = f"<ticket-{letter.ticket_id}.{letter.recipient_id}@{domain}>"
        if letter.kind in FIRST_NOTICES:
            message["Message-ID"] = root
        else:
            message["Message-ID"] = f"<{letter.message_id}@{domain}>"
            message["In-Reply-To"] = root
            message["References"] = root
        unsubscribe = f"{self.base_url}/v1/unsubscribe?token={token_for(letter.recipient_id, self.keys)}"
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["Auto-Submitted"] = "auto-generated"
        message["X-Envdesk-Ticket"] = case_number(letter.number)
        context = {"l": letter, "number": case_number(letter.number), "link": self.link(letter),
                   "words": words(letter), "unsubscribe": unsubscribe}
        message.set_content(_TEMPLATES.get_template("message.txt").render(context))
        message.add_alternative(_TEMPLATES.get_template("message.html").render(context), subtype="html")
        return message

    @property
    def domain(self) -> str:
        return parseaddr(self.mail_from)[1].rpartition("@")[2] or "envdesk.invalid"

    def link(self, letter: Letter) -> str | None:
        if letter.side == "staff":
            return f"{self.console_url or self.base_url + '/console'}/tickets/{letter.ticket_id}"
        if self.portal_ticket_url:
            return self.portal_ticket_url.format(id=letter.ticket_id, number=case_number(letter.number))
        return None


def words(letter: Letter) -> str:
    if letter.side == "staff":
        return STAFF_WORDS.get(letter.kind, WORDS[letter.kind])
    return WORDS[letter.kind]


def subject(letter: Letter) -> str:
    """``[ENV-42] Upscale approved: acme-stage``."""
    what = "Upscale" if letter.type == "upscale" else "Change request"
    return f"[{case_number(letter.number)}] {what} {words(letter)}: {letter.environment}"


def smtp_sender(url: str, *, timeout: float = 10.0) -> Send:
    """Send over SMTP: ``smtp://user:password@host:port`` (``?starttls=true``) or ``smtps://``."""
    return SmtpSender(url, timeout=timeout).send


class SmtpSender:
    """One SMTP connection per process, kept open between messages (a worker sends one message
    at a time) and opened again when the server has closed it."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.implicit = parts.scheme == "smtps"
        self.starttls = parse_qs(parts.query).get("starttls", ["false"])[0].lower() in ("1", "true", "yes")
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or (465 if self.implicit else 25)
        self.user, self.password = unquote(parts.username or ""), unquote(parts.password or "")
        self.timeout = timeout
        self.smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        try:
            try:
                self._connection().send_message(message)
            except smtplib.SMTPServerDisconnected:  # a kept connection the server closed meanwhile
                self.close()
                self._connection().send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _refused(code, text) from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            raise _refused(exc.smtp_code, exc.smtp_error) from None
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise RetryLater(f"SMTP {self.host}:{self.port} unreachable: {type(exc).__name__}") from None

    def _connection(self) -> smtplib.SMTP:
        if self.smtp is None:
            connect = smtplib.SMTP_SSL if self.implicit else smtplib.SMTP
            smtp = connect(self.host, self.port, timeout=self.timeout)
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password)
            self.smtp = smtp
        return self.smtp

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None


def _refused(code: int, text: bytes | str) -> Exception:
    said = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    reason = f"SMTP {code} {said}"[:500]
    return GiveUp(reason) if 500 <= code < 600 else RetryLater(reason)


def folder_writer(folder: str) -> Send:
    """Write each message to ``folder`` as ``<Message-ID>.eml`` (a repeat rewrites the same file)."""
    path = Path(folder)

    def send(message: EmailMessage) -> None:
        path.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("/", "_")
        target = path / f"{message['Date'] and _stamp(message)}-{name}.eml"
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(message.as_bytes())
        os.replace(temporary, target)

    return send


def _stamp(message: EmailMessage) -> str:
    from email.utils import parsedate_to_datetime

    return parsedate_to_datetime(str(message["Date"])).strftime("%Y%m%dT%H%M%S")


def sender_for(smtp_url: str, mail_dir: str) -> Send | None:
    """SMTP when SMTP_URL is set, else .eml files in MAIL_DIR, else None (mail is off)."""
    if smtp_url:
        return smtp_sender(smtp_url)
    if mail_dir:
        return folder_writer(mail_dir)
    return None


def composer_for(settings: Settings) -> Composer:
    return Composer(mail_from=settings.mail_from, base_url=settings.base_url,
                    keys=(settings.secret_key, *settings.secret_key_fallbacks),
                    portal_ticket_url=settings.portal_ticket_url, console_url=settings.console_url)
