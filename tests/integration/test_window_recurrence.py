"""A repeating window asked about long after it began (restarted near the asked time, not walked
from its first occurrence) has exactly the occurrences of the walk from its first, for every
frequency and the parts that move occurrences within a period, across DST. Only rules that
declaring a window accepts: one whose parts never meet is refused (asked of dateutil in a child
process, hence here and not among the unit tests)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings, strategies as st

from service.adapters.recurrence_probe import happens_within
from service.app.calendar.windows import RECURS_WITHIN
from service.domain.errors import RuleViolation
from service.domain.windows import Window, WindowKind, check_window
from tests.support.recurrences import rules, walked_from_the_first

ZONES = ("Europe/Berlin", "America/New_York", "UTC")
durations = st.integers(min_value=15, max_value=20 * 60).map(lambda m: timedelta(minutes=m))


@settings(max_examples=200, deadline=None)
@given(rule=rules(), zone=st.sampled_from(ZONES),
       first=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2025, 12, 31)),
       length=durations, later=st.integers(min_value=0, max_value=500 * 24),
       hours=st.integers(min_value=1, max_value=20 * 24))
def test_a_recurrence_asked_long_after_its_start_has_the_occurrences_walked_from_its_first(
        rule: str, zone: str, first: datetime, length: timedelta, later: int, hours: int) -> None:
    tz = ZoneInfo(zone)
    start = first.replace(microsecond=0, tzinfo=tz)
    window = Window(id="w", kind=WindowKind.MAINTENANCE, title="t", start=start,
                    end=(first.replace(microsecond=0) + length).replace(tzinfo=tz), timezone=zone, rrule=rule)
    try:
        check_window(window)
    except RuleViolation:
        assume(False)  # e.g. hours BYHOUR names that an INTERVAL of hours never reaches
    # As declaring a window does: a rule whose parts never meet is refused (and would be walked
    # to the year 9999 here).
    assume(happens_within(rule, first.replace(microsecond=0), zone, RECURS_WITHIN))
    if "HOURLY" in rule:
        later //= 20  # an hourly rule walked from its first occurrence is slow to check
    since = start.astimezone(UTC) + timedelta(hours=later)
    until = since + timedelta(hours=hours)
    assert window.occurrences(since, until) == walked_from_the_first(window, since, until)


