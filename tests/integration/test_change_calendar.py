"""The rules of time on a real database (PostgreSQL, also through PgBouncer, and SQLite), through
the API and the use cases the workers and the sweep run, on our own clock: a freeze refuses
filing and holds approved work, maintenance delays the hand-off to its end, apply_at schedules,
an emergency goes through a freeze with two staff approvals, and filing reports what overlaps."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from service.adapters.models import Ticket
from service.adapters.provisioning import Operation
from service.api import create_app
from service.api.runtime import build_runtime
from service.app.provisioning import sweep as sweeping
from service.app.provisioning.pipeline import Timing, advance_ticket
from tests.conftest import World, utc
from tests.integration.api.test_calendar_kept import statements
from tests.helpers import assert_problem, change_body, upscale_body

pytestmark = pytest.mark.pgbouncer

START = utc(2030, 3, 2, 9, 0, 0)
HOUR = timedelta(hours=1)


@dataclass
class Provisioning:
    submits: list[dict[str, Any]] = field(default_factory=list)

    def submit(self, **kwargs: Any) -> Operation:
        self.submits.append(kwargs)
        return Operation(id=f"op-{len(self.submits)}", status="succeeded")

    def get(self, operation_id: str) -> Operation:
        return Operation(id=operation_id, status="succeeded")


@dataclass
class Desk:
    client: Any
    world: World
    uow_factory: Any
    provisioning: Provisioning
    published: list[str]
    now: datetime = START

    def post(self, path: str, who: str, body: Any = None) -> Any:
        return self.client.post(path, json=body, headers=self.world.auth(who))

    def window(self, kind: str, start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
        body = {"kind": kind, "title": f"{kind} test", "start": start.isoformat(), "end": end.isoformat(),
                **extra}
        response = self.post("/v1/windows", "support", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def file(self, body: dict[str, Any]) -> Any:
        return self.post("/v1/tickets", "customer_a", body)

    def approve(self, ticket_id: str, who: str = "support") -> Any:
        return self.post(f"/v1/tickets/{ticket_id}/approve", who)

    def work(self, ticket_id: str) -> str:
        return advance_ticket(ticket_id, uow=self.uow_factory(), client_for=lambda *_: self.provisioning,
                              clock=lambda: self.now, timing=Timing(), dispatch=None)

    def sweep(self) -> sweeping.SweepReport:
        return sweeping.sweep(uow=self.uow_factory(), now=self.now, lease=60,
                              dispatch=lambda ticket_id, *_a, **_k: self.published.append(ticket_id) or True)

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        return self.client.get(f"/v1/tickets/{ticket_id}", headers=self.world.auth("customer_a")).get_json()

    def events(self, ticket_id: str) -> list[dict[str, Any]]:
        return self.client.get(f"/v1/tickets/{ticket_id}/events",
                               headers=self.world.auth("customer_a")).get_json()["items"]

    def stored(self) -> int:
        with self.uow_factory() as uow:
            return uow.session.scalar(select(func.count()).select_from(Ticket))


def _desk(settings: Any, world: World, uow_factory: Any) -> Desk:
    published: list[str] = []
    holder: dict[str, Desk] = {}
    runtime = build_runtime(settings, clock=lambda: holder["desk"].now,
                            dispatch=lambda ticket_id, *_a, **_k: published.append(ticket_id) or True)
    app = create_app(settings, runtime)
    app.config["TESTING"] = True
    holder["desk"] = Desk(client=app.test_client(), world=world, uow_factory=uow_factory,
                          provisioning=Provisioning(), published=published)
    return holder["desk"]


@pytest.fixture
def desk(settings: Any, world: World, uow_factory: Any) -> Desk:
    return _desk(settings, world, uow_factory)


def stage_change(desk: Desk, **extra: Any) -> dict[str, Any]:
    return change_body(desk.world.envs["customer_a_stage"], **extra)


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- freeze at filing ---------------------------------------------------------------------------


def test_a_change_filed_inside_a_freeze_is_refused_naming_the_freeze_and_its_end(desk: Desk) -> None:
    freeze = desk.window("freeze", START - HOUR, START + 3 * HOUR, title="Black Friday")
    refused = assert_problem(desk.file(stage_change(desk)), 422, "freeze_window")
    assert refused["params"]["window_id"] == freeze["id"]
    assert refused["params"]["window_title"] == "Black Friday"
    assert refused["params"]["ends_at"].startswith("2030-03-02T12:00:00")
    assert "Black Friday" in refused["detail"]
    assert desk.stored() == 0


def test_freezes_back_to_back_are_reported_as_one_end(desk: Desk) -> None:
    desk.window("freeze", START - HOUR, START + HOUR)
    desk.window("freeze", START + HOUR, START + 5 * HOUR)
    refused = assert_problem(desk.file(stage_change(desk)), 422, "freeze_window")
    assert refused["params"]["ends_at"].startswith("2030-03-02T14:00:00")


def test_apply_at_inside_a_freeze_is_refused_and_after_it_accepted(desk: Desk) -> None:
    desk.window("freeze", START + HOUR, START + 3 * HOUR)
    assert_problem(desk.file(stage_change(desk, apply_at=iso(START + 2 * HOUR))), 422, "freeze_window")
    filed = desk.file(stage_change(desk, apply_at=iso(START + 3 * HOUR)))
    assert filed.status_code == 201, filed.get_json()
    assert filed.get_json()["apply_at"].startswith("2030-03-02T12:00:00")


def test_a_temporary_upscale_starting_inside_a_freeze_is_refused(desk: Desk) -> None:
    desk.window("freeze", START + HOUR, START + 3 * HOUR)
    body = upscale_body(desk.world.envs["customer_a_stage"],
                        period={"start": iso(START + 2 * HOUR), "end": iso(START + 9 * HOUR)})
    assert_problem(desk.file(body), 422, "freeze_window")
    assert desk.stored() == 0


def test_a_freeze_of_prod_does_not_refuse_a_stage_change(desk: Desk) -> None:
    desk.window("freeze", START - HOUR, START + HOUR, scope={"stage": "prod"})
    assert desk.file(stage_change(desk)).status_code == 201


def test_a_nightly_recurring_freeze_refuses_at_night_and_accepts_by_day(desk: Desk) -> None:
    desk.window("freeze", utc(2030, 1, 1, 21), utc(2030, 1, 2, 1), rrule="FREQ=DAILY",
                timezone="Europe/Berlin")
    assert_problem(desk.file(stage_change(desk, apply_at=iso(utc(2030, 3, 5, 23)))), 422, "freeze_window")
    assert desk.file(stage_change(desk, apply_at=iso(utc(2030, 3, 5, 12)))).status_code == 201


def test_apply_at_in_the_past_is_refused(desk: Desk) -> None:
    assert_problem(desk.file(stage_change(desk, apply_at=iso(START - HOUR))), 422, "apply_at_in_past")
    assert desk.stored() == 0


# --- emergencies --------------------------------------------------------------------------------


def test_an_emergency_needs_a_reason(desk: Desk) -> None:
    response = desk.file(stage_change(desk, emergency=True))
    body = assert_problem(response, 422, "emergency_reason_required")
    assert "emergency_reason" in body["errors"]
    assert desk.stored() == 0


def test_an_emergency_goes_through_a_freeze_and_needs_two_different_staff(desk: Desk) -> None:
    desk.window("freeze", START - HOUR, START + 3 * HOUR)
    filed = desk.file(stage_change(desk, emergency=True, emergency_reason="checkout is down"))
    assert filed.status_code == 201, filed.get_json()
    ticket = filed.get_json()
    assert (ticket["emergency"], ticket["emergency_reason"], ticket["approvals_required"]) == (
        True, "checkout is down", 2)
    assert desk.approve(ticket["id"]).get_json()["status"] == "pending_approval"
    assert_problem(desk.approve(ticket["id"]), 409, "already_approved")
    approved = desk.approve(ticket["id"], who="support_2").get_json()
    assert approved["status"] == "approved"
    assert desk.work(ticket["id"]) == "completed"


def test_an_emergency_skips_the_lead_time(desk: Desk, settings: Any, world: World, uow_factory: Any,
                                          tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n  - name: notice\n    match: {}\n    approval: single\n    min_notice_hours: 72\n")
    desk = _desk(dataclasses.replace(settings, approval_policy=str(path)), world, uow_factory)
    soon = iso(START + 2 * HOUR)
    body = assert_problem(desk.file(stage_change(desk, apply_at=soon)), 422, "lead_time")
    assert "apply_at" in body["errors"]
    assert desk.file(stage_change(desk, apply_at=soon, emergency=True,
                                  emergency_reason="security fix")).status_code == 201


# --- conflicts ----------------------------------------------------------------------------------


def test_filing_reports_the_windows_and_requests_its_time_overlaps(desk: Desk) -> None:
    maintenance = desk.window("maintenance", START + 2 * HOUR, START + 4 * HOUR)
    env = desk.world.envs["customer_a_stage"]
    upscale = desk.file(upscale_body(env, period={"start": iso(START + HOUR), "end": iso(START + 8 * HOUR)}))
    assert upscale.status_code == 201
    assert [(c["kind"], c["id"]) for c in upscale.get_json()["conflicts"]] == [("window", maintenance["id"])]
    change = desk.file(stage_change(desk, apply_at=iso(START + 5 * HOUR)))
    assert change.status_code == 201
    assert [(c["kind"], c["id"]) for c in change.get_json()["conflicts"]] == [
        ("ticket", upscale.get_json()["id"])]
    elsewhere = desk.file(change_body(desk.world.envs["customer_a_dev"], apply_at=iso(START + 5 * HOUR)))
    assert elsewhere.status_code == 201 and elsewhere.get_json()["conflicts"] == []


def test_options_tell_in_advance_about_freezes_and_what_lies_ahead(desk: Desk) -> None:
    freeze = desk.window("freeze", START - HOUR, START + 2 * HOUR)
    maintenance = desk.window("maintenance", START + 24 * HOUR, START + 26 * HOUR)
    env = desk.world.envs["customer_a_stage"]
    calendar = desk.client.get(f"/v1/environments/{env}/options",
                               headers=desk.world.auth("customer_a")).get_json()["calendar"]
    assert calendar["frozen_until"].startswith("2030-03-02T11:00:00")
    assert [c["id"] for c in calendar["conflicts"]] == [freeze["id"], maintenance["id"]]


# --- scheduled work and the hand-off ------------------------------------------------------------


def test_a_change_with_apply_at_waits_scheduled_until_then(desk: Desk) -> None:
    ticket_id = desk.file(stage_change(desk, apply_at=iso(START + 2 * HOUR))).get_json()["id"]
    approved = desk.approve(ticket_id).get_json()
    assert approved["status"] == "scheduled" and approved["not_before"].startswith("2030-03-02T11:00:00")
    desk.now = START + 2 * HOUR - timedelta(seconds=1)
    desk.sweep()
    assert desk.ticket(ticket_id)["status"] == "scheduled" and desk.published == []
    desk.now = START + 2 * HOUR
    assert desk.sweep().periods_begun == 1
    assert desk.published == [ticket_id]
    assert desk.work(ticket_id) == "completed"
    assert len(desk.provisioning.submits) == 1


def test_approval_inside_maintenance_waits_for_the_window_end(desk: Desk) -> None:
    ticket_id = desk.file(stage_change(desk)).get_json()["id"]
    desk.window("maintenance", START - HOUR, START + HOUR)
    approved = desk.approve(ticket_id).get_json()
    assert approved["status"] == "scheduled" and approved["not_before"].startswith("2030-03-02T10:00:00")
    desk.now = START + HOUR
    desk.sweep()
    assert desk.work(ticket_id) == "completed"


def test_a_freeze_declared_after_approval_holds_the_work_until_it_ends(desk: Desk) -> None:
    ticket_id = desk.file(stage_change(desk)).get_json()["id"]
    assert desk.approve(ticket_id).get_json()["status"] == "approved"
    desk.window("freeze", START - HOUR, START + 3 * HOUR, title="Peak season")
    assert desk.work(ticket_id) == "skipped"
    held = desk.ticket(ticket_id)
    assert held["status"] == "scheduled" and held["not_before"].startswith("2030-03-02T12:00:00")
    assert desk.provisioning.submits == []
    assert "held by a freeze" in desk.events(ticket_id)[-1]["reason"]
    desk.now = START + 2 * HOUR
    assert desk.sweep().periods_begun == 0
    desk.now = START + 3 * HOUR
    assert desk.sweep().periods_begun == 1
    assert desk.work(ticket_id) == "completed"
    assert len(desk.provisioning.submits) == 1


def test_a_freeze_declared_over_a_scheduled_change_holds_it_past_its_time(desk: Desk) -> None:
    ticket_id = desk.file(stage_change(desk, apply_at=iso(START + HOUR))).get_json()["id"]
    assert desk.approve(ticket_id).get_json()["status"] == "scheduled"
    desk.window("freeze", START + HOUR - timedelta(minutes=5), START + 4 * HOUR)
    desk.now = START + HOUR
    assert desk.sweep().periods_begun == 0
    assert desk.ticket(ticket_id)["not_before"].startswith("2030-03-02T13:00:00")
    desk.now = START + 4 * HOUR
    assert desk.sweep().periods_begun == 1


def test_a_temporary_upscale_frozen_to_its_end_expires_saying_so(desk: Desk) -> None:
    env = desk.world.envs["customer_a_stage"]
    ticket_id = desk.file(upscale_body(env, period={"start": iso(START + HOUR),
                                                    "end": iso(START + 3 * HOUR)})).get_json()["id"]
    assert desk.approve(ticket_id).get_json()["status"] == "scheduled"
    desk.window("freeze", START + HOUR - timedelta(minutes=1), START + 5 * HOUR)
    desk.now = START + HOUR
    desk.sweep()
    desk.now = START + 3 * HOUR
    desk.sweep()
    assert desk.ticket(ticket_id)["status"] == "expired"
    assert desk.provisioning.submits == []


def test_a_freeze_declared_between_two_filings_refuses_the_second(desk: Desk) -> None:
    desk.window("maintenance", START + 5 * HOUR, START + 6 * HOUR)  # filing looks at the windows
    assert desk.file(upscale_body(desk.world.envs["customer_a_stage"])).status_code == 201
    desk.window("freeze", START - HOUR, START + HOUR)
    assert_problem(desk.file(stage_change(desk)), 422, "freeze_window")


def test_a_withdrawn_freeze_no_longer_refuses(desk: Desk) -> None:
    freeze = desk.window("freeze", START - HOUR, START + HOUR)
    assert_problem(desk.file(stage_change(desk)), 422, "freeze_window")
    assert desk.client.delete(f"/v1/windows/{freeze['id']}", headers=desk.world.auth("support")).status_code == 204
    assert desk.file(stage_change(desk)).status_code == 201


def test_a_window_declared_through_one_process_applies_at_once_in_another_that_keeps_the_windows(
        desk: Desk, settings: Any, world: World, uow_factory: Any) -> None:
    other = _desk(settings, world, uow_factory)  # a second API process: its own engine, its own kept windows
    desk.window("maintenance", START + 5 * HOUR, START + 6 * HOUR)
    assert other.file(upscale_body(world.envs["customer_a_stage"])).status_code == 201  # keeps them now
    freeze = desk.window("freeze", START - HOUR, START + HOUR)
    assert_problem(other.file(stage_change(other)), 422, "freeze_window")
    assert desk.client.delete(f"/v1/windows/{freeze['id']}", headers=world.auth("support")).status_code == 204
    assert other.file(stage_change(other)).status_code == 201


# --- load-test announcements ----------------------------------------------------------------------

DAYS = timedelta(days=1)


def load_test(desk: Desk, env: str = "customer_a_stage", start: datetime = START + 4 * DAYS,
              hours: int = 3, **extra: Any) -> dict[str, Any]:
    return {"type": "load_test", "environment_id": desk.world.envs[env], "summary": "spring sale test",
            "window": {"start": iso(start), "end": iso(start + hours * HOUR)}, "peak_rps": 2500,
            "source_cidrs": ["203.0.113.0/24", "2001:db8::/48"], **extra}


def test_a_load_test_is_announced_at_its_start_and_withdrawn_at_its_end_once_each(desk: Desk) -> None:
    filed = desk.file(load_test(desk))
    assert filed.status_code == 201, filed.get_json()
    ticket = filed.get_json()
    assert ticket["type"] == "load_test" and ticket["load_test"]["peak_rps"] == 2500
    assert desk.approve(ticket["id"]).get_json()["status"] == "scheduled"
    desk.now = START + 4 * DAYS
    assert desk.sweep().periods_begun == 1
    assert desk.work(ticket["id"]) == "completed"
    desk.now = START + 4 * DAYS + 3 * HOUR
    assert desk.sweep().reverts_started == 1
    assert desk.work(ticket["id"]) == "reverted"
    desk.sweep()
    assert desk.work(ticket["id"]) == "skipped"
    assert [s["action"] for s in desk.provisioning.submits] == ["announce", "withdraw"]
    announced = desk.provisioning.submits[0]["request"]
    assert announced["type"] == "load_test"
    assert announced["load_test"]["source_cidrs"] == ["203.0.113.0/24", "2001:db8::/48"]


def test_a_load_test_on_dev_is_refused(desk: Desk) -> None:
    assert_problem(desk.file(load_test(desk, env="customer_a_dev")), 422, "dev_not_for_load_tests")
    assert desk.stored() == 0


def test_a_load_test_needs_three_days_notice_unless_an_emergency(desk: Desk) -> None:
    body = assert_problem(desk.file(load_test(desk, start=START + DAYS)), 422, "lead_time")
    assert "window.start" in body["errors"]
    assert desk.file(load_test(desk, start=START + DAYS, emergency=True,
                               emergency_reason="unplanned campaign")).status_code == 201


@pytest.mark.parametrize("changes, field", [
    ({"source_cidrs": ["not-a-network"]}, "source_cidrs"),
    ({"source_cidrs": []}, "source_cidrs"),
    ({"peak_rps": 0}, "peak_rps"),
    ({"resources": [{"component": "yves", "size": "large"}]}, "resources"),
    ({"window": None}, "window"),
])
def test_a_malformed_load_test_is_refused_naming_the_field(desk: Desk, changes: dict[str, Any], field: str) -> None:
    body = assert_problem(desk.file({**load_test(desk), **changes}), 422)
    assert any(key.startswith(field) for key in body["errors"]), body["errors"]
    assert desk.stored() == 0


def test_a_load_test_may_name_the_upscale_that_covers_its_window(desk: Desk) -> None:
    env = desk.world.envs["customer_a_stage"]
    upscale = desk.file(upscale_body(env, period={"start": iso(START + 4 * DAYS - HOUR),
                                                  "end": iso(START + 5 * DAYS)})).get_json()
    assert_problem(desk.file(load_test(desk, start=START + 6 * DAYS, upscale_ticket_id=upscale["id"])),
                   422, "load_test_upscale_mismatch")
    filed = desk.file(load_test(desk, upscale_ticket_id=upscale["id"]))
    assert filed.status_code == 201, filed.get_json()
    assert [c["id"] for c in filed.get_json()["conflicts"]] == [upscale["id"]]


# --- the ends of time -----------------------------------------------------------------------------


def test_requests_and_calendars_at_the_ends_of_storable_time_are_answered_not_failed(desk: Desk) -> None:
    # Window arithmetic steps through weeks and a day of slack; at the years 1 and 9999 those
    # steps would leave Python's datetime range (OverflowError: a 500 before).
    desk.window("maintenance", START - HOUR, START + 6 * HOUR, rrule="FREQ=DAILY")
    far = desk.file(stage_change(desk, apply_at="9999-12-31T23:00:00+00:00"))
    assert far.status_code == 201, far.get_json()
    assert far.get_json()["apply_at"].startswith("9999-12-31T23:00:00")
    late = desk.file(upscale_body(desk.world.envs["customer_a_stage"],
                                  period={"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T23:59:59Z"}))
    assert late.status_code == 201, late.get_json()
    env = desk.world.envs["customer_a_stage"]
    for query in ("from=0001-01-01T00:00:00Z&to=0001-01-10T00:00:00Z",
                  "from=9999-12-20T00:00:00Z&to=9999-12-31T23:59:59Z",
                  "from=9999-12-31T23:00:00Z", f"environment_id={env}&from=9999-12-20T00:00:00Z"):
        for who in ("support", "customer_a"):
            read = desk.client.get(f"/v1/calendar?{query}", headers=desk.world.auth(who))
            assert read.status_code == 200, (query, who, read.get_json())
    assert desk.client.get("/v1/calendar?from=9999-12-31T23:00:00Z", headers=desk.world.auth("support")
                           ).get_json()["to"].startswith("9999-12-31T23:59:59")


def test_an_approval_and_a_claim_read_the_windows_version_with_the_ticket_and_see_a_window_of_another_process(
        desk: Desk, settings: Any, world: World, uow_factory: Any) -> None:
    """The windows' version comes in the statement that reads the ticket, not in one of its own,
    and it is the current one: a freeze declared through another process after this one kept
    the windows holds the next approval and the next claim here."""
    other = _desk(settings, world, uow_factory)
    desk.window("maintenance", START + 5 * HOUR, START + 6 * HOUR)
    early = desk.file(stage_change(desk)).get_json()["id"]
    late = desk.file(upscale_body(world.envs["customer_a_stage"])).get_json()["id"]
    assert desk.approve(early).get_json()["status"] == "approved"  # this process keeps the windows now
    other.window("freeze", START - HOUR, START + 3 * HOUR, title="Peak season")
    approved, seen = statements(lambda: desk.approve(late).get_json())
    assert approved["status"] == "scheduled" and approved["not_before"].startswith("2030-03-02T12:00:00")
    _with_the_ticket(seen)
    outcome, seen = statements(lambda: desk.work(early))
    assert outcome == "skipped" and desk.ticket(early)["status"] == "scheduled"
    assert desk.provisioning.submits == []
    _with_the_ticket(seen)


def _with_the_ticket(seen: list[str]) -> None:
    """The windows' version was read by the statement that reads the ticket, and otherwise only
    with the windows themselves (read again because another process changed them)."""
    versions = [" ".join(s.split()) for s in seen if "change_windows_version" in s]
    assert versions and versions[0].startswith("SELECT tickets."), versions
    assert all(s.startswith("SELECT tickets.") or "FROM change_windows WHERE" in s for s in versions), versions
