"""The calendar as entries: each occurrence of a window, each ticket with a time."""
from __future__ import annotations

from typing import Any

from service.app.calendar.feed import Calendar

ENDED = frozenset({"cancelled", "rejected", "expired"})


def calendar_entries(calendar: Calendar) -> list[dict[str, Any]]:
    """What GET /v1/calendar lists, by start: window occurrences inside the range, then tickets."""
    found: list[dict[str, Any]] = []
    for window, row in calendar.windows:
        same = {"kind": "window", "id": window.id, "title": window.title, "window_kind": window.kind.value,
                "ticket_id": None, "environment_id": row.scope_environment_id, "status": None,
                "type": None, "emergency": False,
                "scope": {"stage": row.scope_stage, "account_id": row.scope_account_id,
                          "environment_id": row.scope_environment_id}}
        found += [{**same, "start": start, "end": end}
                  for start, end in window.occurrences(calendar.since, calendar.until)]
    for t in calendar.tickets:
        found.append({"kind": "ticket", "id": t.id, "title": t.summary, "start": t.start, "end": t.end,
                      "window_kind": None, "ticket_id": t.id, "environment_id": t.environment_id,
                      "status": t.status, "type": t.type, "emergency": bool(t.emergency), "scope": None})
    return sorted(found, key=lambda e: (e["start"], e["kind"], e["id"]))
