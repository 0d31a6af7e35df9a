"""Company sign-in: the OIDC authorization-code flow with PKCE against oidc-provider-mock."""
from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.conftest import Server

pytestmark = pytest.mark.browser


def _sign_in_as(page: Any, server: Server, subject: str) -> None:
    page.goto(f"{server.url}/console/login")
    page.get_by_role("link", name="Sign in with your company account").click()
    assert "code_challenge_method=S256" in page.url and "code_challenge=" in page.url
    page.get_by_role("button", name=subject, exact=True).click()


def test_staff_signs_in_through_the_identity_provider_and_is_linked(
        new_page: Any, server: Server, console_server: dict[str, Any]) -> None:
    page = new_page()
    _sign_in_as(page, server, "alice")
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    expect(page.get_by_text("Signed in as support@example.com")).to_be_visible()
    engine = sa.create_engine(console_server["database_url"])
    with engine.connect() as conn:
        linked = conn.execute(sa.text("SELECT oidc_subject, name FROM users WHERE email = :e"),
                              {"e": "support@example.com"}).one()
    engine.dispose()
    assert tuple(linked) == ("alice", "Alice Support")


def test_a_customer_at_the_identity_provider_is_refused(new_page: Any, server: Server) -> None:
    page = new_page()
    _sign_in_as(page, server, "mallory")
    expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    expect(page.get_by_text("The console is for support staff")).to_be_visible()


def test_an_unverified_email_is_not_linked(new_page: Any, server: Server) -> None:
    page = new_page()
    _sign_in_as(page, server, "eve")
    expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    expect(page.get_by_text("has not verified an email address")).to_be_visible()
