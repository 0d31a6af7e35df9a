"""Bearer-token authentication for every endpoint but health."""
from __future__ import annotations

from flask import g, request

from service.api.errors import problem
from service.api.runtime import session
from service.identity import authenticate

PUBLIC_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "observe.metrics_endpoint",
                              "api-docs.openapi_json", "static"})


def require_token():  # type: ignore[no-untyped-def]
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
        return None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    principal = authenticate(session(), token.strip()) if scheme.lower() == "bearer" else None
    if principal is None:
        return problem(401, "Unauthorized", "a valid bearer token is required",
                       rule="unauthenticated")
    g.principal = principal
    return None
