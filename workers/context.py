"""The worker process's adapters, built once per process (after the prefork)."""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from celery import Celery

from service.adapters import webhooks
from service.adapters.mail import Composer, Send, composer_for, sender_for
from service.adapters.config import Settings
from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.app.tickets.moves import StatusListener
from service.app.notify.outbox import status_listener
from service.app.provisioning.pipeline import Timing
from service.adapters.provisioning import ProvisioningClient
from service.adapters.broker import Publisher, client_app
from service.adapters.routing import route_for


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class WorkerContext:
    settings: Settings
    publisher: Publisher
    uow: Callable[[], UnitOfWork]
    listener: StatusListener | None
    timing: Timing
    clock: Callable[[], datetime] = utcnow
    send_mail: Send | None = None
    composer: Composer | None = None
    _clients: dict[str, ProvisioningClient] = field(default_factory=dict)

    def client_for(self, ticket_type: str, stage: str) -> ProvisioningClient:
        target = route_for(ticket_type, stage, self.settings).target
        if target not in self._clients:
            self._clients[target] = ProvisioningClient(
                target, self.settings.provisioning_token,
                connect_timeout=self.settings.provisioning_connect_timeout,
                read_timeout=self.settings.provisioning_read_timeout)
        return self._clients[target]

    def send_webhook(self, url: str, body: bytes) -> None:
        webhooks.send_signed(url, body, self.settings.webhook_secret, now=int(time.time()))


def build_context(settings: Settings, app: Celery | None = None) -> WorkerContext:
    # One worker process runs one task at a time: a small pool is plenty.
    sessions = make_session_factory(make_engine(settings.database_url, pooler=settings.database_pooler,
                                                pool_size=2, max_overflow=2))
    return WorkerContext(
        settings=settings,
        publisher=Publisher(app or client_app(settings), settings),
        uow=lambda: UnitOfWork(sessions),
        listener=status_listener(settings),
        timing=Timing(lease=settings.lease_seconds, poll_interval=settings.poll_interval,
                      retry_cap=settings.retry_cap_seconds,
                      max_attempts=settings.provisioning_max_attempts),
        send_mail=sender_for(settings.smtp_url, settings.mail_dir),
        composer=composer_for(settings),
    )



@functools.cache
def context() -> WorkerContext:
    from celery import current_app

    return build_context(Settings.from_env(), current_app)
