"""Webhooks to the portal: an outbox row per status change and URL, delivered by the workers.

Rows are written in the transaction that changes the status, so no change goes unannounced;
delivery happens on its own queue and never holds up the ticket. Receivers deduplicate by
``event_id`` (a delivery can repeat after a worker dies mid-send)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Callable, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from schemas.tickets import TicketSchema
from service.db import UnitOfWork
from service.models import Ticket, TicketEvent, WebhookDelivery, new_id
from service.outbound import GiveUp, RetryLater, backoff_delay

_TICKET = TicketSchema(exclude=("version",))

Send = Callable[[str, bytes], None]


def event_body(ticket: Ticket, event: TicketEvent) -> dict[str, object]:
    return {
        "event_id": new_id(),
        "event": _event_name(event),
        "occurred_at": event.at.isoformat(),
        "from_status": event.from_status,
        "to_status": event.to_status,
        "ticket": _TICKET.dump(ticket),
    }


def _event_name(event: TicketEvent) -> str:
    if event.from_status is None:
        return "ticket.created"
    if event.from_status == event.to_status:
        return "ticket.approval_recorded"  # one of several approvals the ticket needs
    return f"ticket.{event.to_status}"


class WebhookOutbox:
    """A status listener that queues one delivery per configured URL."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = tuple(urls)

    def status_changed(self, session: Session, ticket: Ticket, event: TicketEvent) -> None:
        body = event_body(ticket, event)
        text = json.dumps(body, separators=(",", ":"), default=str)
        for url in self.urls:
            session.add(WebhookDelivery(event_id=body["event_id"], url=url, body=text,
                                        next_attempt_at=event.at, created_at=event.at))


def claim_due_deliveries(uow: UnitOfWork, *, now: datetime, lease: float, limit: int = 500) -> list[str]:
    """Due deliveries, held for a lease so the next sweep does not hand them out again."""
    with uow:
        ids = list(uow.session.scalars(
            select(WebhookDelivery.id).where(
                WebhookDelivery.delivered_at.is_(None), WebhookDelivery.given_up_at.is_(None),
                WebhookDelivery.next_attempt_at <= now,
            ).order_by(WebhookDelivery.next_attempt_at).limit(limit)
        ))
        if ids:
            uow.session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(
                next_attempt_at=now + timedelta(seconds=lease)))
            uow.commit()
    return ids


def deliver(delivery_id: str, *, uow: UnitOfWork, send: Send, clock: Callable[[], datetime],
            max_attempts: int, retry_cap: float = 300.0) -> str:
    with uow:
        delivery = uow.session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.delivered_at or delivery.given_up_at:
            return "skipped"
        url, body = delivery.url, delivery.body.encode()
    try:
        send(url, body)
        error = None
    except (RetryLater, GiveUp) as exc:
        error = exc.reason
    with uow:
        delivery = uow.session.get(WebhookDelivery, delivery_id)
        now = clock()
        delivery.attempts += 1
        if error is None:
            delivery.delivered_at, outcome = now, "delivered"
        elif delivery.attempts >= max_attempts:
            delivery.given_up_at, delivery.last_error, outcome = now, error, "given_up"
        else:
            delay = backoff_delay(delivery.attempts, base=2.0, cap=retry_cap)
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            delivery.last_error, outcome = error, "retrying"
        uow.commit()
    return outcome
