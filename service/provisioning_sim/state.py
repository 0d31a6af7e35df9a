"""State of the provisioning simulator: settings, operations by idempotency key, statistics."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

MAX_BODY_BYTES = 1 << 20
ACTIONS = ("apply", "revert", "announce", "withdraw")
"""apply and revert an upscale or change; announce and withdraw a load test (its sources are let
in and on-call is warned at its window's start, and no more at its end)."""
PAYLOADS = ("resources", "change", "load_test")
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
                 rng: random.Random | None = None, wall: Callable[[], float] = time.time) -> None:
        self._settings = check_settings(replace(settings))
        self._clock, self._wall = clock, wall
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
            self._first_submitted: dict[str, float] = {}
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
            # What provisioning knows at this instant: with no latency, the operation is done.
            return 202, operation.view(now), {}

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
        self._first_submitted.setdefault(key, self._wall())
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
                "first_submitted_at": dict(self._first_submitted),
            }


def validate_operation_body(body: dict) -> dict:
    if not isinstance(body.get("ticket_id"), str) or not body["ticket_id"]:
        raise SimError(400, "ticket_id is required")
    if body.get("action") not in ACTIONS:
        raise SimError(400, "action must be apply, revert, announce or withdraw")
    environment = body.get("environment")
    if not isinstance(environment, dict) or any(f not in environment for f in ENVIRONMENT_FIELDS):
        raise SimError(400, "environment needs id, name, stage and account_id")
    request = body.get("request")
    if not isinstance(request, dict) or not request.get("type"):
        raise SimError(400, "request needs a type")
    if sum(name in request for name in PAYLOADS) != 1:
        raise SimError(400, "request needs exactly one of resources, change or load_test")
    if (body["action"] in ("announce", "withdraw")) != ("load_test" in request):
        raise SimError(400, "announce and withdraw are for load tests, and load tests take only those")
    return body
