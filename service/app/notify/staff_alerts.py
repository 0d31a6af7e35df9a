"""Staff learn that work is waiting without watching the console: a short message to
STAFF_WEBHOOK_URL (a Slack- or Teams-compatible incoming webhook, ``{"text": ...}``) when a
ticket enters the queue and when one passes its decision SLA.

Messages go through the portal webhooks' outbox (same transaction, signing, retries). A ticket's
SLA alert is recorded on the ticket (``sla_alerted_at``) by a compare-and-set, so however often
the sweep runs, staff are told once."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Mapping

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from service.adapters import tracing
from service.adapters.db import UnitOfWork
from service.app.notify import mail_outbox
from service.domain.notice import Notice
from service.domain.lifecycle import Status
from service.adapters.models import Comment, Environment, Ticket, TicketEvent, WebhookDelivery, new_id

BATCH = 200
STAFF_UNADDRESSED = "staff"
"""The url of a message for staff not yet addressed to STAFF_WEBHOOK_URL; the workers address
it (service.app.notify.outbox.address_new_events), so no process's configuration can lose one."""


# The predicate of the partial index ix_tickets_sla_owed, the status written into the SQL (not a
# bound parameter) so that PostgreSQL can use that index in any plan, generic ones included: in
# the steady state every pending ticket was announced long ago, and the index holds none of them.
_NOT_YET_TOLD = (Ticket.status == bindparam("pending", Status.PENDING_APPROVAL.value, literal_execute=True),
                 Ticket.sla_alerted_at.is_(None))


class StaffAlerts:
    """A status listener that tells staff about new work, and the sweep's SLA messenger."""

    def __init__(self, console_url: str = "", *, mail: bool = False) -> None:
        self.console_url = console_url.rstrip("/")
        self.mail = mail  # staff who opted in are told of SLA breaches by mail too

    def link(self, ticket_id: str) -> str:
        return f"{self.console_url or '/console'}/tickets/{ticket_id}"

    def status_changed(self, session: Session, ticket: Ticket, event: TicketEvent) -> None:
        if event.from_status is not None or event.to_status != Status.PENDING_APPROVAL:
            return
        env = session.get(Environment, ticket.environment_id)
        self.queue(session, f"New {ticket.type} request for {env.name} ({env.stage}): "
                            f"{_short(ticket.summary)} {self.link(ticket.id)}", at=event.at)

    def comment_added(self, session: Session, ticket: Ticket, comment: Comment) -> None:
        """Comments are the console's own business: nothing to tell."""

    def queue(self, session: Session, text: str, *, at: datetime) -> None:
        body = json.dumps({"text": text}, separators=(",", ":"))
        # Addressed to STAFF_WEBHOOK_URL by the workers (service.app.notify.outbox.address_new_events).
        delivery = WebhookDelivery(event_id=new_id(), url=STAFF_UNADDRESSED, body=body,
                                   next_attempt_at=at, created_at=at)
        tracing.stamp(delivery)
        session.add(delivery)


def alert_overdue(alerts: StaffAlerts, *, uow: UnitOfWork, now: datetime,
                  sla_hours: Mapping[str, float]) -> int:
    """Tell staff once about each ticket still waiting for a decision past its stage's SLA."""
    told = 0
    for stage, hours in sla_hours.items():
        with uow:
            for ticket_id, summary, env_name in _overdue(uow.session, stage, now - timedelta(hours=hours)):
                # A plain UPDATE: the ticket's version stays, so no open console page turns stale.
                claimed = uow.session.execute(update(Ticket).where(
                    Ticket.id == ticket_id, Ticket.sla_alerted_at.is_(None)).values(sla_alerted_at=now))
                if claimed.rowcount == 1:
                    alerts.queue(uow.session, f"Past its {hours:g} h decision SLA: {env_name} ({stage}): "
                                              f"{_short(summary)} {alerts.link(ticket_id)}", at=now)
                    if alerts.mail:
                        mail_outbox.record(uow.session, ticket_id, Notice.SLA_BREACH, {}, now)
                    told += 1
            uow.commit()
    return told


def _overdue(session: Session, stage: str, filed_before: datetime) -> list[tuple[str, str, str]]:
    """(id, summary, environment name) of the tickets of ``stage`` not yet announced and filed
    before ``filed_before``, oldest first. The look reads the covering partial index
    ix_tickets_sla_owed alone (nothing at all in the steady state); only what it finds is read
    from the table."""
    ids = list(session.scalars(
        select(Ticket.id).join(Environment, Environment.id == Ticket.environment_id)
        .where(*_NOT_YET_TOLD, Ticket.created_at <= filed_before, Environment.stage == stage)
        .order_by(Ticket.created_at).limit(BATCH)))
    if not ids:
        return []
    found = {row[0]: (row[0], row[1], row[2]) for row in session.execute(
        select(Ticket.id, Ticket.summary, Environment.name)
        .join(Environment, Environment.id == Ticket.environment_id).where(Ticket.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def _short(text: str, limit: int = 120) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
