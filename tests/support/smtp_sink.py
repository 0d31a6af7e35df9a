"""A real SMTP server for the mail tests (aiosmtpd on 127.0.0.1): it keeps every message it
accepts, parsed with email.parser, and can answer every RCPT with a chosen code (a 4xx to be
retried, a 5xx to be given up), be stopped and be started again on the same port."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.servers import free_port


@dataclass
class Received:
    message: EmailMessage
    to: list[str]
    at: float


@dataclass
class SmtpSink:
    port: int = field(default_factory=free_port)
    refuse_with: str | None = None
    """An SMTP reply ("451 4.3.0 try later", "550 5.1.1 no such user") for every RCPT; None: accept."""
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> "SmtpSink":
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self, to: str | None = None) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received if to is None or to in r.to]

    def keep(self, envelope: Any) -> None:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self._lock:
            self.received.append(Received(message, list(envelope.rcpt_tos), time.time()))


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802
                          options: Any) -> str:
        if self.sink.refuse_with:
            return self.sink.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.sink.keep(envelope)
        return "250 Message accepted for delivery"
