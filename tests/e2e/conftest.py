"""Fixtures of the e2e tests; the stack they build is in stack.py, its processes in processes.py.

Old imports from this module (Stack, RedisServer, free_port, wait_until, ...) keep working."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.e2e.processes import ENVDESK, ROOT, RedisServer, utcnow  # noqa: F401  (re-exported)
from tests.e2e.stack import Stack
from tests.support.databases import drop_pg_database, redis_server_url
from tests.support.servers import free_port  # noqa: F401  (re-exported)
from tests.support.waiting import wait_until  # noqa: F401  (re-exported)


# Redis database numbers of this project's own for the e2e tests (14 is the benchmarks').
E2E_REDIS_DBS = (11, 12, 13, 15)
_OWNER_KEY = "envdesk:e2e-owner"


@pytest.fixture(scope="session")
def redis_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis database of this project's own on the run's Redis, held for the session: two test
    runs at once (two checkouts, two xdist workers) never share one, so no worker of one run takes
    the other's tasks. With every database held elsewhere, a private redis-server of its own."""
    import redis

    server, owner = redis_server_url(), f"{os.getpid()}@{tmp_path_factory.getbasetemp()}"
    for number in E2E_REDIS_DBS:
        client = redis.Redis.from_url(f"{server}/{number}")
        # The hold expires on its own after a run that died without letting go.
        if client.set(_OWNER_KEY, owner, nx=True, ex=3 * 3600):
            yield f"{server}/{number}"
            if client.get(_OWNER_KEY) == owner.encode():
                client.delete(_OWNER_KEY)
            return
    private = RedisServer(tmp_path_factory.mktemp("redis"))
    private.start()
    yield private.url
    private.stop()


@pytest.fixture
def make_stack(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> Iterator[Callable[..., Stack]]:
    """Build and boot a stack; ``redis_url=None`` uses this worker's db on the run's Redis
    (flushed first), otherwise the given broker (e.g. a private redis-server); ``pg_server`` a
    PostgreSQL server of the test's own instead of the run's."""
    stacks: list[Stack] = []

    def make(*, redis_url: str | None = None, sim_args: tuple[str, ...] = (), pg_server: str | None = None,
             **extra_env: str) -> Stack:
        if redis_url is None:
            redis_url = request.getfixturevalue("redis_db")
            import redis

            client = redis.Redis.from_url(redis_url)
            owner = client.get(_OWNER_KEY)
            client.flushdb()
            if owner is not None:
                client.set(_OWNER_KEY, owner, ex=3 * 3600)
        name = f"envdesk_e2e_{worker_id}_{os.getpid()}_{len(stacks)}"
        stack = Stack(tmp_path, db_name=name, redis_url=redis_url, pg_server=pg_server,
                      extra_env={k: str(v) for k, v in extra_env.items()})
        stacks.append(stack)
        request.node.e2e_stacks = stacks
        return stack.boot(sim_args=sim_args)

    yield make
    for stack in stacks:
        stack.stop_all()
        if stack.pg_server is None:  # a server of the test's own goes with its data
            drop_pg_database(stack.db_name)


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Record a measured figure; tests/conftest.py prints them all in the terminal summary."""
    def record(name: str, **values: Any) -> None:
        request.node.user_properties.append(("e2e_figure", {"test": request.node.name, "figure": name,
                                                              **values}))
    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    stacks = getattr(item, "e2e_stacks", None)
    if report.failed and stacks and report.when in ("setup", "call"):
        for stack in stacks:
            report.sections.append((f"e2e process logs ({stack.db_name})", stack.logs()))
