"""The summary table of every figure in /tmp/envdesk-bench/results.json, against the targets."""
from __future__ import annotations

import os
import platform
from typing import Any


def machine() -> str:
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) / 2**20
    return f"{os.cpu_count()} CPUs ({model}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def _row(rows: list[tuple[str, str, str, str]], name: str, value: str, target: str, ok: bool | None) -> None:
    rows.append((name, value, target, "-" if ok is None else ("met" if ok else "NOT met")))


def _console_rows(rows: list[tuple[str, str, str, str]], co: dict[str, Any] | None) -> None:
    if not co:
        return
    for size in ("10k", "1M"):
        for name, r in co.get(size, {}).items():
            _row(rows, f"console {size} {name}", f"{r['rps']:.0f} req/s p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f} ms "
                 f"c={r['conns']} load1={r['load1']:.1f}", "p99<=50ms" if size == "1M" else "", r["p99_ms"] <= 50 if size == "1M" else None)
    for size in ("10k", "1M"):
        if f"in_process_ms_{size}" in co:
            ms = ", ".join(f"{k} {v:.1f}" for k, v in co[f"in_process_ms_{size}"].items())
            _row(rows, f"console {size} ms per page in-process", ms, "", None)
    for name in co.get("1M", {}):
        v = co[f"ratio_p99_{name}"]
        _row(rows, f"console p99 1M/10k {name}", f"{v:.2f}", "<= 1.5", v <= 1.5)


def _sweep_rows(rows: list[tuple[str, str, str, str]], sw: dict[str, Any] | None) -> None:
    if not sw:
        return
    for size in ("10k", "1M"):
        r = sw[size]
        _row(rows, f"sweep pass {size}", f"median {r['median_ms']:.1f} p99 {r['p99_ms']:.1f} ms n={r['repeat']} "
             f"load1={r['load1']:.1f}", "", None)
    _row(rows, "sweep 1M/10k, minutes apart", f"median {sw['ratio_median']:.2f}, p99 {sw['ratio_p99']:.2f}",
         "<= 1.5", sw["ratio_median"] <= 1.5)
    side = sw.get("side_by_side")
    if side:
        _row(rows, "sweep 1M/10k, side by side", f"median {side['ratio_median']:.2f}, p99 {side['ratio_p99']:.2f} "
             f"({side['10k']['median_ms']:.1f} / {side['1M']['median_ms']:.1f} ms, load1={side['load1']:.1f})",
             "<= 1.5", side["ratio_median"] <= 1.5)
    tables = sorted({t for item in sw["plans_1M"] for t in item.get("seq_scans", [])})
    _row(rows, "sweep queries with a Seq Scan (1M)", f"{sw['seq_scans_1M']} of {len(sw['plans_1M'])} "
         f"(on {', '.join(tables) or 'no table'})", "0", sw["seq_scans_1M"] == 0)


def print_table(d: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str, str]] = []
    fl = d.get("floor")
    if fl:
        for k in ("json", "insert"):
            r = fl[k]
            _row(rows, f"floor {k}", f"{r['rps']:.0f} req/s p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f} ms", "", None)
    cr = d.get("create")
    if cr:
        r = cr["create"]
        _row(rows, "create POST /v1/tickets", f"{r['rps']:.0f} req/s p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f} ms, "
             f"errors {r['errors']}, c={r['conns']}", "p99<=50ms, 0 errors", r["p99_ms"] <= 50 and r["errors"] == 0)
        if cr.get("ratio"):
            _row(rows, "create / INSERT floor", f"{cr['ratio']:.2f}", ">= 0.5", cr["ratio"] >= 0.5)
        _row(rows, "env import", f"{cr['import_lines']} lines in {cr['import_seconds']:.2f}s", "fast", None)
    rd = d.get("read")
    if rd:
        for size in ("10k", "1M"):
            for name, r in rd.get(size, {}).items():
                _row(rows, f"read {size} {name}", f"{r['rps']:.0f} req/s p50 {r['p50_ms']:.1f} p99 {r['p99_ms']:.1f} ms "
                     f"c={r['conns']}", "p99<=20ms", r["p99_ms"] <= 20)
        for name in ("list_support", "list_customer", "list_customer_full", "get"):
            if f"ratio_p99_{name}" in rd:
                v = rd[f"ratio_p99_{name}"]
                _row(rows, f"read p99 1M/10k {name}", f"{v:.2f}", "<= 1.5", v <= 1.5)
        if "queries_1M" in rd:
            counts = sorted(set(rd["queries_1M"].values()))
            _row(rows, "SQL statements per request (1M)", f"{counts} over {len(rd['queries_1M'])} list/get cases",
                 "no N+1", len(counts) == 1)
    _console_rows(rows, d.get("console"))
    _sweep_rows(rows, d.get("sweep"))
    pl = d.get("pipeline")
    if pl:
        _row(rows, "pipeline tickets/s", f"{pl['tickets_per_s']:.0f}/s (celery no-op {pl['noop_per_s']:.0f}/s)",
             ">= 100/s", pl["tickets_per_s"] >= 100)
        if "call_p99_s" in pl:
            _row(rows, "pipeline approve->provisioning call started",
                 f"p50 {pl['call_p50_s'] * 1000:.0f} ms p99 {pl['call_p99_s'] * 1000:.0f} ms", "p99 <= 1 s",
                 pl["call_p99_s"] <= 1)
        _row(rows, "pipeline approve->completed", f"p50 {pl['p50_s'] * 1000:.0f} ms p99 {pl['p99_s'] * 1000:.0f} ms",
             "p99 <= 2 s", pl["p99_s"] <= 2)
        if "prod_wait_empty_ms" in pl:
            _row(rows, "prod ticket wait", f"empty {pl['prod_wait_empty_ms']:.0f} ms, with {pl['staging_queued_at_start']} "
                 f"staging queued {pl['prod_wait_backlog_ms']:.0f} ms (max {pl['prod_wait_backlog_max_ms']:.0f})",
                 "no growth", pl["prod_wait_backlog_ms"] <= 2 * pl["prod_wait_empty_ms"] + 50)
    mem = d.get("memory")
    if mem:
        a, w = mem["api"], mem["worker"]
        _row(rows, "memory API worker", f"{a['requests']} req: warm {a['warm_max_mb']:.0f} MB, peak {a['peak_mb']:.0f}, "
             f"end {a['end_max_mb']:.0f}", "no growth", a["growth_mb"] <= 5)
        _row(rows, "memory Celery worker", f"{w['tickets']} tickets: warm {w['warm_max_mb']:.0f} MB, peak "
             f"{w['peak_mb']:.0f}, end {w['end_max_mb']:.0f}", "no growth", w["growth_mb"] <= 5)
    print(f"\nmachine: {machine()}")
    widths = [max(len(r[i]) for r in rows + [("figure", "measured", "target", "status")]) for i in range(4)]
    for r in [("figure", "measured", "target", "status"), *rows]:
        print(" | ".join(c.ljust(w) for c, w in zip(r, widths)))
