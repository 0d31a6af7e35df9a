"""Shared fixtures: real databases (PostgreSQL and SQLite), the app, a small world.

PostgreSQL and Redis are the configured servers when they answer, else throwaway ones started for
the run (tests/support/servers.py). A test that needs one that cannot be had fails loudly; nothing
is skipped."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from service.config import Settings
from service.db import UnitOfWork, make_engine, make_session_factory
from service.migrate import upgrade
from service.models import Base
from tests.helpers import change_body, upscale_body, utc, new_secret  # noqa: F401  (re-exported)
from tests.support import servers
from tests.support.databases import create_pg_database, drop_pg_database  # noqa: F401  (re-exported)
from tests.support.world import World, build_world  # noqa: F401  (re-exported)
from tests.oidc import TestIssuer

BACKENDS = [b for b in os.environ.get("ENVDESK_TEST_BACKENDS", "postgresql,sqlite").split(",") if b]
RUN_FOLDER = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    # The first pytest process of a run (the xdist controller) makes the folder its workers share.
    folder = servers.open_run_folder()
    if folder is not None:
        config.stash[RUN_FOLDER] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(RUN_FOLDER, None)
    if folder is not None:
        servers.close_run_folder(folder)


@pytest.fixture(scope="session")
def pg_url(worker_id: str) -> Iterator[str]:
    # One database per pytest process: concurrent runs (several engineers, CI jobs) on the same
    # server must not drop or truncate each other's database.
    name = f"envdesk_test_{worker_id}_{os.getpid()}"
    url = create_pg_database(name)
    upgrade(url)
    yield url
    drop_pg_database(name)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'envdesk.db'}"
    upgrade(url)
    return url


def _truncate(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    """Every test using this runs on PostgreSQL and again on SQLite."""
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "sqlite_url")
    _truncate(url)
    return url


@pytest.fixture
def pg_database_url(pg_url: str) -> str:
    _truncate(pg_url)
    return pg_url


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # Limits are off here; tests/integration/api/test_limits.py turns them on.
    return Settings(database_url=database_url, broker_url="memory://", home=tmp_path,
                    secret_key=new_secret(), write_rate_limit="", max_open_tickets=0,
                    auth_cache_seconds=0)


@pytest.fixture
def oidc_issuer() -> Iterator[TestIssuer]:
    """An OIDC issuer on 127.0.0.1 (discovery and JWKS, keys generated per run) that mints tokens."""
    issuer = TestIssuer().start()
    yield issuer
    issuer.stop()


@pytest.fixture
def oidc_settings(settings: Settings, oidc_issuer: TestIssuer) -> Settings:
    """``settings`` with the API accepting access tokens of ``oidc_issuer``."""
    return dataclasses.replace(settings, oidc_issuer=oidc_issuer.url,
                               oidc_audience=oidc_issuer.audience)


@pytest.fixture
def uow_factory(settings: Settings) -> Iterator[Any]:
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    yield lambda: UnitOfWork(sessions)
    engine.dispose()


@pytest.fixture
def world(uow_factory: Any) -> World:
    return build_world(uow_factory)


@pytest.fixture
def app(settings: Settings) -> Any:
    from service.api import create_app

    application = create_app(settings)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


# --- figures: tests record measurements and counts in user_properties (which survive xdist) ---
# and the terminal summary prints them, so CI output shows them.

_FIGURES: list[dict[str, Any]] = []
_COUNTS: dict[str, int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    _FIGURES.extend(value for key, value in report.user_properties if key == "e2e_figure")
    for key, name in report.user_properties:
        if key == "count":
            _COUNTS[name] = _COUNTS.get(name, 0) + 1
            if report.failed:
                _COUNTS[f"{name} failed"] = _COUNTS.get(f"{name} failed", 0) + 1


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    folder = config.stash.get(RUN_FOLDER, None)
    if folder is not None:
        used = {s.kind: s.describe() for s in servers.chosen_servers(folder)}
        terminalreporter.write_line("test servers: " + ", ".join(
            f"{kind} {used.get(kind, 'not needed')}" for kind in ("postgresql", "redis")))
    if _COUNTS:
        terminalreporter.section("counts")
        for name in sorted(_COUNTS):
            terminalreporter.write_line(f"{name:<38} {_COUNTS[name]}")
    if _FIGURES:
        terminalreporter.section("e2e figures")
        for row in sorted(_FIGURES, key=lambda r: r["test"]):
            values = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("test", "figure"))
            terminalreporter.write_line(f"{row['figure']:<38} {values}")
