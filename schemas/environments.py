"""Environments and the caller's identity on the wire."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import PageQuerySchema, Text, page_schema, present
from service.domain.hosting import AccountKind, Stage


class EnvironmentSchema(Schema):
    id = present()
    account_id = present()
    name = present()
    stage = present(metadata={"enum": [s.value for s in Stage]})
    sizes = present(fields.Dict, keys=fields.String(), values=fields.String(),
                 metadata={"description": "current size per component"})
    caps = present(fields.Dict, keys=fields.String(), values=fields.String(),
                metadata={"description": "largest size the contract allows per component"})
    upscale_allowed = present(fields.Boolean, allow_none=True,
                           metadata={"description": "contract override; null: stage default"})
    requires_staging_verification = present(fields.Boolean, allow_none=True)
    created_at = present(fields.DateTime)
    updated_at = present(fields.DateTime)


EnvironmentPageSchema = page_schema(EnvironmentSchema, "EnvironmentPageSchema")


class EnvironmentListQuerySchema(PageQuerySchema):
    account_id = Text(max=64)
    stage = fields.String(validate=validate.OneOf([s.value for s in Stage]))


class MeSchema(Schema):
    user_id = present()
    email = present()
    role = present(metadata={"enum": ["member", "support", "admin"]})
    account_id = present()
    account_name = present()
    kind = present(metadata={"enum": [k.value for k in AccountKind]})
