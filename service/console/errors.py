"""Errors on console pages are pages: a clear sentence and a way on, never problem+json."""
from __future__ import annotations

from typing import Any

from flask import current_app, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from service.console import blp
from service.adapters.db import DatabaseUnavailable
from service.domain.errors import DomainError, Forbidden, NotFound


def _page(status: int, title: str, detail: str) -> Any:
    return render_template("console/error.html", title=title, detail=detail), status


@blp.errorhandler(CSRFError)
def csrf_failed(_exc: CSRFError) -> Any:
    return _page(400, "The form was refused",
                 "The form's security token was missing or no longer valid (a page left open "
                 "across a sign-out, or a form sent from elsewhere). Reload the page and try again.")


@blp.errorhandler(NotFound)
def not_found(exc: NotFound) -> Any:
    return _page(404, "Not found", exc.detail[:1].upper() + exc.detail[1:] + ".")


@blp.errorhandler(Forbidden)
def forbidden(exc: Forbidden) -> Any:
    return _page(403, "Not allowed", exc.detail)


@blp.errorhandler(DomainError)
def refused(exc: DomainError) -> Any:
    return _page(422, exc.title, exc.detail)


@blp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Any:
    return _page(exc.code or 500, exc.name, exc.description or "")


@blp.errorhandler(DatabaseUnavailable)
def database_unavailable(exc: DatabaseUnavailable) -> Any:
    current_app.logger.warning("database_unavailable in the console: %s", type(exc.orig).__name__)
    body, status = _page(503, "The database is unavailable",
                         "The console cannot reach its database just now. Reload the page in a few "
                         "seconds to see whether what you sent was saved.")
    return body, status, {"Retry-After": str(exc.retry_after)}


@blp.errorhandler(Exception)
def unexpected(_exc: Exception) -> Any:
    current_app.logger.exception("unhandled error in the console")
    return _page(500, "Something went wrong", "The console could not show this page; try again.")


@blp.get("/<path:_rest>")
def unknown_page(_rest: str) -> Any:
    """Any other address under /console/ is a console page that does not exist."""
    return _page(404, "Not found", "There is no such page in the console.")
