"""Verification depth as policy: prod changes cite completed identical changes on dev and stage."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from service.app.registry import operators
from service.api import create_app
from tests.helpers import assert_problem, change_body
from tests.integration.api.test_filing import complete_directly

POLICY = """\
rules:
  - name: imports verified on dev and stage
    match: {stage: prod, change_kind: [data_import, integration]}
    approval: single
    verify_on: [dev, stage]
"""
IMPORT = {"kind": "data_import", "parameters": {"source": "s3://shop/products.csv"}}


@pytest.fixture
def client(settings: Any, tmp_path: Path) -> Any:
    path = tmp_path / "approval-policy.yaml"
    path.write_text(POLICY)
    return create_app(dataclasses.replace(settings, approval_policy=str(path))).test_client()


def file(client: Any, world: Any, env: str, who: str = "customer_a", **fields: Any) -> Any:
    body = change_body(world.envs[env], **{"change": IMPORT, **fields})
    return client.post("/v1/tickets", json=body, headers=world.auth(who))


def completed(client: Any, world: Any, uow_factory: Any, env: str, who: str = "customer_a",
              **fields: Any) -> str:
    response = file(client, world, env, who, **fields)
    assert response.status_code == 201, response.get_json()
    complete_directly(uow_factory, response.get_json()["id"])
    return response.get_json()["id"]


def test_prod_import_citing_completed_dev_and_stage_changes_is_filed(client, world, uow_factory) -> None:
    dev = completed(client, world, uow_factory, "customer_a_dev")
    stage = completed(client, world, uow_factory, "customer_a_stage")

    response = file(client, world, "customer_a_prod", verified_on=[stage, dev])

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["verified_on_ids"] == [stage, dev]


def test_prod_import_citing_only_stage_is_told_to_cite_dev_too(client, world, uow_factory) -> None:
    stage = completed(client, world, uow_factory, "customer_a_stage")

    for given in (stage, [stage]):
        body = assert_problem(file(client, world, "customer_a_prod", verified_on=given), 422,
                              "prod_requires_staging_verification")
        assert body["errors"] == {"verified_on": ["also name the completed dev ticket with the same change"]}
        assert "dev and stage" in body["detail"]


def test_prod_import_without_verified_on_names_both_stages(client, world) -> None:
    body = assert_problem(file(client, world, "customer_a_prod"), 422, "prod_requires_staging_verification")
    assert body["errors"] == {"verified_on": ["name the completed dev and stage tickets in verified_on"]}


def test_each_cited_ticket_must_be_a_completed_identical_change(client, world, uow_factory) -> None:
    stage = completed(client, world, uow_factory, "customer_a_stage")
    other = completed(client, world, uow_factory, "customer_a_dev",
                      change={"kind": "data_import", "parameters": {"source": "s3://shop/other.csv"}})
    dev_pending = file(client, world, "customer_a_dev").get_json()["id"]

    body = assert_problem(file(client, world, "customer_a_prod", verified_on=[stage, dev_pending]), 422)
    assert body["errors"]["verified_on"] == [f"{dev_pending}: the named ticket is pending_approval, not completed"]
    body = assert_problem(file(client, world, "customer_a_prod", verified_on=[stage, other]), 422)
    assert body["errors"]["verified_on"] == [f"{other}: the named ticket made a different change"]


def test_two_stage_tickets_do_not_replace_the_dev_one(client, world, uow_factory) -> None:
    first = completed(client, world, uow_factory, "customer_a_stage")
    second = completed(client, world, uow_factory, "customer_a_stage")

    body = assert_problem(file(client, world, "customer_a_prod", verified_on=[first, second]), 422)
    assert "cite one per stage" in body["errors"]["verified_on"][0]


def test_another_tenants_ticket_cannot_be_cited(client, world, uow_factory) -> None:
    dev = completed(client, world, uow_factory, "customer_a_dev")
    foreign = completed(client, world, uow_factory, "customer_b_stage", who="customer_b")

    body = assert_problem(file(client, world, "customer_a_prod", verified_on=[dev, foreign]), 422)
    assert body["errors"]["verified_on"] == [f"{foreign}: no such ticket in this account"]


def test_an_account_without_a_dev_environment_is_told_so(client, world, uow_factory) -> None:
    account = operators.add_account("no-dev", "customer", uow=uow_factory()).id
    user = operators.add_user("nodev@example.com", account, "member", uow=uow_factory())
    world.tokens["no_dev"] = operators.issue_user_token(user.email, uow=uow_factory())
    for stage in ("stage", "prod"):
        world.envs[f"no_dev_{stage}"] = operators.add_environment(
            account, f"no-dev-{stage}", stage, uow=uow_factory()).id
    stage_id = completed(client, world, uow_factory, "no_dev_stage", who="no_dev")

    body = assert_problem(file(client, world, "no_dev_prod", "no_dev", verified_on=stage_id), 422,
                          "prod_requires_staging_verification")
    assert "this account has no dev environment" in body["errors"]["verified_on"][0]


def test_other_prod_changes_keep_the_single_stage_citation(client, world, uow_factory) -> None:
    stage = completed(client, world, uow_factory, "customer_a_stage",
                      change={"kind": "config", "parameters": {"A": "1"}})

    response = file(client, world, "customer_a_prod", verified_on=stage,
                    change={"kind": "config", "parameters": {"A": "1"}})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["verified_on"] == stage


@pytest.mark.parametrize("given", [[], ["a", "a"], ["a", "b", "c", "d"], [1], ""])
def test_a_malformed_verified_on_is_refused(client, world, given) -> None:
    body = assert_problem(file(client, world, "customer_a_prod", verified_on=given), 422)
    assert "verified_on" in body["errors"]


def test_options_name_the_stages_a_prod_import_must_cite(client, world, uow_factory) -> None:
    dev = completed(client, world, uow_factory, "customer_a_dev")

    response = client.get(f"/v1/environments/{world.envs['customer_a_prod']}/options",
                          headers=world.auth("customer_a"))

    assert response.status_code == 200, response.get_json()
    change = response.get_json()["change"]
    assert change["verified_on_stages"] == ["stage"]  # a change of no particular kind
    by_kind = {item["kind"]: item["verified_on_stages"] for item in change["kinds"]}
    assert by_kind["data_import"] == by_kind["integration"] == ["dev", "stage"]
    assert by_kind["config"] == ["stage"]
    assert dev in [candidate["ticket_id"] for candidate in change["verified_on_candidates"]]
