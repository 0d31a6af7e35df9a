"""Ticket lifecycle: one transition table, and the side effects of each move, reviewed like data."""
from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from service.domain.errors import InvalidTransition, PeriodEnded, RuleViolation


class Status(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    SCHEDULED = "scheduled"
    APPROVED = "approved"
    PROVISIONING = "provisioning"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REVERTING = "reverting"
    REVERTED = "reverted"
    EXPIRED = "expired"


class Action(StrEnum):
    APPROVE = "approve"
    SCHEDULE = "schedule"
    BEGIN_PERIOD = "begin_period"
    EXPIRE = "expire"
    REJECT = "reject"
    CANCEL = "cancel"
    START = "start"
    COMPLETE = "complete"
    FAIL = "fail"
    RETRY = "retry"
    REVERT = "revert"
    FINISH_REVERT = "finish_revert"
    RETRY_REVERT = "retry_revert"
    HOLD = "hold"


TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.PENDING_APPROVAL, Action.APPROVE): Status.APPROVED,
    (Status.PENDING_APPROVAL, Action.REJECT): Status.REJECTED,
    (Status.PENDING_APPROVAL, Action.CANCEL): Status.CANCELLED,
    (Status.PENDING_APPROVAL, Action.SCHEDULE): Status.SCHEDULED,
    (Status.PENDING_APPROVAL, Action.EXPIRE): Status.EXPIRED,
    (Status.SCHEDULED, Action.BEGIN_PERIOD): Status.APPROVED,
    (Status.SCHEDULED, Action.EXPIRE): Status.EXPIRED,
    (Status.APPROVED, Action.EXPIRE): Status.EXPIRED,
    (Status.APPROVED, Action.HOLD): Status.SCHEDULED,
    (Status.APPROVED, Action.START): Status.PROVISIONING,
    (Status.APPROVED, Action.FAIL): Status.FAILED,
    (Status.PROVISIONING, Action.COMPLETE): Status.COMPLETED,
    (Status.PROVISIONING, Action.FAIL): Status.FAILED,
    (Status.FAILED, Action.RETRY): Status.APPROVED,
    (Status.FAILED, Action.RETRY_REVERT): Status.REVERTING,
    (Status.COMPLETED, Action.REVERT): Status.REVERTING,
    (Status.REVERTING, Action.FINISH_REVERT): Status.REVERTED,
    (Status.REVERTING, Action.FAIL): Status.FAILED,
}

OPEN_STATUSES: frozenset[Status] = frozenset(
    {Status.PENDING_APPROVAL, Status.SCHEDULED, Status.APPROVED, Status.PROVISIONING}
)
"""A request in one of these holds its environment: a second of the same type is a duplicate."""


def next_status(current: Status | str, action: Action | str) -> Status:
    """The status ``action`` leads to from ``current``; raises when the table has no such move."""
    key = (Status(current), Action(action))
    try:
        return TRANSITIONS[key]
    except KeyError:
        raise InvalidTransition(
            f"cannot {key[1].value.replace('_', ' ')} a ticket that is {key[0].value}",
            current_status=key[0].value,
            action=key[1].value,
        ) from None


REASON_REQUIRED = frozenset({Action.REJECT})

BLANK = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
"""Characters that say nothing (controls and every kind of space), as a regex character range
that Python and JSON Schema read alike."""
_SAYS_SOMETHING = re.compile(f"[^{BLANK}]")


def says_something(text: str | None) -> bool:
    """Whether ``text`` has at least one character that is neither a control nor a space."""
    return bool(text) and _SAYS_SOMETHING.search(text) is not None


def ensure_reason(action: Action, reason: str | None) -> None:
    """A rejection tells the customer why; other actions may give a reason."""
    if action in REASON_REQUIRED and not says_something(reason):
        raise RuleViolation(f"say why: {action.value} needs a reason", rule="reason_required",
                            errors={"reason": ["required"]})


class ProvisioningAction(StrEnum):
    """What a provisioning operation does to an environment (SPEC section 5)."""

    APPLY = "apply"
    REVERT = "revert"
    ANNOUNCE = "announce"
    """a load test begins: its source addresses are let in and on-call is warned"""
    WITHDRAW = "withdraw"
    """a load test ends"""


PROVISIONING_ACTION_OF: dict[Status, ProvisioningAction] = {
    Status.APPROVED: ProvisioningAction.APPLY,
    Status.PROVISIONING: ProvisioningAction.APPLY,
    Status.REVERTING: ProvisioningAction.REVERT,
}
"""The operation a worker runs for a ticket in each status it handles."""

OPERATION_OF_TYPE: dict[tuple[str, ProvisioningAction], ProvisioningAction] = {
    ("load_test", ProvisioningAction.APPLY): ProvisioningAction.ANNOUNCE,
    ("load_test", ProvisioningAction.REVERT): ProvisioningAction.WITHDRAW,
}
"""What provisioning is asked to do, where a ticket type names it otherwise: a load test is
announced at its window's start and withdrawn at its end, by the apply and revert machinery."""


def operation_action(ticket_type: str, action: ProvisioningAction) -> ProvisioningAction:
    return OPERATION_OF_TYPE.get((ticket_type, action), action)


RETRY_OF: dict[ProvisioningAction, Action] = {
    ProvisioningAction.APPLY: Action.RETRY,
    ProvisioningAction.REVERT: Action.RETRY_REVERT,
}
"""Staff "retry" a failed ticket: the move depends on which operation failed."""


def retry_action(failed: ProvisioningAction | str | None) -> Action:
    return RETRY_OF[ProvisioningAction(failed or ProvisioningAction.APPLY)]


def action_for(requested: Action, *, status: Status | str, failed: str | None,
               period: tuple[datetime | None, datetime | None], now: datetime) -> Action:
    """The move a person's request makes: "approve" schedules a period that starts later, and
    "retry" repeats whichever operation failed."""
    if requested is Action.APPROVE and Status(status) is Status.PENDING_APPROVAL:
        return approval_action(*period, now=now)
    if requested is Action.RETRY:
        return retry_action(failed)
    return requested


def approval_action(period_start: datetime | None, period_end: datetime | None, *,
                    now: datetime) -> Action:
    """Approve now, or schedule a temporary upscale whose period has not started; one whose
    period has ended is never applied."""
    if period_end is not None and period_end <= now:
        raise PeriodEnded("the period of this temporary upscale has ended; it can no longer be "
                          "approved", period_end=period_end.isoformat())
    if period_start is not None and period_start > now:
        return Action.SCHEDULE
    return Action.APPROVE


class Effect(StrEnum):
    """What else happens when a ticket moves, besides its audit event."""

    NOTIFY = "notify"
    """a ``ticket.<status>`` webhook to the portal"""
    HAND_OFF = "hand_off"
    """due for a worker now; the queue is nudged after the commit"""
    FRESH_ATTEMPTS = "fresh_attempts"
    """the attempt counter starts again and the last failure reason is cleared"""
    NEW_OPERATION = "new_operation"
    """the next provisioning call submits a new operation (a revert is not the apply)"""
    DECIDED = "decided"
    """the decision clock stops: decided_at, and first_response_at if staff had not answered"""
    KEEP_REASON = "keep_reason"
    """the event's reason becomes the ticket's reason (why it was rejected, failed, expired)"""
    RELEASE = "release"
    """no worker needs the ticket any more"""


_ENDED = frozenset({Effect.NOTIFY, Effect.KEEP_REASON, Effect.RELEASE})

EFFECTS: dict[tuple[Status, Status], frozenset[Effect]] = {
    (Status.PENDING_APPROVAL, Status.APPROVED): frozenset({Effect.NOTIFY, Effect.DECIDED, Effect.HAND_OFF}),
    (Status.PENDING_APPROVAL, Status.SCHEDULED): frozenset({Effect.NOTIFY, Effect.DECIDED}),
    (Status.PENDING_APPROVAL, Status.REJECTED): frozenset({Effect.NOTIFY, Effect.DECIDED, Effect.KEEP_REASON}),
    (Status.PENDING_APPROVAL, Status.CANCELLED): frozenset({Effect.NOTIFY}),
    (Status.PENDING_APPROVAL, Status.EXPIRED): _ENDED,
    (Status.SCHEDULED, Status.APPROVED): frozenset({Effect.NOTIFY, Effect.HAND_OFF}),
    (Status.SCHEDULED, Status.EXPIRED): _ENDED,
    (Status.APPROVED, Status.PROVISIONING): frozenset({Effect.NOTIFY}),
    (Status.APPROVED, Status.SCHEDULED): frozenset({Effect.NOTIFY, Effect.RELEASE}),
    (Status.APPROVED, Status.FAILED): _ENDED,
    (Status.APPROVED, Status.EXPIRED): _ENDED,
    (Status.PROVISIONING, Status.COMPLETED): frozenset({Effect.NOTIFY, Effect.RELEASE}),
    (Status.PROVISIONING, Status.FAILED): _ENDED,
    (Status.FAILED, Status.APPROVED): frozenset({Effect.NOTIFY, Effect.FRESH_ATTEMPTS, Effect.HAND_OFF}),
    (Status.FAILED, Status.REVERTING): frozenset({Effect.NOTIFY, Effect.FRESH_ATTEMPTS, Effect.HAND_OFF}),
    (Status.COMPLETED, Status.REVERTING): frozenset(
        {Effect.NOTIFY, Effect.FRESH_ATTEMPTS, Effect.NEW_OPERATION, Effect.HAND_OFF}),
    (Status.REVERTING, Status.REVERTED): frozenset({Effect.NOTIFY, Effect.RELEASE}),
    (Status.REVERTING, Status.FAILED): _ENDED,
}
"""The side effects of every move in TRANSITIONS, keyed by (from, to)."""


def effects_of(before: Status, after: Status) -> frozenset[Effect]:
    return EFFECTS[(before, after)]
