"""What one POST /v1/tickets costs, in-process (Flask test client, no HTTP, no queueing), against
the bench database seeded by `bench/run.py create`: CPU milliseconds per request in this process
and in the PostgreSQL backends it talks to (from /proc), SQL statements, transactions and pool
checkouts per request. It empties the tickets of the bench database first."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import common  # noqa: E402

os.environ.update(common.bench_env())
from sqlalchemy import Engine, event  # noqa: E402
from sqlalchemy.pool import Pool  # noqa: E402

from service.adapters.config import Settings  # noqa: E402
from service.entrypoints.wsgi import build_app  # noqa: E402

N = int(os.environ.get("N", "400"))
BODY = {"type": "upscale", "summary": "measure",
        "resources": [{"component": "yves", "size": "large"}, {"component": "zed", "size": "medium"}]}


def backend_cpu() -> float:
    """Seconds of CPU used so far by every PostgreSQL backend serving the bench database."""
    ticks = os.sysconf("SC_CLK_TCK")
    with common.connect() as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def counters() -> dict[str, int]:
    seen = {"statements": 0, "transactions": 0, "checkouts": 0}

    def bump(name: str) -> Any:
        return lambda *_a, **_k: seen.__setitem__(name, seen[name] + 1)

    event.listen(Engine, "before_cursor_execute", bump("statements"))
    # BEGIN sent to the server: a connection in autocommit sends none
    event.listen(Engine, "begin", lambda conn: None if getattr(
        conn.connection.driver_connection, "autocommit", False) else bump("transactions")())
    event.listen(Pool, "checkout", bump("checkouts"))
    return seen


def run(client: Any, rows: list[tuple[str, str]], seen: dict[str, int], label: str) -> None:
    for key in seen:
        seen[key] = 0
    pg0, cpu0, wall0 = backend_cpu(), time.process_time(), time.perf_counter()
    for env_id, token in rows:
        r = client.post("/v1/tickets", json={**BODY, "environment_id": env_id},
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.get_json()
    cpu, wall, pg = time.process_time() - cpu0, time.perf_counter() - wall0, backend_cpu() - pg0
    n = len(rows)
    print(f"{label:<22} python {cpu / n * 1000:5.2f} ms  postgres {pg / n * 1000:5.2f} ms  "
          f"wall {wall / n * 1000:5.2f} ms  statements {seen['statements'] / n:.1f}  "
          f"transactions {seen['transactions'] / n:.1f}  checkouts {seen['checkouts'] / n:.1f}  "
          f"(n={n}, load1 {os.getloadavg()[0]:.1f})", flush=True)


def empty_tickets() -> None:
    with common.connect() as conn:
        conn.execute("TRUNCATE tickets, ticket_events, ticket_approvals, webhook_deliveries, drafts, "
                     "comments CASCADE")
        conn.commit()


def main() -> None:
    empty_tickets()
    common.flush_redis()  # the write limit's windows: back-to-back runs reuse the same tokens
    app = build_app(Settings.from_env())
    client = app.test_client()
    reg = json.loads((common.WORK / "registry.json").read_text())
    offset = 0
    customers = reg["customers"]
    # Token owners remembered (a few tokens, every request another environment) ...
    warm = [(c["stage_envs"][j], c["token"]) for c in customers[:8] for j in range(offset, offset + 40)]
    # ... and a new token every request, as a process sees 400 tokens after AUTH_CACHE_SECONDS.
    cold = [(c["stage_envs"][j], c["token"]) for j in range(offset + 40, offset + 40 + 2)
            for c in customers[8:]]
    seen = counters()
    for env_id, token in warm[:20]:
        client.post("/v1/tickets", json={**BODY, "environment_id": env_id},
                    headers={"Authorization": f"Bearer {token}"})
    run(client, warm[20:20 + N], seen, "token owner cached")
    run(client, cold[:N], seen, "token owner not cached")


if __name__ == "__main__":
    main()
