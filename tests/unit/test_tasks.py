"""The Celery side: tasks are thin wrappers around one use case each, and the worker app is
configured for redelivery that is safe. Tasks are called directly (no eager mode, no broker):
the worker context is swapped for one built over a real SQLite file, a fake provisioning client
or `responses`, and a publisher that records what it was asked to send."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import click
import pytest
import responses
from sqlalchemy import select

import workers.tasks
from service.cli_run import _queues
from service.config import Settings
from service.db import UnitOfWork, make_engine, make_session_factory
from service.domain.lifecycle import Action
from service.domain.policy import AccountKind
from service.identity import Principal
from service.migrate import upgrade
from service.models import Base, Ticket, WebhookDelivery
from service.notifications import WebhookOutbox
from service.pipeline import Timing
from service.provisioning import Operation
from service.queue import DELIVER_WEBHOOK_TASK, PROVISION_TASK, SWEEP_TASK
from service.routing import ALL_QUEUES, MAINTENANCE_QUEUE, NON_PROD_QUEUES, PROD_QUEUES, QUEUES
from service.tickets import change_status, file_ticket
from service.webhooks import SIGNATURE_HEADER, verify
from tests.conftest import World, build_world, change_body, upscale_body
from workers.app import check_timing, make_celery
from workers.context import WorkerContext

HOOK = "https://portal.example/hooks/envdesk"
SECRET = "whsec-test"
PROVISIONING = "https://provisioning.example"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeClient:
    answers: list[str] = field(default_factory=lambda: ["pending"])
    submits: list[dict[str, Any]] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)

    def submit(self, **kwargs: Any) -> Operation:
        self.submits.append(kwargs)
        return Operation(id="op-1", status=self.answers.pop(0) if self.answers else "succeeded")

    def get(self, operation_id: str) -> Operation:
        self.gets.append(operation_id)
        return Operation(id=operation_id, status=self.answers.pop(0) if self.answers else "succeeded")


@dataclass
class FakePublisher:
    sent: list[tuple[str, str, str, float]] = field(default_factory=list)
    webhooks: list[str] = field(default_factory=list)

    def __call__(self, ticket_id: str, ticket_type: str, stage: str, *, countdown: float = 0) -> bool:
        self.sent.append((ticket_id, ticket_type, stage, countdown))
        return True

    def webhook(self, delivery_id: str) -> bool:
        self.webhooks.append(delivery_id)
        return True


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('tasks') / 'envdesk.db'}"
    upgrade(url)
    return url


@pytest.fixture
def ctx(migrated: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkerContext]:
    engine = make_engine(migrated)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    sessions = make_session_factory(engine)
    settings = Settings(database_url=migrated, broker_url="memory://", home=tmp_path,
                        provisioning_url=PROVISIONING, provisioning_token="prov-token",
                        webhook_urls=(HOOK,), webhook_secret=SECRET, webhook_max_attempts=3)
    context = WorkerContext(settings=settings, publisher=FakePublisher(),  # type: ignore[arg-type]
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
    customer = Principal(user_id=world.users["customer_a"], email="customer_a@example.com",
                         account_id=world.accounts["customer_a"], account_name="customer_a",
                         kind=AccountKind.CUSTOMER, role="member")
    support = Principal(user_id=world.users["support"], email="support@example.com",
                        account_id=world.accounts["provider"], account_name="provider",
                        kind=AccountKind.PROVIDER, role="support")
    ticket, _ = file_ticket(customer, body or upscale_body(world.envs["customer_a_stage"]),
                            uow=ctx.uow(), now=ctx.clock(), listener=ctx.listener)
    change_status(support, ticket.id, Action.APPROVE, uow=ctx.uow(), now=ctx.clock(),
                  dispatch=ctx.publisher, listener=ctx.listener)
    return ticket.id


def _status(ctx: WorkerContext, ticket_id: str) -> str:
    with ctx.uow() as uow:
        return uow.session.get(Ticket, ticket_id).status


# --- tasks ------------------------------------------------------------------------------------


def test_provision_task_returns_the_pipeline_outcome(ctx: WorkerContext, world: World,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient(answers=["pending", "running", "succeeded"])
    monkeypatch.setattr(ctx, "client_for", lambda _type, _stage: client)
    ticket_id = _approved(ctx, world)

    assert workers.tasks.provision(ticket_id) == "polling"
    assert ctx.publisher.sent[-1] == (ticket_id, "upscale", "stage", 2)
    assert workers.tasks.provision(ticket_id) == "skipped"  # redelivered before it is due
    ctx.clock.now += timedelta(seconds=2)
    assert workers.tasks.provision(ticket_id) == "completed"

    assert len(client.submits) == 1 and client.gets == ["op-1", "op-1"]
    assert _status(ctx, ticket_id) == "completed"


def test_provision_task_for_an_unknown_ticket_does_nothing(ctx: WorkerContext, world: World) -> None:
    assert workers.tasks.provision("00000000-0000-0000-0000-000000000000") == "skipped"
    assert ctx.publisher.sent == []


@responses.activate
def test_provision_task_talks_to_the_routed_provisioning_target(ctx: WorkerContext, world: World) -> None:
    ticket_id = _approved(ctx, world)
    responses.post(f"{PROVISIONING}/v1/operations", status=202, json={"id": "op-7", "status": "succeeded"})

    assert workers.tasks.provision(ticket_id) == "completed"

    request = responses.calls[0].request
    assert request.headers["Idempotency-Key"] == f"{ticket_id}:apply"
    assert request.headers["Authorization"] == "Bearer prov-token"


@responses.activate
def test_provision_task_turns_a_503_into_a_retry(ctx: WorkerContext, world: World) -> None:
    ticket_id = _approved(ctx, world)
    responses.post(f"{PROVISIONING}/v1/operations", status=503, json={"error": "maintenance"})

    assert workers.tasks.provision(ticket_id) == "retrying"

    with ctx.uow() as uow:
        assert uow.session.get(Ticket, ticket_id).attempts == 1
    assert 0 <= ctx.publisher.sent[-1][3] <= 30


def test_sweep_task_reports_what_it_published(ctx: WorkerContext, world: World,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx, "client_for", lambda _type, _stage: FakeClient(answers=["succeeded"]))
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
    ctx.publisher.sent.clear()

    report = workers.tasks.sweep_due_work()

    # the revert is published as it starts; the sweep publishes again only the lost ticket;
    # webhooks: provisioning, completed, the change's creation and approval, reverting, and
    # again the three handed out at the period's start, never delivered, whose lease ran out
    assert report == {"periods_begun": 0, "expired": 0, "reverts_started": 1, "republished": 1,
                      "webhooks_due": 5 + 3}
    assert sorted(ctx.publisher.sent) == sorted([(temporary, "upscale", "stage", 0),
                                                 (lost, "change", "stage", 0)])
    with ctx.uow() as uow:
        deliveries = set(uow.session.scalars(select(WebhookDelivery.id)))
    assert set(ctx.publisher.webhooks) == deliveries
    assert _status(ctx, temporary) == "reverting"
    assert workers.tasks.sweep_due_work() == {"periods_begun": 0, "expired": 0, "reverts_started": 0,
                                              "republished": 0, "webhooks_due": 0}


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


# --- the worker app ---------------------------------------------------------------------------


def _settings(**overrides: Any) -> Settings:
    return Settings(database_url="sqlite:///unused.db", broker_url="redis://127.0.0.1:6379/0", **overrides)


def test_worker_app_acks_late_one_message_at_a_time_json_only() -> None:
    settings = _settings()
    conf = make_celery(settings).conf

    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json" and list(conf.accept_content) == ["json"]
    assert conf.task_ignore_result is True and conf.result_backend is None
    assert conf.task_soft_time_limit == settings.task_soft_time_limit
    assert conf.task_time_limit == settings.task_hard_time_limit
    assert conf.broker_transport_options["visibility_timeout"] == settings.visibility_timeout
    assert conf.beat_schedule["sweep"]["task"] == SWEEP_TASK
    assert conf.beat_schedule["sweep"]["options"]["queue"] == MAINTENANCE_QUEUE


def test_worker_app_declares_every_queue_and_registers_the_named_tasks() -> None:
    app = make_celery(_settings())
    app.loader.import_default_modules()

    assert sorted(q.name for q in app.conf.task_queues) == sorted(ALL_QUEUES)
    assert {PROVISION_TASK, SWEEP_TASK, DELIVER_WEBHOOK_TASK} <= set(app.tasks)


def test_production_work_has_queues_of_its_own() -> None:
    assert len(set(QUEUES.values())) == len(QUEUES)
    assert not set(PROD_QUEUES) & set(NON_PROD_QUEUES)
    for (_type, stage), queue in QUEUES.items():
        assert (queue in PROD_QUEUES) == (stage == "prod")
    assert set(PROD_QUEUES) | set(NON_PROD_QUEUES) == set(QUEUES.values())


@pytest.mark.parametrize("overrides, names", [
    ({"provisioning_read_timeout": 30.0}, ("PROVISIONING_READ_TIMEOUT", "TASK_SOFT_TIME_LIMIT")),
    ({"task_soft_time_limit": 50.0}, ("TASK_SOFT_TIME_LIMIT", "TASK_HARD_TIME_LIMIT")),
    ({"task_hard_time_limit": 60.0}, ("TASK_HARD_TIME_LIMIT", "TASK_LEASE_SECONDS")),
    ({"lease_seconds": 300.0}, ("TASK_LEASE_SECONDS", "BROKER_VISIBILITY_TIMEOUT")),
    ({"visibility_timeout": 50.0}, ("TASK_LEASE_SECONDS", "BROKER_VISIBILITY_TIMEOUT")),
    ({"retry_cap_seconds": 300.0}, ("RETRY_CAP_SECONDS", "BROKER_VISIBILITY_TIMEOUT")),
    ({"poll_interval": 300.0}, ("POLL_INTERVAL", "BROKER_VISIBILITY_TIMEOUT")),
])
def test_unsafe_timing_is_refused_at_start(overrides: dict[str, float], names: tuple[str, str]) -> None:
    settings = _settings(**overrides)

    with pytest.raises(ValueError) as error:
        check_timing(settings)
    assert all(name in str(error.value) for name in names)
    with pytest.raises(ValueError):
        make_celery(settings)


def test_default_timing_is_safe() -> None:
    check_timing(_settings())
    check_timing(Settings.from_env({}))


# --- `envdesk worker -Q` ----------------------------------------------------------------------


def test_worker_consumes_every_queue_by_default() -> None:
    assert _queues(None) == list(ALL_QUEUES)
    assert _queues("") == list(ALL_QUEUES)


def test_worker_queue_groups_expand() -> None:
    assert _queues("prod") == list(PROD_QUEUES)
    assert _queues("non-prod") == list(NON_PROD_QUEUES)
    assert _queues("prod, webhooks,maintenance") == [*PROD_QUEUES, "webhooks", "maintenance"]


def test_worker_refuses_an_unknown_queue() -> None:
    with pytest.raises(click.BadParameter, match="unknown queue.*provision.qa.upscale"):
        _queues("prod,provision.qa.upscale")


def test_webhooks_without_a_secret_refuse_to_start():
    from service.config import Settings
    from workers.app import make_celery

    settings = Settings(database_url="sqlite://", broker_url="memory://",
                        webhook_urls=("http://portal.example/hooks",), webhook_secret="")

    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        make_celery(settings)
