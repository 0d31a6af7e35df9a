"""Shared fixtures: real databases (PostgreSQL on this machine, and SQLite), the app, a small world.

A test that needs PostgreSQL fails loudly when it is not reachable; nothing is skipped."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from service import operators
from service.config import Settings, normalize_database_url
from service.db import UnitOfWork, make_engine, make_session_factory
from service.migrate import upgrade
from service.models import Base
from tests.helpers import change_body, upscale_body, utc  # noqa: F401  (re-exported)
from tests.oidc import TestIssuer

PG_SERVER = os.environ.get("ENVDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
BACKENDS = [b for b in os.environ.get("ENVDESK_TEST_BACKENDS", "postgresql,sqlite").split(",") if b]


def _admin() -> sa.Engine:
    return make_engine(normalize_database_url(f"{PG_SERVER}/postgres"), isolation_level="AUTOCOMMIT")


def create_pg_database(name: str) -> str:
    """A fresh, empty PostgreSQL database; fails the test loudly when the server is missing."""
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for these tests and is not reachable at {PG_SERVER}: {exc}",
                    pytrace=False)
    finally:
        admin.dispose()
    return normalize_database_url(f"{PG_SERVER}/{name}")


def drop_pg_database(name: str) -> None:
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


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
                    secret_key="test-secret", write_rate_limit="", max_open_tickets=0,
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


@dataclass
class World:
    """Two customers, a linked and an unlinked partner, support staff; each with a token."""

    tokens: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=dict)
    envs: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def build_world(new_uow: Any) -> World:
    world = World()
    for name, kind in (("customer_a", "customer"), ("customer_b", "customer"),
                       ("partner_linked", "partner"), ("partner_unlinked", "partner"),
                       ("provider", "provider")):
        world.accounts[name] = operators.add_account(name, kind, uow=new_uow()).id
    operators.link_partner(world.accounts["partner_linked"], world.accounts["customer_a"], uow=new_uow())
    people = {"customer_a": ("customer_a", "member"), "customer_b": ("customer_b", "member"),
              "partner_linked": ("partner_linked", "member"),
              "partner_unlinked": ("partner_unlinked", "member"),
              "support": ("provider", "support"), "support_2": ("provider", "support")}
    for who, (account, role) in people.items():
        user = operators.add_user(f"{who}@example.com", world.accounts[account], role, uow=new_uow())
        world.users[who] = user.id
        world.tokens[who] = operators.issue_user_token(user.email, uow=new_uow())
    for account in ("customer_a", "customer_b"):
        for stage in ("dev", "stage", "prod"):
            env = operators.add_environment(world.accounts[account], f"{account}-{stage}", stage,
                                            uow=new_uow(), sizes={"yves": "medium"})
            world.envs[f"{account}_{stage}"] = env.id
    return world


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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _COUNTS:
        terminalreporter.section("counts")
        for name in sorted(_COUNTS):
            terminalreporter.write_line(f"{name:<38} {_COUNTS[name]}")
    if _FIGURES:
        terminalreporter.section("e2e figures")
        for row in sorted(_FIGURES, key=lambda r: r["test"]):
            values = ", ".join(f"{k}={v}" for k, v in row.items() if k not in ("test", "figure"))
            terminalreporter.write_line(f"{row['figure']:<38} {values}")
