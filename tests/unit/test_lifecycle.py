"""The ticket lifecycle: every (status, action) pair either moves where the table says or raises."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import product

import pytest

from service.domain.errors import InvalidTransition, PeriodEnded, RuleViolation
from service.domain.lifecycle import (
    EFFECTS, OPEN_STATUSES, TRANSITIONS, Action, Effect, ProvisioningAction, Status, action_for,
    ensure_reason, next_status,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)

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
    ([Action.SCHEDULE, Action.BEGIN_PERIOD, Action.START, Action.COMPLETE], Status.COMPLETED),
    ([Action.SCHEDULE, Action.EXPIRE], Status.EXPIRED),
    ([Action.EXPIRE], Status.EXPIRED),
    ([Action.APPROVE, Action.EXPIRE], Status.EXPIRED),
], ids=["approve-provision-complete", "reject", "cancel", "provisioning-fails", "failed-retry-approved",
        "retry-then-complete", "completed-revert-reverting", "reverting-reverted",
        "scheduled-period-begins-complete", "scheduled-expires", "pending-expires", "approved-expires"])
def test_spec_diagram_paths_from_pending_approval(path: list[Action], end: Status) -> None:
    status = Status.PENDING_APPROVAL
    for action in path:
        status = next_status(status, action)

    assert status is end


@pytest.mark.parametrize("terminal", [Status.REJECTED, Status.CANCELLED, Status.REVERTED, Status.EXPIRED])
def test_terminal_statuses_allow_no_action(terminal: Status) -> None:
    for action in Action:
        with pytest.raises(InvalidTransition):
            next_status(terminal, action)


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.PENDING_APPROVAL])
def test_only_pending_tickets_can_be_approved_rejected_or_cancelled(status: Status) -> None:
    for action in (Action.APPROVE, Action.SCHEDULE, Action.REJECT, Action.CANCEL):
        with pytest.raises(InvalidTransition):
            next_status(status, action)


@pytest.mark.parametrize("status", [s for s in Status if s is not Status.FAILED])
def test_only_failed_tickets_can_be_retried(status: Status) -> None:
    with pytest.raises(InvalidTransition):
        next_status(status, Action.RETRY)


def test_only_completed_tickets_can_be_reverted() -> None:
    assert [s for s in Status if (s, Action.REVERT) in TRANSITIONS] == [Status.COMPLETED]


def test_open_statuses_are_those_before_an_outcome() -> None:
    assert OPEN_STATUSES == {Status.PENDING_APPROVAL, Status.SCHEDULED, Status.APPROVED,
                             Status.PROVISIONING}


def test_an_expired_request_is_not_open_and_a_provisioning_one_cannot_expire() -> None:
    assert Status.EXPIRED not in OPEN_STATUSES
    with pytest.raises(InvalidTransition):
        next_status(Status.PROVISIONING, Action.EXPIRE)


# --- the effects table: every move has an entry, and none names a move the table lacks -----

MOVES = sorted({(before, after) for (before, _), after in TRANSITIONS.items()})


@pytest.mark.parametrize("before,after", MOVES, ids=[f"{b.value}-{a.value}" for b, a in MOVES])
def test_every_transition_has_its_side_effects_in_the_table(before: Status, after: Status) -> None:
    assert (before, after) in EFFECTS
    assert Effect.NOTIFY in EFFECTS[(before, after)], "the portal hears of every status change"


def test_the_effects_table_names_no_move_the_transition_table_lacks() -> None:
    assert set(EFFECTS) == set(MOVES)


def test_a_worker_is_handed_exactly_the_moves_into_work() -> None:
    handed = {after for (_, after), effects in EFFECTS.items() if Effect.HAND_OFF in effects}
    assert handed == {Status.APPROVED, Status.REVERTING}


def test_the_decision_clock_stops_at_approve_schedule_and_reject_only() -> None:
    decided = {after for (_, after), effects in EFFECTS.items() if Effect.DECIDED in effects}
    assert decided == {Status.APPROVED, Status.SCHEDULED, Status.REJECTED}
    assert Effect.DECIDED not in EFFECTS[(Status.FAILED, Status.APPROVED)]


# --- what a person's action becomes --------------------------------------------------------


def _approve(start: datetime | None, end: datetime | None) -> Action:
    return action_for(Action.APPROVE, status=Status.PENDING_APPROVAL, failed=None,
                      period=(start, end), now=NOW)


def test_approving_a_period_that_starts_later_schedules_it() -> None:
    assert _approve(NOW + HOUR, NOW + 2 * HOUR) is Action.SCHEDULE


def test_approving_a_period_that_has_begun_or_none_approves_at_once() -> None:
    assert _approve(NOW - HOUR, NOW + HOUR) is Action.APPROVE
    assert _approve(NOW, NOW + HOUR) is Action.APPROVE
    assert _approve(None, None) is Action.APPROVE


def test_approving_a_period_that_has_ended_is_refused() -> None:
    with pytest.raises(PeriodEnded) as raised:
        _approve(NOW - 2 * HOUR, NOW)
    assert raised.value.rule == "period_ended"


@pytest.mark.parametrize("failed,move", [("apply", Action.RETRY), ("revert", Action.RETRY_REVERT),
                                         (None, Action.RETRY)])
def test_retry_repeats_the_operation_that_failed(failed: str | None, move: Action) -> None:
    assert action_for(Action.RETRY, status=Status.FAILED, failed=failed, period=(None, None),
                      now=NOW) is move
    assert ProvisioningAction(failed or "apply")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_rejection_without_a_reason_is_refused(reason: str | None) -> None:
    with pytest.raises(RuleViolation) as raised:
        ensure_reason(Action.REJECT, reason)
    assert raised.value.extra["errors"] == {"reason": ["required"]}


def test_other_actions_need_no_reason() -> None:
    for action in (Action.APPROVE, Action.CANCEL, Action.RETRY):
        ensure_reason(action, None)


@pytest.mark.parametrize("status,action", [("nonsense", "approve"), ("pending_approval", "explode")])
def test_unknown_status_or_action_is_refused(status: str, action: str) -> None:
    with pytest.raises(ValueError):
        next_status(status, action)
