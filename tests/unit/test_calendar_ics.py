"""The feed, joined from components icalendar wrote one by one (each kept per version), is the
feed one icalendar calendar of the same components gives: parsed back, the same calendar
(events, their properties, the VTIMEZONEs that icalendar adds for the zones used), and no line
longer than 75 octets."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar as ICalendar, Event

from service.app.calendar.entries import ENDED
from service.app.calendar.feed import Calendar, TicketEntry
from service.app.calendar.ics import PRODID, render_ics
from service.domain.windows import Scope, Window, WindowKind

UTC = timezone.utc
NOW = datetime(2026, 12, 7, 11, 30, 5, tzinfo=UTC)
URL = "https://desk.example/v1/tickets/{id}"


def _window(id_: str, zone: str, rrule: str | None = None, *, title: str = "Nightly patching",
            kind: WindowKind = WindowKind.MAINTENANCE, deleted: bool = False, sequence: int = 0) -> tuple[Window, Any]:
    tz = ZoneInfo(zone)
    start = datetime(2026, 3, 28, 22, tzinfo=tz)
    window = Window(id=id_, kind=kind, title=title, start=start, end=start + timedelta(hours=4),
                    timezone=zone, rrule=rrule, scope=Scope())
    row = SimpleNamespace(sequence=sequence, updated_at=None if id_ == "fresh" else NOW - timedelta(days=3),
                          deleted_at=NOW if deleted else None)
    return window, row


def _ticket(id_: str, status: str, summary: str, *, emergency: bool = False, days: int = 7) -> TicketEntry:
    start = NOW + timedelta(days=1)
    return TicketEntry(id=id_, type="upscale", status=status, summary=summary, environment_id="env-1",
                       account_id="acc-1", start=start, end=start + timedelta(days=days), emergency=emergency,
                       version=3, updated_at=NOW - timedelta(hours=1))


CALENDAR = Calendar(
    since=NOW - timedelta(days=31), until=NOW + timedelta(days=366),
    windows=[_window("berlin", "Europe/Berlin", "FREQ=DAILY"),
             _window("ny", "America/New_York", "RRULE:FREQ=WEEKLY;BYDAY=SU,MO;UNTIL=20270315T000000Z", sequence=2),
             _window("utc", "UTC", title="Black Friday; no changes, please", kind=WindowKind.FREEZE),
             _window("gone", "Etc/UTC", deleted=True), _window("fresh", "Europe/Berlin", "FREQ=MONTHLY;BYMONTHDAY=1")],
    tickets=[_ticket("t-1", "pending_approval", "Sale"), _ticket("t-2", "cancelled", "A\\B, C; D\nE"),
             _ticket("t-3", "scheduled", "Ünïcödé load test for the spring sale " * 4, emergency=True),
             _ticket("t-4", "approved", "a moment", days=0)],
)


def _reference(calendar: Calendar) -> bytes:
    """The feed built with icalendar's components."""
    cal = ICalendar()
    for name, value in (("prodid", PRODID), ("version", "2.0"), ("calscale", "GREGORIAN"),
                        ("x-wr-calname", "envdesk change calendar")):
        cal.add(name, value)
    for window, row in calendar.windows:
        event = Event()
        for name, value in (("uid", f"window-{window.id}@envdesk"), ("sequence", row.sequence),
                            ("dtstamp", row.updated_at or NOW),
                            ("summary", f"{window.kind.value.capitalize()}: {window.title}"),
                            ("dtstart", window.start.astimezone(window.zone)),
                            ("dtend", window.end.astimezone(window.zone))):
            event.add(name, value)
        if window.rrule:
            event.add("rrule", ICalendar.types_factory["recur"].from_ical(window.rrule.removeprefix("RRULE:")))
        event.add("status", "CANCELLED" if row.deleted_at is not None else "CONFIRMED")
        event.add("categories", [window.kind.value])
        cal.add_component(event)
    for t in calendar.tickets:
        event, url = Event(), URL.format(id=t.id)
        for name, value in (("uid", f"ticket-{t.id}@envdesk"), ("sequence", t.version), ("dtstamp", t.updated_at),
                            ("summary", f"{'EMERGENCY ' if t.emergency else ''}{t.type} ({t.status}): {t.summary}"),
                            ("dtstart", t.start), ("dtend", max(t.end, t.start)),
                            ("status", "CANCELLED" if t.status in ENDED else
                             "TENTATIVE" if t.status == "pending_approval" else "CONFIRMED"),
                            ("url", url), ("description", f"Ticket {t.id} on environment {t.environment_id}: {url}")):
            event.add(name, value)
        cal.add_component(event)
    cal.add_missing_timezones()
    return cal.to_ical()


def _parsed(feed: bytes) -> list[tuple[str, list[tuple[str, bytes]]]]:
    return [(c.name, sorted((k, v.to_ical() if hasattr(v, "to_ical") else str(v).encode()) for k, v in c.items()))
            for c in ICalendar.from_ical(feed).walk()]


def test_the_feed_parses_back_to_what_icalendar_components_give() -> None:
    feed = render_ics(CALENDAR, now=NOW, ticket_url=URL)
    assert sorted(_parsed(feed)) == sorted(_parsed(_reference(CALENDAR)))
    assert [c["UID"] for c in ICalendar.from_ical(feed).walk("VEVENT")] == [
        f"{kind}-{id_}@envdesk" for kind, ids in (("window", ("berlin", "ny", "utc", "gone", "fresh")),
                                                  ("ticket", ("t-1", "t-2", "t-3", "t-4"))) for id_ in ids]
    assert [c.name for c in ICalendar.from_ical(feed).walk()].count("VEVENT") == 9
    assert sorted(c["TZID"] for c in ICalendar.from_ical(feed).walk("VTIMEZONE")) == ["America/New_York", "Europe/Berlin"]


def test_every_line_of_the_feed_is_at_most_75_octets() -> None:
    feed = render_ics(CALENDAR, now=NOW, ticket_url=URL)
    assert feed.endswith(b"END:VCALENDAR\r\n")
    assert max(len(line) for line in feed.split(b"\r\n")) <= 75
    summary = next(c for c in ICalendar.from_ical(feed).walk("VEVENT") if c["UID"] == "ticket-t-3@envdesk")["SUMMARY"]
    assert summary == "EMERGENCY upscale (scheduled): " + "Ünïcödé load test for the spring sale " * 4
