"""Promotions: completed stage changes that no completed prod change has cited yet."""
from __future__ import annotations

from typing import Any

from tests.helpers import assert_problem, change_body
from tests.integration.api.test_filing import complete_directly


def change(client: Any, world: Any, env: str, n: int, who: str = "customer_a", **fields: Any) -> str:
    body = change_body(world.envs[env], change={"kind": "config", "parameters": {"N": str(n)}}, **fields)
    response = client.post("/v1/tickets", json=body, headers=world.auth(who))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def promotions(client: Any, world: Any, who: str = "customer_a", env: str = "customer_a_prod",
               query: str = "") -> Any:
    return client.get(f"/v1/environments/{world.envs[env]}/promotions{query}", headers=world.auth(who))


def test_completed_stage_changes_wait_until_a_completed_prod_change_cites_them(
        client, world, uow_factory) -> None:
    first = change(client, world, "customer_a_stage", 1)
    complete_directly(uow_factory, first)
    second = change(client, world, "customer_a_stage", 2)
    complete_directly(uow_factory, second)
    change(client, world, "customer_a_stage", 3)  # still open: not verified yet
    complete_directly(uow_factory, change(client, world, "customer_b_stage", 9, who="customer_b"))

    listed = promotions(client, world).get_json()
    assert [t["id"] for t in listed["items"]] == [second, first]
    assert listed["next_cursor"] is None

    prod = change(client, world, "customer_a_prod", 1, verified_on=first)
    assert [t["id"] for t in promotions(client, world).get_json()["items"]] == [second, first]
    complete_directly(uow_factory, prod)
    assert [t["id"] for t in promotions(client, world).get_json()["items"]] == [second]
    assert [t["id"] for t in promotions(client, world, "partner_linked").get_json()["items"]] == [second]
    assert [t["id"] for t in promotions(client, world, "support").get_json()["items"]] == [second]


def test_promotions_are_paged_newest_first(client, world, uow_factory) -> None:
    ids = []
    for n in range(3):
        ids.append(change(client, world, "customer_a_stage", n))
        complete_directly(uow_factory, ids[-1])
    page = promotions(client, world, query="?limit=2").get_json()
    rest = promotions(client, world, query=f"?limit=2&cursor={page['next_cursor']}").get_json()
    assert [t["id"] for t in page["items"] + rest["items"]] == ids[::-1]


def test_promotions_are_listed_for_prod_environments_only(client, world) -> None:
    assert_problem(promotions(client, world, env="customer_a_stage"), 422, "not_prod")


def test_another_tenants_promotions_are_not_found(client, world) -> None:
    assert_problem(promotions(client, world, who="customer_b"), 404, "not_found")
    assert_problem(promotions(client, world, who="partner_unlinked"), 404, "not_found")
