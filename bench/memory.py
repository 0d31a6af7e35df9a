"""Memory: RSS of the gunicorn API workers across 10k+ mixed requests, and of the Celery worker
processes across 10k provisioned tickets, sampled after warm-up, during (peak) and at the end."""
from __future__ import annotations

import os
import threading
import time
from typing import Any

import psutil

from bench import common
from bench.common import Proc, fmt, log


def rss_mb(pid: int, children_only: bool = True) -> dict[int, float]:
    procs = psutil.Process(pid).children(recursive=True)
    return {p.pid: p.memory_info().rss / 2**20 for p in procs if p.is_running()}


class Sampler(threading.Thread):
    """RSS of every child process every 0.2 s: the peak, and the largest at each tenth of the run
    (so a rise that levels off, a warm-up, shows apart from one that keeps going)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()
        self.samples: list[tuple[float, float]] = []

    def run(self) -> None:
        started = time.perf_counter()
        while not self.stop.is_set():
            try:
                largest = max(rss_mb(self.pid).values(), default=0.0)
            except psutil.Error:
                largest = 0.0
            self.peak = max(self.peak, largest)
            self.samples.append((time.perf_counter() - started, largest))
            time.sleep(0.2)

    def tenths(self) -> list[int]:
        """The largest process's RSS (MB) at the end of each tenth of the sampled time."""
        if not self.samples:
            return []
        span = self.samples[-1][0]
        return [round(max((mb for t, mb in self.samples if t <= span * k / 10), default=0.0))
                for k in range(1, 11)]


def _api(reg: dict[str, Any]) -> dict[str, Any]:
    support, customers = reg["support"], reg["customers"]
    with common.connect() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM tickets LIMIT 2000")]
    body = ('{"type": "upscale", "environment_id": "%s", "summary": "memory run", '
            '"resources": [{"component": "yves", "size": "large"}]}')
    lines = []
    for j in range(25):
        for i, c in enumerate(customers):
            lines.append(("POST", "/v1/tickets", c["token"], body % c["stage_envs"][50 + j]))
            lines.append(("GET", "/v1/tickets?limit=50", support[i % len(support)], ""))
            lines.append(("GET", "/v1/tickets?limit=50", c["token"], ""))
            lines.append(("GET", f"/v1/tickets/{ids[(i * 25 + j) % len(ids)]}", support[i % len(support)], ""))
    warm, main = common.write_requests("mem-warm", lines[:2000]), common.write_requests("mem-main", lines[2000:])
    api = common.start_api()
    with common.running(api):
        common.wrk(common.API, data=warm, conns=16, duration=float(os.environ.get("MEM_WARM_SECONDS", "5")))
        after_warm = rss_mb(api.pid)
        sampler = Sampler(api.pid)
        sampler.start()
        r = common.wrk(common.API, data=main, conns=16, duration=float(os.environ.get("MEM_SECONDS", "60")))
        sampler.stop.set()
        end = rss_mb(api.pid)
    out = {"requests": r["requests"], "errors": r["errors"], "warm_max_mb": max(after_warm.values()),
           "peak_mb": sampler.peak, "end_max_mb": max(end.values()), "tenths_mb": sampler.tenths(),
           "growth_mb": max(end.values()) - max(after_warm.values())}
    print(f"memory API: {fmt(r)}\n  per-worker RSS after warm-up {sorted(round(v) for v in after_warm.values())} MB,"
          f" at end {sorted(round(v) for v in end.values())} MB, peak {sampler.peak:.0f} MB\n"
          f"  largest worker's RSS at each tenth of the run {sampler.tenths()} MB", flush=True)
    return out


def _worker(reg: dict[str, Any], tickets: int) -> dict[str, Any]:
    from bench.pipeline import wait_status

    from service.adapters.config import Settings
    from service.adapters.broker import Publisher, client_app

    with common.connect() as conn:  # the tickets the API run filed are not part of this
        conn.execute("UPDATE tickets SET status = 'rejected' WHERE status = 'pending_approval'")
        conn.commit()
    common.seed_tickets(tickets, status="pending_approval", offset=10_000)
    with common.connect() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM tickets WHERE status = 'pending_approval'")]
        conn.execute("UPDATE tickets SET status = 'approved', next_attempt_at = now(), published_at = now(), "
                     "version = version + 1 WHERE status = 'pending_approval'")
        conn.execute("INSERT INTO ticket_events (ticket_id, at, from_status, to_status, reason) "
                     "SELECT id, now(), 'pending_approval', 'approved', 'bench' FROM tickets WHERE status = 'approved'")
        conn.commit()
    settings = Settings.from_env(common.bench_env())
    publish = Publisher(client_app(settings), settings)
    warm, rest = ids[:500], ids[500:]
    sim = Proc("sim", [common.ENVDESK, "provisioning-sim", "--port", str(common.SIM_PORT)], common.bench_env())
    common.wait_http(f"http://127.0.0.1:{common.SIM_PORT}/_sim/stats")
    worker = Proc("mem-worker", [common.ENVDESK, "worker", "--loglevel", "WARNING"], common.bench_env())
    with common.running(sim, worker):
        time.sleep(4)
        for t in warm:
            publish(t, "upscale", "stage")
        wait_status(warm, "completed")
        after_warm = rss_mb(worker.pid)
        sampler = Sampler(worker.pid)
        sampler.start()
        started = time.perf_counter()
        for t in rest:
            publish(t, "upscale", "stage")
        wait_status(rest, "completed", timeout=600)
        secs = time.perf_counter() - started
        sampler.stop.set()
        end = rss_mb(worker.pid)
    out = {"tickets": len(ids), "seconds": secs, "warm_max_mb": max(after_warm.values()),
           "peak_mb": sampler.peak, "end_max_mb": max(end.values()), "tenths_mb": sampler.tenths(),
           "growth_mb": max(end.values()) - max(after_warm.values())}
    print(f"memory worker: {len(ids)} tickets ({len(rest) / secs:.0f}/s after warm-up); per-process RSS after "
          f"warm-up {sorted(round(v) for v in after_warm.values())} MB, at end "
          f"{sorted(round(v) for v in end.values())} MB, peak {sampler.peak:.0f} MB\n"
          f"  largest process's RSS at each tenth of the run {sampler.tenths()} MB", flush=True)
    return out


def run(tickets: int = 10_000) -> dict[str, Any]:
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=400, envs_per_account=100)
    common.seed_tickets(10_000)
    fig = {"api": _api(reg), "worker": _worker(reg, tickets)}
    log("memory done")
    return common.save("memory", fig)
