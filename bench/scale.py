"""Operating at scale, side by side in one run: `create` and `read` through PgBouncer in
transaction pooling mode against direct connections, and `create` with tracing on (exporting
OTLP/HTTP to a receiver on 127.0.0.1; every request traced, and one in ten) against off. The
variants alternate (A B C D, A B C D, ...), each on a fresh `envdesk serve`, on one database
seeded once; the PostgreSQL server connections of the bench database are sampled every 0.1 s
during each wrk run (their peak is reported).

On a shared machine throughput follows whatever else runs; the CPU milliseconds each request
cost (the API's processes, PgBouncer, the bench database's PostgreSQL backends, read from /proc
around each wrk run) follow the code, and are reported beside it."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from statistics import mean
from typing import Any, Iterator

from bench import common, read
from bench.common import fmt

PGBOUNCER_PORT = common.API_PORT + 20
OTLP_PORT = common.API_PORT + 21
POOL_SIZE = int(os.environ.get("BENCH_PGBOUNCER_POOL", "20"))
"""PgBouncer's server connections for the database: the default_pool_size of deploy/kubernetes/."""
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BOUNCER_APP = "pgbouncer"
"""The application_name of PgBouncer's server connections (its connect_query)."""
READS = ("list_customer", "get")
"""Of bench/read.py's requests: a customer's first page of 50, and one ticket by id."""


@contextmanager
def pgbouncer() -> Iterator[str]:
    """PgBouncer in transaction mode on 127.0.0.1 in front of the bench's PostgreSQL; yields its URL."""
    from urllib.parse import urlsplit

    program = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    folder = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-", dir=common.WORK))
    server = urlsplit(common.PG)
    user = server.username or "postgres"
    (folder / "userlist.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text("\n".join([
        # Its server connections name themselves, so that a direct run does not count them.
        "[databases]", f"* = host={server.hostname} port={server.port or 5432} user={user} "
                       f"connect_query='SET application_name TO {BOUNCER_APP}'",
        "[pgbouncer]", "listen_addr = 127.0.0.1", f"listen_port = {PGBOUNCER_PORT}", "unix_socket_dir =",
        "auth_type = trust", f"auth_file = {folder / 'userlist.txt'}", "pool_mode = transaction",
        f"default_pool_size = {POOL_SIZE}", "max_client_conn = 1000", "server_reset_query =",
        "ignore_startup_parameters = extra_float_digits,options",
        f"logfile = {folder / 'pgbouncer.log'}", f"pidfile = {folder / 'pgbouncer.pid'}", ""]))
    argv = [program, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        import pwd

        entry = pwd.getpwnam("postgres")
        for path in (folder, *folder.iterdir()):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        argv[1:1] = ["-u", "postgres"]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"postgresql://{user}@127.0.0.1:{PGBOUNCER_PORT}/{common.DB_NAME}"
    try:
        import psycopg

        deadline = time.monotonic() + 20
        while True:
            try:
                psycopg.connect(url, connect_timeout=2, prepare_threshold=None).close()
                break
            except psycopg.Error:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


class OtlpSink:
    """Accepts OTLP/HTTP trace exports on 127.0.0.1; counts the spans after the run (decoding
    them during it would take CPU from the process measured)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                sink.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", OTLP_PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take_spans(self) -> int:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        bodies, self.bodies = self.bodies, []
        count = 0
        for body in bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            count += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        return count

    def take_spans_by_service(self) -> dict[str, int]:
        """Like take_spans, counted per ``service.name`` (OTEL_SERVICE_NAME of the process)."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        bodies, self.bodies = self.bodies, []
        counts: dict[str, int] = {}
        for body in bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                name = next((a.value.string_value for a in resource.resource.attributes
                             if a.key == "service.name"), "")
                counts[name] = counts.get(name, 0) + sum(len(s.spans) for s in resource.scope_spans)
        return counts

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SERVED = ("envdesk serve (this bench)", "pgbouncer", "postgres backends (bench db)")


def measured(data: Path, conns: int, duration: float, *, pooled: bool = False) -> dict[str, Any]:
    """One wrk run, with the peak server connections (PgBouncer's when ``pooled``, else the
    API's own) and the CPU per request of what serves it."""
    before = common.cpu_snapshot()
    with server_connections(pooled) as used:
        r = common.wrk(common.API, data=data, conns=conns, duration=duration)
    spent = common.cpu_since(before)
    r["server_connections"] = used["peak"]
    r["cpu_ms"] = {group: spent.get(group, (0.0, 0.0))[0] / max(r["requests"], 1) * 1000 for group in SERVED}
    r["cpu_ms_total"] = sum(r["cpu_ms"].values())
    return r


def _cpu(r: dict[str, Any]) -> str:
    api, bouncer, pg = (r["cpu_ms"][g] for g in SERVED)
    return f"CPU/request {r['cpu_ms_total']:.2f} ms (api {api:.2f}, pgbouncer {bouncer:.2f}, postgres {pg:.2f})"


@contextmanager
def server_connections(pooled: bool) -> Iterator[dict[str, int]]:
    """The peak number of PostgreSQL backends serving the bench database while the block runs:
    PgBouncer's (``pooled``) or the others. PgBouncer keeps its idle server connections open
    (server_idle_timeout), so a direct run next to it would count them too."""
    peak = {"peak": 0}
    stop = threading.Event()
    compare = "=" if pooled else "<>"

    def sample() -> None:
        with common.admin() as conn:  # connected to the postgres database: not counted
            while not stop.is_set():
                count = conn.execute(f"SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                     f"AND application_name {compare} %s", (common.DB_NAME, BOUNCER_APP)).fetchone()[0]
                peak["peak"] = max(peak["peak"], count)
                stop.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def run(duration: float = 10, conns: int = 32, accounts: int = 1000, envs: int = 100) -> dict[str, Any]:
    common.reset_database()
    common.flush_redis()
    reg = common.seed_registry(accounts=accounts, envs_per_account=envs)
    lines = common.filing_lines(reg["customers"], range(envs))
    sink = OtlpSink()
    figures: dict[str, Any] = {"conns": conns, "pool_size": POOL_SIZE, "workers": common.WORKERS,
                               "threads": common.THREADS, "create": {}, "read": {}}
    with pgbouncer() as bouncer_url:
        variants = {
            "direct": {},
            "pgbouncer": {"DATABASE_URL": bouncer_url, "DATABASE_POOLER": "pgbouncer"},
            "tracing": {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{OTLP_PORT}"},
            # What docs/operations.md advises at high request rates: one trace in ten.
            "sampled": {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{OTLP_PORT}",
                        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
        }
        chunk = len(lines) // (len(variants) * ROUNDS)
        for round_ in range(ROUNDS):
            for i, (name, env) in enumerate(variants.items()):
                part = lines[(round_ * len(variants) + i) * chunk:][:chunk]
                warm = common.write_requests(f"scale-warm-{name}", part[:1000])
                main = common.write_requests(f"scale-create-{name}", part[1000:])
                with common.running(common.start_api(**env)):
                    common.wrk(common.API, data=warm, conns=conns, duration=2)
                    sink.take_spans()
                    r = measured(main, conns, duration, pooled=name == "pgbouncer")
                if "OTEL_EXPORTER_OTLP_ENDPOINT" in env:
                    r["spans_exported"] = sink.take_spans()
                figures["create"].setdefault(name, []).append(r)
                extra = f"  spans exported {r['spans_exported']}" if "spans_exported" in r else ""
                print(f"scale create {name:<9} {fmt(r)}  server connections {r['server_connections']}  "
                      f"{_cpu(r)}{extra}", flush=True)
        kinds = {kind: common.write_requests(f"scale-read-{kind}", lines)
                 for kind, lines in read.request_lines(reg).items() if kind in READS}
        for round_ in range(ROUNDS):
            for name in ("direct", "pgbouncer"):
                with common.running(common.start_api(**variants[name])):
                    for kind, data in kinds.items():
                        common.wrk(common.API, data=data, conns=conns, duration=2)
                        r = measured(data, conns, duration, pooled=name == "pgbouncer")
                        figures["read"].setdefault(name, {}).setdefault(kind, []).append(r)
                        print(f"scale read   {name:<9} {kind:<13} {fmt(r)}  server connections "
                              f"{r['server_connections']}  {_cpu(r)}", flush=True)
    sink.close()
    figures["summary"] = _summary(figures)
    for line in figures["summary"]["lines"]:
        print(line, flush=True)
    return common.save("scale", figures)


def _summary(figures: dict[str, Any]) -> dict[str, Any]:
    def rps(runs: list[dict[str, Any]]) -> float:
        return mean(r["rps"] for r in runs)

    def peak(runs: list[dict[str, Any]]) -> int:
        return max(r["server_connections"] for r in runs)

    def cpu(runs: list[dict[str, Any]], group: str | None = None) -> float:
        return mean(r["cpu_ms"][group] if group else r["cpu_ms_total"] for r in runs)

    create = figures["create"]
    out: dict[str, Any] = {"lines": []}
    for name in ("pgbouncer", "tracing", "sampled"):
        ratio = rps(create[name]) / rps(create["direct"])
        out[f"create_{name}_ratio"] = ratio
        cpu_ratio = cpu(create[name]) / cpu(create["direct"])
        out[f"create_{name}_cpu_ratio"] = cpu_ratio
        out["lines"].append(f"create {name} / direct: throughput {ratio:.3f} ({rps(create[name]):.0f} vs "
                            f"{rps(create['direct']):.0f} req/s); CPU per request {cpu_ratio:.3f} "
                            f"({cpu(create[name]):.2f} vs {cpu(create['direct']):.2f} ms; API "
                            f"{cpu(create[name], SERVED[0]):.2f} vs {cpu(create['direct'], SERVED[0]):.2f}); "
                            f"server connections {peak(create[name])} vs {peak(create['direct'])}")
    for kind in figures["read"]["direct"]:
        direct, pooled = figures["read"]["direct"][kind], figures["read"]["pgbouncer"][kind]
        ratio = rps(pooled) / rps(direct)
        cpu_ratio = cpu(pooled) / cpu(direct)
        out[f"read_{kind}_pgbouncer_ratio"] = ratio
        out[f"read_{kind}_pgbouncer_cpu_ratio"] = cpu_ratio
        out["lines"].append(f"read {kind} pgbouncer / direct: throughput {ratio:.3f} ({rps(pooled):.0f} vs "
                            f"{rps(direct):.0f} req/s; p99 {mean(r['p99_ms'] for r in pooled):.1f} vs "
                            f"{mean(r['p99_ms'] for r in direct):.1f} ms); CPU per request {cpu_ratio:.3f} "
                            f"({cpu(pooled):.2f} vs {cpu(direct):.2f} ms); server connections "
                            f"{peak(pooled)} vs {peak(direct)}")
    return out
