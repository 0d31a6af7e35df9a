"""The WSGI entry point: the API and the staff console wired to their adapters (database, queue,
webhooks)."""
from __future__ import annotations

from flask import Flask

from service import console
from service.api import create_app
from service.api.runtime import build_runtime
from service.adapters.config import Settings
from service.app.notify.outbox import status_listener
from service.adapters.broker import Publisher, client_app, queue_depths


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    if settings.problems():
        raise RuntimeError("; ".join(settings.problems()))
    publisher = Publisher(client_app(settings), settings)
    listener = status_listener(settings)
    app = create_app(settings, build_runtime(
        settings, dispatch=publisher, listener=listener, broker_probe=publisher.ping,
        queue_depths=queue_depths(settings)))
    console.register(app, settings)
    return app


def __getattr__(name: str) -> Flask:  # `gunicorn service.entrypoints.wsgi:application`
    if name == "application":
        settings = Settings.from_env()
        problems = settings.secret_problems(("SECRET_KEY",))
        if problems:
            raise RuntimeError("; ".join(problems))
        return build_app(settings)
    raise AttributeError(name)
