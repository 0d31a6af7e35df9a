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


@pytest.fixture(scope="session")
def redis_db(worker_id: str) -> str:
    """A Redis database number of this project's own on the run's Redis: 11 + the xdist worker
    index."""
    index = 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))
    return f"{redis_server_url()}/{11 + index}"


@pytest.fixture
def make_stack(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> Iterator[Callable[..., Stack]]:
    """Build and boot a stack; ``redis_url=None`` uses this worker's db on the run's Redis
    (flushed first), otherwise the given broker (e.g. a private redis-server)."""
    stacks: list[Stack] = []

    def make(*, redis_url: str | None = None, sim_args: tuple[str, ...] = (), **extra_env: str) -> Stack:
        if redis_url is None:
            redis_url = request.getfixturevalue("redis_db")
            import redis

            redis.Redis.from_url(redis_url).flushdb()
        name = f"envdesk_e2e_{worker_id}_{os.getpid()}_{len(stacks)}"
        stack = Stack(tmp_path, db_name=name, redis_url=redis_url,
                      extra_env={k: str(v) for k, v in extra_env.items()})
        stacks.append(stack)
        request.node.e2e_stacks = stacks
        return stack.boot(sim_args=sim_args)

    yield make
    for stack in stacks:
        stack.stop_all()
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
