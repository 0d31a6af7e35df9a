"""No client input makes a console page fail: odd forms, odd query strings, odd ids."""
from __future__ import annotations

from typing import Any

import pytest

from tests.support.world import World
from tests.integration.console.conftest import csrf_token, file

ODD = ["", " ", "\x00", "x" * 20000, "é" * 300, "<script>alert(1)</script>", "'; DROP TABLE tickets;--"]


@pytest.mark.parametrize("value", ODD)
def test_odd_form_values_get_a_page_not_an_error(console_app: Any, staff: Any, world: World,
                                                 value: str) -> None:
    ticket = file(console_app.test_client(), world)
    token = csrf_token(staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True))
    base = f"/console/tickets/{ticket['id']}"
    for path, data in ((f"{base}/comments", {"body": value, "internal": value}),
                       (f"{base}/reject", {"reason": value, "etag": value}),
                       (f"{base}/approve", {"etag": value}),
                       (f"{base}/retry", {"etag": value}),
                       ("/console/login", {"token": value})):
        response = staff.post(path, data={"csrf_token": token, **data})
        assert response.status_code < 500, (path, response.status_code)
        assert response.mimetype == "text/html"
    page = staff.get(base).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page


@pytest.mark.parametrize("query", ["status=\x00", "stage=moon", "type=", "account=" + "x" * 300,
                                   "cursor=%00", "cursor=" + "A" * 150, "account=%ff%fe"])
def test_odd_queue_filters_get_a_page_not_an_error(staff: Any, query: str) -> None:
    response = staff.get("/console/?" + query)
    assert response.status_code < 500 and response.mimetype == "text/html"


@pytest.mark.parametrize("ticket_id", ["nope", "%00", "x" * 70, "%2e%2e", "..%2f..%2fetc", "a/b/c"])
def test_odd_ticket_ids_get_a_page_not_an_error(staff: Any, ticket_id: str) -> None:
    response = staff.get(f"/console/tickets/{ticket_id}")
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_the_stylesheet_is_served_and_unknown_pages_are_console_pages(console_app: Any) -> None:
    client = console_app.test_client()
    css = client.get("/console/static/console.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    missing = client.get("/console/no/such/page")
    assert missing.status_code == 404 and "no such page in the console" in missing.get_data(as_text=True)
