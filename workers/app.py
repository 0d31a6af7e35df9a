"""The Celery app of the workers: queues, routes, reliability settings and the beat schedule."""
from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from service.adapters.config import Settings
from service.adapters.broker import DATABASE_RETRY_CAP_SECONDS, SWEEP_TASK, celery_config
from service.adapters.routing import ALL_QUEUES, MAINTENANCE_QUEUE


def check_timing(settings: Settings) -> None:
    """Redelivery is safe only if every deadline is shorter than the next one in this chain:
    HTTP read timeout < soft limit < hard limit < lease < visibility timeout, and every
    countdown we schedule stays below the visibility timeout."""
    chain = [("PROVISIONING_READ_TIMEOUT", settings.provisioning_read_timeout),
             ("TASK_SOFT_TIME_LIMIT", settings.task_soft_time_limit),
             ("TASK_HARD_TIME_LIMIT", settings.task_hard_time_limit),
             ("TASK_LEASE_SECONDS", settings.lease_seconds),
             ("BROKER_VISIBILITY_TIMEOUT", settings.visibility_timeout)]
    for (a, x), (b, y) in zip(chain, chain[1:]):
        if not x < y:
            raise ValueError(f"{a} ({x}) must be less than {b} ({y})")
    for name, countdown in (("RETRY_CAP_SECONDS", settings.retry_cap_seconds),
                            ("POLL_INTERVAL", settings.poll_interval),
                            ("the database retry cap", DATABASE_RETRY_CAP_SECONDS)):
        if not countdown < settings.visibility_timeout:
            raise ValueError(f"{name} ({countdown}) must be less than BROKER_VISIBILITY_TIMEOUT "
                             f"({settings.visibility_timeout})")


def make_celery(settings: Settings) -> Celery:
    check_timing(settings)
    if settings.problems():
        raise ValueError("; ".join(settings.problems()))
    app = Celery("envdesk", include=["workers.tasks"])
    app.conf.update(celery_config(settings))
    app.conf.update(
        # Each queue on a direct exchange of its own name, bound by its own name: exactly what
        # a publisher that names only the queue (the API's send_task) declares, so a message
        # sent by the API or by a worker lands in that one queue and no other.
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in ALL_QUEUES],
        # Ack after the task ran, and hand the message back if the worker process dies:
        # every task is idempotent (it re-reads the ticket and does nothing if it moved on).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # One message at a time per process, so a slow provisioning call never hoards others.
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_hard_time_limit,
        # Keep reconnecting forever when Redis restarts, and re-queue what was running.
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        beat_schedule={
            "sweep": {
                "task": SWEEP_TASK,
                "schedule": settings.sweep_interval,
                "options": {"queue": MAINTENANCE_QUEUE, "expires": max(settings.sweep_interval * 5, 10)},
            },
        },
    )
    return app
