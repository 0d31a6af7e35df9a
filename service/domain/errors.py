"""Domain errors. Each carries a stable ``rule`` code that clients may match on."""
from __future__ import annotations


class DomainError(Exception):
    """Base of every rule violation; the API maps each subclass to one HTTP status."""

    rule: str = "domain_error"
    title: str = "Request not allowed"

    def __init__(self, detail: str, *, rule: str | None = None,
                 params: dict[str, object] | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        if rule is not None:
            self.rule = rule
        self.extra = extra
        self.params = {**{k: v for k, v in extra.items() if k != "errors"}, **(params or {})}
        """The facts behind the refusal (JSON values), for clients that word it themselves."""


class NotFound(DomainError):
    rule = "not_found"
    title = "Not found"


class Forbidden(DomainError):
    rule = "forbidden"
    title = "Forbidden"


class CustomerOnly(Forbidden):
    rule = "customer_only"
    title = "Only customers may file requests"


class UnknownAccount(Forbidden):
    """A sign-in names an account the registry does not know."""

    rule = "unknown_account"
    title = "Unknown account"


class RuleViolation(DomainError):
    """The request is well-formed but breaks a hosting rule (422)."""

    title = "Hosting rule violated"


class Conflict(DomainError):
    rule = "conflict"
    title = "Conflict"


class DuplicateOpenRequest(Conflict):
    rule = "duplicate_open_request"
    title = "A request of this type is already open for this environment"


class InvalidTransition(Conflict):
    rule = "invalid_transition"
    title = "Action not allowed in the ticket's current status"


class ConcurrentChange(InvalidTransition):
    """Someone else changed the row between our read and our write; the loser of a race."""

    title = "The ticket was changed concurrently"


class PeriodEnded(Conflict):
    rule = "period_ended"
    title = "The temporary upscale's period has ended"


class PreconditionFailed(DomainError):
    rule = "precondition_failed"
    title = "Precondition failed"


class IdempotencyMismatch(RuleViolation):
    rule = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"


class ChargesNotAccepted(RuleViolation):
    """An upscale that costs something was filed without accepting its charge (422)."""

    rule = "charges_not_accepted"
    title = "The charges of this request must be accepted"


class QuoteChanged(Conflict):
    """The charge accepted is not the quote at filing time (409)."""

    rule = "quote_changed"
    title = "The quote changed"
