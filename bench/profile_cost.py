"""Per-request cost of quotes, usage and filing in-process (Flask test client, no HTTP, no
queueing), against the database `bench/run.py cost` leaves. On a machine others load, CPU time
of this process (time.process_time) is steadier than wall time.

    .venv/bin/python bench/profile_cost.py [N]   (write limit and open-ticket cap off for both sides)

Prints, for POST /v1/quotes, GET /v1/usage (JSON and CSV) of the big account's last full month
(rendered: USAGE_CACHE_BYTES=0, as its first request in a process; kept: as served after) and of
the month of now,
and POST /v1/tickets without and with PRICE_LIST (a charged permanent upscale, accepted;
interleaved call by call): CPU ms and wall ms per request (median) and SQL statements per request.
PROFILE=1 adds cProfile's top functions of each case (CPU=1: CPU time; SORT=, TOP=; ONLY= a
part of the case's name, e.g. ONLY=usage, measures only those cases)."""
from __future__ import annotations

import cProfile
import gc
import os
import pstats
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402
from bench.cost import PRICED, _month  # noqa: E402

os.environ.update(common.bench_env(RATE_LIMIT_WRITES="", MAX_OPEN_TICKETS_PER_ACCOUNT="0"))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="envdesk-profile-"))


def _client(**env: str) -> Any:
    from service.adapters.config import Settings
    from service.api import create_app

    return create_app(Settings.from_env({**os.environ, **env})).test_client()


def _token(account_id: str) -> dict[str, str]:
    token = "edk_" + secrets.token_urlsafe(32)
    with common.connect() as conn:
        user = conn.execute("SELECT id FROM users WHERE account_id = %s LIMIT 1", (account_id,)).fetchone()[0]
        conn.execute("INSERT INTO api_tokens (id, user_id, token_hash, prefix, created_at) "
                     "VALUES (%s, %s, %s, %s, now())", (str(uuid.uuid4()), user, common.token_hash(token), token[:10]))
        conn.commit()
    return {"Authorization": f"Bearer {token}"}


def _as_a_worker() -> None:
    """The collector as in a worker of `envdesk serve` once the app is loaded: its objects
    frozen, young collections every GC_THRESHOLDS[0] allocations (else a report of thousands of
    lines pays for collections the server does not make)."""
    from service.entrypoints.server import GC_THRESHOLDS

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _profiler() -> cProfile.Profile | None:
    if not os.environ.get("PROFILE"):
        return None
    return cProfile.Profile(*((time.process_time,) if os.environ.get("CPU") else ()))


def _measure(name: str, calls: list[Callable[[], Any]], statements: Callable[[], int]) -> None:
    if os.environ.get("ONLY", "") not in name:
        return
    cpu, wall, prof = [], [], _profiler()
    for call in calls:
        c0, w0 = time.process_time(), time.perf_counter()
        if prof:
            prof.enable()
        response = call()
        if prof:
            prof.disable()
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
        assert response.status_code in (200, 201), (name, response.status_code, response.get_data(as_text=True)[:300])
    print(f"{name:<34} cpu {statistics.median(cpu):7.2f} ms  wall {statistics.median(wall):7.2f} ms  "
          f"statements {statements()}  n={len(calls)}  load1={os.getloadavg()[0]:.1f}", flush=True)
    if prof:
        pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(int(os.environ.get("TOP", "40")))


def main(n: int = 200) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counted: list[int] = [0]
    event.listen(Engine, "before_cursor_execute", lambda *a, **k: counted.__setitem__(0, counted[0] + 1))

    def per_request(calls: int) -> Callable[[], int]:
        start = counted[0]
        return lambda: round((counted[0] - start) / calls, 2)

    with common.connect() as conn:
        big = conn.execute("SELECT id FROM accounts WHERE name = 'Big Shop'").fetchone()[0]
        envs = [r[0] for r in conn.execute(
            "SELECT e.id FROM environments e WHERE e.account_id = %s AND NOT EXISTS "
            "(SELECT 1 FROM tickets t WHERE t.environment_id = e.id AND t.status = 'pending_approval') "
            "ORDER BY e.name LIMIT %s", (big, 4 * n + 20))]
    priced, plain, unkept = _client(**PRICED), _client(), _client(**PRICED, USAGE_CACHE_BYTES="0")
    _as_a_worker()
    auth = _token(big)
    month = _month()
    body = ('{"type": "upscale", "environment_id": "%s", "summary": "load test", '
            '"resources": [{"component": "yves", "size": "large"}, {"component": "zed", "size": "medium"}]%s}')
    quote = body % ("%s", ', "period": {"start": "2031-03-01T08:00:00Z", "end": "2031-03-04T08:00:00Z"}')
    post = lambda c, text: (lambda: c.post(  # noqa: E731
        "/v1/quotes" if "period" in text else "/v1/tickets", data=text, headers={**auth, "Content-Type": "application/json"}))
    for label, calls in (("POST /v1/quotes", [post(priced, quote % envs[i % 50]) for i in range(n)]),):
        calls[0]()
        count = per_request(len(calls))
        _measure(label, calls, count)
    this_month = datetime.now(timezone.utc).strftime("%Y-%m")
    for accept in ("application/json", "text/csv"):
        # A settled month as rendered (USAGE_CACHE_BYTES=0: what its first request in a process
        # costs) and as kept; the month of now, computed on every request.
        for label, client, asked in (("rendered", unkept, month), ("kept", priced, month),
                                     ("month of now", priced, this_month)):
            calls = [lambda a=accept, c=client, m=asked: c.get(f"/v1/usage?month={m}", headers={**auth, "Accept": a})
                     for _ in range(max(5, n // 20) * (10 if label == "kept" else 1))]
            calls[0]()
            count = per_request(len(calls))
            _measure(f"GET /v1/usage {accept} {label}", calls, count)
    if "tickets" in os.environ.get("ONLY", "tickets"):
        _filings(n, envs, plain, priced, auth, body)


def _filings(n: int, envs: list[str], plain: Any, priced: Any, auth: dict[str, str], body: str) -> None:
    """Filing without and with the price list, interleaved call by call (the order swapped
    every pair), so that the machine's noise falls on both alike: CPU ms (median) of each."""
    accept_charge = ', "accept_charges": {"amount": "40.50", "currency": "EUR"}'
    sides = (("without prices", plain, ""), ("with prices", priced, accept_charge))
    cpu: dict[str, list[float]] = {"without prices": [], "with prices": []}
    headers = {**auth, "Content-Type": "application/json"}
    for i in range(n):
        for j, (label, client, extra) in enumerate(sides if i % 2 == 0 else sides[::-1]):
            started = time.process_time()
            response = client.post("/v1/tickets", data=body % (envs[20 + 2 * i + (label == "with prices")], extra),
                                   headers=headers)
            cpu[label].append((time.process_time() - started) * 1000)
            assert response.status_code == 201, (label, response.get_data(as_text=True)[:300])
    without, with_ = statistics.median(cpu["without prices"]), statistics.median(cpu["with prices"])
    print(f"POST /v1/tickets, {n} each interleaved: cpu {without:.2f} ms without prices, {with_:.2f} ms with "
          f"(x{with_ / without:.3f})  load1={os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
