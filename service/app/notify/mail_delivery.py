"""Send one addressed message: read it, render it, send it outside any transaction, record the
outcome. Connection errors and SMTP 4xx are retried with backoff; a 5xx is given up and recorded.
A message already sent or given up is skipped, so a repeated task sends nothing twice; a worker
killed between the send and the record sends it once more, as the same message (same Message-ID)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import bindparam, select, update

from service.adapters import tracing
from service.adapters.db import UnitOfWork
from service.adapters.mail import Composer, Letter, Send
from service.adapters.models import Environment, MailMessage, NotificationPreference, Ticket, User
from service.adapters.outbound import GiveUp, RetryLater, backoff_delay

MAIL_OFF = "the recipient turned mail off"


def send_message(message_id: str, *, uow: UnitOfWork, send: Send, composer: Composer,
                 clock: Callable[[], datetime], max_attempts: int, retry_cap: float = 300.0) -> str:
    """One attempt at one message: "sent", "retrying", "given_up" or "skipped"."""
    with uow:
        found = uow.session.execute(_MESSAGE, {"id": message_id}).first()
        if found is None or found[0].sent_at or found[0].given_up_at or found[0].recipient_id is None:
            return "skipped"
        if found[-1] is False:  # the recipient turned mail off since
            found[0].given_up_at, found[0].last_error = clock(), MAIL_OFF
            uow.commit()
            return "skipped"
        letter, trace_context = _letter(*found[:-1]), found[0].trace_context
    try:
        # The trace of the request whose move recorded the event, whoever sends the message.
        with tracing.resumed(trace_context, "mail delivery", **{"envdesk.mail_id": message_id}):
            send(composer.compose(letter))
        error, final = None, False
    except RetryLater as exc:
        error, final = exc.reason, False
    except GiveUp as exc:
        error, final = exc.reason, True
    if error is None:  # the common case in one statement
        with uow:
            uow.session.connection().execute(_SENT, {"b_id": message_id, "now": clock()})
            uow.commit()
        return "sent"
    return _record_failure(uow, message_id, error=error, final=final, now=clock(),
                           max_attempts=max_attempts, retry_cap=retry_cap)


# The message, its ticket and environment, its recipient and whether they take mail: one statement.
_MESSAGE = (select(MailMessage, Ticket, Environment.name, Environment.stage, User.email, User.name,
                   NotificationPreference.email)
            .join(Ticket, Ticket.id == MailMessage.ticket_id)
            .join(Environment, Environment.id == Ticket.environment_id)
            .join(User, User.id == MailMessage.recipient_id)
            .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
            .where(MailMessage.id == bindparam("id")))
_OUTBOX = MailMessage.__table__
_SENT = (update(_OUTBOX).where(_OUTBOX.c.id == bindparam("b_id"), _OUTBOX.c.sent_at.is_(None))
         .values(attempts=_OUTBOX.c.attempts + 1, sent_at=bindparam("now"), last_error=None))


def _record_failure(uow: UnitOfWork, message_id: str, *, error: str, final: bool, now: datetime,
                    max_attempts: int, retry_cap: float) -> str:
    with uow:
        row = uow.session.get(MailMessage, message_id)
        row.attempts += 1
        if final or row.attempts >= max_attempts:
            row.given_up_at, row.last_error, outcome = now, error, "given_up"
        else:
            delay = backoff_delay(row.attempts, base=2.0, cap=retry_cap)
            row.next_attempt_at, row.last_error, outcome = now + timedelta(seconds=delay), error, "retrying"
        uow.commit()
    return outcome


def _letter(row: MailMessage, ticket: Ticket, env_name: str, stage: str, email: str, name: str | None) -> Letter:
    """What the message says, from the ticket as it is now and the event's facts."""
    facts = json.loads(row.facts)
    period = (ticket.period_start, ticket.period_end) if ticket.period_start and ticket.period_end else None
    return Letter(
        message_id=row.id, kind=row.kind, side=facts.get("side", "customer"), ticket_id=ticket.id,
        number=ticket.number, type=ticket.type, environment=env_name, stage=stage,
        summary=ticket.summary, status=ticket.status, to_email=email, to_name=name,
        recipient_id=row.recipient_id, at=row.created_at, resources=list(ticket.resources or []),
        period=period, reason=facts.get("reason") if row.kind != "received" else None,
        comment=facts.get("comment"))
