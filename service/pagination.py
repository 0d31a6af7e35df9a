"""Keyset pagination with opaque, signed cursors (newest first)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from service.domain.errors import RuleViolation

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class BadCursor(RuleViolation):
    rule = "invalid_cursor"
    title = "Invalid cursor"


@dataclass(frozen=True)
class Page:
    items: Sequence[Any]
    next_cursor: str | None


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    return max(1, min(MAX_LIMIT, limit))


def encode_cursor(key: bytes, created_at: datetime, row_id: str) -> str:
    payload = json.dumps([created_at.isoformat(), row_id], separators=(",", ":")).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")


def decode_cursor(key: bytes, cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload, mac = raw[:-12], raw[-12:]
        if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()[:12]):
            raise ValueError("signature")
        stamp, row_id = json.loads(payload)
        return datetime.fromisoformat(stamp), str(row_id)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadCursor("the cursor is not one this service issued",
                        errors={"cursor": ["invalid cursor"]}) from exc


def paginate(
    query: Select[Any],
    *,
    created: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[str],
    key: bytes,
    limit: int | None,
    cursor: str | None,
    oldest_first: bool = False,
) -> tuple[Select[Any], int]:
    """Order newest (or oldest) first and continue after ``cursor``; fetch one extra row to
    detect a next page."""
    size = clamp_limit(limit)
    if cursor:
        at, last_id = decode_cursor(key, cursor)
        # A row-value comparison, so the (…, created_at, id) indexes seek to the cursor instead
        # of scanning and filtering every newer row (which costs like OFFSET on deep pages).
        row = tuple_(created, ident)
        query = query.where(row > (at, last_id) if oldest_first else row < (at, last_id))
    if oldest_first:
        return query.order_by(created.asc(), ident.asc()).limit(size + 1), size
    return query.order_by(created.desc(), ident.desc()).limit(size + 1), size


def page_of(rows: Sequence[Any], size: int, key: bytes) -> Page:
    if len(rows) <= size:
        return Page(items=rows, next_cursor=None)
    last = rows[size - 1]
    return Page(items=rows[:size], next_cursor=encode_cursor(key, last.created_at, last.id))
