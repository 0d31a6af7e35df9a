"""The console's session and page security.

The session is Flask's signed cookie, scoped to /console, HttpOnly, SameSite=Lax (the OIDC
provider's redirect back is a top-level GET, which Lax lets through), Secure whenever the request
came over HTTPS, and it expires after SESSION_HOURS. Every POST must carry the session's CSRF
token; every page forbids inline script and style and any origin but its own."""
from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import wraps
from typing import Any, Callable

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import Forbidden

from service.api.runtime import runtime, session as db_session
from service.config import Settings
from service.console import blp
from service.identity import Principal
from service.staff_signin import staff_by_id

SESSION_HOURS = 8
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

csrf = CSRFProtect()


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Secure cookies whenever the browser talks HTTPS, also through a TLS-terminating proxy."""

    def get_cookie_secure(self, app: Flask) -> bool:
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return request.is_secure or forwarded == "https" or super().get_cookie_secure(app)


def configure(app: Flask, settings: Settings) -> None:
    if settings.secret_key:
        app.secret_key = hashlib.sha256(b"envdesk-console:" + settings.secret_key.encode()).hexdigest()
    app.session_interface = ConsoleSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="envdesk_console", SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        # Only the console's POSTs are checked (never the JSON API); the token lives as long as the
        # session. The token and the SameSite cookie guard the forms; the extra Referer check on
        # HTTPS is off because the service's Referrer-Policy may withhold referrers.
        WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=None, WTF_CSRF_SSL_STRICT=False,
    )
    csrf.init_app(app)


@blp.before_request
def protect() -> None:
    """Before every console request: POSTs need a valid CSRF token (and so a SECRET_KEY)."""
    if request.method == "POST":
        if not current_app.secret_key:
            raise Forbidden("The console needs SECRET_KEY to be set before anyone can sign in.")
        csrf.protect()


@blp.after_request
def secure_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def sign_in(principal: Principal) -> None:
    session.clear()  # a fresh session (and CSRF token) for the person signing in
    session.permanent = True
    session["user_id"] = principal.user_id


def staff() -> Principal:
    return g.principal


def _signed_in_staff(user_id: Any) -> Principal | None:
    """The session's staff member, remembered for AUTH_CACHE_SECONDS like an API token's owner:
    a revoked role ends the session within that time."""
    if not isinstance(user_id, str):
        return None
    cache, key = runtime().principals, f"console-user:{user_id}"
    principal = cache.get(key) if cache is not None else None
    if principal is None:
        principal = staff_by_id(db_session(), user_id)
        if principal is not None and cache is not None:
            cache.put(key, principal)
    return principal


def staff_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """The signed-in staff member; anyone else goes to the sign-in page."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        principal = _signed_in_staff(session.get("user_id"))
        if principal is None:
            if "user_id" in session:
                session.pop("user_id")
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")
                                    if request.method == "GET" else None), 303)
        g.principal = principal
        return view(*args, **kwargs)

    return wrapper
