"""The calendar as an RFC 5545 feed: a window is one event repeating by its RRULE in its own time
zone (with its VTIMEZONE), a ticket with a time one event. UIDs are stable; SEQUENCE counts
changes (a window's edits, a ticket's version); a withdrawn window and a cancelled, rejected or
expired ticket are STATUS:CANCELLED.

A feed holds hundreds of events and is read often, so each event is written as content lines
straight from its values (TEXT escaped, lines folded at 75 octets), not built as an icalendar
component: what is per zone or per rule (the VTIMEZONE, the RRULE as icalendar writes it, the
zone's TZID) comes from the icalendar package, once per process. A test holds the feed to the
one icalendar's components give."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, vRecur
from icalendar.timezone import tzid_from_dt

from service.app.calendar.entries import ENDED
from service.app.calendar.feed import Calendar, TicketEntry
from service.domain.windows import Window

PRODID = "-//envdesk//change calendar//EN"
UTC = timezone.utc
_HEAD = ("BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN",
         "X-WR-CALNAME:envdesk change calendar")


def render_ics(calendar: Calendar, *, now: datetime, ticket_url: str) -> bytes:
    """The feed; ``ticket_url`` holds ``{id}`` for each ticket's link."""
    lines = list(_HEAD)
    zones = sorted({_tzid(w.timezone) for w, _ in calendar.windows} - {None})
    lines += [_vtimezone(zone) for zone in zones]  # type: ignore[arg-type]
    lines += [_window_event(window, row.sequence, row.updated_at or now, row.deleted_at is not None)
              for window, row in calendar.windows]
    for ticket in calendar.tickets:
        lines += _ticket_event(ticket, url=ticket_url.format(id=ticket.id))
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()


@lru_cache(maxsize=4096)
def _window_event(window: Window, sequence: int, stamp: datetime, cancelled: bool) -> str:
    """A window's event, its lines folded; written once per process for each of its versions
    (every feed of every user shows the same windows)."""
    zone = window.timezone
    lines = ["BEGIN:VEVENT", f"SUMMARY:{_text(f'{window.kind.value.capitalize()}: {window.title}')}",
             f"DTSTART{_local(window.start, zone)}", f"DTEND{_local(window.end, zone)}",
             f"DTSTAMP:{_utc(stamp)}", f"UID:{_text(f'window-{window.id}@envdesk')}", f"SEQUENCE:{sequence}"]
    if window.rrule:
        lines.append(f"RRULE:{_rrule(window.rrule)}")
    lines += [f"CATEGORIES:{_text(window.kind.value)}", f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
              "END:VEVENT"]
    return "\r\n".join(_fold(line) for line in lines)


def _ticket_event(ticket: TicketEntry, *, url: str) -> list[str]:
    flag = "EMERGENCY " if ticket.emergency else ""
    status = ("CANCELLED" if ticket.status in ENDED else
              "TENTATIVE" if ticket.status == "pending_approval" else "CONFIRMED")
    end = ticket.end if ticket.end > ticket.start else ticket.start
    return ["BEGIN:VEVENT", f"SUMMARY:{_text(f'{flag}{ticket.type} ({ticket.status}): {ticket.summary}')}",
            f"DTSTART:{_utc(ticket.start)}", f"DTEND:{_utc(end)}", f"DTSTAMP:{_utc(ticket.updated_at)}",
            f"UID:{_text(f'ticket-{ticket.id}@envdesk')}", f"SEQUENCE:{ticket.version}",
            f"DESCRIPTION:{_text(f'Ticket {ticket.id} on environment {ticket.environment_id}: {url}')}",
            f"STATUS:{status}", f"URL:{url}", "END:VEVENT"]


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _local(moment: datetime, zone: str) -> str:
    """``;TZID=zone:local time``, or ``:UTC time Z`` for a zone icalendar writes as UTC."""
    tzid = _tzid(zone)
    if tzid is None:
        return f":{_utc(moment)}"
    return f";TZID={tzid}:{moment.astimezone(ZoneInfo(zone)).strftime('%Y%m%dT%H%M%S')}"


@lru_cache(maxsize=64)
def _tzid(zone: str) -> str | None:
    """The TZID icalendar gives a time in ``zone``; None for UTC and its aliases."""
    tzid = tzid_from_dt(datetime(2000, 1, 1, tzinfo=ZoneInfo(zone)))
    return None if tzid == "UTC" else tzid


@lru_cache(maxsize=64)
def _vtimezone(tzid: str) -> str:
    """The zone's VTIMEZONE as icalendar writes it (its content lines, folded)."""
    return Timezone.from_tzid(tzid).to_ical().decode().rstrip("\r\n")


@lru_cache(maxsize=1024)
def _rrule(text: str) -> str:
    return vRecur.from_ical(text.strip().removeprefix("RRULE:").removeprefix("rrule:")).to_ical().decode()


def _text(value: str) -> str:
    """An RFC 5545 TEXT value (section 3.3.11)."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def _fold(line: str) -> str:
    """Content lines of at most 75 octets (section 3.1): longer ones go on in lines starting
    with a space, never splitting a character. Several lines at once (a VTIMEZONE, an event)
    come folded already."""
    if len(line) < 75 and line.isascii():
        return line
    if "\r\n" in line:  # a VTIMEZONE or an event, folded already
        return line
    parts, current, size = [], [], 0
    for char in line:
        width = len(char.encode())
        if current and size + width > 74:
            parts.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)
