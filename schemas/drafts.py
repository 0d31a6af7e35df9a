"""Partner drafts on the wire: the body of a request that a customer has not filed yet."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import PageQuerySchema, page_schema

DRAFT_STATUSES = ("open", "submitted")


class DraftSchema(Schema):
    id = fields.String(required=True)
    account_id = fields.String(required=True, metadata={"description": "the customer it is for"})
    environment_id = fields.String(required=True)
    drafter_id = fields.String(required=True, metadata={"description": "the partner's user who prepared it"})
    status = fields.String(required=True, metadata={"enum": list(DRAFT_STATUSES)})
    request = fields.Dict(required=True, metadata={
        "description": "what submitting it files, as POST /v1/tickets takes it",
        "allOf": [{"$ref": "#/components/schemas/TicketCreate"}]})
    ticket_id = fields.String(required=True, allow_none=True,
                              metadata={"description": "the ticket it was filed as; null while open"})
    submitted_by = fields.String(required=True, allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


DraftPageSchema = page_schema(DraftSchema, "DraftPageSchema")


class DraftListQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(DRAFT_STATUSES))
