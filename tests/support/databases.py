"""Databases of the tests' own on the run's PostgreSQL server (see servers.py)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.adapters.config import normalize_database_url
from service.adapters.db import make_engine
from tests.support import servers


def pg_server_url() -> str:
    """The run's PostgreSQL server; a server that cannot be found or started fails the test."""
    try:
        return servers.postgresql().url
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported the same way
        pytest.fail(f"PostgreSQL is required for these tests: the configured server does not answer "
                    f"and a throwaway one could not be started: {exc}", pytrace=False)


def redis_server_url() -> str:
    """The run's Redis server; a server that cannot be found or started fails the test."""
    try:
        return servers.redis().url
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"Redis is required for these tests: the configured server does not answer "
                    f"and a throwaway one could not be started: {exc}", pytrace=False)


def _admin(server: str) -> sa.Engine:
    return make_engine(normalize_database_url(f"{server}/postgres"), isolation_level="AUTOCOMMIT")


def create_pg_database(name: str, server: str | None = None) -> str:
    """A fresh, empty PostgreSQL database on the run's server (or on ``server``); fails the test
    loudly when the server is missing."""
    server = server or pg_server_url()
    admin = _admin(server)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is required for these tests and is not reachable at {server}: {exc}",
                    pytrace=False)
    finally:
        admin.dispose()
    return normalize_database_url(f"{server}/{name}")


def drop_pg_database(name: str) -> None:
    admin = _admin(pg_server_url())
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def empty(conn: sa.Connection) -> None:
    """Delete every row of a migrated database and put back the rows its migrations seed (the
    windows' version), as a freshly migrated database has them."""
    import uuid

    from service.adapters.models import Base, ChangeWindowsVersion

    for table in reversed(Base.metadata.sorted_tables):
        conn.execute(table.delete())
    conn.execute(sa.insert(ChangeWindowsVersion).values(id=1, version=str(uuid.uuid4())))
