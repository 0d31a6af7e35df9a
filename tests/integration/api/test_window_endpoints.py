"""/v1/windows: support declares, lists and withdraws maintenance and freeze windows; bad windows
are refused naming the field, and nothing is stored."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from service.adapters.models import ChangeWindow
from tests.helpers import assert_problem
from tests.support.world import World

NIGHTLY = {"kind": "maintenance", "title": "Nightly maintenance", "start": "2026-12-07T22:00:00+01:00",
           "end": "2026-12-08T02:00:00+01:00", "rrule": "FREQ=DAILY", "timezone": "Europe/Berlin"}


def declare(client: Any, world: World, body: dict[str, Any], who: str = "support") -> Any:
    return client.post("/v1/windows", json=body, headers=world.auth(who))


def stored(uow_factory: Any) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(ChangeWindow))


def test_support_declares_a_nightly_window_and_sees_it_listed(client: Any, world: World) -> None:
    created = declare(client, world, {**NIGHTLY, "scope": {"stage": "prod"}})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["kind"] == "maintenance" and body["rrule"] == "FREQ=DAILY"
    assert body["scope"] == {"stage": "prod", "account_id": None, "environment_id": None}
    assert body["last_end"] is None and body["sequence"] == 0
    assert created.headers["Location"].endswith(body["id"])
    listed = client.get("/v1/windows", headers=world.auth("support")).get_json()
    assert [w["id"] for w in listed["items"]] == [body["id"]]


def test_a_window_with_count_knows_when_it_ends(client: Any, world: World) -> None:
    body = declare(client, world, {"kind": "freeze", "title": "Black Friday week",
                                   "start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z",
                                   "rrule": "FREQ=DAILY;COUNT=7"}).get_json()
    assert body["last_end"].startswith("2026-11-30T00:00:00")


def test_withdrawing_a_window_removes_it_from_the_list(client: Any, world: World) -> None:
    window = declare(client, world, NIGHTLY).get_json()
    gone = client.delete(f"/v1/windows/{window['id']}", headers=world.auth("support"))
    assert gone.status_code == 204
    assert client.get("/v1/windows", headers=world.auth("support")).get_json()["items"] == []
    assert_problem(client.delete(f"/v1/windows/{window['id']}", headers=world.auth("support")),
                   404, "not_found")


@pytest.mark.parametrize("who", ["customer_a", "partner_linked"])
def test_customers_and_partners_may_not_declare_windows(client: Any, world: World, uow_factory: Any,
                                                        who: str) -> None:
    assert_problem(declare(client, world, NIGHTLY, who=who), 403, "support_only")
    assert stored(uow_factory) == 0


@pytest.mark.parametrize("changes, field", [
    ({"rrule": "FREQ=SECONDLY"}, "rrule"),
    ({"rrule": "FREQ=DAILY;BYDAY=XX"}, "rrule"),
    ({"rrule": "FREQ=MONTHLY;BYMONTHDAY=-1;BYSETPOS=2"}, "rrule"),  # its parts never meet
    ({"rrule": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"}, "rrule"),
    ({"timezone": "Europe/Atlantis"}, "timezone"),
    ({"end": "2026-12-07T21:00:00+01:00"}, "end"),
    ({"kind": "holiday"}, "kind"),
    ({"scope": {"environment_id": "no-such-env"}}, "scope.environment_id"),
    ({"scope": {"account_id": "no-such-account"}}, "scope.account_id"),
    ({"scope": {"planet": "mars"}}, "scope"),
    ({"title": "   "}, "title"),
])
def test_a_bad_window_is_refused_naming_the_field_and_nothing_is_stored(
        client: Any, world: World, uow_factory: Any, changes: dict[str, Any], field: str) -> None:
    response = declare(client, world, {**NIGHTLY, **changes})
    assert_problem(response, 422)
    assert field.split(".")[0] in str(response.get_json().get("errors", {}))
    assert stored(uow_factory) == 0


def test_a_scope_whose_environment_belongs_to_another_account_is_refused(client: Any, world: World) -> None:
    body = {**NIGHTLY, "scope": {"account_id": world.accounts["customer_b"],
                                 "environment_id": world.envs["customer_a_prod"]}}
    assert_problem(declare(client, world, body), 422, "window_invalid")
