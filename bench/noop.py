"""A Celery app with one no-op task, configured like envdesk's workers (same broker settings,
acks_late, prefetch 1): the consume-rate floor of the queue on this Redis."""
from __future__ import annotations

from celery import Celery
from kombu import Queue

from service.adapters.config import Settings
from service.adapters.broker import celery_config

QUEUE = "bench.noop"

app = Celery("bench-noop")
app.conf.update(celery_config(Settings.from_env()))
app.conf.update(task_queues=[Queue(QUEUE)], task_default_queue=QUEUE, task_acks_late=True,
                worker_prefetch_multiplier=1, worker_hijack_root_logger=False)


@app.task(name="bench.noop", ignore_result=True)
def noop() -> None:
    return None
