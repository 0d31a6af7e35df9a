"""Tickets, their audit events and comments on the wire."""
from __future__ import annotations

import ipaddress
import math
from datetime import timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.common import (
    PageQuerySchema, QuerySchema, StrictSchema, Text, has_surrogate, page_schema, present,
    storable_instant,
)
from schemas.billing import AcceptChargesSchema, ChargesSchema
from service.domain.actors import ActorKind
from service.domain.case_numbers import case_number
from service.domain.lifecycle import Status
from service.domain.hosting import CHANGE_KINDS, COMPONENTS, SIZES, Stage, TicketType

TICKET_READ_ONLY = (
    "id", "status", "account_id", "requester_id", "created_at", "updated_at", "version",
    "baseline", "reason", "operation_id", "attempts", "approvals", "approvals_required",
    "approval_rule", "drafter_id", "number", "charges", "not_before",
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
    start = fields.AwareDateTime(required=True, default_timezone=timezone.utc, validate=storable_instant)
    end = fields.AwareDateTime(required=True, default_timezone=timezone.utc, validate=storable_instant)


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
            oneOf=[one, {"type": "array", "items": one, "minItems": 1, "maxItems": 3,
                         "uniqueItems": True}])
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


class _TicketCreateBase(StrictSchema):
    read_only = TICKET_READ_ONLY
    environment_id = Text(required=True, max=64,
                          metadata={"examples": ["8c688ce8-4939-497b-8f75-731c7b07dd98"]})
    summary = Text(required=True, max=2000, metadata={
        "description": "the reason for the request", "examples": ["Load test before the spring sale"]})
    apply_at = fields.AwareDateTime(default_timezone=timezone.utc, validate=storable_instant, metadata={
        "description": "apply no earlier than this (it waits as scheduled); lead times count to it; "
                       "refused inside a freeze window", "examples": ["2031-03-01T06:00:00Z"]})
    emergency = fields.Boolean(metadata={
        "description": "through freezes and past lead times; always two staff approvals"})
    emergency_reason = Text(max=2000, says_something=True, metadata={
        "description": "why it is an emergency; required with emergency"})


def _one_type(ticket_type: TicketType) -> fields.String:
    return fields.String(required=True, validate=validate.OneOf([ticket_type.value]))


class UpscaleCreateSchema(_TicketCreateBase):
    """An upscale request: each component at most once, each to a larger size."""

    type = _one_type(TicketType.UPSCALE)
    resources = fields.List(fields.Nested(ResourceSchema), required=True,
                            validate=validate.Length(min=1, max=8),
                            metadata={"examples": [[{"component": "yves", "size": "large"}]]})
    period = fields.Nested(PeriodSchema, metadata={
        "description": "a temporary upscale, reverted at end",
        "examples": [{"start": "2031-03-01T08:00:00Z", "end": "2031-03-03T20:00:00Z"}]})
    accept_charges = fields.Nested(AcceptChargesSchema, metadata={
        "description": "the charge accepted: required, equal to the quote (POST /v1/quotes), "
                       "when the upscale costs something by the price list"})


class ChangeCreateSchema(_TicketCreateBase):
    """A change request; a change to prod names the completed stage change it repeats."""

    type = _one_type(TicketType.CHANGE)
    change = fields.Nested(ChangeSchema, required=True, metadata={
        "examples": [{"kind": "config", "parameters": {"PHP_MEMORY_LIMIT": "1G"}}]})
    verified_on = TicketIds(metadata={
        "description": "the completed change on a stage environment that this repeats, "
                       "or a list of them when the approval policy asks for dev and stage",
        "examples": ["5b0f7c8e-2d4a-4f7e-8d11-6e2c9a3b1f40"]})


class Cidr(Text):
    """An IPv4 or IPv6 network in CIDR notation (a single address is a /32 or /128)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return str(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValidationError("not an IPv4 or IPv6 network in CIDR notation, such as "
                                  "203.0.113.0/24") from None


def _source_cidrs(**kwargs: Any) -> fields.List:
    return fields.List(Cidr(max=64), validate=validate.Length(min=1, max=50), metadata={
        "description": "the IPv4 and IPv6 networks the test traffic comes from",
        "examples": [["203.0.113.0/24", "2001:db8::/48"]]}, **kwargs)


def _peak_rps(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=10_000_000), metadata={
        "description": "the expected peak, in requests per second", "examples": [2500]}, **kwargs)


class LoadTestCreateSchema(_TicketCreateBase):
    """A load-test announcement: when test traffic comes, how much, and from where."""

    type = _one_type(TicketType.LOAD_TEST)
    window = fields.Nested(PeriodSchema, required=True, metadata={
        "description": "when the test runs; announced to provisioning at start, withdrawn at end"})
    peak_rps = _peak_rps(required=True)
    source_cidrs = _source_cidrs(required=True)
    upscale_ticket_id = Text(max=64, metadata={
        "description": "a temporary upscale of the same environment whose period covers the window"})


class TicketCreateSchema(_TicketCreateBase):
    """Loads either request, naming every field that does not fit its ``type``; documented as
    the ``oneOf`` of the two (service.api.docs)."""

    openapi_one_of = {TicketType.UPSCALE.value: UpscaleCreateSchema,
                      TicketType.CHANGE.value: ChangeCreateSchema,
                      TicketType.LOAD_TEST.value: LoadTestCreateSchema}
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in TicketType]))
    resources = fields.List(fields.Nested(ResourceSchema), validate=validate.Length(min=1, max=8))
    period = fields.Nested(PeriodSchema)
    change = fields.Nested(ChangeSchema)
    verified_on = TicketIds()
    window = fields.Nested(PeriodSchema)
    peak_rps = _peak_rps()
    source_cidrs = _source_cidrs()
    upscale_ticket_id = Text(max=64)
    accept_charges = fields.Nested(AcceptChargesSchema)

    @validates_schema
    def _fields_match_type(self, data: dict[str, Any], **_: Any) -> None:
        required, forbidden = _FIELDS_OF_TYPE.get(data.get("type"), ((), ()))
        if not required:
            return
        errors = {name: ["required for this type"] for name in required if name not in data}
        errors.update({name: [f"not allowed for {data['type']} requests"] for name in forbidden
                       if name in data})
        components = [r["component"] for r in data.get("resources", [])]
        if len(components) != len(set(components)):
            errors["resources"] = ["each component may appear only once"]
        if errors:
            raise ValidationError(errors)


_LOAD_TEST_FIELDS = ("window", "peak_rps", "source_cidrs", "upscale_ticket_id")
_FIELDS_OF_TYPE: dict[Any, tuple[tuple[str, ...], tuple[str, ...]]] = {
    TicketType.UPSCALE.value: (("resources",), ("change", "verified_on", *_LOAD_TEST_FIELDS)),
    TicketType.CHANGE.value: (("change",), ("resources", "period", "accept_charges", *_LOAD_TEST_FIELDS)),
    TicketType.LOAD_TEST.value: (("window", "peak_rps", "source_cidrs"),
                                 ("resources", "change", "verified_on", "period", "accept_charges")),
}
"""Per type: the fields it requires, and those of the other types it refuses."""


class ApprovalSchema(Schema):
    user_id = present(metadata={"description": "the support engineer"})
    at = present(fields.DateTime)


class ConflictSchema(Schema):
    kind = present(metadata={"enum": ["ticket", "window"]})
    id = present()
    title = present()
    start = present(fields.DateTime)
    end = present(fields.DateTime)


class TicketSchema(Schema):
    id = present()
    number = present(fields.Function, lambda ticket: case_number(ticket.number), metadata={
        "type": "string", "pattern": "^ENV-[1-9][0-9]*$", "example": "ENV-42",
        "description": "the case number people quote; accepted wherever a ticket id is"})
    type = present(metadata={"enum": [t.value for t in TicketType]})
    status = present(metadata={"enum": [s.value for s in Status]})
    environment_id = present()
    account_id = present()
    requester_id = present()
    drafter_id = present(allow_none=True, metadata={
        "description": "the partner's user who prepared it as a draft; null when filed directly"})
    summary = present()
    resources = present(fields.List, fields.Nested(ResourceSchema), allow_none=True,
                     metadata={"description": "upscale: the requested sizes; null for a change"})
    period = present(fields.Method, "_period", allow_none=True, metadata={
        "anyOf": [{"$ref": "#/components/schemas/Period"}, {"type": "null"}],
        "description": "a temporary upscale's period; null otherwise"})
    change = present(fields.Nested, ChangeSchema, allow_none=True,
                  metadata={"description": "change: what to change; null for an upscale"})
    verified_on = present(allow_none=True, metadata={"description": "the (first) cited ticket"})
    verified_on_ids = present(fields.List, fields.String(), allow_none=True, metadata={
        "description": "every ticket a prod change cites, one per stage it was verified on"})
    baseline = present(fields.Dict, keys=fields.String(), values=fields.String(), allow_none=True,
                    metadata={"description": "the sizes an upscale replaced"})
    reason = present(allow_none=True, metadata={"description": "why it was rejected or failed"})
    approvals_required = present(fields.Integer, metadata={
        "description": "staff approvals the approval policy asks (0: approved by the policy at filing)"})
    approval_rule = present(allow_none=True, metadata={
        "description": "the approval policy rule that decided; null when no rule matched"})
    approvals = present(fields.List, fields.Nested(ApprovalSchema), metadata={
        "description": "who approved so far, oldest first"})
    charges = present(fields.Nested, ChargesSchema, allow_none=True, metadata={
        "description": "an upscale's quote at filing (with a price list) and who accepted its "
                       "charge, when; null otherwise"})
    version = present(fields.Integer)
    created_at = present(fields.DateTime)
    updated_at = present(fields.DateTime)
    apply_at = present(fields.DateTime, allow_none=True, metadata={
        "description": "applied no earlier than this; null: as soon as approved"})
    not_before = present(fields.DateTime, allow_none=True, metadata={
        "description": "while scheduled: when it is due (apply_at, the period's start, or the end "
                       "of a freeze or maintenance window holding it)"})
    emergency = present(fields.Method, "_emergency", metadata={
        "type": "boolean", "description": "filed as an emergency"})
    emergency_reason = present(allow_none=True)
    conflicts = fields.List(fields.Nested(ConflictSchema), metadata={
        "description": "only in the 201 of a filing: the other open or scheduled requests and the "
                       "windows overlapping its time on its environment; information only (a "
                       "freeze refuses with 422 freeze_window)"})
    load_test = present(fields.Dict, allow_none=True, metadata={
        "description": "a load test: its window, peak_rps, source_cidrs and upscale_ticket_id; "
                       "null for other types"})

    def _emergency(self, ticket: Any) -> bool:
        return bool(ticket.emergency)

    def _period(self, ticket: Any) -> dict[str, str] | None:
        if ticket.period_start is None:
            return None
        return {"start": ticket.period_start.isoformat(), "end": ticket.period_end.isoformat()}


TicketPageSchema = page_schema(TicketSchema, "TicketPageSchema")



class TicketListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf([s.value for s in Status]))
    type = fields.String(validate=validate.OneOf([t.value for t in TicketType]))
    environment_id = Text(max=64)
    stage = fields.String(validate=validate.OneOf([s.value for s in Stage]),
                          metadata={"description": "only tickets for environments of this stage"})
    updated_since = fields.AwareDateTime(format="iso", validate=storable_instant, metadata={
        "description": "only tickets changed at or after this time (RFC 3339, with offset)"})


class ActionSchema(StrictSchema):
    reason = Text(max=2000, metadata={"description": "why; kept on the audit event"})


class RejectSchema(StrictSchema):
    reason = Text(required=True, max=2000, says_something=True,
                  metadata={"description": "why; told to the customer"})


class EventSchema(Schema):
    id = present(fields.Integer)
    at = present(fields.DateTime)
    actor = present(fields.Method, "_actor", metadata={
        "type": "object", "description": "who made the move: a user, or a part of the system",
        "required": ["kind"],
        "properties": {"kind": {"type": "string", "enum": [k.value for k in ActorKind]},
                       "id": {"type": "string", "description": "the user, for kind user"},
                       "name": {"type": "string",
                                "description": "worker, sweep or policy, for kind system"}}})
    actor_id = present(allow_none=True, metadata={
        "description": "the user who made the move; null when the system made it (see actor)"})
    from_status = present(allow_none=True, metadata={"description": "null on creation"})
    to_status = present()
    reason = present(allow_none=True)

    def _actor(self, event: Any) -> dict[str, str]:
        if event.actor_kind == ActorKind.SYSTEM:
            return {"kind": ActorKind.SYSTEM.value, "name": event.actor_name}
        return {"kind": ActorKind.USER.value, "id": event.actor_id}


EventListSchema = page_schema(EventSchema, "EventListSchema")


class CommentCreateSchema(StrictSchema):
    read_only = ("id", "ticket_id", "author_id", "created_at")
    body = Text(required=True, max=10000)
    internal = fields.Boolean(load_default=False)


class CommentSchema(Schema):
    id = present()
    ticket_id = present()
    author_id = present()
    body = present()
    internal = present(fields.Boolean)
    created_at = present(fields.DateTime)


CommentListSchema = page_schema(CommentSchema, "CommentListSchema")


class EmptyQuerySchema(QuerySchema):
    pass
