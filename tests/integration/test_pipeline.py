"""The provisioning pipeline on a real database (PostgreSQL and SQLite): approval hands a ticket
to the queue, workers follow it to the end, the sweep recovers lost work and starts reverts, and
every status change is announced by webhook. Provisioning and the broker are fakes that record
what they were asked and answer from a script; the clock is ours."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

import pytest
from sqlalchemy import select, update

from service.app.provisioning import sweep as sweeping
from service.app.commands import STATUS_COMMANDS
from service.domain.lifecycle import Action
from service.adapters.models import Comment, Environment, Ticket, TicketEvent, WebhookDelivery
from service.app.notify.outbox import (
    WebhookOutbox, address_new_events, attempt_delivery, claim_due_deliveries,
)
from service.adapters.outbound import GiveUp, RetryLater
from service.app.provisioning.pipeline import Timing, advance_ticket
from service.adapters.provisioning import idempotency_key
from service.adapters.routing import QUEUES
from service.app.tickets.actions import change_status
from tests.helpers import upscale_body, utc
from tests.support.fakes import Clock, FakeDispatch, FakeProvisioning, WorkerDied
from tests.support.world import World, file_via_use_case

# Also through PgBouncer in transaction pooling mode (DATABASE_POOLER=pgbouncer).
pytestmark = pytest.mark.pgbouncer

TIMING = Timing(lease=60.0, poll_interval=5.0, retry_cap=30.0, max_attempts=3)
START = utc(2030, 1, 6, 9, 0, 0)


@dataclass
class Pipeline:
    """The collaborators of one test, with the calls a worker, support and beat would make."""

    world: World
    uow_factory: Callable[[], Any]
    clock: Clock
    client: FakeProvisioning
    dispatch: FakeDispatch
    listener: Any = None

    def file(self, env: str = "customer_a_stage", **overrides: Any) -> str:
        return file_via_use_case(self.world, uow=self.uow_factory(), now=self.clock(),
                                 listener=self.listener, body=upscale_body(self.world.envs[env], **overrides))

    def act(self, ticket_id: str, action: Action, who: str = "support", reason: str | None = None) -> Ticket:
        return change_status(self.world.principal(who), STATUS_COMMANDS[action](ticket_id, reason=reason),
                             uow=self.uow_factory(), now=self.clock(), dispatch=self.dispatch,
                             listener=self.listener)

    def approved(self, **overrides: Any) -> str:
        ticket_id = self.file(**overrides)
        self.act(ticket_id, Action.APPROVE)
        return ticket_id

    def advance(self, ticket_id: str) -> str:
        return advance_ticket(ticket_id, uow=self.uow_factory(), client_for=lambda _t, _s: self.client,
                              clock=self.clock, timing=TIMING, dispatch=self.dispatch,
                              listener=self.listener)

    def sweep(self) -> sweeping.SweepReport:
        return sweeping.sweep(uow=self.uow_factory(), now=self.clock(), lease=TIMING.lease,
                              dispatch=self.dispatch, listener=self.listener)

    def ticket(self, ticket_id: str) -> Ticket:
        with self.uow_factory() as uow:
            return uow.session.get(Ticket, ticket_id)

    def sizes(self, env: str = "customer_a_stage") -> dict[str, str]:
        with self.uow_factory() as uow:
            return dict(uow.session.get(Environment, self.world.envs[env]).sizes)

    def events(self, ticket_id: str) -> list[TicketEvent]:
        with self.uow_factory() as uow:
            return list(uow.session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                                            .order_by(TicketEvent.id)))

    def run_to_end(self, ticket_id: str, *, steps: int = 10) -> str:
        """Advance like a worker honouring every countdown, until the ticket settles."""
        outcome = ""
        for _ in range(steps):
            outcome = self.advance(ticket_id)
            if outcome not in ("polling", "retrying"):
                return outcome
            self.clock.tick(self.dispatch.calls[-1][3])
        return outcome


@pytest.fixture
def pipe(world: World, uow_factory: Any) -> Pipeline:
    return Pipeline(world=world, uow_factory=uow_factory, clock=Clock(START), client=FakeProvisioning(),
                    dispatch=FakeDispatch(uow_factory))


# --- approval hands the ticket to its queue ---------------------------------------------------


def test_approval_dispatches_once_after_commit_to_the_stage_queue(pipe: Pipeline) -> None:
    ticket_id = pipe.file()

    pipe.act(ticket_id, Action.APPROVE)

    assert pipe.dispatch.calls == [(ticket_id, "upscale", "stage", 0)]
    assert pipe.dispatch.status_seen == ["approved"]  # published only once the approval committed
    assert QUEUES[("upscale", "stage")] == "provision.stage.upscale"
    ticket = pipe.ticket(ticket_id)
    assert ticket.status == "approved"
    assert ticket.next_attempt_at == pipe.clock()
    assert ticket.published_at == pipe.clock()


def test_rejection_dispatches_nothing(pipe: Pipeline) -> None:
    ticket_id = pipe.file()

    pipe.act(ticket_id, Action.REJECT, reason="not in this contract")

    assert pipe.dispatch.calls == []
    assert pipe.ticket(ticket_id).next_attempt_at is None


# --- the worker follows the ticket to the end -------------------------------------------------


def test_ticket_goes_from_approved_through_polling_to_completed(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = ["pending"]
    pipe.client.get_script = ["pending", "running", "succeeded"]

    assert pipe.advance(ticket_id) == "polling"  # submitted, looked once: still pending
    ticket = pipe.ticket(ticket_id)
    assert ticket.status == "provisioning"
    assert ticket.operation_id == "op-1"
    assert pipe.dispatch.calls[-1] == (ticket_id, "upscale", "stage", TIMING.poll_interval)
    assert ticket.next_attempt_at == pipe.clock() + timedelta(seconds=TIMING.poll_interval)

    assert pipe.advance(ticket_id) == "skipped"  # not due before the poll interval
    pipe.clock.tick(TIMING.poll_interval)
    assert pipe.advance(ticket_id) == "polling"
    pipe.clock.tick(TIMING.poll_interval)
    assert pipe.advance(ticket_id) == "completed"

    submit = pipe.client.submits[0]
    assert len(pipe.client.submits) == 1 and pipe.client.gets == ["op-1", "op-1", "op-1"]
    assert submit["action"] == "apply" and submit["round"] == 1
    assert submit["key"] == f"{ticket_id}:apply"
    assert submit["environment"] == {"id": pipe.world.envs["customer_a_stage"], "name": "customer_a-stage",
                                     "stage": "stage", "account_id": pipe.world.accounts["customer_a"]}
    assert submit["request"] == {"type": "upscale", "resources": [{"component": "yves", "size": "large"}]}
    ticket = pipe.ticket(ticket_id)
    assert ticket.status == "completed"
    assert ticket.baseline == {"yves": "medium"}
    assert ticket.next_attempt_at is None
    assert pipe.sizes()["yves"] == "large"
    moves = [(e.from_status, e.to_status, e.actor_kind, e.actor_id or e.actor_name)
             for e in pipe.events(ticket_id)]
    assert moves == [(None, "pending_approval", "user", pipe.world.users["customer_a"]),
                     ("pending_approval", "approved", "user", pipe.world.users["support"]),
                     ("approved", "provisioning", "system", "worker"),
                     ("provisioning", "completed", "system", "worker")]


def test_a_pending_operation_that_is_done_at_the_first_look_completes_in_one_step(
        pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = ["pending"]
    pipe.client.get_script = ["succeeded"]

    assert pipe.advance(ticket_id) == "completed"
    assert pipe.client.gets == ["op-1"]
    ticket = pipe.ticket(ticket_id)
    assert (ticket.status, ticket.operation_id) == ("completed", "op-1")
    assert pipe.dispatch.calls == [(ticket_id, "upscale", "stage", 0)]  # the approval's only


def test_an_operation_that_succeeds_at_once_completes_in_one_step(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = ["succeeded"]

    assert pipe.advance(ticket_id) == "completed"
    assert pipe.client.gets == []
    assert pipe.ticket(ticket_id).status == "completed"


def test_a_second_call_within_the_lease_is_skipped_and_submits_nothing(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    inner: list[str] = []
    pipe.client.during_call = lambda: inner.append(pipe.advance(ticket_id))  # a redelivered message
    pipe.client.get_script = ["running"]

    assert pipe.advance(ticket_id) == "polling"

    assert inner == ["skipped", "skipped"]  # during the submit and during the first look
    assert len(pipe.client.submits) == 1


def test_concurrent_workers_on_one_ticket_submit_once(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.get_script = ["running"]
    barrier = threading.Barrier(4)
    outcomes: list[Any] = []

    def work() -> None:
        barrier.wait(timeout=30)
        try:
            outcomes.append(pipe.advance(ticket_id))
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcomes.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["polling", "skipped", "skipped", "skipped"]
    assert len(pipe.client.submits) == 1
    assert [e.to_status for e in pipe.events(ticket_id)].count("provisioning") == 1


@pytest.mark.parametrize("action, who", [(Action.CANCEL, "customer_a"), (Action.REJECT, "support")])
def test_a_ticket_that_never_got_approved_is_skipped_without_calling_provisioning(
    pipe: Pipeline, action: Action, who: str
) -> None:
    ticket_id = pipe.file()
    pipe.act(ticket_id, action, who=who, reason="changed our mind")

    assert pipe.advance(ticket_id) == "skipped"
    assert pipe.client.submits == [] and pipe.client.gets == []


def test_a_completed_ticket_is_skipped_without_calling_provisioning(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "completed"
    pipe.clock.tick(3600)

    assert pipe.advance(ticket_id) == "skipped"
    assert len(pipe.client.submits) == 1 and pipe.client.gets == []


def test_an_unknown_ticket_is_skipped(pipe: Pipeline) -> None:
    assert pipe.advance("00000000-0000-0000-0000-000000000000") == "skipped"
    assert pipe.client.submits == []


# --- failures ---------------------------------------------------------------------------------


def test_retry_later_backs_off_within_the_cap_then_fails_naming_the_attempts(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = [RetryLater("provisioning is unavailable: 503")] * TIMING.max_attempts

    for attempt in range(1, TIMING.max_attempts):
        assert pipe.advance(ticket_id) == "retrying"
        ticket = pipe.ticket(ticket_id)
        countdown = pipe.dispatch.calls[-1][3]
        assert ticket.status == "provisioning" and ticket.attempts == attempt
        assert 0 <= countdown <= TIMING.retry_cap
        assert ticket.next_attempt_at == pipe.clock() + timedelta(seconds=countdown)
        pipe.clock.tick(countdown)

    assert pipe.advance(ticket_id) == "failed"
    ticket = pipe.ticket(ticket_id)
    assert ticket.status == "failed"
    assert ticket.failed_action == "apply"
    assert f"after {TIMING.max_attempts} attempts" in ticket.reason
    assert "503" in ticket.reason
    assert ticket.next_attempt_at is None
    assert pipe.events(ticket_id)[-1].reason == ticket.reason
    assert pipe.advance(ticket_id) == "skipped"


def test_retry_later_honours_retry_after(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = [RetryLater("provisioning is limiting requests: 429", retry_after=20.0)]

    assert pipe.advance(ticket_id) == "retrying"

    countdown = pipe.dispatch.calls[-1][3]
    assert 20.0 <= countdown <= TIMING.retry_cap
    pipe.clock.tick(19)
    assert pipe.advance(ticket_id) == "skipped"
    pipe.clock.tick(countdown - 19)
    assert pipe.advance(ticket_id) == "completed"


def test_give_up_fails_the_ticket_with_the_reason(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = [GiveUp("provisioning rejected the request: 400 unknown environment")]

    assert pipe.advance(ticket_id) == "failed"

    ticket = pipe.ticket(ticket_id)
    assert ticket.status == "failed"
    assert ticket.reason == "provisioning rejected the request: 400 unknown environment"
    assert ticket.failed_action == "apply"
    assert pipe.sizes()["yves"] == "medium"
    last = pipe.events(ticket_id)[-1]
    assert (last.actor_kind, last.actor_id, last.actor_name) == ("system", None, "worker")


def test_a_failed_operation_fails_the_ticket_with_its_error(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.get_script = ["running", "failed: quota exceeded in region eu-1"]

    assert pipe.advance(ticket_id) == "polling"
    pipe.clock.tick(TIMING.poll_interval)
    assert pipe.advance(ticket_id) == "failed"

    ticket = pipe.ticket(ticket_id)
    assert (ticket.status, ticket.reason) == ("failed", "quota exceeded in region eu-1")
    assert pipe.sizes()["yves"] == "medium"


def test_support_retry_after_a_failed_operation_starts_a_new_round_with_a_new_key(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = ["failed: transient capacity problem"]
    assert pipe.advance(ticket_id) == "failed"
    pipe.clock.tick(600)

    pipe.act(ticket_id, Action.RETRY)

    ticket = pipe.ticket(ticket_id)
    assert (ticket.status, ticket.round, ticket.attempts) == ("approved", 2, 0)
    assert ticket.reason is None and ticket.operation_id is None
    assert pipe.dispatch.calls[-1] == (ticket_id, "upscale", "stage", 0)
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "completed"
    rounds = [(s["round"], s["key"]) for s in pipe.client.submits]
    assert rounds == [(1, f"{ticket_id}:apply"), (2, f"{ticket_id}:apply:2")]
    assert pipe.sizes()["yves"] == "large"


# --- nothing approved is ever lost -------------------------------------------------------------


def test_a_publication_lost_at_approval_is_republished_by_the_sweep(pipe: Pipeline) -> None:
    ticket_id = pipe.file()
    pipe.dispatch.fail = True  # the broker is down

    pipe.act(ticket_id, Action.APPROVE)

    ticket = pipe.ticket(ticket_id)
    assert ticket.status == "approved" and ticket.published_at is None
    pipe.dispatch.fail = False
    pipe.clock.tick(2)
    assert pipe.sweep().republished == 1
    assert pipe.dispatch.calls[-1] == (ticket_id, "upscale", "stage", 0)
    assert pipe.ticket(ticket_id).published_at == pipe.clock()
    assert pipe.sweep().republished == 0  # published, and within a lease: left alone
    assert pipe.advance(ticket_id) == "completed"


def test_a_sweep_while_the_broker_is_still_down_tries_again_next_time(pipe: Pipeline) -> None:
    ticket_id = pipe.file()
    pipe.dispatch.fail = True
    pipe.act(ticket_id, Action.APPROVE)

    pipe.sweep()
    assert pipe.ticket(ticket_id).published_at is None
    pipe.dispatch.fail = False
    pipe.clock.tick(2)
    assert pipe.sweep().republished == 1
    assert [c[0] for c in pipe.dispatch.calls] == [ticket_id] * 3


def test_a_published_ticket_is_not_republished_before_its_lease_ends(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.clock.tick(TIMING.lease - 1)

    assert pipe.sweep().republished == 0
    pipe.clock.tick(1)
    assert pipe.sweep().republished == 1  # the message was lost somewhere: publish again
    assert pipe.dispatch.calls[-1][0] == ticket_id


def test_a_worker_that_died_holding_the_lease_is_recovered_with_the_same_operation(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.get_script = ["running"]
    assert pipe.advance(ticket_id) == "polling"  # submitted; the operation id is stored
    pipe.clock.tick(TIMING.poll_interval)
    pipe.client.get_script = [WorkerDied()]
    with pytest.raises(WorkerDied):
        pipe.advance(ticket_id)  # claimed, then nothing more

    assert pipe.sweep().republished == 0  # the lease still holds
    pipe.clock.tick(TIMING.lease - 1)
    assert pipe.advance(ticket_id) == "skipped"
    pipe.clock.tick(1)
    published = len(pipe.dispatch.calls)
    assert pipe.sweep().republished == 1
    assert pipe.dispatch.calls[published:] == [(ticket_id, "upscale", "stage", 0)]

    assert pipe.advance(ticket_id) == "completed"
    assert len(pipe.client.submits) == 1
    assert pipe.client.gets == ["op-1", "op-1", "op-1"]
    assert pipe.sizes()["yves"] == "large"


def test_a_worker_that_died_before_storing_the_operation_resubmits_under_the_same_key(
    pipe: Pipeline,
) -> None:
    ticket_id = pipe.approved()
    def die_after_provisioning_accepted() -> None:
        pipe.client.operations.setdefault(idempotency_key(ticket_id, "apply"), "op-1")
        raise WorkerDied()

    pipe.client.during_call = die_after_provisioning_accepted
    with pytest.raises(WorkerDied):
        pipe.advance(ticket_id)
    pipe.client.during_call = None
    pipe.clock.tick(TIMING.lease)
    assert pipe.sweep().republished == 1

    assert pipe.run_to_end(ticket_id) == "completed"
    assert {s["key"] for s in pipe.client.submits} == {f"{ticket_id}:apply"}
    assert set(pipe.client.operations.values()) == {"op-1"}  # applied once


# --- temporary upscales are reverted at the end of their period -------------------------------


def _temporary(pipe: Pipeline) -> tuple[str, datetime]:
    end = START + timedelta(hours=2)
    ticket_id = pipe.approved(period={"start": START + timedelta(hours=1), "end": end})
    pipe.clock.now = START + timedelta(hours=1)
    assert pipe.sweep().periods_begun == 1
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "completed"
    assert pipe.sizes()["yves"] == "large"
    return ticket_id, end


def test_sweep_reverts_a_temporary_upscale_once_its_period_ends(pipe: Pipeline) -> None:
    ticket_id, end = _temporary(pipe)
    pipe.clock.now = end - timedelta(seconds=1)
    assert pipe.sweep().reverts_started == 0
    assert pipe.ticket(ticket_id).status == "completed"

    pipe.clock.now = end
    assert pipe.sweep().reverts_started == 1
    assert pipe.sweep().reverts_started == 0  # started once

    ticket = pipe.ticket(ticket_id)
    assert ticket.status == "reverting" and ticket.operation_id is None
    assert pipe.dispatch.calls[-1] == (ticket_id, "upscale", "stage", 0)
    pipe.client.submit_script = ["pending"]
    assert pipe.run_to_end(ticket_id) == "reverted"
    revert = pipe.client.submits[-1]
    assert revert["action"] == "revert" and revert["key"] == f"{ticket_id}:revert"
    assert revert["request"] == {"type": "upscale", "resources": [{"component": "yves", "size": "medium"}]}
    assert pipe.ticket(ticket_id).status == "reverted"
    assert pipe.sizes()["yves"] == "medium"
    assert [e.to_status for e in pipe.events(ticket_id)][-2:] == ["reverting", "reverted"]
    assert [(e.actor_kind, e.actor_name) for e in pipe.events(ticket_id)][-2:] == [
        ("system", "sweep"), ("system", "worker")]


def test_a_permanent_upscale_is_never_reverted(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "completed"
    pipe.clock.tick(365 * 24 * 3600)

    assert pipe.sweep().reverts_started == 0
    assert pipe.ticket(ticket_id).status == "completed"


def test_a_failed_revert_is_retried_by_support_as_a_revert(pipe: Pipeline) -> None:
    ticket_id, end = _temporary(pipe)
    pipe.clock.now = end
    pipe.sweep()
    pipe.client.submit_script = [GiveUp("provisioning rejected the request: 409 locked")]

    assert pipe.advance(ticket_id) == "failed"
    ticket = pipe.ticket(ticket_id)
    assert (ticket.status, ticket.failed_action) == ("failed", "revert")
    assert pipe.sizes()["yves"] == "large"

    pipe.act(ticket_id, Action.RETRY)
    ticket = pipe.ticket(ticket_id)
    assert (ticket.status, ticket.round) == ("reverting", 1)
    assert pipe.dispatch.calls[-1] == (ticket_id, "upscale", "stage", 0)
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "reverted"
    assert pipe.client.submits[-1]["key"] == f"{ticket_id}:revert"
    assert pipe.sizes()["yves"] == "medium"


def test_support_retry_after_a_timeout_keeps_the_key_so_a_late_operation_is_not_repeated(
        pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = [RetryLater("provisioning did not answer in time")] * TIMING.max_attempts
    for _ in range(TIMING.max_attempts):
        pipe.advance(ticket_id)
        pipe.clock.tick(600)
    assert pipe.ticket(ticket_id).status == "failed"
    # The provider went on to create the operation after our last request timed out.
    pipe.client.operations[f"{ticket_id}:apply"] = "op-created-late"

    pipe.act(ticket_id, Action.RETRY)
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "completed"

    assert {s["key"] for s in pipe.client.submits} == {f"{ticket_id}:apply"}
    assert pipe.client.operations == {f"{ticket_id}:apply": "op-created-late"}
    assert pipe.ticket(ticket_id).operation_id == "op-created-late"


def test_support_retry_while_following_an_operation_resumes_that_operation(pipe: Pipeline) -> None:
    ticket_id = pipe.approved()
    pipe.client.submit_script = ["running"]
    pipe.client.get_script = ["running"]
    assert pipe.advance(ticket_id) == "polling"
    operation_id = pipe.ticket(ticket_id).operation_id
    pipe.client.get_script = [GiveUp("provisioning rejected the request: 403 forbidden")]
    pipe.clock.tick(60)
    assert pipe.advance(ticket_id) == "failed"

    pipe.act(ticket_id, Action.RETRY)
    pipe.client.get_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "completed"

    assert len(pipe.client.submits) == 1
    assert pipe.ticket(ticket_id).operation_id == operation_id


# --- webhooks ---------------------------------------------------------------------------------

URLS = ("https://portal.example/hooks/a", "https://portal.example/hooks/b")


def _deliveries(pipe: Pipeline) -> list[WebhookDelivery]:
    with pipe.uow_factory() as uow:
        return list(uow.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at,
                                                                          WebhookDelivery.event_id)))


@pytest.fixture
def hooked(pipe: Pipeline) -> Pipeline:
    pipe.listener = WebhookOutbox()
    return pipe


def test_every_status_change_writes_one_delivery_per_url(hooked: Pipeline) -> None:
    pipe = hooked
    ticket_id = pipe.approved()
    pipe.clock.tick(1)
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "completed"

    assert address_new_events(pipe.uow_factory(), URLS) == 4
    rows = _deliveries(pipe)
    assert len(rows) == 4 * len(URLS)  # created, approved, provisioning, completed
    bodies = [json.loads(r.body) for r in rows]
    by_event: dict[str, list[tuple[str, dict]]] = {}
    for row, body in zip(rows, bodies):
        by_event.setdefault(body["event_id"], []).append((row.url, body))
    assert len(by_event) == 4
    assert all(sorted(url for url, _ in sent) == list(URLS) for sent in by_event.values())
    names = sorted({b["event"] for b in bodies})
    assert names == ["ticket.approved", "ticket.completed", "ticket.created", "ticket.provisioning"]
    for body in bodies:
        assert body["ticket"]["id"] == ticket_id
        assert body["ticket"]["status"] == body["to_status"]
        assert body["event"] == ("ticket.created" if body["from_status"] is None
                                 else f"ticket.{body['to_status']}")
        assert "version" not in body["ticket"]
    assert all(r.next_attempt_at is not None and r.delivered_at is None for r in rows)


def test_due_deliveries_are_claimed_and_delivered_once(hooked: Pipeline) -> None:
    pipe, pipe_urls = hooked, URLS
    pipe.file()
    sent: list[tuple[str, bytes]] = []

    ids = claim_due_deliveries(pipe.uow_factory(), now=pipe.clock(), lease=60, urls=pipe_urls)
    assert len(ids) == len(URLS)
    assert claim_due_deliveries(pipe.uow_factory(), now=pipe.clock(), lease=60, urls=pipe_urls) == []  # held

    for delivery_id in ids:
        outcome = attempt_delivery(delivery_id, uow=pipe.uow_factory(), send=lambda u, b: sent.append((u, b)),
                          clock=pipe.clock, max_attempts=3)
        assert outcome == "delivered"
    assert sorted(u for u, _ in sent) == list(URLS)
    assert json.loads(sent[0][1])["event"] == "ticket.created"
    assert all(r.delivered_at == pipe.clock() and r.attempts == 1 for r in _deliveries(pipe))

    assert attempt_delivery(ids[0], uow=pipe.uow_factory(), send=lambda u, b: sent.append((u, b)),
                   clock=pipe.clock, max_attempts=3) == "skipped"
    pipe.clock.tick(3600)
    assert claim_due_deliveries(pipe.uow_factory(), now=pipe.clock(), lease=60, urls=pipe_urls) == []
    assert len(sent) == len(URLS)


def test_a_failing_receiver_is_retried_with_backoff_then_given_up(hooked: Pipeline) -> None:
    pipe, pipe_urls = hooked, URLS[:1]
    pipe.file()
    attempts: list[str] = []

    def failing(url: str, _body: bytes) -> None:
        attempts.append(url)
        raise RetryLater("the webhook receiver is unavailable: 502")

    outcomes = []
    for _ in range(3):
        pipe.clock.tick(301)  # beyond the retry cap: due again
        ids = claim_due_deliveries(pipe.uow_factory(), now=pipe.clock(), lease=60, urls=pipe_urls)
        assert len(ids) == 1
        outcomes.append(attempt_delivery(ids[0], uow=pipe.uow_factory(), send=failing, clock=pipe.clock,
                                max_attempts=3, retry_cap=300.0))
        row = _deliveries(pipe)[0]
        assert row.last_error == "the webhook receiver is unavailable: 502"
        if outcomes[-1] == "retrying":
            assert pipe.clock() <= row.next_attempt_at <= pipe.clock() + timedelta(seconds=300)

    assert outcomes == ["retrying", "retrying", "given_up"]
    row = _deliveries(pipe)[0]
    assert row.attempts == 3 and row.given_up_at == pipe.clock() and row.delivered_at is None
    pipe.clock.tick(3600)
    assert claim_due_deliveries(pipe.uow_factory(), now=pipe.clock(), lease=60, urls=pipe_urls) == []
    assert len(attempts) == 3


class _ChangedMeanwhile(WebhookOutbox):
    """Records as the outbox does, then changes the ticket's version as another writer would
    before the worker's write reaches it (through the worker's own session: where the step runs
    in a transaction its rollback undoes this too, where it runs in autocommit it stays)."""

    def __init__(self, when_to: str) -> None:
        self.when_to = when_to

    def status_changed(self, session: Any, ticket: Any, event: Any) -> None:
        super().status_changed(session, ticket, event)
        if event.to_status == self.when_to:
            session.execute(update(Ticket).where(Ticket.id == ticket.id)
                            .values(version=Ticket.version + 1))


@pytest.mark.parametrize("stage", ["provisioning", "completed"])
def test_a_step_that_loses_the_compare_and_set_writes_nothing(hooked: Pipeline, stage: str) -> None:
    """The ticket's versioned UPDATE decides the race, and the event, the outbox row and the
    environment's sizes are written with it or not at all (one statement on PostgreSQL)."""
    pipe = hooked
    ticket_id = pipe.approved()
    pipe.client.submit_script = ["succeeded"]
    if stage == "completed":
        pipe.client.submit_script = ["running"]
        pipe.client.get_script = ["running", "succeeded"]
        assert pipe.advance(ticket_id) == "polling"
        pipe.clock.tick(TIMING.poll_interval)
    before = pipe.ticket(ticket_id)
    events, deliveries, sizes = pipe.events(ticket_id), _deliveries(pipe), pipe.sizes()
    pipe.listener = _ChangedMeanwhile(stage)

    assert pipe.advance(ticket_id) == "skipped"

    after = pipe.ticket(ticket_id)
    claimed = 1 if stage == "completed" else 0  # the step's claim (its lease) did commit
    assert (after.status, after.operation_id) == (before.status, before.operation_id)
    assert after.version - before.version - claimed in (0, 1)  # the other writer's change, if kept
    assert [e.id for e in pipe.events(ticket_id)] == [e.id for e in events]
    assert [d.id for d in _deliveries(pipe)] == [d.id for d in deliveries]
    assert pipe.sizes() == sizes


class _NotesOnApprovers:
    """A listener that touches the ticket's relationship: it names the staff who approved the
    ticket (``ticket.approvals``, each a TicketApproval) in an internal note on every move."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[tuple[str, str]]]] = []

    def status_changed(self, session: Any, ticket: Ticket, event: Any) -> None:
        approvers = [(a.ticket_id, a.user_id) for a in ticket.approvals]
        self.seen.append((event.to_status, approvers))
        session.add(Comment(ticket_id=ticket.id, author_id=ticket.requester_id, internal=True,
                            body=f"{event.to_status}: approved by {len(approvers)}", created_at=event.at))

    def comment_added(self, session: Any, ticket: Ticket, comment: Any) -> None:
        pass


def test_a_listener_touching_the_tickets_relationship_works_in_a_worker_step(pipe: Pipeline) -> None:
    """The worker moves the same Ticket the API does: what a listener reads through its
    relationships, and the rows it adds, are there in a worker step too."""
    ticket_id = pipe.approved()
    pipe.listener = listener = _NotesOnApprovers()
    pipe.client.submit_script = ["succeeded"]
    assert pipe.advance(ticket_id) == "completed"

    support = pipe.world.users["support"]
    assert listener.seen == [("provisioning", [(ticket_id, support)]), ("completed", [(ticket_id, support)])]
    with pipe.uow_factory() as uow:
        notes = uow.session.scalars(select(Comment.body).where(Comment.ticket_id == ticket_id)).all()
    assert sorted(notes) == ["completed: approved by 1", "provisioning: approved by 1"]
    assert pipe.ticket(ticket_id).status == "completed"
