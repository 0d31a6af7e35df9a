"""/v1/me/notifications (a person's mail settings) and /v1/unsubscribe (the signed one-click link
every message carries, RFC 8058: the token is the credential, so no bearer token is asked)."""
from __future__ import annotations

from typing import Any

from flask import Response, render_template_string, request
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.notifications import (
    NotificationsPatchSchema, NotificationsSchema, UnsubscribedSchema, UnsubscribeQuerySchema,
)
from schemas.tickets import EmptyQuerySchema
from service.api.docs import document
from service.api.runtime import now, principal, runtime, session, uow
from service.app.notify import preferences

blp = Blueprint("notifications", __name__, url_prefix="/v1/me", description="Mail to people")
links = Blueprint("unsubscribe", __name__, url_prefix="/v1", description="Mail to people")


@blp.route("/notifications")
class Notifications(MethodView):
    @blp.arguments(EmptyQuerySchema, location="query")
    @blp.response(200, NotificationsSchema)
    @document(400, 401)
    @blp.doc(operationId="getNotifications")
    def get(self, _args: dict[str, Any]) -> Any:
        """My mail settings (`staff` for support staff only)."""
        return preferences.get_preferences(session(), principal())

    @blp.arguments(NotificationsPatchSchema, required=True)
    @blp.response(200, NotificationsSchema)
    @document(400, 401, 403, 413, 415, 422, 429)
    @blp.doc(operationId="updateNotifications")
    def patch(self, data: dict[str, Any]) -> Any:
        """Change my mail settings; what the body leaves out stays as it was."""
        return preferences.update_preferences(principal(), data, uow=uow(), now=now())


_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>envdesk mail</title></head>
<body>{% if done %}<p>You will get no more mail from envdesk at {{ email }}.
You can turn it on again in your notification settings.</p>{% else %}
<form method="post"><p>Stop all mail from envdesk?</p><button type="submit">Unsubscribe</button></form>
{% endif %}</body></html>"""


def _wants_page() -> bool:
    return request.accept_mimetypes.accept_html and not request.accept_mimetypes.accept_json


@links.route("/unsubscribe")
class Unsubscribe(MethodView):
    @links.arguments(UnsubscribeQuerySchema, location="query", as_kwargs=True)
    @links.response(200, UnsubscribedSchema)
    @document(400, 404)
    @links.doc(operationId="unsubscribe", security=[])  # the signed token is the credential
    def post(self, token: str) -> Any:
        """One-click unsubscribe (RFC 8058; the body, `List-Unsubscribe=One-Click`, is not read):
        the person the signed link names gets no more mail."""
        email = preferences.unsubscribe(token, keys=_keys(), uow=uow(), now=now())
        if _wants_page():
            return _page(done=True, email=email)
        return {"email": False}

    @links.arguments(UnsubscribeQuerySchema, location="query", as_kwargs=True)
    @document(400)
    @links.doc(operationId="unsubscribePage", security=[], responses={200: {
        "description": "a page with the button", "content": {"text/html": {"schema": {"type": "string"}}}}})
    def get(self, token: str) -> Any:
        """A page with a button that unsubscribes (opening the link changes nothing)."""
        return _page(done=False)


def _page(**context: Any) -> Response:
    return Response(render_template_string(_PAGE, **context), mimetype="text/html")


def _keys() -> tuple[str, ...]:
    settings = runtime().settings
    return (settings.secret_key, *settings.secret_key_fallbacks)
