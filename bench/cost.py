"""Cost: POST /v1/quotes at 4 connections; filing with a price list against filing without;
GET /v1/usage (JSON and CSV) for one month of an account with 10,000 environments, the ledger at
1,000,000 rows (seeded inside PostgreSQL with INSERT ... SELECT generate_series)."""
from __future__ import annotations

import json
import os
import secrets
import statistics
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from bench import common
from bench.common import fmt, log
from service.entrypoints.up import SAMPLE_PRICE_LIST

PRICED = {"PRICE_LIST": str(SAMPLE_PRICE_LIST)}
BIG_ENVS = 10_000
LEDGER_ROWS = 1_000_000
MONTHS = 36
WARM_CONNS = 32
SETTLE_SECONDS = 20
"""A pause after seeding, so that the kernel's write-back of the bulk load does not fall into
the first measured run."""


def _month() -> str:
    """The last full month (UTC): its usage is settled."""
    now = datetime.now(timezone.utc)
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    return f"{year}-{month:02d}"


def big_account(envs: int = BIG_ENVS) -> tuple[str, list[str]]:
    """One customer account with ``envs`` stage environments (inserted set-based); its id and
    environment ids."""
    account = str(uuid.uuid4())
    with common.connect() as conn:
        conn.execute("INSERT INTO accounts (id, name, kind, created_at) VALUES (%s, 'Big Shop', 'customer', now())",
                     (account,))
        conn.execute("""INSERT INTO environments (id, account_id, name, stage, sizes, caps, created_at, updated_at)
                        SELECT gen_random_uuid()::text, %s, 'big-stage-' || g, 'stage',
                               '{"yves": "small", "zed": "small"}'::json, '{}'::json, now(), now()
                        FROM generate_series(1, %s) g""", (account, envs))
        ids = [r[0] for r in conn.execute("SELECT id FROM environments WHERE account_id = %s ORDER BY name",
                                          (account,))]
        conn.commit()
    return account, ids


def _extra_tokens(account_id: str, count: int) -> list[str]:
    """Users of one account with tokens, so the write limit (per token) is not what is measured."""
    tokens = []
    with common.connect() as conn, conn.cursor() as cur:
        for i in range(count):
            uid, tok = str(uuid.uuid4()), "edk_" + secrets.token_urlsafe(32)
            cur.execute("INSERT INTO users (id, email, account_id, role, created_at) "
                        "VALUES (%s, %s, %s, 'member', now())", (uid, f"extra{i}-{uid[:8]}@big.example", account_id))
            cur.execute("INSERT INTO api_tokens (id, user_id, token_hash, prefix, created_at) "
                        "VALUES (%s, %s, %s, %s, now())", (str(uuid.uuid4()), uid, common.token_hash(tok), tok[:10]))
            tokens.append(tok)
        conn.commit()
    return tokens


def seed_ledger(big_account: str, rows: int = LEDGER_ROWS) -> float:
    """``rows`` usage rows, two components per ticket, over ``MONTHS`` months back from now: half
    the tickets on the big account's environments, half on everyone else's; each usage lasts
    three days. Tickets and rows are generated inside PostgreSQL, set-based."""
    started = time.perf_counter()
    tickets = rows // 2
    with common.connect() as conn:
        conn.execute("""
            WITH e AS (
                SELECT env.id, env.account_id, u.id AS user_id, row_number() OVER (ORDER BY env.id) - 1 AS n
                FROM environments env JOIN LATERAL (
                    SELECT id FROM users WHERE account_id = env.account_id LIMIT 1) u ON true
                WHERE env.account_id = %(big)s),
            o AS (
                SELECT env.id, env.account_id, u.id AS user_id, row_number() OVER (ORDER BY env.id) - 1 AS n
                FROM environments env JOIN LATERAL (
                    SELECT id FROM users WHERE account_id = env.account_id LIMIT 1) u ON true
                WHERE env.account_id <> %(big)s),
            ce AS (SELECT count(*) AS c FROM e), co AS (SELECT count(*) AS c FROM o),
            s AS (SELECT g, now() - make_interval(secs => (g::float8 / %(tickets)s) * %(months)s * 30 * 86400) AS at
                  FROM generate_series(1, %(tickets)s) g),
            picked AS (
                SELECT s.g, s.at, coalesce(e.id, o.id) AS env_id, coalesce(e.account_id, o.account_id) AS account_id,
                       coalesce(e.user_id, o.user_id) AS user_id
                FROM s CROSS JOIN ce CROSS JOIN co
                LEFT JOIN e ON s.g %% 2 = 0 AND e.n = (s.g / 2) %% ce.c
                LEFT JOIN o ON s.g %% 2 = 1 AND o.n = (s.g / 2) %% co.c),
            t AS (
                INSERT INTO tickets (id, type, status, version, environment_id, account_id, requester_id, summary,
                                     resources, attempts, round, period_start, period_end, created_at, updated_at,
                                     approvals_required)
                SELECT 'bench-' || g, 'upscale', 'reverted', 3, env_id, account_id, user_id, 'seeded upscale',
                       '[{"component": "yves", "size": "large"}, {"component": "zed", "size": "medium"}]'::json,
                       0, 1, at, at + interval '3 days', at, at + interval '3 days', 1
                FROM picked RETURNING id, environment_id, account_id, period_start, period_end)
            INSERT INTO usage (id, account_id, environment_id, ticket_id, component, from_size, to_size,
                               daily_minor, currency, included_days, started_at, ended_at, ended_by)
            SELECT gen_random_uuid()::text, t.account_id, t.environment_id, t.id, c.component, 'small', c.size,
                   c.minor, 'EUR', CASE WHEN c.component = 'yves' THEN 1 ELSE 0 END,
                   t.period_start, t.period_end, t.id
            FROM t CROSS JOIN (VALUES ('yves', 'large', 3050), ('zed', 'medium', 1000)) c(component, size, minor)
        """, {"big": big_account, "tickets": tickets, "months": MONTHS})
        conn.commit()
    with common.psycopg.connect(common.DB_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")
    return time.perf_counter() - started


def _quote_lines(tokens: list[str], envs: list[str]) -> list[tuple[str, str, str, str]]:
    body = ('{"type": "upscale", "environment_id": "%s", "summary": "load test", '
            '"resources": [{"component": "yves", "size": "large"}, {"component": "zed", "size": "medium"}], '
            '"period": {"start": "2031-03-01T08:00:00Z", "end": "2031-03-04T08:00:00Z"}}')
    return [("POST", "/v1/quotes", tokens[i % len(tokens)], body % env) for i, env in enumerate(envs[:5000])]


def _filing_lines(customers: list[dict[str, Any]], envs: range, accept: bool) -> list[tuple[str, str, str, str]]:
    extra = ', "accept_charges": {"amount": "40.50", "currency": "EUR"}' if accept else ""
    return common.filing_lines(customers, envs, extra)


ROUNDS = (("without", "with"), ("with", "without")) * 3
"""Each round runs both sides, the order turning each round, so that neither side always runs
second (on a warmer or more loaded machine)."""


def filing(customers: list[dict[str, Any]], duration: float, conns: int) -> dict[str, Any]:
    """Both sides file the same requests (a charged permanent upscale, accepted when priced) on
    the same database: before each run what the previous one filed is deleted and the write
    limit's counters are reset, so no run meets another's tickets, the duplicate rule or a 429."""
    runs: dict[str, list[dict[str, Any]]] = {"without": [], "with": []}
    per_run = 24  # × 200 accounts: more requests than a 10 s run sends
    data = {side: common.write_requests(f"cost-file-{side}", _filing_lines(
        customers, range(per_run), accept=side == "with")) for side in runs}
    warm = {side: common.write_requests(f"cost-file-warm-{side}", _filing_lines(
        customers, range(per_run, 2 * per_run), accept=side == "with")) for side in runs}
    ratios = []
    for order in ROUNDS:
        for side in order:
            common.forget_filings()
            with common.running(common.start_api(**(PRICED if side == "with" else {}))):
                # Filings on other environments than the run's, on new connections in rounds, so
                # that every process has filed (compiled its statements, met its tokens) before
                # the measured run, as a server in service has.
                for _ in range(2):
                    common.wrk(common.API, data=warm[side], conns=WARM_CONNS, duration=1)
                r = common.wrk(common.API, data=data[side], conns=conns, duration=duration)
            runs[side].append(r)
            print(f"cost   file {side:>7} price list  {fmt(r)}", flush=True)
        ratios.append(runs["with"][-1]["rps"] / runs["without"][-1]["rps"])
    common.forget_filings()
    rps = {side: statistics.mean(r["rps"] for r in rs) for side, rs in runs.items()}
    p99 = {side: statistics.mean(r["p99_ms"] for r in rs) for side, rs in runs.items()}
    print(f"cost   filing with/without: req/s {rps['with'] / rps['without']:.2f} (rounds "
          f"{', '.join(f'{x:.2f}' for x in ratios)}, median {statistics.median(ratios):.2f}), "
          f"p99 {p99['with'] / p99['without']:.2f}", flush=True)
    return {"runs": runs, "rps_ratio": rps["with"] / rps["without"], "round_ratios": ratios,
            "p99_ratio": p99["with"] / p99["without"]}


def _warm(data: Any, accept: str, rounds: int = 4) -> None:
    """Warm-up rounds, so that every API process has served the case (rendered the settled
    month, compiled the quote's statement) once, as a server in service has: each round on more
    connections than there are processes, on new connections (wrk's keep-alive connections stay
    on the process that accepted them, and one process may accept a whole round's)."""
    for _ in range(rounds):
        common.wrk(common.API, data=data, conns=WARM_CONNS, duration=2, accept=accept)


def run(duration: float = 10, conns: int = 4) -> dict[str, Any]:
    common.reset_database()
    common.flush_redis()
    small = common.seed_registry(accounts=200, envs_per_account=100)
    account, big_envs = big_account()
    tokens = _extra_tokens(account, 200)
    secs = seed_ledger(account)
    with common.connect() as conn:
        ledger = conn.execute("SELECT count(*) FROM usage").fetchone()[0]
        month = _month()
        in_month = conn.execute(
            "SELECT count(*) FROM usage WHERE account_id = %s AND started_at < %s::date + interval '1 month' "
            "AND (ended_at IS NULL OR ended_at > %s::date)", (account, month + "-01", month + "-01")).fetchone()[0]
    log(f"ledger: {ledger} rows in {secs:.1f}s; {in_month} of the big account in {month}")
    os.sync()  # the bulk load's dirty pages written out before anything is timed
    time.sleep(SETTLE_SECONDS)
    out: dict[str, Any] = {"ledger_rows": ledger, "rows_in_month": in_month, "month": month}
    with common.running(common.start_api(**PRICED)):
        data = common.write_requests("cost-quotes", _quote_lines(tokens, big_envs))
        _warm(data, "application/json")  # every API process, as for the usage months below
        out["quotes"] = common.wrk(common.API, data=data, conns=conns, duration=duration)
        print(f"cost   POST /v1/quotes          {fmt(out['quotes'])}", flush=True)
        usage = common.write_requests("cost-usage", [
            ("GET", f"/v1/usage?month={month}", tok, "") for tok in tokens])
        for name, accept in (("usage_json", "application/json"), ("usage_csv", "text/csv")):
            _warm(usage, accept)
            out[name] = common.wrk(common.API, data=usage, conns=conns, duration=duration, accept=accept)
            print(f"cost   GET /v1/usage {accept:<16} {fmt(out[name])}", flush=True)
    out["filing"] = filing(small["customers"], duration=duration, conns=conns)
    return common.save("cost", out)


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
