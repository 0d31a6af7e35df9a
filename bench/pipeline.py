"""Pipeline: approve N tickets (HTTP, as support) with the simulator at zero latency, real worker
and beat on Redis; approve->completed throughput and latency from the audit events; a no-op
Celery task's consume rate on the same Redis; a prod ticket's wait with and without a staging
backlog of 1,000 tickets (separate prod and non-prod workers, as in docker-compose)."""
from __future__ import annotations

import os
import socket
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
import requests

from bench import common
from bench.common import Proc, log

N = 1000
_local = threading.local()


def _http() -> requests.Session:
    if not hasattr(_local, "s"):
        _local.s = requests.Session()
    return _local.s


def approve(ticket_id: str, token: str) -> int:
    r = _http().post(f"{common.API}/v1/tickets/{ticket_id}/approve",
                     headers={"Authorization": f"Bearer {token}"})
    return r.status_code


def approve_all(ids: list[str], support: list[str], threads: int = 16) -> tuple[float, list[int]]:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        codes = list(pool.map(lambda p: approve(p[1], support[p[0] % len(support)]), enumerate(ids)))
    return time.perf_counter() - started, codes


def wait_status(ids: list[str], status: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    with common.connect() as conn:
        while time.time() < deadline:
            done = conn.execute("SELECT count(*) FROM tickets WHERE id = ANY(%s) AND status = %s",
                                (ids, status)).fetchone()[0]
            conn.commit()
            if done == len(ids):
                return
            time.sleep(0.01 if len(ids) == 1 else 0.2)
    raise RuntimeError(f"only {done}/{len(ids)} reached {status}")


def latencies(ids: list[str]) -> tuple[list[float], float, float]:
    with common.connect() as conn:
        rows = conn.execute("""
            SELECT a.at, c.at FROM ticket_events a JOIN ticket_events c ON c.ticket_id = a.ticket_id
            WHERE a.ticket_id = ANY(%s) AND a.to_status = 'approved' AND c.to_status = 'completed'""",
                            (ids,)).fetchall()
    lat = [(c - a).total_seconds() for a, c in rows]
    return lat, min(a for a, _ in rows).timestamp(), max(c for _, c in rows).timestamp()


def call_started(ids: list[str]) -> dict[str, list[float]]:
    """Where each ticket's time went, in seconds: ``call`` from its approval to the moment
    provisioning received its operation (the simulator's record of the first submit under the
    ticket's key; the `provisioning` audit event is written before the worker calls, so it would
    flatter the figure), split into ``queued`` (approval committed → the worker's claim: publish,
    broker, prefetch, waiting for a free worker process), ``claim`` (claim → provisioning has the
    call: the claim transaction and the HTTP request) and ``record`` (→ completed: the answer and
    the record transaction)."""
    first = requests.get(f"http://127.0.0.1:{common.SIM_PORT}/_sim/stats", timeout=10).json()["first_submitted_at"]
    with common.connect() as conn:
        rows = conn.execute("""
            SELECT a.ticket_id, a.at, p.at, c.at FROM ticket_events a
            JOIN ticket_events p ON p.ticket_id = a.ticket_id AND p.to_status = 'provisioning'
            JOIN ticket_events c ON c.ticket_id = a.ticket_id AND c.to_status = 'completed'
            WHERE a.ticket_id = ANY(%s) AND a.to_status = 'approved'""", (ids,)).fetchall()
    out: dict[str, list[float]] = {"call": [], "queued": [], "claim": [], "record": []}
    for ticket_id, approved, claimed, completed in rows:
        submitted = first[f"{ticket_id}:apply"]
        out["call"].append(submitted - approved.timestamp())
        out["queued"].append((claimed - approved).total_seconds())
        out["claim"].append(submitted - claimed.timestamp())
        out["record"].append(completed.timestamp() - submitted)
    return out


def _cpu_seconds(*procs: Proc) -> list[float]:
    """User + system CPU seconds of each process with its children (gunicorn's and Celery's
    pool processes), so far."""
    import psutil

    out = []
    for proc in procs:
        total = 0.0
        try:
            root = psutil.Process(proc.pid)
            for p in (root, *root.children(recursive=True)):
                try:
                    times = p.cpu_times()
                    total += times.user + times.system
                except psutil.NoSuchProcess:
                    pass
        except psutil.NoSuchProcess:
            pass
        out.append(total)
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def seed_prod_tickets(count: int) -> list[str]:
    ids = []
    with common.connect() as conn:
        envs = conn.execute("""SELECT e.id, e.account_id, u.id FROM environments e
            JOIN users u ON u.account_id = e.account_id WHERE e.stage = 'prod' LIMIT %s""", (count,)).fetchall()
        for env_id, account_id, user_id in envs:
            tid = str(uuid.uuid4())
            conn.execute(f"""INSERT INTO tickets ({common.TICKET_COLUMNS}) VALUES (%s, 'change',
                'pending_approval', 1, %s, %s, %s, 'prod change', NULL,
                '{{"kind": "config", "parameters": {{"FEATURE_X": "on"}}}}'::json, 0, 1, NULL, NULL, now(), now())""",
                         (tid, env_id, account_id, user_id))
            ids.append(tid)
        conn.commit()
    return ids


def worker(name: str, queues: str | None = None) -> Proc:
    argv = [common.ENVDESK, "worker", "-n", f"{name}@%h", "--loglevel", "WARNING"]
    if os.environ.get("BENCH_WORKER_CONCURRENCY"):  # default: `envdesk worker`'s (CPU count)
        argv += ["-c", os.environ["BENCH_WORKER_CONCURRENCY"]]
    if queues:
        argv += ["-Q", queues]
    p = Proc(name, argv, common.bench_env())
    _wait_ready(name)
    return p


def _wait_ready(name: str, timeout: float = 120) -> None:
    """Until the worker answers a remote-control ping: its pool is up and consuming. A fixed
    sleep could let approvals queue up behind a worker still starting on a busy machine, and the
    figures would count that as pipeline latency."""
    os.environ.update(common.bench_env())
    from service.adapters.config import Settings
    from workers.app import make_celery

    app = make_celery(Settings.from_env())
    destination = f"{name}@{socket.gethostname()}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(destination=[destination], timeout=0.5):
            return
    raise RuntimeError(f"worker {destination} did not answer a ping within {timeout:.0f} s")


def noop_rate(count: int = 5000) -> float:
    import os

    os.environ.update(common.bench_env())
    from bench.noop import QUEUE, app as noop_app

    r = redis.Redis.from_url(common.REDIS_URL)
    r.delete(QUEUE)
    for _ in range(count):
        noop_app.send_task("bench.noop", queue=QUEUE)
    argv = [str(common.ROOT / ".venv/bin/celery"), "-A", "bench.noop", "worker", "-Q", QUEUE,
            "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
    with common.running(Proc("noop-worker", argv, common.bench_env())):
        while r.llen(QUEUE) >= count:
            time.sleep(0.005)
        t0 = time.perf_counter()
        left = r.llen(QUEUE)
        while r.llen(QUEUE) or r.hlen("unacked"):
            time.sleep(0.01)
        t1 = time.perf_counter()
    return (left + 1) / (t1 - t0)


def run() -> dict[str, Any]:
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=40, envs_per_account=60, prod_per_account=1)
    common.seed_tickets(2 * N, status="pending_approval")
    prod = seed_prod_tickets(10)
    with common.connect() as conn:
        stage_ids = [r[0] for r in conn.execute(
            "SELECT id FROM tickets WHERE type = 'upscale' AND status = 'pending_approval' ORDER BY created_at DESC")]
    batch_a, batch_b = stage_ids[:N], stage_ids[N:2 * N]
    support = reg["support"]
    fig: dict[str, Any] = {}
    fig["noop_per_s"] = noop_rate()
    log(f"celery no-op consume rate: {fig['noop_per_s']:.0f}/s")
    sim = Proc("sim", [common.ENVDESK, "provisioning-sim", "--port", str(common.SIM_PORT), "--latency", "0"],
               common.bench_env())
    common.wait_http(f"http://127.0.0.1:{common.SIM_PORT}/_sim/stats")
    api = common.start_api()
    with common.running(sim, api, Proc("beat", [common.ENVDESK, "beat", "--loglevel", "WARNING"],
                                       common.bench_env())):
        with common.running(worker("all")) as (all_queues,):
            cpu0 = _cpu_seconds(api, all_queues)
            secs, codes = approve_all(batch_a, support)
            cpu_approving = _cpu_seconds(api, all_queues)
            fig["approve_http_per_s"] = N / secs
            fig["approve_non200"] = sum(1 for c in codes if c != 200)
            wait_status(batch_a, "completed")
            cpu1 = _cpu_seconds(api, all_queues)
        fig["api_cpu_ms_per_approval"] = (cpu1[0] - cpu0[0]) / N * 1000
        fig["worker_cpu_ms_per_ticket"] = (cpu1[1] - cpu0[1]) / N * 1000
        fig["worker_cpu_share_while_approving"] = (
            (cpu_approving[1] - cpu0[1]) / max(cpu_approving[0] - cpu0[0] + cpu_approving[1] - cpu0[1], 1e-9))
        lat, first, last = latencies(batch_a)
        parts = call_started(batch_a)
        for part, values in parts.items():
            fig.update({f"{part}_p50_s": pct(values, 50), f"{part}_p99_s": pct(values, 99),
                        f"{part}_max_s": max(values)})
        with common.connect() as conn:
            last_approval, after = conn.execute("""
                SELECT max(a.at), count(*) FILTER (WHERE c.at > (SELECT max(at) FROM ticket_events
                    WHERE ticket_id = ANY(%(ids)s) AND to_status = 'approved'))
                FROM ticket_events a JOIN ticket_events c ON c.ticket_id = a.ticket_id
                WHERE a.ticket_id = ANY(%(ids)s) AND a.to_status = 'approved' AND c.to_status = 'completed'""",
                                                {"ids": batch_a}).fetchone()
        fig["load1"] = os.getloadavg()[0]
        fig["drain_per_s"] = after / max(last - last_approval.timestamp(), 1e-3)
        fig.update(tickets_per_s=N / (last - first), p50_s=pct(lat, 50), p99_s=pct(lat, 99), max_s=max(lat))
        print(f"pipeline: {N} tickets approve->provisioning call started p50 {fig['call_p50_s'] * 1000:.0f} ms, "
              f"p99 {fig['call_p99_s'] * 1000:.0f} ms (max {fig['call_max_s'] * 1000:.0f}); "
              f"approve->completed {fig['tickets_per_s']:.0f} tickets/s, "
              f"p50 {fig['p50_s'] * 1000:.0f} ms, p99 {fig['p99_s'] * 1000:.0f} ms "
              f"(approvals over HTTP {fig['approve_http_per_s']:.0f}/s, non-200 {fig['approve_non200']}; "
              f"worker drain after the last approval {fig['drain_per_s']:.0f}/s); "
              f"celery no-op {fig['noop_per_s']:.0f} tasks/s; load1 {fig['load1']:.1f}", flush=True)
        print(f"pipeline: CPU of the API's processes {fig['api_cpu_ms_per_approval']:.2f} ms an approval, "
              f"of the worker's {fig['worker_cpu_ms_per_ticket']:.2f} ms a ticket; the worker's share of "
              f"their CPU while approvals arrived {fig['worker_cpu_share_while_approving'] * 100:.0f} %",
              flush=True)
        print("pipeline: where the time went (p50 / p99 ms): " + ", ".join(
            f"{part} {fig[f'{part}_p50_s'] * 1000:.1f} / {fig[f'{part}_p99_s'] * 1000:.1f}"
            for part in ("queued", "claim", "record")), flush=True)
        fig.update(prod_wait(batch_b, prod, support))
    return common.save("pipeline", fig)


def _one_prod(ticket_id: str, support: str) -> float:
    assert approve(ticket_id, support) == 200
    wait_status([ticket_id], "completed", timeout=60)
    return latencies([ticket_id])[0][0]


def prod_wait(backlog: list[str], prod: list[str], support: list[str]) -> dict[str, Any]:
    r = redis.Redis.from_url(common.REDIS_URL)
    queue = "provision.stage.upscale"
    with common.running(worker("prod", "prod")):
        nonprod = worker("nonprod", "non-prod,webhooks,maintenance")
        empty = [_one_prod(t, support[0]) for t in prod[:5]]
        nonprod.stop()
        approve_all(backlog, support)
        depth_before = r.llen(queue)
        with common.running(worker("nonprod2", "non-prod,webhooks,maintenance")):
            deadline = time.time() + 30
            while r.llen(queue) > depth_before - 20 and time.time() < deadline:
                time.sleep(0.05)  # measure while the backlog is being worked off
            busy, depths = [], []
            for t in prod[5:10]:
                depths.append(r.llen(queue))
                busy.append(_one_prod(t, support[1]))
                time.sleep(0.2)
            wait_status(backlog, "completed")
    out = {"prod_wait_empty_ms": statistics.median(empty) * 1000, "prod_wait_empty_max_ms": max(empty) * 1000,
           "prod_wait_backlog_ms": statistics.median(busy) * 1000, "prod_wait_backlog_max_ms": max(busy) * 1000,
           "staging_queued_at_start": depth_before, "staging_queued_during": depths}
    print(f"prod ticket approve->completed: empty backlog median {out['prod_wait_empty_ms']:.0f} ms "
          f"(max {out['prod_wait_empty_max_ms']:.0f}); with {depth_before} staging queued "
          f"(depth while measuring {depths}) median {out['prod_wait_backlog_ms']:.0f} ms "
          f"(max {out['prod_wait_backlog_max_ms']:.0f})", flush=True)
    return out
