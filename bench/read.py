"""Read at scale: list (support, customer) and get with 10k and 1M tickets; plans and query counts."""
from __future__ import annotations

import os
import random
from typing import Any

from bench import common
from bench.common import fmt


def request_lines(reg: dict[str, Any]) -> dict[str, list[tuple[str, str, str, str]]]:
    support, customers = reg["support"], reg["customers"][:50]
    with common.connect() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM tickets TABLESAMPLE SYSTEM (5) LIMIT 5000")]
        if len(ids) < 1000:
            ids = [r[0] for r in conn.execute("SELECT id FROM tickets ORDER BY random() LIMIT 5000")]
        held = dict(conn.execute("SELECT account_id, count(*) FROM tickets GROUP BY account_id").fetchall())
    random.shuffle(ids)
    # At 10k an account holds about 25 tickets, so a customer's page of 50 there is half the page
    # it is at 1M. list_customer_full compares like with like: pages of 20, full at both sizes,
    # for the 50 customers holding the most tickets.
    busiest = sorted(reg["customers"], key=lambda c: -held.get(c["account_id"], 0))[:50]
    return {
        "list_support": [("GET", "/v1/tickets?limit=50", support[i % len(support)], "") for i in range(40)],
        "list_customer": [("GET", "/v1/tickets?limit=50", c["token"], "") for c in customers],
        "list_customer_full": [("GET", "/v1/tickets?limit=20", c["token"], "") for c in busiest],
        "get": [("GET", f"/v1/tickets/{t}", support[i % len(support)], "") for i, t in enumerate(ids)],
    }


def measure(label: str, reg: dict[str, Any], conns: int, duration: float) -> dict[str, Any]:
    out = {}
    for name, lines in request_lines(reg).items():
        data = common.write_requests(f"read-{name}", lines)
        common.wrk(common.API, data=data, conns=conns, duration=2)
        r = out[name] = common.wrk(common.API, data=data, conns=conns, duration=duration)
        print(f"read {label:>4} {name:<18} {fmt(r)}", flush=True)
    return out


def plans_and_queries(reg: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the list queries as the API issues them, and the number of
    SQL statements per request, counted with an SQLAlchemy event around the Flask test client."""
    os.environ.update(common.bench_env(RATE_LIMIT_WRITES=""))
    from service.api import create_app
    from service.adapters.config import Settings

    app = create_app(Settings.from_env())
    client = app.test_client()
    support = {"Authorization": f"Bearer {reg['support'][0]}"}
    # The customer with the most tickets: at 10k an account holds about 25, sometimes fewer than
    # the 20 a first page shows, and then there would be no cursor page to measure.
    with common.connect() as conn:
        busiest = conn.execute("SELECT account_id FROM tickets GROUP BY account_id "
                               "ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    chosen = next(c for c in reg["customers"] if c["account_id"] == busiest)
    customer = {"Authorization": f"Bearer {chosen['token']}"}
    report: dict[str, Any] = {"queries": {}, "plans": {}}
    cases = []
    for who, headers in (("support", support), ("customer", customer)):
        first = client.get("/v1/tickets?limit=20", headers=headers).get_json()
        cases.append((f"{who} first page", "/v1/tickets?limit=50", headers))
        cases.append((f"{who} cursor page", f"/v1/tickets?limit=50&cursor={first['next_cursor']}", headers))
        ticket_id = first["items"][0]["id"]
    cases.append(("get one (customer)", f"/v1/tickets/{ticket_id}", customer))
    from service.adapters.pagination import encode_cursor

    key = Settings.from_env().cursor_key
    with common.connect() as conn:
        total = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
        deep = conn.execute("SELECT created_at, id FROM tickets ORDER BY created_at DESC, id DESC "
                            "OFFSET %s LIMIT 1", (total // 2,)).fetchone()
        mine = conn.execute("SELECT count(*) FROM tickets WHERE account_id = %s",
                            (chosen["account_id"],)).fetchone()[0]
        deep_mine = conn.execute("SELECT created_at, id FROM tickets WHERE account_id = %s ORDER BY "
                                 "created_at DESC, id DESC OFFSET %s LIMIT 1",
                                 (chosen["account_id"], mine // 2)).fetchone()
    cases.append((f"support deep cursor page (row {total // 2})",
                  f"/v1/tickets?limit=50&cursor={encode_cursor(key, *deep)}", support))
    cases.append((f"customer deep cursor page (row {mine // 2})",
                  f"/v1/tickets?limit=50&cursor={encode_cursor(key, *deep_mine)}", customer))
    cases.append(("list 200 (support)", "/v1/tickets?limit=200", support))
    engine = app.extensions["envdesk"].sessions().get_bind()
    for name, url, headers in cases:
        with common.captured_sql() as seen:
            r = client.get(url, headers=headers)
        assert r.status_code == 200, (url, r.status_code)
        report["queries"][name] = len(seen)
        statement, params = next(s for s in reversed(seen) if "FROM tickets" in s[0])
        if "page" in name:
            report["plans"][name] = common.explain(engine, statement, params)
    return report


def run(conns: int = int(os.environ.get("READ_CONNS", "4")), duration: float = 10) -> dict[str, Any]:
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=400, envs_per_account=100)
    figures: dict[str, Any] = {"conns": conns}
    for label, total in (("10k", 10_000), ("1M", 1_000_000)):
        figures[f"seed_{label}_seconds"] = common.seed_to(total)
        with common.running(common.start_api()):
            figures[label] = measure(label, reg, conns, duration)
        report = plans_and_queries(reg)
        figures[f"queries_{label}"] = report["queries"]
        figures[f"plans_{label}"] = report["plans"]
        print(f"SQL statements per request at {label}: {report['queries']}", flush=True)
    for name, plan in figures["plans_1M"].items():
        print(f"\n--- EXPLAIN ANALYZE at 1M: {name}\n{plan}", flush=True)
    for name in ("list_support", "list_customer", "list_customer_full", "get"):
        ratio = figures["1M"][name]["p99_ms"] / figures["10k"][name]["p99_ms"]
        figures[f"ratio_p99_{name}"] = ratio
        print(f"p99 1M / 10k {name}: {ratio:.2f}", flush=True)
    return common.save("read", figures)
