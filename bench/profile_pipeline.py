"""Where the time of approve → completed goes, in-process: the approval over the Flask test client
and one worker step (``advance_ticket`` as the provision task calls it) against a real simulator
at zero latency. Prints ms of CPU and wall time per call, SQL statements and HTTP calls per call,
and the top of a cProfile of each. Run after `bench/run.py pipeline` (it reuses its database and
registry; the tickets it takes are put back to pending_approval first).

    .venv/bin/python bench/profile_pipeline.py            # N=400 by default
"""
from __future__ import annotations

import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402
from bench.common import Proc  # noqa: E402

N = int(os.environ.get("N", "400"))
TOP = int(os.environ.get("TOP", "30"))
os.environ.update(common.bench_env())

import requests  # noqa: E402
import urllib3  # noqa: E402
from sqlalchemy import Engine, event  # noqa: E402

from service.adapters.config import Settings  # noqa: E402
from service.entrypoints.wsgi import build_app  # noqa: E402
from service.app.provisioning.pipeline import advance_ticket  # noqa: E402
from workers.context import build_context  # noqa: E402

count = {"sql": 0, "http": 0, "connect": 0}
event.listen(Engine, "before_cursor_execute",
             lambda *a, **k: count.__setitem__("sql", count["sql"] + 1))


def _counting(cls, method: str, key: str) -> None:
    original = getattr(cls, method)

    def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        count[key] += 1
        return original(self, *args, **kwargs)

    setattr(cls, method, wrapper)


_counting(requests.Session, "request", "http")
_counting(urllib3.connection.HTTPConnection, "connect", "connect")
published: list[str] = []


def _publish(ticket_id: str, ticket_type: str, stage: str, *, countdown: float = 0) -> bool:
    published.append(ticket_id)
    return True


def pending_tickets(n: int) -> list[str]:
    """``n`` stage upscales set back to pending_approval (events of earlier runs kept; their
    approvals and usage, which a new approval and completion write again, dropped)."""
    with common.connect() as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT t.id FROM tickets t JOIN environments e ON e.id = t.environment_id "
            "WHERE t.type = 'upscale' AND e.stage = 'stage' ORDER BY t.id LIMIT %s", (n,))]
        conn.execute("DELETE FROM ticket_approvals WHERE ticket_id = ANY(%s)", (ids,))
        conn.execute("DELETE FROM usage WHERE ticket_id = ANY(%s)", (ids,))  # a completion starts its usage
        conn.execute("""UPDATE tickets SET status = 'pending_approval', operation_id = NULL,
            next_attempt_at = NULL, published_at = NULL, attempts = 0, round = round + 1,
            decided_at = NULL WHERE id = ANY(%s)""", (ids,))
        conn.commit()
    return ids


def timed(label: str, items: list[str], one, warm: int = 20) -> None:
    """Warm up, then half the items timed without a profiler (the figures), half under cProfile."""
    for item in items[:warm]:
        one(item)
    plain, profiled = items[warm + 1:(len(items) + warm) // 2], items[(len(items) + warm) // 2:]
    with common.captured_sql() as seen:
        one(items[warm])
    count.update(sql=0, http=0, connect=0)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for item in plain:
        one(item)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(f"\n=== {label}: {len(plain)} calls, CPU {cpu / len(plain) * 1000:.2f} ms/call, wall "
          f"{wall / len(plain) * 1000:.2f} ms/call (this process only), SQL statements "
          f"{count['sql'] / len(plain):.1f}/call, HTTP requests to provisioning "
          f"{count['http'] / len(plain):.1f}/call, new connections {count['connect'] / len(plain):.2f}/call",
          flush=True)
    for statement, _ in seen:
        print("   SQL:", " ".join(statement.split())[:160])
    # CPU=1: profile process CPU time rather than wall time (waits for PostgreSQL left out).
    prof = cProfile.Profile(time.process_time) if os.environ.get("CPU") else cProfile.Profile()
    prof.enable()
    for item in profiled:
        one(item)
    prof.disable()
    prof.dump_stats(common.WORK / f"profile-{label.split()[0]}.prof")
    pstats.Stats(prof).sort_stats(os.environ.get("SORT", "cumulative")).print_stats(TOP)


def main() -> None:
    settings = Settings.from_env()
    reg = json.loads((common.WORK / "registry.json").read_text())
    ids = pending_tickets(N)
    app = build_app(settings)
    app.extensions["envdesk"].dispatch = _publish
    client = app.test_client()
    support = reg["support"]

    def approve(ticket_id: str) -> None:
        r = client.post(f"/v1/tickets/{ticket_id}/approve",
                        headers={"Authorization": f"Bearer {support[hash(ticket_id) % len(support)]}"})
        assert r.status_code == 200, r.get_json()

    timed("approve (Flask test client, publish recorded, not sent)", ids, approve)
    sim = Proc("sim-profile", [common.ENVDESK, "provisioning-sim", "--port", str(common.SIM_PORT),
                               "--latency", "0"], common.bench_env())
    with common.running(sim):
        common.wait_http(f"http://127.0.0.1:{common.SIM_PORT}/_sim/stats")
        ctx = build_context(settings, None)
        ctx.publisher = _publish  # type: ignore[assignment]

        def step(ticket_id: str) -> None:
            outcome = advance_ticket(ticket_id, uow=ctx.uow(), client_for=ctx.client_for, clock=ctx.clock,
                                     timing=ctx.timing, dispatch=ctx.publisher, listener=ctx.listener)
            assert outcome == "completed", outcome

        timed("worker step advance_ticket (approved -> completed, simulator at 0 latency)", ids, step)


if __name__ == "__main__":
    main()
