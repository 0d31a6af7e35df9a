"""The staff console's queue page at 10k and 1M tickets (mostly closed): wrk with a signed-in
session, and the plans of the queries the page sends."""
from __future__ import annotations

import os
import re
import statistics
import time
from typing import Any

from bench import common
from bench.common import fmt

OPEN_EVERY = 67  # 1.5 % of the tickets are open work: pending_approval, failed, scheduled in turn
FILTERED = "/console/?stage=prod&status=failed"


def _next_page(html: str) -> str:
    found = re.search(r'<a rel="next" href="([^"]+)"', html)
    if found is None:
        raise RuntimeError("the queue has no second page")
    return found.group(1).replace("&amp;", "&")


def paths(cookie: str) -> dict[str, str]:
    import urllib.request

    request = urllib.request.Request(f"{common.API}/console/", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as r:
        page2 = _next_page(r.read().decode())
    return {"queue": "/console/", "queue_filtered": FILTERED, "queue_page2": page2}


def measure(label: str, token: str, conns: int, duration: float) -> dict[str, Any]:
    cookie = common.console_sign_in(token)
    out = {}
    for name, path in paths(cookie).items():
        data = common.write_requests(f"console-{name}", [("GET", path, "", "")])
        common.wrk(common.API, data=data, conns=conns, duration=2, cookie=cookie)
        r = out[name] = common.wrk(common.API, data=data, conns=conns, duration=duration, cookie=cookie)
        print(f"console {label:>4} {name:<15} {fmt(r)}", flush=True)
    return out


def plans(token: str) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the queue query and the count per status as the page sends
    them (captured in-process), for the queue, the filtered queue and page 2."""
    os.environ.update(common.bench_env())
    from service.adapters.config import Settings
    from service.entrypoints.wsgi import build_app

    app = build_app(Settings.from_env())
    client = app.test_client()
    form = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    assert client.post("/console/login", data={"csrf_token": csrf, "token": token}).status_code == 303
    first = client.get("/console/").get_data(as_text=True)
    report: dict[str, Any] = {"queries": {}, "plans": {}, "in_process_ms": {}, "in_process_ms_counted": {}}
    runtime = app.extensions["envdesk"]
    engine = runtime.sessions().get_bind()
    for name, url in (("queue", "/console/"), ("filtered", FILTERED), ("page 2", _next_page(first))):
        report["in_process_ms"][name] = _service_time(client, url)  # counts kept between pages
        with common.captured_sql() as seen:
            assert client.get(url).status_code == 200, url
        report["queries"][name] = len(seen)
        kept, runtime.queue_counts = runtime.queue_counts, None  # counted at every page, as before
        report["in_process_ms_counted"][name] = _service_time(client, url)
        with common.captured_sql() as seen:
            assert client.get(url).status_code == 200, url
        runtime.queue_counts = kept
        for kind, marker in (("queue query", "ORDER BY tickets.created_at"), ("count per status", "count(*)")):
            statement, params = next(s for s in seen if marker in s[0])
            report["plans"][f"{name}: {kind}"] = common.explain(engine, statement, params)
    return report


def _service_time(client: Any, url: str, repeat: int = 30) -> float:
    """Median ms of one page in-process (no HTTP, no queueing behind other requests)."""
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


def run(conns: int = int(os.environ.get("READ_CONNS", "4")), duration: float = 10) -> dict[str, Any]:
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=400, envs_per_account=20, prod_per_account=2)
    token = reg["support"][0]
    figures: dict[str, Any] = {"conns": conns}
    for label, total in (("10k", 10_000), ("1M", 1_000_000)):
        figures[f"seed_{label}_seconds"] = common.seed_to(total, open_every=OPEN_EVERY,
                                                          stages=("stage", "prod"))
        figures[f"statuses_{label}"] = common.status_counts()
        print(f"tickets at {label}: {figures[f'statuses_{label}']}", flush=True)
        with common.running(common.start_api()):
            figures[label] = measure(label, token, conns, duration)
        report = plans(token)
        figures[f"queries_{label}"] = report["queries"]
        figures[f"plans_{label}"] = report["plans"]
        figures[f"in_process_ms_{label}"] = report["in_process_ms"]
        figures[f"in_process_ms_counted_{label}"] = report["in_process_ms_counted"]
        print(f"SQL statements per page at {label}: {report['queries']}; median ms per page "
              f"in-process: { {k: round(v, 1) for k, v in report['in_process_ms'].items()} }; "
              f"counted at every page: "
              f"{ {k: round(v, 1) for k, v in report['in_process_ms_counted'].items()} }", flush=True)
    for name, plan in figures["plans_1M"].items():
        print(f"\n--- EXPLAIN ANALYZE at 1M: {name}\n{plan}", flush=True)
    for name in figures["1M"]:
        ratio = figures[f"ratio_p99_{name}"] = figures["1M"][name]["p99_ms"] / figures["10k"][name]["p99_ms"]
        print(f"p99 1M / 10k {name}: {ratio:.2f}", flush=True)
    return common.save("console", figures)
