"""Use case run by `envdesk beat` every few seconds: due work lives in the database, not in ETAs.

It starts the temporary upscales whose period has begun, expires open ones whose period ended
before they were applied, starts the reverts of completed ones whose period has ended,
publishes again every active ticket whose message was lost (broker down at approval) or whose
worker died (lease expired), tells staff about tickets past their decision SLA, and hands due
webhook deliveries to the webhook queue."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import InstrumentedAttribute

from service.adapters.db import UnitOfWork
from service.domain.actors import SWEEP
from service.domain.errors import ConcurrentChange, InvalidTransition
from service.domain.lifecycle import Action, Status
from service.domain.hosting import TicketType
from service.app.calendar import rules as calendar_rules
from service.app.tickets.moves import StatusListener, hold, move
from service.adapters.handoff import Dispatch, due_for_publication, forget_publication
from service.adapters.models import Environment, Ticket

BATCH = 500
PERIOD_BEGAN = "the period of the temporary upscale began"
PERIOD_ENDED = "the temporary upscale period ended"
EXPIRED_UNAPPLIED = "the period ended before the upscale was applied"
RELEASED = "its scheduled time came and no freeze or maintenance window holds it"
TIMED_TYPES = (TicketType.UPSCALE.value, TicketType.LOAD_TEST.value)
"""Types whose period (a temporary upscale's, a load test's window) is applied and reverted."""
EXPIRABLE = (Status.PENDING_APPROVAL.value, Status.SCHEDULED.value, Status.APPROVED.value)


@dataclass
class SweepReport:
    periods_begun: int = 0
    expired: int = 0
    reverts_started: int = 0
    republished: int = 0
    webhooks_due: int = 0
    mail_due: int = 0
    sla_alerts: int = 0

    def __bool__(self) -> bool:
        return any(self.__dict__.values())


def sweep(*, uow: UnitOfWork, now: datetime, lease: float, dispatch: Dispatch,
          listener: StatusListener | None = None,
          deliver_webhooks: Callable[[], int] | None = None,
          alert_overdue: Callable[[], int] | None = None,
          deliver_mail: Callable[[], int] | None = None) -> SweepReport:
    report = SweepReport()
    for ticket_id in _due(uow, Ticket.status.in_(EXPIRABLE), Ticket.period_end, now):
        report.expired += _move_one(ticket_id, Action.EXPIRE, EXPIRED_UNAPPLIED, uow=uow, now=now,
                                    dispatch=dispatch, listener=listener)
    for ticket_id in _scheduled_due(uow, now):
        report.periods_begun += release(ticket_id, uow=uow, now=now, dispatch=dispatch,
                                        listener=listener)
    for ticket_id in _due(uow, Ticket.status == Status.COMPLETED.value, Ticket.period_end, now):
        report.reverts_started += start_revert(ticket_id, uow=uow, now=now, dispatch=dispatch,
                                               listener=listener)
    report.republished = republish(uow=uow, now=now, lease=lease, dispatch=dispatch)
    if alert_overdue is not None:  # before the deliveries, so an alert goes out in this sweep
        report.sla_alerts = alert_overdue()
    if deliver_webhooks is not None:
        report.webhooks_due = deliver_webhooks()
    if deliver_mail is not None:
        report.mail_due = deliver_mail()
    return report


def _due(uow: UnitOfWork, status: ColumnElement[bool], moment: InstrumentedAttribute[datetime | None],
         now: datetime) -> list[str]:
    """Temporary upscales in a given status whose period start or end (``moment``) has come,
    longest due first: the (status, period_start|period_end) indexes reach exactly those, however
    many closed tickets lie behind them."""
    with uow:
        return list(uow.session.scalars(
            select(Ticket.id).where(Ticket.type.in_(TIMED_TYPES), status, moment <= now)
            .order_by(moment, Ticket.id).limit(BATCH)))


def _scheduled_due(uow: UnitOfWork, now: datetime) -> list[str]:
    """Scheduled tickets whose time has come (apply_at, a period's start, the end of a window
    that held them), longest due first, through the (status, not_before) index."""
    with uow:
        return list(uow.session.scalars(
            select(Ticket.id).where(Ticket.status == Status.SCHEDULED.value, Ticket.not_before <= now)
            .order_by(Ticket.not_before, Ticket.id).limit(BATCH)))


def release(ticket_id: str, *, uow: UnitOfWork, now: datetime, dispatch: Dispatch | None,
            listener: StatusListener | None = None) -> int:
    """scheduled → approved for a ticket whose time has come, unless a freeze or maintenance
    window of its environment holds it now: then it stays scheduled until the window's end,
    with an event saying which window holds it."""
    try:
        with uow:
            ticket = uow.session.get(Ticket, ticket_id)
            if ticket is None or ticket.status != Status.SCHEDULED.value:
                return 0
            due = calendar_rules.due_at(uow.session, ticket, stage=None, now=now)
            if due > now:
                hold(uow.session, ticket, due, now=now, actor=SWEEP, listener=listener)
                uow.commit()
                return 0
            reason = PERIOD_BEGAN if ticket.period_start is not None and ticket.apply_at is None else RELEASED
            ticket.not_before = None
            move(uow, ticket, Action.BEGIN_PERIOD, actor=SWEEP, now=now, reason=reason, listener=listener,
                 dispatch=dispatch)
            uow.commit()
    except (InvalidTransition, ConcurrentChange):
        return 0
    return 1


def start_revert(ticket_id: str, *, uow: UnitOfWork, now: datetime, dispatch: Dispatch | None,
                 listener: StatusListener | None = None) -> int:
    """completed → reverting for a temporary upscale whose period has ended."""
    return _move_one(ticket_id, Action.REVERT, PERIOD_ENDED, uow=uow, now=now, dispatch=dispatch,
                     listener=listener)


def _move_one(ticket_id: str, action: Action, reason: str, *, uow: UnitOfWork, now: datetime,
              dispatch: Dispatch | None, listener: StatusListener | None) -> int:
    """One move by the sweep; 0 when the ticket moved on meanwhile (a person or another sweep)."""
    try:
        with uow:
            ticket = uow.session.get(Ticket, ticket_id)
            move(uow, ticket, action, actor=SWEEP, now=now, reason=reason, listener=listener,
                 dispatch=dispatch)
            uow.commit()
    except (InvalidTransition, ConcurrentChange):
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
