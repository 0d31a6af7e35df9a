"""The approval policy through the HTTP API, on PostgreSQL and on SQLite: approval by the policy
at filing, four eyes, minimum notice."""
from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from sqlalchemy import Engine, event, select

from service.app.registry import operators
from service.api import create_app
from service.api.runtime import build_runtime
from service.adapters.models import WebhookDelivery
from service.app.notify.outbox import WebhookOutbox
from tests.helpers import assert_problem, change_body, upscale_body, utc
from tests.integration.api.test_filing import complete_directly
from tests.integration.test_concurrency import race

# Also through PgBouncer in transaction pooling mode (DATABASE_POOLER=pgbouncer).
pytestmark = pytest.mark.pgbouncer

NOW = utc(2030, 3, 4, 9, 0)
POLICY = """\
rules:
  - name: standard stage load tests
    match: {type: upscale, stage: stage, temporary: true, max_days: 7}
    approval: auto
    min_notice_hours: 24
  - name: four eyes for prod
    match: {stage: prod}
    approval: dual
  - name: imports on stage
    match: {change_kind: [data_import, integration]}
    approval: single
"""


@pytest.fixture
def policy_app(settings: Any, tmp_path: Path) -> Callable[..., Any]:
    """An app under POLICY (or another text), its clock fixed at NOW, webhooks into the outbox."""
    def make(text: str = POLICY) -> Any:
        path = tmp_path / "approval-policy.yaml"
        path.write_text(text)
        configured = dataclasses.replace(settings, approval_policy=str(path),
                                         webhook_urls=("http://127.0.0.1:9/hook",), webhook_secret="s")
        runtime = build_runtime(configured, clock=lambda: NOW,
                                listener=WebhookOutbox())
        return create_app(configured, runtime)
    return make


@pytest.fixture
def client(policy_app: Callable[..., Any]) -> Any:
    return policy_app().test_client()


def period(start: timedelta, days: float = 2) -> dict[str, str]:
    return {"start": (NOW + start).isoformat(), "end": (NOW + start + timedelta(days=days)).isoformat()}


def file(client: Any, world: Any, body: dict[str, Any]) -> Any:
    return client.post("/v1/tickets", json=body, headers=world.auth("customer_a"))


def approve(client: Any, world: Any, who: str, ticket_id: str) -> Any:
    return client.post(f"/v1/tickets/{ticket_id}/approve", headers=world.auth(who))


def events(client: Any, world: Any, ticket_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/tickets/{ticket_id}/events", headers=world.auth("customer_a"))
    assert response.status_code == 200
    return response.get_json()["items"]


def webhooks(uow_factory: Any) -> list[tuple[str, str]]:
    """(event, ticket status) of every queued webhook (all written at NOW, so in no set order)."""
    with uow_factory() as uow:
        bodies = [json.loads(d.body) for d in uow.session.scalars(select(WebhookDelivery))]
    return [(body["event"], body["ticket"]["status"]) for body in bodies]


def cap(uow_factory: Any, env_id: str, **caps: str) -> None:
    operators.set_environment_rules(env_id, uow=uow_factory(), caps=caps)


def test_stage_temporary_upscale_within_caps_is_approved_by_the_policy_at_filing(
        client, world, uow_factory) -> None:
    cap(uow_factory, world.envs["customer_a_stage"], yves="xlarge")
    response = file(client, world, upscale_body(world.envs["customer_a_stage"],
                                                period=period(timedelta(days=2))))

    assert response.status_code == 201, response.get_json()
    ticket = response.get_json()
    assert ticket["status"] == "scheduled"  # approved; applied when its period starts
    assert ticket["approvals_required"] == 0
    assert ticket["approval_rule"] == "standard stage load tests"
    assert ticket["approvals"] == []
    trail = events(client, world, ticket["id"])
    assert [(e["from_status"], e["to_status"]) for e in trail] == [
        (None, "pending_approval"), ("pending_approval", "scheduled")]
    assert trail[1]["actor_id"] is None
    assert trail[1]["actor"] == {"kind": "system", "name": "policy"}
    assert "standard stage load tests" in trail[1]["reason"]
    assert sorted(webhooks(uow_factory)) == [("ticket.created", "pending_approval"),
                                             ("ticket.scheduled", "scheduled")]


def test_auto_approval_needs_a_cap_on_every_component_else_a_person_decides(
        client, world, uow_factory) -> None:
    cap(uow_factory, world.envs["customer_a_stage"], yves="xlarge")
    body = upscale_body(world.envs["customer_a_stage"], period=period(timedelta(days=2)),
                        resources=[{"component": "yves", "size": "large"},
                                   {"component": "zed", "size": "large"}])
    ticket = file(client, world, body).get_json()

    assert ticket["status"] == "pending_approval"
    assert ticket["approvals_required"] == 1
    assert approve(client, world, "support", ticket["id"]).get_json()["status"] == "scheduled"


def test_a_request_no_rule_matches_needs_one_support_approval(client, world) -> None:
    response = file(client, world, upscale_body(world.envs["customer_a_stage"]))  # not temporary

    ticket = response.get_json()
    assert ticket["status"] == "pending_approval"
    assert (ticket["approvals_required"], ticket["approval_rule"]) == (1, None)
    approved = approve(client, world, "support", ticket["id"]).get_json()
    assert approved["status"] == "approved"
    assert [a["user_id"] for a in approved["approvals"]] == [world.users["support"]]


def test_without_a_policy_file_every_request_waits_for_one_approval(policy_app, world, uow_factory) -> None:
    client = policy_app("rules: []\n").test_client()
    cap(uow_factory, world.envs["customer_a_stage"], yves="xlarge")
    ticket = file(client, world, upscale_body(world.envs["customer_a_stage"],
                                              period=period(timedelta(minutes=5)))).get_json()
    assert ticket["status"] == "pending_approval"
    assert ticket["approvals_required"] == 1


def test_dual_approval_needs_two_different_support_engineers(client, world, uow_factory) -> None:
    ticket = file(client, world, change_body(world.envs["customer_a_dev"])).get_json()
    assert ticket["approvals_required"] == 1  # dev is not prod: the prod rule does not apply

    prod = _prod_change(client, world, uow_factory)
    assert prod["approvals_required"] == 2
    first = approve(client, world, "support", prod["id"])
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["status"] == "pending_approval"
    assert [a["user_id"] for a in first.get_json()["approvals"]] == [world.users["support"]]

    again = approve(client, world, "support", prod["id"])
    body = assert_problem(again, 409, "already_approved")
    assert "another support engineer" in body["detail"]

    second = approve(client, world, "support_2", prod["id"]).get_json()
    assert second["status"] == "approved"
    assert [a["user_id"] for a in second["approvals"]] == [world.users["support"], world.users["support_2"]]
    trail = events(client, world, prod["id"])
    assert [(e["from_status"], e["to_status"], e["actor_id"]) for e in trail[1:]] == [
        ("pending_approval", "pending_approval", world.users["support"]),
        ("pending_approval", "approved", world.users["support_2"])]
    assert "approval 1 of 2" in trail[1]["reason"]
    assert ("ticket.approval_recorded", "pending_approval") in webhooks(uow_factory)
    assert ("ticket.approved", "approved") in webhooks(uow_factory)


def test_a_ticket_is_read_with_its_approvals_in_one_statement(client, world, uow_factory) -> None:
    """GET /v1/tickets/{id} asks the database once (after the token's owner): a second round
    trip would be one more transaction for PgBouncer to route, on every read."""
    prod = _prod_change(client, world, uow_factory)
    for who in ("support", "support_2"):
        assert approve(client, world, who, prod["id"]).status_code == 200
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        response = client.get(f"/v1/tickets/{prod['id']}", headers=world.auth("customer_a"))
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert response.status_code == 200
    assert [a["user_id"] for a in response.get_json()["approvals"]] == [world.users["support"],
                                                                        world.users["support_2"]]
    queries = [statement for statement in sent if statement != "BEGIN"]  # SQLite's own, per read
    assert len(queries) == 2, queries  # the token's owner (no cache in the tests), the ticket


def test_a_reject_after_the_first_of_two_approvals_ends_the_ticket(client, world, uow_factory) -> None:
    prod = _prod_change(client, world, uow_factory)
    assert approve(client, world, "support", prod["id"]).status_code == 200

    rejected = client.post(f"/v1/tickets/{prod['id']}/reject", json={"reason": "not this week"},
                           headers=world.auth("support_2"))
    assert rejected.get_json()["status"] == "rejected"
    assert_problem(approve(client, world, "support_2", prod["id"]), 409, "invalid_transition")


def test_a_customer_cannot_give_an_approval(client, world, uow_factory) -> None:
    prod = _prod_change(client, world, uow_factory)
    assert_problem(approve(client, world, "customer_a", prod["id"]), 403, "support_only")
    ticket = client.get(f"/v1/tickets/{prod['id']}", headers=world.auth("customer_a")).get_json()
    assert ticket["approvals"] == []


@pytest.mark.parametrize(("start", "accepted"), [
    (timedelta(hours=24), True), (timedelta(hours=24) - timedelta(seconds=1), False)])
def test_a_period_starting_within_the_minimum_notice_is_refused_at_the_boundary(
        client, world, uow_factory, start, accepted) -> None:
    response = file(client, world, upscale_body(world.envs["customer_a_stage"], period=period(start)))

    if accepted:
        assert response.status_code == 201, response.get_json()
        return
    body = assert_problem(response, 422, "lead_time")
    assert body["errors"] == {"period.start": ["must be at or after 2030-03-05T09:00:00Z"]}
    assert "2030-03-05T09:00:00Z" in body["detail"]
    assert client.get("/v1/tickets", headers=world.auth("customer_a")).get_json()["items"] == []


@pytest.mark.parametrize("kind", ["data_import", "integration"])
def test_data_imports_and_integrations_are_change_kinds(client, world, kind) -> None:
    body = change_body(world.envs["customer_a_stage"],
                       change={"kind": kind, "parameters": {"source": "s3://bucket/products.csv"}})
    ticket = file(client, world, body).get_json()
    assert ticket["change"]["kind"] == kind
    assert ticket["approval_rule"] == "imports on stage"


def test_simultaneous_second_approvals_make_exactly_one_transition(
        policy_app, world, uow_factory) -> None:
    app = policy_app()
    client = app.test_client()
    for who in ("support_3", "support_4", "support_5"):
        user = operators.add_user(f"{who}@example.com", world.accounts["provider"], "support",
                                  uow=uow_factory())
        world.users[who] = user.id
        world.tokens[who] = operators.issue_user_token(user.email, uow=uow_factory())
    prod = _prod_change(client, world, uow_factory)
    assert approve(client, world, "support", prod["id"]).status_code == 200

    racers = ["support_2", "support_3", "support_4", "support_5"]
    responses = race(app, [lambda c, who=who: approve(c, world, who, prod["id"]) for who in racers])

    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409], [r.get_json() for r in responses]
    assert {r.get_json()["rule"] for r in responses if r.status_code == 409} == {"invalid_transition"}
    ticket = client.get(f"/v1/tickets/{prod['id']}", headers=world.auth("support")).get_json()
    assert ticket["status"] == "approved"
    winner = next(who for who, r in zip(racers, responses) if r.status_code == 200)
    assert [a["user_id"] for a in ticket["approvals"]] == [world.users["support"], world.users[winner]]
    moves = [(e["from_status"], e["to_status"]) for e in events(client, world, prod["id"])]
    assert moves.count(("pending_approval", "approved")) == 1


def test_the_same_engineer_approving_twice_at_once_counts_once(policy_app, world, uow_factory) -> None:
    app = policy_app()
    client = app.test_client()
    prod = _prod_change(client, world, uow_factory)

    responses = race(app, [lambda c: approve(c, world, "support", prod["id"])] * 4)

    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409], [r.get_json() for r in responses]
    ticket = client.get(f"/v1/tickets/{prod['id']}", headers=world.auth("support")).get_json()
    assert ticket["status"] == "pending_approval"
    assert [a["user_id"] for a in ticket["approvals"]] == [world.users["support"]]


def _prod_change(client: Any, world: Any, uow_factory: Any) -> dict[str, Any]:
    staged = file(client, world, change_body(world.envs["customer_a_stage"])).get_json()
    complete_directly(uow_factory, staged["id"])
    response = file(client, world, change_body(world.envs["customer_a_prod"], verified_on=staged["id"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_period_in_the_past_is_refused_as_such_before_its_notice(client, world) -> None:
    response = file(client, world, upscale_body(world.envs["customer_a_stage"],
                                                period=period(-timedelta(hours=2))))
    assert_problem(response, 422, "period_in_past")


def test_options_report_the_approval_and_notice_the_policy_asks(client, world) -> None:
    def options(env: str) -> dict[str, Any]:
        response = client.get(f"/v1/environments/{world.envs[env]}/options",
                              headers=world.auth("customer_a"))
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    stage, prod = options("customer_a_stage"), options("customer_a_prod")

    assert stage["upscale"]["min_notice_hours"] == 24
    assert stage["upscale"]["approval"] == "single"  # a permanent upscale matches no rule
    assert prod["change"]["approval"] == "dual"
    assert {item["kind"]: item["approval"] for item in stage["change"]["kinds"]}["data_import"] == "single"
