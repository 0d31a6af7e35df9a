"""CPU a ticket costs the real worker, Celery included: N stage tickets set `approved` and
published as the hand-off does, drained by one `envdesk worker -Q non-prod` (default concurrency)
against the simulator at zero latency; the CPU of the worker's processes (main and pool) and of
its PostgreSQL backends, divided by N. Then the same for the Celery no-op task (bench/noop.py):
Celery's own cost per task, measured the same way. Run after `bench/run.py pipeline` (it reuses
its database and registry).

    .venv/bin/python bench/profile_worker.py            # N=1000 by default
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402
from bench.common import Proc, log  # noqa: E402

N = int(os.environ.get("N", "1000"))
WARM = 100
os.environ.update(common.bench_env())

import psutil  # noqa: E402
import redis  # noqa: E402

from bench.pipeline import _wait_ready  # noqa: E402


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def _backends(conn) -> list[psutil.Process]:  # type: ignore[no-untyped-def]
    """Every PostgreSQL backend connected to the bench database but this one (the worker's pool)."""
    pids = [r[0] for r in conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    conn.commit()
    return [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]


def approved_tickets(n: int) -> list[str]:
    """``n`` stage upscales set `approved` and due now, as an approval leaves them."""
    with common.connect() as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT t.id FROM tickets t JOIN environments e ON e.id = t.environment_id "
            "WHERE t.type = 'upscale' AND e.stage = 'stage' ORDER BY t.id LIMIT %s", (n,))]
        conn.execute("""UPDATE tickets SET status = 'approved', operation_id = NULL, next_attempt_at = now(),
            published_at = now(), attempts = 0, round = round + 1 WHERE id = ANY(%s)""", (ids,))
        conn.commit()
    return ids


def drain(label: str, proc: Proc, publish, done, warm) -> float:  # type: ignore[no-untyped-def]
    """Warm the worker's processes up (``warm()``: first statements compiled and prepared,
    connections open), then publish N tasks and wait until ``done()``; CPU ms per task."""
    warm()
    with common.connect() as conn:
        workers = _tree(proc.pid)
        cpu0, pg0, wall0 = _cpu(workers), _cpu(_backends(conn)), time.perf_counter()
        publish()
        while not done():
            time.sleep(0.05)
        wall = time.perf_counter() - wall0
        cpu, pg = _cpu(workers) - cpu0, _cpu(_backends(conn)) - pg0
    print(f"{label}: {N} tasks in {wall:.2f} s ({N / wall:.0f}/s); CPU per task: worker processes "
          f"{cpu / N * 1000:.2f} ms, PostgreSQL backends {pg / N * 1000:.2f} ms; load1 "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    return cpu / N * 1000


def main() -> None:
    from service.adapters.config import Settings
    from service.adapters.broker import Publisher, client_app

    settings = Settings.from_env()
    r = redis.Redis.from_url(common.REDIS_URL)
    sim = Proc("sim-worker", [common.ENVDESK, "provisioning-sim", "--port", str(common.SIM_PORT),
                              "--latency", "0"], common.bench_env())
    with common.running(sim):
        common.wait_http(f"http://127.0.0.1:{common.SIM_PORT}/_sim/stats")
        warm_ids, ids = approved_tickets(WARM), approved_tickets(N + WARM)[WARM:]
        argv = [common.ENVDESK, "worker", "-n", "drain@%h", "-Q", "non-prod", "--loglevel", "WARNING"]
        worker = Proc("drain", argv, common.bench_env())
        with common.running(worker):
            _wait_ready("drain")
            publisher = Publisher(client_app(settings), settings)

            def publish(batch: list[str]) -> None:
                for ticket_id in batch:
                    publisher(ticket_id, "upscale", "stage")

            def completed(batch: list[str]) -> bool:
                with common.connect() as conn:
                    return conn.execute("SELECT count(*) FROM tickets WHERE id = ANY(%s) AND status = 'completed'",
                                        (batch,)).fetchone()[0] == len(batch)

            def warm() -> None:
                publish(warm_ids)
                while not completed(warm_ids):
                    time.sleep(0.05)

            drain("provision task (approved -> completed)", worker, lambda: publish(ids),
                  lambda: completed(ids), warm)
        from bench.noop import QUEUE, app as noop_app

        r.delete(QUEUE)
        argv = [str(common.ROOT / ".venv/bin/celery"), "-A", "bench.noop", "worker", "-Q", QUEUE,
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "-n", "noop@%h"]
        noop = Proc("noop-drain", argv, common.bench_env())
        with common.running(noop):
            time.sleep(3)
            log("no-op worker started")

            def publish_noop(n: int = N) -> None:
                for _ in range(n):
                    noop_app.send_task("bench.noop", queue=QUEUE)

            def drained() -> bool:
                return not r.llen(QUEUE) and not r.hlen("unacked")

            def warm_noop() -> None:
                publish_noop(WARM)
                while not drained():
                    time.sleep(0.05)

            drain("Celery no-op task", noop, publish_noop, drained, warm_noop)


if __name__ == "__main__":
    main()
