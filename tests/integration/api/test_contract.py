"""What openapi.yaml promises holds for real answers: every refusal is a Problem the document
describes, with the facts a client needs to word it; an undeclared query parameter is refused.

Every test runs on PostgreSQL and on SQLite (the ``database_url`` fixture is parametrized)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from service.app.registry import operators
from tests.helpers import assert_problem, upscale_body

SPEC = yaml.safe_load((Path(__file__).resolve().parents[3] / "openapi.yaml").read_text())
METHODS = ("get", "post", "put", "patch", "delete")


def assert_documented_problem(response: Any, status: int, rule: str) -> dict[str, Any]:
    """The body validates against the document's Problem schema, with its rule enum."""
    body = assert_problem(response, status, rule)
    schema = {"$ref": "#/components/schemas/Problem", "components": SPEC["components"]}
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in Draft202012Validator(schema).iter_errors(body)]
    assert not errors, (body, errors)
    return body


def _file(client: Any, world: Any, body: dict[str, Any], who: str = "customer_a") -> Any:
    return client.post("/v1/tickets", json=body, headers=world.auth(who))


def test_over_cap_refusal_names_component_current_size_and_cap(client, world, uow_factory):
    env = operators.add_environment(world.accounts["customer_a"], "capped", "stage", uow=uow_factory(),
                                    sizes={"yves": "medium", "zed": "large"}, caps={"yves": "large"})
    body = upscale_body(env.id, resources=[{"component": "zed", "size": "medium"},
                                           {"component": "yves", "size": "2xlarge"}])
    problem = assert_documented_problem(_file(client, world, body), 422, "over_contract_limit")
    assert problem["params"]["resources"] == [
        {"index": 0, "component": "zed", "current_size": "large", "requested_size": "medium",
         "cap": None},
        {"index": 1, "component": "yves", "current_size": "medium", "requested_size": "2xlarge",
         "cap": "large"},
    ]


def test_stage_refusals_name_the_stage(client, world):
    for stage, rule in (("dev", "dev_not_scalable"), ("prod", "prod_autoscales")):
        response = _file(client, world, upscale_body(world.envs[f"customer_a_{stage}"]))
        assert assert_documented_problem(response, 422, rule)["params"] == {"stage": stage}


def test_period_in_the_past_names_the_earliest_start(client, world):
    start = datetime.now(timezone.utc) - timedelta(days=2)
    period = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    before = datetime.now(timezone.utc)
    body = upscale_body(world.envs["customer_a_stage"], period=period)
    problem = assert_documented_problem(_file(client, world, body), 422, "period_in_past")
    assert datetime.fromisoformat(problem["params"]["earliest_start"]) >= before - timedelta(seconds=1)


def test_partner_refusal_names_its_kind(client, world):
    response = _file(client, world, upscale_body(world.envs["customer_a_stage"]), "partner_linked")
    assert assert_documented_problem(response, 403, "customer_only")["params"] == {"kind": "partner"}


def test_duplicate_names_the_open_ticket_and_its_status(client, world):
    first = _file(client, world, upscale_body(world.envs["customer_a_stage"])).get_json()
    response = _file(client, world, upscale_body(world.envs["customer_a_stage"]))
    problem = assert_documented_problem(response, 409, "duplicate_open_request")
    assert problem["open_ticket_id"] == first["id"]
    assert problem["params"] == {"open_ticket_id": first["id"], "open_ticket_status": "pending_approval"}


def test_conflicts_carry_current_status_action_and_etag(client, world):
    ticket = _file(client, world, upscale_body(world.envs["customer_a_stage"])).get_json()
    support = world.auth("support")
    stale = {**support, "If-Match": f'"{ticket["id"]}.999"'}
    late = client.post(f"/v1/tickets/{ticket['id']}/approve", headers=stale)
    problem = assert_documented_problem(late, 412, "precondition_failed")
    current = client.get(f"/v1/tickets/{ticket['id']}", headers=support).headers["ETag"]
    assert problem["etag"] == problem["params"]["etag"] == current
    assert client.post(f"/v1/tickets/{ticket['id']}/approve", headers=support).status_code == 200
    again = client.post(f"/v1/tickets/{ticket['id']}/cancel", headers=world.auth("customer_a"))
    problem = assert_documented_problem(again, 409, "invalid_transition")
    assert (problem["current_status"], problem["action"]) == ("approved", "cancel")
    assert problem["params"] == {"current_status": "approved", "action": "cancel"}


def _operations() -> list[tuple[str, str]]:
    return [(method, path) for path, item in SPEC["paths"].items()
            for method in item if method in METHODS]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_undeclared_query_parameter_is_400_naming_it(client, world, method, path):
    ticket = _file(client, world, upscale_body(world.envs["customer_a_stage"])).get_json()
    url = path.replace("{ticket_id}", ticket["id"]).replace(
        "{environment_id}", world.envs["customer_a_stage"])
    response = client.open(f"{url}?order=asc&account_id=x&limit=5", method=method.upper(),
                           headers=world.auth("support"), json={})
    declared = {p["name"] for p in SPEC["paths"][path][method].get("parameters", [])
                if p["in"] == "query"}
    problem = assert_documented_problem(response, 400, "unknown_parameter")
    unknown = {"order", "account_id", "limit"} - declared
    assert set(problem["errors"]) == unknown
    assert all(name in problem["detail"] for name in unknown)


def test_head_is_refused_undeclared_parameters_like_get(client, world):
    response = client.head("/v1/tickets?order=asc", headers=world.auth("support"))
    assert response.status_code == 400


def test_declared_query_parameters_are_still_accepted(client, world):
    response = client.get(f"/v1/environments?account_id={world.accounts['customer_a']}&stage=prod",
                          headers=world.auth("support"))
    assert response.status_code == 200
    assert [env["stage"] for env in response.get_json()["items"]] == ["prod"]
