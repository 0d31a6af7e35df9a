"""Two API processes (`envdesk serve`, gunicorn) on one PostgreSQL database share console
sessions: a sign-in on one is honoured by the other, a sign-out on one ends it on both."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.adapters.migrate import upgrade
from tests.e2e.processes import ENVDESK, Proc
from tests.helpers import new_secret
from tests.support.databases import create_pg_database, drop_pg_database
from tests.support.servers import free_port
from tests.support.waiting import wait_until
from tests.support.world import World, build_world

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def two_apis(tmp_path: Path, worker_id: str) -> Iterator[tuple[list[str], World]]:
    name = f"envdesk_sessions_{worker_id}_{tmp_path.name}"[:60]
    url = create_pg_database(name)
    upgrade(url)
    engine = make_engine(url)
    world = build_world(lambda: UnitOfWork(make_session_factory(engine)))
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "REDIS_URL": f"filesystem://{tmp_path}/broker",
           "ENVDESK_HOME": str(tmp_path), "SECRET_KEY": new_secret(), "CONSOLE_TOKEN_LOGIN": "1",
           "PYTHONUNBUFFERED": "1"}
    procs, bases = [], []
    try:
        for number in (1, 2):
            port = free_port()
            procs.append(Proc(f"api{number}", [ENVDESK, "serve", "--port", str(port), "--workers", "1",
                                               "--threads", "2"], env, tmp_path / f"api{number}.log").start())
            bases.append(f"http://127.0.0.1:{port}")
        for proc, base in zip(procs, bases):
            wait_until(lambda: _healthy(base) or not proc.running, timeout=90, what=proc.name)
            assert proc.running, proc.tail()
        yield bases, world
    finally:
        for proc in procs:
            proc.stop()
        engine.dispose()
        drop_pg_database(name)


def _csrf(response: requests.Response) -> str:
    found = CSRF.search(response.text)
    assert found, f"no form on {response.url}"
    return found[1]


def _queue(browser: requests.Session, base: str) -> Any:
    return browser.get(f"{base}/console/", allow_redirects=False, timeout=10)


def test_a_sign_in_on_one_api_process_is_honoured_by_the_other_and_a_sign_out_ends_it_on_both(
        two_apis: tuple[list[str], World]) -> None:
    (first, second), world = two_apis
    browser = requests.Session()  # one browser: a cookie of 127.0.0.1 goes to either port
    login = browser.get(f"{first}/console/login", timeout=10)
    signed_in = browser.post(f"{first}/console/login", allow_redirects=False, timeout=10,
                             data={"token": world.tokens["support"], "csrf_token": _csrf(login)})
    assert signed_in.status_code == 303
    cookie = browser.cookies.get("envdesk_console")
    page = _queue(browser, second)
    assert page.status_code == 200 and "Signed in as support@example.com" in page.text

    signed_out = browser.post(f"{second}/console/logout", data={"csrf_token": _csrf(page)},
                              allow_redirects=False, timeout=10)
    assert signed_out.status_code == 303
    replayed = requests.Session()
    replayed.cookies.set("envdesk_console", cookie, path="/console")
    for base in (first, second):
        refused = _queue(replayed, base)
        assert refused.status_code == 303 and "/console/login" in refused.headers["Location"]
