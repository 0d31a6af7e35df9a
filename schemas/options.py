"""GET /v1/environments/{id}/options on the wire: what the caller may file for one environment."""
from __future__ import annotations

from marshmallow import Schema, fields

from schemas.tickets import ChangeSchema, ConflictSchema
from service.domain.hosting import CHANGE_KINDS, COMPONENTS, SIZES

APPROVALS = ("auto", "single", "dual")


def _size(description: str = "", **kwargs: object) -> fields.String:
    metadata = {"enum": list(SIZES), **({"description": description} if description else {})}
    return fields.String(metadata=metadata, **kwargs)  # type: ignore[arg-type]


class StepOptionPriceSchema(Schema):
    size = _size(required=True)
    price_per_day = fields.String(required=True, metadata={
        "description": "a decimal string, never a float", "examples": ["18.50"]})
    currency = fields.String(required=True, metadata={"examples": ["EUR"]})


class ComponentOptionsSchema(Schema):
    component = fields.String(required=True, metadata={"enum": list(COMPONENTS)})
    current_size = _size(required=True)
    cap = fields.String(required=True, allow_none=True, metadata={
        "enum": [*SIZES, None], "description": "the contract's cap; null: none"})
    raisable_sizes = fields.List(_size(), required=True, metadata={
        "description": "sizes an upscale may ask for: larger than now, within the cap"})
    prices = fields.List(fields.Nested(StepOptionPriceSchema), required=True, metadata={
        "description": "with a price list: the price per day of the step reaching each raisable "
                       "size (a raise over several steps pays each); empty without one"})


class FilingVerdictSchema(Schema):
    allowed = fields.Boolean(required=True, metadata={
        "description": "whether the caller may file this type for this environment now"})
    rule = fields.String(required=True, allow_none=True, metadata={
        "description": "when not allowed: the rule filing would answer with"})
    detail = fields.String(required=True, allow_none=True, metadata={
        "description": "when not allowed: why, in a sentence"})
    approval = fields.String(required=True, metadata={
        "enum": list(APPROVALS), "description": "the approval a filed request will need, by the "
        "approval policy (APPROVAL_POLICY): auto (approved at filing, for an upscale only within "
        "every cap), single or dual (two different support engineers); for a change of no "
        "particular kind and a permanent upscale"})


class UpscaleOptionsSchema(FilingVerdictSchema):
    min_notice_hours = fields.Float(required=True, metadata={
        "description": "how long after filing a temporary upscale's period may start at the "
                       "earliest (the approval policy's min_notice_hours; 0: any time)"})
    components = fields.List(fields.Nested(ComponentOptionsSchema), required=True)


class VerificationCandidateSchema(Schema):
    ticket_id = fields.String(required=True, attribute="id")
    environment_id = fields.String(required=True)
    change = fields.Nested(ChangeSchema, required=True)
    completed_at = fields.DateTime(required=True, attribute="updated_at")


class ChangeKindOptionsSchema(Schema):
    kind = fields.String(required=True, metadata={"enum": list(CHANGE_KINDS)})
    approval = fields.String(required=True, metadata={
        "enum": list(APPROVALS), "description": "the approval a change of this kind will need"})
    verified_on_stages = fields.List(fields.String(metadata={"enum": ["dev", "stage"]}), required=True,
                                     metadata={"description": "the stages verified_on must cite for "
                                               "a change of this kind"})


class ChangeOptionsSchema(FilingVerdictSchema):
    verified_on_required = fields.Boolean(required=True, metadata={
        "description": "whether a change must name a completed identical change on stage"})
    verified_on_stages = fields.List(fields.String(metadata={"enum": ["dev", "stage"]}), required=True,
                                     metadata={"description": "the stages verified_on must cite one "
                                               "completed identical change on each (empty when "
                                               "none is needed)"})
    kinds = fields.List(fields.Nested(ChangeKindOptionsSchema), required=True, metadata={
        "description": "per change kind: the approval and the stages to cite (the approval policy "
                       "may decide by kind)"})
    verified_on_candidates = fields.List(fields.Nested(VerificationCandidateSchema), required=True, metadata={
        "description": "completed changes on the account's environments of those stages, newest "
                       "first; verified_on must name one identical change per stage"})


class CalendarOptionsSchema(Schema):
    frozen_until = fields.DateTime(required=True, allow_none=True, metadata={
        "description": "a freeze window refuses requests taking effect now, until this time; "
                       "null when none does"})
    conflicts = fields.List(fields.Nested(ConflictSchema), required=True, metadata={
        "description": "the windows and open requests with a time on this environment in the "
                       "next 14 days: what a new request's time may overlap"})


class EnvironmentOptionsSchema(Schema):
    environment_id = fields.String(required=True)
    upscale = fields.Nested(UpscaleOptionsSchema, required=True)
    change = fields.Nested(ChangeOptionsSchema, required=True)
    calendar = fields.Nested(CalendarOptionsSchema, required=True)
