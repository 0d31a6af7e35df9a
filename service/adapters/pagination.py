"""Keyset pagination with opaque, signed cursors (newest first).

A cursor is the URL-safe base64 of the last row's position followed by its itsdangerous
signature (HMAC-SHA256 under a salt of its own), with no separator, so it stays within the
base64 alphabet that clients and the OpenAPI pattern expect."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from itsdangerous import BadData, Signer
from itsdangerous.encoding import base64_decode, base64_encode
from sqlalchemy import Integer, Select, bindparam, tuple_
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


CursorKey = bytes | Sequence[bytes]
"""One key, or keys: the first signs, every one verifies (an earlier key while a new one rolls
out, SECRET_KEY_FALLBACKS)."""


def _keys(key: CursorKey) -> list[bytes]:
    return [key] if isinstance(key, bytes) else list(key)


def _signer(key: CursorKey) -> Signer:
    # itsdangerous signs with the last key and verifies with any of them.
    return Signer(list(reversed(_keys(key))), salt="envdesk-cursor", digest_method=hashlib.sha256)


SIGNATURE_LENGTH = len(_signer(b"k").get_signature(b""))


def encode_cursor(key: CursorKey, created_at: datetime, row_id: str) -> str:
    """The position after a row, signed with ``key`` so a client can hand it back but not forge it."""
    payload = base64_encode(json.dumps([created_at.isoformat(), row_id], separators=(",", ":")))
    return (payload + _signer(key).get_signature(payload)).decode()


def decode_cursor(key: CursorKey, cursor: str) -> tuple[datetime, str]:
    try:
        raw = cursor.encode("ascii")
        payload, signature = raw[:-SIGNATURE_LENGTH], raw[-SIGNATURE_LENGTH:]
        if not payload or not _signer(key).verify_signature(payload, signature):
            raise ValueError("not signed with this service's key")
        stamp, row_id = json.loads(base64_decode(payload))
        return datetime.fromisoformat(stamp), str(row_id)
    except (BadData, ValueError, TypeError, UnicodeError) as exc:
        raise BadCursor("the cursor is not one this service issued",
                        errors={"cursor": ["invalid cursor"]}) from exc


def paginate(
    query: Select[Any],
    *,
    created: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[str],
    key: CursorKey,
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


def keyset(
    query: Select[Any],
    *,
    created: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[str],
    after: bool,
    oldest_first: bool = False,
) -> Select[Any]:
    """``paginate`` with bind parameters instead of values: ``cursor_at`` and ``cursor_id`` when
    ``after`` a cursor, ``page_rows`` for the limit (``keyset_params`` gives them). One statement
    then serves every page of its shape; SQLAlchemy builds and keys a fresh statement for more
    than it takes PostgreSQL to run it."""
    if after:
        row = tuple_(created, ident)
        position = tuple_(bindparam("cursor_at", type_=created.type), bindparam("cursor_id", type_=ident.type))
        query = query.where(row > position if oldest_first else row < position)
    if oldest_first:
        query = query.order_by(created.asc(), ident.asc())
    else:
        query = query.order_by(created.desc(), ident.desc())
    return query.limit(bindparam("page_rows", type_=Integer()))


def keyset_params(key: CursorKey, limit: int | None, cursor: str | None) -> tuple[dict[str, Any], int]:
    """The parameters of a ``keyset`` statement, and the page size."""
    size = clamp_limit(limit)
    params: dict[str, Any] = {"page_rows": size + 1}
    if cursor:
        params["cursor_at"], params["cursor_id"] = decode_cursor(key, cursor)
    return params, size


def page_of(rows: Sequence[Any], size: int, key: CursorKey) -> Page:
    if len(rows) <= size:
        return Page(items=rows, next_cursor=None)
    last = rows[size - 1]
    return Page(items=rows[:size], next_cursor=encode_cursor(key, last.created_at, last.id))
