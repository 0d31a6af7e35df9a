"""A ticket as TicketSchema dumps it, written out by hand for the hot paths (the 201 of a filing,
the webhook body of every status change): the same keys in the same order and the same values,
at a fraction of marshmallow's cost. tests/unit/test_ticket_json.py holds it equal to the schema
for every kind of ticket; a field added to TicketSchema must be added here too."""
from __future__ import annotations

from datetime import datetime
from typing import Any

_RESOURCE_KEYS = ("component", "size")


def ticket_json(ticket: Any, *, version: bool = True) -> dict[str, Any]:
    """``TicketSchema().dump(ticket)``; ``version=False``: ``TicketSchema(exclude=("version",))``."""
    body = {
        "id": _text(ticket.id),
        "type": _text(ticket.type),
        "status": _text(ticket.status),
        "environment_id": _text(ticket.environment_id),
        "account_id": _text(ticket.account_id),
        "requester_id": _text(ticket.requester_id),
        "drafter_id": _text(ticket.drafter_id),
        "summary": _text(ticket.summary),
        "resources": None if ticket.resources is None else [_resource(r) for r in ticket.resources],
        "period": _period(ticket),
        "change": _change(ticket.change),
        "verified_on": _text(ticket.verified_on),
        "verified_on_ids": _texts(ticket.verified_on_ids),
        "baseline": None if ticket.baseline is None else {
            str(k): _text(v) for k, v in ticket.baseline.items()},
        "reason": _text(ticket.reason),
        "approvals_required": _int(ticket.approvals_required),
        "approval_rule": _text(ticket.approval_rule),
        "approvals": [{"user_id": _text(a.user_id), "at": _instant(a.at)} for a in ticket.approvals],
        "version": _int(ticket.version),
        "created_at": _instant(ticket.created_at),
        "updated_at": _instant(ticket.updated_at),
    }
    if not version:
        del body["version"]
    return body


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _texts(values: list[Any] | None) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _resource(resource: dict[str, Any]) -> dict[str, Any]:
    return {key: _text(resource[key]) for key in _RESOURCE_KEYS if key in resource}


def _period(ticket: Any) -> dict[str, str] | None:
    if ticket.period_start is None:
        return None
    return {"start": ticket.period_start.isoformat(), "end": ticket.period_end.isoformat()}


def _change(change: dict[str, Any] | None) -> dict[str, Any] | None:
    if change is None:
        return None
    out: dict[str, Any] = {}
    if "kind" in change:
        out["kind"] = _text(change["kind"])
    if "parameters" in change:
        parameters = change["parameters"]
        out["parameters"] = None if parameters is None else {str(k): v for k, v in parameters.items()}
    return out
