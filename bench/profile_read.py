"""Per-request cost of the read paths in-process (Flask test client, no HTTP, no queueing),
against a database seeded by `bench/run.py read` (lists, get) or `bench/run.py console` (the
queue). Logging and metrics are set up as `envdesk serve` sets them (JSON access log, a
multi-process metrics directory), the log going to /dev/null.

    .venv/bin/python bench/profile_read.py list_support|list_customer|get|queue|filtered|page2 [N]

Prints the CPU ms per request of this process (time.process_time: what the API worker spends,
less sensitive to a busy machine than wall time), the mean and median wall ms per request and SQL statements per request; PROFILE=1 adds the
top functions by cumulative time (cProfile)."""
from __future__ import annotations

import cProfile
import json
import logging.config
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

os.environ.update(common.bench_env())  # production settings: the write limiter stays on
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="envdesk-profile-"))


def _app() -> Any:
    from service.adapters.config import Settings
    from service.entrypoints.server import LOG_CONFIG
    from service.entrypoints.wsgi import build_app

    config = json.loads(json.dumps(LOG_CONFIG))
    config["handlers"]["stderr"]["stream"] = open(os.devnull, "w")  # noqa: SIM115
    logging.config.dictConfig(config)
    return build_app(Settings.from_env())


def _api_requests(kind: str, reg: dict[str, Any], n: int) -> list[tuple[str, dict[str, str]]]:
    support = [{"Authorization": f"Bearer {t}"} for t in reg["support"]]
    customers = [{"Authorization": f"Bearer {c['token']}"} for c in reg["customers"][:50]]
    if kind == "list_support":
        return [("/v1/tickets?limit=50", support[i % len(support)]) for i in range(n)]
    if kind == "list_customer":
        return [("/v1/tickets?limit=50", customers[i % len(customers)]) for i in range(n)]
    with common.connect() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM tickets ORDER BY created_at DESC LIMIT %s", (n,))]
    return [(f"/v1/tickets/{t}", support[i % len(support)]) for i, t in enumerate(ids)]


def _console_requests(kind: str, client: Any, reg: dict[str, Any], n: int) -> list[tuple[str, dict[str, str]]]:
    form = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    signed = client.post("/console/login", data={"csrf_token": csrf, "token": reg["support"][0]})
    assert signed.status_code == 303, signed.status_code
    url = {"queue": "/console/", "filtered": "/console/?stage=prod&status=failed"}.get(kind)
    if url is None:
        html = client.get("/console/").get_data(as_text=True)
        url = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    return [(url, {})] * n


def main(kind: str, n: int) -> None:
    reg = json.loads((common.WORK / "registry.json").read_text())
    app = _app()
    client = app.test_client()
    if kind in ("queue", "filtered", "page2"):
        requests = _console_requests(kind, client, reg, n)
    else:
        requests = _api_requests(kind, reg, n)
    for url, headers in requests[:60]:  # warm-up: caches, pools, the principal cache
        assert client.get(url, headers=headers).status_code == 200, url
    with common.captured_sql() as seen:
        client.get(*requests[0][:1], headers=requests[0][1])
    took, cpu_started = [], time.process_time()
    timer = (time.process_time,) if os.environ.get("CPU") else ()  # CPU=1: profile CPU time
    prof = cProfile.Profile(*timer) if os.environ.get("PROFILE") else None
    for url, headers in requests:
        started = time.perf_counter()
        if prof:
            prof.enable()
        r = client.get(url, headers=headers)
        if prof:
            prof.disable()
        took.append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, (url, r.status_code)
    cpu = (time.process_time() - cpu_started) * 1000 / len(took)
    print(f"{kind}: {len(took)} requests, CPU {cpu:.2f} ms a request (this process), wall mean "
          f"{statistics.fmean(took):.2f} ms, median {statistics.median(took):.2f} ms, "
          f"{len(seen)} SQL statements a request")
    if prof and os.environ.get("PROFILE_OUT"):  # for pstats, or to set two trees side by side
        prof.dump_stats(os.environ["PROFILE_OUT"])
    if prof:
        pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(
            int(os.environ.get("TOP", "40")))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300)
