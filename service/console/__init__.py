"""The staff console at /console/: server-rendered pages over the same use cases as the API."""
from __future__ import annotations

from flask import Blueprint, Flask

from service.adapters.config import Settings

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                static_folder="static", static_url_path="/static")


def register(app: Flask, settings: Settings) -> None:
    security.configure(app, settings)
    signin.configure_oidc(app, settings)
    app.register_blueprint(blp)


# The modules that attach routes, hooks and error pages to ``blp``, before anyone registers it.
from service.console import errors, security, signin, usage, views  # noqa: E402,F401
