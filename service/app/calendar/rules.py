"""The rules of time inside the use cases: the windows of one environment (kept in the process
while their version holds: service.app.calendar.kept), its other timed requests (read with an
indexed query limited to the environment and the time in question), and the domain's decisions
(service.domain.scheduling) taken on them."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, literal_column, select
from sqlalchemy.orm import Session

from service.adapters.models import Environment, Ticket
from service.app.calendar.kept import kept, windows_of
from service.app.commands import FileTicket
from service.domain import scheduling
from service.domain.lifecycle import OPEN_STATUSES
from service.domain.scheduling import CalendarConflict, Span
from service.domain.windows import Windows

_OPEN = [literal_column(f"'{s.value}'") for s in sorted(OPEN_STATUSES)]

_TIMED: Select[Any] = select(Ticket.id, Ticket.summary, Ticket.calendar_start, Ticket.calendar_end).where(
    Ticket.environment_id == bindparam("environment_id"), Ticket.status.in_(_OPEN),
    Ticket.calendar_end.is_not(None), Ticket.calendar_end >= bindparam("since"),
    Ticket.calendar_start <= bindparam("until"),
).limit(100)
"""The environment's open requests with a time that overlaps [since, until] (the open-request
index on the environment reaches them)."""


def check_filing(session: Session, env: Environment, command: FileTicket, *, now: datetime,
                 conflicts: list[CalendarConflict] | None = None, version: str | None) -> datetime:
    """Refuse what a freeze refuses; add to ``conflicts`` what the request overlaps on its
    environment; return when it may be handed to provisioning once approved. ``version``: the
    windows' version the filing's SELECT read (they are taken from those kept in the process);
    None: no live window covers the environment, none is looked at."""
    scheduling.check_emergency(command.emergency, command.emergency_reason)
    scheduling.check_apply_at(command.apply_at, now=now, period=command.window)
    span = scheduling.span_of(now=now, apply_at=command.apply_at, period=command.window)
    found: Windows = [] if version is None else kept(session, version).covering(
        environment_id=env.id, account_id=env.account_id, stage=env.stage)
    scheduling.check_freeze(found, span.start, emergency=command.emergency)
    if conflicts is not None:
        timed = span.end > span.start or command.apply_at is not None
        conflicts.extend(overlapping(session, env.id, span, found) if timed else
                         scheduling.window_conflicts(found, span))
    return scheduling.due_at(found, now=now, not_before=span.start, emergency=command.emergency)


def overlapping(session: Session, environment_id: str, span: Span,
                windows: Windows) -> list[CalendarConflict]:
    found = scheduling.window_conflicts(windows, span)
    timed = session.execute(_TIMED, {"environment_id": environment_id, "since": span.start,
                                     "until": span.end}).all()
    found += scheduling.ticket_conflicts(((i, s, a, b) for i, s, a, b in timed), span)
    return found


def due_at(session: Session, ticket: Ticket, *, stage: str | None, now: datetime,
           version: str | None = None) -> datetime:
    """When an approved ``ticket`` may go to provisioning, given the windows of its environment.
    ``version``: the windows' version, when the statement that read the ticket read it too
    (``service.app.calendar.kept.version()``); else it is read here."""
    not_before = ticket.apply_at or ticket.period_start
    if stage is None:
        stage = session.scalar(select(Environment.stage).where(Environment.id == ticket.environment_id))
    windows = windows_of(session, environment_id=ticket.environment_id, account_id=ticket.account_id, stage=stage,
                         version=version)
    return scheduling.due_at(windows, now=now, not_before=not_before, emergency=ticket.emergency)


AHEAD = timedelta(days=14)


def ahead(session: Session, env: Environment, *, now: datetime) -> dict[str, Any]:
    """What filing would meet on ``env`` in the coming two weeks: whether a freeze refuses a
    request now (and until when), and the windows and timed requests a new request may overlap."""
    span = Span(now, now + AHEAD)
    windows = windows_of(session, environment_id=env.id, account_id=env.account_id, stage=env.stage)
    frozen = scheduling.covering_freeze(windows, now)
    return {"frozen_until": frozen, "conflicts": overlapping(session, env.id, span, windows)}
