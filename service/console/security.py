"""The console's session and page security.

Who is signed in lives on the server (``console_sessions``, service.app.identity.staff_signin): the cookie
holds a random session id, never a user, so a cookie signed with the right key names nobody the
server has not let in. Every console request looks the session up with its user's current role
in one statement; sign-out, an operator's revocation or a revoked staff role end it at once, in
every process. The cookie is Flask's signed one (it also keeps the CSRF token and, during an OIDC
sign-in, its state), scoped to /console, HttpOnly, SameSite=Lax (the OIDC provider's redirect
back is a top-level GET, which Lax lets through), Secure whenever the request came over HTTPS.
Every POST must carry the session's CSRF token; every page forbids inline script and style and
any origin but its own. SECRET_KEY_FALLBACKS keep cookies and CSRF tokens signed with an
earlier key valid while a new one rolls out."""
from __future__ import annotations

import hashlib
from functools import wraps
from typing import Any, Callable

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import Forbidden

from service.api.runtime import now, session as db_session, uow
from service.adapters.config import Settings
from service.console import blp
from service.adapters.identity import Principal
from service.app.identity.staff_signin import SessionTimes, end_session, open_session, session_staff, touch_session

TIMES = SessionTimes()
SESSION_ID = "sid"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

csrf = CSRFProtect()


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Secure cookies whenever the browser talks HTTPS, also through a TLS-terminating proxy."""

    def get_cookie_secure(self, app: Flask) -> bool:
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return request.is_secure or forwarded == "https" or super().get_cookie_secure(app)


def _console_key(secret_key: str) -> str:
    return hashlib.sha256(b"envdesk-console:" + secret_key.encode()).hexdigest()


def configure(app: Flask, settings: Settings) -> None:
    if settings.console_token_login and not settings.secret_key:
        raise RuntimeError("the console's token sign-in (CONSOLE_TOKEN_LOGIN) needs SECRET_KEY; "
                           "set SECRET_KEY or turn CONSOLE_TOKEN_LOGIN off")
    if settings.secret_key:
        app.secret_key = _console_key(settings.secret_key)
        fallbacks = [_console_key(key) for key in settings.secret_key_fallbacks]
        # Flask checks session cookies against SECRET_KEY_FALLBACKS itself; Flask-WTF takes one
        # key, which itsdangerous accepts as a list (oldest first, the last one signs).
        app.config.update(SECRET_KEY_FALLBACKS=fallbacks,
                          WTF_CSRF_SECRET_KEY=[*reversed(fallbacks), app.secret_key])
    app.session_interface = ConsoleSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME="envdesk_console", SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        # The cookie lives as long as the session can (its absolute limit from sign-in), so it
        # is not signed again at every page: the server ends idle sessions.
        PERMANENT_SESSION_LIFETIME=TIMES.absolute, SESSION_REFRESH_EACH_REQUEST=False,
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
    """A new server-side session (and CSRF token) for the person signing in: no id chosen
    before sign-in survives it."""
    sign_out()
    session.permanent = True
    session[SESSION_ID] = open_session(principal, now(), TIMES, uow=uow())


def sign_out() -> None:
    session_id = session.get(SESSION_ID)
    if isinstance(session_id, str):
        end_session(session_id, uow=uow())
    if session:
        session.clear()


def staff() -> Principal:
    return g.principal


def _signed_in_staff(session_id: Any) -> Principal | None:
    """The staff member of the cookie's session, read with the user's role on every request;
    its last use is written down at most every ``TIMES.touch``."""
    if not isinstance(session_id, str):
        return None
    at = now()
    found = session_staff(db_session(), session_id, at)
    if found is None:
        return None
    principal, last_used = found
    if at - last_used >= TIMES.touch:
        touch_session(session_id, at, TIMES, uow=uow())
    return principal


def staff_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """The signed-in staff member; anyone else goes to the sign-in page."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        principal = _signed_in_staff(session.get(SESSION_ID))
        if principal is None:
            if session:  # an ended session's cookie is dropped (no session at all without a key)
                session.clear()
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")
                                    if request.method == "GET" else None), 303)
        g.principal = principal
        return view(*args, **kwargs)

    return wrapper
