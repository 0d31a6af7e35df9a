"""The running stack for e2e tests: real API (gunicorn), Celery worker and beat, provisioning
simulator, PostgreSQL and Redis, driven over HTTP. A webhook receiver checks every signature.

Each test gets a stack of its own: a fresh database on the run's PostgreSQL, its own Redis
database number on the run's Redis (or a private redis-server), free ports, and a tmp folder
holding every process's log; the processes get the same server URLs as the tests. The fixtures
that build stacks are in conftest.py."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from service.app.registry import operators
from service.adapters.config import normalize_database_url
from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from tests.e2e.processes import ENVDESK, ROOT, Proc
from tests.e2e.webhook_receiver import WebhookReceiver
from tests.support.databases import create_pg_database
from tests.support.servers import free_port
from tests.support.waiting import wait_until

STAGE_ENVS = 24  # one stage environment per concurrent ticket (one open request per environment)

# Short timings that keep the redelivery chain valid (see workers.app.check_timing).
FAST_TIMINGS = {
    "TASK_SOFT_TIME_LIMIT": "5", "TASK_HARD_TIME_LIMIT": "8", "TASK_LEASE_SECONDS": "10",
    "BROKER_VISIBILITY_TIMEOUT": "30", "RETRY_CAP_SECONDS": "2", "POLL_INTERVAL": "0.3",
    "SWEEP_INTERVAL": "1", "PROVISIONING_READ_TIMEOUT": "2", "PROVISIONING_CONNECT_TIMEOUT": "1",
}


@dataclass
class Seed:
    customer: str = ""
    support: str = ""
    account_id: str = ""
    envs: dict[str, str] = field(default_factory=dict)


class Stack:
    """API, worker, beat and simulator against a fresh database; helpers to drive them."""

    def __init__(self, tmp: Path, *, db_name: str, redis_url: str, extra_env: dict[str, str],
                 pg_server: str | None = None) -> None:
        self.tmp = tmp
        self.db_name = db_name
        self.pg_server = pg_server  # a server of the test's own; None: the run's server
        self.api_port, self.sim_port = free_port(), free_port()
        self.sim_token = secrets.token_urlsafe(32)
        self.hooks = WebhookReceiver(secrets.token_urlsafe(32))
        self.database_url = create_pg_database(db_name, server=pg_server)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PROVISIONING_", "WEBHOOK_"))},
            "DATABASE_URL": self.database_url, "REDIS_URL": redis_url,
            "PROVISIONING_URL": f"http://127.0.0.1:{self.sim_port}",
            "PROVISIONING_TOKEN": self.sim_token,
            "WEBHOOK_URLS": self.hooks.url, "WEBHOOK_SECRET": self.hooks.secret,
            "SECRET_KEY": secrets.token_urlsafe(32), "ENVDESK_HOME": str(tmp / "home"),
            "PYTHONUNBUFFERED": "1", **FAST_TIMINGS, **extra_env,
        }
        self.engine = make_engine(normalize_database_url(self.database_url))
        self.http = requests.Session()
        self.seed = Seed()
        self.procs: dict[str, Proc] = {}
        self._started: list[Proc] = []
        self._workers = 0

    # lifecycle

    def boot(self, *, sim_args: tuple[str, ...] = ()) -> "Stack":
        out = subprocess.run([ENVDESK, "db", "upgrade"], env=self.env, capture_output=True, text=True,
                             timeout=60, cwd=ROOT)
        assert out.returncode == 0, f"envdesk db upgrade failed:\n{out.stdout}\n{out.stderr}"
        self._seed_world()
        self.start("sim", "provisioning-sim", "--port", str(self.sim_port), *sim_args)
        self.start("api", "serve", "--port", str(self.api_port), "--workers", "2", "--threads", "4")
        self.start_worker()
        self.start("beat", "beat", "--loglevel", "INFO")
        wait_until(lambda: self._ok(f"{self.sim_url}/_sim/stats"), timeout=20, what="the simulator")
        wait_until(lambda: self._ok(f"{self.api_url}/healthz"), timeout=30, what="the API /healthz")
        return self

    def start(self, name: str, *args: str) -> Proc:
        proc = Proc(name, [ENVDESK, *args], self.env, self.tmp / f"{name}.log").start()
        self.procs[name] = proc  # by name, the latest (a second worker takes "worker")
        self._started.append(proc)  # every one, so that stop_all stops a replaced one too
        return proc

    def start_worker(self, *, wait: bool = True) -> Proc:
        self._workers += 1
        proc = self.start("worker", "worker", "--concurrency", "2", "-n",
                          f"e2e{self._workers}-{os.getpid()}@%h", "--loglevel", "INFO")
        if wait:
            wait_until(lambda: " ready." in proc.log.read_text(errors="replace") or not proc.running,
                       timeout=30, what="the worker to be ready")
            assert proc.running, f"the worker exited:\n{proc.tail()}"
        return proc

    def stop_all(self) -> None:
        """SIGTERM every process group at once, wait up to 10 s in all, then SIGKILL what is left."""
        procs = [p for p in self._started if p.popen is not None]
        for proc in procs:
            if proc.running:
                proc.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            proc.stop(timeout=max(0.1, deadline - time.monotonic()))
        self.hooks.close()
        self.http.close()
        self.engine.dispose()

    def logs(self, lines: int = 40) -> str:
        return "\n".join(f"----- {name} ({proc.log}) -----\n{proc.tail(lines)}"
                         for name, proc in self.procs.items())

    def _ok(self, url: str) -> bool:
        try:
            return self.http.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def _seed_world(self) -> None:
        sessions = make_session_factory(self.engine)
        new = lambda: UnitOfWork(sessions)  # noqa: E731
        shop = operators.add_account("Shop", "customer", uow=new())
        host = operators.add_account("Hosting", "provider", uow=new())
        operators.add_user("customer@shop.example", shop.id, "member", uow=new())
        operators.add_user("support@host.example", host.id, "support", uow=new())
        self.seed.account_id = shop.id
        self.seed.customer = operators.issue_user_token("customer@shop.example", uow=new())
        self.seed.support = operators.issue_user_token("support@host.example", uow=new())
        names = {"stage": "stage", "prod": "prod",
                 **{f"stage{i:02d}": "stage" for i in range(STAGE_ENVS)}}
        for key, stage in names.items():
            env = operators.add_environment(shop.id, f"shop-{key}", stage, uow=new(),
                                            sizes={"yves": "medium"})
            self.seed.envs[key] = env.id

    # HTTP helpers

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self.seed, who)}"}

    def api(self, method: str, path: str, *, who: str = "customer", **kw: Any) -> requests.Response:
        return self.http.request(method, f"{self.api_url}/v1{path}", headers=self.auth(who),
                                 timeout=kw.pop("timeout", 15), **kw)

    def file(self, env: str = "stage", *, size: str = "large", period: dict[str, str] | None = None,
             component: str = "yves") -> dict[str, Any]:
        body: dict[str, Any] = {"type": "upscale", "environment_id": self.seed.envs[env],
                                "summary": "load test", "resources": [{"component": component, "size": size}]}
        if period:
            body["period"] = period
        response = self.api("POST", "/tickets", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def approve(self, ticket_id: str) -> requests.Response:
        response = self.api("POST", f"/tickets/{ticket_id}/approve", who="support")
        assert response.status_code == 200, response.text
        return response

    def retry(self, ticket_id: str) -> requests.Response:
        response = self.api("POST", f"/tickets/{ticket_id}/retry", who="support")
        assert response.status_code == 200, response.text
        return response

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        response = self.api("GET", f"/tickets/{ticket_id}", who="support")
        assert response.status_code == 200, response.text
        return response.json()

    def events(self, ticket_id: str) -> list[dict[str, Any]]:
        response = self.api("GET", f"/tickets/{ticket_id}/events", who="support")
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def environment(self, env: str) -> dict[str, Any]:
        response = self.api("GET", f"/environments/{self.seed.envs[env]}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_status(self, ticket_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            ticket = self.ticket(ticket_id)
            return ticket if ticket["status"] == status else None
        try:
            return wait_until(check, timeout=timeout, interval=0.25,
                              what=f"ticket {ticket_id} to be {status}")
        except pytest.fail.Exception:
            pytest.fail(f"ticket {ticket_id} is {self.ticket(ticket_id)['status']}, not {status}, "
                        f"after {timeout}s", pytrace=False)

    def wait_for_all(self, ids: list[str], status: str, timeout: float) -> None:
        """Every ticket in ``ids`` reaches ``status`` (read from the database, cheaply)."""
        def check() -> bool:
            counts = self.statuses(ids)
            return counts.get(status, 0) == len(ids)
        try:
            wait_until(check, timeout=timeout, interval=0.25, what=f"all tickets to be {status}")
        except pytest.fail.Exception:
            pytest.fail(f"after {timeout}s not all {len(ids)} tickets are {status}: "
                        f"{self.statuses(ids)}", pytrace=False)

    def statuses(self, ids: list[str]) -> dict[str, int]:
        rows = self.query("SELECT status, count(*) FROM tickets WHERE id = ANY(:ids) GROUP BY status",
                          ids=ids)
        return {status: count for status, count in rows}

    # simulator helpers

    def sim_stats(self) -> dict[str, Any]:
        return self.http.get(f"{self.sim_url}/_sim/stats", timeout=5).json()

    def sim_config(self, **settings: Any) -> dict[str, Any]:
        response = self.http.post(f"{self.sim_url}/_sim/config", json=settings, timeout=5,
                                  headers={"Authorization": f"Bearer {self.sim_token}"})
        assert response.status_code == 200, response.text
        return response.json()

    # database

    def query(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params).all())
