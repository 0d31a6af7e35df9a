"""Fixtures of the integration tests: `envdesk serve` as a real process on the session's
PostgreSQL database, for tests that drive it from outside over HTTP (schemathesis, a generated
client), and the operators' CLI run in-process against the test database."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from click.testing import CliRunner, Result

from service.adapters.config import Settings
from service.cli import cli
from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from tests.support.servers import free_port
from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import wait_until
from tests.support.world import World, build_world
from tests.helpers import new_secret
from tests.support.databases import empty

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World]]:
    """`envdesk serve` on the session's PostgreSQL database, emptied and seeded with tenants."""
    url = pg_url
    engine = make_engine(url)
    with engine.begin() as conn:
        empty(conn)
    world = build_world(lambda: UnitOfWork(make_session_factory(engine)))
    engine.dispose()
    port = free_port()
    home = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "DATABASE_URL": url, "BROKER_URL": "memory://", "ENVDESK_HOME": str(home),
           "SECRET_KEY": new_secret(),
           # Limits would answer most generated writes 429 and hide the paths behind them.
           "RATE_LIMIT_WRITES": "", "MAX_OPEN_TICKETS_PER_ACCOUNT": "0"}
    env.pop("REDIS_URL", None)
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base, process, home / "server.log")
        yield base, world
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait_for(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"envdesk serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(answers, timeout=60, what="envdesk serve to answer /healthz")
    except pytest.fail.Exception:
        pytest.fail(f"envdesk serve did not answer /healthz within 60 s:\n{log.read_text()}")


@pytest.fixture
def envdesk(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Run `envdesk ARGS...` in-process with DATABASE_URL pointing at the test database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENVDESK_HOME", str(tmp_path))
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, (result.stdout, result.stderr)
        return result

    return run


@pytest.fixture
def mail_settings(settings: Settings, sink: SmtpSink) -> Settings:
    """The app's settings sending mail to ``sink``."""
    return dataclasses.replace(
        settings, smtp_url=sink.url, mail_from="envdesk <desk@envdesk.example>",
        portal_ticket_url="https://portal.example/requests/{number}?id={id}",
        console_url="https://envdesk.example/console", public_url="https://envdesk.example")
