"""This tree served against another checkout of envdesk, in turn, on one machine.

``AGAINST`` names the other checkout (a path holding its own ``.venv`` with envdesk installed,
e.g. ``git worktree add /tmp/base <commit>`` and ``pip install -e .`` there). Both trees serve
the same database, seeded once by this tree (its migrations: the other tree must read this
schema, which holds as long as the migrations between them only add), and the same request
files; each is started as its own ``envdesk serve`` starts by default (``AGAINST_ENV``, settings
such as ``WEB_CONCURRENCY=8`` separated by spaces, changes the other's; ``AGAINST`` naming this checkout
compares two settings of this tree).

Filing (``POST /v1/tickets``, as ``run.py create``), the read figures (as ``read``) and the
console's queue (as ``console``), at 10k and 1M tickets, in ``ROUNDS`` rounds (default 5). A
round serves one tree, then the other, the order turning every round, so the two runs of a
round are a minute apart and a drift of the machine's speed falls on both. Every run starts its
API anew and warms every process (two rounds of 2 s on 32 new connections) before the measured
run. The figures of record are each round's ratio (this ÷ other), their median and range, and
the ratio of the sums; beside them the CPU milliseconds a request of each side's API processes
and of the database's backends, read from /proc."""
from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any, Callable

from bench import common, console, read

ROUNDS = int(os.environ.get("ROUNDS", "5"))
# Cases: name -> (request file, cookie, warm-up files) for one running API; a read warms up on
# its own requests, a filing on requests of other environments (each would be a duplicate).
Cases = dict[str, tuple[Path, "str | None", tuple[Path, ...]]]


def _serve(tree: str) -> common.Proc:
    """The API of ``tree`` ("this" or the ``AGAINST`` path), as its ``envdesk serve`` runs by
    default (this tree's with ``BENCH_THREADS``, as every bench here)."""
    if tree == "this":
        return common.start_api()
    argv = [str(Path(tree) / ".venv" / "bin" / "envdesk"), "serve", "--port", str(common.API_PORT)]
    extra = dict(pair.split("=", 1) for pair in os.environ.get("AGAINST_ENV", "").split())
    proc = common.Proc("api-against", argv, common.bench_env(PYTHONPATH=tree, **extra))
    common.wait_http(f"{common.API}/healthz")
    return proc


def _measure(cases: Callable[[], Cases], conns: int, duration: float) -> dict[str, Any]:
    out = {}
    for name, (data, cookie, warm) in cases().items():
        for warm_data in warm or (data, data):  # every process has served before the measured run
            common.wrk(common.API, data=warm_data, conns=32, duration=2, cookie=cookie)
        before = common.cpu_snapshot()
        r = out[name] = common.wrk(common.API, data=data, conns=conns, duration=duration, cookie=cookie)
        spent = common.cpu_since(before)
        for key, group in (("api_cpu_ms", "envdesk serve (this bench)"), ("db_cpu_ms", "postgres backends (bench db)")):
            r[key] = spent.get(group, (0.0, 0.0))[0] / max(r["requests"], 1) * 1000
    return out


def _rounds(label: str, other: str, cases: Callable[[], Cases], *, conns: int, duration: float,
            before_each: Callable[[], None] = lambda: None) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for i in range(ROUNDS):
        run: dict[str, Any] = {}
        for tree in ("this", other) if i % 2 == 0 else (other, "this"):
            before_each()
            with common.running(_serve(tree)):
                run["this" if tree == "this" else "other"] = _measure(cases, conns, duration)
        runs.append(run)
        for name in run["this"]:
            mine, theirs = run["this"][name], run["other"][name]
            print(f"{label:>10} round {i + 1} {name:<20} this {_brief(mine)}  other {_brief(theirs)}  "
                  f"ratio {mine['rps'] / theirs['rps']:.2f}", flush=True)
    return {"runs": runs, "summary": _summary(label, runs)}


def _brief(r: dict[str, Any]) -> str:
    return (f"{r['rps']:6.0f} req/s p99 {r['p99_ms']:5.1f} ms, CPU ms a request: API {r['api_cpu_ms']:5.2f} "
            f"database {r['db_cpu_ms']:5.2f}, non-2xx {r['non2xx']} errors {r['errors']}")


def _summary(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    summary = {}
    for name in runs[0]["this"]:
        ratios = [run["this"][name]["rps"] / run["other"][name]["rps"] for run in runs]
        sums = [sum(run[side][name]["rps"] for run in runs) for side in ("this", "other")]
        cpu, db, p99 = ({side: statistics.median(run[side][name][key] for run in runs) for side in ("this", "other")}
                        for key in ("api_cpu_ms", "db_cpu_ms", "p99_ms"))
        summary[name] = {"median_ratio": statistics.median(ratios), "min_ratio": min(ratios),
                         "max_ratio": max(ratios), "sum_ratio": sums[0] / sums[1], "api_cpu_ms": cpu,
                         "db_cpu_ms": db, "p99_ms": p99}
        print(f"{label:>10} {name:<20} req/s this ÷ other: median {statistics.median(ratios):.2f} "
              f"(rounds {min(ratios):.2f}–{max(ratios):.2f}), sums {sums[0] / sums[1]:.2f}; "
              f"API CPU ms a request {cpu['this']:.2f} vs {cpu['other']:.2f} "
              f"({cpu['this'] / cpu['other']:.2f}), database {db['this']:.2f} vs {db['other']:.2f}; p99 {p99['this']:.1f} vs {p99['other']:.1f} ms",
              flush=True)
    return summary


def _create(other: str) -> dict[str, Any]:
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=400, envs_per_account=100)
    lines = common.filing_lines(reg["customers"], range(100))
    warm = (common.write_requests("against-create-warm-1", lines[:2000]),
            common.write_requests("against-create-warm-2", lines[2000:4000]))
    main = common.write_requests("against-create", lines[4000:])
    cases: Cases = {"create": (main, None, warm)}
    return _rounds("create", other, lambda: cases, conns=32, duration=10, before_each=common.forget_filings)


def _reads(other: str, conns: int, duration: float) -> dict[str, Any]:
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=400, envs_per_account=100)
    out = {}
    for label, total in (("10k", 10_000), ("1M", 1_000_000)):
        common.seed_to(total)
        files: Cases = {name: (common.write_requests(f"against-{name}", lines), None, ())
                 for name, lines in read.request_lines(reg).items()}
        out[label] = _rounds(f"read {label}", other, lambda: files, conns=conns, duration=duration)
    return out


def _console(other: str, conns: int, duration: float) -> dict[str, Any]:
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=400, envs_per_account=20, prod_per_account=2)

    def cases() -> Cases:  # a new API has a new secret: sign in again
        cookie = common.console_sign_in(reg["support"][0])
        return {name: (common.write_requests(f"against-console-{name}", [("GET", path, "", "")]), cookie, ())
                for name, path in console.paths(cookie).items()}

    out = {}
    for label, total in (("10k", 10_000), ("1M", 1_000_000)):
        common.seed_to(total, open_every=console.OPEN_EVERY, stages=("stage", "prod"))
        out[label] = _rounds(f"console {label}", other, cases, conns=conns, duration=duration)
    return out


def run(conns: int = int(os.environ.get("READ_CONNS", "4")), duration: float = 10) -> dict[str, Any]:
    other = os.environ.get("AGAINST")
    if not other or not (Path(other) / ".venv" / "bin" / "envdesk").exists():
        raise SystemExit("AGAINST must name a checkout of envdesk with its own .venv (bin/envdesk)")
    parts = os.environ.get("PARTS", "create,read,console").split(",")
    figures: dict[str, Any] = {"against": other, "rounds": ROUNDS}
    if "create" in parts:
        figures["create"] = _create(other)
    if "read" in parts:
        figures["read"] = _reads(other, conns, duration)
    if "console" in parts:
        figures["console"] = _console(other, conns, duration)
    return common.save("against", figures)
