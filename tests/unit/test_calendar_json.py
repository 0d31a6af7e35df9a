"""The calendar's JSON, compiled from CalendarSchema, is exactly what the schema dumps: same keys,
same values, for window occurrences (every scope) and tickets of every kind of time."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from schemas.calendar import CalendarSchema, calendar_body

UTC = timezone.utc
NOW = datetime(2031, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


def _window(scope: dict[str, str | None], **extra: object) -> dict[str, object]:
    entry = {"kind": "window", "id": "w-1", "title": "Nightly patching", "start": NOW, "end": NOW + timedelta(hours=4),
             "window_kind": "maintenance", "ticket_id": None, "environment_id": scope.get("environment_id"),
             "status": None, "type": None, "emergency": False, "scope": scope}
    return entry | extra


def _ticket(**extra: object) -> dict[str, object]:
    entry = {"kind": "ticket", "id": "t-1", "title": "Sale \"load\" test — ü", "start": NOW, "end": NOW,
             "window_kind": None, "ticket_id": "t-1", "environment_id": "e-1", "status": "scheduled",
             "type": "upscale", "emergency": False, "scope": None}
    return entry | extra


ENTRIES = [
    _window({"stage": None, "account_id": None, "environment_id": None}),
    _window({"stage": "prod", "account_id": None, "environment_id": None}, window_kind="freeze"),
    _window({"stage": None, "account_id": "a-1", "environment_id": "e-2"}, id="w-2"),
    _window({"stage": None, "account_id": None, "environment_id": None},
            start=datetime(2031, 3, 30, 1, 0, tzinfo=ZoneInfo("Europe/Berlin")), end=datetime(2031, 3, 30, 4, tzinfo=UTC)),
    _ticket(),
    _ticket(id="t-2", ticket_id="t-2", end=NOW + timedelta(days=7), status="cancelled", emergency=True,
            type="load_test"),
]


def test_the_calendar_json_is_what_the_schema_dumps() -> None:
    since, until = NOW - timedelta(days=30), NOW.astimezone(ZoneInfo("America/New_York"))
    built = calendar_body(since, until, ENTRIES)
    dumped = CalendarSchema().dump({"from_": since, "to": until, "items": ENTRIES})
    assert json.dumps(built, sort_keys=True) == json.dumps(dumped, sort_keys=True)
    assert built["items"][3]["start"] == "2031-03-30T01:00:00+01:00"


def test_an_empty_calendar_is_what_the_schema_dumps() -> None:
    built = calendar_body(NOW, NOW + timedelta(days=1), [])
    assert built == CalendarSchema().dump({"from_": NOW, "to": NOW + timedelta(days=1), "items": []})
