"""The calendar as an RFC 5545 feed, built with the icalendar package: a window is one event
repeating by its RRULE in its own time zone (with its VTIMEZONE), a ticket with a time one
event. UIDs are stable; SEQUENCE counts changes (a window's edits, a ticket's version); a
withdrawn window and a cancelled, rejected or expired ticket are STATUS:CANCELLED.

Every component is an icalendar component written by icalendar (``to_ical``: TEXT escaped,
lines folded). A feed holds hundreds of events and every feed of every user shows the same
windows, so each event is built once per process for each version of what it shows (a window's
SEQUENCE, a ticket's version) and kept as the bytes icalendar wrote; a feed joins the calendar's
own lines and VTIMEZONEs (built once per set of zones) with its events' bytes."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar as ICalendar, Event, Timezone, vRecur
from icalendar.timezone import tzid_from_dt

from service.app.calendar.entries import ENDED
from service.app.calendar.feed import Calendar, TicketEntry
from service.domain.windows import Window

PRODID = "-//envdesk//change calendar//EN"
UTC = timezone.utc
_END = b"END:VCALENDAR\r\n"


def render_ics(calendar: Calendar, *, now: datetime, ticket_url: str) -> bytes:
    """The feed; ``ticket_url`` holds ``{id}`` for each ticket's link."""
    zones = tuple(sorted({_tzid(w.timezone) for w, _ in calendar.windows} - {None}))
    parts = [_head(zones)]  # type: ignore[arg-type]
    parts += [_window_event(window, row.sequence, row.updated_at or now, row.deleted_at is not None)
              for window, row in calendar.windows]
    parts += [_ticket_event(ticket, ticket_url.format(id=ticket.id)) for ticket in calendar.tickets]
    parts.append(_END)
    return b"".join(parts)


@lru_cache(maxsize=64)
def _head(zones: tuple[str, ...]) -> bytes:
    """The calendar's own properties and the VTIMEZONE of each of ``zones``, as icalendar writes
    them, without the closing line (the events go before it)."""
    cal = ICalendar()
    for name, value in (("prodid", PRODID), ("version", "2.0"), ("calscale", "GREGORIAN"),
                        ("x-wr-calname", "envdesk change calendar")):
        cal.add(name, value)
    for zone in zones:
        cal.add_component(Timezone.from_tzid(zone))
    written = cal.to_ical()
    if not written.endswith(_END):
        raise RuntimeError("icalendar wrote a calendar that does not end with END:VCALENDAR")
    return written[:-len(_END)]


@lru_cache(maxsize=4096)
def _window_event(window: Window, sequence: int, stamp: datetime, cancelled: bool) -> bytes:
    """A window's event; built once per process for each of its versions."""
    event = Event()
    for name, value in (("uid", f"window-{window.id}@envdesk"), ("sequence", sequence), ("dtstamp", stamp),
                        ("summary", f"{window.kind.value.capitalize()}: {window.title}"),
                        ("dtstart", _in_zone(window.start, window.timezone)),
                        ("dtend", _in_zone(window.end, window.timezone))):
        event.add(name, value)
    if window.rrule:
        event.add("rrule", vRecur.from_ical(window.rrule.strip().removeprefix("RRULE:").removeprefix("rrule:")))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("categories", [window.kind.value])
    return event.to_ical()


@lru_cache(maxsize=16384)
def _ticket_event(ticket: TicketEntry, url: str) -> bytes:
    """A ticket's event; built once per process for each of its versions (and link)."""
    flag = "EMERGENCY " if ticket.emergency else ""
    status = ("CANCELLED" if ticket.status in ENDED else
              "TENTATIVE" if ticket.status == "pending_approval" else "CONFIRMED")
    event = Event()
    for name, value in (("uid", f"ticket-{ticket.id}@envdesk"), ("sequence", ticket.version),
                        ("dtstamp", ticket.updated_at),
                        ("summary", f"{flag}{ticket.type} ({ticket.status}): {ticket.summary}"),
                        ("dtstart", ticket.start.astimezone(UTC)),
                        ("dtend", max(ticket.end, ticket.start).astimezone(UTC)), ("status", status),
                        ("url", url), ("description", f"Ticket {ticket.id} on environment {ticket.environment_id}: {url}")):
        event.add(name, value)
    return event.to_ical()


def _in_zone(moment: datetime, zone: str) -> datetime:
    """``moment`` in the window's own zone (icalendar writes its TZID), or in UTC for a zone
    icalendar writes as UTC."""
    return moment.astimezone(UTC if _tzid(zone) is None else ZoneInfo(zone))


@lru_cache(maxsize=64)
def _tzid(zone: str) -> str | None:
    """The TZID icalendar gives a time in ``zone``; None for UTC and its aliases."""
    tzid = tzid_from_dt(datetime(2000, 1, 1, tzinfo=ZoneInfo(zone)))
    return None if tzid == "UTC" else tzid
