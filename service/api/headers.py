"""Security headers on every response: no sniffing, no framing, no referrer, no caching of
tenant data. A response that sets its own value (the docs' assets, the console's policy) keeps it."""
from __future__ import annotations

from flask import Flask, Response

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


_BY_LOWER_NAME = {name.lower(): (name, value) for name, value in SECURITY_HEADERS.items()}


def _secure(response: Response) -> Response:
    """Add each header the response does not set already (one pass over its headers)."""
    missing = dict(_BY_LOWER_NAME)
    for name in response.headers.keys():
        missing.pop(name.lower(), None)
    response.headers.extend(missing.values())
    return response


def register(app: Flask) -> None:
    app.after_request(_secure)
