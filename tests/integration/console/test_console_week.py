"""The console's week view and the windows on a ticket page, through Flask's test client."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.helpers import change_body
from tests.integration.console.conftest import NOW
from tests.support.world import World


def test_the_week_view_lists_windows_and_timed_tickets_linking_to_them(console_app: Any, staff: Any,
                                                                       world: World) -> None:
    api = console_app.test_client()
    monday = (NOW - timedelta(days=NOW.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    window = api.post("/v1/windows", headers=world.auth("support"), json={
        "kind": "freeze", "title": "Release freeze", "start": (monday + timedelta(days=6)).isoformat(),
        "end": (monday + timedelta(days=6, hours=12)).isoformat()}).get_json()
    ticket = api.post("/v1/tickets", headers=world.auth("customer_a"), json=change_body(
        world.envs["customer_a_stage"], apply_at=(NOW + timedelta(hours=1)).isoformat(),
        summary="rotate the API keys")).get_json()
    assert window.get("id"), window
    assert ticket.get("id"), ticket
    page = staff.get(f"/console/calendar?week={NOW.date().isoformat()}").get_data(as_text=True)
    assert "Release freeze" in page and "rotate the API keys" in page
    assert f'href="/console/tickets/{ticket["id"]}"' in page
    one = staff.get(f"/console/calendar?week={NOW.date().isoformat()}"
                    f"&environment_id={world.envs['customer_b_stage']}").get_data(as_text=True)
    assert "Release freeze" in one and "rotate the API keys" not in one
    assert window.get("id"), window


def test_the_ticket_page_shows_the_windows_that_touch_it(console_app: Any, staff: Any, world: World) -> None:
    api = console_app.test_client()
    api.post("/v1/windows", headers=world.auth("support"), json={
        "kind": "maintenance", "title": "Database patching", "start": (NOW + timedelta(hours=2)).isoformat(),
        "end": (NOW + timedelta(hours=4)).isoformat(), "scope": {"stage": "stage"}})
    ticket = api.post("/v1/tickets", headers=world.auth("customer_a"), json=change_body(
        world.envs["customer_a_stage"], apply_at=(NOW + timedelta(hours=3)).isoformat())).get_json()
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    assert "Windows touching this ticket" in page and "Database patching" in page


def test_a_bad_week_is_answered_400_with_the_form(staff: Any) -> None:
    response = staff.get("/console/calendar?week=not-a-date")
    assert response.status_code == 400 and "Week of" in response.get_data(as_text=True)
