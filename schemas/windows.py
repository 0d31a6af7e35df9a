"""Maintenance and freeze windows on the wire (SPEC section 11)."""
from __future__ import annotations

from datetime import timezone
from typing import Any

from marshmallow import Schema, fields, validate

from schemas.common import StrictSchema, Text, page_schema, present, storable_instant
from service.domain.hosting import Stage
from service.domain.windows import WindowKind

WINDOW_READ_ONLY = ("id", "created_by", "created_at", "updated_at", "sequence", "last_end")


class ScopeSchema(StrictSchema):
    stage = fields.String(validate=validate.OneOf([s.value for s in Stage]), allow_none=True)
    account_id = Text(max=64, allow_none=True)
    environment_id = Text(max=64, allow_none=True)


class WindowCreateSchema(StrictSchema):
    """A window; ``scope`` narrows it (every environment when empty), ``rrule`` repeats it."""

    read_only = WINDOW_READ_ONLY
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in WindowKind]))
    title = Text(required=True, max=200, says_something=True,
                 metadata={"examples": ["Nightly maintenance"]})
    start = fields.AwareDateTime(required=True, default_timezone=timezone.utc, validate=storable_instant,
                                 metadata={"examples": ["2026-12-07T22:00:00+01:00"]})
    end = fields.AwareDateTime(required=True, default_timezone=timezone.utc, validate=storable_instant,
                               metadata={"examples": ["2026-12-08T02:00:00+01:00"]})
    rrule = Text(max=500, allow_none=True, metadata={
        "description": "an RFC 5545 RRULE value repeating the window in its time zone",
        "examples": ["FREQ=DAILY"]})
    timezone = Text(max=64, load_default="UTC", metadata={
        "description": "the IANA time zone its times and recurrence are computed in",
        "examples": ["Europe/Berlin"]})
    scope = fields.Nested(ScopeSchema, load_default=dict)


class WindowSchema(Schema):
    id = present()
    kind = present(metadata={"enum": [k.value for k in WindowKind]})
    title = present()
    start = present(fields.DateTime, attribute="start_at")
    end = present(fields.DateTime, attribute="end_at")
    rrule = present(allow_none=True)
    timezone = present()
    scope = present(fields.Method, "_scope", metadata={
        "type": "object", "properties": {name: {"type": ["string", "null"]}
                                         for name in ("stage", "account_id", "environment_id")}})
    last_end = present(fields.DateTime, allow_none=True, metadata={
        "description": "when its last occurrence ends; null when it repeats without end"})
    sequence = present(fields.Integer, metadata={"description": "how often it was changed"})
    created_by = present()
    created_at = present(fields.DateTime)

    def _scope(self, window: Any) -> dict[str, str | None]:
        return {"stage": window.scope_stage, "account_id": window.scope_account_id,
                "environment_id": window.scope_environment_id}


WindowPageSchema = page_schema(WindowSchema, "WindowPageSchema")
