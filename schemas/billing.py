"""Quotes, accepted charges and usage on the wire: money as decimal strings with the currency."""
from __future__ import annotations

import re

from marshmallow import Schema, fields, validate

from schemas.common import QuerySchema, StrictSchema, Text
from service.domain.hosting import COMPONENTS, SIZES
from service.domain.prices import MINOR_UNITS, MONTH_PATTERN

AMOUNT = r"^\d{1,12}(\.\d{1,3})?$"


def _amount(description: str, **kwargs: object) -> fields.String:
    return fields.String(metadata={"pattern": AMOUNT, "description": description,
                                   "examples": ["91.50"]}, **kwargs)  # type: ignore[arg-type]


class MoneySchema(Schema):
    amount = _amount("a decimal string in the currency's minor units, never a float", required=True)
    currency = fields.String(required=True, metadata={"examples": ["EUR"]})


class AcceptChargesSchema(StrictSchema):
    """The charge the requester accepts: the quote's ``accept_charges``, as it is."""

    amount = fields.String(required=True, validate=validate.Regexp(
        re.compile(AMOUNT), error="must be a decimal string such as \"91.50\""),
        metadata={"pattern": AMOUNT, "examples": ["91.50"]})
    currency = fields.String(required=True, validate=validate.OneOf(sorted(MINOR_UNITS)),
                             metadata={"examples": ["EUR"]})


class StepPriceSchema(Schema):
    size = fields.String(required=True, metadata={"enum": list(SIZES[1:])})
    price_per_day = _amount("the price per day of the step that reaches this size", required=True)


class QuoteLineSchema(Schema):
    component = fields.String(required=True, metadata={"enum": list(COMPONENTS)})
    from_size = fields.String(required=True, metadata={"enum": list(SIZES)})
    to_size = fields.String(required=True, metadata={"enum": list(SIZES)})
    steps = fields.List(fields.Nested(StepPriceSchema), required=True)
    price_per_day = _amount("the steps' prices per day together", required=True)
    days = fields.Integer(required=True, allow_none=True)
    included_days = fields.Integer(required=True, metadata={
        "description": "the account's included days this component would use"})
    charge = _amount("the charge beyond the included days (per day for a permanent upscale)",
                     required=True)


class AllowanceUseSchema(Schema):
    year = fields.Integer(required=True, metadata={"description": "the contract year (UTC)"})
    days = fields.Integer(required=True, metadata={"description": "included upscale-days in that year"})
    used = fields.Integer(required=True, metadata={"description": "included days already used"})
    included = fields.Integer(required=True, metadata={"description": "included days this request would use"})
    left = fields.Integer(required=True, metadata={"description": "included days left afterwards"})


class QuoteSchema(Schema):
    environment_id = fields.String(required=True)
    currency = fields.String(required=True)
    temporary = fields.Boolean(required=True)
    days = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the period's days (every started 24 hours); null for a permanent upscale"})
    per_day = fields.Boolean(required=True, metadata={
        "description": "true for a permanent upscale: the charge is per day while it lasts"})
    lines = fields.List(fields.Nested(QuoteLineSchema), required=True)
    charge = fields.Nested(MoneySchema, required=True)
    within_allowance = fields.Boolean(required=True, metadata={
        "description": "true when the request costs nothing beyond the included days"})
    allowance = fields.Nested(AllowanceUseSchema, required=True, allow_none=True, metadata={
        "description": "the included days, for a temporary upscale; null otherwise"})
    accept_charges = fields.Nested(MoneySchema, required=True, allow_none=True, metadata={
        "description": "what to send as accept_charges when filing; null when nothing is charged"})


class AcceptanceSchema(Schema):
    amount = _amount("the charge accepted", required=True)
    currency = fields.String(required=True)
    by = fields.String(required=True, metadata={"description": "the user who accepted it"})
    at = fields.String(required=True, metadata={"description": "when (RFC 3339)"})


class ChargesSchema(Schema):
    quote = fields.Nested(QuoteSchema, required=True)
    accepted = fields.Nested(AcceptanceSchema, required=True, allow_none=True)


class UsageQuerySchema(QuerySchema):
    month = fields.String(required=True, validate=validate.Regexp(
        MONTH_PATTERN, error="must be a month as YYYY-MM"),
        metadata={"examples": ["2027-03"]})
    account_id = Text(max=64, metadata={"description": "staff: the account (required for staff)"})


class UsageLineSchema(Schema):
    environment_id = fields.String(required=True)
    environment = fields.String(required=True, metadata={"description": "the environment's name"})
    component = fields.String(required=True, metadata={"enum": list(COMPONENTS)})
    days = fields.Integer(required=True, metadata={"description": "days used in the month"})
    included_days = fields.Integer(required=True, metadata={"description": "of them, included days"})
    charge = _amount("the charge for the month beyond the included days", required=True)


class UsageSchema(Schema):
    account_id = fields.String(required=True)
    month = fields.String(required=True)
    currency = fields.String(required=True, allow_none=True)
    items = fields.List(fields.Nested(UsageLineSchema), required=True)
    total = fields.Nested(MoneySchema, required=True, allow_none=True)
