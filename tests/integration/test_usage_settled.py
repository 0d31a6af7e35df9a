"""A settled month's usage (ended over an hour ago) is rendered once and then served as kept; the
month of now is computed on every request. Both carry an ETag and answer If-None-Match with 304,
on PostgreSQL and SQLite."""
from __future__ import annotations

import csv
import dataclasses
import io
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from service.adapters.models import Usage
from service.api import create_app
from service.api.runtime import build_runtime
from service.app.billing.allowances import set_allowance
from tests.helpers import assert_problem
from tests.integration.test_pipeline import Pipeline, pipe  # noqa: F401  (the fixture)
from tests.integration.test_usage_ledger import SAMPLE, usage_client  # noqa: F401  (the fixture)
from tests.integration.test_usage_months import seed

CSV = {"Accept": "text/csv"}


def get(client: Any, pipe: Pipeline, month: str, who: str = "customer_a", **headers: str) -> Any:  # noqa: F811
    query = f"/v1/usage?month={month}"
    if "account_id" in headers:
        query += f"&account_id={headers.pop('account_id')}"
    return client.get(query, headers={**pipe.world.auth(who), **headers})


def fresh(pipe: Pipeline, settings: Any) -> Any:  # noqa: F811
    """A client of an API process that keeps nothing: every month computed as it is asked."""
    plain = dataclasses.replace(settings, price_list=str(SAMPLE), usage_cache_bytes=0)
    return create_app(plain, build_runtime(plain, clock=pipe.clock)).test_client()


def add_usage(pipe: Pipeline, env_id: str, component: str, started: datetime) -> None:  # noqa: F811
    world = pipe.world
    with pipe.uow_factory() as uow:  # a ticket of the seed with no usage of the component
        ticket_id = uow.session.scalar(select(Usage.ticket_id).where(Usage.account_id == world.accounts["customer_b"]))
        uow.session.add(Usage(account_id=world.accounts["customer_a"], environment_id=env_id, ticket_id=ticket_id,
                              component=component, from_size="small", to_size="large", daily_minor=1000,
                              currency="EUR", included_days=0, started_at=started))
        uow.commit()


def test_a_settled_month_is_served_as_a_fresh_computation(pipe: Pipeline, usage_client: Any,  # noqa: F811
                                                          settings: Any) -> None:
    seed(pipe)
    first = [get(usage_client, pipe, "2030-03", **kind).get_data() for kind in ({}, CSV)]
    again = [get(usage_client, pipe, "2030-03", **kind).get_data() for kind in ({}, CSV)]
    computed = [get(fresh(pipe, settings), pipe, "2030-03", **kind).get_data() for kind in ({}, CSV)]
    assert first == again == computed
    assert b'"total":{"amount":"657.00","currency":"EUR"}' in again[0].replace(b" ", b"")
    assert list(csv.reader(io.StringIO(again[1].decode())))[0][:3] == ["environment_id", "environment", "component"]


def test_an_allowance_set_later_leaves_the_charges_a_settled_month_accepted(
        pipe: Pipeline, usage_client: Any, settings: Any) -> None:  # noqa: F811
    """A usage carries the included days of the quote accepted when it was filed: a later
    allowance changes quotes, not the months already used."""
    seed(pipe)
    before = get(usage_client, pipe, "2030-03").get_json()
    set_allowance(pipe.world.accounts["customer_a"], 1000, uow=pipe.uow_factory(), year=2030)
    after = get(usage_client, pipe, "2030-03").get_json()
    assert after == before == get(fresh(pipe, settings), pipe, "2030-03").get_json()
    assert after["total"]["amount"] == "657.00"


def test_the_month_of_now_shows_a_new_usage_at_once(pipe: Pipeline, usage_client: Any) -> None:  # noqa: F811
    envs = seed(pipe)
    april = get(usage_client, pipe, "2030-04")
    assert april.get_json()["total"]["amount"] == "253.00"
    add_usage(pipe, envs["a"], "scheduler", pipe.clock() - timedelta(hours=2))
    later = get(usage_client, pipe, "2030-04", **{"If-None-Match": april.headers["ETag"]})
    assert later.status_code == 200 and later.headers["ETag"] != april.headers["ETag"]
    assert later.get_json()["total"]["amount"] == "263.00"  # one day at 10.00


def test_a_month_ended_within_the_hour_still_takes_a_late_usage(pipe: Pipeline, usage_client: Any) -> None:  # noqa: F811
    """A worker that took its time before midnight may commit after it: the month just ended is
    computed as asked until an hour has passed."""
    envs = seed(pipe)
    pipe.clock.now = datetime.fromisoformat("2030-04-01T00:30:00+00:00")
    march = get(usage_client, pipe, "2030-03").get_json()
    add_usage(pipe, envs["a"], "scheduler", datetime.fromisoformat("2030-03-31T23:59:59+00:00"))
    late = get(usage_client, pipe, "2030-03").get_json()
    assert float(late["total"]["amount"]) == float(march["total"]["amount"]) + 10


def test_another_accounts_kept_month_is_never_served(pipe: Pipeline, usage_client: Any) -> None:  # noqa: F811
    envs = seed(pipe)
    world = pipe.world
    own = get(usage_client, pipe, "2030-03").get_json()
    theirs = get(usage_client, pipe, "2030-03", who="customer_b").get_json()
    assert {i["environment_id"] for i in theirs["items"]} == {envs["b"]}
    assert theirs["total"]["amount"] == "30.00" and own["total"]["amount"] == "657.00"
    assert_problem(get(usage_client, pipe, "2030-03", who="customer_b", account_id=world.accounts["customer_a"]), 404)
    staff = get(usage_client, pipe, "2030-03", who="support", account_id=world.accounts["customer_b"]).get_json()
    assert staff == theirs


def test_an_etag_current_is_answered_304(pipe: Pipeline, usage_client: Any) -> None:  # noqa: F811
    seed(pipe)
    for month in ("2030-03", "2030-04"):  # settled, and the month of now
        as_json, as_csv = get(usage_client, pipe, month), get(usage_client, pipe, month, **CSV)
        assert as_json.headers["ETag"] != as_csv.headers["ETag"]
        assert "private" in as_json.headers["Cache-Control"] and "private" in as_csv.headers["Cache-Control"]
        same = get(usage_client, pipe, month, **{"If-None-Match": as_json.headers["ETag"]})
        assert (same.status_code, same.get_data(), same.headers["ETag"]) == (304, b"", as_json.headers["ETag"])
        assert "private" in same.headers["Cache-Control"]
        assert get(usage_client, pipe, month, **CSV, **{"If-None-Match": as_csv.headers["ETag"]}).status_code == 304
        other = get(usage_client, pipe, month, **CSV, **{"If-None-Match": as_json.headers["ETag"]})
        assert other.status_code == 200 and other.get_data() == as_csv.get_data()
    # Another account's tag names another body.
    tag = get(usage_client, pipe, "2030-03").headers["ETag"]
    assert get(usage_client, pipe, "2030-03", who="customer_b", **{"If-None-Match": tag}).status_code == 200
