"""Partner drafts on the wire: the body of a request that a customer has not filed yet."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.billing import AcceptChargesSchema
from schemas.common import PageQuerySchema, StrictSchema, page_schema, present

DRAFT_STATUSES = ("open", "submitted")


class DraftSchema(Schema):
    id = present()
    account_id = present(metadata={"description": "the customer it is for"})
    environment_id = present()
    drafter_id = present(metadata={"description": "the partner's user who prepared it"})
    status = present(metadata={"enum": list(DRAFT_STATUSES)})
    request = present(fields.Dict, metadata={
        "description": "what submitting it files, as POST /v1/tickets takes it",
        "allOf": [{"$ref": "#/components/schemas/TicketCreate"}]})
    ticket_id = present(allow_none=True,
                        metadata={"description": "the ticket it was filed as; null while open"})
    submitted_by = present(allow_none=True)
    created_at = present(fields.DateTime)
    updated_at = present(fields.DateTime)


DraftPageSchema = page_schema(DraftSchema, "DraftPageSchema")


class DraftListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(DRAFT_STATUSES))


class DraftSubmitSchema(StrictSchema):
    """Optional: the submitting customer accepts the charge of an upscale that costs something."""

    accept_charges = fields.Nested(AcceptChargesSchema, metadata={
        "description": "the charge accepted, equal to the quote of the draft's request now"})
