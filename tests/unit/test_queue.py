"""The publisher: routes each (type, stage) to its own queue by task name, and never raises
when the broker is down (the sweep publishes again). Messages go through kombu's in-memory
transport and are read back from the queue they landed in."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import responses
from kombu import Connection

from service.adapters.config import Settings
from service.adapters.broker import DELIVER_WEBHOOK_TASK, PROVISION_TASK, Publisher, client_app
from service.adapters.routing import QUEUES, WEBHOOK_QUEUE, route_for
from workers.context import build_context
from tests.helpers import new_secret

# A named in-memory virtual host, so no other test's messages share these queues.
BROKER = f"memory://localhost/envdesk-queue-tests-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'envdesk.db'}", broker_url=BROKER, home=tmp_path)


@pytest.fixture
def publisher(settings: Settings) -> Iterator[Publisher]:
    app = client_app(settings)
    yield Publisher(app, settings)
    app.close()


def _take(queue: str) -> tuple[dict[str, Any], Any] | None:
    """The next message on ``queue`` (headers, body), or None when it is empty."""
    with Connection(BROKER) as conn:
        simple = conn.SimpleQueue(queue)
        try:
            message = simple.get(block=False)  # in memory: a sent message is there at once
        except simple.Empty:
            return None
        finally:
            simple.close()
        message.ack()
        return message.headers, message.decode()


@pytest.mark.parametrize("ticket_type, stage", sorted(QUEUES))
def test_each_route_lands_on_its_own_queue_by_task_name(
    publisher: Publisher, ticket_type: str, stage: str
) -> None:
    ticket_id = str(uuid.uuid4())

    assert publisher(ticket_id, ticket_type, stage) is True

    headers, body = _take(QUEUES[(ticket_type, stage)])
    assert headers["task"] == PROVISION_TASK
    assert body[0] == [ticket_id]
    assert headers["eta"] is None
    others = [q for key, q in QUEUES.items() if key != (ticket_type, stage)]
    assert all(_take(q) is None for q in others)


def test_a_countdown_is_sent_as_an_eta(publisher: Publisher) -> None:
    assert publisher("T-1", "upscale", "stage", countdown=30) is True

    headers, _ = _take(QUEUES[("upscale", "stage")])
    assert headers["eta"] is not None


def test_webhooks_go_to_the_webhook_queue(publisher: Publisher) -> None:
    assert publisher.webhook("D-1") is True

    headers, body = _take(WEBHOOK_QUEUE)
    assert headers["task"] == DELIVER_WEBHOOK_TASK and body[0] == ["D-1"]


def test_a_route_can_have_its_own_provisioning_target() -> None:
    settings = Settings.from_env({"PROVISIONING_URL": "https://provisioning.example/",
                                  "PROVISIONING_URL_CHANGE_PROD": "https://prod-changes.example/"})

    assert route_for("change", "prod", settings).target == "https://prod-changes.example"
    assert route_for("upscale", "prod", settings).target == "https://provisioning.example"
    assert route_for("change", "stage", settings).target == "https://provisioning.example"
    assert route_for("change", "prod", settings).queue == "provision.prod.change"


@responses.activate
def test_the_worker_calls_the_routed_target(tmp_path: Path) -> None:
    settings = Settings.from_env({"DATABASE_URL": f"sqlite:///{tmp_path / 'envdesk.db'}",
                                  "REDIS_URL": "memory://", "ENVDESK_HOME": str(tmp_path),
                                  "PROVISIONING_TOKEN": new_secret(),
                                  "PROVISIONING_URL": "https://provisioning.example",
                                  "PROVISIONING_URL_CHANGE_PROD": "https://prod-changes.example"})
    ctx = build_context(settings, client_app(settings))
    responses.get("https://prod-changes.example/v1/operations/op-1", json={"id": "op-1", "status": "running"})
    responses.get("https://provisioning.example/v1/operations/op-2", json={"id": "op-2", "status": "pending"})

    assert ctx.client_for("change", "prod").get("op-1").status == "running"
    assert ctx.client_for("change", "stage").get("op-2").status == "pending"
    assert ctx.client_for("change", "prod") is ctx.client_for("change", "prod")


@pytest.mark.parametrize("ticket_type, stage", sorted(QUEUES))
def test_a_worker_publishes_to_the_same_single_queue_as_the_api(
    settings: Settings, ticket_type: str, stage: str
) -> None:
    from workers.app import make_celery

    app = make_celery(settings)
    ticket_id = str(uuid.uuid4())
    try:
        with app.connection_for_write() as conn:  # a worker declares every queue it consumes
            for queue in app.conf.task_queues:
                queue.bind(conn).declare()
        assert Publisher(app, settings)(ticket_id, ticket_type, stage, countdown=1) is True
    finally:
        app.close()

    target = QUEUES[(ticket_type, stage)]
    headers, _ = _take(target)
    assert headers["argsrepr"] == repr([ticket_id])
    assert all(_take(queue) is None for queue in QUEUES.values()), "a copy landed on another queue"
