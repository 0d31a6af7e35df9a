"""Shared wire-format pieces: strict loading, safe strings, problem details, pages."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")
    if has_surrogate(value):
        raise ValidationError("must be valid Unicode (no unpaired surrogates)")


def has_surrogate(value: str) -> bool:
    """Unpaired surrogates (JSON "\\ud800") cannot be encoded as UTF-8 for any database."""
    return any("\ud800" <= char <= "\udfff" for char in value)


def storable_instant(value: datetime) -> None:
    """A moment every database can store: it must exist in UTC (year 1 to 9999)."""
    try:
        value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise ValidationError("out of range: the moment must lie between the years 1 and 9999 in UTC") from None


class Text(fields.String):
    """A string without NUL characters (which no database accepts), with length bounds."""

    def __init__(self, *, min: int = 1, max: int = 2000, **kwargs: Any) -> None:
        validators = [validate.Length(min=min, max=max), _no_nul]
        super().__init__(validate=validators, **kwargs)


class StrictSchema(Schema):
    """Request bodies: every unknown or read-only field is named in the error."""

    read_only: tuple[str, ...] = ()

    class Meta:
        unknown = RAISE

    @pre_load
    def _refuse_extra_fields(self, data: Any, **_: Any) -> Any:
        if not isinstance(data, dict):
            return data
        errors = {}
        for name in data:
            if name in self.read_only:
                errors[name] = ["read-only field; it cannot be set by the client"]
            elif name not in self.load_fields:
                errors[name] = ["unknown field"]
        if errors:
            raise ValidationError(errors)
        return data


class QuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE


class PageQuerySchema(QuerySchema):
    limit = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "page size; values above 200 are clamped to 200 (default 50)"})
    cursor = fields.String(
        validate=[validate.Length(min=1, max=512), validate.Regexp(r"^[A-Za-z0-9_-]+$")],
        metadata={"description": "the next_cursor of the previous page (URL-safe base64)"})


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """The list envelope of SPEC section 4: ``{"items": [...], "next_cursor": ...}``."""
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item)), "next_cursor": fields.String(allow_none=True)},
        name=name,
    )


class ProblemSchema(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    rule = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    open_ticket_id = fields.String()
