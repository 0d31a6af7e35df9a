"""Tickets on the wire for the hot paths (lists, the 201 of a filing, webhook bodies), built
without marshmallow.

``ticket_body`` returns exactly what ``TicketSchema().dump`` returns for the same ticket (and
``page_body`` what ``TicketPageSchema().dump`` returns for a page): TicketSchema stays the one
description of the format — the OpenAPI document is generated from it, and
tests/unit/test_ticket_bodies.py holds the two equal, byte for byte once encoded, over every
type, status, null and period. Dumping a page of 50 through marshmallow costs more than
everything else the list does; this is a plain dict per ticket.

A ticket comes as the values of ``FIELDS`` in that order (a row of those columns, or
``values_of`` a model): unpacking a tuple costs a fraction of 22 attribute lookups on a row.
Its approvals come beside it, each with ``user_id`` and ``at``."""
from __future__ import annotations

from operator import attrgetter
from typing import Any, Iterable, Mapping, Sequence

from service.domain.case_numbers import case_number

FIELDS = (
    "id", "type", "status", "environment_id", "account_id", "requester_id", "drafter_id", "summary",
    "resources", "period_start", "period_end", "change", "verified_on", "verified_on_ids", "baseline",
    "reason", "approvals_required", "approval_rule", "version", "created_at", "updated_at", "number", "charges",
    "apply_at", "not_before", "emergency", "emergency_reason", "load_test",
)
values_of = attrgetter(*FIELDS)
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


def ticket_body(values: Sequence[Any], approvals: Iterable[Any]) -> dict[str, Any]:
    """TicketSchema().dump(ticket), given ``values_of(ticket)`` and its approvals oldest first."""
    (id_, type_, status, environment_id, account_id, requester_id, drafter_id, summary, resources,
     period_start, period_end, change, verified_on, verified_on_ids, baseline, reason,
     approvals_required, approval_rule, version, created_at, updated_at, number, charges,
     apply_at, not_before, emergency, emergency_reason, load_test) = values
    return {
        "id": id_, "number": case_number(number), "type": type_, "status": status, "environment_id": environment_id,
        "account_id": account_id, "requester_id": requester_id, "drafter_id": drafter_id,
        "summary": summary, "resources": _resources(resources),
        "period": None if period_start is None else {
            "start": period_start.isoformat(), "end": period_end.isoformat()},
        "change": _change(change), "verified_on": verified_on,
        "verified_on_ids": None if verified_on_ids is None else [_text(i) for i in verified_on_ids],
        "baseline": None if baseline is None else {str(k): _text(v) for k, v in baseline.items()},
        "reason": reason, "approvals_required": approvals_required, "approval_rule": approval_rule,
        "approvals": [{"user_id": a.user_id, "at": a.at.isoformat()} for a in approvals],
        "charges": charges,
        "version": version, "created_at": created_at.isoformat(), "updated_at": updated_at.isoformat(),
        "apply_at": None if apply_at is None else apply_at.isoformat(),
        "not_before": None if not_before is None else not_before.isoformat(),
        "emergency": bool(emergency), "emergency_reason": emergency_reason,
        "load_test": None if load_test is None else {str(k): v for k, v in load_test.items()},
    }


def ticket_json(ticket: Any, *, version: bool = True) -> dict[str, Any]:
    """``TicketSchema().dump(ticket)`` of a model, for the 201 of a filing and the webhook body of
    every status change; ``version=False``: ``TicketSchema(exclude=("version",))``, as webhooks send."""
    body = ticket_body(values_of(ticket), ticket.approvals)
    if not version:
        del body["version"]
    return body


def page_body(items: Iterable[tuple[Any, Iterable[Any]]], next_cursor: str | None) -> dict[str, Any]:
    """TicketPageSchema().dump(page), given (ticket values, approvals) pairs."""
    return {"items": [ticket_body(values, approvals) for values, approvals in items],
            "next_cursor": next_cursor}


def conflicts_json(conflicts: Iterable[Any]) -> list[dict[str, Any]]:
    """List(Nested(ConflictSchema)) of the calendar's conflicts (service.domain.scheduling)."""
    return [{"kind": c.kind, "id": c.id, "title": c.title, "start": c.start.isoformat(),
             "end": c.end.isoformat()} for c in conflicts]
