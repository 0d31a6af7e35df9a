"""A person's mail settings on the wire (GET/PATCH /v1/me/notifications) and the one-click
unsubscribe (/v1/unsubscribe)."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validates_schema

from schemas.common import QuerySchema, StrictSchema, Text, present


class _Flag(fields.Boolean):
    """A JSON true or false, nothing else ("yes", 1, 0 and "true" are refused)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _flag(**kwargs: Any) -> fields.Boolean:
    return _Flag(**kwargs)


class StaffNotificationsSchema(StrictSchema):
    awaiting_approval = _flag(metadata={
        "description": "new tickets awaiting approval, and dual requests awaiting a second approval"})
    sla_breach = _flag(metadata={"description": "tickets past their decision SLA"})
    failed = _flag(metadata={"description": "tickets whose provisioning failed"})


class NotificationsSchema(Schema):
    email = present(fields.Boolean, metadata={"description": "false: no mail at all"})
    watch_account = present(fields.Boolean, metadata={
        "description": "mail about every request of my account, not only my own"})
    staff = fields.Nested(StaffNotificationsSchema, metadata={
        "description": "support staff only: what staff are told (each off until opted in)"})


class NotificationsPatchSchema(StrictSchema):
    openapi_min_properties = 1

    email = _flag()
    watch_account = _flag()
    staff = fields.Nested(StaffNotificationsSchema)

    @validates_schema
    def _names_something(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("send at least one of email, watch_account, staff", "body")


class UnsubscribeQuerySchema(QuerySchema):
    token = Text(required=True, max=512, metadata={"description": "the signed token of the link in the mail"})


class UnsubscribedSchema(Schema):
    email = present(fields.Boolean, metadata={"description": "false: this person gets no more mail"})
