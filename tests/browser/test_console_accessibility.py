"""axe-core (through axe-playwright-python) finds nothing serious on the console's pages."""
from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import Server, sign_in_with_token

pytestmark = pytest.mark.browser

SEVERE = {"serious", "critical"}


def _severe(page: Any) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
            for v in violations if v["impact"] in SEVERE]


def test_queue_ticket_and_sign_in_pages_have_no_serious_violations(new_page: Any, server: Server) -> None:
    ticket = server.file(summary="Load test on Thursday")
    page = new_page()
    page.goto(f"{server.url}/console/login")
    assert _severe(page) == []
    sign_in_with_token(page, server)
    page.get_by_role("link", name="Load test on Thursday").wait_for()
    assert _severe(page) == []
    page.goto(f"{server.url}/console/tickets/{ticket['id']}")
    page.get_by_label("Reason").fill(" ")
    page.get_by_role("button", name="Reject").click()  # the page with a validation message
    page.get_by_text("Give a reason").wait_for()
    assert _severe(page) == []


def test_the_usage_page_has_no_serious_violations(new_page: Any, server: Server) -> None:
    ticket = server.file(summary="Load test on Thursday")
    page = new_page()
    sign_in_with_token(page, server)
    page.goto(f"{server.url}/console/tickets/{ticket['id']}")
    page.get_by_role("link", name="Usage of customer_a").click()  # the ticket page links the account's usage
    page.get_by_role("heading", name="Usage in").wait_for()
    assert _severe(page) == []
