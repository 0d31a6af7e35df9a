"""Webhooks to the portal: an outbox row per status change and comment, delivered by the workers.

Rows are written in the transaction that changes the status (or adds the comment), by whichever
process makes the move, so no change goes unannounced. They name no receiver: the workers, which
alone send webhooks, address each event to their own WEBHOOK_URLS when they pick it up, so no
process's configuration can lose an event made by another. Delivery happens on its own queue and
never holds up the ticket. Receivers deduplicate by ``event_id`` (a delivery can repeat after a
worker dies mid-send)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from schemas.ticket_bodies import ticket_json
from schemas.tickets import CommentSchema, EventSchema
from service.adapters import tracing
from service.adapters.db import UnitOfWork
from service.adapters.models import Comment, Ticket, TicketEvent, WebhookDelivery, new_id
from service.adapters.outbound import GiveUp, RetryLater, backoff_delay
from service.app.notify.mail_outbox import MailOutbox
from service.app.notify.staff_alerts import STAFF_UNADDRESSED, StaffAlerts

if TYPE_CHECKING:
    from service.adapters.config import Settings
    from service.app.tickets.moves import StatusListener

_COMMENT = CommentSchema()
_EVENT = EventSchema(only=("actor", "reason"))
UNADDRESSED = ""
"""The url of a portal event not yet addressed to the receivers (see address_new_events)."""

Send = Callable[[str, bytes], None]


def event_body(ticket: Ticket, event: TicketEvent) -> dict[str, object]:
    return {
        "event_id": new_id(),
        "event": _event_name(event),
        "occurred_at": event.at.isoformat(),
        "from_status": event.from_status,
        "to_status": event.to_status,
        **_EVENT.dump(event),
        "ticket": ticket_json(ticket, version=False),
    }


def comment_body(ticket: Ticket, comment: Comment) -> dict[str, object]:
    return {
        "event_id": new_id(),
        "event": "comment.created",
        "occurred_at": comment.created_at.isoformat(),
        "comment": _COMMENT.dump(comment),
        "ticket": ticket_json(ticket, version=False),
    }


def _event_name(event: TicketEvent) -> str:
    if event.from_status is None:
        return "ticket.created"
    if event.from_status == event.to_status:
        return "ticket.approval_recorded"  # one of several approvals the ticket needs
    return f"ticket.{event.to_status}"


class WebhookOutbox:
    """A status listener that records every status change and public comment for the portal."""

    def status_changed(self, session: Session, ticket: Ticket, event: TicketEvent) -> None:
        _record(session, event_body(ticket, event), event.at)

    def comment_added(self, session: Session, ticket: Ticket, comment: Comment) -> None:
        if not comment.internal:
            _record(session, comment_body(ticket, comment), comment.created_at)


def _record(session: Session, body: dict[str, object], at: datetime) -> None:
    text = json.dumps(body, separators=(",", ":"), default=str)
    delivery = WebhookDelivery(event_id=body["event_id"], url=UNADDRESSED, body=text,
                               next_attempt_at=at, created_at=at)
    tracing.stamp(delivery)
    session.add(delivery)


# The urls written into the SQL (not bound parameters) so that PostgreSQL can use the partial
# index ix_webhook_deliveries_unaddressed in any plan, generic ones included.
_UNADDRESSED_URLS = bindparam("unaddressed", [UNADDRESSED, STAFF_UNADDRESSED], expanding=True,
                              literal_execute=True)


def address_new_events(uow: UnitOfWork, urls: Sequence[str], *, staff_url: str = "",
                       limit: int = 500) -> int:
    """One delivery per receiver for each event not yet addressed: portal events to ``urls``,
    staff messages to ``staff_url``; with no receiver configured an event is dropped. Returns
    how many events were addressed."""
    with uow:
        events = list(uow.session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.url.in_(_UNADDRESSED_URLS))
            .order_by(WebhookDelivery.created_at).limit(limit)
            # Two overlapping sweeps never address one event twice.
            .with_for_update(skip_locked=True)))
        for event in events:
            receivers = urls if event.url == UNADDRESSED else [staff_url] if staff_url else []
            for url in receivers:
                uow.session.add(WebhookDelivery(
                    event_id=event.event_id, url=url, body=event.body, trace_context=event.trace_context,
                    next_attempt_at=event.next_attempt_at, created_at=event.created_at))
            uow.session.delete(event)
        uow.commit()
    return len(events)


def claim_due_deliveries(uow: UnitOfWork, *, now: datetime, lease: float, urls: Sequence[str],
                         staff_url: str = "", limit: int = 500) -> list[str]:
    """Due deliveries, held for a lease so the next sweep does not hand them out again."""
    address_new_events(uow, urls, staff_url=staff_url, limit=limit)
    with uow:
        ids = list(uow.session.scalars(
            select(WebhookDelivery.id).where(
                WebhookDelivery.url.not_in((UNADDRESSED, STAFF_UNADDRESSED)),
                WebhookDelivery.delivered_at.is_(None), WebhookDelivery.given_up_at.is_(None),
                WebhookDelivery.next_attempt_at <= now,
            ).order_by(WebhookDelivery.next_attempt_at).limit(limit)
        ))
        if ids:
            uow.session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(
                next_attempt_at=now + timedelta(seconds=lease)))
            uow.commit()
    return ids


def attempt_delivery(delivery_id: str, *, uow: UnitOfWork, send: Send,
                     clock: Callable[[], datetime], max_attempts: int, retry_cap: float = 300.0) -> str:
    """Send one delivery once; on failure schedule the next attempt, or give up after the last."""
    with uow:
        delivery = uow.session.get(WebhookDelivery, delivery_id)
        if delivery is None or delivery.delivered_at or delivery.given_up_at:
            return "skipped"
        url, body, trace_context = delivery.url, delivery.body.encode(), delivery.trace_context
    try:
        # The trace of the request whose move wrote the event, whoever published the delivery.
        with tracing.resumed(trace_context, "webhook delivery", **{"envdesk.delivery_id": delivery_id}):
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


class Listeners:
    """Several status listeners as one, called in order in the same transaction."""

    def __init__(self, *listeners: "StatusListener") -> None:
        self.listeners = listeners

    def status_changed(self, session: Session, ticket: Ticket, event: TicketEvent) -> None:
        for listener in self.listeners:
            listener.status_changed(session, ticket, event)

    def comment_added(self, session: Session, ticket: Ticket, comment: Comment) -> None:
        for listener in self.listeners:
            listener.comment_added(session, ticket, comment)


def status_listener(settings: "Settings") -> "StatusListener":
    """What every status change tells: the portal, and staff about new work. Both are recorded
    whatever this process's configuration; the workers address them to their receivers. Mail to
    people is recorded where mail is on (SMTP_URL or MAIL_DIR)."""
    if settings.mail_enabled:
        return Listeners(WebhookOutbox(), StaffAlerts(settings.console_url, mail=True), MailOutbox())
    return Listeners(WebhookOutbox(), StaffAlerts(settings.console_url))
