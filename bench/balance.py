"""How wrk's kept connections spread over the API's processes, and what the spread costs: `envdesk
serve` with its default one thread (gunicorn's sync worker) against ``--threads 4`` (the threaded
worker), alternating, on the database and request lines the last `calendar` run left (a
customer's month). Each run: two warm-up rounds at 32 connections, then ``CONNS`` connections
for 8 s; three seconds in, ``ss`` counts the connections each API process holds.

    .venv/bin/python bench/balance.py [customer|support|ics]   # CONNS=4 RUNS=6 ROUNDS=2
"""
from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402

CONNS = int(os.environ.get("CONNS", "4"))
RUNS = int(os.environ.get("RUNS", "6"))
ROUNDS = int(os.environ.get("ROUNDS", "2"))


def spread(port: int) -> list[int]:
    """Established connections to ``port`` per process holding them, most first."""
    out = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True, check=True).stdout
    return sorted(collections.Counter(re.findall(r"pid=(\d+)", out)).values(), reverse=True)


def measure(data: Path, threads: int) -> None:
    api = common.Proc(f"api-threads-{threads}", [common.ENVDESK, "serve", "--port", str(common.API_PORT),
                                                 "--threads", str(threads)], common.bench_env())
    common.wait_http(f"{common.API}/healthz")
    try:
        for _ in range(RUNS):
            for _ in range(2):
                common.wrk(common.API, data=data, conns=32, duration=2)
            env = dict(os.environ, WRK_DATA=str(data), WRK_THREADS="2")
            wrk = subprocess.Popen(["wrk", "-t", "2", "-c", str(CONNS), "-d", "8s", "--timeout", "10s", "-s",
                                    str(common.BENCH / "replay.lua"), common.API],
                                   env=env, stdout=subprocess.PIPE, text=True)
            time.sleep(3)
            held = spread(common.API_PORT)
            out = wrk.communicate()[0]
            r = json.loads(next(line for line in out.splitlines() if line.startswith("JSON "))[5:])
            errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
            print(f"threads={threads}  connections per process {held!s:<16} "
                  f"{r['requests'] / (r['duration_us'] / 1e6):6.0f} req/s  p50 {r['p50'] / 1000:5.1f} ms  "
                  f"p99 {r['p99'] / 1000:6.1f} ms  errors {errors}  c={CONNS} load1={os.getloadavg()[0]:.1f}",
                  flush=True)
    finally:
        api.stop()


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "customer"
    data = common.WORK / f"calendar-{kind}.tsv"
    if not data.exists():
        sys.exit(f"{data} is missing: run `bench/run.py calendar` first (with the same BENCH_* settings)")
    for round_ in range(ROUNDS):
        for threads in ((1, 4) if round_ % 2 == 0 else (4, 1)):
            measure(data, threads)


if __name__ == "__main__":
    main()
