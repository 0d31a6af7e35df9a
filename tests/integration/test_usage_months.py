"""GET /v1/usage counts each usage's days from its start, so a month holds the days that began
in it: usages crossing the month's start and end, open ones (until now), two usages of one
component, included days used up before the month, and another account's usage, on PostgreSQL
and SQLite."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from service.adapters.models import Usage
from service.app.registry import operators
from service.domain.prices import charged_days, minor_text, month_days
from tests.integration.test_pipeline import Pipeline, pipe  # noqa: F401  (the fixture)
from tests.integration.test_usage_ledger import usage_client  # noqa: F401  (the fixture)
from tests.support.world import file_via_use_case

NOW = datetime.fromisoformat("2030-04-10T08:30:00.500000+00:00")

# (environment, component, ticket, started, ended or None, price per day in cents, included days)
LEDGER = [
    ("a", "yves", "a", "2030-02-27T10:00:00.250000", "2030-03-03T09:00:00", 1850, 2),  # into March
    ("a", "zed", "a", "2030-03-30T12:00:00", None, 1000, 3),  # open, out of March
    ("a", "glue", "a", "2030-03-05T08:00:00", "2030-03-06T08:00:00", 1200, 0),  # two of one
    ("a", "glue", "b", "2030-03-10T08:00:00", "2030-03-10T09:00:00", 1200, 1),  # component
    ("a", "scheduler", "a", "2030-03-12T08:00:00.123456", "2030-03-15T08:00:00.123456", 500, 0),
    ("a", "search", "a", "2030-02-01T00:00:00", "2030-02-10T00:00:00", 900, 0),  # February only
    ("a", "broker", "a", "2030-04-02T00:00:00", None, 700, 0),  # from April
    ("upper", "yves", "b", "2030-02-27T12:00:00", "2030-03-01T06:00:00", 1850, 0),  # 2 days, in Feb
    ("upper", "database", "a", "2030-02-15T00:00:00", "2030-04-05T00:00:00", 2000, 20),
    ("upper", "key_value_store", "a", "2030-02-20T00:00:00", None, 300, 0),  # open since Feb
    ("b", "zed", "b", "2030-03-05T00:00:00", "2030-03-08T00:00:00", 1000, 0),  # another account
]


def seed(pipe: Pipeline) -> dict[str, str]:  # noqa: F811
    world = pipe.world
    upper = operators.add_environment(world.accounts["customer_a"], "B-upper", "stage",
                                      uow=pipe.uow_factory(), sizes={"yves": "medium"})
    envs = {"a": world.envs["customer_a_stage"], "upper": upper.id, "b": world.envs["customer_b_stage"]}
    tickets = {"a": file_via_use_case(world, uow=pipe.uow_factory(), now=pipe.clock()),
               "b": file_via_use_case(world, uow=pipe.uow_factory(), now=pipe.clock(), who="customer_b",
                                      env="customer_b_stage")}
    with pipe.uow_factory() as uow:
        for env, component, ticket, started, ended, daily, included in LEDGER:
            uow.session.add(Usage(
                account_id=world.accounts["customer_b" if env == "b" else "customer_a"], environment_id=envs[env],
                ticket_id=tickets[ticket], component=component, from_size="small", to_size="large",
                daily_minor=daily, currency="EUR", included_days=included,
                started_at=datetime.fromisoformat(started + "+00:00"),
                ended_at=datetime.fromisoformat(ended + "+00:00") if ended else None))
        uow.commit()
    pipe.clock.now = NOW
    return envs


def month(client: Any, pipe: Pipeline, text: str) -> dict[str, Any]:  # noqa: F811
    response = client.get(f"/v1/usage?month={text}", headers=pipe.world.auth("customer_a"))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def lines(report: dict[str, Any], envs: dict[str, str]) -> list[tuple[str, str, int, int, str]]:
    names = {env_id: key for key, env_id in envs.items()}
    return [(names[i["environment_id"]], i["component"], i["days"], i["included_days"], i["charge"])
            for i in report["items"]]


def test_a_month_holds_the_days_that_began_in_it(pipe: Pipeline, usage_client: Any) -> None:  # noqa: F811
    envs = seed(pipe)
    march = month(usage_client, pipe, "2030-03")
    # By environment name (B-upper before customer_a-stage), then component.
    assert lines(march, envs) == [
        ("upper", "database", 31, 6, "500.00"),  # 14 days in February, 6 of its 20 included left
        ("upper", "key_value_store", 31, 0, "93.00"),  # open: the whole month
        ("a", "glue", 2, 1, "12.00"),  # two usages of a day each, one of them included
        ("a", "scheduler", 3, 0, "15.00"),  # exactly three days, whatever the fraction of a second
        ("a", "yves", 2, 0, "37.00"),  # 4 days from February 27, 10:00; both included days there
        ("a", "zed", 2, 2, "0.00"),  # open from March 30, 12:00: two started days in March
    ]
    assert march["total"] == {"amount": "657.00", "currency": "EUR"}

    april = month(usage_client, pipe, "2030-04")  # the month of now: open usages count until now
    assert lines(april, envs) == [
        ("upper", "database", 4, 0, "80.00"),
        ("upper", "key_value_store", 10, 0, "30.00"),
        ("a", "broker", 9, 0, "63.00"),
        ("a", "zed", 9, 1, "80.00"),
    ]
    assert april["total"] == {"amount": "253.00", "currency": "EUR"}
    february = lines(month(usage_client, pipe, "2030-02"), envs)
    assert ("upper", "yves", 2, 0, "37.00") in february and ("a", "yves", 2, 2, "0.00") in february
    assert month(usage_client, pipe, "2030-05")["items"] == []


def by_the_domain(text: str) -> list[tuple[str, str, int, int, str]]:
    """The lines of month ``text`` of customer A by ``service.domain.prices``, usage by usage."""
    bounds = (datetime.fromisoformat(text + "-01T00:00:00+00:00"),
              datetime.fromisoformat(f"{text[:5]}{int(text[5:]) + 1:02d}-01T00:00:00+00:00"))
    found: dict[tuple[str, str], list[int]] = {}
    for env, component, _, started, ended, daily, included in LEDGER:
        before, within = month_days(datetime.fromisoformat(started + "+00:00"),
                                    datetime.fromisoformat(ended + "+00:00") if ended else None, bounds, now=NOW)
        if env != "b" and within > 0:
            line = found.setdefault((env, component), [0, 0, 0])
            charged = charged_days(included, before, within)
            line[0], line[1], line[2] = line[0] + within, line[1] + within - charged, line[2] + charged * daily
    return [(env, component, days, included, minor_text(minor, "EUR"))
            for (env, component), (days, included, minor) in sorted(
                found.items(), key=lambda item: ({"upper": "B-upper", "a": "customer_a-stage"}[item[0][0]], item[0][1]))]


def test_the_months_agree_with_the_domain_usage_by_usage(pipe: Pipeline, usage_client: Any) -> None:  # noqa: F811
    envs = seed(pipe)
    for text in ("2030-01", "2030-02", "2030-03", "2030-04"):
        assert lines(month(usage_client, pipe, text), envs) == by_the_domain(text), text


def test_the_csv_holds_the_lines_of_the_json(pipe: Pipeline, usage_client: Any) -> None:  # noqa: F811
    seed(pipe)
    report = month(usage_client, pipe, "2030-03")
    response = usage_client.get("/v1/usage?month=2030-03", headers={**pipe.world.auth("customer_a"),
                                                                    "Accept": "text/csv"})
    parsed = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert parsed == [{**{key: str(value) for key, value in item.items()}, "currency": "EUR"}
                      for item in report["items"]]
