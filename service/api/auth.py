"""Bearer-token authentication for every endpoint but health: envdesk's own opaque tokens, and
access tokens of the configured OIDC issuer. Both resolve to the one ``Principal``."""
from __future__ import annotations

import time

from flask import Response, g, request

from service.api.errors import problem
from service.api.runtime import runtime, session, uow
from service.domain.errors import UnknownAccount
from service.adapters.identity import Principal, token_owner
from service.adapters.oidc import InvalidToken, KeysUnavailable, looks_like_jwt
from service.app.identity.oidc_users import principal_for_claims

PUBLIC_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "observe.metrics_endpoint",
                              "api-docs.openapi_json", "static", "docs.page", "docs.init",
                              "docs.asset",
                              # the signed token in its link is the credential (RFC 8058 one-click)
                              "unsubscribe.Unsubscribe",

                              # The feed key in its query string authenticates it (calendar
                              # programs send no bearer token): service.api.calendar.
                              "calendar.CalendarFeed"})
KEYS_RETRY_SECONDS = 30


def _resolve(token: str) -> tuple[Principal | None, float | None]:
    """The token's principal, and for how many more seconds the token is valid (if it says)."""
    verifier = runtime().access_tokens
    if verifier is None or not looks_like_jwt(token):
        return _lookup(token), None
    claims = verifier.verify(token)
    principal = principal_for_claims(claims, account_claim=verifier.account_claim, session=session(),
                                     uow=uow())
    return principal, claims["exp"] + verifier.leeway - time.time()


def _lookup(token: str) -> Principal | None:
    """An opaque token's owner, read on a read-only connection of its own (no session: one
    statement) that goes back to the pool at once (autocommit on PostgreSQL: no transaction
    round trips), so a write that follows holds one connection, not two."""
    with runtime().read_connection() as connection:
        return token_owner(connection, token)


def _principal(token: str) -> Principal | None:
    cache = runtime().principals
    principal = cache.get(token) if cache is not None and token else None
    if principal is None:
        principal, valid_for = _resolve(token)
        if principal is not None and cache is not None:
            cache.put(token, principal, valid_for=valid_for)
    return principal


def _refused(detail: str, *, invalid: bool) -> Response:
    response = problem(401, "Unauthorized", detail, rule="unauthenticated")
    if invalid:  # RFC 6750: a token was sent and is not valid
        response.headers["WWW-Authenticate"] = 'Bearer realm="envdesk", error="invalid_token"'
    return response


def require_token() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None or request.method == "OPTIONS":
        return None
    if request.blueprint == "console":
        return None  # the console signs staff in with a session of its own
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _refused("a valid bearer token is required", invalid=False)
    try:
        principal = _principal(token.strip())
    except InvalidToken as exc:
        return _refused(str(exc), invalid=True)
    except UnknownAccount as exc:
        return problem(403, exc.title, exc.detail, rule=exc.rule)
    except KeysUnavailable as exc:
        response = problem(503, "Service Unavailable", str(exc), rule="identity_provider_unavailable")
        response.headers["Retry-After"] = str(KEYS_RETRY_SECONDS)
        return response
    if principal is None:
        return _refused("the bearer token is not valid", invalid=True)
    g.principal = principal
    return None
