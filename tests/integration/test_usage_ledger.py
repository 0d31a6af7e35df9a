"""The usage ledger across apply, revert, a later permanent upscale, and a failed apply, on
PostgreSQL and SQLite; then GET /v1/usage as JSON and as CSV (read back with the csv module)."""
from __future__ import annotations

import csv
import dataclasses
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from service.adapters.models import Environment, Ticket, Usage
from service.adapters.price_file import load_price_list
from service.api import create_app
from service.api.runtime import build_runtime
from service.app.billing import ledger
from service.app.commands import FileTicket
from service.app.tickets.actions import file_ticket
from service.domain.lifecycle import Action
from tests.helpers import assert_problem, upscale_body
from tests.integration.test_pipeline import START, Pipeline, pipe  # noqa: F401  (the fixture)
from tests.support.world import World

SAMPLE = Path(__file__).parents[2] / "service" / "entrypoints" / "sample_price_list.yaml"
PRICES = load_price_list(SAMPLE)


def file_priced(pipe: Pipeline, size: str = "large", period: dict[str, Any] | None = None,
                amount: str | None = None) -> str:
    body = upscale_body(pipe.world.envs["customer_a_stage"], resources=[{"component": "yves", "size": size}])
    if period:
        body["period"] = period
    if amount:
        body["accept_charges"] = {"amount": amount, "currency": "EUR"}
    ticket, _ = file_ticket(pipe.world.principal("customer_a"), FileTicket.from_body(body),
                            uow=pipe.uow_factory(), now=pipe.clock(), prices=PRICES)
    pipe.act(ticket.id, Action.APPROVE)
    return ticket.id


def rows(pipe: Pipeline) -> list[Usage]:
    with pipe.uow_factory() as uow:
        return list(uow.session.scalars(select(Usage).order_by(Usage.started_at, Usage.component)))


def temporary(pipe: Pipeline) -> tuple[str, Any]:
    start, end = START + timedelta(hours=1), START + timedelta(hours=2)
    ticket_id = file_priced(pipe, period={"start": start, "end": end}, amount="18.50")
    pipe.clock.now = start
    pipe.sweep()
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "completed"
    return ticket_id, end


def test_a_completed_upscale_opens_a_row_and_its_revert_closes_it(pipe: Pipeline) -> None:
    ticket_id, end = temporary(pipe)
    [row] = rows(pipe)
    assert (row.ticket_id, row.component, row.from_size, row.to_size) == (ticket_id, "yves", "medium", "large")
    assert (row.daily_minor, row.currency, row.included_days) == (1850, "EUR", 0)
    assert row.started_at == START + timedelta(hours=1) and row.ended_at is None

    pipe.clock.now = end
    pipe.sweep()
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "reverted"
    [row] = rows(pipe)
    assert (row.ended_at, row.ended_by) == (end, ticket_id)


def test_a_failed_apply_records_no_usage_and_its_retry_one_row(pipe: Pipeline) -> None:
    ticket_id = file_priced(pipe, amount="18.50")
    pipe.client.submit_script = ["failed: no capacity"]
    assert pipe.advance(ticket_id) == "failed"
    assert rows(pipe) == []
    pipe.act(ticket_id, Action.RETRY)
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "completed"
    assert [(r.ticket_id, r.ended_at) for r in rows(pipe)] == [(ticket_id, None)]


def test_a_later_permanent_upscale_ends_the_temporary_usage_early(pipe: Pipeline) -> None:
    temp_id, end = temporary(pipe)
    pipe.clock.tick(600)
    later = pipe.clock()
    permanent_id = file_priced(pipe, size="xlarge", amount="31.00")
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(permanent_id) == "completed"
    first, second = rows(pipe)
    assert (first.ticket_id, first.ended_at, first.ended_by) == (temp_id, later, permanent_id)
    assert (second.ticket_id, second.from_size, second.to_size, second.ended_at) == (
        permanent_id, "large", "xlarge", None)

    pipe.clock.now = end  # the temporary one's revert gives nothing back now
    pipe.sweep()
    assert pipe.advance(temp_id) == "reverted"
    first, second = rows(pipe)
    assert first.ended_at == later and second.ended_at is None


def test_one_apply_can_open_one_row_per_component_only(pipe: Pipeline) -> None:
    ticket_id, _ = temporary(pipe)
    with pipe.uow_factory() as uow:
        ticket = uow.session.get(Ticket, ticket_id)
        env = uow.session.get(Environment, ticket.environment_id)
        ledger.record_completion(uow.session, ticket, env, {"yves": "large"}, {"yves": "medium"}, pipe.clock())
        with pytest.raises(IntegrityError):
            uow.session.flush()


@pytest.fixture
def usage_client(pipe: Pipeline, settings: Any) -> Any:
    priced = dataclasses.replace(settings, price_list=str(SAMPLE))
    return create_app(priced, build_runtime(priced, clock=pipe.clock)).test_client()


def test_usage_of_a_month_as_json_and_csv(pipe: Pipeline, usage_client: Any) -> None:
    ticket_id, end = temporary(pipe)
    pipe.clock.now = end
    pipe.sweep()
    assert pipe.advance(ticket_id) == "reverted"
    world: World = pipe.world
    month = START.strftime("%Y-%m")
    response = usage_client.get(f"/v1/usage?month={month}", headers=world.auth("customer_a"))
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert report["items"] == [{"environment_id": world.envs["customer_a_stage"],
                                "environment": "customer_a-stage", "component": "yves", "days": 1,
                                "included_days": 0, "charge": "18.50"}]
    assert report["total"] == {"amount": "18.50", "currency": "EUR"}

    as_csv = usage_client.get(f"/v1/usage?month={month}", headers={**world.auth("customer_a"),
                                                                   "Accept": "text/csv"})
    assert as_csv.mimetype == "text/csv"
    parsed = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert parsed == [{"environment_id": world.envs["customer_a_stage"], "environment": "customer_a-stage",
                       "component": "yves", "days": "1", "included_days": "0", "charge": "18.50",
                       "currency": "EUR"}]

    staff = usage_client.get(f"/v1/usage?month={month}&account_id={world.accounts['customer_a']}",
                             headers=world.auth("support")).get_json()
    assert staff["items"] == report["items"]
    other = usage_client.get(f"/v1/usage?month={month}&account_id={world.accounts['customer_a']}",
                             headers=world.auth("customer_b"))
    assert_problem(other, 404)
    assert usage_client.get(f"/v1/usage?month={month}", headers=world.auth("customer_b")).get_json()["items"] == []
    assert_problem(usage_client.get(f"/v1/usage?month={month}", headers=world.auth("support")), 422)
    bad = usage_client.get("/v1/usage?month=2030-13", headers=world.auth("customer_a"))
    assert bad.status_code == 422 and "month" in bad.get_json()["errors"]
    next_month = (START + timedelta(days=40)).strftime("%Y-%m")
    assert usage_client.get(f"/v1/usage?month={next_month}", headers=world.auth("customer_a")).get_json()[
        "items"] == []
