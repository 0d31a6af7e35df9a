"""Approve, reject, cancel, retry, the audit trail and comments, through the HTTP API.

Every test runs on PostgreSQL, on PostgreSQL through PgBouncer (transaction pooling) and on SQLite
(the ``database_url`` fixture is parametrized)."""
from __future__ import annotations

import json
from typing import Any

import pytest

from service.adapters.models import Ticket
from tests.helpers import assert_problem
from tests.support.world import file_via_api

pytestmark = pytest.mark.pgbouncer


@pytest.fixture
def file_upscale(client: Any, world: Any) -> Any:
    def file(who: str = "customer_a", env: str = "customer_a_stage") -> dict[str, Any]:
        response = file_via_api(client, world, who=who, env=env)
        return response.get_json() | {"etag": response.headers["ETag"]}

    return file


def act(client: Any, world: Any, who: str, ticket_id: str, action: str, **kwargs: Any) -> Any:
    headers = world.auth(who) | kwargs.pop("headers", {})
    return client.post(f"/v1/tickets/{ticket_id}/{action}", headers=headers, **kwargs)


def ticket_as(client: Any, world: Any, who: str, ticket_id: str) -> Any:
    return client.get(f"/v1/tickets/{ticket_id}", headers=world.auth(who))


def set_status(uow_factory: Any, ticket_id: str, status: str) -> None:
    """What a worker would do when provisioning gives up."""
    with uow_factory() as uow:
        ticket = uow.session.get(Ticket, ticket_id)
        ticket.status = status
        ticket.failed_action = "apply" if status == "failed" else None
        ticket.reason = "provisioning said no" if status == "failed" else None
        uow.commit()


# --- approve -------------------------------------------------------------------------------


def test_support_approves_pending_ticket_and_gets_new_etag(client, world, file_upscale):
    ticket = file_upscale()

    response = act(client, world, "support", ticket["id"], "approve")

    assert response.status_code == 200
    assert response.get_json()["status"] == "approved"
    assert response.headers["ETag"] and response.headers["ETag"] != ticket["etag"]
    assert ticket_as(client, world, "customer_a", ticket["id"]).get_json()["status"] == "approved"


def test_approve_with_unknown_if_match_is_412_and_changes_nothing(client, world, file_upscale):
    ticket = file_upscale()
    wrong = '"' + ticket["id"] + '.999"'

    response = act(client, world, "support", ticket["id"], "approve", headers={"If-Match": wrong})

    assert_problem(response, 412, "precondition_failed")
    after = ticket_as(client, world, "support", ticket["id"])
    assert after.get_json()["status"] == "pending_approval"
    assert after.headers["ETag"] == ticket["etag"]
    events = client.get(f"/v1/tickets/{ticket['id']}/events", headers=world.auth("support")).get_json()
    assert [e["to_status"] for e in events["items"]] == ["pending_approval"]


def test_approve_with_etag_of_an_older_version_is_412(client, world, file_upscale, uow_factory):
    ticket = file_upscale()
    old_etag = ticket["etag"]
    with uow_factory() as uow:  # another writer touches the ticket: its version moves on
        uow.session.get(Ticket, ticket["id"]).summary = "load test next week, 2 days"
        uow.commit()

    response = act(client, world, "support", ticket["id"], "approve", headers={"If-Match": old_etag})

    assert_problem(response, 412, "precondition_failed")
    assert ticket_as(client, world, "support", ticket["id"]).get_json()["status"] == "pending_approval"


def test_approve_with_current_if_match_succeeds(client, world, file_upscale):
    ticket = file_upscale()
    current = ticket_as(client, world, "support", ticket["id"]).headers["ETag"]

    response = act(client, world, "support", ticket["id"], "approve", headers={"If-Match": current})

    assert response.status_code == 200
    assert response.get_json()["status"] == "approved"


def test_approving_twice_is_409_invalid_transition(client, world, file_upscale):
    ticket = file_upscale()
    assert act(client, world, "support", ticket["id"], "approve").status_code == 200

    response = act(client, world, "support_2", ticket["id"], "approve")

    assert_problem(response, 409, "invalid_transition")
    events = client.get(f"/v1/tickets/{ticket['id']}/events", headers=world.auth("support")).get_json()
    assert [e["to_status"] for e in events["items"]] == ["pending_approval", "approved"]


# --- reject --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"reason": ""}], ids=["missing", "empty"])
def test_reject_without_reason_is_422_naming_reason(client, world, file_upscale, body):
    ticket = file_upscale()

    response = act(client, world, "support", ticket["id"], "reject", json=body)

    problem = assert_problem(response, 422)
    assert "reason" in problem["errors"]
    assert ticket_as(client, world, "support", ticket["id"]).get_json()["status"] == "pending_approval"


def test_reject_stores_reason_and_rejected_ticket_cannot_be_approved(client, world, file_upscale):
    ticket = file_upscale()

    response = act(client, world, "support", ticket["id"], "reject",
                   json={"reason": "stage is already at its contractual maximum"})

    assert response.status_code == 200
    assert response.get_json()["status"] == "rejected"
    seen = ticket_as(client, world, "customer_a", ticket["id"]).get_json()
    assert seen["reason"] == "stage is already at its contractual maximum"
    assert_problem(act(client, world, "support", ticket["id"], "approve"), 409, "invalid_transition")
    assert ticket_as(client, world, "support", ticket["id"]).get_json()["status"] == "rejected"


# --- cancel --------------------------------------------------------------------------------


def test_customer_cancels_own_pending_ticket(client, world, file_upscale):
    ticket = file_upscale()

    response = act(client, world, "customer_a", ticket["id"], "cancel")

    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    assert ticket_as(client, world, "support", ticket["id"]).get_json()["status"] == "cancelled"


def test_customer_cannot_cancel_after_approval(client, world, file_upscale):
    ticket = file_upscale()
    act(client, world, "support", ticket["id"], "approve")

    response = act(client, world, "customer_a", ticket["id"], "cancel")

    assert_problem(response, 409, "invalid_transition")
    assert ticket_as(client, world, "customer_a", ticket["id"]).get_json()["status"] == "approved"


@pytest.mark.parametrize("who", ["customer_b", "partner_unlinked"])
def test_other_tenants_get_404_on_cancel(client, world, file_upscale, who):
    ticket = file_upscale()

    assert_problem(act(client, world, who, ticket["id"], "cancel"), 404)
    assert ticket_as(client, world, "customer_a", ticket["id"]).get_json()["status"] == "pending_approval"


@pytest.mark.parametrize("who", ["partner_linked", "support"])
def test_only_the_customer_may_cancel(client, world, file_upscale, who):
    ticket = file_upscale()

    assert_problem(act(client, world, who, ticket["id"], "cancel"), 403)
    assert ticket_as(client, world, "customer_a", ticket["id"]).get_json()["status"] == "pending_approval"


# --- staff-only actions --------------------------------------------------------------------


@pytest.mark.parametrize("action", ["approve", "reject", "retry"])
@pytest.mark.parametrize("who", ["customer_a", "partner_linked"])
def test_customer_and_partner_who_see_ticket_get_403_support_only(client, world, file_upscale,
                                                                 who, action):
    ticket = file_upscale()
    body = {"reason": "no"} if action == "reject" else None

    assert_problem(act(client, world, who, ticket["id"], action, json=body), 403, "support_only")
    assert ticket_as(client, world, "support", ticket["id"]).get_json()["status"] == "pending_approval"


@pytest.mark.parametrize("action", ["approve", "reject", "retry"])
@pytest.mark.parametrize("who", ["customer_b", "partner_unlinked"])
def test_customer_and_partner_who_cannot_see_ticket_get_404(client, world, file_upscale, who, action):
    ticket = file_upscale()
    body = {"reason": "no"} if action == "reject" else None

    assert_problem(act(client, world, who, ticket["id"], action, json=body), 404)
    assert ticket_as(client, world, "support", ticket["id"]).get_json()["status"] == "pending_approval"


# --- retry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("before", ["pending_approval", "approved", "rejected"])
def test_retry_of_a_ticket_that_has_not_failed_is_409(client, world, file_upscale, before):
    ticket = file_upscale()
    if before == "approved":
        act(client, world, "support", ticket["id"], "approve")
    elif before == "rejected":
        act(client, world, "support", ticket["id"], "reject", json={"reason": "no"})

    assert_problem(act(client, world, "support", ticket["id"], "retry"), 409, "invalid_transition")
    assert ticket_as(client, world, "support", ticket["id"]).get_json()["status"] == before


def test_retry_of_failed_ticket_approves_it_again_and_is_audited(client, world, file_upscale,
                                                                uow_factory):
    ticket = file_upscale()
    act(client, world, "support", ticket["id"], "approve")
    set_status(uow_factory, ticket["id"], "failed")

    response = act(client, world, "support", ticket["id"], "retry")

    assert response.status_code == 200
    assert response.get_json()["status"] == "approved"
    assert response.get_json()["reason"] is None
    events = client.get(f"/v1/tickets/{ticket['id']}/events",
                        headers=world.auth("customer_a")).get_json()["items"]
    last = events[-1]
    assert (last["from_status"], last["to_status"]) == ("failed", "approved")
    assert last["actor_id"] == world.users["support"]


# --- events --------------------------------------------------------------------------------


def test_events_record_each_transition_oldest_first(client, world, file_upscale):
    ticket = file_upscale()
    act(client, world, "support", ticket["id"], "reject", json={"reason": "budget not approved"})

    response = client.get(f"/v1/tickets/{ticket['id']}/events", headers=world.auth("customer_a"))

    assert response.status_code == 200
    events = response.get_json()["items"]
    assert response.get_json()["next_cursor"] is None
    assert [(e["from_status"], e["to_status"]) for e in events] == [
        (None, "pending_approval"), ("pending_approval", "rejected")]
    assert [e["actor_id"] for e in events] == [world.users["customer_a"], world.users["support"]]
    assert events[1]["reason"] == "budget not approved"
    assert all(e["at"] for e in events)
    assert events[0]["at"] <= events[1]["at"]


def test_events_of_another_tenants_ticket_are_404(client, world, file_upscale):
    ticket = file_upscale()

    for who in ("customer_b", "partner_unlinked"):
        assert_problem(client.get(f"/v1/tickets/{ticket['id']}/events", headers=world.auth(who)), 404)
    assert client.get(f"/v1/tickets/{ticket['id']}/events",
                      headers=world.auth("partner_linked")).status_code == 200


# --- comments ------------------------------------------------------------------------------


def comments_as(client: Any, world: Any, who: str, ticket_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/tickets/{ticket_id}/comments", headers=world.auth(who))
    assert response.status_code == 200
    return response.get_json()["items"]


def test_customer_partner_and_support_comment_and_read_the_conversation(client, world, file_upscale):
    ticket = file_upscale()
    for who in ("customer_a", "partner_linked", "support"):
        response = client.post(f"/v1/tickets/{ticket['id']}/comments",
                               json={"body": f"hello from {who}"}, headers=world.auth(who))
        assert response.status_code == 201
        assert response.get_json()["author_id"] == world.users[who]
        assert response.get_json()["internal"] is False

    for who in ("customer_a", "partner_linked", "support"):
        assert [c["body"] for c in comments_as(client, world, who, ticket["id"])] == [
            "hello from customer_a", "hello from partner_linked", "hello from support"]


def test_internal_note_is_visible_to_support_only(client, world, file_upscale):
    ticket = file_upscale()
    client.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "public"},
                headers=world.auth("customer_a"))
    note = client.post(f"/v1/tickets/{ticket['id']}/comments",
                       json={"body": "customer is on the legacy plan", "internal": True},
                       headers=world.auth("support"))
    assert note.status_code == 201
    assert note.get_json()["internal"] is True

    assert [c["body"] for c in comments_as(client, world, "support_2", ticket["id"])] == [
        "public", "customer is on the legacy plan"]
    for who in ("customer_a", "partner_linked"):
        assert [c["body"] for c in comments_as(client, world, who, ticket["id"])] == ["public"]


@pytest.mark.parametrize("who", ["customer_a", "partner_linked"])
def test_customer_or_partner_posting_internal_note_is_403(client, world, file_upscale, who):
    ticket = file_upscale()

    response = client.post(f"/v1/tickets/{ticket['id']}/comments",
                           json={"body": "psst", "internal": True}, headers=world.auth(who))

    assert_problem(response, 403, "support_only")
    assert comments_as(client, world, "support", ticket["id"]) == []


@pytest.mark.parametrize("who", ["customer_b", "partner_unlinked"])
def test_other_tenants_cannot_read_or_post_comments(client, world, file_upscale, who):
    ticket = file_upscale()

    assert_problem(client.get(f"/v1/tickets/{ticket['id']}/comments", headers=world.auth(who)), 404)
    assert_problem(client.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "hi"},
                               headers=world.auth(who)), 404)
    assert comments_as(client, world, "support", ticket["id"]) == []


# --- ETag ----------------------------------------------------------------------------------


def test_get_ticket_returns_the_etag_of_the_last_change(client, world, file_upscale):
    ticket = file_upscale()
    assert ticket_as(client, world, "customer_a", ticket["id"]).headers["ETag"] == ticket["etag"]

    approved = act(client, world, "support", ticket["id"], "approve")

    for who in ("customer_a", "partner_linked", "support"):
        assert ticket_as(client, world, who, ticket["id"]).headers["ETag"] == approved.headers["ETag"]


def test_the_longest_comment_fits_the_body_limit_even_fully_escaped(client, world, file_upscale):
    ticket = file_upscale()
    body = json.dumps({"body": "\U0001F600" * 10_000})  # 12 bytes of JSON per character

    response = client.post(f"/v1/tickets/{ticket['id']}/comments", data=body,
                           headers={**world.auth("customer_a"), "Content-Type": "application/json"})

    assert response.status_code == 201, response.get_data(as_text=True)[:200]
    assert response.get_json()["body"] == "\U0001F600" * 10_000
