"""The rules of time (SPEC section 11): when a request takes effect, what a freeze refuses, when
approved work may be handed to provisioning, emergencies, and what a request overlaps. Pure;
the time is an argument.

- A request takes effect at its ``apply_at``, else its period's (or load test window's) start,
  else at once.
- A freeze refuses a request taking effect inside it (422 ``freeze_window``, naming the window
  and when the run of freezes ends), unless it is an emergency.
- Approved work waits (``scheduled``) until its time of effect and until no freeze or
  maintenance window of its environment covers the moment; an emergency waits for maintenance
  but goes through freezes.
- An emergency says why, skips lead times, and always needs two different staff approvals.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from service.domain.errors import RuleViolation
from service.domain.windows import (
    INSTANT, Occurrence, WindowKind, Windows, clear_after, covering, later, occurring, overlaps,
)

START_SKEW = timedelta(seconds=60)
"""How far in the past ``apply_at`` may lie, to absorb clock skew between client and server."""
FREEZE = frozenset({WindowKind.FREEZE})
HOLDING = frozenset({WindowKind.FREEZE, WindowKind.MAINTENANCE})
EMERGENCY_APPROVALS = 2


@dataclass(frozen=True)
class Span:
    """When a request takes effect, and until when it lasts (``end == start``: a moment)."""

    start: datetime
    end: datetime


def span_of(*, now: datetime, apply_at: datetime | None = None,
            period: tuple[datetime, datetime] | None = None) -> Span:
    """A request's time: its apply_at, else its period, else now."""
    if period is not None:
        start = apply_at if apply_at is not None and apply_at > period[0] else period[0]
        return Span(start, period[1])
    moment = apply_at if apply_at is not None else now
    return Span(moment, moment)


def calendar_span(apply_at: datetime | None,
                  period: tuple[datetime, datetime] | None) -> tuple[datetime, datetime] | None:
    """What the calendar shows of a request: its period, or the moment of its apply_at; None
    for a request without a time."""
    if period is not None:
        return period
    if apply_at is not None:
        return apply_at, apply_at
    return None


def check_apply_at(apply_at: datetime | None, *, now: datetime,
                   period: tuple[datetime, datetime] | None = None) -> None:
    if apply_at is None:
        return
    if apply_at < now - START_SKEW:
        raise RuleViolation("apply_at must not be in the past", rule="apply_at_in_past",
                            errors={"apply_at": ["must not be in the past"]},
                            params={"earliest_start": now.isoformat()})
    if period is not None and apply_at >= period[1]:
        raise RuleViolation("apply_at must lie before the period's end", rule="period_invalid",
                            errors={"apply_at": ["must be before period.end"]})


def check_emergency(emergency: bool, reason: str | None) -> None:
    if emergency and not (reason or "").strip():
        raise RuleViolation("say why this is an emergency", rule="emergency_reason_required",
                            errors={"emergency_reason": ["required when emergency is true"]})


def approvals_needed(needed: int, *, emergency: bool) -> int:
    """An emergency always needs two different staff approvals, whatever the policy says."""
    return max(needed, EMERGENCY_APPROVALS) if emergency else needed


def check_freeze(windows: Windows, moment: datetime, *, emergency: bool = False) -> None:
    """Refuse a request taking effect inside a freeze, naming the freeze and when it ends."""
    if emergency:
        return
    inside = covering(windows, moment, FREEZE)
    if inside is None:
        return
    ends = clear_after(windows, moment, FREEZE)
    at = ends.isoformat().replace("+00:00", "Z")
    raise RuleViolation(
        f"the freeze window {inside.window.title!r} covers this request's time; it ends at {at}. "
        "Ask for a time after it (apply_at), or file an emergency with a reason",
        rule="freeze_window", errors={"apply_at": [f"inside the freeze {inside.window.title!r}, until {at}"]},
        params={"window_id": inside.window.id, "window_title": inside.window.title, "ends_at": at},
    )


def covering_freeze(windows: Windows, moment: datetime) -> datetime | None:
    """When the run of freezes covering ``moment`` ends; None when no freeze covers it."""
    if covering(windows, moment, FREEZE) is None:
        return None
    return clear_after(windows, moment, FREEZE)


def due_at(windows: Windows, *, now: datetime, not_before: datetime | None,
           emergency: bool = False) -> datetime:
    """When approved work may be handed to provisioning: at ``not_before`` (apply_at, a period's
    start) or now, whichever is later, and then at the first moment no freeze (for an
    emergency: no maintenance window) of its environment covers."""
    moment = max(now, not_before) if not_before is not None else now
    kinds = frozenset({WindowKind.MAINTENANCE}) if emergency else HOLDING
    return clear_after(windows, moment, kinds)


def holding(windows: Windows, moment: datetime, *, emergency: bool = False) -> Occurrence | None:
    """The window occurrence that holds work at ``moment``, if any."""
    kinds = frozenset({WindowKind.MAINTENANCE}) if emergency else HOLDING
    return covering(windows, moment, kinds)


@dataclass(frozen=True)
class CalendarConflict:
    kind: str
    """``ticket`` or ``window``"""
    id: str
    title: str
    start: datetime
    end: datetime


def window_conflicts(windows: Windows, span: Span) -> list[CalendarConflict]:
    """The window occurrences that overlap a request's time."""
    until = span.end if span.end > span.start else later(span.start, INSTANT)
    return [CalendarConflict("window", o.window.id, f"{o.window.kind.value}: {o.window.title}", o.start, o.end)
            for o in occurring(windows, span.start, until)]


def ticket_conflicts(tickets: Iterable[tuple[str, str, datetime, datetime]], span: Span) -> list[CalendarConflict]:
    """The other requests (id, summary, start, end) whose time overlaps a request's time."""
    return [CalendarConflict("ticket", ticket_id, summary, start, end)
            for ticket_id, summary, start, end in tickets
            if overlaps((start, end), (span.start, span.end))]
