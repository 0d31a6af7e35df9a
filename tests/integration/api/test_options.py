"""GET /v1/environments/{id}/options: what the caller may file, and that filing agrees."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import update

from service.domain.hosting import COMPONENTS, SIZES
from service.adapters.models import Environment, Ticket
from tests.support.world import World
from tests.helpers import assert_problem, change_body, upscale_body


def options(client: Any, world: World, env: str, who: str = "customer_a") -> Any:
    return client.get(f"/v1/environments/{world.envs[env]}/options", headers=world.auth(who))


def components(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["component"]: c for c in body["upscale"]["components"]}


def set_env(uow_factory: Any, env_id: str, **values: Any) -> None:
    with uow_factory() as uow:
        uow.session.execute(update(Environment).where(Environment.id == env_id).values(**values))
        uow.commit()


def test_stage_environment_lists_the_sizes_each_component_may_grow_to(
        client: Any, world: World, uow_factory: Any) -> None:
    set_env(uow_factory, world.envs["customer_a_stage"], caps={"yves": "xlarge", "zed": "small"},
            sizes={**{c: "small" for c in COMPONENTS}, "yves": "medium"})
    response = options(client, world, "customer_a_stage")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["upscale"]["allowed"] is True
    assert (body["upscale"]["rule"], body["upscale"]["approval"], body["upscale"]["min_notice_hours"]) == (
        None, "single", 0)
    by_component = components(body)
    assert set(by_component) == set(COMPONENTS)
    assert by_component["yves"] == {"component": "yves", "current_size": "medium", "cap": "xlarge",
                                    "raisable_sizes": ["large", "xlarge"], "prices": []}
    assert by_component["zed"]["raisable_sizes"] == []
    assert by_component["glue"]["raisable_sizes"] == ["medium", "large", "xlarge", "2xlarge"]
    assert body["change"]["allowed"] is True
    assert body["change"]["verified_on_required"] is False


@pytest.mark.parametrize("env, rule", [("customer_a_dev", "dev_not_scalable"),
                                       ("customer_a_prod", "prod_autoscales")])
def test_upscale_refusal_names_the_rule_and_a_sentence(client: Any, world: World, env: str, rule: str) -> None:
    body = options(client, world, env).get_json()
    assert body["upscale"]["allowed"] is False
    assert body["upscale"]["rule"] == rule
    assert body["upscale"]["detail"]
    assert body["change"]["allowed"] is True


def test_prod_change_needs_verification_and_lists_completed_stage_changes(
        client: Any, world: World, uow_factory: Any) -> None:
    filed = client.post("/v1/tickets", json=change_body(world.envs["customer_a_stage"]),
                        headers=world.auth("customer_a")).get_json()
    pending = options(client, world, "customer_a_prod").get_json()["change"]
    assert pending["verified_on_required"] is True
    assert pending["verified_on_candidates"] == []
    with uow_factory() as uow:
        uow.session.execute(update(Ticket).where(Ticket.id == filed["id"]).values(status="completed"))
        uow.commit()
    candidates = options(client, world, "customer_a_prod").get_json()["change"]["verified_on_candidates"]
    assert [(c["ticket_id"], c["environment_id"], c["change"]) for c in candidates] == [
        (filed["id"], world.envs["customer_a_stage"], filed["change"])]
    assert options(client, world, "customer_b_prod", "customer_b").get_json()["change"][
        "verified_on_candidates"] == []


def test_an_open_request_blocks_a_second_of_its_type(client: Any, world: World) -> None:
    first = client.post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"]),
                        headers=world.auth("customer_a"))
    assert first.status_code == 201
    body = options(client, world, "customer_a_stage").get_json()
    assert (body["upscale"]["allowed"], body["upscale"]["rule"]) == (False, "duplicate_open_request")
    assert first.get_json()["id"] in body["upscale"]["detail"]
    assert body["change"]["allowed"] is True


@pytest.mark.parametrize("who", ["partner_linked", "support"])
def test_partners_and_staff_see_that_only_customers_file(client: Any, world: World, who: str) -> None:
    body = options(client, world, "customer_a_stage", who).get_json()
    for kind in ("upscale", "change"):
        assert (body[kind]["allowed"], body[kind]["rule"]) == (False, "customer_only")
        assert "customer" in body[kind]["detail"]


@pytest.mark.parametrize("who", ["customer_b", "partner_unlinked"])
def test_other_tenants_get_404(client: Any, world: World, who: str) -> None:
    assert_problem(options(client, world, "customer_a_stage", who), 404, "not_found")


def test_unknown_environment_is_404(client: Any, world: World) -> None:
    response = client.get("/v1/environments/00000000-0000-0000-0000-000000000000/options",
                          headers=world.auth("customer_a"))
    assert_problem(response, 404, "not_found")


# --- "allowed" agrees with filing's answer, over a grid of contracts, sizes and callers ----

OVERRIDE = st.sampled_from([None, True, False])
CONTRACTS = st.fixed_dictionaries({
    "stage": st.sampled_from(["dev", "stage", "prod"]),
    "upscale_allowed": OVERRIDE,
    "requires_staging_verification": OVERRIDE,
    "current": st.sampled_from(SIZES),
    "cap": st.sampled_from([None, *SIZES]),
})


@hypothesis_settings(max_examples=40, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contract=CONTRACTS, component=st.sampled_from(COMPONENTS), size=st.sampled_from(SIZES),
       who=st.sampled_from(["customer_a", "partner_linked", "support"]), open_first=st.booleans())
def test_options_agree_with_filing(client: Any, world: World, uow_factory: Any, contract: dict[str, Any],
                                   component: str, size: str, who: str, open_first: bool) -> None:
    env_id = world.envs["customer_a_stage"]
    with uow_factory() as uow:  # a fresh contract and no open request left from an earlier example
        uow.session.execute(update(Ticket).where(Ticket.environment_id == env_id).values(status="cancelled"))
        uow.commit()
    set_env(uow_factory, env_id, stage=contract["stage"], upscale_allowed=contract["upscale_allowed"],
            requires_staging_verification=contract["requires_staging_verification"],
            sizes={component: contract["current"]}, caps={component: contract["cap"]} if contract["cap"] else {})
    if open_first:  # an open change (where one may be filed without verification) blocks another
        opened = client.post("/v1/tickets", json=change_body(env_id), headers=world.auth("customer_a"))
        assert opened.status_code in (201, 422)

    body = options(client, world, "customer_a_stage", who).get_json()
    upscale = client.post("/v1/tickets", json=upscale_body(env_id, resources=[{"component": component, "size": size}]),
                          headers=world.auth(who))
    raisable = components(body)[component]["raisable_sizes"]
    assert (upscale.status_code == 201) == (body["upscale"]["allowed"] and size in raisable), upscale.get_json()
    if not body["upscale"]["allowed"]:
        assert upscale.get_json()["rule"] == body["upscale"]["rule"]

    change = client.post("/v1/tickets", json=change_body(env_id), headers=world.auth(who))
    verdict = body["change"]
    if verdict["allowed"] and verdict["verified_on_required"]:
        assert change.get_json()["rule"] == "prod_requires_staging_verification"
    else:
        assert (change.status_code == 201) == verdict["allowed"], change.get_json()
    if not verdict["allowed"]:
        assert change.get_json()["rule"] == verdict["rule"]
