"""The portal's browser app on its own origin may call the API; other origins get no CORS headers."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from service.api import create_app
from service.adapters.config import Settings
from tests.support.world import World

PORTAL = "https://portal.example"
FOREIGN = "https://evil.example"


@pytest.fixture
def api(settings: Settings) -> Any:
    app = create_app(dataclasses.replace(settings, cors_origins=(PORTAL, "https://admin.example")))
    return app.test_client()


def preflight(api: Any, origin: str, path: str = "/v1/tickets", method: str = "POST",
              headers: str = "Authorization, Content-Type, Idempotency-Key") -> Any:
    return api.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                      "Access-Control-Request-Headers": headers})


def test_preflight_from_the_portal_allows_the_api_headers(api: Any) -> None:
    response = preflight(api, PORTAL, headers="authorization, content-type, idempotency-key, "
                         "if-match, if-none-match, x-request-id")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"authorization", "content-type", "idempotency-key", "if-match",
                       "if-none-match", "x-request-id"}
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_preflight_for_an_item_path_is_answered_without_a_token(api: Any) -> None:
    response = preflight(api, PORTAL, path="/v1/tickets/some-id/approve", headers="Authorization, If-Match")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL


def test_preflight_with_another_header_does_not_allow_it(api: Any) -> None:
    response = preflight(api, PORTAL, headers="Authorization, X-Debug")
    allowed = response.headers.get("Access-Control-Allow-Headers", "").lower()
    assert "x-debug" not in allowed


def test_preflight_from_a_foreign_origin_gets_no_cors_headers(api: Any) -> None:
    response = preflight(api, FOREIGN)
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


def test_simple_request_from_the_portal_exposes_the_client_headers(api: Any, world: World) -> None:
    ticket = api.get("/v1/tickets", headers={"Origin": PORTAL, **world.auth("customer_a")})
    assert ticket.status_code == 200
    assert ticket.headers["Access-Control-Allow-Origin"] == PORTAL
    exposed = {h.strip() for h in ticket.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"ETag", "Location", "Retry-After", "Idempotent-Replayed", "X-Request-ID"}
    assert "Origin" in ticket.headers.get("Vary", "")


def test_refusals_are_readable_by_the_portal(api: Any) -> None:
    response = api.get("/v1/me", headers={"Origin": PORTAL})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL


def test_simple_request_from_a_foreign_origin_gets_no_cors_headers(api: Any, world: World) -> None:
    response = api.get("/v1/tickets", headers={"Origin": FOREIGN, **world.auth("customer_a")})
    assert response.status_code == 200
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


def test_without_cors_origins_nobody_gets_cors_headers(client: Any, world: World) -> None:
    response = client.get("/v1/tickets", headers={"Origin": PORTAL, **world.auth("customer_a")})
    assert "Access-Control-Allow-Origin" not in response.headers
