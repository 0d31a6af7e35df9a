"""End to end with a price list: the running API, two workers, beat and the simulator. A
temporary upscale with a period of seconds is quoted, accepted, applied and reverted, and leaves
one closed usage row whose days match the period; two workers never open two rows for one apply."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from service.domain.prices import days_of
from service.entrypoints.up import SAMPLE_PRICE_LIST

pytestmark = pytest.mark.e2e


def period(seconds_from_now: float, length: float) -> dict[str, str]:
    start = datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)
    return {"start": start.isoformat(), "end": (start + timedelta(seconds=length)).isoformat()}


def upscale(stack: Any, env: str, when: dict[str, str]) -> dict[str, Any]:
    return {"type": "upscale", "environment_id": stack.seed.envs[env], "summary": "load test",
            "resources": [{"component": "yves", "size": "large"}], "period": when}


def file_accepted(stack: Any, body: dict[str, Any]) -> dict[str, Any]:
    quote = stack.api("POST", "/quotes", json=body)
    assert quote.status_code == 200, quote.text
    refused = stack.api("POST", "/tickets", json=body)
    assert refused.status_code == 422 and refused.json()["rule"] == "charges_not_accepted", refused.text
    filed = stack.api("POST", "/tickets", json={**body, "accept_charges": quote.json()["accept_charges"]})
    assert filed.status_code == 201, filed.text
    return filed.json()


def test_a_temporary_upscale_of_seconds_leaves_one_closed_usage_row_of_its_days(
        make_stack: Callable[..., Any]) -> None:
    stack = make_stack(PRICE_LIST=str(SAMPLE_PRICE_LIST))
    when = period(2, 5)
    ticket = file_accepted(stack, upscale(stack, "stage", when))
    assert ticket["charges"]["accepted"]["amount"] == "18.50"
    stack.approve(ticket["id"])
    stack.wait_for_status(ticket["id"], "reverted", timeout=45)

    rows = stack.query("SELECT component, started_at, ended_at, ended_by FROM usage WHERE ticket_id = :t",
                       t=ticket["id"])
    assert len(rows) == 1
    component, started, ended, ended_by = rows[0]
    assert component == "yves" and ended is not None and ended_by == ticket["id"]
    expected = days_of(datetime.fromisoformat(when["start"]), datetime.fromisoformat(when["end"]))
    assert days_of(started, ended) == expected == 1
    report = stack.api("GET", f"/usage?month={started:%Y-%m}").json()
    assert [(i["component"], i["days"], i["charge"]) for i in report["items"]] == [("yves", expected, "18.50")]


def test_two_workers_never_open_two_rows_for_one_apply(make_stack: Callable[..., Any]) -> None:
    stack = make_stack(PRICE_LIST=str(SAMPLE_PRICE_LIST))
    stack.start_worker()  # a second worker on the same queues
    envs = [f"stage{i:02d}" for i in range(6)]
    ids = [file_accepted(stack, upscale(stack, env, period(2, 3600)))["id"] for env in envs]
    for ticket_id in ids:
        stack.approve(ticket_id)
    stack.wait_for_all(ids, "completed", timeout=60)
    rows = stack.query("SELECT ticket_id, count(*) FROM usage WHERE ticket_id = ANY(:ids) GROUP BY ticket_id",
                       ids=ids)
    assert sorted(rows) == sorted((ticket_id, 1) for ticket_id in ids)
    assert stack.sim_stats()["applied"] == {f"{t}:apply": 1 for t in ids}
