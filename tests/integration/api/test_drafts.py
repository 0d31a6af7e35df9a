"""Partner drafts through the HTTP API, on PostgreSQL and on SQLite."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.helpers import assert_problem, change_body, upscale_body


def draft(client: Any, world: Any, body: dict[str, Any], who: str = "partner_linked") -> Any:
    return client.post("/v1/drafts", json=body, headers=world.auth(who))


def submit(client: Any, world: Any, draft_id: str, who: str = "customer_a") -> Any:
    return client.post(f"/v1/drafts/{draft_id}/submit", headers=world.auth(who))


def tickets(client: Any, world: Any) -> list[dict[str, Any]]:
    return client.get("/v1/tickets", headers=world.auth("support")).get_json()["items"]


def test_a_linked_partner_drafts_and_the_customer_files_it(client, world) -> None:
    start = datetime.now(timezone.utc) + timedelta(days=3)
    period = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    response = draft(client, world, upscale_body(world.envs["customer_a_stage"], period=period))

    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert response.headers["Location"].endswith(f"/v1/drafts/{made['id']}")
    assert (made["status"], made["ticket_id"], made["drafter_id"]) == (
        "open", None, world.users["partner_linked"])
    assert made["account_id"] == world.accounts["customer_a"]
    assert made["request"]["resources"] == [{"component": "yves", "size": "large"}]
    assert tickets(client, world) == []  # a draft files nothing

    filed = submit(client, world, made["id"])
    assert filed.status_code == 201, filed.get_json()
    ticket = filed.get_json()
    assert ticket["status"] == "pending_approval"
    assert ticket["requester_id"] == world.users["customer_a"]
    assert ticket["drafter_id"] == world.users["partner_linked"]
    assert datetime.fromisoformat(ticket["period"]["start"]) == start
    assert filed.headers["Location"].endswith(f"/v1/tickets/{ticket['id']}")
    trail = client.get(f"/v1/tickets/{ticket['id']}/events", headers=world.auth("customer_a")).get_json()
    assert trail["items"][0]["actor_id"] == world.users["customer_a"]
    assert f"draft prepared by user {world.users['partner_linked']}" in trail["items"][0]["reason"]
    after = client.get(f"/v1/drafts/{made['id']}", headers=world.auth("partner_linked")).get_json()
    assert (after["status"], after["ticket_id"], after["submitted_by"]) == (
        "submitted", ticket["id"], world.users["customer_a"])


def test_submitting_twice_returns_the_same_ticket(client, world) -> None:
    made = draft(client, world, upscale_body(world.envs["customer_a_stage"])).get_json()
    first, second = submit(client, world, made["id"]), submit(client, world, made["id"])
    assert first.get_json()["id"] == second.get_json()["id"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(tickets(client, world)) == 1


def test_submitting_runs_every_filing_rule_then(client, world) -> None:
    open_ticket = client.post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"]),
                              headers=world.auth("customer_a")).get_json()
    made = draft(client, world, upscale_body(world.envs["customer_a_stage"])).get_json()
    assert_problem(submit(client, world, made["id"]), 409, "duplicate_open_request")

    prod = draft(client, world, change_body(world.envs["customer_a_prod"])).get_json()
    assert_problem(submit(client, world, prod["id"]), 422, "prod_requires_staging_verification")
    dev = draft(client, world, upscale_body(world.envs["customer_a_dev"])).get_json()
    assert_problem(submit(client, world, dev["id"]), 422, "dev_not_scalable")
    assert [t["id"] for t in tickets(client, world)] == [open_ticket["id"]]
    still = client.get(f"/v1/drafts/{dev['id']}", headers=world.auth("customer_a")).get_json()
    assert still["status"] == "open"


def test_the_drafting_partner_may_not_submit(client, world) -> None:
    made = draft(client, world, upscale_body(world.envs["customer_a_stage"])).get_json()
    body = assert_problem(submit(client, world, made["id"], who="partner_linked"), 403, "customer_only")
    assert "customer" in body["detail"]
    assert tickets(client, world) == []


def test_an_unlinked_partner_cannot_draft_for_a_customer(client, world) -> None:
    response = draft(client, world, upscale_body(world.envs["customer_a_stage"]), who="partner_unlinked")
    body = assert_problem(response, 404, "not_found")
    assert body["errors"] == {"environment_id": ["no such environment"]}


def test_drafts_are_seen_by_the_customer_and_the_drafting_partner_only(client, world) -> None:
    made = draft(client, world, upscale_body(world.envs["customer_a_stage"])).get_json()
    for who, count in (("customer_a", 1), ("partner_linked", 1), ("customer_b", 0),
                       ("partner_unlinked", 0), ("support", 0)):
        listed = client.get("/v1/drafts", headers=world.auth(who)).get_json()
        assert [d["id"] for d in listed["items"]] == [made["id"]] * count, who
        assert listed["next_cursor"] is None


def test_a_bad_draft_is_refused_naming_each_field_and_nothing_is_stored(client, world) -> None:
    body = upscale_body(world.envs["customer_a_stage"], resources=[{"component": "yves", "size": "huge"}],
                        summary="")
    problem = assert_problem(draft(client, world, body), 422)
    assert set(problem["errors"]) == {"resources.0.size", "summary"}, problem["errors"]
    assert client.get("/v1/drafts", headers=world.auth("partner_linked")).get_json()["items"] == []


def test_an_open_draft_may_be_deleted_but_a_submitted_one_is_kept(client, world) -> None:
    made = draft(client, world, upscale_body(world.envs["customer_a_stage"])).get_json()
    deleted = client.delete(f"/v1/drafts/{made['id']}", headers=world.auth("partner_linked"))
    assert deleted.status_code == 204
    assert_problem(client.get(f"/v1/drafts/{made['id']}", headers=world.auth("customer_a")), 404)

    kept = draft(client, world, upscale_body(world.envs["customer_a_stage"])).get_json()
    ticket = submit(client, world, kept["id"]).get_json()
    body = assert_problem(client.delete(f"/v1/drafts/{kept['id']}", headers=world.auth("customer_a")),
                          409, "draft_submitted")
    assert ticket["id"] in body["detail"]


def test_drafts_list_pages_newest_first(client, world) -> None:
    ids = [draft(client, world, upscale_body(world.envs["customer_a_stage"])).get_json()["id"]
           for _ in range(3)]
    first = client.get("/v1/drafts?limit=2", headers=world.auth("customer_a")).get_json()
    rest = client.get(f"/v1/drafts?limit=2&cursor={first['next_cursor']}",
                      headers=world.auth("customer_a")).get_json()
    assert [d["id"] for d in first["items"] + rest["items"]] == ids[::-1]
    assert rest["next_cursor"] is None
    opened = client.get("/v1/drafts?status=submitted", headers=world.auth("customer_a")).get_json()
    assert opened["items"] == []
