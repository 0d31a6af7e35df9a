"""Lists: cursor pagination, tenant isolation, filters, environments and /v1/me over HTTP.

Every test runs on PostgreSQL and on SQLite (the ``database_url`` fixture is parametrized)."""
from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from service.app.registry import operators
from service.api import create_app
from service.api.runtime import build_runtime
from service.adapters.models import Ticket
from service.adapters.pagination import encode_cursor
from tests.helpers import assert_problem, change_body, upscale_body


def file_spread(client: Any, world: Any, uow_factory: Any) -> dict[str, list[str]]:
    """14 tickets: 7 for customer A, 7 for customer B, interleaved, over several environments.

    Each account gets two extra stage environments, so every stage environment takes one open
    upscale and one open change; dev takes a change. Returns ids per customer, in filing order."""
    targets: dict[str, list[tuple[str, str]]] = {}
    for customer in ("customer_a", "customer_b"):
        envs = [world.envs[f"{customer}_stage"]]
        for n in (2, 3):
            env = operators.add_environment(world.accounts[customer], f"{customer}-stage-{n}", "stage",
                                            uow=uow_factory(), sizes={"yves": "medium"})
            world.envs[f"{customer}_stage_{n}"] = env.id
            envs.append(env.id)
        targets[customer] = ([(env, "upscale") for env in envs] + [(env, "change") for env in envs]
                             + [(world.envs[f"{customer}_dev"], "change")])
    filed: dict[str, list[str]] = {"customer_a": [], "customer_b": [], "all": []}
    for pair in zip(targets["customer_a"], targets["customer_b"]):
        for customer, (env, kind) in zip(("customer_a", "customer_b"), pair):
            body = upscale_body(env) if kind == "upscale" else change_body(env)
            response = client.post("/v1/tickets", json=body, headers=world.auth(customer))
            assert response.status_code == 201, response.get_data(as_text=True)
            filed[customer].append(response.get_json()["id"])
            filed["all"].append(response.get_json()["id"])
    return filed


def walk(client: Any, world: Any, who: str, query: str = "", limit: int = 5,
         cursor: str | None = None) -> list[list[dict[str, Any]]]:
    """Every page, following next_cursor until it is null."""
    pages: list[list[dict[str, Any]]] = []
    while True:
        url = f"/v1/tickets?limit={limit}" + (f"&{query}" if query else "") + (
            f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=world.auth(who))
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "pagination does not terminate"


@pytest.fixture
def spread(client: Any, world: Any, uow_factory: Any) -> dict[str, list[str]]:
    return file_spread(client, world, uow_factory)


def ids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [item["id"] for page in pages for item in page]


# --- paging --------------------------------------------------------------------------------


def test_support_pages_through_every_ticket_newest_first_without_gaps(client, world, spread):
    pages = walk(client, world, "support", limit=5)

    assert [len(page) for page in pages] == [5, 5, 4]
    assert ids(pages) == list(reversed(spread["all"]))
    stamps = [item["created_at"] for page in pages for item in page]
    assert stamps == sorted(stamps, reverse=True)


def test_last_page_has_null_next_cursor_even_when_exactly_full(client, world, spread):
    pages = walk(client, world, "customer_a", limit=7)

    assert [len(page) for page in pages] == [7]
    assert ids(pages) == list(reversed(spread["customer_a"]))


def test_customer_pages_contain_only_their_own_tickets(client, world, spread):
    for customer, other in (("customer_a", "customer_b"), ("customer_b", "customer_a")):
        pages = walk(client, world, customer, limit=3)

        assert ids(pages) == list(reversed(spread[customer]))
        assert not set(ids(pages)) & set(spread[other])
        assert {item["account_id"] for page in pages for item in page} == {world.accounts[customer]}


def test_linked_partner_pages_show_the_linked_customer_only(client, world, spread):
    assert ids(walk(client, world, "partner_linked", limit=4)) == list(reversed(spread["customer_a"]))
    assert walk(client, world, "partner_unlinked", limit=4) == [[]]


def test_cursor_from_support_list_does_not_leak_other_tenants_to_customer(client, world, spread):
    first = client.get("/v1/tickets?limit=3", headers=world.auth("support")).get_json()
    seen_by_support = {item["id"] for item in first["items"]}

    pages = walk(client, world, "customer_b", limit=5, cursor=first["next_cursor"])

    got = ids(pages)
    assert got and set(got) <= set(spread["customer_b"])
    assert not set(got) & set(spread["customer_a"])
    # it continues after the position the cursor names: nothing newer than support's page 1
    assert set(got) == set(spread["customer_b"]) - seen_by_support


def test_pages_do_not_skip_tickets_filed_in_the_same_instant(settings, world, uow_factory):
    instant = datetime.now(timezone.utc).replace(microsecond=0)
    frozen = create_app(settings, runtime=build_runtime(settings, clock=lambda: instant))
    client = frozen.test_client()
    filed = file_spread(client, world, uow_factory)

    pages = walk(client, world, "support", limit=4)

    assert sorted(ids(pages)) == sorted(filed["all"])
    assert len(ids(pages)) == len(set(ids(pages))) == 14
    assert {item["created_at"] for page in pages for item in page} == {pages[0][0]["created_at"]}


# --- filters -------------------------------------------------------------------------------


def test_filters_by_status_type_and_environment(client, world, spread):
    a_tickets = spread["customer_a"]
    for ticket_id in a_tickets[:2]:
        assert client.post(f"/v1/tickets/{ticket_id}/approve",
                           headers=world.auth("support")).status_code == 200
    assert client.post(f"/v1/tickets/{a_tickets[2]}/reject", json={"reason": "no budget"},
                       headers=world.auth("support")).status_code == 200

    approved = ids(walk(client, world, "customer_a", "status=approved", limit=1))
    rejected = ids(walk(client, world, "support", "status=rejected", limit=2))
    pending_b = ids(walk(client, world, "customer_b", "status=approved"))
    upscales = walk(client, world, "support", "type=upscale", limit=2)
    changes = walk(client, world, "customer_b", "type=change", limit=2)
    stage = world.envs["customer_a_stage"]
    on_stage = walk(client, world, "support", f"environment_id={stage}", limit=1)
    stage_upscale = ids(walk(client, world, "customer_a", f"environment_id={stage}&type=upscale"))

    assert approved == list(reversed(a_tickets[:2]))
    assert rejected == [a_tickets[2]]
    assert pending_b == []
    assert len(ids(upscales)) == 6 and {i["type"] for p in upscales for i in p} == {"upscale"}
    assert len(ids(changes)) == 4 and {i["type"] for p in changes for i in p} == {"change"}
    assert {i["account_id"] for p in changes for i in p} == {world.accounts["customer_b"]}
    assert len(ids(on_stage)) == 2 and {i["environment_id"] for p in on_stage for i in p} == {stage}
    assert stage_upscale == [a_tickets[0]]


def test_customer_filtering_by_another_tenants_environment_sees_nothing(client, world, spread):
    query = f"environment_id={world.envs['customer_a_stage']}"

    assert walk(client, world, "customer_b", query) == [[]]
    assert walk(client, world, "partner_unlinked", query) == [[]]


@pytest.mark.parametrize("query", ["status=open", "type=downgrade", "status=", "environment_id=" + "x" * 65])
def test_invalid_filter_is_422(client, world, query):
    problem = assert_problem(client.get(f"/v1/tickets?{query}", headers=world.auth("support")), 422)

    assert set(problem["errors"]) & {"status", "type", "environment_id"}


# --- limit ---------------------------------------------------------------------------------


def test_limit_above_200_is_clamped(client, world, uow_factory):
    base = datetime.now(timezone.utc) - timedelta(days=1)
    with uow_factory() as uow:
        for n in range(205):
            uow.session.add(Ticket(
                type="upscale", status="completed", environment_id=world.envs["customer_a_stage"],
                account_id=world.accounts["customer_a"], requester_id=world.users["customer_a"],
                summary=f"old request {n}", resources=[{"component": "yves", "size": "large"}],
                created_at=base + timedelta(seconds=n), updated_at=base + timedelta(seconds=n)))
        uow.commit()

    first = client.get("/v1/tickets?limit=1000", headers=world.auth("customer_a")).get_json()
    rest = client.get(f"/v1/tickets?limit=1000&cursor={first['next_cursor']}",
                      headers=world.auth("customer_a")).get_json()

    assert len(first["items"]) == 200 and first["next_cursor"]
    assert len(rest["items"]) == 5 and rest["next_cursor"] is None
    assert first["items"][0]["summary"] == "old request 204"
    assert rest["items"][-1]["summary"] == "old request 0"


def test_default_page_is_50(client, world, spread):
    body = client.get("/v1/tickets", headers=world.auth("support")).get_json()

    assert len(body["items"]) == 14 and body["next_cursor"] is None


def test_limit_1000_with_few_tickets_returns_them_all(client, world, spread):
    body = client.get("/v1/tickets?limit=1000", headers=world.auth("support")).get_json()

    assert len(body["items"]) == 14 <= 200
    assert body["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "-1", "-1000", "abc", "1.5", ""])
def test_limit_below_one_or_not_a_number_is_422(client, world, limit):
    problem = assert_problem(client.get(f"/v1/tickets?limit={limit}", headers=world.auth("support")), 422)

    assert "limit" in problem["errors"]


# --- cursors -------------------------------------------------------------------------------


def _flip(cursor: str, index: int) -> str:
    char = cursor[index]
    return cursor[:index] + ("B" if char != "B" else "C") + cursor[index + 1:]


def _signed_elsewhere(stamp: str, row_id: str) -> str:
    """A well-formed cursor signed with a key that is not the service's."""
    return encode_cursor(b"not the key of this service", datetime.fromisoformat(stamp), row_id)


def test_forged_or_tampered_cursor_is_422_invalid_cursor(client, world, spread):
    page = client.get("/v1/tickets?limit=3", headers=world.auth("customer_a")).get_json()
    real, last = page["next_cursor"], page["items"][-1]
    forged = {
        "flipped-first": _flip(real, 0),
        "flipped-middle": _flip(real, len(real) // 2),
        "flipped-in-signature": _flip(real, len(real) - 5),
        "truncated": real[:-6],
        "random-base64": base64.urlsafe_b64encode(os.urandom(48)).decode().rstrip("="),
        "signed-with-another-key": _signed_elsewhere(last["created_at"], last["id"]),
        "another-key-pointing-elsewhere": _signed_elsewhere("2999-01-01T00:00:00+00:00", "zzzz"),
        "short": "abc",
    }
    for name, cursor in forged.items():
        response = client.get("/v1/tickets", query_string={"limit": 3, "cursor": cursor},
                              headers=world.auth("customer_a"))

        problem = assert_problem(response, 422, "invalid_cursor")
        assert "cursor" in problem["errors"], name


@pytest.mark.parametrize("cursor", ["!!!not a cursor!!!", "a b", "x" * 600, "%00"])
def test_cursor_that_is_not_even_base64_is_422_naming_cursor(client, world, cursor):
    response = client.get("/v1/tickets", query_string={"cursor": cursor}, headers=world.auth("support"))

    assert "cursor" in assert_problem(response, 422)["errors"]


def test_forged_cursor_on_environments_is_422(client, world):
    response = client.get("/v1/environments", query_string={"cursor": _signed_elsewhere("2999-01-01T00:00:00+00:00", "zzzz")},
                          headers=world.auth("support"))

    assert_problem(response, 422, "invalid_cursor")


# --- environments --------------------------------------------------------------------------


def env_ids(client: Any, world: Any, who: str, query: str = "") -> set[str]:
    response = client.get(f"/v1/environments{query}", headers=world.auth(who))
    assert response.status_code == 200
    return {env["id"] for env in response.get_json()["items"]}


def envs_of(world: Any, customer: str) -> set[str]:
    return {world.envs[f"{customer}_{stage}"] for stage in ("dev", "stage", "prod")}


def test_environments_list_shows_what_each_caller_may_see(client, world):
    assert env_ids(client, world, "customer_a") == envs_of(world, "customer_a")
    assert env_ids(client, world, "customer_b") == envs_of(world, "customer_b")
    assert env_ids(client, world, "partner_linked") == envs_of(world, "customer_a")
    assert env_ids(client, world, "partner_unlinked") == set()
    assert env_ids(client, world, "support") == envs_of(world, "customer_a") | envs_of(world, "customer_b")


def test_environments_carry_current_sizing(client, world):
    items = client.get("/v1/environments", headers=world.auth("customer_a")).get_json()["items"]

    for env in items:
        assert env["sizes"]["yves"] == "medium"
        assert env["account_id"] == world.accounts["customer_a"]
    assert {env["stage"] for env in items} == {"dev", "stage", "prod"}


def test_environment_filter_by_another_account_shows_nothing(client, world):
    query = f"?account_id={world.accounts['customer_b']}"

    assert env_ids(client, world, "customer_a", query) == set()
    assert env_ids(client, world, "partner_linked", query) == set()
    assert env_ids(client, world, "support", query) == envs_of(world, "customer_b")


def test_environments_page_without_gaps(client, world):
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v1/environments", query_string=query, headers=world.auth("support")).get_json()
        seen += [env["id"] for env in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert len(seen) == len(set(seen)) == 6


@pytest.mark.parametrize("who, env, visible", [
    ("customer_a", "customer_a_prod", True),
    ("customer_a", "customer_b_prod", False),
    ("customer_b", "customer_a_stage", False),
    ("partner_linked", "customer_a_dev", True),
    ("partner_linked", "customer_b_dev", False),
    ("partner_unlinked", "customer_a_dev", False),
    ("support", "customer_b_stage", True),
])
def test_environment_of_another_tenant_is_404(client, world, who, env, visible):
    response = client.get(f"/v1/environments/{world.envs[env]}", headers=world.auth(who))

    if visible:
        assert response.status_code == 200
        assert response.get_json()["id"] == world.envs[env]
    else:
        assert_problem(response, 404)


# --- /v1/me --------------------------------------------------------------------------------


@pytest.mark.parametrize("who, account, kind, role", [
    ("customer_a", "customer_a", "customer", "member"),
    ("customer_b", "customer_b", "customer", "member"),
    ("partner_linked", "partner_linked", "partner", "member"),
    ("partner_unlinked", "partner_unlinked", "partner", "member"),
    ("support", "provider", "provider", "support"),
    ("support_2", "provider", "provider", "support"),
])
def test_me_says_who_the_token_belongs_to(client, world, who, account, kind, role):
    response = client.get("/v1/me", headers=world.auth(who))

    assert response.status_code == 200
    me = response.get_json()
    assert me["user_id"] == world.users[who]
    assert me["email"] == f"{who}@example.com"
    assert me["account_id"] == world.accounts[account]
    assert me["account_name"] == account
    assert me["kind"] == kind
    assert me["role"] == role
