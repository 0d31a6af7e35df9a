"""Filing requests through the HTTP API (POST /v1/tickets), on PostgreSQL and on SQLite."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from service.app.registry import operators
from service.adapters.models import Ticket
from tests.helpers import assert_problem, change_body, upscale_body

# Also through PgBouncer in transaction pooling mode (DATABASE_POOLER=pgbouncer).
pytestmark = pytest.mark.pgbouncer

MUST_FILE = "the customer who owns this environment must file this request"
TICKET_FIELDS = {"id", "type", "status", "environment_id", "account_id", "requester_id", "summary",
                 "created_at", "updated_at", "resources", "period"}


def file(client: Any, world: Any, who: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post("/v1/tickets", json=body, headers={**world.auth(who), **headers})


def all_tickets(client: Any, world: Any) -> list[dict[str, Any]]:
    """Every stored ticket, as support (who sees all accounts) lists them."""
    response = client.get("/v1/tickets?limit=200", headers=world.auth("support"))
    assert response.status_code == 200
    return response.get_json()["items"]


def complete_directly(uow_factory: Any, ticket_id: str) -> None:
    """No API finishes provisioning yet: mark the ticket completed in the database."""
    with uow_factory() as uow:
        uow.session.get(Ticket, ticket_id).status = "completed"
        uow.commit()


def in_future(**delta: float) -> str:
    return (datetime.now(timezone.utc) + timedelta(**delta)).isoformat()


# --- the happy path -----------------------------------------------------------------------

def test_customer_files_stage_upscale_and_gets_the_new_ticket(client, world) -> None:
    response = file(client, world, "customer_a", upscale_body(world.envs["customer_a_stage"]))

    assert response.status_code == 201, response.get_data(as_text=True)
    ticket = response.get_json()
    assert TICKET_FIELDS <= set(ticket)
    assert response.headers["Location"].endswith(f"/v1/tickets/{ticket['id']}")
    assert ticket["type"] == "upscale"
    assert ticket["status"] == "pending_approval"
    assert ticket["environment_id"] == world.envs["customer_a_stage"]
    assert ticket["account_id"] == world.accounts["customer_a"]
    assert ticket["requester_id"] == world.users["customer_a"]
    assert ticket["summary"] == "load test next week"
    assert ticket["resources"] == [{"component": "yves", "size": "large"}]
    assert ticket["period"] is None
    assert ticket["created_at"] and ticket["updated_at"]


def test_filed_ticket_can_be_read_back_at_its_location(client, world) -> None:
    created = file(client, world, "customer_a", upscale_body(world.envs["customer_a_stage"]))

    response = client.get(created.headers["Location"], headers=world.auth("customer_a"))

    assert response.status_code == 200
    assert response.get_json()["id"] == created.get_json()["id"]


def test_filing_records_one_creation_event(client, world) -> None:
    ticket = file(client, world, "customer_a", upscale_body(world.envs["customer_a_stage"])).get_json()

    response = client.get(f"/v1/tickets/{ticket['id']}/events", headers=world.auth("customer_a"))

    assert response.status_code == 200
    events = response.get_json()["items"]
    assert len(events) == 1
    assert events[0]["from_status"] is None
    assert events[0]["to_status"] == "pending_approval"
    assert events[0]["actor_id"] == world.users["customer_a"]
    assert events[0]["at"]


def test_change_request_on_stage_is_accepted(client, world) -> None:
    response = file(client, world, "customer_a", change_body(world.envs["customer_a_stage"]))

    assert response.status_code == 201
    assert response.get_json()["change"] == {"kind": "config", "parameters": {"PHP_MEMORY_LIMIT": "1G"}}


def test_change_request_on_dev_is_accepted(client, world) -> None:
    assert file(client, world, "customer_a", change_body(world.envs["customer_a_dev"])).status_code == 201


# --- who may file -------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["partner_linked", "partner_unlinked", "support"])
def test_only_customers_may_file(client, world, who: str) -> None:
    response = file(client, world, who, upscale_body(world.envs["customer_a_stage"]))

    problem = assert_problem(response, 403, "customer_only")
    assert MUST_FILE in problem["detail"]
    assert all_tickets(client, world) == []


@pytest.mark.parametrize("who", ["partner_linked", "support"])
def test_non_customers_may_not_file_change_requests_either(client, world, who: str) -> None:
    assert_problem(file(client, world, who, change_body(world.envs["customer_a_stage"])), 403,
                   "customer_only")


def test_filing_without_a_token_is_401(client, world) -> None:
    response = client.post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"]))

    assert_problem(response, 401, "unauthenticated")


def test_another_tenants_environment_is_not_found(client, world) -> None:
    response = file(client, world, "customer_b", upscale_body(world.envs["customer_a_stage"]))

    assert_problem(response, 404, "not_found")
    assert all_tickets(client, world) == []


def test_unknown_environment_is_not_found(client, world) -> None:
    assert_problem(file(client, world, "customer_a", upscale_body("no-such-env")), 404, "not_found")


# --- stage rules --------------------------------------------------------------------------

def test_dev_upscale_is_refused(client, world) -> None:
    assert_problem(file(client, world, "customer_a", upscale_body(world.envs["customer_a_dev"])), 422,
                   "dev_not_scalable")


def test_prod_upscale_is_refused(client, world) -> None:
    problem = assert_problem(
        file(client, world, "customer_a", upscale_body(world.envs["customer_a_prod"])), 422,
        "prod_autoscales")
    assert "change request" in problem["detail"]


def test_operator_override_lets_dev_scale_up(client, world, uow_factory) -> None:
    operators.set_environment_rules(world.envs["customer_a_dev"], uow=uow_factory(), upscale_allowed=True)

    assert file(client, world, "customer_a", upscale_body(world.envs["customer_a_dev"])).status_code == 201


def test_prod_change_without_verified_on_is_refused(client, world) -> None:
    problem = assert_problem(
        file(client, world, "customer_a", change_body(world.envs["customer_a_prod"])), 422,
        "prod_requires_staging_verification")
    assert "verified_on" in problem["errors"]


def test_prod_change_naming_an_unknown_ticket_is_refused(client, world) -> None:
    body = change_body(world.envs["customer_a_prod"], verified_on="00000000-0000-0000-0000-000000000000")

    assert_problem(file(client, world, "customer_a", body), 422, "prod_requires_staging_verification")


def test_prod_change_naming_an_unfinished_staging_change_is_refused(client, world) -> None:
    staged = file(client, world, "customer_a", change_body(world.envs["customer_a_stage"])).get_json()
    body = change_body(world.envs["customer_a_prod"], verified_on=staged["id"])

    problem = assert_problem(file(client, world, "customer_a", body), 422,
                             "prod_requires_staging_verification")
    assert "pending_approval" in problem["errors"]["verified_on"][0]


def test_prod_change_naming_another_tenants_staging_change_is_refused(client, world, uow_factory) -> None:
    theirs = file(client, world, "customer_b", change_body(world.envs["customer_b_stage"])).get_json()
    complete_directly(uow_factory, theirs["id"])
    body = change_body(world.envs["customer_a_prod"], verified_on=theirs["id"])

    assert_problem(file(client, world, "customer_a", body), 422, "prod_requires_staging_verification")


def test_prod_change_repeating_a_completed_staging_change_is_accepted(client, world, uow_factory) -> None:
    staged = file(client, world, "customer_a", change_body(world.envs["customer_a_stage"])).get_json()
    complete_directly(uow_factory, staged["id"])
    body = change_body(world.envs["customer_a_prod"], verified_on=staged["id"])

    response = file(client, world, "customer_a", body)

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["verified_on"] == staged["id"]


def test_prod_change_differing_from_the_staging_change_is_refused(client, world, uow_factory) -> None:
    staged = file(client, world, "customer_a", change_body(world.envs["customer_a_stage"])).get_json()
    complete_directly(uow_factory, staged["id"])
    body = change_body(world.envs["customer_a_prod"], verified_on=staged["id"],
                       change={"kind": "config", "parameters": {"PHP_MEMORY_LIMIT": "4G"}})

    assert_problem(file(client, world, "customer_a", body), 422, "prod_requires_staging_verification")


# --- sizes --------------------------------------------------------------------------------

def test_size_above_contract_cap_is_refused(client, world, uow_factory) -> None:
    operators.set_environment_rules(world.envs["customer_a_stage"], uow=uow_factory(),
                                    caps={"yves": "large"})
    body = upscale_body(world.envs["customer_a_stage"], resources=[{"component": "yves", "size": "xlarge"}])

    problem = assert_problem(file(client, world, "customer_a", body), 422, "over_contract_limit")
    assert list(problem["errors"]) == ["resources.0.size"]


def test_size_up_to_the_cap_is_accepted(client, world, uow_factory) -> None:
    operators.set_environment_rules(world.envs["customer_a_stage"], uow=uow_factory(),
                                    caps={"yves": "large"})

    assert file(client, world, "customer_a", upscale_body(world.envs["customer_a_stage"])).status_code == 201


@pytest.mark.parametrize("size", ["medium", "small"])
def test_size_not_larger_than_current_is_refused(client, world, size: str) -> None:
    body = upscale_body(world.envs["customer_a_stage"], resources=[{"component": "yves", "size": size}])

    problem = assert_problem(file(client, world, "customer_a", body), 422, "size_not_larger")
    assert list(problem["errors"]) == ["resources.0.size"]


# --- duplicates ---------------------------------------------------------------------------

def test_second_open_request_of_same_type_is_a_duplicate_naming_the_open_ticket(client, world) -> None:
    first = file(client, world, "customer_a", upscale_body(world.envs["customer_a_stage"])).get_json()

    response = file(client, world, "customer_a", upscale_body(
        world.envs["customer_a_stage"], resources=[{"component": "zed", "size": "large"}]))

    problem = assert_problem(response, 409, "duplicate_open_request")
    assert problem["open_ticket_id"] == first["id"]
    assert [t["id"] for t in all_tickets(client, world)] == [first["id"]]


def test_duplicate_change_request_is_refused_too(client, world) -> None:
    first = file(client, world, "customer_a", change_body(world.envs["customer_a_stage"])).get_json()

    problem = assert_problem(file(client, world, "customer_a", change_body(world.envs["customer_a_stage"])),
                             409, "duplicate_open_request")
    assert problem["open_ticket_id"] == first["id"]


def test_after_cancelling_the_open_request_a_new_one_is_accepted(client, world) -> None:
    first = file(client, world, "customer_a", upscale_body(world.envs["customer_a_stage"])).get_json()
    cancelled = client.post(f"/v1/tickets/{first['id']}/cancel", headers=world.auth("customer_a"))
    assert cancelled.status_code == 200

    response = file(client, world, "customer_a", upscale_body(world.envs["customer_a_stage"]))

    assert response.status_code == 201
    assert response.get_json()["id"] != first["id"]


def test_upscale_and_change_on_the_same_environment_may_both_be_open(client, world) -> None:
    env_id = world.envs["customer_a_stage"]

    assert file(client, world, "customer_a", upscale_body(env_id)).status_code == 201
    assert file(client, world, "customer_a", change_body(env_id)).status_code == 201
    assert len(all_tickets(client, world)) == 2


def test_open_requests_on_different_environments_are_independent(client, world) -> None:
    assert file(client, world, "customer_a", change_body(world.envs["customer_a_stage"])).status_code == 201
    assert file(client, world, "customer_a", change_body(world.envs["customer_a_dev"])).status_code == 201


# --- temporary upscales -------------------------------------------------------------------

def test_temporary_upscale_period_is_accepted_and_echoed(client, world) -> None:
    start, end = in_future(days=1), in_future(days=2)
    body = upscale_body(world.envs["customer_a_stage"], period={"start": start, "end": end})

    response = file(client, world, "customer_a", body)

    assert response.status_code == 201, response.get_data(as_text=True)
    period = response.get_json()["period"]
    assert datetime.fromisoformat(period["start"]) == datetime.fromisoformat(start)
    assert datetime.fromisoformat(period["end"]) == datetime.fromisoformat(end)
    stored = client.get(response.headers["Location"], headers=world.auth("customer_a")).get_json()
    assert stored["period"] == period


@pytest.mark.parametrize("period,rule", [
    ({"start": in_future(days=2), "end": in_future(days=1)}, "period_invalid"),
    ({"start": in_future(days=-2), "end": in_future(days=1)}, "period_in_past"),
])
def test_bad_period_is_refused(client, world, period: dict[str, str], rule: str) -> None:
    body = upscale_body(world.envs["customer_a_stage"], period=period)

    problem = assert_problem(file(client, world, "customer_a", body), 422, rule)
    assert problem["errors"]


def test_period_that_is_not_a_date_names_the_field(client, world) -> None:
    body = upscale_body(world.envs["customer_a_stage"], period={"start": "tomorrow", "end": in_future(days=1)})

    problem = assert_problem(file(client, world, "customer_a", body), 422, "validation_failed")
    assert "period.start" in problem["errors"]


# --- idempotency --------------------------------------------------------------------------

def test_same_idempotency_key_and_body_replays_the_same_ticket(client, world) -> None:
    body = upscale_body(world.envs["customer_a_stage"])
    first = file(client, world, "customer_a", body, **{"Idempotency-Key": "k-1"})

    again = file(client, world, "customer_a", body, **{"Idempotency-Key": "k-1"})

    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Location"] == first.headers["Location"]
    assert len(all_tickets(client, world)) == 1


def test_same_idempotency_key_with_another_body_is_refused(client, world) -> None:
    file(client, world, "customer_a", upscale_body(world.envs["customer_a_stage"]),
         **{"Idempotency-Key": "k-1"})
    other = upscale_body(world.envs["customer_a_stage"], summary="a different reason")

    response = file(client, world, "customer_a", other, **{"Idempotency-Key": "k-1"})

    problem = assert_problem(response, 422, "idempotency_key_reused")
    assert "Idempotency-Key" in problem["errors"]
    assert len(all_tickets(client, world)) == 1


def test_idempotency_keys_are_per_account(client, world) -> None:
    mine = file(client, world, "customer_a", upscale_body(world.envs["customer_a_stage"]),
                **{"Idempotency-Key": "shared"})

    theirs = file(client, world, "customer_b", upscale_body(world.envs["customer_b_stage"]),
                  **{"Idempotency-Key": "shared"})

    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.get_json()["id"] != mine.get_json()["id"]
    assert theirs.get_json()["account_id"] == world.accounts["customer_b"]
    assert len(all_tickets(client, world)) == 2


def test_without_idempotency_key_a_resubmission_is_a_duplicate(client, world) -> None:
    body = upscale_body(world.envs["customer_a_stage"])
    file(client, world, "customer_a", body)

    assert_problem(file(client, world, "customer_a", body), 409, "duplicate_open_request")


# --- nothing is stored when a request is refused ------------------------------------------

REJECTED: dict[str, tuple[str, Any, int, str]] = {
    "partner": ("partner_linked", lambda w: upscale_body(w.envs["customer_a_stage"]), 403, "customer_only"),
    "dev upscale": ("customer_a", lambda w: upscale_body(w.envs["customer_a_dev"]), 422, "dev_not_scalable"),
    "prod upscale": ("customer_a", lambda w: upscale_body(w.envs["customer_a_prod"]), 422, "prod_autoscales"),
    "unverified prod change": ("customer_a", lambda w: change_body(w.envs["customer_a_prod"]), 422,
                               "prod_requires_staging_verification"),
    "not larger": ("customer_a", lambda w: upscale_body(
        w.envs["customer_a_stage"], resources=[{"component": "yves", "size": "medium"}]), 422,
        "size_not_larger"),
    "bad period": ("customer_a", lambda w: upscale_body(
        w.envs["customer_a_stage"], period={"start": in_future(days=2), "end": in_future(days=1)}), 422,
        "period_invalid"),
    "other tenant": ("customer_b", lambda w: change_body(w.envs["customer_a_stage"]), 404, "not_found"),
    "unknown field": ("customer_a", lambda w: upscale_body(w.envs["customer_a_stage"], status="approved"),
                      422, "validation_failed"),
    "missing resources": ("customer_a", lambda w: {"type": "upscale", "summary": "x",
                                                   "environment_id": w.envs["customer_a_stage"]},
                          422, "validation_failed"),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_rejected_request_stores_nothing(client, world, uow_factory, case: str) -> None:
    who, body, status, rule = REJECTED[case]

    assert_problem(file(client, world, who, body(world)), status, rule)

    assert all_tickets(client, world) == []
    with uow_factory() as uow:
        assert uow.session.scalars(select(Ticket)).all() == []


def test_invalid_body_names_every_offending_field(client, world) -> None:
    body = {"type": "upscale", "environment_id": world.envs["customer_a_stage"], "summary": "",
            "resources": [{"component": "cpu", "size": "huge"}], "change": {"kind": "config"}}

    problem = assert_problem(file(client, world, "customer_a", body), 422, "validation_failed")

    assert {"summary", "resources.0.component", "resources.0.size"} <= set(problem["errors"])


@pytest.mark.parametrize("case", ["upscale", "temporary upscale", "change", "replayed"])
def test_the_filing_answer_is_byte_for_byte_the_ticket_as_read_back(client, world, case: str) -> None:
    """Byte for byte but for ``conflicts``, which only the filing answers (SPEC section 11)."""
    env = world.envs["customer_a_stage"]
    body = {"upscale": upscale_body(env), "change": change_body(env), "replayed": upscale_body(env),
            "temporary upscale": upscale_body(env, period={"start": in_future(days=1),
                                                           "end": in_future(days=2)})}[case]
    key = {"Idempotency-Key": "same-key"} if case == "replayed" else {}
    filed = file(client, world, "customer_a", body, **key)
    if case == "replayed":
        filed = file(client, world, "customer_a", body, **key)
        assert filed.headers["Idempotent-Replayed"] == "true"

    read = client.get(filed.headers["Location"], headers=world.auth("customer_a"))

    assert filed.status_code == 201, filed.get_data(as_text=True)
    assert filed.get_data().replace(b'"conflicts":[],', b"") == read.get_data()
    assert filed.headers["ETag"] == read.headers["ETag"]
