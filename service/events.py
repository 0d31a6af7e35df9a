"""Status changes: every move goes through the transition table and leaves one audit event."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from service.domain.lifecycle import Action, Status, next_status
from service.models import Ticket, TicketEvent


class StatusListener(Protocol):
    def status_changed(self, session: Session, ticket: Ticket, event: TicketEvent) -> None: ...


def record_creation(
    session: Session, ticket: Ticket, *, actor_id: str, now: datetime,
    listener: StatusListener | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id, at=now, actor_id=actor_id, from_status=None,
        to_status=ticket.status, reason=ticket.summary,
    )
    session.add(event)
    if listener is not None:
        listener.status_changed(session, ticket, event)
    return event


def move(
    session: Session,
    ticket: Ticket,
    action: Action,
    *,
    actor_id: str | None,
    now: datetime,
    reason: str | None = None,
    listener: StatusListener | None = None,
) -> TicketEvent:
    """Apply ``action`` to ``ticket`` (raises InvalidTransition when the table forbids it).

    The row's version column makes the UPDATE a compare-and-set: a concurrent move of the
    same ticket makes the flush fail with StaleDataError instead of silently winning twice.
    """
    before = Status(ticket.status)
    after = next_status(before, action)
    ticket.status = after.value
    ticket.updated_at = now
    event = TicketEvent(
        ticket_id=ticket.id, at=now, actor_id=actor_id, from_status=before.value,
        to_status=after.value, reason=reason,
    )
    session.add(event)
    if listener is not None:
        listener.status_changed(session, ticket, event)
    return event
