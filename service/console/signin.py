"""Signing in and out: a staff API token, or the OIDC authorization-code flow with PKCE."""
from __future__ import annotations

from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, redirect, render_template, request, session, url_for

from service.api.runtime import runtime, session as db_session, uow
from service.adapters.config import Settings
from service.console import blp
from service.console.forms import TokenForm
from service.console.security import sign_in, sign_out
from service.app.identity.staff_signin import SignInRefused, staff_by_oidc, staff_by_token

OAUTH = "envdesk_console_oauth"


def configure_oidc(app: Flask, settings: Settings) -> None:
    """An OIDC client of the configured issuer, when the console has client credentials."""
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret):
        return
    oauth = OAuth(app)
    oauth.register(
        "staff", client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
        server_metadata_url=f"{settings.oidc_issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile", "code_challenge_method": "S256",
                       "default_timeout": (3.05, 10)})
    app.extensions[OAUTH] = oauth


def _oidc() -> Any:
    oauth = current_app.extensions.get(OAUTH)
    return oauth.staff if oauth is not None else None


def _safe_next(target: str | None) -> str:
    """Only a path inside the console; anything else (another site) lands on the queue."""
    if target and target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("console.queue")


def _login_page(form: TokenForm | None = None, status: int = 200, refusal: str | None = None) -> Any:
    settings = runtime().settings
    ready = bool(current_app.secret_key)  # without it there is no session, and no form token
    return render_template("console/login.html", form=(form or TokenForm()) if ready else None,
                           refusal=refusal, token_login=settings.console_token_login,
                           oidc=_oidc() is not None, ready=ready, next=request.args.get("next")), status


@blp.get("/login")
def login() -> Any:
    return _login_page()


@blp.post("/login")
def login_with_token() -> Any:
    if not runtime().settings.console_token_login or not current_app.secret_key:
        return _login_page(None, 403, "Sign-in with a token is turned off here.")
    form = TokenForm()
    if not form.validate_on_submit():
        return _login_page(form, 422)
    sign_in(staff_by_token(db_session(), form.token.data))
    return redirect(_safe_next(request.args.get("next")), 303)


@blp.get("/login/oidc")
def login_with_oidc() -> Any:
    client = _oidc()
    if client is None or not current_app.secret_key:
        return _login_page(None, 404, "Sign-in with the identity provider is not set up here.")
    session["next"] = _safe_next(request.args.get("next"))
    public = runtime().settings.console_url  # the address browsers use, also behind a proxy
    callback = f"{public}/login/oidc/callback" if public else url_for("console.oidc_callback",
                                                                        _external=True)
    try:
        return client.authorize_redirect(callback)
    except (OSError, AuthlibBaseError, ValueError):  # requests' errors are OSErrors
        return _login_page(None, 502, "The identity provider did not answer; try again later.")


@blp.get("/login/oidc/callback")
def oidc_callback() -> Any:
    client = _oidc()
    if client is None:
        return _login_page(None, 404, "Sign-in with the identity provider is not set up here.")
    target = _safe_next(session.get("next"))
    try:
        claims = client.authorize_access_token().get("userinfo") or {}
    except AuthlibBaseError as exc:
        return _login_page(None, 403, f"The sign-in was not accepted ({str(exc.error)[:80]}).")
    except (OSError, ValueError, KeyError):
        return _login_page(None, 502, "The sign-in could not be completed; try again.")
    issuer = str(claims.get("iss") or runtime().settings.oidc_issuer)
    sign_in(staff_by_oidc(issuer, claims, uow=uow()))
    return redirect(target, 303)


@blp.post("/logout")
def logout() -> Any:
    sign_out()  # the form's CSRF token was checked before the view
    return redirect(url_for("console.login", signed_out=1), 303)


@blp.errorhandler(SignInRefused)
def refused(exc: SignInRefused) -> Any:
    sign_out()
    return render_template("console/refused.html", detail=exc.detail), 403
