"""The queue adapter: Celery configuration shared by API and workers, and the publisher.

Only task *names* are used here; the web process never imports the task modules."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Mapping

from celery import Celery
from celery.signals import before_task_publish

from service.adapters.config import Settings
from service.adapters.logs import request_id
from service.adapters.routing import ALL_QUEUES, MAIL_QUEUE, MAINTENANCE_QUEUE, WEBHOOK_QUEUE, route_for

log = logging.getLogger(__name__)

PROVISION_TASK = "envdesk.provision"
SWEEP_TASK = "envdesk.sweep"
DELIVER_WEBHOOK_TASK = "envdesk.deliver_webhook"
SEND_MAIL_TASK = "envdesk.send_mail"
# A task that meets a lost database connection is retried, at most DATABASE_RETRIES times, after
# exponential backoff with full jitter capped at this many seconds (below the visibility timeout).
DATABASE_RETRIES = 6
DATABASE_RETRY_CAP_SECONDS = 10


@before_task_publish.connect
def _carry_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    """Tasks caused by a request log under the request's id (X-Request-ID)."""
    rid = request_id.get()
    if rid and headers is not None:
        headers.setdefault("request_id", rid)


def broker_options(settings: Settings) -> dict[str, Any]:
    if settings.broker_url.startswith("filesystem://"):
        folder = Path(settings.broker_url.removeprefix("filesystem://") or settings.home / "broker")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "control").mkdir(exist_ok=True)
        return {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False,
                "control_folder": str(folder / "control")}
    return {
        # A message not acked within this time is handed to another worker: it must exceed
        # the hard time limit and every countdown we schedule (see workers.app.check_timing).
        "visibility_timeout": settings.visibility_timeout,
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
        "retry_on_timeout": True,
        "health_check_interval": 10,
    }


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": broker_options(settings),
        "broker_connection_timeout": 2,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_backend": None,
        "task_ignore_result": True,
        "task_default_queue": MAINTENANCE_QUEUE,
        # Publishing happens after a commit; if the broker is down we give up fast and let
        # the sweep publish again, instead of holding the HTTP request for many seconds.
        "task_publish_retry": True,
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                                      "interval_max": 0.2},
    }


def client_app(settings: Settings) -> Celery:
    app = Celery("envdesk", set_as_current=False)
    app.conf.update(celery_config(settings))
    return app


class Publisher:
    """Sends tasks by name to the queue the routing table names; never raises."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def __call__(self, ticket_id: str, ticket_type: str, stage: str, *, countdown: float = 0) -> bool:
        queue = route_for(ticket_type, stage, self.settings).queue
        return self._send(PROVISION_TASK, [ticket_id], queue, countdown)

    def webhook(self, delivery_id: str) -> bool:
        return self._send(DELIVER_WEBHOOK_TASK, [delivery_id], WEBHOOK_QUEUE, 0)

    def mail(self, message_id: str) -> bool:
        return self._send(SEND_MAIL_TASK, [message_id], MAIL_QUEUE, 0)

    def _send(self, name: str, args: list[str], queue: str, countdown: float) -> bool:
        try:
            self.app.send_task(name, args=args, queue=queue, countdown=countdown or None)
            return True
        except Exception as exc:  # noqa: BLE001 - any broker failure: the sweep publishes again
            log.warning("could not publish %s%s to %s: %s", name, args, queue, exc)
            return False

    def ping(self) -> bool:
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True


def queue_depths(settings: Settings, *, timeout: float = 1.0) -> Callable[[], Mapping[str, int]] | None:
    """With a Redis broker: a reader of the messages waiting in each queue (what autoscalers
    scale workers on). Celery's Redis transport keeps a queue's waiting messages in a list named
    after the queue; one pipelined LLEN per queue, one round trip, ``timeout`` at most. Messages a
    worker holds (unacknowledged) are not waiting and are not counted. Other brokers: None."""
    if not settings.broker_url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(settings.broker_url, socket_connect_timeout=timeout,
                                  socket_timeout=timeout)

    def read() -> Mapping[str, int]:
        with client.pipeline(transaction=False) as pipe:
            for queue in ALL_QUEUES:
                pipe.llen(queue)
            return dict(zip(ALL_QUEUES, pipe.execute()))

    return read
