"""Whether a recurrence rule ever happens, asked of dateutil in a process of its own.

dateutil walks a rule period by period until one yields an occurrence, and a rule whose parts
never meet (``FREQ=MONTHLY;BYMONTHDAY=-1;BYSETPOS=2``, ``FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30``)
yields none: it walks on to the year 9999, for seconds or minutes, and nothing in its public API
stops it earlier (``UNTIL`` is compared with occurrences only). Every filing and calendar read
expands the windows, so such a rule must be refused when the window is declared. Deciding that
from the rule's parts alone would take a second implementation of RFC 5545; instead a child
process asks dateutil for the first occurrence and is stopped after ``timeout`` seconds: a rule
that happens answers in milliseconds."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

_ASK = """
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from dateutil.rrule import rrulestr
text, start, zone, days = sys.argv[1:5]
first = datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(zone))
found = rrulestr(text, dtstart=first).after(first, inc=True)
print("yes" if found is not None and found <= first + timedelta(days=int(days)) else "no")
"""


def happens_within(rule: str, first: datetime, zone: str, within: timedelta, *, timeout: float = 3.0) -> bool:
    """Whether ``rule``, starting at ``first`` (wall-clock time in ``zone``), has an occurrence
    within ``within`` of it. False as well when dateutil finds none before ``timeout`` seconds."""
    try:
        answer = subprocess.run(
            [sys.executable, "-c", _ASK, rule, first.replace(tzinfo=None).isoformat(), zone,
             str(within.days)], capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return False
    return answer.stdout.strip() == "yes"
