"""/v1/windows: maintenance and freeze windows (support and admins)."""
from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from schemas.common import PageQuerySchema
from schemas.windows import WindowCreateSchema, WindowPageSchema, WindowSchema
from service.app.calendar import windows
from service.api.docs import document
from service.api.runtime import now, principal, runtime, session, uow

blp = Blueprint("windows", __name__, url_prefix="/v1/windows",
                description="Maintenance and freeze windows of the change calendar")


@blp.route("")
class WindowCollection(MethodView):
    @blp.arguments(PageQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, WindowPageSchema)
    @document(400, 401, 403, 422)
    @blp.doc(operationId="listWindows")
    def get(self, **args: Any) -> Any:
        """The windows in force, newest first (support)."""
        return windows.list_windows(session(), principal(), key=runtime().settings.cursor_key, **args)

    @blp.arguments(WindowCreateSchema)
    @blp.response(201, WindowSchema, headers={"Location": {"schema": {"type": "string"}}})
    @document(400, 401, 403, 413, 415, 422, 429)
    @blp.doc(operationId="createWindow")
    def post(self, data: dict[str, Any]) -> Any:
        """Declare a maintenance or freeze window, optionally repeating (support)."""
        window = windows.create_window(principal(), data, uow=uow(), now=now())
        return window, 201, {"Location": url_for("windows.WindowItem", window_id=window.id)}


@blp.route("/<window_id>")
class WindowItem(MethodView):
    @blp.response(204)
    @document(401, 403, 404, 429)
    @blp.doc(operationId="deleteWindow")
    def delete(self, window_id: str) -> Any:
        """Withdraw a window; calendar feeds show it cancelled (support)."""
        windows.delete_window(principal(), window_id, uow=uow(), now=now())
        return "", 204
