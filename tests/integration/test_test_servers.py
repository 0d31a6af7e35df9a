"""The test harness itself: where the configured servers do not answer, a run gets a real
throwaway PostgreSQL and Redis, shared by every process of the run and gone at its end."""
from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import redis

from tests.support import servers


def _answers(pg_url: str, redis_url: str) -> tuple[bool, bool]:
    try:
        psycopg.connect(f"{pg_url}/postgres", connect_timeout=3).close()
        pg = True
    except psycopg.Error:
        pg = False
    try:
        cache = bool(redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        cache = False
    return pg, cache


def test_a_run_without_servers_gets_throwaway_ones_that_stop_at_its_end(
        monkeypatch: pytest.MonkeyPatch) -> None:
    closed = servers.free_port()  # nothing listens there
    monkeypatch.setenv("ENVDESK_TEST_PG", f"postgresql://postgres@127.0.0.1:{closed}")
    monkeypatch.setenv("ENVDESK_TEST_REDIS", f"redis://127.0.0.1:{closed}")
    monkeypatch.delenv(servers.STATE_VARIABLE)  # a run of its own, inside this one
    folder = servers.open_run_folder()
    assert folder is not None
    try:
        pg, cache = servers.postgresql(), servers.redis()
        assert pg.throwaway and cache.throwaway
        with psycopg.connect(f"{pg.url}/postgres") as conn:
            assert conn.execute("SELECT 1 + 1").fetchone() == (2,)
        assert redis.Redis.from_url(f"{cache.url}/11").set("k", "v")
        assert (servers.postgresql(), servers.redis()) == (pg, cache)  # what a second worker gets
    finally:
        servers.close_run_folder(folder)

    assert _answers(pg.url, cache.url) == (False, False)
    assert not Path(folder).exists()
