"""GET /v1/environments/{id}/options on the wire: what the caller may file for one environment."""
from __future__ import annotations

from marshmallow import Schema, fields

from schemas.tickets import ChangeSchema
from service.domain.policy import COMPONENTS, SIZES

APPROVALS = ("auto", "single", "dual")


def _size(description: str = "", **kwargs: object) -> fields.String:
    metadata = {"enum": list(SIZES), **({"description": description} if description else {})}
    return fields.String(metadata=metadata, **kwargs)  # type: ignore[arg-type]


class ComponentOptionsSchema(Schema):
    component = fields.String(required=True, metadata={"enum": list(COMPONENTS)})
    current_size = _size(required=True)
    cap = fields.String(required=True, allow_none=True, metadata={
        "enum": [*SIZES, None], "description": "the contract's cap; null: none"})
    raisable_sizes = fields.List(_size(), required=True, metadata={
        "description": "sizes an upscale may ask for: larger than now, within the cap"})


class FilingVerdictSchema(Schema):
    allowed = fields.Boolean(required=True, metadata={
        "description": "whether the caller may file this type for this environment now"})
    rule = fields.String(required=True, allow_none=True, metadata={
        "description": "when not allowed: the rule filing would answer with"})
    detail = fields.String(required=True, allow_none=True, metadata={
        "description": "when not allowed: why, in a sentence"})
    approval = fields.String(required=True, metadata={
        "enum": list(APPROVALS), "description": "the approval a filed request will need"})


class UpscaleOptionsSchema(FilingVerdictSchema):
    min_notice_hours = fields.Float(required=True, metadata={
        "description": "how long after filing a period may start at the earliest"})
    components = fields.List(fields.Nested(ComponentOptionsSchema), required=True)


class VerificationCandidateSchema(Schema):
    ticket_id = fields.String(required=True, attribute="id")
    environment_id = fields.String(required=True)
    change = fields.Nested(ChangeSchema, required=True)
    completed_at = fields.DateTime(required=True, attribute="updated_at")


class ChangeOptionsSchema(FilingVerdictSchema):
    verified_on_required = fields.Boolean(required=True, metadata={
        "description": "whether a change must name a completed identical change on stage"})
    verified_on_candidates = fields.List(fields.Nested(VerificationCandidateSchema), required=True, metadata={
        "description": "completed stage changes of the account, newest first; verified_on must "
                       "name one whose change is identical"})


class EnvironmentOptionsSchema(Schema):
    environment_id = fields.String(required=True)
    upscale = fields.Nested(UpscaleOptionsSchema, required=True)
    change = fields.Nested(ChangeOptionsSchema, required=True)
