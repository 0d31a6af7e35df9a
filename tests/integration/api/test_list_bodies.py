"""A listed ticket reads exactly as the ticket itself (GET /v1/tickets/{id}, TicketSchema), byte
for byte, for tickets of every shape stored in the database: the list builds its bodies without
marshmallow. Runs on PostgreSQL and on SQLite."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from service.domain.lifecycle import Status
from service.adapters.models import Environment, Ticket, TicketApproval
from tests.helpers import utc

AT = utc(2031, 3, 1, 8, 0)
UNICODE = "Früh­jahrs­verkauf — 東京 🚀 \"quoted\" \\ \u2028"
CHANGE = {"kind": "config", "parameters": {"PHP_MEMORY_LIMIT": "1G", "list": [1, 2.5, None, True]}}
SHAPES: list[dict[str, Any]] = [
    *({"status": status.value} for status in Status),
    {"type": "change", "resources": None, "change": CHANGE, "verified_on": "v-1",
     "verified_on_ids": ["v-1", "v-2"], "approvals_required": 2, "approval_rule": UNICODE},
    {"period_start": AT, "period_end": AT + timedelta(days=2, microseconds=5)},
    {"summary": UNICODE, "reason": UNICODE, "status": "rejected"},
    {"baseline": {"yves": "small"}, "status": "completed"},
    {"approvals": 2, "approvals_required": 2, "status": "approved"},
    {"approvals": 1, "status": "pending_approval", "approvals_required": 2},
]


def store_shapes(uow_factory: Any, world: Any) -> None:
    """One ticket of each shape for customer A, each on an environment of its own, a minute apart."""
    with uow_factory() as uow:
        for n, shape in enumerate(SHAPES):
            shape = dict(shape)
            env = Environment(account_id=world.accounts["customer_a"], name=f"shape-{n}", stage="stage",
                              sizes={"yves": "medium"})
            uow.session.add(env)
            uow.session.flush()
            given = shape.pop("approvals", 0)
            created = AT + timedelta(minutes=n, microseconds=n)
            ticket = Ticket(**{
                "type": "upscale", "status": "pending_approval", "environment_id": env.id,
                "account_id": world.accounts["customer_a"], "requester_id": world.users["customer_a"],
                "summary": f"shape {n}", "resources": [{"component": "yves", "size": "large"}],
                "created_at": created, "updated_at": created + timedelta(seconds=1), **shape})
            ticket.approvals = [TicketApproval(user_id=world.users[who], at=created + timedelta(hours=h))
                                for h, who in ((2, "support_2"), (1, "support"))[2 - given:]]
            uow.session.add(ticket)
        uow.commit()


def test_every_listed_ticket_reads_exactly_as_the_ticket_itself(client, world, uow_factory):
    store_shapes(uow_factory, world)
    for who in ("customer_a", "support"):
        listed = client.get("/v1/tickets?limit=200", headers=world.auth(who))
        assert listed.status_code == 200
        items = listed.get_json()["items"]
        assert len(items) == len(SHAPES)
        for item in items:
            alone = client.get(f"/v1/tickets/{item['id']}", headers=world.auth(who))
            assert compact(item) == alone.get_data(), item["summary"]


def test_approvals_are_listed_oldest_first(client, world, uow_factory):
    store_shapes(uow_factory, world)
    items = client.get("/v1/tickets?limit=200", headers=world.auth("support")).get_json()["items"]
    approved = next(item for item in items if item["approvals_required"] == 2 and item["status"] == "approved")
    assert [a["user_id"] for a in approved["approvals"]] == [world.users["support"], world.users["support_2"]]


def compact(item: dict[str, Any]) -> bytes:
    """An item of the list as the API sends one ticket (sorted keys, UTF-8, compact, newline)."""
    return (json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
