"""The Flask application: blueprints, authentication, problem+json errors, the OpenAPI spec."""
from __future__ import annotations

from typing import Any

import json

from flask import Flask, request
from werkzeug.exceptions import BadRequest, NotFound, RequestEntityTooLarge, UnsupportedMediaType

from schemas.common import ProblemSchema
from service.api import (
    auth, billing, calendar, cors, drafts, environments, errors, headers, health, limits, notifications, observe, promotions, query, reference,
    tickets, windows,
)
from service.api.docs import ProblemApi
from service.api.encoding import OrjsonProvider
from service.api.runtime import Runtime, build_runtime, close_session
from service.adapters import tracing
from service.adapters.config import Settings

API_TITLE = "envdesk"
API_VERSION = "1.0.0"
JSON_TYPES = ("application/json",)


def openapi_config() -> dict[str, Any]:
    return {
        "API_TITLE": API_TITLE,
        "API_VERSION": API_VERSION,
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "info": {"description": "Environment upscale and change requests for hosted shops.",
                     "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}},
            "servers": [{"url": "http://127.0.0.1:8080",
                         "description": "`envdesk serve` on its default address"}],
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    }


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    settings = settings or Settings.from_env()
    runtime = runtime or build_runtime(settings)
    app = Flask("envdesk")
    app.json = OrjsonProvider(app)
    tracing.instrument_app(app)  # first: every other hook then runs inside the request's span
    app.config.update(openapi_config(), MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.extensions["envdesk"] = runtime
    api = ProblemApi(app)
    api.spec.components.schema("Problem", schema=ProblemSchema)
    api.register_blueprint(tickets.blp)
    api.register_blueprint(environments.blp)
    api.register_blueprint(drafts.blp)
    api.register_blueprint(promotions.blp)
    api.register_blueprint(notifications.blp)
    api.register_blueprint(notifications.links)
    api.register_blueprint(billing.blp)
    api.register_blueprint(windows.blp)
    api.register_blueprint(calendar.blp)
    app.register_blueprint(health.blp)
    app.register_blueprint(reference.blp)
    errors.register(app)
    observe.register(app)
    headers.register(app)
    limits.register(app, settings)
    cors.register(app, settings)
    app.before_request(_refuse_odd_requests)
    app.before_request(auth.require_token)
    query.register(app, api)
    app.teardown_appcontext(close_session)
    return app


def _refuse_odd_requests() -> None:
    """Path ids with NUL or absurd length match nothing; bodies must be JSON (but the console's forms)."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and ("\x00" in value or len(value) > 64):
            raise NotFound("no such object")
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get(
        "Transfer-Encoding", "")
    if has_body and request.blueprint not in ("console", "unsubscribe"):  # forms, not JSON
        mimetype = request.mimetype or ""
        if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
            raise UnsupportedMediaType("send the body as application/json")
        _refuse_unreadable_json()


def _refuse_unreadable_json() -> None:
    """Bodies the JSON parser cannot take are 400 (too deep a nesting, integers past Python's
    4300 digits) and bodies past the limit 413 — also when sent chunked, without a length."""
    body = request.get_data(cache=True)  # raises 413 when Content-Length is beyond the limit
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(body) >= limit:
        # A chunked body is cut at the limit without an error: there may be more of it.
        raise RequestEntityTooLarge(f"the body may be at most {limit} bytes")
    try:
        json.loads(body)
    except RecursionError:
        raise BadRequest("the JSON body is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    except ValueError:  # integers past 4300 digits, or bytes that are not UTF-8
        raise BadRequest("the body is not valid JSON: it must be UTF-8, with integers of at "
                         "most 4300 digits") from None
