"""envdesk benchmarks. Usage: .venv/bin/python bench/run.py all|floor|create|read|console|sweep|pipeline|memory|scale|mail|mail-cost|cost|calendar|table|against

Each command resets its own PostgreSQL database (envdesk_bench) and Redis db 14, starts the real
processes (`envdesk serve`, `worker`, `beat`, `provisioning-sim`) on 127.0.0.1, loads them with
wrk, prints its figures, and appends them to /tmp/envdesk-bench/results.json."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common  # noqa: E402
from bench.common import fmt, log  # noqa: E402


def floor(duration: float = 10, conns: int = 32) -> dict[str, Any]:
    common.reset_database(schema=False)
    with common.running(common.start_floor()):
        base = f"http://127.0.0.1:{common.FLOOR_PORT}"
        data = common.write_requests("floor-insert", [("POST", "/insert", "x", "{}")])
        common.wrk(base, path="/json", conns=conns, duration=2)  # warm-up
        json_r = common.wrk(base, path="/json", conns=conns, duration=duration)
        print(f"floor  GET  /json    {fmt(json_r)}", flush=True)
        common.wrk(base, data=data, conns=conns, duration=2)
        insert_r = common.wrk(base, data=data, conns=conns, duration=duration)
        print(f"floor  POST /insert  {fmt(insert_r)}", flush=True)
    return common.save("floor", {"json": json_r, "insert": insert_r})


def create(duration: float = 10, conns: int = 32, accounts: int = 400, envs: int = 100) -> dict[str, Any]:
    """POST /v1/tickets, every request a new valid upscale on its own environment. Production
    limits stay ON (120 writes/min per token, 100 open tickets per account): the load is spread
    over ``accounts`` customer tokens, each used at most ``envs`` times."""
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=accounts, envs_per_account=envs)
    lines = common.filing_lines(reg["customers"], range(envs))
    warm = common.write_requests("create-warm", lines[:1500])
    main = common.write_requests("create-main", lines[1500:])
    floor_insert = None
    with common.running(common.start_api()):
        common.wrk(common.API, data=warm, conns=conns, duration=2)
        r = common.wrk(common.API, data=main, conns=conns, duration=duration)
    if r["requests"] > len(lines) - 1500:
        log("WARNING: more requests than distinct environments; the excess hit the duplicate rule")
    with common.connect() as conn:
        stored = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    print(f"create POST /v1/tickets {fmt(r)}  (tickets stored: {stored})", flush=True)
    print(f"env import: {reg['import_lines']} lines in {reg['import_seconds']:.2f}s "
          f"({reg['import_lines'] / reg['import_seconds']:.0f} lines/s) {reg['import_summary']}", flush=True)
    prior = json.loads(common.RESULTS.read_text()).get("floor") if common.RESULTS.exists() else None
    if prior:
        floor_insert = prior["insert"]["rps"]
        print(f"create / INSERT floor = {r['rps'] / floor_insert:.2f}", flush=True)
    return common.save("create", {"create": r, "import_lines": reg["import_lines"],
                           "import_seconds": reg["import_seconds"], "floor_insert_rps": floor_insert,
                           "ratio": r["rps"] / floor_insert if floor_insert else None})


def main() -> None:
    from bench import change_calendar, console, cost, mail, memory, pipeline, read, scale, sweep

    commands = {"floor": floor, "create": create, "read": read.run, "console": console.run,
                "sweep": sweep.run, "pipeline": pipeline.run, "memory": memory.run,
                "scale": scale.run, "mail": mail.run, "mail-cost": mail.cost,
                "cost": cost.run, "calendar": change_calendar.run}
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=[*commands, "all", "table", "against"])
    args = parser.parse_args()
    if args.command == "table":
        from bench.table import print_table
        print_table(json.loads(common.RESULTS.read_text()))
        return
    if args.command == "against":  # not part of "all": it needs another checkout (AGAINST)
        from bench import against
        against.run()
        return
    names = list(commands) if args.command == "all" else [args.command]
    if args.command == "all" and common.RESULTS.exists():
        common.RESULTS.unlink()
    for name in names:
        log(f"--- {name}")
        commands[name]()
    if args.command == "all":
        from bench.table import print_table
        print_table(json.loads(common.RESULTS.read_text()))


if __name__ == "__main__":
    main()
