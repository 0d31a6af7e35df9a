"""The Flask application: blueprints, authentication, problem+json errors, the OpenAPI spec."""
from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.exceptions import NotFound, UnsupportedMediaType

from schemas.common import ProblemSchema
from service.api import (
    auth, drafts, environments, errors, health, limits, observe, promotions, tickets,
)
from service.api.docs import ProblemApi
from service.api.runtime import Runtime, build_runtime, close_session
from service.config import Settings

API_TITLE = "envdesk"
API_VERSION = "1.0.0"
JSON_TYPES = ("application/json",)


def openapi_config() -> dict[str, Any]:
    return {
        "API_TITLE": API_TITLE,
        "API_VERSION": API_VERSION,
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "info": {"description": "Environment upscale and change requests for hosted shops."},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}],
        },
    }


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    settings = settings or Settings.from_env()
    runtime = runtime or build_runtime(settings)
    app = Flask("envdesk")
    app.config.update(openapi_config(), MAX_CONTENT_LENGTH=settings.max_body_bytes)
    app.extensions["envdesk"] = runtime
    api = ProblemApi(app)
    api.spec.components.schema("Problem", schema=ProblemSchema)
    api.register_blueprint(tickets.blp)
    api.register_blueprint(environments.blp)
    api.register_blueprint(drafts.blp)
    api.register_blueprint(promotions.blp)
    app.register_blueprint(health.blp)
    errors.register(app)
    observe.register(app)
    limits.register(app, settings)
    app.before_request(_refuse_odd_requests)
    app.before_request(auth.require_token)
    app.teardown_appcontext(close_session)
    return app


def _refuse_odd_requests() -> None:
    """Path ids with NUL or absurd length match nothing; bodies must be JSON."""
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and ("\x00" in value or len(value) > 64):
            raise NotFound("no such object")
    has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get(
        "Transfer-Encoding", "")
    if request.method in ("POST", "PUT", "PATCH") and has_body:
        mimetype = request.mimetype or ""
        if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
            raise UnsupportedMediaType("send the body as application/json")
