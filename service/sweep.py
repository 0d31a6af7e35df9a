"""Use case run by `envdesk beat` every few seconds: due work lives in the database, not in ETAs.

It starts the reverts of temporary upscales whose period has ended, publishes again every
active ticket whose message was lost (broker down at approval) or whose worker died (lease
expired), tells staff about tickets past their decision SLA, and hands due webhook deliveries to
the webhook queue."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import select, update
from sqlalchemy.orm.exc import StaleDataError

from service.db import UnitOfWork
from service.domain.errors import InvalidTransition
from service.domain.lifecycle import Action, Status
from service.domain.policy import TicketType
from service.events import StatusListener, move
from service.handoff import Dispatch, due_for_publication, forget_publication, hand_off
from service.models import Environment, Ticket

BATCH = 500


@dataclass
class SweepReport:
    reverts_started: int = 0
    republished: int = 0
    webhooks_due: int = 0
    sla_alerts: int = 0


def sweep(*, uow: UnitOfWork, now: datetime, lease: float, dispatch: Dispatch,
          listener: StatusListener | None = None,
          deliver_webhooks: Callable[[], int] | None = None,
          alert_overdue: Callable[[], int] | None = None) -> SweepReport:
    report = SweepReport()
    for ticket_id in _ended_periods(uow, now):
        report.reverts_started += start_revert(ticket_id, uow=uow, now=now, dispatch=dispatch,
                                               listener=listener)
    report.republished = republish(uow=uow, now=now, lease=lease, dispatch=dispatch)
    if alert_overdue is not None:  # before the deliveries, so an alert goes out in this sweep
        report.sla_alerts = alert_overdue()
    if deliver_webhooks is not None:
        report.webhooks_due = deliver_webhooks()
    return report


def _ended_periods(uow: UnitOfWork, now: datetime) -> list[str]:
    with uow:
        return list(uow.session.scalars(
            select(Ticket.id).where(
                Ticket.status == Status.COMPLETED.value,
                Ticket.type == TicketType.UPSCALE.value,
                Ticket.period_end <= now,
            ).order_by(Ticket.period_end).limit(BATCH)
        ))


def start_revert(ticket_id: str, *, uow: UnitOfWork, now: datetime, dispatch: Dispatch | None,
                 listener: StatusListener | None = None) -> int:
    """completed → reverting for a temporary upscale whose period has ended."""
    with uow:
        ticket = uow.session.get(Ticket, ticket_id)
        try:
            move(uow.session, ticket, Action.REVERT, actor_id=None, now=now,
                 reason="the temporary upscale period ended", listener=listener)
        except InvalidTransition:
            return 0
        ticket.operation_id = None
        ticket.attempts = 0
        hand_off(uow, ticket, now=now, dispatch=dispatch)
        try:
            uow.commit()
        except StaleDataError:
            return 0
    return 1


def republish(*, uow: UnitOfWork, now: datetime, lease: float, dispatch: Dispatch) -> int:
    """Publish again each active ticket that nobody holds and whose message is missing or old."""
    with uow:
        due = due_for_publication(uow, now=now, lease=lease, limit=BATCH)
        if not due:
            return 0
        stages = dict(uow.session.execute(
            select(Environment.id, Environment.stage).where(
                Environment.id.in_({t.environment_id for t in due}))).all())
        work = [(t.id, t.type, stages[t.environment_id]) for t in due]
        uow.session.execute(
            update(Ticket).where(Ticket.id.in_([w[0] for w in work])).values(published_at=now))
        uow.commit()
        for ticket_id, ticket_type, stage in work:
            if not dispatch(ticket_id, ticket_type, stage):
                forget_publication(uow, ticket_id)
    return len(work)
