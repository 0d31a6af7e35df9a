"""Fakes of the collaborators the use cases take (provisioning, the broker, the clock), for tests
of our own logic: they record what they were asked and answer from a script."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from service.adapters.models import Ticket
from service.adapters.provisioning import Operation, idempotency_key


class Clock:
    """A clock the test moves by hand; calling it tells the time. It holds a datetime (what use
    cases and rules take as ``now``) or a number of seconds (what caches count)."""

    def __init__(self, now: datetime | float | None = None) -> None:
        self.now: Any = datetime.now(timezone.utc).replace(microsecond=0) if now is None else now

    def __call__(self) -> Any:
        return self.now

    def tick(self, seconds: float) -> Any:
        self.now += timedelta(seconds=seconds) if isinstance(self.now, datetime) else seconds
        return self.now


class WorkerDied(BaseException):
    """The worker process vanished mid-task: nothing after this point runs."""


@dataclass
class FakeProvisioning:
    """Provisioning that keeps one operation per idempotency key, like the real one.

    ``submit_script`` and ``get_script`` hold what the next calls answer: an operation status
    (``"pending"``, ``"succeeded"``, ``"failed: why"``) or an exception to raise. When a script
    runs dry, submits answer ``pending`` and gets answer ``succeeded``."""

    submit_script: list[Any] = field(default_factory=list)
    get_script: list[Any] = field(default_factory=list)
    submits: list[dict[str, Any]] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)
    operations: dict[str, str] = field(default_factory=dict)
    during_call: Callable[[], None] | None = None

    def submit(self, *, ticket_id: str, action: str, environment: dict, request: dict,
               attempt_round: int = 1) -> Operation:
        key = idempotency_key(ticket_id, action, attempt_round)
        self.submits.append({"ticket_id": ticket_id, "action": action, "environment": environment,
                             "request": request, "round": attempt_round, "key": key})
        if self.during_call is not None:
            self.during_call()
        step = self.submit_script.pop(0) if self.submit_script else "pending"
        if isinstance(step, str):  # the operation exists once provisioning has accepted it
            self.operations.setdefault(key, f"op-{len(self.operations) + 1}")
        return self._answer(step, self.operations.get(key, "none"))

    def get(self, operation_id: str) -> Operation:
        self.gets.append(operation_id)
        if self.during_call is not None:
            self.during_call()
        return self._answer(self.get_script.pop(0) if self.get_script else "succeeded", operation_id)

    @staticmethod
    def _answer(step: Any, operation_id: str) -> Operation:
        if isinstance(step, BaseException):
            raise step
        status, _, error = step.partition(": ")
        return Operation(id=operation_id, status=status, error=error or None)


@dataclass
class FakeDispatch:
    """The broker as the use cases see it (the publisher): records every provisioning message as
    (ticket_id, type, stage, countdown) and every webhook delivery id; with ``fail`` it answers
    like a broker that is down. Given a unit of work, it also records the status the database
    held for the ticket when the message was sent (another connection sees only committed data)."""

    uow_factory: Callable[[], Any] | None = None
    fail: bool = False
    calls: list[tuple[str, str, str, float]] = field(default_factory=list)
    status_seen: list[str] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)

    def __call__(self, ticket_id: str, ticket_type: str, stage: str, *, countdown: float = 0) -> bool:
        self.calls.append((ticket_id, ticket_type, stage, countdown))
        if self.uow_factory is not None:
            with self.uow_factory() as uow:
                self.status_seen.append(uow.session.get(Ticket, ticket_id).status)
        return not self.fail

    def webhook(self, delivery_id: str) -> bool:
        self.webhooks.append(delivery_id)
        return not self.fail
