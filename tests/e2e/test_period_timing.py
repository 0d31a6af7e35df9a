"""End to end with real seconds: a temporary upscale waits for its period, a permanent upscale of
the same component completes during it, and the revert at the end keeps the later size."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def _at(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture
def stack(make_stack: Any, private_redis: Any) -> Any:
    """A broker of its own: the timing here must not depend on anyone else's workers."""
    return make_stack(redis_url=private_redis.url)


def test_a_scheduled_upscale_starts_on_time_and_its_revert_keeps_a_later_size(stack: Any) -> None:
    start = datetime.now(timezone.utc) + timedelta(seconds=5)
    end = start + timedelta(seconds=12)
    temporary = stack.file("stage", size="large", period={"start": _at(start), "end": _at(end)})

    approved = stack.approve(temporary["id"]).json()

    assert approved["status"] == "scheduled"
    while datetime.now(timezone.utc) < start - timedelta(seconds=1):
        assert stack.ticket(temporary["id"])["status"] == "scheduled"
        assert f"{temporary['id']}:apply" not in stack.sim_stats()["by_key"]
        time.sleep(0.5)
    stack.wait_for_status(temporary["id"], "completed", timeout=30)
    assert datetime.now(timezone.utc) >= start
    began = next(e for e in stack.events(temporary["id"]) if e["from_status"] == "scheduled")
    assert began["actor"] == {"kind": "system", "name": "sweep"}
    assert datetime.fromisoformat(began["at"]) >= start
    assert stack.environment("stage")["sizes"]["yves"] == "large"

    permanent = stack.file("stage", size="xlarge")
    stack.approve(permanent["id"])
    stack.wait_for_status(permanent["id"], "completed", timeout=30)
    assert datetime.now(timezone.utc) < end, "the permanent upscale must complete within the period"

    reverted = stack.wait_for_status(temporary["id"], "reverted", timeout=40)

    assert stack.environment("stage")["sizes"]["yves"] == "xlarge"
    assert reverted["status"] == "reverted"
    last = stack.events(temporary["id"])[-1]
    assert last["actor"] == {"kind": "system", "name": "worker"}
    assert "left yves at xlarge" in last["reason"]
    keys = stack.sim_stats()["by_key"]
    assert keys.get(f"{temporary['id']}:apply") == 1 and keys.get(f"{permanent['id']}:apply") == 1
    assert f"{temporary['id']}:revert" not in keys  # nothing of it was left to give back
