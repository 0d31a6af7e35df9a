"""Maintenance and freeze windows: pure arithmetic over time (SPEC section 11).

A window is a span of wall-clock time in its own time zone, optionally repeated by an RFC 5545
``RRULE`` (expanded by python-dateutil, never by hand). Its occurrences keep their wall-clock
times across DST changes: "every night 22:00-02:00 Europe/Berlin" is 22:00-02:00 local time in
winter and in summer, so its UTC instants move by an hour. A wall-clock time that does not exist
(the hour skipped in spring) is read with the offset before the change, as zoneinfo does
(``fold=0``); an occurrence never ends before it starts.

Everything here takes the time as an argument; nothing reads the clock.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import Iterable, Iterator, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

from service.domain import recurrence
from service.domain.errors import RuleViolation

UTC = timezone.utc
MAX_OCCURRENCES = 2000
"""At most this many occurrences of one window are expanded for one question."""
WEEK = timedelta(days=7)
WEEKS_KEPT = 520
"""At most this many weeks' occurrences of one window are kept in a process."""
_MONDAY = datetime(2001, 1, 1, tzinfo=timezone.utc)
FREQUENCIES = frozenset({"HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"})
MAX_DURATION = timedelta(days=366)
INSTANT = timedelta(microseconds=1)
"""The length of the span a moment is asked about."""
DAWN = datetime(2, 1, 10, tzinfo=UTC)
HORIZON = datetime(9999, 12, 1, tzinfo=UTC)
"""Window arithmetic covers [DAWN, HORIZON): nothing occurs outside it. A request or a calendar
may name any storable instant (years 1 to 9999), but the weeks, the day of slack and a window's
length (up to 366 days) the arithmetic steps through would leave the range of ``datetime`` at
its very ends."""


def later(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, or the last storable instant where that lies beyond it."""
    try:
        return moment + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _within_time(since: datetime, until: datetime) -> tuple[datetime, datetime] | None:
    """``[since, until)`` cut to [DAWN, HORIZON); None when nothing of it is left."""
    since, until = max(since, DAWN), min(until, HORIZON)
    return (since, until) if since < until or (since == until and since < HORIZON) else None


class WindowKind(StrEnum):
    MAINTENANCE = "maintenance"
    FREEZE = "freeze"


@dataclass(frozen=True)
class Scope:
    """Which environments a window covers: all when every field is None."""

    stage: str | None = None
    account_id: str | None = None
    environment_id: str | None = None

    def covers(self, *, environment_id: str, account_id: str, stage: str) -> bool:
        return ((self.stage is None or self.stage == stage)
                and (self.account_id is None or self.account_id == account_id)
                and (self.environment_id is None or self.environment_id == environment_id))


@dataclass(frozen=True)
class Window:
    id: str
    kind: WindowKind
    title: str
    start: datetime
    """The first occurrence's start (aware)."""
    end: datetime
    """The first occurrence's end (aware, after ``start``)."""
    timezone: str = "UTC"
    rrule: str | None = None
    scope: Scope = field(default_factory=Scope)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def recurring(self) -> _Recurring:
        """What every question to a repeating window starts from, worked out once per object
        (the application keeps one object per stored window)."""
        return _recurring(self)

    def occurrences(self, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
        """The occurrences (UTC start, UTC end) that overlap ``[since, until)``, in order."""
        within = _within_time(since, until)
        if within is None:
            return []
        since, until = within
        if self.rrule is None:
            return list(_occurrences(self, since, until))
        found: list[tuple[datetime, datetime]] = []
        known = self.recurring
        week = first = since - (since - _MONDAY) % WEEK
        while week < until:
            for start, end in known.in_week(self, week):  # one begun earlier was listed then
                if start < until and end > since and (week == first or start >= week):
                    found.append((start, end))
            if len(found) >= MAX_OCCURRENCES:
                return found[:MAX_OCCURRENCES]
            week += WEEK
        return found


@dataclass(frozen=True)
class Occurrence:
    window: Window
    start: datetime
    end: datetime


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a RuleViolation naming the field when there is none."""
    try:
        if not name or "\x00" in name or len(name) > 64:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleViolation(f"{name!r} is not an IANA time zone (such as Europe/Berlin)",
                            rule="window_invalid", errors={"timezone": ["unknown time zone"]}) from None


def check_window(window: Window) -> None:
    """A window must end after it starts, last at most a year, and repeat by a rule dateutil
    reads, no more often than hourly."""
    zone_of(window.timezone)
    if window.end <= window.start:
        raise RuleViolation("a window must end after it starts", rule="window_invalid",
                            errors={"end": ["must be after start"]})
    if window.end - window.start > MAX_DURATION:
        raise RuleViolation("a window may last at most 366 days", rule="window_invalid",
                            errors={"end": ["at most 366 days after start"]})
    if window.rrule is not None:
        _rule(window)


def _rule(window: Window) -> rrule:
    """The window's recurrence, its DTSTART the first occurrence in the window's own zone."""
    text = _text(window)
    if not text or "\n" in text or "DTSTART" in text.upper() or len(text) > 500:
        raise _bad_rrule("give one RRULE value, such as FREQ=DAILY;BYHOUR=22")
    upper = text.upper()
    frequency = next((part.split("=", 1)[1] for part in upper.split(";")
                      if part.startswith("FREQ=")), None)
    if frequency not in FREQUENCIES:
        raise _bad_rrule("FREQ must be HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY")
    try:
        local = window.start.astimezone(window.zone)
        parsed = _parsed(text, local.replace(tzinfo=None), window.timezone)
    except (ValueError, TypeError, OverflowError) as exc:
        raise _bad_rrule(f"not a valid RFC 5545 RRULE: {exc}") from None
    if not isinstance(parsed, rrule):
        raise _bad_rrule("give one RRULE value")
    return parsed


@lru_cache(maxsize=4096)
def _parsed(text: str, wall_start: datetime, zone: str) -> rrule | object:
    """A rule is parsed once per (text, first start, zone) in a process: windows are few and
    repeat. The key is the wall-clock start and the zone's name (aware datetimes of one instant
    in two zones are equal, and would share an entry)."""
    return rrulestr(text, dtstart=wall_start.replace(tzinfo=ZoneInfo(zone)), cache=True)


def _text(window: Window) -> str:
    """The window's RRULE value, without the ``RRULE:`` name."""
    text = (window.rrule or "").strip()
    return text[len("RRULE:"):] if text.upper().startswith("RRULE:") else text


@dataclass(frozen=True)
class _Recurring:
    """What every question to a repeating window starts from, worked out once per window."""

    rule: rrule
    plan: recurrence.Plan | None
    zone: ZoneInfo
    first: datetime
    """The first start, wall clock in ``zone`` (aware)."""
    wall: timedelta
    """How long an occurrence lasts in wall-clock time."""

    weeks: dict[datetime, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, compare=False, hash=False)
    """The occurrences that overlap a week (from a Monday, 00:00 UTC), by week, as they are
    asked for: windows are few, and every filing, hand-off and calendar asks about the same
    weeks. (An occurrence across midnight on Sunday is in both weeks'.)"""

    def in_week(self, window: Window, week: datetime) -> tuple[tuple[datetime, datetime], ...]:
        found = self.weeks.get(week)
        if found is None:
            if len(self.weeks) >= WEEKS_KEPT:
                self.weeks.clear()
            found = self.weeks[week] = tuple(_occurrences(window, week, week + WEEK))
        return found

    def near(self, moment: datetime) -> rrule:
        """The rule with the same occurrences from ``moment`` (wall clock) on, restarted near it
        (service.domain.recurrence) rather than walked from the first start."""
        if self.plan is None:
            return self.rule
        anchor = self.plan.period_start(moment.replace(tzinfo=None))
        if anchor <= self.plan.first:
            return self.rule
        return _parsed(self.plan.text, anchor, self.zone.key)  # type: ignore[return-value]


def _recurring(window: Window) -> _Recurring:
    rule, zone = _rule(window), window.zone
    first, last = window.start.astimezone(zone), window.end.astimezone(zone)
    wall = last.replace(tzinfo=None) - first.replace(tzinfo=None)
    return _Recurring(rule, recurrence.plan(_text(window), first.replace(tzinfo=None)), zone, first, wall)


def _bad_rrule(message: str) -> RuleViolation:
    return RuleViolation(message, rule="window_invalid", errors={"rrule": [message]})


def _occurrences(window: Window, since: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
    if window.rrule is None:
        if window.start < until and window.end > since:
            yield window.start.astimezone(UTC), window.end.astimezone(UTC)
        return
    known = window.recurring
    zone, wall = known.zone, known.wall
    # A day of slack on each side for offsets; exact overlap is decided in UTC below.
    after = (since - wall - timedelta(days=1)).astimezone(zone)
    before = (until + timedelta(days=1)).astimezone(zone)
    count = 0
    for begins in known.near(after).xafter(max(after, known.first), inc=True):
        if begins > before or count >= MAX_OCCURRENCES:
            return
        count += 1
        start_utc, end_utc = _span(begins, wall, zone)
        if start_utc < until and end_utc > since:
            yield start_utc, end_utc


def _span(begins: datetime, wall: timedelta, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """One occurrence starting at wall-clock ``begins`` and lasting ``wall`` of wall-clock time."""
    start = begins.replace(tzinfo=zone).astimezone(UTC)
    end = (begins.replace(tzinfo=None) + wall).replace(tzinfo=zone).astimezone(UTC)
    if end <= start:  # a wall-clock end inside the hour skipped in spring
        end = start + wall
    return start, end


def occurrences_in(windows: Iterable[Window], since: datetime, until: datetime) -> list[Occurrence]:
    """Every occurrence of ``windows`` overlapping ``[since, until)``, by start."""
    found = [Occurrence(w, s, e) for w in windows for s, e in w.occurrences(since, until)]
    return sorted(found, key=_order)


class Expanded:
    """Windows whose occurrences over any range can be asked for, as the rules ask them."""

    def occurrences(self, since: datetime, until: datetime) -> list[Occurrence]:
        raise NotImplementedError


ScopeKey = tuple[str, "str | None"]


def scope_key(scope: Scope) -> ScopeKey:
    """The scope field that names a window's environments most narrowly, with its value."""
    return (("environment", scope.environment_id) if scope.environment_id else
            ("account", scope.account_id) if scope.account_id else
            ("stage", scope.stage) if scope.stage else ("all", None))


WEEKS_INDEXED = 4096
"""At most this many (scope, week) lists of occurrences are kept by one WindowIndex."""


class WindowIndex:
    """Windows by the scope field that names them most narrowly, with each scope's occurrences
    worked out per week (from a Monday, 00:00 UTC) as they are asked for: every question of a
    filing or a hand-off about an environment is then a few look-ups of the weeks it spans, not an
    expansion of every window that might apply. One index answers for one set of windows; a
    window declared or withdrawn makes a new one."""

    def __init__(self, windows: Iterable[Window]) -> None:
        self.by_scope: dict[ScopeKey, list[Window]] = {}
        for window in windows:
            self.by_scope.setdefault(scope_key(window.scope), []).append(window)
        self._weeks: dict[tuple[ScopeKey, datetime], _Week] = {}

    @property
    def weeks_kept(self) -> int:
        return len(self._weeks)

    def covering(self, *, environment_id: str, account_id: str, stage: str) -> Expanded:
        """The windows whose scope covers one environment, as the rules take them."""
        keys = [key for key in (("environment", environment_id), ("account", account_id), ("stage", stage),
                                ("all", None)) if key in self.by_scope]
        return _Covering(self, keys, (environment_id, account_id, stage))

    def week(self, key: ScopeKey, week: datetime) -> _Week:
        """The occurrences of the windows of scope ``key`` that overlap the week from ``week``."""
        found = self._weeks.get((key, week))
        if found is None:
            if len(self._weeks) >= WEEKS_INDEXED:
                self._weeks.clear()
            until = week + WEEK
            found = self._weeks[(key, week)] = _Week(sorted(
                (Occurrence(w, s, e) for w in self.by_scope.get(key, ()) for s, e in w.occurrences(week, until)),
                key=_order))
        return found


class _Week:
    """One scope's occurrences overlapping one week, by start, with their starts apart for
    bisection and the longest one's length: a question about a span looks only at those that
    begin before it ends and late enough to reach into it, not at every nightly window of the
    week."""

    __slots__ = ("occurrences", "starts", "longest")

    def __init__(self, occurrences: list[Occurrence]) -> None:
        self.occurrences = occurrences
        self.starts = [o.start for o in occurrences]
        self.longest = max((o.end - o.start for o in occurrences), default=timedelta(0))

    def overlapping(self, since: datetime, until: datetime, *, begun_after: datetime | None) -> list[Occurrence]:
        """Those overlapping ``[since, until)``; with ``begun_after``, only those that begin then
        or later (an earlier one was listed with an earlier week)."""
        low = max(since - self.longest, begun_after) if begun_after is not None else since - self.longest
        return [o for o in self.occurrences[bisect_left(self.starts, low):bisect_left(self.starts, until)]
                if o.end > since]


class _Covering(Expanded):
    def __init__(self, index: WindowIndex, keys: list[ScopeKey], environment: tuple[str, str, str]) -> None:
        self.index, self.keys = index, keys
        self.environment_id, self.account_id, self.stage = environment

    def occurrences(self, since: datetime, until: datetime) -> list[Occurrence]:
        found: list[Occurrence] = []
        within = _within_time(since, until)
        if not self.keys or within is None:
            return found
        since, until = within
        week = first = since - (since - _MONDAY) % WEEK
        while week < until:
            for key in self.keys:
                # One begun in an earlier week was listed with that week.
                for o in self.index.week(key, week).overlapping(since, until,
                                                                 begun_after=None if week == first else week):
                    if o.window.scope.covers(environment_id=self.environment_id, account_id=self.account_id,
                                             stage=self.stage):
                        found.append(o)
            week += WEEK
        found.sort(key=_order)
        return found


def _order(o: Occurrence) -> tuple[datetime, datetime, str]:
    return o.start, o.end, o.window.id


Windows = Union[Iterable[Window], Expanded]
"""Windows as the rules take them: a list, or an environment's view of a WindowIndex."""


def occurring(windows: Windows, since: datetime, until: datetime,
              kinds: frozenset[WindowKind] = frozenset(WindowKind)) -> list[Occurrence]:
    """The occurrences of ``windows`` of ``kinds`` overlapping ``[since, until)``, by start."""
    if isinstance(windows, Expanded):
        return [o for o in windows.occurrences(since, until) if o.window.kind in kinds]
    return occurrences_in((w for w in windows if w.kind in kinds), since, until)


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    """Whether two spans share an instant; a span of length zero is an instant."""
    (a0, a1), (b0, b1) = a, b
    if a0 == a1:
        return b0 <= a0 < b1 or a0 == b0
    if b0 == b1:
        return a0 <= b0 < a1
    return a0 < b1 and b0 < a1


def applying(windows: Iterable[Window], *, environment_id: str, account_id: str,
             stage: str) -> list[Window]:
    """The windows whose scope covers one environment."""
    return [w for w in windows
            if w.scope.covers(environment_id=environment_id, account_id=account_id, stage=stage)]


def covering(windows: Windows, moment: datetime,
             kinds: frozenset[WindowKind] = frozenset(WindowKind)) -> Occurrence | None:
    """An occurrence of one of ``kinds`` that ``moment`` falls in (the one ending last)."""
    found = occurring(windows, moment, later(moment, INSTANT), kinds)
    return max(found, key=lambda o: o.end) if found else None


def clear_after(windows: Windows, moment: datetime,
                kinds: frozenset[WindowKind] = frozenset(WindowKind), *, limit: int = 100) -> datetime:
    """The first instant at or after ``moment`` that no window of ``kinds`` covers: back-to-back
    and overlapping windows are passed through together."""
    for _ in range(limit):
        inside = covering(windows, moment, kinds)
        if inside is None:
            return moment
        moment = inside.end
    return moment


def last_end(window: Window) -> datetime | None:
    """When the window's last occurrence ends; None when it repeats without end (no COUNT or
    UNTIL) or more often than ``MAX_OCCURRENCES`` times."""
    if window.rrule is None:
        return window.end.astimezone(UTC)
    parts = {part.split("=", 1)[0] for part in window.rrule.upper().removeprefix("RRULE:").split(";")}
    if not parts & {"COUNT", "UNTIL"}:
        return None
    zone = window.zone
    wall = (window.end.astimezone(zone).replace(tzinfo=None)
            - window.start.astimezone(zone).replace(tzinfo=None))
    last = None
    for count, begins in enumerate(_rule(window)):
        if count >= MAX_OCCURRENCES:
            return None
        last = begins
    return None if last is None else _span(last, wall, zone)[1]
