"""Bearer-token authentication for every endpoint but health."""
from __future__ import annotations

from flask import g, request

from service.api.errors import problem
from service.api.runtime import runtime, session
from service.identity import Principal, authenticate

PUBLIC_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "observe.metrics_endpoint",
                              "api-docs.openapi_json", "static"})


def _principal(token: str) -> Principal | None:
    cache = runtime().principals
    principal = cache.get(token) if cache is not None and token else None
    if principal is None:
        principal = authenticate(session(), token)
        if principal is not None and cache is not None:
            cache.put(token, principal)
    return principal


def require_token():  # type: ignore[no-untyped-def]
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    if request.blueprint == "console":
        return None  # the console signs staff in with a session of its own
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    principal = _principal(token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        return problem(401, "Unauthorized", "a valid bearer token is required",
                       rule="unauthenticated")
    g.principal = principal
    return None
