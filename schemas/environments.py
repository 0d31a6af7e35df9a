"""Environments and the caller's identity on the wire."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import PageQuerySchema, Text, page_schema
from service.domain.policy import Stage


class EnvironmentSchema(Schema):
    id = fields.String()
    account_id = fields.String()
    name = fields.String()
    stage = fields.String(metadata={"enum": [s.value for s in Stage]})
    sizes = fields.Dict(keys=fields.String(), values=fields.String(),
                        metadata={"description": "current size per component"})
    caps = fields.Dict(keys=fields.String(), values=fields.String(),
                       metadata={"description": "largest size the contract allows per component"})
    upscale_allowed = fields.Boolean(allow_none=True,
                                     metadata={"description": "contract override; null: stage default"})
    requires_staging_verification = fields.Boolean(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


EnvironmentPageSchema = page_schema(EnvironmentSchema, "EnvironmentPageSchema")


class EnvironmentListQuerySchema(PageQuerySchema):
    account_id = Text(max=64)
    stage = fields.String(validate=validate.OneOf([s.value for s in Stage]))


class MeSchema(Schema):
    user_id = fields.String()
    email = fields.String()
    role = fields.String()
    account_id = fields.String()
    account_name = fields.String()
    kind = fields.String()
