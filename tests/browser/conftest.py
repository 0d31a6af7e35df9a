"""The console in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright,
against `envdesk serve` (gunicorn) on a fresh PostgreSQL database, with an OIDC provider
(oidc-provider-mock) on 127.0.0.1 for the company sign-in.

Nothing is skipped: a missing Chromium or PostgreSQL fails the test and says how to install it."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import sqlalchemy as sa

from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.adapters.migrate import upgrade
from tests.conftest import _truncate
from tests.support.databases import create_pg_database, drop_pg_database
from tests.support.world import World, build_world
from tests.e2e.processes import ENVDESK, Proc
from tests.support.servers import free_port
from tests.support.waiting import wait_until
from tests.helpers import change_body, upscale_body, new_secret

CHROMIUM = os.environ.get("ENVDESK_TEST_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("ENVDESK_SCREENSHOTS", Path(__file__).resolve().parents[2] / "var" / "screenshots"))
CLIENT_ID, CLIENT_SECRET = "envdesk-console", "console-secret"
# A person at the identity provider whose verified email is the support engineer's.
OIDC_PEOPLE = {"alice": {"email": "support@example.com", "email_verified": True, "name": "Alice Support"},
               "mallory": {"email": "customer_a@example.com", "email_verified": True},
               "eve": {"email": "support_2@example.com", "email_verified": False}}


@pytest.fixture(scope="session")
def oidc_issuer() -> Iterator[str]:
    from oidc_provider_mock import User, run_server_in_thread

    people = [User(sub=sub, claims=claims) for sub, claims in OIDC_PEOPLE.items()]
    with run_server_in_thread(user_claims=people) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory, worker_id: str,
                   oidc_issuer: str) -> Iterator[dict[str, Any]]:
    """`envdesk serve` with token and OIDC sign-in, an SLA of 8 h on stage and no worker."""
    tmp = tmp_path_factory.mktemp("console")
    name = f"envdesk_console_{worker_id}_{os.getpid()}"
    url = create_pg_database(name)
    upgrade(url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": f"filesystem://{tmp}/broker",
           "ENVDESK_HOME": str(tmp), "SECRET_KEY": new_secret(), "RATE_LIMIT_WRITES": "",
           "AUTH_CACHE_SECONDS": "0", "SLA_DECISION_HOURS": "stage=8,prod=4",
           "OIDC_ISSUER": oidc_issuer, "OIDC_AUDIENCE": "envdesk", "OIDC_CLIENT_ID": CLIENT_ID,
           "OIDC_CLIENT_SECRET": CLIENT_SECRET, "CONSOLE_TOKEN_LOGIN": "1", "WEB_CONCURRENCY": "1"}
    proc = Proc("api", [ENVDESK, "serve", "--port", str(port), "--workers", "1", "--threads", "8"],
                env, tmp / "api.log").start()
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _answers(base) or not proc.running, timeout=60, what="the console server")
    assert proc.running, proc.tail()
    yield {"url": base, "database_url": url, "proc": proc}
    proc.stop()
    drop_pg_database(name)


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def server(console_server: dict[str, Any]) -> Iterator[Any]:
    """The running server with a fresh small world (two customers, partners, two support staff)."""
    _truncate(console_server["database_url"])
    engine = make_engine(console_server["database_url"])
    sessions = make_session_factory(engine)
    world = build_world(lambda: UnitOfWork(sessions))
    yield Server(console_server["url"], world, engine)
    engine.dispose()


class Server:
    def __init__(self, url: str, world: World, engine: Any) -> None:
        self.url, self.world, self.engine = url, world, engine

    def backdate(self, ticket_id: str, hours: float) -> None:
        """Pretend the ticket was filed ``hours`` ago (the server's clock is the real one)."""
        with self.engine.begin() as conn:
            conn.execute(sa.text("UPDATE tickets SET created_at = created_at - make_interval(secs => :s) "
                                 "WHERE id = :id"), {"s": hours * 3600, "id": ticket_id})

    def file(self, env: str = "customer_a_stage", who: str = "customer_a", *, change: bool = False,
             **body: Any) -> dict[str, Any]:
        make = change_body if change else upscale_body
        response = requests.post(f"{self.url}/v1/tickets", json=make(self.world.envs[env], **body),
                                 headers=self.world.auth(who), timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        return requests.get(f"{self.url}/v1/tickets/{ticket_id}", headers=self.world.auth("support"),
                            timeout=10).json()

    def events(self, ticket_id: str) -> list[dict[str, Any]]:
        return requests.get(f"{self.url}/v1/tickets/{ticket_id}/events",
                            headers=self.world.auth("support"), timeout=10).json()["items"]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium is required for the browser tests and was not found at {CHROMIUM}: "
                    "install it with `apt-get install -y chromium`", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Pages in browser contexts of their own (separate cookies: separate people)."""
    contexts = []

    def make(*, javascript: bool = True) -> Any:
        context = browser.new_context(viewport={"width": 1366, "height": 820},
                                      java_script_enabled=javascript)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in_with_token(page: Any, server: Server, who: str = "support") -> None:
    page.goto(f"{server.url}/console/login")
    page.get_by_label("Token").fill(server.world.tokens[who])
    page.get_by_role("button", name="Sign in").click()


def screenshot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
