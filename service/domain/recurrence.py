"""Restarting an RFC 5545 recurrence near a moment, with the same occurrences from there on.

dateutil's rrule generates a recurrence from its DTSTART: asking a nightly window first declared
200 days ago for tonight walks 200 nights. A rule without COUNT has the same occurrences from
any later period of its frequency on (the year, month, week, day or hour they fall in, counted in
steps of INTERVAL from DTSTART's, weeks starting on WKST) when it is restarted at that period's
start, provided every part the first DTSTART implied is written out: RFC 5545 (and dateutil)
take the time of day, the weekday of a weekly rule and the day (and month) of a monthly (yearly)
one from DTSTART when the rule gives none. ``Plan`` holds that written-out rule and finds the
period to restart at. All times here are wall-clock times in the window's zone (naive), as
dateutil computes them. A rule with COUNT counts from its first occurrence and is never
restarted.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_PARTS = frozenset({"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYEASTER"})
_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Plan:
    text: str
    """The rule with every part its first start implied written out."""
    frequency: str
    interval: int
    week_start: int
    first: datetime
    """The first start (wall clock)."""

    def period_start(self, moment: datetime) -> datetime:
        """The start of the rule's last period beginning at or before ``moment`` (wall clock);
        at or before the first start when ``moment`` lies in the first period."""
        first, step = self.first, self.interval
        if self.frequency == "YEARLY":
            return datetime(first.year + (moment.year - first.year) // step * step, 1, 1)
        if self.frequency == "MONTHLY":
            months = (moment.year - first.year) * 12 + moment.month - first.month
            index = first.year * 12 + first.month - 1 + months // step * step
            return datetime(index // 12, index % 12 + 1, 1)
        if self.frequency == "WEEKLY":
            week, target = self._week_of(first), self._week_of(moment)
            weeks = (target - week).days // 7 // step * step
            return datetime.combine(week + timedelta(weeks=weeks), time())
        if self.frequency == "DAILY":
            days = (moment.date() - first.date()).days // step * step
            return datetime.combine(first.date() + timedelta(days=days), time())
        hour = first.replace(minute=0, second=0, microsecond=0)
        return hour + (moment - hour) // _HOUR // step * step * _HOUR

    def _week_of(self, moment: datetime) -> date:
        return moment.date() - timedelta(days=(moment.weekday() - self.week_start) % 7)


@lru_cache(maxsize=4096)
def plan(text: str, first: datetime) -> Plan | None:
    """The plan of a valid rule (without ``RRULE:``) first starting at ``first`` (wall clock);
    None for a rule with COUNT."""
    parts = dict(part.split("=", 1) for part in text.upper().split(";") if "=" in part)
    if "COUNT" in parts:
        return None
    frequency = parts["FREQ"]
    implied = _implied(parts, frequency, first)
    written = ";".join([text, *(f"{name}={value}" for name, value in implied.items())])
    week_start = WEEKDAYS.index(parts["WKST"]) if "WKST" in parts else calendar.firstweekday()
    return Plan(written, frequency, int(parts.get("INTERVAL", "1")), week_start,
                first.replace(microsecond=0))


def _implied(parts: dict[str, str], frequency: str, first: datetime) -> dict[str, int | str]:
    """What RFC 5545 takes from DTSTART when the rule does not say it (dateutil's defaults)."""
    implied: dict[str, int | str] = {}
    if frequency != "HOURLY" and "BYHOUR" not in parts:
        implied["BYHOUR"] = first.hour
    if "BYMINUTE" not in parts:
        implied["BYMINUTE"] = first.minute
    if "BYSECOND" not in parts:
        implied["BYSECOND"] = first.second
    if not _DAY_PARTS & parts.keys():
        if frequency == "YEARLY" and "BYMONTH" not in parts:
            implied["BYMONTH"] = first.month
        if frequency in ("YEARLY", "MONTHLY"):
            implied["BYMONTHDAY"] = first.day
        elif frequency == "WEEKLY":
            implied["BYDAY"] = WEEKDAYS[first.weekday()]
    return implied
