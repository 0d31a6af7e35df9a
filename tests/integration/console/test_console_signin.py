"""Console sign-in and page security, through Flask's test client on PostgreSQL."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.support.world import World
from tests.integration.console.conftest import csrf_token, sign_in


def test_staff_token_signs_in_with_a_scoped_expiring_httponly_cookie(console_app: Any, world: World) -> None:
    client = console_app.test_client()
    response = sign_in(client, world.tokens["support"])
    assert response.status_code == 303
    assert response.headers["Location"] == "/console/"
    cookie = response.headers["Set-Cookie"]
    assert "envdesk_console=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/console" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie
    page = client.get("/console/")
    assert page.status_code == 200
    assert "Signed in as support@example.com" in page.get_data(as_text=True)


def test_cookie_is_secure_behind_https(console_app: Any, world: World) -> None:
    client = console_app.test_client()
    page = client.get("/console/login", base_url="https://console.example").get_data(as_text=True)
    response = client.post("/console/login", base_url="https://console.example", data={"token": world.tokens["support"], "csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert "Secure" in response.headers["Set-Cookie"]


def test_customer_partner_and_member_tokens_are_refused_with_a_page(console_app: Any, world: World,
                                                                    uow_factory_pg: Any) -> None:
    from service.app.registry import operators
    operators.add_user("member@example.com", world.accounts["provider"], "member", uow=uow_factory_pg())
    member = operators.issue_user_token("member@example.com", uow=uow_factory_pg())
    for token in (world.tokens["customer_a"], world.tokens["partner_linked"], member):
        client = console_app.test_client()
        response = sign_in(client, token)
        assert response.status_code == 403
        assert response.mimetype == "text/html"
        assert "The console is for support staff" in response.get_data(as_text=True)
        assert client.get("/console/").status_code == 303


def test_unknown_token_is_refused(console_app: Any) -> None:
    response = sign_in(console_app.test_client(), "edk_not-a-real-token")
    assert response.status_code == 403
    assert "not valid" in response.get_data(as_text=True)


def test_form_without_csrf_token_is_refused(console_app: Any, world: World) -> None:
    client = console_app.test_client()
    client.get("/console/login")
    response = client.post("/console/login", data={"token": world.tokens["support"]})
    assert response.status_code == 400
    assert "security token was missing" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 303  # not signed in


def test_pages_carry_a_csp_without_unsafe_inline(staff: Any) -> None:
    for path in ("/console/login", "/console/"):
        policy = staff.get(path).headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy


def test_sign_out_ends_the_session(staff: Any) -> None:
    page = staff.get("/console/").get_data(as_text=True)
    response = staff.post("/console/logout", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    assert staff.get("/console/").status_code == 303


def test_sign_in_only_redirects_inside_the_console(console_app: Any, world: World) -> None:
    client = console_app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    response = client.post("/console/login?next=//evil.example/", data={
        "token": world.tokens["support"], "csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/console/"


def test_api_still_requires_bearer_tokens(staff: Any) -> None:
    assert staff.get("/v1/tickets").status_code == 401


def test_the_session_expires_after_its_lifetime(staff: Any, monkeypatch: Any) -> None:
    import time
    import types

    import itsdangerous.timed

    assert staff.get("/console/").status_code == 200
    later = types.SimpleNamespace(time=lambda: time.time() + 8 * 3600 + 60)
    monkeypatch.setattr(itsdangerous.timed, "time", later)
    assert staff.get("/console/").status_code == 303


def test_the_console_with_token_sign_in_refuses_to_start_without_a_secret_key(
        console_settings: Any) -> None:
    from service import console
    from service.api import create_app

    unsigned = dataclasses.replace(console_settings, secret_key="", console_token_login=True)
    with pytest.raises(RuntimeError, match="CONSOLE_TOKEN_LOGIN.*SECRET_KEY"):
        console.register(create_app(unsigned), unsigned)


def test_without_a_secret_key_nobody_signs_in(console_settings: Any, world: World) -> None:
    from service import console
    from service.api import create_app

    unsigned = dataclasses.replace(console_settings, secret_key="", console_token_login=False)
    app = create_app(unsigned)
    console.register(app, unsigned)
    client = app.test_client()
    page = client.get("/console/login")
    assert page.status_code == 200
    assert "The console needs SECRET_KEY" in page.get_data(as_text=True)
    assert client.post("/console/login", data={"token": world.tokens["support"]}).status_code in (400, 403)
    assert client.get("/console/").status_code == 303


def _demote_support(uow_factory_pg: Any) -> None:
    from service.app.registry import operators
    operators.set_role("support@example.com", "member", uow=uow_factory_pg())


def test_a_staff_member_whose_role_is_revoked_is_signed_out(staff: Any, uow_factory_pg: Any) -> None:
    assert staff.get("/console/").status_code == 200
    _demote_support(uow_factory_pg)
    response = staff.get("/console/")
    assert response.status_code == 303 and "/console/login" in response.headers["Location"]


def test_even_with_an_auth_cache_a_revoked_role_ends_the_session_at_the_next_page(
        console_settings: Any, world: World, uow_factory_pg: Any) -> None:
    from service import console
    from service.api import create_app

    cached = dataclasses.replace(console_settings, auth_cache_seconds=300)
    app = create_app(cached)
    console.register(app, cached)
    client = app.test_client()
    assert sign_in(client, world.tokens["support"]).status_code == 303
    assert client.get("/console/").status_code == 200
    _demote_support(uow_factory_pg)
    response = client.get("/console/")
    assert response.status_code == 303 and "/console/login" in response.headers["Location"]
