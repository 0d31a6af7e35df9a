"""The WSGI entry point: the API wired to its adapters (database, queue, webhooks)."""
from __future__ import annotations

from flask import Flask

from service.api import create_app
from service.api.runtime import build_runtime
from service.config import Settings


def build_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    return create_app(settings, build_runtime(settings))



def __getattr__(name: str) -> Flask:  # `gunicorn service.wsgi:application`
    if name == "application":
        return build_app()
    raise AttributeError(name)
