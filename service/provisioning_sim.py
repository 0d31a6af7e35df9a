"""An in-memory provisioning API that serves the SPEC section 5 contract over HTTP.

Operations go ``pending`` -> ``running`` -> ``succeeded``/``failed`` over
``latency`` seconds (first half pending, second half running). ``failure_rate``
answers that fraction of ``/v1`` requests with a transient 503 or 429 (alternating,
both with ``Retry-After: 1``); ``response_delay`` holds every ``/v1`` response.
The ``/_sim`` endpoints are never delayed or failed: ``GET /_sim/stats`` is open,
``POST /_sim/config`` and ``POST /_sim/reset`` need the bearer token when one is set.
"""

from __future__ import annotations

import hmac
import json
import logging
import random
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
ACTIONS = ("apply", "revert")
ENVIRONMENT_FIELDS = ("id", "name", "stage", "account_id")
Reply = tuple[int, dict, dict[str, str]]


@dataclass
class SimSettings:
    token: str | None = None
    latency: float = 0.0
    failure_rate: float = 0.0
    terminal_failure_rate: float = 0.0
    response_delay: float = 0.0


class SimError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


@dataclass
class _SimOperation:
    id: str
    key: str
    body: dict
    created: float
    latency: float
    error: str | None
    reached_success: bool = False

    def status(self, now: float) -> str:
        elapsed = now - self.created
        if elapsed >= self.latency:
            return "failed" if self.error else "succeeded"
        return "pending" if elapsed < self.latency / 2 else "running"

    def view(self, now: float) -> dict:
        status = self.status(now)
        self.reached_success = self.reached_success or status == "succeeded"
        view = {"id": self.id, "status": status}
        if status == "failed":
            view["error"] = self.error
        return view


def check_settings(settings: SimSettings) -> SimSettings:
    """``settings`` unchanged when every field is usable; ValueError otherwise."""
    if settings.token is not None and (not isinstance(settings.token, str) or not settings.token):
        raise ValueError("token must be a non-empty string or null")
    for name in ("latency", "response_delay", "failure_rate", "terminal_failure_rate"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a non-negative number")
        if name.endswith("rate") and value > 1:
            raise ValueError(f"{name} must be between 0 and 1")
    return settings


class SimState:
    """Thread-safe operations, counters and settings of one simulator."""

    def __init__(self, settings: SimSettings, *, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:
        self._settings = check_settings(replace(settings))
        self._clock = clock
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self.reset()

    @property
    def settings(self) -> SimSettings:
        with self._lock:
            return replace(self._settings)

    def configure(self, changes: dict) -> SimSettings:
        known = {field.name for field in fields(SimSettings)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise SimError(400, f"unknown settings: {', '.join(unknown)}")
        with self._lock:
            try:
                self._settings = check_settings(replace(self._settings, **changes))
            except (TypeError, ValueError) as exc:
                raise SimError(400, str(exc)) from None
            return replace(self._settings)

    def reset(self) -> None:
        with self._lock:
            self._operations: dict[str, _SimOperation] = {}
            self._by_key: dict[str, _SimOperation] = {}
            self._created_per_key: Counter[str] = Counter()
            self._posts = 0
            self._injected = 0

    def inject_failure(self) -> None:
        with self._lock:
            if self._rng.random() >= self._settings.failure_rate:
                return
            self._injected += 1
            status = 503 if self._injected % 2 else 429
        raise SimError(status, "simulated transient failure", {"Retry-After": "1"})

    def submit(self, key: str, body: dict) -> Reply:
        with self._lock:
            now = self._clock()
            existing = self._by_key.get(key)
            if existing is not None and existing.body != body:
                raise SimError(422, "Idempotency-Key was already used with a different request")
            self._posts += 1
            if existing is not None:
                return 200, existing.view(now), {}
            operation = self._create(key, body, now)
            return 202, {"id": operation.id, "status": "pending"}, {}

    def _create(self, key: str, body: dict, now: float) -> _SimOperation:
        fails = self._rng.random() < self._settings.terminal_failure_rate
        account = body["environment"].get("account_id")
        operation = _SimOperation(
            id=f"op_{uuid.uuid4().hex}", key=key, body=body, created=now,
            latency=self._settings.latency,
            error=f"simulated failure: quota exceeded for account {account}" if fails else None,
        )
        self._operations[operation.id] = operation
        self._by_key[key] = operation
        self._created_per_key[key] += 1
        return operation

    def lookup(self, operation_id: str) -> Reply:
        with self._lock:
            operation = self._operations.get(operation_id)
            if operation is None:
                raise SimError(404, f"no operation {operation_id}")
            return 200, operation.view(self._clock()), {}

    def stats(self) -> dict:
        with self._lock:
            now = self._clock()
            applied: Counter[str] = Counter()
            for operation in self._operations.values():
                operation.view(now)
                if operation.reached_success:
                    applied[operation.key] += 1
            return {
                "posts": self._posts,
                "operations": len(self._operations),
                "by_key": dict(self._created_per_key),
                "applied": dict(applied),
                "injected_failures": self._injected,
            }


def validate_operation_body(body: dict) -> dict:
    if not isinstance(body.get("ticket_id"), str) or not body["ticket_id"]:
        raise SimError(400, "ticket_id is required")
    if body.get("action") not in ACTIONS:
        raise SimError(400, "action must be apply or revert")
    environment = body.get("environment")
    if not isinstance(environment, dict) or any(f not in environment for f in ENVIRONMENT_FIELDS):
        raise SimError(400, "environment needs id, name, stage and account_id")
    request = body.get("request")
    if not isinstance(request, dict) or not request.get("type"):
        raise SimError(400, "request needs a type")
    if ("resources" in request) == ("change" in request):
        raise SimError(400, "request needs exactly one of resources or change")
    return body


class SimServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], state: SimState) -> None:
        self.state = state
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def server_close(self) -> None:
        self.stopping.set()
        super().server_close()


class _Handler(BaseHTTPRequestHandler):
    server: SimServer
    server_version = "envdesk-provisioning-sim"

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            body = self._read_body() if self.command == "POST" else b""
            reply = self._route(urlsplit(self.path).path, body)
        except SimError as exc:
            reply = (exc.status, {"error": exc.message}, exc.headers)
        self._reply(reply)

    def _route(self, path: str, body: bytes) -> Reply:
        state = self.server.state
        if path == "/_sim/stats" and self.command == "GET":
            return 200, state.stats(), {}
        if path in ("/_sim/config", "/_sim/reset") and self.command == "POST":
            self._authorize()
            if path == "/_sim/reset":
                state.reset()
                return 200, {"reset": True}, {}
            return 200, _public(state.configure(_json(body))), {}
        if path == "/v1/operations" and self.command == "POST":
            self._enter_operations_api()
            key = self._idempotency_key()
            return state.submit(key, validate_operation_body(_json(body)))
        if path.startswith("/v1/operations/") and self.command == "GET":
            self._enter_operations_api()
            return state.lookup(unquote(path.removeprefix("/v1/operations/")))
        raise SimError(404, f"no route for {self.command} {path}")

    def _enter_operations_api(self) -> None:
        delay = self.server.state.settings.response_delay
        if delay > 0:
            self.server.stopping.wait(delay)
        self.server.state.inject_failure()
        self._authorize()

    def _authorize(self) -> None:
        token = self.server.state.settings.token
        if token is None:
            return
        sent = self.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise SimError(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})

    def _idempotency_key(self) -> str:
        key = self.headers.get("Idempotency-Key", "").strip()
        if not key:
            raise SimError(400, "Idempotency-Key header is required")
        return key

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise SimError(400, "invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise SimError(413, "body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _reply(self, reply: Reply) -> None:
        status, payload, headers = reply
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client went away before %s %s was answered", self.command, self.path)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.info("%s %s -> %s", self.command, self.path, code)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug(format, *args)


def _json(body: bytes) -> dict:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise SimError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise SimError(400, "body must be a JSON object")
    return data


def _public(settings: SimSettings) -> dict:
    view = {field.name: getattr(settings, field.name) for field in fields(SimSettings)}
    view["token"] = "[set]" if settings.token else None
    return view


def make_server(host: str, port: int, settings: SimSettings) -> SimServer:
    """A bound, not yet serving simulator; port 0 picks a free port (see ``server_address``)."""
    return SimServer((host, port), SimState(settings))


def serve(host: str, port: int, settings: SimSettings) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket."""
    server = make_server(host, port, settings)
    bound_host, bound_port = server.server_address[:2]
    print(f"provisioning simulator on http://{bound_host}:{bound_port}", file=sys.stderr)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
