"""A database that goes away (SPEC §13), on a PostgreSQL server of the test's own: pooled
connections that a restart closed are replaced before a request meets them; while the server is
down the API answers 503 with Retry-After and rule database_unavailable, the console a 503 page,
never 500; once it is back the next requests succeed. The running processes under a stream of
requests are in tests/e2e/test_database_restart.py (same fixtures, real processes)."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from service import console
from service.app.registry import operators
from service.api import create_app
from service.adapters.config import Settings, normalize_database_url
from service.adapters.db import DatabaseUnavailable, UnitOfWork, make_engine, make_session_factory
from service.adapters.migrate import upgrade
from tests.helpers import assert_problem, upscale_body
from tests.support.servers import PrivatePostgres
from tests.support.world import build_world

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
THREADS = 6


@pytest.fixture
def desk(private_postgres: PrivatePostgres, tmp_path: Path) -> Any:
    """The API and the console on the private server, a world, and stage environments to file on."""
    url = normalize_database_url(f"{private_postgres.url}/postgres")
    upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    world = build_world(lambda: UnitOfWork(sessions))
    envs = [operators.add_environment(world.accounts["customer_a"], f"extra-{i}", "stage",
                                      uow=UnitOfWork(sessions), sizes={"yves": "medium"}).id
            for i in range(THREADS)]
    engine.dispose()
    settings = Settings(database_url=url, broker_url="memory://", home=tmp_path, secret_key="test-secret",
                        write_rate_limit="1000/hour", max_open_tickets=0, auth_cache_seconds=0)
    app = create_app(settings)
    console.register(app, settings)
    app.config["TESTING"] = True
    return app, world, envs


def _concurrently(calls: list[Any]) -> list[Any]:
    """Run the calls on as many threads at once, so the pool hands out as many connections."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_after_a_restart_of_an_idle_api_every_approval_succeeds(desk: Any,
                                                                private_postgres: PrivatePostgres) -> None:
    app, world, envs = desk
    ids = [response.get_json()["id"] for response in _concurrently([
        lambda env=env: app.test_client().post("/v1/tickets", json=upscale_body(env),
                                               headers=world.auth("customer_a")) for env in envs])]

    private_postgres.restart()  # every pooled connection is now closed by the server
    approvals = _concurrently([
        lambda ticket=ticket: app.test_client().post(f"/v1/tickets/{ticket}/approve",
                                                     headers=world.auth("support")) for ticket in ids])

    assert [a.status_code for a in approvals] == [200] * THREADS, [a.get_json() for a in approvals]
    assert {a.get_json()["status"] for a in approvals} == {"approved"}


def test_a_stopped_database_is_503_with_retry_after_in_the_api_and_the_console(
    desk: Any, private_postgres: PrivatePostgres,
) -> None:
    app, world, envs = desk
    api, staff = app.test_client(), app.test_client()
    login = staff.get("/console/login").get_data(as_text=True)
    signed_in = staff.post("/console/login", data={"token": world.tokens["support"],
                                                   "csrf_token": CSRF.search(login).group(1)})
    assert signed_in.status_code == 303

    private_postgres.stop()
    refused = [api.get("/v1/tickets", headers=world.auth("customer_a")),
               api.post("/v1/tickets", json=upscale_body(envs[0]), headers=world.auth("customer_a"))]
    page = staff.get("/console/")

    for response in refused:  # the database's seconds, not the write limit's (an hour's window)
        assert_problem(response, 503, "database_unavailable")
        assert response.headers.getlist("Retry-After") == [str(DatabaseUnavailable.retry_after)]
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert int(page.headers["Retry-After"]) >= 1
    assert "database is unavailable" in page.get_data(as_text=True)

    private_postgres.start()
    assert api.get("/v1/tickets", headers=world.auth("customer_a")).get_json()["items"] == []
    filed = api.post("/v1/tickets", json=upscale_body(envs[0]), headers=world.auth("customer_a"))
    assert filed.status_code == 201
    assert staff.get("/console/").status_code == 200
