"""Mail to people, through the outbox as webhooks are (SPEC §10).

A move records one row per event that tells anyone (``recipient_id`` NULL), in the transaction
that makes the move and with nothing read or rendered: filing and approving cost what they cost
without mail. The workers address each event to its recipients (service.domain.notice decides
who, from the people as they are then) as one row per (event, recipient), hand the due rows to
the mail queue, and send each (service.app.notify.mail_delivery)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import ColumnElement, Tuple, and_, bindparam, case, exists, literal_column, or_, select, tuple_, update
from sqlalchemy.orm import Session, aliased

from service.adapters import tracing
from service.adapters.db import UnitOfWork
from service.adapters.models import (
    Account, Comment, MailMessage, NotificationPreference, PartnerLink, Ticket, TicketEvent, User, new_id,
)
from service.domain.notice import (
    STAFF_ROLES, THREAD_ORDER, Event, Notice, Person, Preferences, TicketParties, notice_of_move, recipients,
)

BATCH = 500


class MailOutbox:
    """A status listener that records, for the workers, every event that tells someone by mail."""

    def status_changed(self, session: Session, ticket: Ticket, event: TicketEvent) -> None:
        notice = notice_of_move(event.from_status, event.to_status)
        if notice is not None:
            record(session, ticket.id, notice, {"reason": event.reason, "actor_id": event.actor_id}, event.at)

    def comment_added(self, session: Session, ticket: Ticket, comment: Comment) -> None:
        if not comment.internal:
            record(session, ticket.id, Notice.COMMENT,
                   {"comment": comment.body, "actor_id": comment.author_id}, comment.created_at)


def record(session: Session, ticket_id: str, notice: Notice, facts: dict[str, Any], at: datetime) -> None:
    row = MailMessage(event_id=new_id(), ticket_id=ticket_id, kind=notice.value, recipient_id=None,
                      facts=json.dumps(facts, separators=(",", ":")), attempts=0,
                      next_attempt_at=at, created_at=at)
    tracing.stamp(row)  # the mail joins the trace of the request that made the move
    session.add(row)


def address_new_mail(uow: UnitOfWork, *, limit: int = BATCH) -> int:
    """One row per (event, recipient) for each event not yet addressed; an event nobody is to be
    told of is dropped. Returns how many events were addressed."""
    with uow:
        events = list(uow.session.scalars(
            select(MailMessage).where(MailMessage.recipient_id.is_(None))
            .order_by(MailMessage.created_at).limit(limit)
            # Two overlapping sweeps never address one event twice.
            .with_for_update(skip_locked=True)))
        if not events:
            return 0
        tickets = {t.id: t for t in uow.session.scalars(
            select(Ticket).where(Ticket.id.in_({e.ticket_id for e in events})))}
        people, links = _people(uow.session, tickets.values(), events)
        for event in events:
            ticket = tickets.get(event.ticket_id)
            if ticket is not None:
                _address(uow.session, event, ticket, people, links)
            uow.session.delete(event)
        uow.commit()
    return len(events)


def _address(session: Session, event: MailMessage, ticket: Ticket, people: dict[str, Person],
             links: set[tuple[str, str]]) -> None:
    facts = json.loads(event.facts)
    actor = people.get(facts.get("actor_id") or "")
    drafter = people.get(ticket.drafter_id or "")
    parties = TicketParties(
        account_id=ticket.account_id, requester_id=ticket.requester_id, status=ticket.status,
        drafter_id=ticket.drafter_id,
        drafter_linked=drafter is not None and (drafter.account_id, ticket.account_id) in links)
    told = Event(Notice(event.kind), actor_id=facts.get("actor_id"),
                 by_staff=actor is not None and actor.is_staff)
    for person, side in recipients(told, parties, list(people.values())):
        session.add(MailMessage(
            event_id=event.event_id, ticket_id=event.ticket_id, kind=event.kind, recipient_id=person.id,
            facts=json.dumps({**facts, "side": side}, separators=(",", ":")), attempts=0,
            next_attempt_at=event.created_at, created_at=event.created_at, trace_context=event.trace_context))


def _people(session: Session, tickets: Iterable[Ticket], events: list[MailMessage]
            ) -> tuple[dict[str, Person], set[tuple[str, str]]]:
    """Everyone these events might tell, and the partner links of the tickets' accounts: the
    requesters, drafters and actors, the accounts' watchers, and staff who opted in to something."""
    tickets = list(tickets)
    accounts = {t.account_id for t in tickets}
    direct = {t.requester_id for t in tickets} | {t.drafter_id for t in tickets if t.drafter_id}
    direct |= {json.loads(e.facts).get("actor_id") or "" for e in events}
    prefs = NotificationPreference
    rows = session.execute(
        select(User.id, User.account_id, User.role, Account.kind, prefs.email, prefs.watch_account,
               prefs.staff_awaiting_approval, prefs.staff_sla_breach, prefs.staff_failed)
        .join(Account, Account.id == User.account_id).outerjoin(prefs, prefs.user_id == User.id)
        .where(or_(User.id.in_(direct), and_(User.account_id.in_(accounts), prefs.watch_account.is_(True)),
                   and_(Account.kind == "provider", User.role.in_(sorted(STAFF_ROLES)), prefs.email.is_(True),
                        or_(prefs.staff_awaiting_approval, prefs.staff_sla_breach, prefs.staff_failed)))))
    people = {row[0]: Person(id=row[0], account_id=row[1], role=row[2], account_kind=row[3],
                             preferences=preferences_of(row[4:])) for row in rows}
    links = set(tuple(row) for row in session.execute(select(PartnerLink.partner_account_id, PartnerLink.customer_account_id)
                                .where(PartnerLink.customer_account_id.in_(accounts))).all())
    return people, links


def _owed(message: type[MailMessage]) -> ColumnElement[bool]:
    return and_(message.recipient_id.is_not(None), message.sent_at.is_(None), message.given_up_at.is_(None))


def _place(message: type[MailMessage]) -> Tuple[Any]:
    """A message's place in its thread: when its event was recorded, then the kind's order."""
    order = case(*((message.kind == literal_column(f"'{kind}'"), literal_column(str(rank)))
                   for kind, rank in THREAD_ORDER.items()), else_=literal_column(str(len(THREAD_ORDER))))
    return tuple_(message.created_at, order, message.id)


_EARLIER = aliased(MailMessage)
# Due and first in its thread (ix_mail_messages_owed, then a probe of ix_mail_messages_thread).
_DUE = (select(MailMessage.id)
        .where(_owed(MailMessage), MailMessage.next_attempt_at <= bindparam("now"),
               ~exists().where(_owed(_EARLIER), _EARLIER.ticket_id == MailMessage.ticket_id,
                               _EARLIER.recipient_id == MailMessage.recipient_id,
                               _place(_EARLIER) < _place(MailMessage)))
        .order_by(MailMessage.next_attempt_at).limit(bindparam("limit")))


def preferences_of(values: tuple[Any, ...] | Any) -> Preferences:
    """Preferences from (email, watch_account, awaiting_approval, sla_breach, failed); all None
    (no row): the defaults."""
    if values[0] is None:
        return Preferences()
    return Preferences(*(bool(v) for v in values))


def claim_due_mail(uow: UnitOfWork, *, now: datetime, lease: float, limit: int = BATCH) -> list[str]:
    """Address what is new, then the due messages, held for a lease so that the next sweep does
    not hand them out again. Of one person's messages about one ticket only the first still owed
    is handed out: the next goes once it is sent or given up, so a thread arrives in order
    although the workers send in parallel."""
    address_new_mail(uow, limit=limit)
    with uow:
        ids = list(uow.session.scalars(_DUE, {"now": now, "limit": limit}))
        if ids:
            uow.session.execute(update(MailMessage).where(MailMessage.id.in_(ids)).values(
                next_attempt_at=now + timedelta(seconds=lease)))
            uow.commit()
    return ids
