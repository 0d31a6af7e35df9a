"""One sweep pass (what `envdesk beat` asks for every few seconds) at 10k and 1M tickets, mostly
closed: timed in-process with a no-op dispatch, and the plan of every query it sends."""
from __future__ import annotations

import os
import secrets
import statistics
import time
from datetime import datetime, timezone
from typing import Any, Callable

import psycopg

from bench import change_calendar, common
from bench.console import OPEN_EVERY

REPEAT = 20
SWEEP_ENV = {"SLA_DECISION_HOURS": "stage=24,prod=4", "WEBHOOK_SECRET": secrets.token_urlsafe(32),
             "STAFF_WEBHOOK_URL": "http://127.0.0.1:9/staff"}  # never called: nothing is delivered


def _no_dispatch(ticket_id: str, ticket_type: str, stage: str, *, countdown: float = 0) -> bool:
    return True


def one_pass(database: str | None = None) -> Callable[[], Any]:
    """A sweep as workers.tasks.sweep_due_work runs it (alerts and webhook hand-out included),
    with a dispatch that publishes nothing; on the bench database, or on ``database``."""
    os.environ.update(common.bench_env(**SWEEP_ENV))
    from dataclasses import replace

    from service.adapters.config import Settings, normalize_database_url
    from service.adapters.db import UnitOfWork, make_engine, make_session_factory
    from service.app.notify.outbox import claim_due_deliveries, status_listener
    from service.app.notify.staff_alerts import StaffAlerts, alert_overdue
    from service.app.provisioning.sweep import sweep

    settings = Settings.from_env()
    if database:
        settings = replace(settings, database_url=normalize_database_url(f"{common.PG}/{database}"))
    sessions = make_session_factory(make_engine(settings.database_url, pooler=settings.database_pooler,
                                                pool_size=2, max_overflow=2))
    alerts, listener = StaffAlerts(settings.console_url), status_listener(settings)

    def run() -> Any:
        now = datetime.now(timezone.utc)
        return sweep(uow=UnitOfWork(sessions), now=now, lease=settings.lease_seconds,
                     dispatch=_no_dispatch, listener=listener,
                     deliver_webhooks=lambda: len(claim_due_deliveries(
                         UnitOfWork(sessions), now=now, lease=settings.lease_seconds,
                         urls=settings.webhook_urls, staff_url=settings.staff_webhook_url)),
                     alert_overdue=lambda: alert_overdue(alerts, uow=UnitOfWork(sessions), now=now,
                                                         sla_hours=settings.sla_decision_hours))

    run.engine = sessions().get_bind()  # type: ignore[attr-defined]
    return run


def measure(label: str, repeat: int = REPEAT) -> dict[str, Any]:
    """Two passes to reach the steady state (what was due is done), then ``repeat`` timed ones."""
    sweep_once = one_pass()
    first = [sweep_once(), sweep_once()]
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        report = sweep_once()
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    r = {"median_ms": statistics.median(took), "p99_ms": took[min(len(took) - 1, round(0.99 * len(took)))],
         "min_ms": took[0], "repeat": repeat, "warm_up": [p.__dict__ for p in first],
         "last": report.__dict__, "load1": os.getloadavg()[0]}
    print(f"sweep {label:>4} median {r['median_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
          f"min {r['min_ms']:6.1f} ms  n={repeat}  warm-up passes did {r['warm_up']}  "
          f"load1={r['load1']:.1f}", flush=True)
    return r


SMALL_COPY = f"{common.DB_NAME}_10k"
ROUNDS = 40


def keep_small_copy() -> None:
    """A copy of the bench database as it is now (10k tickets), for measure_side_by_side."""
    with common.admin() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE datname = %s AND pid <> pg_backend_pid()", (common.DB_NAME,))
        conn.execute(f"DROP DATABASE IF EXISTS {SMALL_COPY} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {SMALL_COPY} TEMPLATE {common.DB_NAME}")


def measure_side_by_side(rounds: int = ROUNDS) -> dict[str, Any]:
    """Passes at 10k (the copy) and at 1M taken in turn, the order swapped every round, so that
    both sizes see the same machine load: the two sequential figures above are minutes apart, and
    on a shared machine the load moves more than a pass does."""
    small, large = one_pass(SMALL_COPY), one_pass()
    for sweep_once in (small, large, small, large):
        sweep_once()  # the steady state: what was due is done
    took: dict[str, list[float]] = {"10k": [], "1M": []}
    for i in range(rounds):
        for label, sweep_once in (("10k", small), ("1M", large))[::1 if i % 2 else -1]:
            started = time.perf_counter()
            sweep_once()
            took[label].append((time.perf_counter() - started) * 1000)
    r: dict[str, Any] = {"rounds": rounds, "load1": os.getloadavg()[0]}
    for label, values in took.items():
        values.sort()
        r[label] = {"median_ms": statistics.median(values), "p99_ms": values[round(0.99 * (len(values) - 1))]}
    r["ratio_median"] = r["1M"]["median_ms"] / r["10k"]["median_ms"]
    r["ratio_p99"] = r["1M"]["p99_ms"] / r["10k"]["p99_ms"]
    print(f"sweep side by side, {rounds} rounds: 10k median {r['10k']['median_ms']:.1f} ms p99 "
          f"{r['10k']['p99_ms']:.1f} ms; 1M median {r['1M']['median_ms']:.1f} ms p99 {r['1M']['p99_ms']:.1f} ms; "
          f"1M / 10k median {r['ratio_median']:.2f}, p99 {r['ratio_p99']:.2f} (load1={r['load1']:.1f})",
          flush=True)
    return r


def plans() -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of every distinct statement one pass sends."""
    sweep_once = one_pass()
    with common.captured_sql() as seen:
        sweep_once()
    out: dict[str, str] = {}
    for statement, params in seen:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "INSERT")):
            out.setdefault(statement, common.explain(sweep_once.engine, statement, params))  # type: ignore[attr-defined]
    return out


GIVEN_UP_EVERY = 997  # a receiver that never answered, now and then


def seed_deliveries() -> float:
    """The outbox as it stands after every event was delivered: for each ticket without one yet, a
    delivery of its last status change made a second after the change (one in GIVEN_UP_EVERY
    given up after its attempts), with a body of a real event's size. Seconds taken."""
    started = time.perf_counter()
    body = '{"event":"ticket.completed","ticket":{"summary":"%s"}}' % ("x" * 600)
    with common.connect() as conn:
        conn.execute("""
            INSERT INTO webhook_deliveries (id, event_id, url, body, attempts, next_attempt_at,
                                            delivered_at, given_up_at, last_error, created_at)
            SELECT gen_random_uuid()::text, t.id, 'https://portal.example/envdesk/webhooks', %(body)s,
                   CASE WHEN g THEN 10 ELSE 1 END, t.updated_at,
                   CASE WHEN g THEN NULL ELSE t.updated_at + interval '1 second' END,
                   CASE WHEN g THEN t.updated_at + interval '1 day' END,
                   CASE WHEN g THEN 'portal is unavailable: 503' END, t.updated_at
            FROM (SELECT id, updated_at, hashtext(id) %% %(every)s = 0 AS g FROM tickets) t
            WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = t.id)""",
                     {"body": body, "every": GIVEN_UP_EVERY})
        conn.commit()
    with psycopg.connect(common.DB_URL, autocommit=True) as conn:  # as autovacuum would have, long ago
        conn.execute("VACUUM ANALYZE tickets, webhook_deliveries")
    return time.perf_counter() - started


def run(repeat: int = REPEAT) -> dict[str, Any]:
    common.reset_database()
    common.seed_registry(accounts=400, envs_per_account=20, prod_per_account=2)
    change_calendar.seed_windows()  # the 1,000 windows of the calendar bench, a tenth recurring
    figures: dict[str, Any] = {}
    for label, total in (("10k", 10_000), ("1M", 1_000_000)):
        figures[f"seed_{label}_seconds"] = common.seed_to(total, open_every=OPEN_EVERY,
                                                          stages=("stage", "prod"))
        with common.connect() as conn:  # staff were told about the old ones long ago
            conn.execute("UPDATE tickets SET sla_alerted_at = now() WHERE status = 'pending_approval' "
                         "AND sla_alerted_at IS NULL")
            conn.commit()
        figures[f"seed_deliveries_{label}_seconds"] = seed_deliveries()
        figures[label] = measure(label, repeat)
        found = plans()
        figures[f"plans_{label}"] = [{"sql": s, "plan": p, "seq_scans": common.seq_scanned(p)}
                                     for s, p in found.items()]
        if label == "10k":
            keep_small_copy()
    figures["side_by_side"] = measure_side_by_side()
    for i, item in enumerate(figures["plans_1M"], 1):
        verdict = (f"NOT an index scan: Seq Scan on {', '.join(item['seq_scans'])}" if item["seq_scans"]
                   else "index scans only")
        print(f"\n--- sweep query {i} at 1M: {verdict}\n{item['sql']}\n{item['plan']}", flush=True)
    figures["seq_scans_1M"] = sum(bool(item["seq_scans"]) for item in figures["plans_1M"])
    figures["seq_scans_tickets_1M"] = sum("tickets" in item["seq_scans"] for item in figures["plans_1M"])
    figures["ratio_median"] = figures["1M"]["median_ms"] / figures["10k"]["median_ms"]
    figures["ratio_p99"] = figures["1M"]["p99_ms"] / figures["10k"]["p99_ms"]
    print(f"sweep 1M / 10k, measured minutes apart: median {figures['ratio_median']:.2f}, "
          f"p99 {figures['ratio_p99']:.2f}; side by side: median {figures['side_by_side']['ratio_median']:.2f}, "
          f"p99 {figures['side_by_side']['ratio_p99']:.2f}; "
          f"queries with a Seq Scan at 1M: {figures['seq_scans_1M']} of {len(figures['plans_1M'])} "
          f"({figures['seq_scans_tickets_1M']} on tickets)",
          flush=True)
    return common.save("sweep", figures)
