"""The hardware floor: a bare Flask app under the same gunicorn configuration as `envdesk serve`.

GET /json returns a small JSON object; POST /insert does one INSERT + commit with psycopg on a
per-thread connection to the same PostgreSQL database the benchmarks use."""
from __future__ import annotations

import argparse
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from flask import Flask  # noqa: E402
from gunicorn.app.base import BaseApplication  # noqa: E402

from service.entrypoints.server import gunicorn_options  # noqa: E402

app = Flask("floor")
_local = threading.local()


def _conn() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["DATABASE_URL"])
    return conn


@app.get("/json")
def small_json() -> Any:
    return {"ok": True, "service": "floor"}


@app.post("/insert")
def insert_one() -> Any:
    conn, row_id = _conn(), str(uuid.uuid4())
    conn.execute("INSERT INTO floor_rows (id, payload, created_at) VALUES (%s, %s, now())",
                 (row_id, "bench payload row"))
    conn.commit()
    return {"id": row_id}, 201


class FloorServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=18090)
    parser.add_argument("--workers", type=int,
                        default=int(os.environ.get("WEB_CONCURRENCY", "0")) or min(2 * (os.cpu_count() or 1) + 1, 8))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS floor_rows (id text PRIMARY KEY, payload text NOT NULL,"
                     " created_at timestamptz NOT NULL)")
        conn.commit()
    os.makedirs(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", "/tmp/envdesk-bench/floor-metrics"),
                exist_ok=True)
    FloorServer(gunicorn_options(host="127.0.0.1", port=args.port, workers=args.workers,
                                 threads=args.threads)).run()


if __name__ == "__main__":
    main()
