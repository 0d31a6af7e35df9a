"""The console's ticket page shows the quote at filing and who accepted the charge, when."""
from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

from service import console
from service.api import create_app
from service.api.runtime import build_runtime
from service.entrypoints.up import SAMPLE_PRICE_LIST
from tests.integration.console.conftest import NOW, sign_in
from tests.helpers import upscale_body
from tests.support.world import World


def test_ticket_page_shows_the_quote_and_the_acceptance(console_settings: Any, clock: Any, world: World) -> None:
    settings = dataclasses.replace(console_settings, price_list=str(SAMPLE_PRICE_LIST))
    app = create_app(settings, build_runtime(settings, clock=clock))
    console.register(app, settings)
    start = NOW + timedelta(hours=1)
    body = upscale_body(world.envs["customer_a_stage"], period={
        "start": start.isoformat(), "end": (start + timedelta(days=2)).isoformat()},
        accept_charges={"amount": "37.00", "currency": "EUR"})
    filed = app.test_client().post("/v1/tickets", json=body, headers=world.auth("customer_a"))
    assert filed.status_code == 201, filed.get_data(as_text=True)
    staff = app.test_client()
    assert sign_in(staff, world.tokens["support"]).status_code == 303
    page = staff.get(f"/console/tickets/{filed.get_json()['id']}").get_data(as_text=True)
    assert "Charges" in page and "Quote at filing, 2 days" in page
    assert re.search(r"<th scope=\"row\">yves</th><td>medium</td><td>large</td><td>18.50 EUR</td>"
                     r"<td>0</td><td>37.00 EUR</td>", page)
    assert "Accepted by customer_a@example.com on" in page and ": 37.00 EUR." in page


def test_the_usage_page_of_an_account_shows_a_month_and_its_csv(console_app: Any, staff: Any, world: World,
                                                                 uow_factory_pg: Any) -> None:
    import csv
    import io

    from service.adapters.models import Usage

    ticket = console_app.test_client().post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"]),
                                            headers=world.auth("customer_a")).get_json()
    with uow_factory_pg() as uow:
        uow.session.add(Usage(account_id=world.accounts["customer_a"], environment_id=world.envs["customer_a_stage"],
                              ticket_id=ticket["id"], component="yves", from_size="medium", to_size="large",
                              daily_minor=1850, currency="EUR", included_days=1,
                              started_at=NOW - timedelta(days=3), ended_at=NOW - timedelta(hours=1)))
        uow.commit()
    url = f"/console/accounts/{world.accounts['customer_a']}/usage"
    page = staff.get(f"{url}?month={NOW:%Y-%m}").get_data(as_text=True)
    assert "Usage in 2026-11" in page
    assert re.search(r"<th scope=\"row\">customer_a-stage</th><td>yves</td><td>3</td><td>1</td>"
                     r"<td>37.00 EUR</td>", page)
    assert "Total: <strong>37.00 EUR</strong>" in page
    rows = list(csv.DictReader(io.StringIO(staff.get(f"{url}?month={NOW:%Y-%m}&format=csv").get_data(as_text=True))))
    assert [(r["environment"], r["days"], r["charge"]) for r in rows] == [("customer_a-stage", "3", "37.00")]
    assert "No usage in 2026-10" in staff.get(f"{url}?month=2026-10").get_data(as_text=True)
    assert staff.get(f"{url}?month=2026-1").status_code == 400
    customer = console_app.test_client()
    assert customer.get(url).status_code in (302, 303, 401, 403)
