"""Tickets, their audit events and comments on the wire."""
from __future__ import annotations

import math
from datetime import timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.common import PageQuerySchema, QuerySchema, StrictSchema, Text, page_schema, has_surrogate
from service.domain.lifecycle import Status
from service.domain.policy import CHANGE_KINDS, COMPONENTS, SIZES, TicketType

TICKET_READ_ONLY = (
    "id", "status", "account_id", "requester_id", "created_at", "updated_at", "version",
    "baseline", "reason", "operation_id", "attempts", "approvals", "approvals_required",
    "approval_rule", "drafter_id",
)


def _check_parameters(value: dict[str, Any]) -> None:
    if not value:
        raise ValidationError("must name at least one parameter")
    if len(value) > 100:
        raise ValidationError("at most 100 parameters")
    _check_json(value, depth=0)


def _check_json(value: Any, *, depth: int) -> None:
    if depth > 5:
        raise ValidationError("nested too deeply (at most 5 levels)")
    if isinstance(value, str):
        if "\x00" in value or len(value) > 4000 or has_surrogate(value):
            raise ValidationError("strings must be valid Unicode under 4000 characters, without NUL")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValidationError("numbers must be finite (no NaN or Infinity)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(key, depth=depth + 1)
            _check_json(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth=depth + 1)


class ResourceSchema(StrictSchema):
    component = fields.String(required=True, validate=validate.OneOf(COMPONENTS))
    size = fields.String(required=True, validate=validate.OneOf(SIZES))


class PeriodSchema(StrictSchema):
    start = fields.AwareDateTime(required=True, default_timezone=timezone.utc)
    end = fields.AwareDateTime(required=True, default_timezone=timezone.utc)


class ChangeSchema(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(CHANGE_KINDS))
    parameters = fields.Dict(keys=fields.String(), required=True, validate=_check_parameters,
                             metadata={"minProperties": 1, "maxProperties": 100})


class TicketIds(fields.Field):
    """One ticket id, or a list of one to three."""

    _one = Text(max=64)

    def __init__(self, **kwargs: Any) -> None:
        one = {"type": "string", "minLength": 1, "maxLength": 64}
        kwargs.setdefault("metadata", {}).update(
            oneOf=[one, {"type": "array", "items": one, "minItems": 1, "maxItems": 3}])
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | list[str]:
        if isinstance(value, list):
            if not 1 <= len(value) <= 3:
                raise ValidationError("give one to three ticket ids")
            ids = [self._one.deserialize(item) for item in value]
            if len(set(ids)) != len(ids):
                raise ValidationError("each ticket may be named once")
            return ids
        return self._one.deserialize(value)


class TicketCreateSchema(StrictSchema):
    read_only = TICKET_READ_ONLY
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in TicketType]))
    environment_id = Text(required=True, max=64)
    summary = Text(required=True, max=2000, metadata={"description": "the reason for the request"})
    resources = fields.List(fields.Nested(ResourceSchema), validate=validate.Length(min=1, max=8),
                            metadata={"description": "upscale only"})
    period = fields.Nested(PeriodSchema, metadata={"description": "upscale only; temporary upscale"})
    change = fields.Nested(ChangeSchema, metadata={"description": "change only"})
    verified_on = TicketIds(metadata={
        "description": "change only: the completed change on a stage environment that this repeats, "
                       "or a list of them when the approval policy asks for dev and stage"})

    @validates_schema
    def _fields_match_type(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("type") == TicketType.UPSCALE:
            required, forbidden = ("resources",), ("change", "verified_on")
        elif data.get("type") == TicketType.CHANGE:
            required, forbidden = ("change",), ("resources", "period")
        else:
            return
        errors = {name: ["required for this type"] for name in required if name not in data}
        errors.update({name: [f"not allowed for {data['type']} requests"] for name in forbidden
                       if name in data})
        components = [r["component"] for r in data.get("resources", [])]
        if len(components) != len(set(components)):
            errors["resources"] = ["each component may appear only once"]
        if errors:
            raise ValidationError(errors)


class ApprovalSchema(Schema):
    user_id = fields.String(required=True, metadata={"description": "the support engineer"})
    at = fields.DateTime(required=True)


class TicketSchema(Schema):
    id = fields.String()
    type = fields.String(metadata={"enum": [t.value for t in TicketType]})
    status = fields.String(metadata={"enum": [s.value for s in Status]})
    environment_id = fields.String()
    account_id = fields.String()
    requester_id = fields.String()
    drafter_id = fields.String(allow_none=True, metadata={
        "description": "the partner's user who prepared it as a draft; null when filed directly"})
    summary = fields.String()
    resources = fields.List(fields.Nested(ResourceSchema), allow_none=True)
    period = fields.Method("_period", allow_none=True,
                           metadata={"type": "object", "nullable": True,
                                     "properties": {"start": {"type": "string", "format": "date-time"},
                                                    "end": {"type": "string", "format": "date-time"}}})
    change = fields.Nested(ChangeSchema, allow_none=True)
    verified_on = fields.String(allow_none=True, metadata={"description": "the (first) cited ticket"})
    verified_on_ids = fields.List(fields.String(), allow_none=True, metadata={
        "description": "every ticket a prod change cites, one per stage it was verified on"})
    baseline = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True,
                           metadata={"description": "the sizes an upscale replaced"})
    reason = fields.String(allow_none=True, metadata={"description": "why it was rejected or failed"})
    approvals_required = fields.Integer(metadata={
        "description": "staff approvals the approval policy asks (0: approved by the policy at filing)"})
    approval_rule = fields.String(allow_none=True, metadata={
        "description": "the approval policy rule that decided; null when no rule matched"})
    approvals = fields.List(fields.Nested(ApprovalSchema), metadata={
        "description": "who approved so far, oldest first"})
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _period(self, ticket: Any) -> dict[str, str] | None:
        if ticket.period_start is None:
            return None
        return {"start": ticket.period_start.isoformat(), "end": ticket.period_end.isoformat()}


TicketPageSchema = page_schema(TicketSchema, "TicketPageSchema")


class TicketListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf([s.value for s in Status]))
    type = fields.String(validate=validate.OneOf([t.value for t in TicketType]))
    environment_id = Text(max=64)


class RejectSchema(StrictSchema):
    reason = Text(required=True, max=2000)


class EventSchema(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.String(allow_none=True, metadata={"description": "null for the system"})
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    reason = fields.String(allow_none=True)


EventListSchema = page_schema(EventSchema, "EventListSchema")


class CommentCreateSchema(StrictSchema):
    read_only = ("id", "ticket_id", "author_id", "created_at")
    body = Text(required=True, max=10000)
    internal = fields.Boolean(load_default=False)


class CommentSchema(Schema):
    id = fields.String()
    ticket_id = fields.String()
    author_id = fields.String()
    body = fields.String()
    internal = fields.Boolean()
    created_at = fields.DateTime()


CommentListSchema = page_schema(CommentSchema, "CommentListSchema")


class EmptyQuerySchema(QuerySchema):
    pass
