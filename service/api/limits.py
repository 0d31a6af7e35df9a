"""Per-token rate limit on writes: a fixed window per caller and endpoint, counted in Redis when
the broker is Redis — one round trip a write (a script: INCR, EXPIRE when new, TTL), so every
gunicorn worker counts against the same window — and in process memory otherwise and whenever
Redis does not answer. Every write answer says where its caller stands (X-RateLimit-Limit, -Remaining,
-Reset, Retry-After); the write past the limit is 429 with Retry-After."""
from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import redis
from flask import Flask, Response, g, request
from limits import RateLimitItem, parse
from werkzeug.exceptions import TooManyRequests

from service.adapters.config import Settings

log = logging.getLogger(__name__)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY_PREFIX = "LIMITS:LIMITER/envdesk-limit"
"""The keys flask-limiter used, so a rolling deploy keeps counting in the same windows."""
REDIS_RETRY_SECONDS = 5.0


def caller_key() -> str:
    """The token's hash (never the token itself) or, without one, the client address."""
    _, _, token = request.headers.get("Authorization", "").partition(" ")
    if token.strip():
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "unknown")


class Windows(Protocol):
    def hit(self, key: str, seconds: int) -> tuple[int, float]:
        """Count one hit in ``key``'s window; the hits so far and the seconds the window has left."""


class MemoryWindows:
    """Fixed windows in this process (tests, a broker that is not Redis, Redis down)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, seconds: int) -> tuple[int, float]:
        now = self.clock()
        with self._lock:
            count, ends = self._windows.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + seconds
                if len(self._windows) > 100_000:
                    self._windows = {k: w for k, w in self._windows.items() if w[1] > now}
            self._windows[key] = (count + 1, ends)
        return count + 1, ends - now


# One command, one round trip: the count and what is left of the window (EVALSHA; redis-py
# loads the script when the server does not know it yet).
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('TTL', KEYS[1])}
"""


class RedisWindows:
    """Fixed windows in Redis, one round trip a hit; process memory for a while when Redis fails."""

    def __init__(self, client: redis.Redis, fallback: Windows,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.fallback, self.clock = client, fallback, clock
        self._hit = client.register_script(_HIT)
        self._down_until = 0.0

    def hit(self, key: str, seconds: int) -> tuple[int, float]:
        if self._down_until > self.clock():
            return self.fallback.hit(key, seconds)
        try:
            count, ttl = self._hit(keys=[key], args=[seconds])
        except (redis.RedisError, OSError) as exc:
            log.warning("rate limit storage unreachable, counting in memory for %.0f s: %s",
                        REDIS_RETRY_SECONDS, exc)
            self._down_until = self.clock() + REDIS_RETRY_SECONDS
            return self.fallback.hit(key, seconds)
        return int(count), float(ttl if ttl >= 0 else seconds)


@dataclass(frozen=True)
class Standing:
    limit: int
    remaining: int
    reset_at: float


@dataclass
class WriteLimit:
    item: RateLimitItem
    windows: Windows

    def check(self) -> None:
        if request.method not in WRITE_METHODS or request.endpoint in (None, "static"):
            return
        key = "/".join((KEY_PREFIX, caller_key(), request.endpoint, str(self.item.amount),
                        str(self.item.multiples), self.item.GRANULARITY.name))
        count, left = self.windows.hit(key, self.item.get_expiry())
        g.rate_limit = Standing(self.item.amount, max(0, self.item.amount - count), time.time() + left)
        if count > self.item.amount:
            raise TooManyRequests(str(self.item))

    @staticmethod
    def tell(response: Response) -> Response:
        standing: Standing | None = g.get("rate_limit")
        if standing is not None:
            response.headers.add("X-RateLimit-Limit", str(standing.limit))
            response.headers.add("X-RateLimit-Remaining", str(standing.remaining))
            response.headers.add("X-RateLimit-Reset", str(math.ceil(standing.reset_at)))
            if "Retry-After" not in response.headers:  # a 503's own seconds stand
                response.headers.set("Retry-After", str(max(1, math.ceil(standing.reset_at - time.time()))))
        return response


def register(app: Flask, settings: Settings) -> WriteLimit | None:
    if not settings.write_rate_limit:
        return None
    memory = MemoryWindows()
    windows: Windows = memory
    if settings.broker_url.startswith(("redis://", "rediss://")):
        windows = RedisWindows(redis.Redis.from_url(
            settings.broker_url, socket_connect_timeout=1, socket_timeout=1), memory)
    limit = WriteLimit(parse(settings.write_rate_limit), windows)
    app.before_request(limit.check)
    app.after_request(limit.tell)
    return limit
