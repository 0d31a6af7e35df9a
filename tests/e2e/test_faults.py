"""Fault injection on the running stack: broker down, worker killed, provisioning flaky or hanging.

Each test records a figure (lost tickets, duplicates, recovery time, attempts) that the terminal
summary prints, so CI output shows how the pipeline behaved."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import pytest

from tests.e2e.processes import RedisServer
from tests.e2e.stack import Stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

Figure = Callable[..., None]


def _file_many(stack: Stack, n: int) -> list[str]:
    return [stack.file(f"stage{i:02d}")["id"] for i in range(n)]


def _keys_count(stack: Stack, ids: list[str]) -> tuple[int, int]:
    """(lost, applied more than once) according to the simulator, for the apply keys of ``ids``."""
    stats = stack.sim_stats()
    keys = [f"{t}:apply" for t in ids]
    lost = sum(1 for k in keys if stats["applied"].get(k, 0) == 0)
    twice = sum(1 for k in keys if stats["by_key"].get(k, 0) > 1 or stats["applied"].get(k, 0) > 1)
    return lost, twice


def test_tickets_approved_while_the_broker_is_down_are_all_provisioned_once(
    make_stack: Callable[..., Stack], private_redis: RedisServer, figure: Figure,
) -> None:
    n = 10
    stack = make_stack(redis_url=private_redis.url)
    ids = _file_many(stack, n)

    private_redis.stop()
    started = time.monotonic()
    for ticket_id in ids:
        stack.approve(ticket_id)  # asserts 200: the approval is durable without a broker
    approve_seconds = time.monotonic() - started
    assert stack.statuses(ids) == {"approved": n}

    private_redis.start()
    restarted = time.monotonic()
    stack.wait_for_all(ids, "completed", timeout=60)
    recovery = time.monotonic() - restarted

    lost, twice = _keys_count(stack, ids)
    stats = stack.sim_stats()
    figure("broker down at approval", tickets=n, lost=lost, duplicates=twice,
           operations=stats["operations"], approve_10_s=round(approve_seconds, 1),
           recover_s=round(recovery, 1))
    assert (lost, twice) == (0, 0)
    assert sorted(stats["by_key"]) == sorted(f"{t}:apply" for t in ids)
    assert all(count == 1 for count in stats["by_key"].values())


def test_a_worker_killed_mid_operation_loses_nothing_and_applies_nothing_twice(
    make_stack: Callable[..., Stack], figure: Figure,
) -> None:
    n = 10
    stack = make_stack(sim_args=("--latency", "3"))
    ids = _file_many(stack, n)
    for ticket_id in ids:
        stack.approve(ticket_id)

    def two_in_flight() -> dict[str, int] | None:
        counts = stack.statuses(ids)
        return counts if counts.get("provisioning", 0) >= 2 else None

    in_flight = wait_until(two_in_flight, timeout=20, interval=0.1, what="two tickets in flight")
    stack.procs["worker"].kill()  # SIGKILL to the whole group: main process and pool children
    killed = time.monotonic()
    stack.start_worker()

    stack.wait_for_all(ids, "completed", timeout=60)
    recovery = time.monotonic() - killed

    lost, twice = _keys_count(stack, ids)
    stats = stack.sim_stats()
    figure("worker SIGKILL mid-operation", tickets=n,
           provisioning_at_kill=in_flight.get("provisioning", 0), lost=lost, applied_twice=twice,
           recover_s=round(recovery, 1))
    assert (lost, twice) == (0, 0)
    assert all(count == 1 for count in stats["by_key"].values()), stats["by_key"]
    assert all(count == 1 for count in stats["applied"].values()), stats["applied"]
    assert len(stats["applied"]) == n


def test_transient_provisioning_failures_are_retried_to_completion(
    make_stack: Callable[..., Stack], figure: Figure,
) -> None:
    n = 20
    # 30% of calls fail; ten attempts make a spurious give-up vanishingly rare (< 1 in 10^4 runs).
    stack = make_stack(sim_args=("--failure-rate", "0.3"), PROVISIONING_MAX_ATTEMPTS=10)
    ids = _file_many(stack, n)
    started = time.monotonic()
    for ticket_id in ids:
        stack.approve(ticket_id)

    stack.wait_for_all(ids, "completed", timeout=90)
    seconds = time.monotonic() - started

    attempts = [a for (a,) in stack.query("SELECT attempts FROM tickets WHERE id = ANY(:ids)", ids=ids)]
    stats = stack.sim_stats()
    lost, twice = _keys_count(stack, ids)
    figure("provisioning 30% 5xx/429", tickets=n, attempts_mean=round(statistics.mean(attempts), 2),
           attempts_max=max(attempts), injected_failures=stats["injected_failures"],
           lost=lost, duplicates=twice, seconds=round(seconds, 1))
    assert stats["injected_failures"] > 0
    assert (lost, twice) == (0, 0)


def test_a_hanging_provider_fails_the_ticket_in_bounded_time_and_the_worker_recovers(
    make_stack: Callable[..., Stack], figure: Figure,
) -> None:
    read_timeout, max_attempts, retry_cap, sweep_slack = 1.0, 2, 2.0, 5.0
    stack = make_stack(sim_args=("--response-delay", "30"), PROVISIONING_READ_TIMEOUT=read_timeout,
                       PROVISIONING_MAX_ATTEMPTS=max_attempts)
    ticket = stack.file("stage")
    started = time.monotonic()
    stack.approve(ticket["id"])

    bound = max_attempts * (read_timeout + retry_cap) + sweep_slack
    failed = stack.wait_for_status(ticket["id"], "failed", timeout=bound + 10)
    seconds = time.monotonic() - started
    figure("provider hanging (30s, read timeout 1s)", seconds_to_failed=round(seconds, 1),
           bound_s=bound, timeout_reason="in time" in failed["reason"])
    assert "in time" in failed["reason"], failed["reason"]
    assert seconds <= bound, f"gave up after {seconds:.1f}s, bound {bound}s"

    stack.sim_config(response_delay=0)
    stack.retry(ticket["id"])
    stack.wait_for_status(ticket["id"], "completed", timeout=30)
    assert stack.procs["worker"].running
