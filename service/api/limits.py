"""Per-token rate limit on writes (flask-limiter): Redis storage when the broker is Redis,
process memory otherwise and whenever Redis does not answer."""
from __future__ import annotations

import hashlib

from flask import Flask, request
from flask_limiter import Limiter

from service.config import Settings

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def caller_key() -> str:
    """The token's hash (never the token itself) or, without one, the client address."""
    _, _, token = request.headers.get("Authorization", "").partition(" ")
    if token.strip():
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return "addr:" + (request.remote_addr or "unknown")


def register(app: Flask, settings: Settings) -> Limiter | None:
    if not settings.write_rate_limit:
        return None
    redis = settings.broker_url.startswith(("redis://", "rediss://"))
    return Limiter(
        caller_key,
        app=app,
        storage_uri=settings.broker_url if redis else "memory://",
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1} if redis else {},
        strategy="fixed-window",
        default_limits=[settings.write_rate_limit],
        default_limits_exempt_when=lambda: request.method not in WRITE_METHODS,
        headers_enabled=True,
        in_memory_fallback_enabled=True,
        swallow_errors=True,
        key_prefix="envdesk-limit",
    )
