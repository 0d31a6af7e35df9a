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
