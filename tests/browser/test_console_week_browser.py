"""The change calendar's week view in headless Chromium: this week's windows and scheduled work,
each ticket a link to its page, which shows the windows that touch it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import Server, screenshot, sign_in_with_token

pytestmark = pytest.mark.browser


def test_the_week_view_renders_the_weeks_entries_and_links_to_the_ticket(new_page: Any, server: Server) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    soon = now + timedelta(minutes=20)
    window = requests.post(f"{server.url}/v1/windows", headers=server.world.auth("support"), timeout=10, json={
        "kind": "maintenance", "title": "Search reindex", "start": (soon - timedelta(minutes=10)).isoformat(),
        "end": (soon + timedelta(minutes=10)).isoformat()})
    assert window.status_code == 201, window.text
    ticket = server.file(change=True, apply_at=soon.isoformat(), summary="switch the payment provider")

    page = new_page()
    sign_in_with_token(page, server)
    page.get_by_role("link", name="Calendar").click()
    expect(page.get_by_role("heading", name="Change calendar")).to_be_visible()
    expect(page.get_by_text("Search reindex").first).to_be_visible()
    link = page.get_by_role("link", name="switch the payment provider").first
    expect(link).to_be_visible()
    screenshot(page, "console-week")
    link.click()
    expect(page).to_have_url(f"{server.url}/console/tickets/{ticket['id']}")
    section = page.get_by_role("region", name="Windows touching this ticket")
    expect(section.get_by_text("Search reindex")).to_be_visible()
