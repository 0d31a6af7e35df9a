"""The Celery tasks are thin wrappers around one use case each. Tasks are called directly (no
eager mode, no broker): the worker context is swapped for one built over a migrated SQLite file,
fake provisioning or `responses`, and a publisher that records what it was asked to send. How the
worker app is configured is in tests/unit/test_worker_app.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
import responses
from sqlalchemy import select

import workers.tasks
from service.adapters.config import Settings
from service.adapters.db import UnitOfWork, make_engine, make_session_factory
from service.adapters.migrate import upgrade
from service.adapters.models import Ticket, WebhookDelivery
from service.app.notify.outbox import WebhookOutbox
from service.app.provisioning.pipeline import Timing
from service.app.commands import Approve
from service.app.tickets.actions import change_status
from service.adapters.webhooks import SIGNATURE_HEADER, verify
from tests.helpers import change_body, upscale_body, new_secret
from tests.support.fakes import Clock, FakeDispatch, FakeProvisioning
from tests.support.world import World, build_world, file_via_use_case
from workers.context import WorkerContext
from tests.support.databases import empty

HOOK = "https://portal.example/hooks/envdesk"
SECRET = "whsec-test"
PROVISIONING_TOKEN = new_secret()
PROVISIONING = "https://provisioning.example"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('tasks') / 'envdesk.db'}"
    upgrade(url)
    return url


@pytest.fixture
def ctx(migrated: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkerContext]:
    engine = make_engine(migrated)
    with engine.begin() as conn:
        empty(conn)
    sessions = make_session_factory(engine)
    settings = Settings(database_url=migrated, broker_url="memory://", home=tmp_path,
                        provisioning_url=PROVISIONING, provisioning_token=PROVISIONING_TOKEN,
                        webhook_urls=(HOOK,), webhook_secret=SECRET, webhook_max_attempts=3)
    context = WorkerContext(settings=settings, publisher=FakeDispatch(),  # type: ignore[arg-type]
                            uow=lambda: UnitOfWork(sessions), listener=WebhookOutbox(),
                            timing=Timing(lease=60, poll_interval=2, retry_cap=30, max_attempts=3),
                            clock=Clock())
    monkeypatch.setattr(workers.tasks, "context", lambda: context)
    yield context
    engine.dispose()


@pytest.fixture
def world(ctx: WorkerContext) -> World:
    return build_world(ctx.uow)


def _approved(ctx: WorkerContext, world: World, body: dict[str, Any] | None = None) -> str:
    ticket_id = file_via_use_case(world, uow=ctx.uow(), now=ctx.clock(), listener=ctx.listener, body=body)
    change_status(world.principal("support"), Approve(ticket_id), uow=ctx.uow(), now=ctx.clock(),
                  dispatch=ctx.publisher, listener=ctx.listener)
    return ticket_id


def _status(ctx: WorkerContext, ticket_id: str) -> str:
    with ctx.uow() as uow:
        return uow.session.get(Ticket, ticket_id).status


# --- tasks ------------------------------------------------------------------------------------


def test_provision_task_returns_the_pipeline_outcome(ctx: WorkerContext, world: World,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeProvisioning(submit_script=["pending"], get_script=["running", "succeeded"])
    monkeypatch.setattr(ctx, "client_for", lambda _type, _stage: client)
    ticket_id = _approved(ctx, world)

    assert workers.tasks.provision(ticket_id) == "polling"
    assert ctx.publisher.calls[-1] == (ticket_id, "upscale", "stage", 2)
    assert workers.tasks.provision(ticket_id) == "skipped"  # redelivered before it is due
    ctx.clock.now += timedelta(seconds=2)
    assert workers.tasks.provision(ticket_id) == "completed"

    assert len(client.submits) == 1 and client.gets == ["op-1", "op-1"]
    assert _status(ctx, ticket_id) == "completed"


def test_provision_task_for_an_unknown_ticket_does_nothing(ctx: WorkerContext, world: World) -> None:
    assert workers.tasks.provision("00000000-0000-0000-0000-000000000000") == "skipped"
    assert ctx.publisher.calls == []


@responses.activate
def test_provision_task_talks_to_the_routed_provisioning_target(ctx: WorkerContext, world: World) -> None:
    ticket_id = _approved(ctx, world)
    responses.post(f"{PROVISIONING}/v1/operations", status=202, json={"id": "op-7", "status": "succeeded"})

    assert workers.tasks.provision(ticket_id) == "completed"

    request = responses.calls[0].request
    assert request.headers["Idempotency-Key"] == f"{ticket_id}:apply"
    assert request.headers["Authorization"] == f"Bearer {PROVISIONING_TOKEN}"


@responses.activate
def test_provision_task_turns_a_503_into_a_retry(ctx: WorkerContext, world: World) -> None:
    ticket_id = _approved(ctx, world)
    responses.post(f"{PROVISIONING}/v1/operations", status=503, json={"error": "maintenance"})

    assert workers.tasks.provision(ticket_id) == "retrying"

    with ctx.uow() as uow:
        assert uow.session.get(Ticket, ticket_id).attempts == 1
    assert 0 <= ctx.publisher.calls[-1][3] <= 30


def test_sweep_task_reports_what_it_published(ctx: WorkerContext, world: World,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx, "client_for", lambda _type, _stage: FakeProvisioning(submit_script=["succeeded"]))
    start = ctx.clock() + timedelta(minutes=5)
    temporary = _approved(ctx, world, upscale_body(world.envs["customer_a_stage"],
                                                   period={"start": start, "end": start + timedelta(hours=1)}))
    assert _status(ctx, temporary) == "scheduled"
    assert workers.tasks.provision(temporary) == "skipped"  # nothing is applied before the start
    ctx.clock.now = start
    assert workers.tasks.sweep_due_work()["periods_begun"] == 1
    assert workers.tasks.provision(temporary) == "completed"
    lost = _approved(ctx, world, change_body(world.envs["customer_a_stage"]))
    with ctx.uow() as uow:  # the broker was down when it was approved
        uow.session.get(Ticket, lost).published_at = None
        uow.commit()
    ctx.clock.now = start + timedelta(hours=1)
    ctx.publisher.calls.clear()

    report = workers.tasks.sweep_due_work()

    # the revert is published as it starts; the sweep publishes again only the lost ticket;
    # webhooks: provisioning, completed, the change's creation and approval, reverting, and
    # again the three handed out at the period's start, never delivered, whose lease ran out
    assert report == {"periods_begun": 0, "expired": 0, "reverts_started": 1, "republished": 1,
                      "webhooks_due": 5 + 3, "sla_alerts": 0, "mail_due": 0}
    assert sorted(ctx.publisher.calls) == sorted([(temporary, "upscale", "stage", 0),
                                                 (lost, "change", "stage", 0)])
    with ctx.uow() as uow:
        deliveries = set(uow.session.scalars(select(WebhookDelivery.id)))
    assert set(ctx.publisher.webhooks) == deliveries
    assert _status(ctx, temporary) == "reverting"
    assert workers.tasks.sweep_due_work() == {"periods_begun": 0, "expired": 0, "reverts_started": 0,
                                              "republished": 0, "webhooks_due": 0, "sla_alerts": 0,
                                              "mail_due": 0}


@responses.activate
def test_deliver_webhook_task_signs_posts_and_reports(ctx: WorkerContext, world: World) -> None:
    _approved(ctx, world)
    workers.tasks.sweep_due_work()  # addresses the events to the worker's WEBHOOK_URLS
    with ctx.uow() as uow:
        first, second = uow.session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id)).all()
    responses.post(HOOK, status=204)

    assert workers.tasks.deliver_webhook(first) == "delivered"
    assert workers.tasks.deliver_webhook(first) == "skipped"

    request = responses.calls[0].request
    assert len(responses.calls) == 1
    assert verify(request.headers[SIGNATURE_HEADER], request.body, SECRET,
                  now=int(datetime.now(timezone.utc).timestamp()))
    responses.replace(responses.POST, HOOK, status=502)
    assert workers.tasks.deliver_webhook(second) == "retrying"
