"""Tickets on the wire for the read paths that send many at once, built without marshmallow.

``ticket_body`` returns exactly what ``TicketSchema().dump`` returns for the same ticket (and
``page_body`` what ``TicketPageSchema().dump`` returns for a page): TicketSchema stays the one
description of the format — the OpenAPI document is generated from it, and
tests/unit/test_ticket_bodies.py holds the two equal, byte for byte once encoded, over every
type, status, null and period. Dumping a page of 50 through marshmallow costs more than
everything else the list does; this is a plain dict per ticket.

A ticket is anything with the ticket's attributes (a model, or a row of its columns); its
approvals are passed beside it, each with ``user_id`` and ``at``."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

RESOURCE_FIELDS = ("component", "size")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _resources(resources: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]] | None:
    """List(Nested(ResourceSchema)): each item's declared keys that it has, as text."""
    if resources is None:
        return None
    return [{name: _text(item[name]) for name in RESOURCE_FIELDS if name in item}
            for item in resources]


def _change(change: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Nested(ChangeSchema): the kind as text, the parameters with text keys and values as stored."""
    if change is None:
        return None
    body: dict[str, Any] = {}
    if "kind" in change:
        body["kind"] = _text(change["kind"])
    if "parameters" in change:
        parameters = change["parameters"]
        body["parameters"] = None if parameters is None else {
            str(key): value for key, value in parameters.items()}
    return body


def _period(ticket: Any) -> dict[str, str] | None:
    if ticket.period_start is None:
        return None
    return {"start": ticket.period_start.isoformat(), "end": ticket.period_end.isoformat()}


def ticket_body(ticket: Any, approvals: Iterable[Any]) -> dict[str, Any]:
    """TicketSchema().dump(ticket), given the ticket's approvals oldest first."""
    ids, baseline = ticket.verified_on_ids, ticket.baseline
    return {
        "id": ticket.id, "type": ticket.type, "status": ticket.status,
        "environment_id": ticket.environment_id, "account_id": ticket.account_id,
        "requester_id": ticket.requester_id, "drafter_id": ticket.drafter_id,
        "summary": ticket.summary, "resources": _resources(ticket.resources),
        "period": _period(ticket), "change": _change(ticket.change),
        "verified_on": ticket.verified_on,
        "verified_on_ids": None if ids is None else [_text(i) for i in ids],
        "baseline": None if baseline is None else {str(k): _text(v) for k, v in baseline.items()},
        "reason": ticket.reason, "approvals_required": ticket.approvals_required,
        "approval_rule": ticket.approval_rule,
        "approvals": [{"user_id": a.user_id, "at": a.at.isoformat()} for a in approvals],
        "version": ticket.version,
        "created_at": ticket.created_at.isoformat(), "updated_at": ticket.updated_at.isoformat(),
    }


def page_body(items: Iterable[tuple[Any, Iterable[Any]]], next_cursor: str | None) -> dict[str, Any]:
    """TicketPageSchema().dump(page), given (ticket, approvals) pairs."""
    return {"items": [ticket_body(ticket, approvals) for ticket, approvals in items],
            "next_cursor": next_cursor}
