"""The worker app is configured for redelivery that is safe, refuses unsafe timing, and consumes
the queues it is told to; built without a broker connection."""
from __future__ import annotations

from typing import Any

import click
import pytest

from service.cli.processes import queue_names
from service.adapters.config import Settings
from service.adapters.broker import DELIVER_WEBHOOK_TASK, PROVISION_TASK, SWEEP_TASK
from service.adapters.routing import ALL_QUEUES, MAINTENANCE_QUEUE, NON_PROD_QUEUES, PROD_QUEUES, QUEUES, route_for
from workers.app import check_timing, make_celery


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


def test_each_route_has_a_queue_of_its_own() -> None:
    assert len(set(QUEUES.values())) == len(QUEUES)


@pytest.mark.parametrize("ticket_type, stage", sorted(QUEUES))
def test_a_production_worker_takes_exactly_the_production_routes(ticket_type: str, stage: str) -> None:
    # Where the API publishes a ticket, and whether `envdesk worker -Q prod` (or `-Q non-prod`)
    # consumes it: production work never waits behind staging work.
    queue = route_for(ticket_type, stage, _settings()).queue

    assert (queue in queue_names("prod")) == (stage == "prod")
    assert (queue in queue_names("non-prod")) == (stage != "prod")


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
    assert queue_names(None) == list(ALL_QUEUES)
    assert queue_names("") == list(ALL_QUEUES)


def test_worker_queue_groups_expand() -> None:
    assert queue_names("prod") == list(PROD_QUEUES)
    assert queue_names("non-prod") == list(NON_PROD_QUEUES)
    assert queue_names("prod, webhooks,maintenance") == [*PROD_QUEUES, "webhooks", "maintenance"]


def test_worker_refuses_an_unknown_queue() -> None:
    with pytest.raises(click.BadParameter, match="unknown queue.*provision.qa.upscale"):
        queue_names("prod,provision.qa.upscale")


def test_webhooks_without_a_secret_refuse_to_start() -> None:
    settings = Settings(database_url="sqlite://", broker_url="memory://",
                        webhook_urls=("http://portal.example/hooks",), webhook_secret="")

    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        make_celery(settings)
