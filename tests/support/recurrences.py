"""Recurrence rules for property tests, and their occurrences walked from the very first one
(what a window's occurrences must equal however late they are asked)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from hypothesis import strategies as st

from service.domain.windows import Window

FREQS = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@st.composite
def rules(draw: st.DrawFn) -> str:
    """RRULE values of every frequency with the parts that move occurrences within a period."""
    freq = draw(st.sampled_from(FREQS))
    parts = [f"FREQ={freq}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(min_value=2, max_value=5))}")
    if draw(st.booleans()):
        parts.append("BYDAY=" + ",".join(draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=3, unique=True))))
    if freq in ("MONTHLY", "YEARLY") and draw(st.booleans()):
        parts.append(f"BYMONTHDAY={draw(st.sampled_from((1, 15, 29, 31, -1)))}")
    if freq == "YEARLY" and draw(st.booleans()):
        parts.append(f"BYMONTH={draw(st.sampled_from((2, 3, 10, 11)))}")
    if freq != "DAILY" and draw(st.booleans()):
        parts.append("BYHOUR=" + ",".join(map(str, draw(st.lists(st.integers(0, 23), min_size=1, max_size=2, unique=True)))))
    if any(p.startswith(("BYDAY", "BYMONTHDAY")) for p in parts) and draw(st.booleans()):
        parts.append(f"BYSETPOS={draw(st.sampled_from((1, -1, 2)))}")
    if draw(st.booleans()):
        parts.append(f"WKST={draw(st.sampled_from(DAYS))}")
    if draw(st.booleans()):
        parts.append("UNTIL=20270315T000000Z")
    return ";".join(parts)


def walked_from_the_first(window: Window, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """The occurrences overlapping [since, until), walking the rule from its very first one."""
    tz = ZoneInfo(window.timezone)
    first = window.start.astimezone(tz).replace(tzinfo=None)
    wall = window.end.astimezone(tz).replace(tzinfo=None) - first
    found = []
    for begins in rrulestr(window.rrule, dtstart=first.replace(tzinfo=tz)):
        start = begins.astimezone(UTC)
        end = (begins.replace(tzinfo=None) + wall).replace(tzinfo=tz).astimezone(UTC)
        end = end if end > start else start + wall
        if start >= until + timedelta(days=2):
            break
        if start < until and end > since:
            found.append((start, end))
    return found


