"""What the audit trail and the portal learn from an action: its reason, who made it (a person
or a named part of the system), reject's If-Match, and comment webhooks (never internal notes).

Every test runs on PostgreSQL and on SQLite (the ``database_url`` fixture is parametrized)."""
from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from service.api import create_app
from service.api.runtime import build_runtime
from service.adapters.models import WebhookDelivery
from service.app.notify.outbox import WebhookOutbox, address_new_events
from tests.helpers import assert_problem, upscale_body


@pytest.fixture
def hooked_client(settings: Any) -> Any:
    """The API as production wires it: every status change and comment goes to the outbox."""
    app = create_app(settings, build_runtime(settings, listener=WebhookOutbox()))
    app.config["TESTING"] = True
    return app.test_client()


def _file(client: Any, world: Any) -> str:
    response = client.post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"]),
                           headers=world.auth("customer_a"))
    assert response.status_code == 201
    return response.get_json()["id"]


def _events(client: Any, world: Any, ticket_id: str) -> list[dict[str, Any]]:
    return client.get(f"/v1/tickets/{ticket_id}/events", headers=world.auth("customer_a")).get_json()["items"]


@pytest.mark.parametrize("action,who", [("approve", "support"), ("cancel", "customer_a")])
def test_an_actions_reason_is_kept_on_its_event_with_its_actor(client, world, action, who):
    ticket_id = _file(client, world)

    response = client.post(f"/v1/tickets/{ticket_id}/{action}", json={"reason": "agreed on the phone"},
                           headers=world.auth(who))

    assert response.status_code == 200, response.get_json()
    event = _events(client, world, ticket_id)[-1]
    assert event["reason"] == "agreed on the phone"
    assert event["actor"] == {"kind": "user", "id": world.users[who]}
    assert event["actor_id"] == world.users[who]


def test_an_action_without_a_body_has_no_reason(client, world):
    ticket_id = _file(client, world)

    assert client.post(f"/v1/tickets/{ticket_id}/approve", headers=world.auth("support")).status_code == 200

    assert _events(client, world, ticket_id)[-1]["reason"] is None


@pytest.mark.parametrize("body", [{}, {"reason": ""}, None, {"reason": "   "}, {"reason": "\u001f\t"},
                                  {"reason": "\ufeff\u00a0"}])
def test_reject_without_a_reason_is_refused_and_changes_nothing(client, world, body):
    ticket_id = _file(client, world)

    response = client.post(f"/v1/tickets/{ticket_id}/reject", json=body, headers=world.auth("support"))

    problem = assert_problem(response, 422)
    assert "reason" in problem["errors"]
    assert [e["to_status"] for e in _events(client, world, ticket_id)] == ["pending_approval"]


@pytest.mark.parametrize("action", ["approve", "cancel", "retry"])
def test_an_unknown_field_in_an_action_body_is_named(client, world, action):
    ticket_id = _file(client, world)

    response = client.post(f"/v1/tickets/{ticket_id}/{action}", json={"reson": "typo"},
                           headers=world.auth("customer_a" if action == "cancel" else "support"))

    assert "reson" in assert_problem(response, 422)["errors"]


def test_reject_honours_if_match(client, world):
    ticket_id = _file(client, world)
    stale = client.get(f"/v1/tickets/{ticket_id}", headers=world.auth("support")).headers["ETag"]
    client.post(f"/v1/tickets/{ticket_id}/comments", json={"body": "hm"}, headers=world.auth("support"))
    assert client.post(f"/v1/tickets/{ticket_id}/approve", json={"reason": "fine"},
                       headers=world.auth("support_2") | {"If-Match": stale}).status_code == 200

    response = client.post(f"/v1/tickets/{ticket_id}/reject", json={"reason": "no"},
                           headers=world.auth("support") | {"If-Match": stale})

    assert_problem(response, 412, "precondition_failed")


def test_reject_with_the_current_etag_succeeds(client, world):
    ticket_id = _file(client, world)
    etag = client.get(f"/v1/tickets/{ticket_id}", headers=world.auth("support")).headers["ETag"]

    response = client.post(f"/v1/tickets/{ticket_id}/reject", json={"reason": "no"},
                           headers=world.auth("support") | {"If-Match": etag})

    assert response.status_code == 200 and response.get_json()["status"] == "rejected"
    assert response.get_json()["reason"] == "no"


def _outbox(uow_factory: Any) -> list[dict[str, Any]]:
    address_new_events(uow_factory(), ["https://portal.example/hooks"])
    with uow_factory() as uow:
        return [json.loads(d.body) for d in uow.session.scalars(
            select(WebhookDelivery).order_by(WebhookDelivery.created_at))]


def test_a_comment_reaches_the_portal_but_an_internal_note_never_does(hooked_client, world, uow_factory):
    ticket_id = _file(hooked_client, world)

    for who, body, internal in (("customer_a", "any news?", False), ("support", "VIP, be quick", True),
                                ("support", "on it", False)):
        response = hooked_client.post(f"/v1/tickets/{ticket_id}/comments",
                                      json={"body": body, "internal": internal}, headers=world.auth(who))
        assert response.status_code == 201

    comments = [e for e in _outbox(uow_factory) if e["event"] == "comment.created"]
    assert [c["comment"]["body"] for c in comments] == ["any news?", "on it"]
    assert all(c["ticket"]["id"] == ticket_id and not c["comment"]["internal"] for c in comments)


def test_status_events_made_by_the_api_reach_receivers_the_worker_knows(hooked_client, world,
                                                                         uow_factory):
    """The API needs no WEBHOOK_URLS: whichever process moves a ticket records the event, and
    the worker addresses it to its own receivers."""
    ticket_id = _file(hooked_client, world)
    hooked_client.post(f"/v1/tickets/{ticket_id}/approve", json={"reason": "budget agreed"},
                       headers=world.auth("support"))

    events = _outbox(uow_factory)
    assert [e["event"] for e in events] == ["ticket.created", "ticket.approved"]
    assert events[1]["actor"] == {"kind": "user", "id": world.users["support"]}
    assert events[1]["reason"] == "budget agreed"
