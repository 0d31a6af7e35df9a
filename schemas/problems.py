"""The one error body (RFC 9457 problem details), its rule codes and their parameters."""
from __future__ import annotations

from marshmallow import Schema, fields

RULES: dict[str, str] = {
    # Refusals of the request as sent.
    "bad_request": "malformed request (invalid JSON, an over-long request line)",
    "unknown_parameter": "a query parameter the operation does not declare; `errors` names each",
    "validation_failed": "invalid input; `errors` names each offending field",
    "invalid_cursor": "`cursor` is not one this service issued",
    "unauthenticated": "missing or invalid bearer token",
    "not_found": "no such object visible to the caller",
    "method_not_allowed": "the path does not take this method",
    "not_acceptable": "no acceptable representation",
    "payload_too_large": "the body is over the size limit",
    "unsupported_media_type": "the body is not JSON",
    "precondition_required": "the operation needs a precondition header",
    "rate_limited": "too many writes; wait and retry",
    "dependency_down": "a service envdesk needs does not answer; retry later",
    # Who may do what.
    "forbidden": "the caller may not do this",
    "customer_only": "only customers file requests, and only the filing customer cancels; "
                     "params: `kind` (the caller's account kind)",
    "staff_only": "only support staff choose the `staff` mail settings",
    "support_only": "only support staff may do this; params: `action`",
    "unknown_account": "the token's account claim names no account of this service",
    "identity_provider_unavailable": "the OIDC issuer's keys cannot be fetched; retry later",
    # Hosting rules (422).
    "dev_not_scalable": "dev environments cannot be scaled up; params: `stage`",
    "prod_autoscales": "prod environments autoscale: file a change request; params: `stage`",
    "upscale_not_allowed": "the environment's contract allows no upscale; params: `stage`",
    "size_not_larger": "a requested size is not above the current one; params: `resources`",
    "over_contract_limit": "a requested size is above the contract's cap; params: `resources`",
    "period_invalid": "the period does not end after it starts; params: `start`, `end`",
    "period_in_past": "the period starts in the past; params: `earliest_start`",
    "lead_time": "the period starts too soon; params: `earliest_start`",
    "prod_requires_staging_verification":
        "a prod change must repeat a completed stage change (on dev and stage where the approval "
        "policy asks it); params: `verify_on`",
    "open_ticket_limit": "the account holds its maximum of open requests; "
                         "params: `open_tickets`, `max_open`",
    "partner_only": "only a partner agency prepares drafts; customers file their requests directly",
    "not_prod": "promotions are listed for prod environments only; params: `stage`",
    "reason_required": "rejecting a request needs a reason for the customer",
    "idempotency_key_reused": "the Idempotency-Key was used with another body",
    "charges_not_accepted": "the upscale costs something by the price list and `accept_charges` "
                            "was not given; the problem carries the `quote` to accept",
    "invalid_allowance": "an allowance must be a whole number of days of at least 0 (operators)",
    "dev_not_for_load_tests": "dev environments are not for load tests; params: `stage`",
    "load_test_upscale_mismatch": "`upscale_ticket_id` names no open temporary upscale of the "
                                  "environment covering the window; params: `upscale_ticket_id`",
    "window_invalid": "a maintenance or freeze window cannot be computed (its end, time zone, "
                      "RRULE or scope); `errors` names the field",
    "freeze_window": "the request would take effect inside a freeze window; "
                     "params: `window_id`, `window_title`, `ends_at`",
    "apply_at_in_past": "`apply_at` lies in the past; params: `earliest_start`",
    "emergency_reason_required": "an emergency request says why it is one (`emergency_reason`)",
    "range_invalid": "the calendar's `to` is not after its `from`, or the range is over 400 days",
    "domain_error": "the request is not allowed",
    # Conflicts with the current state (409, 412).
    "conflict": "conflicts with the current state",
    "duplicate_open_request": "a request of this type is open for the environment; "
                              "params: `open_ticket_id`, `open_ticket_status`",
    "period_ended": "the temporary upscale's period has ended: it is never applied now",
    "invalid_transition": "the ticket's status does not allow the action; "
                          "params: `current_status`, `action`",
    "already_approved": "this user already approved the ticket; another support engineer must",
    "draft_submitted": "the draft was submitted and is kept with its ticket; params: `ticket_id`",
    "quote_changed": "`accept_charges` is not the quote at filing time; the problem carries the "
                     "current `quote`",
    "precondition_failed": "If-Match does not match; params: `etag` (the current one)",
}
"""Every ``rule`` the API answers with, and what it means."""


class ResourceRefusalSchema(Schema):
    index = fields.Integer(required=True, metadata={"description": "position in `resources`"})
    component = fields.String(required=True)
    current_size = fields.String(required=True)
    requested_size = fields.String(required=True)
    cap = fields.String(required=True, allow_none=True,
                        metadata={"description": "the contract's largest size; null: no cap"})


class RuleParamsSchema(Schema):
    """The facts behind a refusal, so a client can word and translate it itself."""

    class Meta:
        unknown = "include"

    stage = fields.String()
    kind = fields.String()
    action = fields.String()
    resources = fields.List(fields.Nested(ResourceRefusalSchema),
                            metadata={"description": "each refused component"})
    start = fields.DateTime()
    end = fields.DateTime()
    earliest_start = fields.DateTime(metadata={"description": "the earliest start accepted now"})
    verified_on = fields.String(allow_none=True)
    verify_on = fields.String(metadata={"description": "the stages a prod change must be verified "
                                                       "on, joined by \" and \""})
    ticket_id = fields.String()
    open_tickets = fields.Integer()
    max_open = fields.Integer()
    open_ticket_id = fields.String()
    open_ticket_status = fields.String()
    current_status = fields.String()
    etag = fields.String()
    window_id = fields.String(metadata={"description": "the freeze window that refused it"})
    window_title = fields.String()
    ends_at = fields.DateTime(metadata={"description": "when the freeze (and any freeze it "
                                                       "runs into) ends"})


def _rules_description() -> str:
    return "stable code of the rule that refused the request:\n\n" + "\n".join(
        f"- `{rule}`: {meaning}" for rule, meaning in RULES.items())


class ProblemSchema(Schema):
    type = fields.String(required=True, metadata={"description": "URI naming the rule"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    rule = fields.String(metadata={"enum": list(RULES), "description": _rules_description()})
    params = fields.Nested(RuleParamsSchema)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "messages per offending field or parameter"})
    open_ticket_id = fields.String(metadata={"description": "duplicate_open_request: the open one"})
    current_status = fields.String(metadata={"description": "invalid_transition: the status now"})
    action = fields.String(metadata={"description": "invalid_transition: the refused action"})
    etag = fields.String(metadata={"description": "precondition_failed: the current ETag"})
    # By name: schemas.billing imports schemas.common, which imports this module.
    quote = fields.Nested("QuoteSchema", metadata={
        "description": "charges_not_accepted, quote_changed: the quote at filing time"})
