"""Cheap polling for the portal: If-None-Match on one ticket, updated_since and stage on the list."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import pytest

from service.api import create_app
from service.api.runtime import build_runtime
from service.adapters.config import Settings
from tests.support.fakes import Clock
from tests.support.world import World
from tests.helpers import assert_problem, change_body, upscale_body

T0 = datetime(2030, 1, 6, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def api(settings: Settings, clock: Clock) -> Any:
    return create_app(settings, build_runtime(settings, clock=clock)).test_client()


def file(api: Any, world: World, body: dict[str, Any], who: str = "customer_a") -> dict[str, Any]:
    response = api.post("/v1/tickets", json=body, headers=world.auth(who))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def ids(api: Any, world: World, query: str, who: str = "customer_a", limit: int = 50) -> list[str]:
    found, cursor = [], None
    while True:
        url = f"/v1/tickets?limit={limit}&{query}" + (f"&cursor={cursor}" if cursor else "")
        response = api.get(url, headers=world.auth(who))
        assert response.status_code == 200, response.get_data(as_text=True)
        found += [t["id"] for t in response.get_json()["items"]]
        cursor = response.get_json()["next_cursor"]
        if cursor is None:
            return found


def since(moment: datetime) -> str:
    return "updated_since=" + quote(moment.isoformat())


def test_unchanged_ticket_is_304_until_it_changes(api: Any, world: World, clock: Clock) -> None:
    ticket = file(api, world, upscale_body(world.envs["customer_a_stage"]))
    first = api.get(f"/v1/tickets/{ticket['id']}", headers=world.auth("customer_a"))
    etag = first.headers["ETag"]

    for held in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = api.get(f"/v1/tickets/{ticket['id']}", headers={"If-None-Match": held, **world.auth("customer_a")})
        assert again.status_code == 304
        assert again.get_data() == b""
        assert again.headers["ETag"] == etag

    clock.now += timedelta(minutes=5)
    assert api.post(f"/v1/tickets/{ticket['id']}/approve", headers=world.auth("support")).status_code == 200
    changed = api.get(f"/v1/tickets/{ticket['id']}", headers={"If-None-Match": etag, **world.auth("customer_a")})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["status"] == "approved"


def test_if_none_match_does_not_reveal_another_tenants_ticket(api: Any, world: World) -> None:
    ticket = file(api, world, upscale_body(world.envs["customer_a_stage"]))
    response = api.get(f"/v1/tickets/{ticket['id']}", headers={"If-None-Match": "*", **world.auth("customer_b")})
    assert_problem(response, 404, "not_found")


def test_updated_since_lists_only_what_changed(api: Any, world: World, clock: Clock) -> None:
    upscale = file(api, world, upscale_body(world.envs["customer_a_stage"]))
    change = file(api, world, change_body(world.envs["customer_a_dev"]))
    clock.now = T0 + timedelta(hours=1)
    assert api.post(f"/v1/tickets/{upscale['id']}/approve", headers=world.auth("support")).status_code == 200

    assert ids(api, world, since(T0 + timedelta(minutes=30))) == [upscale["id"]]
    assert ids(api, world, since(T0 + timedelta(hours=1))) == [upscale["id"]]
    assert ids(api, world, since(T0 + timedelta(hours=2))) == []
    assert sorted(ids(api, world, since(T0))) == sorted([upscale["id"], change["id"]])
    offset = (T0 + timedelta(minutes=30)).astimezone(timezone(timedelta(hours=2)))
    assert ids(api, world, since(offset)) == [upscale["id"]]


def test_updated_since_pages_with_stable_cursors(api: Any, world: World, clock: Clock) -> None:
    filed = []
    for body in (change_body(world.envs["customer_a_stage"]), change_body(world.envs["customer_a_dev"]),
                 upscale_body(world.envs["customer_a_stage"])):
        clock.now += timedelta(minutes=1)
        filed.append(file(api, world, body)["id"])
    walked = ids(api, world, since(T0), limit=1)
    assert walked == list(reversed(filed))


def test_stage_filter_and_tenant_isolation(api: Any, world: World) -> None:
    stage_ticket = file(api, world, upscale_body(world.envs["customer_a_stage"]))
    dev_ticket = file(api, world, change_body(world.envs["customer_a_dev"]))
    other = file(api, world, upscale_body(world.envs["customer_b_stage"]), who="customer_b")

    assert ids(api, world, "stage=stage") == [stage_ticket["id"]]
    assert ids(api, world, "stage=dev") == [dev_ticket["id"]]
    assert ids(api, world, "stage=prod") == []
    assert ids(api, world, "stage=stage", who="customer_b") == [other["id"]]
    assert sorted(ids(api, world, "stage=stage", who="support")) == sorted([stage_ticket["id"], other["id"]])
    assert ids(api, world, "stage=stage&" + since(T0), who="partner_linked") == [stage_ticket["id"]]


@pytest.mark.parametrize("query, field", [
    ("updated_since=2030-01-06T09:00:00", "updated_since"),
    ("updated_since=yesterday", "updated_since"),
    ("stage=qa", "stage"),
])
def test_bad_filters_are_422_naming_the_parameter(api: Any, world: World, query: str, field: str) -> None:
    body = assert_problem(api.get(f"/v1/tickets?{query}", headers=world.auth("customer_a")), 422)
    assert field in body["errors"]
