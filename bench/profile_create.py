"""Profile POST /v1/tickets in-process (cProfile, Flask test client) against the bench database
seeded by `bench/run.py create`; prints the top functions by cumulative time and queries/request.
PROFILE=0 runs the same loop without the profiler, for counting instructions with valgrind
(`valgrind --tool=callgrind` at N=20 and N=120: the difference ÷ 100 is one filing)."""
from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

os.environ.update(common.bench_env())
from sqlalchemy import Engine, event  # noqa: E402

from service.adapters.config import Settings  # noqa: E402
from service.entrypoints.wsgi import build_app  # noqa: E402

from bench.measure_create import empty_tickets  # noqa: E402

N = int(os.environ.get("N", "300"))
empty_tickets()
app = build_app(Settings.from_env())
client = app.test_client()
import json  # noqa: E402
reg = json.loads((common.WORK / "registry.json").read_text())
rows = [(c["stage_envs"][j], c["token"]) for j in range(60, 100) for c in reg["customers"]]
count = {"n": 0}
event.listen(Engine, "before_cursor_execute", lambda *a, **k: count.__setitem__("n", count["n"] + 1))
body = {"type": "upscale", "summary": "load test next week",  # the body of `bench/run.py create`
        "resources": [{"component": "yves", "size": "large"}, {"component": "zed", "size": "medium"}]}
for env_id, token in rows[:20]:
    client.post("/v1/tickets", json={**body, "environment_id": env_id}, headers={"Authorization": f"Bearer {token}"})
count["n"] = 0
# CPU=1: the process's CPU time (time.process_time), so waits on PostgreSQL and Redis drop out.
prof = cProfile.Profile(time.process_time) if os.environ.get("CPU") else cProfile.Profile()
profiling = os.environ.get("PROFILE") != "0"
if profiling:
    prof.enable()
for env_id, token in rows[20:20 + N]:
    r = client.post("/v1/tickets", json={**body, "environment_id": env_id}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.get_json()
prof.disable()
print(f"queries per create: {count['n'] / N:.1f}")
if not profiling:
    sys.exit(0)
if os.environ.get("PROFILE_OUT"):  # for pstats, or to set two trees side by side
    prof.dump_stats(os.environ["PROFILE_OUT"])
pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(int(os.environ.get("TOP", "45")))
