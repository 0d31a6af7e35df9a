"""The change calendar at 10k and 1M tickets with 1,000 windows: GET /v1/calendar for a month
(support across all environments, customers), a customer's iCalendar feed, the plans of the
calendar's statements, and filing with 1,000 windows configured against none."""
from __future__ import annotations

import cProfile
import dataclasses
import io
import os
import pstats
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import common
from bench.common import fmt, log

SPACING = 300
"""Seconds between seeded tickets: 10k tickets cover 35 days, 1M about 9.5 years, so the month
read holds the same tickets at both sizes (the growth is history, as it is in production)."""
NEVER = 10 ** 9  # no open tickets; every 10th ticket a 7-day temporary upscale (seed_tickets)
WINDOWS = 1000
MONTH = timedelta(days=30)
FILINGS = 600
ONE_ROW = {"change_windows_version"}
"""Tables of one row by design: PostgreSQL reads one by a sequential scan of its one page."""
WARM_ROUNDS, WARM_CONNS = 4, 32
"""Warm-up: rounds of 2 s on new connections, more than there are API processes, so that each
process has rendered each calendar once before the measured run, as a server in service has
(wrk's keep-alive connections stay on the process that accepted them, and one process may
accept a whole round's)."""


def seed_windows(count: int = WINDOWS) -> None:
    """``count`` windows inserted set-based: every 10th recurring maintenance (nightly 22:00-02:00,
    weekly on Sunday or monthly on the 1st, Europe/Berlin, without end); the others single, 2-6
    hours, spread evenly over the year from 180 days ago, every 5th of them a freeze of production.
    Scopes in turn (the recurring ones among themselves too): all environments, the stage
    `stage`, an account, an environment."""
    with common.connect() as conn:
        conn.execute("""
            WITH acc AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM accounts WHERE kind = 'customer'),
            env AS (SELECT id, account_id, stage, row_number() OVER (ORDER BY id) - 1 AS n FROM environments),
            staff AS (SELECT u.id FROM users u WHERE u.role = 'support' LIMIT 1),
            g AS (
                SELECT i, i %% 10 = 0 AS rec,
                       date_trunc('day', now() - interval '200 days') + interval '21 hours' AS rec_start,
                       date_trunc('hour', now() - interval '180 days') + make_interval(hours => i * 8760 / %(count)s) AS one_start,
                       CASE WHEN i %% 10 = 0 THEN (i / 10) %% 4 ELSE i %% 4 END AS scope
                FROM generate_series(0, %(count)s - 1) i)
            INSERT INTO change_windows (id, kind, title, start_at, end_at, timezone, rrule, last_end,
                                        scope_stage, scope_account_id, scope_environment_id,
                                        created_by, sequence, created_at, updated_at)
            SELECT gen_random_uuid()::text,
                   CASE WHEN NOT g.rec AND i %% 5 = 1 THEN 'freeze' ELSE 'maintenance' END,
                   'bench window ' || i,
                   CASE WHEN g.rec THEN g.rec_start ELSE g.one_start END,
                   CASE WHEN g.rec THEN g.rec_start + interval '4 hours'
                        ELSE g.one_start + make_interval(hours => 2 + i %% 5) END,
                   CASE WHEN g.rec THEN 'Europe/Berlin' ELSE 'UTC' END,
                   CASE WHEN NOT g.rec THEN NULL WHEN (i / 10) %% 3 = 0 THEN 'FREQ=DAILY'
                        WHEN (i / 10) %% 3 = 1 THEN 'FREQ=WEEKLY;BYDAY=SU' ELSE 'FREQ=MONTHLY;BYMONTHDAY=1' END,
                   CASE WHEN g.rec THEN NULL ELSE g.one_start + make_interval(hours => 2 + i %% 5) END,
                   CASE WHEN NOT g.rec AND i %% 5 = 1 THEN 'prod'
                        WHEN g.scope = 1 THEN 'stage' END,
                   CASE WHEN NOT g.rec AND i %% 5 = 1 THEN NULL WHEN g.scope = 2 THEN acc.id END,
                   CASE WHEN NOT g.rec AND i %% 5 = 1 THEN NULL WHEN g.scope = 3 THEN env.id END,
                   staff.id, 0, now(), now()
            FROM g CROSS JOIN staff
            JOIN acc ON acc.n = g.i %% (SELECT count(*) FROM acc)
            JOIN env ON env.n = (g.i * 37) %% (SELECT count(*) FROM env)
        """, {"count": count})
        conn.execute("UPDATE change_windows_version SET version = gen_random_uuid()::text")  # as declaring one does
        conn.commit()
        kinds = conn.execute("SELECT kind, rrule IS NOT NULL, count(*) FROM change_windows "
                             "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    log(f"windows: {kinds}")


def calendar_times() -> int:
    """The calendar's span of every seeded ticket with a period (as migration 0016 sets it)."""
    with common.connect() as conn:
        n = conn.execute("UPDATE tickets SET calendar_start = period_start, calendar_end = period_end "
                         "WHERE period_start IS NOT NULL AND calendar_end IS NULL").rowcount
        conn.commit()
    with common.psycopg.connect(common.DB_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE tickets")
        conn.execute("CHECKPOINT")
    return n


def _month() -> tuple[str, str]:
    until = datetime.now(UTC).replace(microsecond=0)
    return ((until - MONTH).strftime("%Y-%m-%dT%H:%M:%SZ"), until.strftime("%Y-%m-%dT%H:%M:%SZ"))


def feed_keys(reg: dict[str, Any], count: int = 50) -> list[str]:
    import requests

    keys = []
    for c in reg["customers"][:count]:
        r = requests.post(f"{common.API}/v1/me/calendar-key", timeout=10,
                          headers={"Authorization": f"Bearer {c['token']}"})
        r.raise_for_status()
        keys.append(r.json()["key"])
    return keys


def _cases(reg: dict[str, Any], keys: list[str]) -> dict[str, list[tuple[str, str, str, str]]]:
    since, until = _month()
    month = f"/v1/calendar?from={since}&to={until}"
    return {"support": [("GET", month, t, "") for t in reg["support"]],
            "customer": [("GET", month, c["token"], "") for c in reg["customers"][:50]],
            "ics": [("GET", f"/v1/calendar.ics?key={k}", "", "") for k in keys]}


def measure(label: str, reg: dict[str, Any], conns: int, duration: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with common.running(common.start_api()):
        keys = feed_keys(reg)
        for name, lines in _cases(reg, keys).items():
            data = common.write_requests(f"calendar-{name}", lines)
            for _ in range(WARM_ROUNDS):  # see WARM_ROUNDS
                common.wrk(common.API, data=data, conns=WARM_CONNS, duration=2)
            r = out[name] = common.wrk(common.API, data=data, conns=conns, duration=duration)
            print(f"calendar {label:>4} {name:<9} {fmt(r)}", flush=True)
    return out


def in_process(reg: dict[str, Any], *, profile: bool) -> dict[str, Any]:
    """Per request in-process (Flask test client): CPU ms, statements, entries, the plans of
    the calendar's statements (EXPLAIN ANALYZE, BUFFERS) and, with ``profile``, the top functions."""
    os.environ.update(common.bench_env(RATE_LIMIT_WRITES=""))
    from service.adapters.config import Settings
    from service.api import create_app

    app = create_app(Settings.from_env())
    client = app.test_client()
    engine = app.extensions["envdesk"].sessions().get_bind()
    since, until = _month()
    support = {"Authorization": f"Bearer {reg['support'][0]}"}
    customer_token = reg["customers"][0]["token"]
    key = client.post("/v1/me/calendar-key", headers={"Authorization": f"Bearer {customer_token}"}).get_json()["key"]
    cases = {"support": (f"/v1/calendar?from={since}&to={until}", support),
             "customer": (f"/v1/calendar?from={since}&to={until}",
                          {"Authorization": f"Bearer {customer_token}"}),
             "ics": (f"/v1/calendar.ics?key={key}", {})}
    report: dict[str, Any] = {"cpu_ms": {}, "cpu_ms_rendered": {}, "statements": {}, "entries": {}, "plans": {},
                              "seq_scans": {}, "profile": {}}
    rendering_app = create_app(dataclasses.replace(Settings.from_env(), calendar_cache_bytes=0))
    rendering = rendering_app.test_client()
    for name, (url, headers) in cases.items():
        cpu = []
        for _ in range(30):  # every request rendered, as without kept bodies (or on a change)
            started = time.process_time()
            rendering.get(url, headers=headers)
            cpu.append((time.process_time() - started) * 1000)
        report["cpu_ms_rendered"][name] = statistics.median(cpu)
        first = client.get(url, headers=headers)
        assert first.status_code == 200, (url, first.status_code, first.get_data(as_text=True)[:300])
        report["entries"][name] = (len(first.get_json()["items"]) if name != "ics"
                                   else first.get_data(as_text=True).count("BEGIN:VEVENT"))
        cpu = []
        for _ in range(30):
            started = time.process_time()
            client.get(url, headers=headers)
            cpu.append((time.process_time() - started) * 1000)
        report["cpu_ms"][name] = statistics.median(cpu)
        with common.captured_sql() as seen:
            client.get(url, headers=headers)
        report["statements"][name] = len(seen)
        for i, (statement, params) in enumerate(seen):
            if "change_windows" in statement or "calendar_end" in statement:
                plan = common.explain(engine, statement, params)
                report["plans"][f"{name} #{i + 1}"] = plan
                report["seq_scans"][f"{name} #{i + 1}"] = [
                    t for t in common.seq_scanned(plan) if t not in ONE_ROW]
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(20):
                rendering.get(url, headers=headers)
            prof.disable()
            text = io.StringIO()
            pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
            report["profile"][name] = text.getvalue()
    engine.dispose()
    rendering_app.extensions["envdesk"].sessions().get_bind().dispose()
    return report


def filing_cost(reg: dict[str, Any], pairs: int = FILINGS) -> dict[str, Any]:
    """Filing in-process (the use case the API runs, autocommit as the API files) on two copies
    of one database, one with the windows and one without, interleaved call by call (the order
    swapped every pair), so that the machine's noise falls on both alike."""
    from bench.mail import _events
    from service.adapters.db import UnitOfWork, make_engine, make_session_factory
    from service.adapters.identity import authenticate
    from service.app.commands import FileTicket
    from service.app.tickets import actions

    bare = f"{common.DB_NAME}_nowin"
    with common.admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {bare} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {bare} TEMPLATE {common.DB_NAME}")
    with common.psycopg.connect(f"{common.PG}/{bare}", autocommit=True) as conn:
        conn.execute("DELETE FROM change_windows")
        conn.execute("VACUUM ANALYZE change_windows")
    sides: dict[str, Any] = {}
    for name, db in (("windows", common.DB_NAME), ("none", bare)):
        url = f"{common.PG}/{db}".replace("postgresql://", "postgresql+psycopg://")
        engine = make_engine(url, pool_size=2)
        sessions = make_session_factory(engine)
        with UnitOfWork(sessions) as uow:
            people = {c["token"]: authenticate(uow.session, c["token"]) for c in reg["customers"]}
        sides[name] = (engine, make_session_factory(engine, autocommit=True), people)
    times: dict[str, list[float]] = {"windows": [], "none": []}
    conflicts = {"windows": 0, "none": 0}
    for i, (token, env_id) in enumerate(_events(reg, pairs, 0)):
        for name in (("windows", "none") if i % 2 == 0 else ("none", "windows")):
            _, filing, people = sides[name]
            command = FileTicket.from_body({"type": "upscale", "environment_id": env_id, "summary": "calendar cost",
                                            "resources": [{"component": "yves", "size": "large"}]})
            found: list[Any] = []  # as the API files: the 201 body lists the conflicts
            started = time.perf_counter()
            actions.file_ticket(people[token], command, uow=UnitOfWork(filing),
                                now=datetime.now(UTC), conflicts=found)
            times[name].append(time.perf_counter() - started)
            conflicts[name] += len(found)
    for engine, _, _ in sides.values():
        engine.dispose()
    with common.admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {bare} WITH (FORCE)")
    median = {k: statistics.median(v) * 1000 for k, v in times.items()}
    p90 = {k: sorted(v)[int(len(v) * 0.9)] * 1000 for k, v in times.items()}
    ratio = median["windows"] / median["none"]
    print(f"filing in-process, {pairs} each interleaved: median {median['windows']:.2f} ms with {WINDOWS} "
          f"windows, {median['none']:.2f} ms with none (p90 {p90['windows']:.2f} / {p90['none']:.2f}): "
          f"ratio {ratio:.3f}", flush=True)
    print(f"conflicts reported at filing: {conflicts}", flush=True)
    return {"median_ms": median, "p90_ms": p90, "ratio": ratio, "n": pairs, "conflicts": conflicts}


def run(conns: int = int(os.environ.get("READ_CONNS", "4")), duration: float = 10) -> dict[str, Any]:
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=400, envs_per_account=20, prod_per_account=2)
    seed_windows()
    figures: dict[str, Any] = {"conns": conns, "windows": WINDOWS, "spacing_s": SPACING}
    for label, total in (("10k", 10_000), ("1M", 1_000_000)):
        figures[f"seed_{label}_seconds"] = common.seed_to(total, open_every=NEVER, spacing=SPACING)
        figures[f"timed_{label}"] = calendar_times()
        figures[label] = measure(label, reg, conns, duration)
        report = in_process(reg, profile=label == "1M")
        for k in ("cpu_ms", "cpu_ms_rendered", "statements", "entries", "seq_scans"):
            figures[f"{k}_{label}"] = report[k]
        figures[f"plans_{label}"] = report["plans"]
        print(f"at {label}: tickets with a calendar span {figures[f'timed_{label}']} (added); entries "
              f"{report['entries']}; in-process CPU ms {({k: round(v, 1) for k, v in report['cpu_ms'].items()})} "
              f"(rendered {({k: round(v, 1) for k, v in report['cpu_ms_rendered'].items()})}); "
              f"statements {report['statements']}", flush=True)
        if label == "10k":
            figures["filing"] = filing_cost(reg)
        else:
            for name, text in report["profile"].items():
                print(f"\n--- profile at 1M (20 requests, cumulative): {name}\n{text}", flush=True)
    for name, plan in figures["plans_1M"].items():
        scans = figures["seq_scans_1M"][name]
        verdict = "index scans only" if not scans else f"reads whole: {', '.join(sorted(set(scans)))}"
        print(f"\n--- EXPLAIN ANALYZE at 1M: {name} ({verdict})\n{plan}", flush=True)
    for name in figures["1M"]:
        ratio = figures[f"ratio_p99_{name}"] = figures["1M"][name]["p99_ms"] / figures["10k"][name]["p99_ms"]
        print(f"p99 1M / 10k {name}: {ratio:.2f}", flush=True)
    return common.save("calendar", figures)
