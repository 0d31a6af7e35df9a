"""The console's week view: what the change calendar holds for one week, day by day, across all
environments or for one; and the windows that touch one ticket's time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session

from service.adapters.identity import Principal
from service.adapters.models import Ticket
from service.app.calendar.entries import calendar_entries
from service.app.calendar.feed import read_calendar

UTC = timezone.utc


@dataclass(frozen=True)
class Day:
    day: date
    entries: list[dict[str, Any]]


@dataclass(frozen=True)
class Week:
    monday: date
    days: list[Day]
    environment_id: str | None

    @property
    def previous(self) -> date:
        return self.monday - timedelta(days=7)

    @property
    def next(self) -> date:
        return self.monday + timedelta(days=7)


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_view(session: Session, principal: Principal, *, week_of: date,
              environment_id: str | None = None) -> Week:
    """Each day of the week (UTC) of ``week_of`` with the entries that overlap it."""
    monday = monday_of(week_of)
    since = datetime.combine(monday, time(), tzinfo=UTC)
    calendar = read_calendar(session, principal, since=since, until=since + timedelta(days=7),
                             environment_id=environment_id)
    entries = calendar_entries(calendar)
    days = []
    for offset in range(7):
        begins = since + timedelta(days=offset)
        ends = begins + timedelta(days=1)
        days.append(Day(begins.date(), [e for e in entries if e["start"] < ends and
                                        (e["end"] > begins or e["start"] >= begins)]))
    return Week(monday, days, environment_id)


def windows_touching(session: Session, principal: Principal, ticket: Ticket) -> list[dict[str, Any]]:
    """The window occurrences over a ticket's environment during its time (or the next week
    from now for a ticket without one)."""
    start = ticket.calendar_start or datetime.now(UTC)
    end = ticket.calendar_end if ticket.calendar_end and ticket.calendar_end > start else start + timedelta(days=7)
    calendar = read_calendar(session, principal, since=start, until=end, environment_id=ticket.environment_id)
    return [e for e in calendar_entries(calendar) if e["kind"] == "window"]
