"""Prices through the HTTP API, on PostgreSQL and SQLite: quotes that store nothing, prices in
``options``, consent at filing, the acceptance kept on the ticket and its event."""
from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from service.api import create_app
from service.api.runtime import build_runtime
from service.app.billing.allowances import set_allowance
from service.adapters.models import Ticket, TicketEvent, Usage
from tests.helpers import assert_problem, change_body, upscale_body, utc
from tests.support.world import World, file_via_use_case

NOW = utc(2030, 3, 4, 9, 0)
SAMPLE = Path(__file__).parents[3] / "service" / "entrypoints" / "sample_price_list.yaml"


@pytest.fixture
def client(settings: Any) -> Any:
    priced = dataclasses.replace(settings, price_list=str(SAMPLE))
    return create_app(priced, build_runtime(priced, clock=lambda: NOW)).test_client()


def temporary(world: World, days: float = 3, **extra: Any) -> dict[str, Any]:
    start = NOW + timedelta(hours=1)
    return upscale_body(world.envs["customer_a_stage"], period={
        "start": start.isoformat(), "end": (start + timedelta(days=days)).isoformat()}, **extra)


def counts(uow_factory: Any) -> tuple[int, int, int]:
    with uow_factory() as uow:
        return tuple(uow.session.scalar(select(func.count()).select_from(model))  # type: ignore[return-value]
                     for model in (Ticket, TicketEvent, Usage))


def test_a_quote_names_days_lines_and_the_charge_and_stores_nothing(client, world, uow_factory) -> None:
    response = client.post("/v1/quotes", json=temporary(world), headers=world.auth("customer_a"))
    assert response.status_code == 200, response.get_data(as_text=True)
    quote = response.get_json()
    assert quote["days"] == 3 and quote["temporary"] is True and quote["per_day"] is False
    assert quote["lines"] == [{"component": "yves", "from_size": "medium", "to_size": "large",
                               "steps": [{"size": "large", "price_per_day": "18.50"}],
                               "price_per_day": "18.50", "days": 3, "included_days": 0, "charge": "55.50"}]
    assert quote["charge"] == {"amount": "55.50", "currency": "EUR"}
    assert quote["within_allowance"] is False and quote["accept_charges"] == quote["charge"]
    assert quote["allowance"] == {"year": 2030, "days": 0, "used": 0, "included": 0, "left": 0}
    assert counts(uow_factory) == (0, 0, 0)


def test_included_days_are_used_before_anything_is_charged(client, world, uow_factory) -> None:
    set_allowance(world.accounts["customer_a"], 2, uow=uow_factory(), year=2030)
    quote = client.post("/v1/quotes", json=temporary(world), headers=world.auth("customer_a")).get_json()
    assert quote["charge"]["amount"] == "18.50" and quote["lines"][0]["included_days"] == 2
    assert quote["allowance"] == {"year": 2030, "days": 2, "used": 0, "included": 2, "left": 0}
    set_allowance(world.accounts["customer_a"], 10, uow=uow_factory(), year=2030)
    quote = client.post("/v1/quotes", json=temporary(world), headers=world.auth("customer_a")).get_json()
    assert quote["within_allowance"] is True and quote["charge"]["amount"] == "0.00"
    assert quote["accept_charges"] is None and quote["allowance"]["left"] == 7


def test_the_included_days_used_are_those_of_the_usages_started_in_the_contract_year(
        client, world, uow_factory) -> None:
    ticket = file_via_use_case(world, uow=uow_factory(), now=NOW)
    # (account, component, started, ended, included days): 2 + 1 + 4 of 2030's days are used
    for account, component, started, ended, included in (
            ("customer_a", "yves", utc(2029, 12, 30), utc(2030, 1, 2), 3),  # started the year before
            ("customer_a", "zed", utc(2030, 1, 10), utc(2030, 1, 12), 2),
            ("customer_a", "glue", utc(2030, 2, 1), None, 1),  # still open
            ("customer_a", "scheduler", utc(2030, 2, 20), utc(2031, 1, 5), 4),  # ends the year after
            ("customer_b", "database", utc(2030, 2, 1), utc(2030, 2, 3), 5)):  # another account
        with uow_factory() as uow:
            uow.session.add(Usage(account_id=world.accounts[account], environment_id=world.envs[f"{account}_stage"],
                                  ticket_id=ticket, component=component, from_size="small", to_size="large",
                                  daily_minor=1850, currency="EUR", included_days=included,
                                  started_at=started, ended_at=ended))
            uow.commit()
    set_allowance(world.accounts["customer_a"], 10, uow=uow_factory(), year=2030)
    quote = client.post("/v1/quotes", json=temporary(world, days=4), headers=world.auth("customer_a")).get_json()
    assert quote["allowance"] == {"year": 2030, "days": 10, "used": 7, "included": 3, "left": 0}
    assert quote["charge"]["amount"] == "18.50"


def test_a_permanent_upscale_is_quoted_per_day(client, world) -> None:
    body = upscale_body(world.envs["customer_a_stage"], resources=[{"component": "yves", "size": "xlarge"}])
    quote = client.post("/v1/quotes", json=body, headers=world.auth("customer_a")).get_json()
    assert quote["per_day"] is True and quote["days"] is None and quote["allowance"] is None
    assert quote["charge"] == {"amount": "49.50", "currency": "EUR"}  # large 18.50 + xlarge 31.00


def test_a_quote_runs_the_filing_rules_and_keeps_tenants_apart(client, world, uow_factory) -> None:
    smaller = upscale_body(world.envs["customer_a_stage"], resources=[{"component": "yves", "size": "small"}])
    assert_problem(client.post("/v1/quotes", json=smaller, headers=world.auth("customer_a")), 422,
                   "size_not_larger")
    other = upscale_body(world.envs["customer_b_stage"])
    assert_problem(client.post("/v1/quotes", json=other, headers=world.auth("customer_a")), 404)
    bad = client.post("/v1/quotes", json={"type": "upscale"}, headers=world.auth("customer_a"))
    assert bad.status_code == 422 and "environment_id" in bad.get_json()["errors"]
    assert client.post("/v1/quotes", json=temporary(world)).status_code == 401
    assert counts(uow_factory) == (0, 0, 0)


def test_options_show_the_price_of_each_size_step(client, world) -> None:
    body = client.get(f"/v1/environments/{world.envs['customer_a_stage']}/options",
                      headers=world.auth("customer_a")).get_json()
    yves = next(c for c in body["upscale"]["components"] if c["component"] == "yves")
    assert yves["prices"] == [{"size": "large", "price_per_day": "18.50", "currency": "EUR"},
                              {"size": "xlarge", "price_per_day": "31.00", "currency": "EUR"},
                              {"size": "2xlarge", "price_per_day": "55.00", "currency": "EUR"}]


def test_filing_a_charged_upscale_without_consent_is_refused_with_the_quote(client, world, uow_factory) -> None:
    problem = assert_problem(client.post("/v1/tickets", json=temporary(world), headers=world.auth("customer_a")),
                             422, "charges_not_accepted")
    assert problem["quote"]["charge"] == {"amount": "55.50", "currency": "EUR"}
    assert "accept_charges" in problem["errors"] and "55.50 EUR" in problem["detail"]
    assert counts(uow_factory) == (0, 0, 0)


def test_filing_with_a_stale_amount_is_a_conflict(client, world, uow_factory) -> None:
    stale = temporary(world, accept_charges={"amount": "37.00", "currency": "EUR"})
    problem = assert_problem(client.post("/v1/tickets", json=stale, headers=world.auth("customer_a")),
                             409, "quote_changed")
    assert problem["quote"]["charge"]["amount"] == "55.50"
    other = temporary(world, accept_charges={"amount": "55.50", "currency": "USD"})
    assert_problem(client.post("/v1/tickets", json=other, headers=world.auth("customer_a")), 409, "quote_changed")
    floaty = temporary(world, accept_charges={"amount": 55.5, "currency": "EUR"})
    assert "accept_charges.amount" in client.post("/v1/tickets", json=floaty,
                                                  headers=world.auth("customer_a")).get_json()["errors"]
    assert counts(uow_factory) == (0, 0, 0)


def test_the_acceptance_is_kept_on_the_ticket_and_its_event(client, world) -> None:
    body = temporary(world, accept_charges={"amount": "55.50", "currency": "EUR"})
    response = client.post("/v1/tickets", json=body, headers=world.auth("customer_a"))
    assert response.status_code == 201, response.get_data(as_text=True)
    ticket = response.get_json()
    assert ticket["charges"]["accepted"] == {"amount": "55.50", "currency": "EUR",
                                             "by": world.users["customer_a"], "at": NOW.isoformat()}
    assert ticket["charges"]["quote"]["charge"]["amount"] == "55.50"
    again = client.get(f"/v1/tickets/{ticket['id']}", headers=world.auth("support")).get_json()
    assert again["charges"] == ticket["charges"]
    events = client.get(f"/v1/tickets/{ticket['id']}/events", headers=world.auth("customer_a")).get_json()
    assert "charges of 55.50 EUR accepted" in events["items"][0]["reason"]


def test_what_costs_nothing_needs_no_consent(client, world, uow_factory) -> None:
    set_allowance(world.accounts["customer_a"], 30, uow=uow_factory(), year=2030)
    response = client.post("/v1/tickets", json=temporary(world), headers=world.auth("customer_a"))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["charges"]["accepted"] is None
    assert response.get_json()["charges"]["quote"]["within_allowance"] is True
    change = client.post("/v1/tickets", json=change_body(world.envs["customer_a_stage"]),
                         headers=world.auth("customer_a"))
    assert change.status_code == 201 and change.get_json()["charges"] is None


POLICY = """\
rules:
  - name: free stage upscales
    match: {type: upscale, within_allowance: true}
    approval: auto
"""


def test_the_policy_approves_at_once_what_costs_nothing(settings, world, uow_factory, tmp_path) -> None:
    from sqlalchemy import update
    from service.adapters.models import Environment

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    configured = dataclasses.replace(settings, price_list=str(SAMPLE), approval_policy=str(policy))
    client = create_app(configured, build_runtime(configured, clock=lambda: NOW)).test_client()
    with uow_factory() as uow:  # the policy approves on its own only within every cap
        uow.session.execute(update(Environment).values(caps={"yves": "2xlarge"}))
        uow.commit()
    charged = client.post("/v1/tickets", json=temporary(world, accept_charges={"amount": "55.50", "currency": "EUR"}),
                          headers=world.auth("customer_a")).get_json()
    assert (charged["status"], charged["approval_rule"]) == ("pending_approval", None)
    set_allowance(world.accounts["customer_b"], 30, uow=uow_factory(), year=2030)
    start = NOW + timedelta(hours=1)
    free = client.post("/v1/tickets", json=upscale_body(world.envs["customer_b_stage"], period={
        "start": start.isoformat(), "end": (start + timedelta(days=3)).isoformat()}),
        headers=world.auth("customer_b")).get_json()
    assert (free["status"], free["approval_rule"], free["approvals_required"]) == (
        "scheduled", "free stage upscales", 0)


def test_only_the_submitting_customer_accepts_a_draft_s_charge(client, world, uow_factory) -> None:
    draft = client.post("/v1/drafts", json=temporary(world, accept_charges={"amount": "55.50", "currency": "EUR"}),
                        headers=world.auth("partner_linked"))
    assert draft.status_code == 201, draft.get_data(as_text=True)
    submit = f"/v1/drafts/{draft.get_json()['id']}/submit"
    problem = assert_problem(client.post(submit, headers=world.auth("customer_a")), 422, "charges_not_accepted")
    assert problem["quote"]["charge"]["amount"] == "55.50"
    assert counts(uow_factory)[0] == 0
    filed = client.post(submit, json={"accept_charges": {"amount": "55.50", "currency": "EUR"}},
                        headers=world.auth("customer_a"))
    assert filed.status_code == 201, filed.get_data(as_text=True)
    assert filed.get_json()["charges"]["accepted"]["by"] == world.users["customer_a"]


def test_quotes_and_usage_at_the_edges_of_the_calendar_answer_without_error(client, world) -> None:
    far = upscale_body(world.envs["customer_a_stage"], period={
        "start": "9999-12-30T00:00:00Z", "end": "9999-12-31T00:00:00Z"})
    quote = client.post("/v1/quotes", json=far, headers=world.auth("customer_a"))
    assert quote.status_code == 200 and quote.get_json()["allowance"]["year"] == 9999
    assert client.get("/v1/usage?month=9999-12", headers=world.auth("customer_a")).status_code == 200
    bad = client.get("/v1/usage?month=0000-01", headers=world.auth("customer_a"))
    assert bad.status_code == 422 and "month" in bad.get_json()["errors"]


def test_a_charged_temporary_upscale_reads_its_included_days_with_the_filing_s_facts(
        client, world, uow_factory) -> None:
    """Filing with a price list sends the statements of filing without one: the account's included
    days of the contract year come with the filing's one SELECT, not in a statement of their own."""
    from sqlalchemy import Engine, event

    set_allowance(world.accounts["customer_a"], 1, uow=uow_factory(), year=2030)
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        body = temporary(world, accept_charges={"amount": "37.00", "currency": "EUR"})
        response = client.post("/v1/tickets", json=body, headers=world.auth("customer_a"))
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["charges"]["quote"]["allowance"] == {
        "year": 2030, "days": 1, "used": 0, "included": 1, "left": 0}
    reading_allowances = [s for s in sent if "allowances" in s and s.lstrip().upper().startswith("SELECT")]
    assert len(reading_allowances) == 1, reading_allowances
    assert "FROM environments" in reading_allowances[0]
