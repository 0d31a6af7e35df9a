"""The console on a real PostgreSQL database through Flask's test client."""
from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest

from service import console
from service.api import create_app
from service.api.runtime import build_runtime
from service.adapters.config import Settings
from tests.support.fakes import Clock
from tests.support.world import World, build_world
from tests.helpers import upscale_body, utc, new_secret

NOW = utc(2026, 11, 28, 12, 0)
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ETAG = re.compile(r'name="etag" type="hidden" value="([^"]+)"')


@pytest.fixture
def console_settings(pg_database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=pg_database_url, broker_url="memory://", home=tmp_path,
                    secret_key=new_secret(), write_rate_limit="", max_open_tickets=0,
                    auth_cache_seconds=0, sla_decision_hours={"stage": 8, "prod": 4})


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def console_app(console_settings: Settings, clock: Clock) -> Any:
    app = create_app(console_settings, build_runtime(console_settings, clock=clock))
    console.register(app, console_settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def world(uow_factory_pg: Any) -> World:
    return build_world(uow_factory_pg)


@pytest.fixture
def uow_factory_pg(console_settings: Settings) -> Any:
    from service.adapters.db import UnitOfWork, make_engine, make_session_factory

    engine = make_engine(console_settings.database_url)
    sessions = make_session_factory(engine)
    yield lambda: UnitOfWork(sessions)
    engine.dispose()


def csrf_token(page: str) -> str:
    found = CSRF.search(page)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def form_of(page: str) -> dict[str, str]:
    """The hidden fields of the page's action forms, as a browser would send them."""
    found = ETAG.search(page)
    assert found, "the page offers no action"
    return {"csrf_token": csrf_token(page), "etag": html.unescape(found.group(1))}


def sign_in(client: Any, token: str) -> Any:
    page = client.get("/console/login").get_data(as_text=True)
    return client.post("/console/login", data={"token": token, "csrf_token": csrf_token(page)})


@pytest.fixture
def staff(console_app: Any, world: World) -> Any:
    """A test client signed in as support staff."""
    client = console_app.test_client()
    assert sign_in(client, world.tokens["support"]).status_code == 303
    return client


def file(api: Any, world: World, env: str = "customer_a_stage", who: str = "customer_a",
         **body: Any) -> dict[str, Any]:
    response = api.post("/v1/tickets", json=upscale_body(world.envs[env], **body), headers=world.auth(who))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()
