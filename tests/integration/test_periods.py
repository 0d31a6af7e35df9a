"""Temporary upscales on a real database (PostgreSQL, also through PgBouncer, and SQLite), through
the API and the use cases the workers run, with our own clock: applied at the period's start,
never after its end, expired when the end passes first, and reverted at the end without undoing
later requests. Provisioning is a fake that records what it was asked."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from service.app.provisioning import sweep as sweeping
from service.api import create_app
from service.api.runtime import build_runtime
from service.adapters.models import Environment, Ticket, TicketEvent
from service.app.provisioning.pipeline import Timing, advance_ticket
from service.adapters.provisioning import Operation
from tests.conftest import World, upscale_body, utc

pytestmark = pytest.mark.pgbouncer

START = utc(2030, 3, 2, 9, 0, 0)
HOUR = timedelta(hours=1)


@dataclass
class Provisioning:
    """Every operation succeeds at once; records what was submitted."""

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

    def clock(self) -> datetime:
        return self.now

    def post(self, path: str, who: str, body: Any = None, **headers: str) -> Any:
        return self.client.post(path, json=body, headers=self.world.auth(who) | headers)

    def file(self, start: datetime | None, end: datetime | None, env: str = "customer_a_stage",
             resources: list[dict[str, str]] | None = None) -> str:
        body = upscale_body(self.world.envs[env])
        if start is not None:
            body["period"] = {"start": start.isoformat(), "end": end.isoformat()}
        if resources is not None:
            body["resources"] = resources
        response = self.post("/v1/tickets", "customer_a", body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    def approve(self, ticket_id: str, **body: str) -> Any:
        return self.post(f"/v1/tickets/{ticket_id}/approve", "support", body or None)

    def work(self, ticket_id: str) -> str:
        return advance_ticket(ticket_id, uow=self.uow_factory(), client_for=lambda *_: self.provisioning,
                              clock=self.clock, timing=Timing(), dispatch=None)

    def sweep(self) -> sweeping.SweepReport:
        return sweeping.sweep(uow=self.uow_factory(), now=self.now, lease=60,
                              dispatch=lambda ticket_id, *_a, **_k: self.published.append(ticket_id) or True)

    def status(self, ticket_id: str) -> str:
        return self.client.get(f"/v1/tickets/{ticket_id}", headers=self.world.auth("customer_a")).get_json()[
            "status"]

    def events(self, ticket_id: str) -> list[dict[str, Any]]:
        return self.client.get(f"/v1/tickets/{ticket_id}/events",
                               headers=self.world.auth("customer_a")).get_json()["items"]

    def sizes(self, env: str = "customer_a_stage") -> dict[str, str]:
        with self.uow_factory() as uow:
            return dict(uow.session.get(Environment, self.world.envs[env]).sizes)


@pytest.fixture
def desk(settings: Any, world: World, uow_factory: Any) -> Desk:
    published: list[str] = []
    holder: dict[str, Desk] = {}
    runtime = build_runtime(settings, clock=lambda: holder["desk"].now,
                            dispatch=lambda ticket_id, *_a, **_k: published.append(ticket_id) or True)
    app = create_app(settings, runtime)
    app.config["TESTING"] = True
    holder["desk"] = Desk(client=app.test_client(), world=world, uow_factory=uow_factory,
                          provisioning=Provisioning(), published=published)
    return holder["desk"]


def _moves(desk: Desk, ticket_id: str) -> list[tuple[str, str, str]]:
    return [(e["to_status"], e["actor"]["kind"], e["actor"].get("name") or e["actor"]["id"])
            for e in desk.events(ticket_id)]


# --- applied at the period's start ------------------------------------------------------------


def test_approved_before_its_start_it_waits_scheduled_and_provisioning_hears_nothing(desk: Desk) -> None:
    ticket_id = desk.file(START + 2 * HOUR, START + 5 * HOUR)

    response = desk.approve(ticket_id)

    assert response.status_code == 200 and response.get_json()["status"] == "scheduled"
    assert desk.published == []
    assert desk.work(ticket_id) == "skipped"
    desk.now = START + 2 * HOUR - timedelta(seconds=1)
    assert desk.sweep().periods_begun == 0
    assert desk.provisioning.submits == [] and desk.sizes()["yves"] == "medium"

    desk.now = START + 2 * HOUR
    assert desk.sweep().periods_begun == 1
    assert desk.published == [ticket_id]
    assert desk.work(ticket_id) == "completed"

    assert len(desk.provisioning.submits) == 1 and desk.sizes()["yves"] == "large"
    assert _moves(desk, ticket_id) == [
        ("pending_approval", "user", desk.world.users["customer_a"]),
        ("scheduled", "user", desk.world.users["support"]),
        ("approved", "system", "sweep"),
        ("provisioning", "system", "worker"),
        ("completed", "system", "worker")]


def test_approved_after_its_start_it_is_applied_at_once(desk: Desk) -> None:
    ticket_id = desk.file(START + HOUR, START + 5 * HOUR)
    desk.now = START + 2 * HOUR

    assert desk.approve(ticket_id).get_json()["status"] == "approved"
    assert desk.published == [ticket_id]
    assert desk.work(ticket_id) == "completed"


def test_a_scheduled_request_holds_its_environment_like_any_open_one(desk: Desk) -> None:
    ticket_id = desk.file(START + 2 * HOUR, START + 5 * HOUR)
    desk.approve(ticket_id)

    response = desk.post("/v1/tickets", "customer_a", upscale_body(desk.world.envs["customer_a_stage"]))

    assert response.status_code == 409
    assert response.get_json()["open_ticket_id"] == ticket_id


# --- never applied after its end --------------------------------------------------------------


def test_a_pending_request_whose_period_ended_expires_and_blocks_nothing(desk: Desk) -> None:
    ticket_id = desk.file(START + HOUR, START + 2 * HOUR)
    desk.now = START + 2 * HOUR

    assert desk.sweep().expired == 1

    assert desk.status(ticket_id) == "expired"
    last = desk.events(ticket_id)[-1]
    assert last["actor"] == {"kind": "system", "name": "sweep"}
    assert "period ended" in last["reason"]
    again = desk.post("/v1/tickets", "customer_a", upscale_body(desk.world.envs["customer_a_stage"]))
    assert again.status_code == 201


def test_a_scheduled_request_whose_start_the_sweep_missed_expires_unapplied(desk: Desk) -> None:
    ticket_id = desk.file(START + HOUR, START + 2 * HOUR)
    desk.approve(ticket_id)
    desk.now = START + 3 * HOUR  # the sweep did not run during the whole period

    report = desk.sweep()

    assert (report.expired, report.periods_begun) == (1, 0)
    assert desk.status(ticket_id) == "expired" and desk.published == []
    assert desk.provisioning.submits == []


def test_approving_after_the_end_is_409_and_provisions_nothing(desk: Desk) -> None:
    ticket_id = desk.file(START + HOUR, START + 2 * HOUR)
    desk.now = START + 2 * HOUR

    response = desk.approve(ticket_id)

    assert response.status_code == 409 and response.get_json()["rule"] == "period_ended"
    assert desk.status(ticket_id) == "pending_approval" and desk.published == []


def test_an_approved_request_a_worker_reaches_after_the_end_expires_unapplied(desk: Desk) -> None:
    ticket_id = desk.file(START, START + HOUR)
    desk.approve(ticket_id)
    desk.now = START + HOUR  # the broker was down until after the end

    assert desk.work(ticket_id) == "skipped"

    assert desk.status(ticket_id) == "expired" and desk.provisioning.submits == []
    assert desk.events(ticket_id)[-1]["actor"] == {"kind": "system", "name": "worker"}


# --- the revert gives back only what this ticket raised ---------------------------------------


def _complete_temporary(desk: Desk, resources: list[dict[str, str]]) -> str:
    ticket_id = desk.file(START, START + 4 * HOUR, resources=resources)
    desk.approve(ticket_id)
    assert desk.work(ticket_id) == "completed"
    return ticket_id


def _complete_permanent(desk: Desk, resources: list[dict[str, str]]) -> str:
    ticket_id = desk.file(None, None, env="customer_a_stage", resources=resources)
    desk.approve(ticket_id)
    assert desk.work(ticket_id) == "completed"
    return ticket_id


def test_the_revert_keeps_a_size_a_later_permanent_upscale_set(desk: Desk) -> None:
    temporary = _complete_temporary(desk, [{"component": "yves", "size": "large"}])
    desk.now = START + HOUR
    _complete_permanent(desk, [{"component": "yves", "size": "xlarge"}])
    submitted = len(desk.provisioning.submits)
    desk.now = START + 4 * HOUR

    assert desk.sweep().reverts_started == 1
    assert desk.work(temporary) == "reverted"

    assert desk.sizes()["yves"] == "xlarge"
    assert len(desk.provisioning.submits) == submitted  # nothing to give back, no operation
    last = desk.events(temporary)[-1]
    assert last["to_status"] == "reverted" and "left yves at xlarge" in last["reason"]


def test_the_revert_gives_back_the_other_components(desk: Desk) -> None:
    temporary = _complete_temporary(desk, [{"component": "yves", "size": "large"},
                                           {"component": "zed", "size": "medium"}])
    desk.now = START + HOUR
    _complete_permanent(desk, [{"component": "yves", "size": "xlarge"}])
    desk.now = START + 4 * HOUR

    desk.sweep()
    assert desk.work(temporary) == "reverted"

    assert desk.provisioning.submits[-1]["action"] == "revert"
    assert desk.provisioning.submits[-1]["request"]["resources"] == [{"component": "zed", "size": "small"}]
    assert desk.sizes()["yves"] == "xlarge" and desk.sizes()["zed"] == "small"
    reason = desk.events(temporary)[-1]["reason"]
    assert "gave back zed to small" in reason and "left yves at xlarge" in reason


def test_without_later_requests_the_revert_restores_every_size(desk: Desk) -> None:
    temporary = _complete_temporary(desk, [{"component": "yves", "size": "large"}])
    desk.now = START + 4 * HOUR

    desk.sweep()
    assert desk.work(temporary) == "reverted"

    assert desk.sizes()["yves"] == "medium"
    assert "left" not in desk.events(temporary)[-1]["reason"]


# --- the decision clock ------------------------------------------------------------------------


def _clock_of(desk: Desk, ticket_id: str) -> tuple[datetime | None, datetime | None]:
    with desk.uow_factory() as uow:
        ticket = uow.session.get(Ticket, ticket_id)
        return ticket.first_response_at, ticket.decided_at


def test_the_first_staff_comment_starts_the_response_clock_and_the_decision_stops_it(desk: Desk) -> None:
    ticket_id = desk.file(None, None)
    desk.now = START + HOUR
    assert desk.post(f"/v1/tickets/{ticket_id}/comments", "customer_a", {"body": "any news?"}).status_code == 201
    assert _clock_of(desk, ticket_id) == (None, None)
    desk.now = START + 2 * HOUR
    assert desk.post(f"/v1/tickets/{ticket_id}/comments", "support", {"body": "looking"}).status_code == 201
    desk.now = START + 3 * HOUR
    desk.post(f"/v1/tickets/{ticket_id}/comments", "support", {"body": "still looking"})
    desk.now = START + 4 * HOUR

    desk.approve(ticket_id)

    assert _clock_of(desk, ticket_id) == (START + 2 * HOUR, START + 4 * HOUR)


def test_an_internal_note_is_not_a_response_the_next_public_comment_is(desk: Desk) -> None:
    ticket_id = desk.file(None, None)
    desk.now = START + HOUR
    note = desk.post(f"/v1/tickets/{ticket_id}/comments", "support",
                     {"body": "check the contract first", "internal": True})
    assert note.status_code == 201
    assert _clock_of(desk, ticket_id) == (None, None)
    desk.now = START + 2 * HOUR

    desk.post(f"/v1/tickets/{ticket_id}/comments", "support", {"body": "we are on it"})

    assert _clock_of(desk, ticket_id) == (START + 2 * HOUR, None)


def test_an_approval_after_only_internal_notes_is_the_first_response(desk: Desk) -> None:
    ticket_id = desk.file(None, None)
    desk.now = START + HOUR
    desk.post(f"/v1/tickets/{ticket_id}/comments", "support", {"body": "looks fine", "internal": True})
    desk.now = START + 2 * HOUR

    desk.approve(ticket_id)

    assert _clock_of(desk, ticket_id) == (START + 2 * HOUR, START + 2 * HOUR)


def test_a_rejection_without_comments_is_the_first_response(desk: Desk) -> None:
    ticket_id = desk.file(None, None)
    desk.now = START + HOUR

    desk.post(f"/v1/tickets/{ticket_id}/reject", "support", {"reason": "not in the contract"})

    assert _clock_of(desk, ticket_id) == (START + HOUR, START + HOUR)


def test_events_are_ordered_and_none_lacks_an_actor(desk: Desk, uow_factory: Any) -> None:
    temporary = _complete_temporary(desk, [{"component": "yves", "size": "large"}])
    desk.now = START + 4 * HOUR
    desk.sweep()
    desk.work(temporary)

    with uow_factory() as uow:
        events = list(uow.session.scalars(select(TicketEvent)))
    assert events and all((e.actor_kind == "user") == bool(e.actor_id) for e in events)
    assert all((e.actor_kind == "system") == bool(e.actor_name) for e in events)


def test_the_sweep_takes_the_longest_overdue_first_when_more_are_due_than_a_batch(
        desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sweeping, "BATCH", 1)
    filed_first = desk.file(START + HOUR, START + 3 * HOUR)
    body = upscale_body(desk.world.envs["customer_b_stage"])
    body["period"] = {"start": (START + HOUR).isoformat(), "end": (START + 2 * HOUR).isoformat()}
    ended_first = desk.post("/v1/tickets", "customer_b", body).get_json()["id"]
    desk.now = START + 4 * HOUR

    assert desk.sweep().expired == 1
    assert desk.status(filed_first) == "pending_approval"
    assert desk.sweep().expired == 1
    assert desk.status(filed_first) == "expired"
