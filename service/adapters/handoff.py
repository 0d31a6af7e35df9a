"""The durable hand-off between the database and the queue.

A ticket that workers must act on carries its own due time (``next_attempt_at``) in the same
transaction as its status; publishing a message is only a nudge sent after the commit. When
the broker is down, or a worker dies holding a ticket, the sweep finds the ticket by its due
time and publishes again. Handling a ticket twice is harmless (see service.app.provisioning.pipeline)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update

from service.adapters import tracing
from service.adapters.db import UnitOfWork
from service.domain.lifecycle import Status
from service.adapters.models import Environment, Ticket

log = logging.getLogger(__name__)

ACTIVE_STATUSES = (Status.APPROVED.value, Status.PROVISIONING.value, Status.REVERTING.value)


class Dispatch(Protocol):
    """Publish one ticket to its queue, optionally after ``countdown`` seconds; False if it failed."""

    def __call__(self, ticket_id: str, ticket_type: str, stage: str, *, countdown: float = 0) -> bool: ...


def hand_off(uow: UnitOfWork, ticket: Ticket, *, now: datetime, dispatch: Dispatch | None,
             delay: float = 0.0, stage: str | None = None) -> None:
    """Mark ``ticket`` due in ``delay`` seconds and publish it once the transaction commits.
    With tracing on, the ticket keeps the move's trace context: the worker's step joins it,
    whoever publishes the ticket (this commit, or a sweep later)."""
    ticket.next_attempt_at = now + timedelta(seconds=delay)
    tracing.stamp(ticket)
    if dispatch is None:
        return
    ticket.published_at = now
    stage = stage or uow.session.scalar(
        select(Environment.stage).where(Environment.id == ticket.environment_id))
    ticket_id, ticket_type = ticket.id, ticket.type

    def publish() -> None:
        if not dispatch(ticket_id, ticket_type, stage, countdown=delay):
            forget_publication(uow, ticket_id)

    uow.after_commit(publish)


def forget_publication(uow: UnitOfWork, ticket_id: str) -> None:
    """The message never reached the broker: let the next sweep publish it."""
    try:
        uow.session.execute(update(Ticket).where(Ticket.id == ticket_id).values(published_at=None))
        uow.session.commit()
    except Exception:  # noqa: BLE001 - the lease still expires and the sweep still finds it
        log.exception("could not clear published_at for ticket %s", ticket_id)
        uow.session.rollback()


def due_for_publication(uow: UnitOfWork, *, now: datetime, lease: float, limit: int = 500) -> list[Ticket]:
    """Active tickets nobody holds whose last message is missing or older than a lease."""
    stale = now - timedelta(seconds=lease)
    return list(uow.session.scalars(
        select(Ticket).where(
            Ticket.status.in_(ACTIVE_STATUSES),
            Ticket.next_attempt_at <= now,
            or_(Ticket.published_at.is_(None), Ticket.published_at <= stale),
        ).order_by(Ticket.next_attempt_at).limit(limit)
    ))
