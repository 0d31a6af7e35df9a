"""CPU per POST /v1/tickets in-process (Flask test client) with tracing off, on (every request
traced) and on with one trace in ten, exporting OTLP/HTTP to a receiver on 127.0.0.1. Each
variant runs in a process of its own (a tracer provider is set once per process), alternating
ROUNDS times; the figure is the process's CPU time (all threads: the export thread too) per
request, so waits on PostgreSQL drop out and the machine's other work matters less than for
throughput. The variants of a round run at the same time, so that what else the machine does
at that moment weighs on all of them alike (one after the other, the same variant varied by
half on a shared machine). "none sampled" (ratio 0) is what tracing costs a request it does not record: the
instrumentations' hooks, the sampler, the context. Needs the registry of `bench/run.py scale`
(or `create`).

    .venv/bin/python bench/measure_tracing.py            # N=1000 requests a run, ROUNDS=3
    PROFILE="none sampled" .venv/bin/python bench/measure_tracing.py   # cProfile (CPU time) of one
                                                         # variant's run instead (SORT=tottime, TOP=40)
"""
from __future__ import annotations

import cProfile
import json
import os
import pstats
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
    "none sampled": {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                     "OTEL_TRACES_SAMPLER_ARG": "0"},
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
    profile = cProfile.Profile(time.process_time) if os.environ.get("PROFILE") else None
    start, thread_start = time.process_time(), time.thread_time()
    if profile is not None:
        profile.enable()
    for env_id, token in rows[50:50 + N]:
        post(env_id, token)
    tracing.flush()
    cpu_ms = (time.process_time() - start) / N * 1000
    thread_ms = (time.thread_time() - thread_start) / N * 1000
    if profile is not None:
        profile.disable()
        pstats.Stats(profile).sort_stats(os.environ.get("SORT", "tottime")).print_stats(
            int(os.environ.get("TOP", "40")))
    print(json.dumps({"cpu_ms": cpu_ms, "request_thread_ms": thread_ms}))


def profiled(name: str) -> None:
    """One run of the variant ``name`` under cProfile (CPU time), its statistics printed."""
    from bench.measure_create import empty_tickets
    from bench.scale import OtlpSink

    os.environ.update(common.bench_env())
    empty_tickets()
    sink = OtlpSink()
    subprocess.run([sys.executable, __file__, "--child", "0"], check=True,
                   env={**common.bench_env(), **VARIANTS[name], "PROFILE": "1"})
    print(f"{sink.take_spans() / N:.1f} spans exported per request")
    sink.close()


def main() -> None:
    from bench.measure_create import empty_tickets
    from bench.scale import OtlpSink

    os.environ.update(common.bench_env())
    empty_tickets()
    sink = OtlpSink()
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    for round_ in range(ROUNDS):
        for name, figure in _round(round_ * len(VARIANTS) * (N + 50)).items():
            figures[name].append(figure)
        spans = sink.take_spans_by_service()
        for name in VARIANTS:
            cpu, thread = figures[name][-1]["cpu_ms"], figures[name][-1]["request_thread_ms"]
            print(f"tracing {name:<12} {cpu:.2f} ms CPU per create (request thread {thread:.2f}, other threads "
                  f"{cpu - thread:.2f})  {spans.get(name, 0) / N:.1f} spans exported per request", flush=True)
    sink.close()
    off = mean(r["cpu_ms"] for r in figures["off"])
    for name, runs in figures.items():
        cpu = mean(r["cpu_ms"] for r in runs)
        thread = mean(r["request_thread_ms"] for r in runs)
        print(f"{name:<12} mean {cpu:.2f} ms CPU per create ({cpu / off:.3f} of off; request thread {thread:.2f})",
              flush=True)
    common.save("tracing_cpu", {"n": N, "rounds": ROUNDS, "runs": figures})


def _round(offset: int) -> dict[str, dict[str, float]]:
    """Every variant once, all at the same time (so they share whatever else the machine runs),
    each in its own process, on environments of its own; their spans named by the variant."""
    running = {}
    for i, (name, env) in enumerate(VARIANTS.items()):
        running[name] = subprocess.Popen(
            [sys.executable, __file__, "--child", str(offset + i * (N + 50))], stdout=subprocess.PIPE,
            text=True, env={**common.bench_env(), **env, "OTEL_SERVICE_NAME": name})
    figures = {}
    for name, process in running.items():
        out, _ = process.communicate()
        if process.returncode:
            raise RuntimeError(f"the {name} run failed ({process.returncode})")
        figures[name] = json.loads(out.splitlines()[-1])
    return figures


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]))
    elif os.environ.get("PROFILE"):
        profiled(os.environ["PROFILE"])
    else:
        main()
