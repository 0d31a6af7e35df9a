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

from service.adapters.config import Settings, normalize_database_url
from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.adapters.migrate import upgrade
from tests.helpers import change_body, upscale_body, utc, new_secret  # noqa: F401  (re-exported)
from tests.support import pgbouncer as pgbouncers
from tests.support import servers
from tests.support.smtp_sink import SmtpSink
from tests.support.databases import empty, create_pg_database, drop_pg_database, pg_server_url  # noqa: F401
from tests.support.world import World, build_world  # noqa: F401  (re-exported)
from tests.oidc import TestIssuer

BACKENDS = [b for b in os.environ.get("ENVDESK_TEST_BACKENDS", "postgresql,sqlite").split(",") if b]
RUN_FOLDER = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pgbouncer: the module's `database_url` tests also run on "
                                       "PostgreSQL through PgBouncer in transaction pooling mode")
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
def pgbouncer(pg_url: str) -> Iterator[pgbouncers.PgBouncer]:
    """This pytest process's PgBouncer (transaction pooling) in front of the run's PostgreSQL."""
    try:
        bouncer = pgbouncers.start(pg_server_url(), port=servers.free_port())
    except Exception as exc:  # noqa: BLE001 - a missing or failing pgbouncer is reported the same way
        pytest.fail(f"PgBouncer is required for these tests: {exc}", pytrace=False)
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def pgbouncer_url(pg_url: str, pgbouncer: pgbouncers.PgBouncer) -> str:
    """The session's PostgreSQL database, reached through PgBouncer."""
    return normalize_database_url(f"{pgbouncer.url}/{pg_url.rsplit('/', 1)[1]}")


def pooler_of(url: str) -> str:
    """The DATABASE_POOLER a test database URL needs: "pgbouncer" for the PgBouncer variant."""
    return "pgbouncer" if url in _POOLED else ""


_POOLED: set[str] = set()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`database_url` tests run on each backend; in modules marked `pgbouncer`, through it too."""
    if "database_url" in metafunc.fixturenames:
        pooled = ["pgbouncer"] if metafunc.definition.get_closest_marker("pgbouncer") else []
        metafunc.parametrize("database_url", [*BACKENDS, *pooled], indirect=True)


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'envdesk.db'}"
    upgrade(url)
    return url


def _truncate(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        empty(conn)
    engine.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str:
    """Every test using this runs on PostgreSQL and again on SQLite (and, in modules marked
    `pgbouncer`, on PostgreSQL through PgBouncer)."""
    if request.param == "pgbouncer":
        _truncate(request.getfixturevalue("pg_url"))
        url = request.getfixturevalue("pgbouncer_url")
        _POOLED.add(url)
        return url
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
    return Settings(database_url=database_url, database_pooler=pooler_of(database_url),
                    broker_url="memory://", home=tmp_path,
                    secret_key=new_secret(), write_rate_limit="", max_open_tickets=0,
                    auth_cache_seconds=0)


@pytest.fixture
def private_postgres() -> Iterator[servers.PrivatePostgres]:
    """A PostgreSQL server of the test's own (postgres database only), which it may stop and
    restart; the run's server is shared and never restarted."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="envdesk-private-pg-"))
    folder.chmod(0o755)  # the PostgreSQL system user must reach its data folder inside
    server = servers.PrivatePostgres(folder / "data")
    yield server
    server.close()
    folder.rmdir()


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
    engine = make_engine(settings.database_url, pooler=settings.database_pooler)
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


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it is sent."""
    server = SmtpSink().start()
    yield server
    server.stop()
