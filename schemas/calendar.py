"""The change calendar on the wire: entries in a range, and the feed key."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from marshmallow import Schema, fields

from schemas.common import QuerySchema, Text, present, storable_instant
from schemas.dump import compile_dump
from schemas.windows import ScopeSchema
from service.domain.lifecycle import Status
from service.domain.windows import WindowKind


class CalendarQuerySchema(QuerySchema):
    from_ = fields.AwareDateTime(data_key="from", format="iso", validate=storable_instant, metadata={
        "description": "start of the range (RFC 3339, with offset); default: now"})
    to = fields.AwareDateTime(format="iso", validate=storable_instant, metadata={
        "description": "end of the range, at most 400 days after from; default: 7 days after from"})
    environment_id = Text(max=64, metadata={"description": "only what touches this environment"})


class CalendarEntrySchema(Schema):
    kind = present(metadata={"enum": ["window", "ticket"]})
    id = present(metadata={"description": "the window's or the ticket's id"})
    title = present(metadata={"description": "the window's title, or the ticket's summary"})
    start = present(fields.DateTime)
    end = present(fields.DateTime)
    window_kind = present(allow_none=True, metadata={"enum": [k.value for k in WindowKind] + [None]})
    ticket_id = present(allow_none=True, metadata={"description": "the ticket, for kind ticket"})
    environment_id = present(allow_none=True)
    status = present(allow_none=True, metadata={"enum": [s.value for s in Status] + [None]})
    type = present(allow_none=True)
    emergency = present(fields.Boolean, metadata={"description": "an emergency request"})
    scope = present(fields.Nested, ScopeSchema, allow_none=True)


class CalendarSchema(Schema):
    from_ = present(fields.DateTime, data_key="from")
    to = present(fields.DateTime)
    items = present(fields.List, fields.Nested(CalendarEntrySchema), metadata={
        "description": "each occurrence of a window and each ticket with a time, by start"})


_CALENDAR = compile_dump(CalendarSchema())


def calendar_body(since: datetime, until: datetime, items: list[dict[str, Any]]) -> dict[str, Any]:
    """``CalendarSchema().dump`` of a calendar, compiled once (schemas.dump): a month across
    every environment holds thousands of entries."""
    return _CALENDAR({"from_": since, "to": until, "items": items})


class FeedQuerySchema(QuerySchema):
    key = Text(required=True, max=200, metadata={"description": "the feed key of POST /v1/me/calendar-key"})


class CalendarKeySchema(Schema):
    key = present(metadata={"description": "shown once; only its hash is kept"})
    url = present(metadata={"description": "the feed's address for a calendar program"})
