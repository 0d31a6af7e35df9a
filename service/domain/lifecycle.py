"""Ticket lifecycle: one transition table, reviewed like data."""
from __future__ import annotations

from enum import StrEnum

from service.domain.errors import InvalidTransition


class Status(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    PROVISIONING = "provisioning"
    COMPLETED = "completed"
    FAILED = "failed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REVERTING = "reverting"
    REVERTED = "reverted"


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    START = "start"
    COMPLETE = "complete"
    FAIL = "fail"
    RETRY = "retry"
    REVERT = "revert"
    FINISH_REVERT = "finish_revert"
    RETRY_REVERT = "retry_revert"


TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.PENDING_APPROVAL, Action.APPROVE): Status.APPROVED,
    (Status.PENDING_APPROVAL, Action.REJECT): Status.REJECTED,
    (Status.PENDING_APPROVAL, Action.CANCEL): Status.CANCELLED,
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
    {Status.PENDING_APPROVAL, Status.APPROVED, Status.PROVISIONING}
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
