"""The ticket lifecycle: every (status, action) pair either moves where the table says or raises."""
from __future__ import annotations

from itertools import product

import pytest

from service.domain.errors import InvalidTransition
from service.domain.lifecycle import OPEN_STATUSES, TRANSITIONS, Action, Status, next_status

ALL_PAIRS = list(product(Status, Action))
ALLOWED = [pair for pair in ALL_PAIRS if pair in TRANSITIONS]
FORBIDDEN = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]


def _id(pair: tuple[Status, Action]) -> str:
    return f"{pair[0].value}-{pair[1].value}"


@pytest.mark.parametrize("status,action", ALLOWED, ids=[_id(p) for p in ALLOWED])
def test_allowed_action_leads_where_the_table_says(status: Status, action: Action) -> None:
    assert next_status(status, action) is TRANSITIONS[(status, action)]


@pytest.mark.parametrize("status,action", ALLOWED, ids=[_id(p) for p in ALLOWED])
def test_allowed_action_accepts_plain_strings(status: Status, action: Action) -> None:
    assert next_status(status.value, action.value) is TRANSITIONS[(status, action)]


@pytest.mark.parametrize("status,action", FORBIDDEN, ids=[_id(p) for p in FORBIDDEN])
def test_action_the_status_does_not_allow_is_an_invalid_transition(status: Status, action: Action) -> None:
    with pytest.raises(InvalidTransition) as raised:
        next_status(status, action)

    assert raised.value.rule == "invalid_transition"
    assert raised.value.extra == {"current_status": status.value, "action": action.value}
    assert status.value in raised.value.detail


def test_the_walk_covers_every_pair() -> None:
    assert len(ALLOWED) + len(FORBIDDEN) == len(Status) * len(Action)
    assert ALLOWED and FORBIDDEN


def test_table_only_leads_to_known_statuses() -> None:
    assert all(isinstance(target, Status) for target in TRANSITIONS.values())


@pytest.mark.parametrize("path,end", [
    ([Action.APPROVE, Action.START, Action.COMPLETE], Status.COMPLETED),
    ([Action.REJECT], Status.REJECTED),
    ([Action.CANCEL], Status.CANCELLED),
    ([Action.APPROVE, Action.START, Action.FAIL], Status.FAILED),
    ([Action.APPROVE, Action.START, Action.FAIL, Action.RETRY], Status.APPROVED),
    ([Action.APPROVE, Action.START, Action.FAIL, Action.RETRY, Action.START, Action.COMPLETE],
     Status.COMPLETED),
    ([Action.APPROVE, Action.START, Action.COMPLETE, Action.REVERT], Status.REVERTING),
    ([Action.APPROVE, Action.START, Action.COMPLETE, Action.REVERT, Action.FINISH_REVERT],
     Status.REVERTED),
], ids=["approve-provision-complete", "reject", "cancel", "provisioning-fails", "failed-retry-approved",
        "retry-then-complete", "completed-revert-reverting", "reverting-reverted"])
def test_spec_diagram_paths_from_pending_approval(path: list[Action], end: Status) -> None:
    status = Status.PENDING_APPROVAL
    for action in path:
        status = next_status(status, action)

    assert status is end


@pytest.mark.parametrize("terminal", [Status.REJECTED, Status.CANCELLED, Status.REVERTED])
def test_terminal_statuses_allow_no_action(terminal: Status) -> None:
    for action in Action:
        with pytest.raises(InvalidTransition):
            next_status(terminal, action)


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.PENDING_APPROVAL])
def test_only_pending_tickets_can_be_approved_rejected_or_cancelled(status: Status) -> None:
    for action in (Action.APPROVE, Action.REJECT, Action.CANCEL):
        with pytest.raises(InvalidTransition):
            next_status(status, action)


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.FAILED])
def test_only_failed_tickets_can_be_retried(status: Status) -> None:
    with pytest.raises(InvalidTransition):
        next_status(status, Action.RETRY)


def test_only_completed_tickets_can_be_reverted() -> None:
    assert [s for s in Status if (s, Action.REVERT) in TRANSITIONS] == [Status.COMPLETED]


def test_open_statuses_are_those_before_an_outcome() -> None:
    assert OPEN_STATUSES == {Status.PENDING_APPROVAL, Status.APPROVED, Status.PROVISIONING}


@pytest.mark.parametrize("status,action", [("nonsense", "approve"), ("pending_approval", "explode")])
def test_unknown_status_or_action_is_refused(status: str, action: str) -> None:
    with pytest.raises(ValueError):
        next_status(status, action)
