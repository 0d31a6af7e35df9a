"""Shared wire-format pieces: strict loading, safe strings, problem details, pages."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from schemas.problems import ProblemSchema  # noqa: F401  (the error body, imported from here)
from service.domain.lifecycle import BLANK, says_something


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")
    if has_surrogate(value):
        raise ValidationError("must be valid Unicode (no unpaired surrogates)")


def has_surrogate(value: str) -> bool:
    """Unpaired surrogates (JSON "\\ud800") cannot be encoded as UTF-8 for any database."""
    return any("\ud800" <= char <= "\udfff" for char in value)


NO_NUL_PATTERN = r"^[^\x00]*$"
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"


def storable_instant(value: datetime) -> None:
    """A moment every database can store: it must exist in UTC (year 1 to 9999)."""
    try:
        value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise ValidationError("out of range: the moment must lie between the years 1 and 9999 in UTC") from None


SAYS_SOMETHING_PATTERN = rf"^[^\x00]*[^{BLANK}][^\x00]*$"


def _says_something(value: str) -> None:
    if not says_something(value):
        raise ValidationError("must say something: not only spaces or control characters")


class Text(fields.String):
    """A string without NUL characters (which no database accepts), with length bounds; with
    ``says_something``, not only spaces or control characters either. It and its subclasses
    differ from ``String`` only in loading: schemas.dump writes them as strings."""

    def __init__(self, *, min: int = 1, max: int = 2000, says_something: bool = False,
                 **kwargs: Any) -> None:
        validators = [validate.Length(min=min, max=max), _no_nul]
        if says_something:
            validators.append(_says_something)
        pattern = SAYS_SOMETHING_PATTERN if says_something else NO_NUL_PATTERN
        kwargs["metadata"] = {"pattern": pattern, **kwargs.get("metadata", {})}
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
    """Query strings. Names an operation does not declare are refused before parsing (400), for
    every operation alike, by service.api.query."""

    class Meta:
        unknown = EXCLUDE


def present(field: type[fields.Field] = fields.String, *args: Any, **kwargs: Any) -> fields.Field:
    """A response field every body carries: ``required`` in the document (null where allowed)."""
    return field(*args, required=True, **kwargs)


class PageQuerySchema(QuerySchema):
    limit = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "page size; values above 200 are clamped to 200 (default 50)"})
    cursor = fields.String(
        validate=[validate.Length(min=1, max=512), validate.Regexp(CURSOR_PATTERN)],
        metadata={"description": "the next_cursor of the previous page: an opaque token "
                                 "(URL-safe base64) that only this service issues"})


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """The list envelope of SPEC section 4: ``{"items": [...], "next_cursor": ...}``."""
    next_cursor = fields.String(required=True, allow_none=True, metadata={
        "pattern": CURSOR_PATTERN, "maxLength": 512,
        "description": "pass as `cursor` for the next page; null on the last page"})
    return Schema.from_dict(
        {"items": fields.List(fields.Nested(item), required=True), "next_cursor": next_cursor},
        name=name,
    )
