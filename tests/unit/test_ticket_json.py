"""The compiled ticket JSON of the hot paths is exactly what TicketSchema dumps: same keys,
same order, same values, for every kind of ticket."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from schemas.ticket_bodies import ticket_json
from schemas.tickets import TicketSchema
from service.adapters.models import Ticket, TicketApproval

NOW = datetime(2031, 3, 1, 8, 30, 15, 123456, tzinfo=timezone.utc)


def _upscale(**extra):  # type: ignore[no-untyped-def]
    fields = dict(id="t-1", type="upscale", status="pending_approval", environment_id="e-1",
                  account_id="a-1", requester_id="u-1", summary="Load test before the sale",
                  resources=[{"component": "yves", "size": "large"}, {"component": "zed", "size": "xl"}],
                  approvals_required=1, version=1, created_at=NOW, updated_at=NOW)
    fields.update(extra)
    ticket = Ticket(**fields)
    ticket.approvals = fields.get("approvals", [])
    return ticket


CASES = {
    "new upscale": lambda: _upscale(),
    "temporary upscale": lambda: _upscale(period_start=NOW + timedelta(days=1),
                                          period_end=NOW + timedelta(days=3, hours=2)),
    "drafted, approved by the policy": lambda: _upscale(drafter_id="u-9", status="approved",
                                                        approvals_required=0, approval_rule="all stage"),
    "completed with a baseline": lambda: _upscale(status="completed", baseline={"yves": "small"},
                                                  version=4, updated_at=NOW + timedelta(minutes=5)),
    "failed with a reason": lambda: _upscale(status="failed", reason="provider said no", version=3),
    "two approvals so far": lambda: _upscale(approvals_required=2, approvals=[
        TicketApproval(user_id="s-1", at=NOW), TicketApproval(user_id="s-2", at=NOW + timedelta(seconds=1))]),
    "prod change citing two tickets": lambda: _upscale(
        type="change", resources=None, change={"kind": "config", "parameters": {
            "PHP_MEMORY_LIMIT": "1G", "nested": {"a": [1, 2.5, None, True]}, "n": 3}},
        verified_on="t-0", verified_on_ids=["t-0", "t-00"]),
    "charges accepted": lambda: _upscale(charges={
        "quote": {"environment_id": "e-1", "currency": "EUR", "temporary": True, "days": 2,
                  "per_day": False, "lines": [{
                      "component": "yves", "from_size": "small", "to_size": "medium",
                      "steps": [{"size": "medium", "price_per_day": "12.00"}], "price_per_day": "12.00",
                      "days": 2, "included_days": 1, "charge": "12.00"}],
                  "charge": {"amount": "12.00", "currency": "EUR"}, "within_allowance": False,
                  "allowance": {"year": 2031, "days": 1, "used": 0, "included": 1, "left": 0},
                  "accept_charges": {"amount": "12.00", "currency": "EUR"}},
        "accepted": {"amount": "12.00", "currency": "EUR", "by": "u-1", "at": NOW.isoformat()}}),
    "another time zone": lambda: _upscale(created_at=NOW.astimezone(timezone(timedelta(hours=2)))),
}


@pytest.mark.parametrize("case", CASES)
def test_ticket_json_is_what_the_schema_dumps(case: str) -> None:
    ticket = CASES[case]()

    expected = TicketSchema().dump(ticket)

    assert json.dumps(ticket_json(ticket)) == json.dumps(expected)
    without_version = TicketSchema(exclude=("version",)).dump(ticket)  # the webhooks' ticket
    assert json.dumps(ticket_json(ticket, version=False)) == json.dumps(without_version)


def test_ticket_json_names_every_field_of_the_schema() -> None:
    # ``conflicts`` is only in the 201 of a filing, which adds it (service.api.tickets).
    assert list(ticket_json(_upscale())) == [name for name in TicketSchema().fields if name != "conflicts"]
