"""The queue page's filters and links read as before the page was made cheaper to render: the
filter selects are exactly what WTForms renders for the same query, and each row links to its
ticket page."""
from __future__ import annotations

import html
import re
from typing import Any

import pytest
from werkzeug.datastructures import MultiDict

from service.console.forms import QueueFilterForm
from tests.integration.console.conftest import file
from tests.support.world import World

SELECT = re.compile(r'<select id="(\w+)".*?</select>', re.S)


@pytest.mark.parametrize("query", [
    "", "status=failed", "status=pending_approval&stage=prod&type=change", "stage=dev&type=upscale",
    "account=Cust%22o", "status=bogus",
])
def test_the_filter_selects_are_what_wtforms_renders(console_app: Any, staff: Any, query: str) -> None:
    page = staff.get("/console/?" + query).get_data(as_text=True)
    with console_app.test_request_context("/console/?" + query):
        form = QueueFilterForm(MultiDict(re.findall(r"(\w+)=([^&]*)", query)))
        form.validate()
        expected = {name: str(form[name]()) for name in ("status", "stage", "type")}
    found = {match.group(1): match.group(0) for match in SELECT.finditer(page)}
    assert found == expected
    for name in ("status", "stage", "type", "account"):
        assert f'<label for="{name}">{form[name].label.text}</label>' in page


def test_every_row_links_to_its_ticket_page(console_app: Any, staff: Any, world: World) -> None:
    api = console_app.test_client()  # both filed at the clock's one instant: in no set order
    filed = [file(api, world, "customer_a_stage"), file(api, world, "customer_b_stage", who="customer_b")]
    page = staff.get("/console/").get_data(as_text=True)
    links = [html.unescape(href) for href in re.findall(r'<a href="(/console/tickets/[^"]+)">', page)]
    assert sorted(links) == sorted(f"/console/tickets/{ticket['id']}" for ticket in filed)
    for link in links:
        assert staff.get(link).status_code == 200
