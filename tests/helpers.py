"""Request bodies and assertions shared by the API tests."""
from __future__ import annotations

import secrets

from datetime import datetime, timezone
from typing import Any

PROBLEM = "application/problem+json"


def upscale_body(env_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"type": "upscale", "environment_id": env_id, "summary": "load test next week",
            "resources": [{"component": "yves", "size": "large"}]}
    body.update(overrides)
    return body


def change_body(env_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"type": "change", "environment_id": env_id, "summary": "raise PHP memory limit",
            "change": {"kind": "config", "parameters": {"PHP_MEMORY_LIMIT": "1G"}}}
    body.update(overrides)
    return body


def assert_problem(response: Any, status: int, rule: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with the given status (and rule), as a client would check it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["type"].startswith("http")
    if rule is not None:
        assert body["rule"] == rule
        assert body["type"].endswith("/" + rule)
    return body


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def new_secret() -> str:
    """A secret the processes accept (as `envdesk secret new` makes one): tests never run on
    a placeholder."""
    return secrets.token_urlsafe(32)
