"""Liveness and readiness, without authentication."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from service.api.errors import problem
from service.api.runtime import runtime, session

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz() -> Any:
    down = [name for name, check in (("database", _database), ("broker", _broker)) if not check()]
    if down:
        return problem(503, "Service Unavailable", f"unreachable: {', '.join(down)}",
                       rule="dependency_down", down=down)
    return jsonify(status="ready", checks={"database": "ok", "broker": "ok"})


def _database() -> bool:
    try:
        session().execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001 - any failure means not ready
        return False


def _broker() -> bool:
    probe = runtime().broker_probe
    if probe is None:
        return True
    try:
        return bool(probe())
    except Exception:  # noqa: BLE001
        return False
