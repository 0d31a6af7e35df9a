"""The running stack for e2e tests: real API (gunicorn), Celery worker and beat, provisioning
simulator, PostgreSQL and Redis, driven over HTTP. A webhook receiver checks every signature.

Each test gets a stack of its own: a fresh database, its own Redis database number (or a private
redis-server), free ports, and a tmp folder holding every process's log. Nothing is skipped: a
missing PostgreSQL or Redis fails the test with a message saying so."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
import sqlalchemy as sa

from service import operators, webhooks
from service.config import normalize_database_url
from service.db import UnitOfWork, make_engine, make_session_factory
from tests.conftest import create_pg_database, drop_pg_database

ROOT = Path(__file__).resolve().parents[2]
ENVDESK = str(ROOT / ".venv" / "bin" / "envdesk")
REDIS_SERVER = os.environ.get("ENVDESK_TEST_REDIS_SERVER") or shutil.which("redis-server") or "redis-server"
REDIS_BASE = os.environ.get("ENVDESK_TEST_REDIS", "redis://127.0.0.1:6379")
STAGE_ENVS = 24  # one stage environment per concurrent ticket (one open request per environment)

# Short timings that keep the redelivery chain valid (see workers.app.check_timing).
FAST_TIMINGS = {
    "TASK_SOFT_TIME_LIMIT": "5", "TASK_HARD_TIME_LIMIT": "8", "TASK_LEASE_SECONDS": "10",
    "BROKER_VISIBILITY_TIMEOUT": "30", "RETRY_CAP_SECONDS": "2", "POLL_INTERVAL": "0.3",
    "SWEEP_INTERVAL": "1", "PROVISIONING_READ_TIMEOUT": "2", "PROVISIONING_CONNECT_TIMEOUT": "1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def wait_until(check: Callable[[], Any], *, timeout: float, interval: float = 0.2,
               what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last value: {last!r}", pytrace=False)


# --- infrastructure checks: fail loudly, never skip ------------------------------------------

def _redis_ping(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"Redis is required for the e2e tests and is not reachable at {url}: {exc}",
                    pytrace=False)


# --- processes -------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> "Proc":
        handle = self.log.open("ab")
        handle.write(f"\n=== start {' '.join(self.argv)} at {utcnow().isoformat()}\n".encode())
        handle.flush()
        # A session of its own: stopping the group also stops celery's pool children.
        self.popen = subprocess.Popen(self.argv, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
        handle.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole process group (the main process and its pool children)."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # leftovers in the group, e.g. pool children
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class RedisServer:
    """A private redis-server without persistence, restartable on the same port."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.proc = Proc("redis", [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", str(folder)],
                         dict(os.environ), folder / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if not Path(REDIS_SERVER).exists() and not shutil.which(REDIS_SERVER):
            pytest.fail(f"redis-server is required for this test and was not found ({REDIS_SERVER})",
                        pytrace=False)
        self.proc.start()
        import redis

        wait_until(lambda: _pings(redis.Redis(port=self.port, socket_connect_timeout=0.5)),
                   timeout=10, what="the private redis-server")

    def stop(self) -> None:
        self.proc.stop()


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001
        return False


# --- the webhook receiver --------------------------------------------------------------------

@dataclass
class Hook:
    body: bytes
    headers: dict[str, str]
    valid: bool

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class WebhookReceiver:
    """Records every POST and whether its Envdesk-Signature verifies with the shared secret."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[Hook] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                header = self.headers.get(webhooks.SIGNATURE_HEADER, "")
                valid = webhooks.verify(header, body, receiver.secret, now=int(time.time()))
                with receiver.lock:
                    receiver.received.append(Hook(body, dict(self.headers.items()), valid))
                self.send_response(204 if valid else 400)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def for_ticket(self, ticket_id: str) -> list[Hook]:
        with self.lock:
            return [h for h in self.received if _ticket_id(h) == ticket_id]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ticket_id(hook: Hook) -> str | None:
    try:
        return hook.json.get("ticket", {}).get("id")
    except ValueError:
        return None


# --- the stack -------------------------------------------------------------------------------

@dataclass
class Seed:
    customer: str = ""
    support: str = ""
    account_id: str = ""
    envs: dict[str, str] = field(default_factory=dict)


class Stack:
    """API, worker, beat and simulator against a fresh database; helpers to drive them."""

    def __init__(self, tmp: Path, *, db_name: str, redis_url: str, extra_env: dict[str, str]) -> None:
        self.tmp = tmp
        self.db_name = db_name
        self.api_port, self.sim_port = free_port(), free_port()
        self.sim_token = secrets.token_urlsafe(16)
        self.hooks = WebhookReceiver(secrets.token_urlsafe(16))
        self.database_url = create_pg_database(db_name)
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PROVISIONING_", "WEBHOOK_"))},
            "DATABASE_URL": self.database_url, "REDIS_URL": redis_url,
            "PROVISIONING_URL": f"http://127.0.0.1:{self.sim_port}",
            "PROVISIONING_TOKEN": self.sim_token,
            "WEBHOOK_URLS": self.hooks.url, "WEBHOOK_SECRET": self.hooks.secret,
            "SECRET_KEY": "e2e-secret", "ENVDESK_HOME": str(tmp / "home"),
            "PYTHONUNBUFFERED": "1", **FAST_TIMINGS, **extra_env,
        }
        self.engine = make_engine(normalize_database_url(self.database_url))
        self.http = requests.Session()
        self.seed = Seed()
        self.procs: dict[str, Proc] = {}
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
        self.procs[name] = proc
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
        procs = [p for p in self.procs.values() if p.popen is not None]
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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.25)
        pytest.fail(f"after {timeout}s not all {len(ids)} tickets are {status}: {self.statuses(ids)}",
                    pytrace=False)

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


@pytest.fixture(scope="session")
def redis_db(worker_id: str) -> str:
    """A Redis database number of this project's own: 11 + the xdist worker index."""
    index = 0 if worker_id == "master" else int(worker_id.removeprefix("gw"))
    url = f"{REDIS_BASE}/{11 + index}"
    _redis_ping(url)
    return url


@pytest.fixture
def make_stack(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> Iterator[Callable[..., Stack]]:
    """Build and boot a stack; ``redis_url=None`` uses this worker's db on the shared Redis
    (flushed first), otherwise the given broker (e.g. a private redis-server)."""
    stacks: list[Stack] = []

    def make(*, redis_url: str | None = None, sim_args: tuple[str, ...] = (), **extra_env: str) -> Stack:
        if redis_url is None:
            redis_url = request.getfixturevalue("redis_db")
            import redis

            redis.Redis.from_url(redis_url).flushdb()
        name = f"envdesk_e2e_{worker_id}_{os.getpid()}_{len(stacks)}"
        stack = Stack(tmp_path, db_name=name, redis_url=redis_url,
                      extra_env={k: str(v) for k, v in extra_env.items()})
        stacks.append(stack)
        request.node.e2e_stacks = stacks
        return stack.boot(sim_args=sim_args)

    yield make
    for stack in stacks:
        stack.stop_all()
        drop_pg_database(stack.db_name)


@pytest.fixture
def stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Record a measured figure; tests/conftest.py prints them all in the terminal summary."""
    def record(name: str, **values: Any) -> None:
        request.node.user_properties.append(("e2e_figure", {"test": request.node.name, "figure": name,
                                                              **values}))
    return record


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    stacks = getattr(item, "e2e_stacks", None)
    if report.failed and stacks and report.when in ("setup", "call"):
        for stack in stacks:
            report.sections.append((f"e2e process logs ({stack.db_name})", stack.logs()))

