"""End to end with real seconds and real processes (API, worker, beat, simulator): a load test is
announced to provisioning at its window's start and withdrawn at its end, once each; a freeze
declared over a scheduled upscale holds it and releases it at the freeze's end."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

pytestmark = pytest.mark.e2e

POLICY = """\
rules:
  - name: load tests at short notice in the test
    match: {type: load_test}
    approval: single
    min_notice_hours: 0
"""


def _at(moment: datetime) -> str:
    return moment.isoformat()


def test_a_load_test_is_announced_at_its_start_and_withdrawn_at_its_end_once_each(
        make_stack: Callable[..., Any], private_redis: Any, tmp_path: Path) -> None:
    policy = tmp_path / "approval-policy.yaml"
    policy.write_text(POLICY)
    stack = make_stack(redis_url=private_redis.url, APPROVAL_POLICY=str(policy))
    start = datetime.now(timezone.utc) + timedelta(seconds=5)
    end = start + timedelta(seconds=8)
    filed = stack.api("POST", "/tickets", json={
        "type": "load_test", "environment_id": stack.seed.envs["stage"], "summary": "checkout load test",
        "window": {"start": _at(start), "end": _at(end)}, "peak_rps": 800,
        "source_cidrs": ["198.51.100.0/24"]})
    assert filed.status_code == 201, filed.text
    ticket_id = filed.json()["id"]
    assert stack.approve(ticket_id).json()["status"] == "scheduled"

    stack.wait_for_status(ticket_id, "completed", timeout=40)
    assert datetime.now(timezone.utc) >= start
    stack.wait_for_status(ticket_id, "reverted", timeout=40)

    stats = stack.sim_stats()
    assert stats["by_key"].get(f"{ticket_id}:announce") == 1
    assert stats["by_key"].get(f"{ticket_id}:withdraw") == 1
    assert not any(key.startswith(f"{ticket_id}:apply") or key.startswith(f"{ticket_id}:revert")
                   for key in stats["by_key"])
    first = stats["first_submitted_at"]
    assert first[f"{ticket_id}:announce"] >= start.timestamp() - 0.5
    assert first[f"{ticket_id}:withdraw"] >= end.timestamp() - 0.5


def test_a_freeze_declared_over_a_scheduled_upscale_holds_it_until_the_freeze_ends(
        make_stack: Callable[..., Any], private_redis: Any) -> None:
    stack = make_stack(redis_url=private_redis.url)
    now = datetime.now(timezone.utc)
    temporary = stack.file("stage", size="large", period={"start": _at(now + timedelta(seconds=3)),
                                                          "end": _at(now + timedelta(minutes=10))})
    assert stack.approve(temporary["id"]).json()["status"] == "scheduled"
    freeze_end = now + timedelta(seconds=12)
    declared = stack.api("POST", "/windows", who="support", json={
        "kind": "freeze", "title": "e2e freeze", "start": _at(now), "end": _at(freeze_end)})
    assert declared.status_code == 201, declared.text

    done = stack.wait_for_status(temporary["id"], "completed", timeout=60)
    assert datetime.now(timezone.utc) >= freeze_end
    first = stack.sim_stats()["first_submitted_at"]
    assert first[f"{temporary['id']}:apply"] >= freeze_end.timestamp() - 0.5
    assert any("held by a freeze" in (e["reason"] or "") for e in stack.events(temporary["id"]))
    assert done["status"] == "completed"
