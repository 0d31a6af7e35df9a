"""Tickets on the wire for the hot paths — lists, the 201 of a filing, webhook bodies — compiled
once from TicketSchema (schemas.dump), which stays the one description of the format: the OpenAPI
document is generated from it, and a field added there appears here too."""
from __future__ import annotations

from typing import Any, Iterable

from schemas.dump import compile_dump
from schemas.tickets import ConflictSchema, TicketPageSchema, TicketSchema

_TICKET = compile_dump(TicketSchema())
_WEBHOOK_TICKET = compile_dump(TicketSchema(exclude=("version",)))
_PAGE = compile_dump(TicketPageSchema())
_CONFLICT = compile_dump(ConflictSchema())


def ticket_json(ticket: Any, *, version: bool = True) -> dict[str, Any]:
    """``TicketSchema().dump(ticket)``; ``version=False``: without ``version``, as webhooks send.
    ``conflicts`` is left out unless the ticket has them (only the 201 of a filing does)."""
    return (_TICKET if version else _WEBHOOK_TICKET)(ticket)


def page_body(page: Any) -> dict[str, Any]:
    """``TicketPageSchema().dump(page)``: its items (tickets, or rows with the same attributes and
    their ``approvals``) and its ``next_cursor``."""
    return _PAGE(page)


def conflicts_json(conflicts: Iterable[Any]) -> list[dict[str, Any]]:
    """``List(Nested(ConflictSchema))`` of the calendar's conflicts (service.domain.scheduling)."""
    return [_CONFLICT(conflict) for conflict in conflicts]
