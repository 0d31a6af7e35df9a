"""CORS for the portal's browser app: only the origins in CORS_ORIGINS, only the headers the API
reads and the ones a client needs to see."""
from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from service.adapters.config import Settings

ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match",
                 "X-Request-ID")
EXPOSE_HEADERS = ("ETag", "Location", "Retry-After", "Idempotent-Replayed", "X-Request-ID")
METHODS = ("GET", "POST", "OPTIONS")
PREFLIGHT_MAX_AGE = 600


def register(app: Flask, settings: Settings) -> None:
    if not settings.cors_origins:
        return
    CORS(app, origins=list(settings.cors_origins), allow_headers=list(ALLOW_HEADERS),
         expose_headers=list(EXPOSE_HEADERS), methods=list(METHODS), max_age=PREFLIGHT_MAX_AGE,
         supports_credentials=False, vary_header=True)
