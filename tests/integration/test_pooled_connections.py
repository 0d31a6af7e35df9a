"""Pooled database connections: one the server closed while it sat idle is replaced before a
request uses it, however short the idle time."""
from __future__ import annotations

import psycopg
from sqlalchemy import text

from service.adapters import db
def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_dropped_while_idle_is_replaced_before_use(pg_url):
    engine = db.make_engine(pg_url, pool_size=1, max_overflow=0)
    dropped = _backend_pid(engine)
    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (dropped,))  # waits until it is gone

    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != dropped
    engine.dispose()
