"""Per-request observability: request ids, access logs, Prometheus metrics, /metrics."""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Flask, Response, g, request

from service.adapters import metrics
from service.api.errors import problem
from service.api.runtime import runtime
from service.adapters.logs import accept_request_id, request_id

log = logging.getLogger("envdesk.access")
blp = Blueprint("observe", __name__)


@blp.get("/metrics")
def metrics_endpoint() -> Any:
    token = runtime().settings.metrics_token
    if token and request.headers.get("Authorization", "") != f"Bearer {token}":
        return problem(401, "Unauthorized", "a valid metrics token is required", rule="unauthenticated")
    body = metrics.render(runtime().read_sessions, runtime().queue_depths)
    return Response(body, mimetype="text/plain; version=0.0.4")


def _start() -> None:
    g.started = time.perf_counter()
    g.request_id = accept_request_id(request.headers.get("X-Request-ID"))
    g.request_id_token = request_id.set(g.request_id)


def _finish(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    route = request.url_rule.rule if request.url_rule else "unmatched"
    metrics.observe_request(request.method, route, response.status_code, elapsed)
    response.headers["X-Request-ID"] = g.get("request_id", "")
    principal = g.get("principal")
    log.info("request", extra={
        "method": request.method, "path": request.path, "route": route,
        "status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
        "user_id": principal.user_id if principal else None,
    })
    return response


def _reset(_exc: BaseException | None = None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id.reset(token)


def register(app: Flask) -> None:
    app.register_blueprint(blp)
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_reset)
