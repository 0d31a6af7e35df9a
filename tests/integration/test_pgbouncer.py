"""PostgreSQL through a real PgBouncer in transaction pooling mode (Debian's `pgbouncer`): the
hazard DATABASE_POOLER=pgbouncer exists for, and that our engine avoids it. The use cases
themselves run through PgBouncer in the modules marked `pgbouncer` (test_periods: filing,
approval, the worker's step and the sweep; api/test_ticket_actions)."""
from __future__ import annotations

from typing import Iterator

import pytest
import sqlalchemy as sa

from service.adapters.config import normalize_database_url
from service.adapters.db import make_engine, make_session_factory
from service.adapters.models import Ticket
from tests.support import pgbouncer as pgbouncers
from tests.support import servers
from tests.support.databases import pg_server_url


@pytest.fixture
def one_server_connection(pg_url: str) -> Iterator[str]:
    """A PgBouncer with one server connection: every client's transactions share it in turn."""
    try:
        bouncer = pgbouncers.start(pg_server_url(), port=servers.free_port(), pool_size=1)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PgBouncer is required for this test: {exc}", pytrace=False)
    yield normalize_database_url(f"{bouncer.url}/{pg_url.rsplit('/', 1)[1]}")
    bouncer.stop()


def _alternate(first: sa.Engine, second: sa.Engine, times: int = 8) -> None:
    """Two API processes run the same read by turns, as their read-only sessions do: in
    autocommit, each statement its own transaction (a ROLLBACK would make psycopg forget what
    it prepared, and hide the hazard)."""
    statement = sa.select(sa.func.count()).select_from(Ticket).where(Ticket.status == "pending_approval")
    readers = [make_session_factory(engine, read_only=True) for engine in (first, second)]
    for _ in range(times):
        for sessions in readers:
            with sessions() as session:
                session.execute(statement).scalar_one()


def test_without_the_pooler_setting_prepared_statements_collide_behind_pgbouncer(
        one_server_connection: str) -> None:
    first, second = (make_engine(one_server_connection, pool_size=1) for _ in range(2))
    try:
        with pytest.raises(sa.exc.ProgrammingError, match="prepared statement"):
            _alternate(first, second)
    finally:
        first.dispose()
        second.dispose()


def test_with_database_pooler_pgbouncer_clients_share_server_connections_freely(
        one_server_connection: str) -> None:
    first, second = (make_engine(one_server_connection, pooler="pgbouncer", pool_size=1)
                     for _ in range(2))
    try:
        _alternate(first, second)
    finally:
        first.dispose()
        second.dispose()
