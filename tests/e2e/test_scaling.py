"""Workers and schedulers that come and go, on the running stack: each queue's depth in /metrics
for autoscalers, a worker told to stop (SIGTERM) while provisioning calls hang, and two beats
at once. The simulator counts every apply and revert by its idempotency key."""
from __future__ import annotations

import re
import shelve
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from tests.e2e.processes import Proc
from tests.e2e.stack import Stack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e

Figure = Callable[..., None]
QUEUE = "provision.stage.upscale"


def _depth(stack: Stack, queue: str) -> float | None:
    text = requests.get(f"{stack.api_url}/metrics", timeout=5).text
    match = re.search(rf'^envdesk_queue_depth{{queue="{re.escape(queue)}"}} (\S+)$', text, re.M)
    return float(match[1]) if match else None


def _sigterm_main_process(proc: Proc) -> None:
    """What Kubernetes and Compose do on scale-in: SIGTERM to the container's main process."""
    assert proc.popen is not None
    proc.popen.send_signal(signal.SIGTERM)


def test_queue_depth_shows_waiting_work_until_a_worker_takes_it(
        make_stack: Callable[..., Stack], private_redis: Any) -> None:
    stack = make_stack(redis_url=private_redis.url)
    stack.procs["worker"].stop(timeout=20)
    assert _depth(stack, QUEUE) == 0.0
    ids = [stack.file(f"stage{i:02d}")["id"] for i in range(3)]
    for ticket_id in ids:
        stack.approve(ticket_id)

    assert _depth(stack, QUEUE) == 3.0
    assert _depth(stack, "provision.prod.upscale") == 0.0

    stack.start_worker()
    stack.wait_for_all(ids, "completed", timeout=60)
    wait_until(lambda: _depth(stack, QUEUE) == 0.0, timeout=10, what="the queue to drain")


def test_a_worker_sigtermed_while_provisioning_hangs_loses_nothing_and_applies_nothing_twice(
        make_stack: Callable[..., Stack], figure: Figure) -> None:
    n = 6
    # Every provisioning call hangs 1.5 s (under the 2 s read timeout); operations take 2 s.
    stack = make_stack(sim_args=("--latency", "2", "--response-delay", "1.5"))
    ids = [stack.file(f"stage{i:02d}")["id"] for i in range(n)]
    for ticket_id in ids:
        stack.approve(ticket_id)
    wait_until(lambda: stack.sim_stats()["operations"] >= 1 or None, timeout=20, interval=0.1,
               what="a provisioning call in flight")

    old = stack.procs["worker"]
    stopped = time.monotonic()
    _sigterm_main_process(old)
    assert old.popen is not None
    old.popen.wait(timeout=30)  # warm shutdown: the running tasks finish, then it exits
    shutdown = time.monotonic() - stopped
    stack.start_worker()
    stack.wait_for_all(ids, "completed", timeout=90)

    stats = stack.sim_stats()
    figure("worker SIGTERM while provisioning hangs", tickets=n, exit_code=old.popen.returncode,
           shutdown_s=round(shutdown, 1), recover_s=round(time.monotonic() - stopped, 1))
    assert old.popen.returncode == 0, old.tail()
    assert sorted(stats["applied"]) == sorted(f"{t}:apply" for t in ids)
    assert all(count == 1 for count in stats["applied"].values()), stats["applied"]
    assert all(count == 1 for count in stats["by_key"].values()), stats["by_key"]


def _sweeps_sent(home: Path) -> int:
    with shelve.open(str(home / "celerybeat-schedule"), flag="r") as schedule:
        return schedule["entries"]["sweep"].total_run_count


def test_two_beats_at_once_revert_each_temporary_upscale_once(
        make_stack: Callable[..., Stack], private_redis: Any, tmp_path: Path, figure: Figure) -> None:
    stack = make_stack(redis_url=private_redis.url, SWEEP_INTERVAL="0.5")
    second = Proc("beat2", stack.procs["beat"].argv,
                  {**stack.env, "ENVDESK_HOME": str(tmp_path / "home-beat2")}, tmp_path / "beat2.log")
    stack.procs["beat2"] = second.start()
    start = datetime.now(timezone.utc) + timedelta(seconds=3)
    period = {"start": start.isoformat(), "end": (start + timedelta(seconds=6)).isoformat()}
    ids = [stack.file(f"stage{i:02d}", period=period)["id"] for i in range(4)]
    for ticket_id in ids:
        stack.approve(ticket_id)

    stack.wait_for_all(ids, "reverted", timeout=60)

    assert second.running and stack.procs["beat"].running
    first = stack.procs["beat"]
    for beat in (first, second):
        beat.stop(timeout=15)  # beat writes its schedule file (runs per entry) when it stops
    sweeps_sent = [_sweeps_sent(Path(beat.env["ENVDESK_HOME"])) for beat in (first, second)]
    figure("two beats at once", tickets=len(ids), sweeps_sent=sweeps_sent)
    assert min(sweeps_sent) > 5, sweeps_sent  # both scheduled the sweep all along
    keys = stack.sim_stats()["by_key"]
    for ticket_id in ids:
        assert keys.get(f"{ticket_id}:apply") == 1 and keys.get(f"{ticket_id}:revert") == 1, keys
        moves = [(e["from_status"], e["to_status"]) for e in stack.events(ticket_id)]
        assert len(moves) == len(set(moves)), moves  # no transition happened twice
