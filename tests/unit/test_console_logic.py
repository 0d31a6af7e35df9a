"""The console's own small rules, without I/O: which buttons a status offers, SLA, ages, redirects."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask

from service.console.views import age
from service.domain.lifecycle import Status
from service.ticket_details import allowed_actions
from service.worklist import QueueRow, due_at
from tests.helpers import utc

FILED = utc(2026, 11, 28, 9, 0)


def test_buttons_follow_the_transition_table() -> None:
    expected = {Status.PENDING_APPROVAL: {"approve", "reject"}, Status.FAILED: {"retry"}}
    for status in Status:
        assert allowed_actions(status) == expected.get(status, set()), status


def _row(status: str, stage: str, hours: dict[str, float]) -> QueueRow:
    return QueueRow(id="t", created_at=FILED, type="upscale", status=status, summary="s",
                    account_name="a", environment_name="e", stage=stage,
                    due_at=due_at(FILED, stage, hours))


def test_only_a_ticket_waiting_for_a_decision_past_its_stage_sla_is_overdue() -> None:
    hours = {"stage": 8.0, "prod": 4.0}
    assert not _row("pending_approval", "stage", hours).overdue(FILED + timedelta(hours=8))
    assert _row("pending_approval", "stage", hours).overdue(FILED + timedelta(hours=8, seconds=1))
    assert _row("pending_approval", "prod", hours).overdue(FILED + timedelta(hours=5))
    assert not _row("pending_approval", "dev", hours).overdue(FILED + timedelta(days=30))
    assert not _row("failed", "prod", hours).overdue(FILED + timedelta(days=1))


def test_ages_read_in_minutes_hours_or_days() -> None:
    assert age(FILED, FILED + timedelta(minutes=7)) == "7 min"
    assert age(FILED, FILED + timedelta(hours=9, minutes=5)) == "9 h 05 min"
    assert age(FILED, FILED + timedelta(days=3, hours=2)) == "3 days"
    assert age(FILED, FILED - timedelta(minutes=1)) == "0 min"


def test_sign_in_only_returns_to_a_console_page() -> None:
    from service.console.signin import _safe_next

    app = Flask("t")
    from service.console import blp

    app.register_blueprint(blp)
    with app.test_request_context("/"):
        assert _safe_next("/console/tickets/1?x=1") == "/console/tickets/1?x=1"
        for target in (None, "", "https://evil.example/", "//evil.example/console/", "/v1/tickets",
                       "/console/\\evil"):
            assert _safe_next(target) == "/console/", target
