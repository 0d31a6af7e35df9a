"""When the identity provider is away or the callback is not one we started, a page says so."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service.adapters.config import Settings
from tests.support.world import World
from tests.support.servers import free_port


@pytest.fixture
def oidc_app(console_settings: Settings, world: World) -> Any:
    from service import console
    from service.api import create_app

    settings = dataclasses.replace(
        console_settings, oidc_issuer=f"http://127.0.0.1:{free_port()}", oidc_audience="envdesk",
        oidc_client_id="console", oidc_client_secret="s", console_token_login=False)
    app = create_app(settings)
    console.register(app, settings)
    app.config["TESTING"] = True
    return app


def test_sign_in_page_offers_the_company_account_and_no_token_field(oidc_app: Any) -> None:
    page = oidc_app.test_client().get("/console/login").get_data(as_text=True)
    assert "Sign in with your company account" in page
    assert 'for="token"' not in page


def test_an_unreachable_identity_provider_is_a_clear_page(oidc_app: Any) -> None:
    response = oidc_app.test_client().get("/console/login/oidc")
    assert response.status_code == 502 and response.mimetype == "text/html"
    assert "The identity provider did not answer" in response.get_data(as_text=True)


def test_a_denied_or_forged_callback_is_refused(oidc_app: Any) -> None:
    client = oidc_app.test_client()
    denied = client.get("/console/login/oidc/callback?error=access_denied&state=x")
    assert denied.status_code == 403 and "access_denied" in denied.get_data(as_text=True)
    forged = client.get("/console/login/oidc/callback?code=abc&state=not-ours")
    assert forged.status_code == 403 and "The sign-in was not accepted" in forged.get_data(as_text=True)
    assert client.get("/console/").status_code == 303


def test_a_token_does_not_sign_in_when_token_sign_in_is_off(oidc_app: Any, world: World) -> None:
    client = oidc_app.test_client()
    client.get("/console/login")  # offers no token form, so there is no form token to send
    response = client.post("/console/login", data={"token": world.tokens["support"]})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert client.get("/console/").status_code == 303
