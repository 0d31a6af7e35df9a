"""The console's own small rules, without I/O: which buttons a status offers, SLA, ages, redirects."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask

from service.console.views import age
from service.domain.lifecycle import Status
from service.app.staff.ticket_details import allowed_actions
from service.app.staff.worklist import CountsCache, QueueRow, due_at
from tests.helpers import utc
from tests.support.fakes import Clock

FILED = utc(2026, 11, 28, 9, 0)


def test_buttons_follow_the_transition_table() -> None:
    expected = {Status.PENDING_APPROVAL: {"approve", "reject"}, Status.FAILED: {"retry"}}
    for status in Status:
        assert allowed_actions(status) == expected.get(status, set()), status


def _row(status: str, stage: str, hours: dict[str, float]) -> QueueRow:
    return QueueRow(id="t", number=1, created_at=FILED, type="upscale", status=status, summary="s",
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


def test_counts_are_kept_per_filter_shape_for_their_seconds_and_no_longer() -> None:
    clock = Clock(FILED)
    cache = CountsCache(5, clock=clock, max_entries=2)
    taken = cache.put((("stage", "prod"),), {"failed": 3})
    assert taken == FILED and cache.get((("stage", "prod"),)) == (FILED, {"failed": 3})
    assert cache.get(()) is None  # another shape
    clock.tick(4.9)
    assert cache.get((("stage", "prod"),)) == (FILED, {"failed": 3})
    clock.tick(0.1)
    assert cache.get((("stage", "prod"),)) is None  # 5 s after the count
    cache.put((), {"failed": 1})
    clock.now = FILED - timedelta(seconds=1)  # a clock set back: what was kept is not trusted
    assert cache.get(()) is None
    for n in range(3):  # bounded: full, it starts afresh
        cache.put((("account", str(n)),), {})
    assert cache.get((("account", "0"),)) is None and cache.get((("account", "2"),)) is not None
