"""One error shape for every error: RFC 9457 problem+json, built here from one table."""
from __future__ import annotations

import traceback
from typing import Any, Callable

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from service.adapters.db import DatabaseUnavailable
from service.domain import errors as domain

PROBLEM_TYPE = "https://envdesk.dev/problems/"

STATUS_BY_ERROR: tuple[tuple[type[domain.DomainError], int], ...] = (
    (domain.NotFound, 404),
    (domain.Forbidden, 403),
    (domain.Conflict, 409),
    (domain.PreconditionFailed, 412),
    (domain.RuleViolation, 422),
    (domain.DomainError, 422),
)

# A dependency that is away for a moment, not a fault of the request: 503, a rule of its own,
# and Retry-After (seconds).
UNAVAILABLE: tuple[tuple[type[Exception], str, str, int], ...] = (
    (DatabaseUnavailable, "database_unavailable", "the database is unavailable; try again shortly",
     DatabaseUnavailable.retry_after),
)

RULE_BY_STATUS = {
    400: "bad_request", 401: "unauthenticated", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "validation_failed", 428: "precondition_required", 429: "rate_limited",
}


def problem(status: int, title: str, detail: str | None = None, **extra: Any) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + str(extra.get("rule") or RULE_BY_STATUS.get(status, "error")),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="envdesk"'
    return response


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"resources.0.size": ["..."]}."""
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            name = "body" if key == "_schema" and not prefix else (
                prefix.rstrip(".") if key == "_schema" else f"{prefix}{key}")
            out.update(flatten(value, f"{name}." if not isinstance(value, list) else name))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix.rstrip(".") or "body": list(messages)}
    return {prefix.rstrip(".") or "body": [str(messages)]}


def _validation_errors(exc: HTTPException) -> dict[str, list[str]] | None:
    messages = (getattr(exc, "data", None) or {}).get("messages")
    if not messages:
        return None
    out: dict[str, list[str]] = {}
    for location, fields in messages.items():
        out.update(flatten(fields, "" if location in ("json", "query", "headers") else f"{location}."))
    return out


def register(app: Flask) -> None:
    @app.errorhandler(domain.DomainError)
    def _domain(exc: domain.DomainError) -> Response:
        status = next(code for cls, code in STATUS_BY_ERROR if isinstance(exc, cls))
        return problem(status, exc.title, exc.detail, rule=exc.rule, params=exc.params or None,
                       **exc.extra)

    for error, rule, detail, seconds in UNAVAILABLE:
        app.register_error_handler(error, _unavailable(app, rule, detail, seconds))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        errors = _validation_errors(exc) if status in (400, 422) else None
        detail = exc.description
        if errors:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        rule = (getattr(exc, "data", None) or {}).get("rule") or RULE_BY_STATUS.get(status)
        response = problem(status, exc.name, detail, rule=rule, errors=errors)
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(RecursionError)
    def _too_deep(exc: RecursionError) -> Response:
        # json.loads raises RecursionError (not a decode error) on absurdly nested bodies.
        if not request.content_length and not request.headers.get("Transfer-Encoding"):
            return _unexpected(exc)
        return problem(400, "Bad Request", "the JSON body is nested too deeply", rule="bad_request")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        app.logger.error("unhandled error: %s", " <- ".join(_types(exc)),
                         extra={"traceback": without_data(exc)})
        return problem(500, "Internal Server Error", "an unexpected error occurred")


def _unavailable(app: Flask, rule: str, detail: str, seconds: int) -> Callable[[Exception], Response]:
    def answer(exc: Exception) -> Response:
        app.logger.warning("%s: %s", rule, " <- ".join(_types(exc)))
        response = problem(503, "Service Unavailable", detail, rule=rule)
        response.headers["Retry-After"] = str(seconds)
        return response
    return answer


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 5:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    return chain


def _types(exc: BaseException) -> list[str]:
    return [f"{type(e).__module__}.{type(e).__qualname__}" for e in _chain(exc)]


def without_data(exc: BaseException) -> str:
    """Where an error happened, without what it was about: the frames and the exception types,
    never a message (a database error's message may quote the customer's values)."""
    lines = ["".join(traceback.format_tb(e.__traceback__)) + name
             for e, name in zip(_chain(exc), _types(exc))]
    return "\n-- caused by --\n".join(lines)
