"""CPU per POST /v1/tickets in-process (Flask test client) with tracing off, on (every request
traced) and on with one trace in ten, exporting OTLP/HTTP to a receiver on 127.0.0.1. Each
variant runs in a process of its own (a tracer provider is set once per process), alternating
ROUNDS times; the figure is the process's CPU time (all threads: the export thread too) per
request, so waits on PostgreSQL drop out and the machine's other work matters less than for
throughput. Needs the registry of `bench/run.py scale` (or `create`).

    .venv/bin/python bench/measure_tracing.py            # N=1000 requests a run, ROUNDS=3
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

N = int(os.environ.get("N", "1000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
ENDPOINT = f"http://127.0.0.1:{common.API_PORT + 21}"
VARIANTS = {
    "off": {},
    "on": {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT},
    "one in ten": {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                   "OTEL_TRACES_SAMPLER_ARG": "0.1"},
}


def child(offset: int) -> None:
    os.environ.update(common.bench_env())
    from service.adapters import tracing

    tracing.start("envdesk-api")
    from service.adapters.config import Settings
    from service.entrypoints.wsgi import build_app

    client = build_app(Settings.from_env()).test_client()
    reg = json.loads((common.WORK / "registry.json").read_text())
    rows = [(c["stage_envs"][j], c["token"]) for j in range(100) for c in reg["customers"]][offset:]
    body = {"type": "upscale", "summary": "measure", "resources": [{"component": "yves", "size": "large"}]}

    def post(env_id: str, token: str) -> None:
        r = client.post("/v1/tickets", json={**body, "environment_id": env_id},
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.get_json()

    for env_id, token in rows[:50]:  # warm-up
        post(env_id, token)
    start = time.process_time()
    for env_id, token in rows[50:50 + N]:
        post(env_id, token)
    tracing.flush()
    print(json.dumps({"cpu_ms": (time.process_time() - start) / N * 1000}))


def main() -> None:
    from bench.measure_create import empty_tickets
    from bench.scale import OtlpSink

    os.environ.update(common.bench_env())
    empty_tickets()
    sink = OtlpSink()
    figures: dict[str, list[float]] = {name: [] for name in VARIANTS}
    offset = 0
    for _ in range(ROUNDS):
        for name, env in VARIANTS.items():
            out = subprocess.run([sys.executable, __file__, "--child", str(offset)], check=True, text=True,
                                 capture_output=True, env={**common.bench_env(), **env}).stdout
            offset += N + 50
            figures[name].append(json.loads(out.splitlines()[-1])["cpu_ms"])
            spans = sink.take_spans()
            print(f"tracing {name:<10} {figures[name][-1]:.2f} ms CPU per create  ({spans / N:.1f} spans "
                  f"exported per request)", flush=True)
    sink.close()
    off = mean(figures["off"])
    for name, runs in figures.items():
        print(f"{name:<10} mean {mean(runs):.2f} ms CPU per create ({mean(runs) / off:.3f} of off)", flush=True)
    common.save("tracing_cpu", {"n": N, "rounds": ROUNDS, "cpu_ms": figures})


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]))
    else:
        main()
