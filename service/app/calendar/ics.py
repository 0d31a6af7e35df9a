"""The calendar as an RFC 5545 feed, built with the icalendar package: a window is one event
repeating by its RRULE in its own time zone (with its VTIMEZONE), a ticket with a time one event.
UIDs are stable; SEQUENCE counts changes (a window's edits, a ticket's version); a withdrawn
window and a cancelled, rejected or expired ticket are STATUS:CANCELLED."""
from __future__ import annotations

from datetime import datetime

from icalendar import Calendar as ICalendar, Event

from service.app.calendar.entries import ENDED
from service.app.calendar.feed import Calendar, TicketEntry
from service.adapters.models import ChangeWindow
from service.domain.windows import Window

PRODID = "-//envdesk//change calendar//EN"


def render_ics(calendar: Calendar, *, now: datetime, ticket_url: str) -> bytes:
    """The feed; ``ticket_url`` holds ``{id}`` for each ticket's link."""
    cal = ICalendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "envdesk change calendar")
    for window, row in calendar.windows:
        cal.add_component(_window_event(window, row, now=now))
    for ticket in calendar.tickets:
        cal.add_component(_ticket_event(ticket, url=ticket_url.format(id=ticket.id)))
    cal.add_missing_timezones()
    return cal.to_ical()


def _window_event(window: Window, row: ChangeWindow, *, now: datetime) -> Event:
    event = Event()
    event.add("uid", f"window-{window.id}@envdesk")
    event.add("sequence", row.sequence)
    event.add("dtstamp", row.updated_at or now)
    event.add("summary", f"{window.kind.value.capitalize()}: {window.title}")
    zone = window.zone
    event.add("dtstart", window.start.astimezone(zone))
    event.add("dtend", window.end.astimezone(zone))
    if window.rrule:
        event.add("rrule", _rrule(window.rrule))
    event.add("status", "CANCELLED" if row.deleted_at is not None else "CONFIRMED")
    event.add("categories", [window.kind.value])
    return event


def _rrule(text: str) -> dict[str, list[str]]:
    parts = text.strip().removeprefix("RRULE:").removeprefix("rrule:")
    rule: dict[str, list[str]] = {}
    for part in parts.split(";"):
        name, _, value = part.partition("=")
        rule[name.upper()] = value.split(",")
    return rule


def _ticket_event(ticket: TicketEntry, *, url: str) -> Event:
    event = Event()
    event.add("uid", f"ticket-{ticket.id}@envdesk")
    event.add("sequence", ticket.version)
    event.add("dtstamp", ticket.updated_at)
    flag = "EMERGENCY " if ticket.emergency else ""
    event.add("summary", f"{flag}{ticket.type} ({ticket.status}): {ticket.summary}")
    event.add("dtstart", ticket.start)
    event.add("dtend", ticket.end if ticket.end > ticket.start else ticket.start)
    event.add("status", "CANCELLED" if ticket.status in ENDED else
              "TENTATIVE" if ticket.status == "pending_approval" else "CONFIRMED")
    event.add("url", url)
    event.add("description", f"Ticket {ticket.id} on environment {ticket.environment_id}: {url}")
    return event
