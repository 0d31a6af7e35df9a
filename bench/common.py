"""Shared plumbing of the benchmarks: settings, database reset and seeding, processes, wrk."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PY = str(ROOT / ".venv" / "bin" / "python")
ENVDESK = str(ROOT / ".venv" / "bin" / "envdesk")
WORK = Path(os.environ.get("BENCH_HOME", "/tmp/envdesk-bench"))
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "envdesk_bench")
DB_URL = f"{PG}/{DB_NAME}"
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "14"))
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
# BENCH_PORT_BASE moves the three ports, so two benchmark runs can share the machine.
_BASE = int(os.environ.get("BENCH_PORT_BASE", "18080"))
API_PORT, FLOOR_PORT, SIM_PORT = _BASE, _BASE + 10, _BASE + 1
API = f"http://127.0.0.1:{API_PORT}"
SIM_TOKEN = secrets.token_urlsafe(32)
# What `envdesk serve` picks by default on this machine (service/cli/processes.py); BENCH_THREADS
# serves with that many threads a process instead (gunicorn's threaded worker above 1).
WORKERS = int(os.environ.get("WEB_CONCURRENCY", "0")) or min(2 * (os.cpu_count() or 1) + 1, 8)
THREADS = int(os.environ.get("BENCH_THREADS", "1"))


def bench_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": DB_URL, "REDIS_URL": REDIS_URL, "ENVDESK_HOME": str(WORK / "home"),
        "SECRET_KEY": secrets.token_urlsafe(32), "PROVISIONING_URL": f"http://127.0.0.1:{SIM_PORT}",
        "PROVISIONING_TOKEN": SIM_TOKEN, "PYTHONPATH": str(ROOT),
    })
    env.update(extra)
    return env


RESULTS = WORK / "results.json"


def save(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Keep one command's figures in the results file; `run.py table` prints them."""
    WORK.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[name] = figures
    RESULTS.write_text(json.dumps(data, indent=2, default=str))
    return figures


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- database -------------------------------------------------------------------------------

def admin() -> psycopg.Connection:
    return psycopg.connect(f"{PG}/postgres", autocommit=True)


def connect() -> psycopg.Connection:
    return psycopg.connect(DB_URL)


def reset_database(*, schema: bool = True) -> None:
    with admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    if schema:
        subprocess.run([ENVDESK, "db", "upgrade"], env=bench_env(), check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token() -> str:
    return "edk_" + secrets.token_urlsafe(32)


def seed_registry(*, accounts: int, envs_per_account: int, prod_per_account: int = 0,
                  support_tokens: int = 40) -> dict[str, Any]:
    """Accounts, users and tokens straight into the tables; environments through
    `envdesk env import` (timed). Returns tokens, environment ids and the import timing."""
    now = "now()"
    provider = str(uuid.uuid4())
    customers: list[dict[str, Any]] = []
    support: list[str] = []
    with connect() as conn, conn.cursor() as cur:
        cur.execute(f"INSERT INTO accounts (id, name, kind, created_at) VALUES (%s, 'Provider', 'provider', {now})",
                    (provider,))
        for i in range(support_tokens):
            uid, tok = str(uuid.uuid4()), _token()
            cur.execute(f"INSERT INTO users (id, email, account_id, role, created_at) VALUES (%s, %s, %s, 'support', {now})",
                        (uid, f"support{i}@provider.example", provider))
            cur.execute(f"INSERT INTO api_tokens (id, user_id, token_hash, prefix, created_at) VALUES (%s, %s, %s, %s, {now})",
                        (str(uuid.uuid4()), uid, token_hash(tok), tok[:10]))
            support.append(tok)
        rows_acc, rows_usr, rows_tok = [], [], []
        for i in range(accounts):
            aid, uid, tok = str(uuid.uuid4()), str(uuid.uuid4()), _token()
            rows_acc.append((aid, f"Customer {i}"))
            rows_usr.append((uid, f"ops{i}@customer.example", aid))
            rows_tok.append((str(uuid.uuid4()), uid, token_hash(tok), tok[:10]))
            customers.append({"account_id": aid, "user_id": uid, "token": tok})
        cur.executemany(f"INSERT INTO accounts (id, name, kind, created_at) VALUES (%s, %s, 'customer', {now})", rows_acc)
        cur.executemany(f"INSERT INTO users (id, email, account_id, role, created_at) VALUES (%s, %s, %s, 'member', {now})", rows_usr)
        cur.executemany(f"INSERT INTO api_tokens (id, user_id, token_hash, prefix, created_at) VALUES (%s, %s, %s, %s, {now})", rows_tok)
        conn.commit()
    WORK.mkdir(parents=True, exist_ok=True)
    jsonl = WORK / "environments.jsonl"
    with jsonl.open("w") as fh:
        for c in customers:
            for j in range(envs_per_account):
                fh.write(json.dumps({"account": c["account_id"], "name": f"stage-{j}", "stage": "stage",
                                     "sizes": {"yves": "small", "zed": "small"}}) + "\n")
            for j in range(prod_per_account):
                fh.write(json.dumps({"account": c["account_id"], "name": f"prod-{j}", "stage": "prod",
                                     "sizes": {}}) + "\n")
    lines = accounts * (envs_per_account + prod_per_account)
    started = time.perf_counter()
    out = subprocess.run([ENVDESK, "env", "import", str(jsonl)], env=bench_env(), check=True,
                         capture_output=True, text=True)
    import_seconds = time.perf_counter() - started
    log(f"env import of {lines} lines: {import_seconds:.2f}s -> {out.stdout.strip()}")
    by_account: dict[str, dict[str, list[str]]] = {c["account_id"]: {"stage": [], "prod": []} for c in customers}
    with connect() as conn:
        for eid, aid, stage in conn.execute(
                "SELECT id, account_id, stage FROM environments ORDER BY account_id, name"):
            by_account[aid][stage].append(eid)
    for c in customers:
        c["stage_envs"] = by_account[c["account_id"]]["stage"]
        c["prod_envs"] = by_account[c["account_id"]]["prod"]
    reg = {"customers": customers, "support": support, "import_lines": lines,
           "import_seconds": import_seconds, "import_summary": out.stdout.strip()}
    (WORK / "registry.json").write_text(json.dumps(reg))
    return reg


TICKET_COLUMNS = """id, type, status, version, environment_id, account_id, requester_id, summary,
    resources, change, attempts, round, period_start, period_end, created_at, updated_at"""
OPEN_ROTATION = "ARRAY['pending_approval', 'failed', 'scheduled']"


def seed_tickets(count: int, *, status: str = "completed", offset: int = 0, open_every: int = 0,
                 stages: tuple[str, ...] = ("stage",), spacing: int = 1) -> float:
    """``count`` tickets spread over every environment of ``stages`` (and so every account),
    created ``spacing`` seconds apart going back in time, generated inside PostgreSQL. With
    ``open_every`` = n, every n-th ticket is open work (pending_approval, failed and scheduled in
    turn, so spread over time) and every 10th other one a 7-day temporary upscale (reverted once
    its period is over); a second open ticket of the same kind on an environment is skipped, as
    the service would refuse it. Returns seconds taken."""
    started = time.perf_counter()
    with connect() as conn:
        conn.execute(f"""
            WITH e AS (
                SELECT env.id, env.account_id, u.id AS user_id,
                       row_number() OVER (ORDER BY env.id) - 1 AS n
                FROM environments env JOIN users u ON u.account_id = env.account_id
                WHERE env.stage = ANY(%(stages)s)),
            total AS (SELECT count(*) AS c FROM e),
            s AS (
                SELECT g, now() - make_interval(secs => g * %(spacing)s) AS at,
                       %(every)s > 0 AND g %% greatest(%(every)s, 1) = 0 AS open,
                       %(every)s > 0 AND g %% greatest(%(every)s, 1) <> 0 AND g %% 10 = 5 AS temp
                FROM generate_series(%(lo)s::int, %(hi)s::int) g)
            INSERT INTO tickets ({TICKET_COLUMNS})
            SELECT gen_random_uuid()::text, 'upscale',
                   CASE WHEN s.open THEN ({OPEN_ROTATION})[(s.g / greatest(%(every)s, 1)) %% 3 + 1]
                        WHEN s.temp AND s.at + interval '7 days' <= now() THEN 'reverted'
                        ELSE %(status)s END,
                   1, e.id, e.account_id, e.user_id,
                   'seeded ticket ' || s.g, '[{{"component": "yves", "size": "medium"}}]'::json, NULL,
                   0, 1,
                   CASE WHEN s.temp THEN s.at WHEN s.open AND (s.g / greatest(%(every)s, 1)) %% 3 = 2
                        THEN now() + interval '1 day' END,
                   CASE WHEN s.temp THEN s.at + interval '7 days' WHEN s.open AND (s.g / greatest(%(every)s, 1)) %% 3 = 2
                        THEN now() + interval '8 days' END,
                   s.at, s.at
            FROM s CROSS JOIN total JOIN e ON e.n = (s.g %% total.c)
            ON CONFLICT DO NOTHING
        """, {"status": status, "lo": offset + 1, "hi": offset + count, "every": open_every,
              "stages": list(stages), "spacing": spacing})
        conn.commit()
    with psycopg.connect(DB_URL, autocommit=True) as conn:  # as autovacuum would have, everywhere
        conn.execute("VACUUM ANALYZE")
        # The seeding's dirty pages are written now, not by a checkpoint during the measurement.
        conn.execute("CHECKPOINT")
    return time.perf_counter() - started


def seed_to(total: int, **options: Any) -> float:
    """Seed tickets until the table holds about ``total`` (see ``seed_tickets``); seconds taken."""
    with connect() as conn:
        have = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
        last = conn.execute("SELECT coalesce(max(extract(epoch FROM now() - created_at)), 0) "
                            "FROM tickets").fetchone()[0]
    # continue further back in time than any seeded ticket
    offset = max(have, int(last) // options.get("spacing", 1))
    secs = seed_tickets(total - have, offset=offset, **options)
    log(f"seeded {total - have} tickets in {secs:.1f}s (now about {total})")
    return secs


def status_counts() -> dict[str, int]:
    with connect() as conn:
        return dict(conn.execute("SELECT status, count(*) FROM tickets GROUP BY status ORDER BY 2 DESC").fetchall())


# --- SQL as the service sends it --------------------------------------------------------------

@contextmanager
def captured_sql() -> Iterator[list[tuple[str, Any]]]:
    """Every statement (and its parameters) any SQLAlchemy engine in this process sends."""
    from sqlalchemy import Engine, event

    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cur: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def explain(engine: Any, statement: str, params: Any, *, analyze: bool = True) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one captured statement, in a transaction rolled back after
    (ANALYZE runs the statement: an UPDATE must not change the data being measured)."""
    options = "ANALYZE, BUFFERS" if analyze else "COSTS"
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN ({options}) " + statement, params).all()
        conn.rollback()
    return "\n".join(row[0] for row in plan)


def seq_scanned(plan: str) -> list[str]:
    """The tables a plan reads whole (its Seq Scan nodes); empty when it only uses indexes."""
    import re

    return re.findall(r"Seq Scan on (\w+)", plan)


# --- processes ------------------------------------------------------------------------------

class Proc:
    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.logfile = (WORK / f"{name}.log").open("w")
        self.popen = subprocess.Popen(argv, env=env, stdout=self.logfile, stderr=subprocess.STDOUT,
                                      start_new_session=True, cwd=str(ROOT))

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
            except ProcessLookupError:
                pass
        self.logfile.close()


@contextmanager
def running(*procs: Proc) -> Iterator[tuple[Proc, ...]]:
    try:
        yield procs
    finally:
        for p in reversed(procs):
            p.stop()


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except Exception:  # noqa: BLE001
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def start_api(**env: str) -> Proc:
    home = WORK / "home"
    shutil.rmtree(home / "metrics", ignore_errors=True)
    p = Proc("api", [ENVDESK, "serve", "--port", str(API_PORT), "--threads", str(THREADS)], bench_env(**env))
    wait_http(f"{API}/healthz")
    return p


def console_sign_in(token: str) -> str:
    """Sign in to the staff console as a browser does: the form's CSRF token, then POST
    /console/login with the API token. Returns the session cookie ("name=value")."""
    import http.cookiejar
    import re
    import urllib.parse

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{API}/console/login", timeout=10) as r:
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', r.read().decode())
    if csrf is None:
        raise RuntimeError("no CSRF token on the console's sign-in form")
    body = urllib.parse.urlencode({"csrf_token": csrf.group(1), "token": token}).encode()
    with opener.open(f"{API}/console/login", data=body, timeout=10) as r:
        if not r.geturl().endswith("/console/") or r.status != 200:
            raise RuntimeError(f"console sign-in failed: {r.status} {r.geturl()}")
    cookie = next(c for c in jar if c.name == "envdesk_console")
    return f"{cookie.name}={cookie.value}"


def start_floor() -> Proc:
    p = Proc("floor", [PY, str(BENCH / "floor_app.py"), "--port", str(FLOOR_PORT)], bench_env(
        PROMETHEUS_MULTIPROC_DIR=str(WORK / "floor-metrics")))
    wait_http(f"http://127.0.0.1:{FLOOR_PORT}/json")
    return p


# --- wrk ------------------------------------------------------------------------------------

def write_requests(name: str, lines: list[tuple[str, str, str, str]]) -> Path:
    """Request lines for bench/replay.lua: method, path, token, body (tab separated)."""
    path = WORK / f"{name}.tsv"
    with path.open("w") as fh:
        for method, p, token, body in lines:
            fh.write(f"{method}\t{p}\t{token}\t{body}\n")
    return path


def filing_lines(customers: list[dict[str, Any]], envs: range, extra: str = "") -> list[tuple[str, str, str, str]]:
    """A permanent two-component upscale for each of ``envs`` (indexes into each customer's
    stage environments) of each customer, environment by environment: every line files on an
    environment of its own. ``extra``: more members of the body (``', "key": value'``)."""
    body = ('{"type": "upscale", "environment_id": "%s", "summary": "load test next week", '
            '"resources": [{"component": "yves", "size": "large"}, {"component": "zed", "size": "medium"}]'
            + extra + '}')
    return [("POST", "/v1/tickets", c["token"], body % c["stage_envs"][j]) for j in envs for c in customers]


def wrk(base: str, *, data: Path | None = None, path: str = "/", conns: int = 32,
        duration: float = 10, threads: int = 2, cookie: str | None = None,
        accept: str | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if accept is not None:
        env["WRK_ACCEPT"] = accept
    if data is not None:
        env["WRK_DATA"] = str(data)
    if cookie is not None:
        env["WRK_COOKIE"] = cookie
    env["WRK_THREADS"] = str(threads)
    argv = ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{int(duration)}s", "--timeout", "10s",
            "-s", str(BENCH / "replay.lua"), base + path]
    before = cpu_snapshot() if os.environ.get("BENCH_CPU_SPLIT") else None
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("JSON "))
    r = json.loads(line[5:])
    secs = r["duration_us"] / 1e6
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    if before is not None and r["requests"]:
        _print_cpu_split(cpu_since(before), r["requests"], secs)
    return {"requests": r["requests"], "rps": r["requests"] / secs, "p50_ms": r["p50"] / 1000,
            "p99_ms": r["p99"] / 1000, "max_ms": r["max"] / 1000, "errors": errors,
            "non2xx": r["status"], "conns": conns, "load1": os.getloadavg()[0]}


def cpu_since(before: dict[int, tuple[float, float, str]]) -> dict[str, tuple[float, float]]:
    """CPU seconds each group of processes (``_cpu_group``) spent since ``before`` (a
    ``cpu_snapshot``): (user + system, system)."""
    groups: dict[str, tuple[float, float]] = {}
    for pid, (cpu, system, cmd) in cpu_snapshot().items():
        group = _cpu_group(cmd)
        cpu0, system0, _ = before.get(pid, (0.0, 0.0, cmd))
        total, in_kernel = groups.get(group, (0.0, 0.0))
        groups[group] = (total + cpu - cpu0, in_kernel + system - system0)
    return groups


def forget_filings() -> None:
    """Delete the tickets filed through the API (the seeded ones are named ``bench-``) with
    their events, approvals, deliveries and mails, and the write limit's counters."""
    with connect() as conn:
        conn.execute("DELETE FROM webhook_deliveries")  # the seed has none
        conn.execute("DELETE FROM mail_messages")
        conn.execute("DELETE FROM ticket_events WHERE ticket_id NOT LIKE 'bench-%%'")
        conn.execute("DELETE FROM ticket_approvals WHERE ticket_id NOT LIKE 'bench-%%'")
        conn.execute("DELETE FROM tickets WHERE id NOT LIKE 'bench-%%'")
        conn.commit()
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE tickets, ticket_events, ticket_approvals, webhook_deliveries, mail_messages")
    flush_redis()


def cpu_snapshot() -> dict[int, tuple[float, float, str]]:
    """CPU seconds (user + system, and system alone) so far and the command line of every
    process (from /proc)."""
    ticks, seen = os.sysconf("SC_CLK_TCK"), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        seen[int(entry.name)] = ((int(fields[11]) + int(fields[12])) / ticks, int(fields[12]) / ticks, cmd)
    return seen


def _cpu_group(cmd: str) -> str:
    if cmd.startswith("postgres: ") and f" {DB_NAME} " in cmd:
        return "postgres backends (bench db)"
    if cmd.startswith("postgres"):
        return "postgres other (wal, checkpointer, other dbs)"
    if "redis-server" in cmd:
        return "redis-server"
    if "pgbouncer" in cmd and str(WORK) in cmd:
        return "pgbouncer"
    if cmd.startswith("wrk "):
        return "wrk"
    if f"--port {API_PORT}" in cmd:
        return "envdesk serve (this bench)"
    if f"--port {FLOOR_PORT}" in cmd:
        return "floor app (this bench)"
    return "everything else"


def _print_cpu_split(groups: dict[str, tuple[float, float]], requests: int, secs: float) -> None:
    """BENCH_CPU_SPLIT=1: CPU milliseconds per request of each group of processes during the
    wrk run (what the figure costs end to end, and what the machine's other work took)."""
    print(f"  CPU over {secs:.1f} s, {requests} requests:", flush=True)
    for group, (cpu, system) in sorted(groups.items(), key=lambda g: -g[1][0]):
        print(f"    {cpu / requests * 1000:6.3f} ms/request ({system / requests * 1000:5.3f} system)  "
              f"{cpu / secs:5.2f} cores  {group}", flush=True)


def fmt(r: dict[str, Any]) -> str:
    return (f"{r['rps']:8.0f} req/s  p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
            f"errors {r['errors']} (non-2xx {r['non2xx']})  n={r['requests']} c={r['conns']} "
            f"load1={r.get('load1', 0):.1f}")
