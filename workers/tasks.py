"""Thin tasks: receive ids, call one use case. Running one twice is harmless.

A lost database connection (a restart, a failover) is transient: the task is retried through
Celery's own retry, a bounded number of times with backoff, on a pool that renews itself. Each
retry re-reads the row and does nothing if the ticket moved on, and the provisioning
idempotency key makes a repeated submit return the same operation: nothing is lost or applied
twice. Past the last retry, the sweep publishes the work again."""
from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.signals import (
    setup_logging, task_postrun, task_prerun, worker_process_init, worker_process_shutdown,
)

from service.adapters import tracing
from service.adapters.db import DatabaseUnavailable
from service.adapters.logs import configure_logging, request_id
from service.adapters.metrics import MAIL_MESSAGES, PROVISIONING_STEPS, WEBHOOK_DELIVERIES
from service.app.notify.mail_delivery import send_message
from service.app.notify.mail_outbox import claim_due_mail
from service.app.notify.outbox import attempt_delivery, claim_due_deliveries
from service.app.provisioning.pipeline import advance_ticket
from service.adapters.broker import (
    DATABASE_RETRIES, DATABASE_RETRY_CAP_SECONDS, DELIVER_WEBHOOK_TASK, PROVISION_TASK, SEND_MAIL_TASK,
    SWEEP_TASK,
)
from service.app.notify.staff_alerts import StaffAlerts, alert_overdue
from service.app.provisioning.sweep import sweep
from workers.context import context

log = logging.getLogger(__name__)
# Celery's own loggers that write a line for every sweep beat sends (every few seconds); what a
# sweep did is logged by sweep_due_work itself.
ROUTINE_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")
RETRY_WHEN_DATABASE_UNAVAILABLE: dict[str, object] = {
    "autoretry_for": (DatabaseUnavailable,), "max_retries": DATABASE_RETRIES, "retry_backoff": 1,
    "retry_backoff_max": DATABASE_RETRY_CAP_SECONDS, "retry_jitter": True,
}


def routine_sweep_at_debug(record: logging.LogRecord) -> bool:
    """Celery's info lines about the sweep task are logged at debug; anything else passes."""
    if record.levelno != logging.INFO or SWEEP_TASK not in record.getMessage():
        return True
    record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


@setup_logging.connect
def _json_logs(loglevel: str | int | None = None, **_: object) -> None:
    """JSON lines at the level the worker or beat was started with (``--loglevel``)."""
    configure_logging(loglevel or "INFO")
    for name in ROUTINE_LOGGERS:
        logging.getLogger(name).addFilter(routine_sweep_at_debug)


@worker_process_init.connect
def _start_tracing(**_: object) -> None:
    """Tracing, when the OTEL_* variables ask for it, starts in each pool process after the fork."""
    tracing.start("envdesk-worker")


@worker_process_shutdown.connect
def _flush_traces(**_: object) -> None:
    """A pool process exits without running atexit handlers: export what is buffered first."""
    tracing.flush()


@task_prerun.connect
def _adopt_request_id(task: Task | None = None, **_: object) -> None:
    request_id.set(task.request.get("request_id") if task is not None else None)


@task_postrun.connect
def _drop_request_id(**_: object) -> None:
    request_id.set(None)


@shared_task(name=PROVISION_TASK, ignore_result=True, **RETRY_WHEN_DATABASE_UNAVAILABLE)
def provision(ticket_id: str) -> str:
    ctx = context()
    outcome = advance_ticket(ticket_id, uow=ctx.uow(), client_for=ctx.client_for, clock=ctx.clock,
                             timing=ctx.timing, dispatch=ctx.publisher, listener=ctx.listener)
    PROVISIONING_STEPS.labels(outcome).inc()
    log.info("ticket %s: %s", ticket_id, outcome, extra={"ticket_id": ticket_id, "outcome": outcome})
    return outcome


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep_due_work() -> dict[str, int]:
    ctx = context()
    try:
        report = sweep(uow=ctx.uow(), now=ctx.clock(), lease=ctx.settings.lease_seconds,
                       dispatch=ctx.publisher, listener=ctx.listener,
                       deliver_webhooks=lambda: _publish_webhooks(ctx), alert_overdue=_overdue(ctx),
                       deliver_mail=(lambda: _publish_mail(ctx)) if ctx.send_mail else None)
    except DatabaseUnavailable as exc:
        # Due work lives in the database: the next sweep, a few seconds on, is the retry.
        log.warning("sweep: database unavailable (%s); the next sweep does the work",
                    type(exc.orig).__name__)
        return {}
    if report:
        log.info("sweep: %s", report)
    else:
        log.debug("sweep: nothing due")
    return report.__dict__


def _overdue(ctx):  # type: ignore[no-untyped-def]
    settings = ctx.settings
    if not ((settings.staff_webhook_url or settings.mail_enabled) and settings.sla_decision_hours):
        return None
    alerts = StaffAlerts(settings.console_url, mail=settings.mail_enabled)
    return lambda: alert_overdue(alerts, uow=ctx.uow(), now=ctx.clock(),
                                 sla_hours=settings.sla_decision_hours)


def _publish_webhooks(ctx) -> int:  # type: ignore[no-untyped-def]
    ids = claim_due_deliveries(ctx.uow(), now=ctx.clock(), lease=ctx.settings.lease_seconds,
                               urls=ctx.settings.webhook_urls, staff_url=ctx.settings.staff_webhook_url)
    for delivery_id in ids:
        ctx.publisher.webhook(delivery_id)
    return len(ids)


@shared_task(name=DELIVER_WEBHOOK_TASK, ignore_result=True, **RETRY_WHEN_DATABASE_UNAVAILABLE)
def deliver_webhook(delivery_id: str) -> str:
    ctx = context()
    outcome = attempt_delivery(delivery_id, uow=ctx.uow(), send=ctx.send_webhook, clock=ctx.clock,
                      max_attempts=ctx.settings.webhook_max_attempts)
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    return outcome


def _publish_mail(ctx) -> int:  # type: ignore[no-untyped-def]
    ids = claim_due_mail(ctx.uow(), now=ctx.clock(), lease=ctx.settings.lease_seconds)
    for message_id in ids:
        ctx.publisher.mail(message_id)
    return len(ids)


@shared_task(name=SEND_MAIL_TASK, ignore_result=True, **RETRY_WHEN_DATABASE_UNAVAILABLE)
def send_mail(message_id: str) -> str:
    ctx = context()
    if ctx.send_mail is None or ctx.composer is None:
        return "skipped"  # mail is off in this worker; the message stays owed
    outcome = send_message(message_id, uow=ctx.uow(), send=ctx.send_mail, composer=ctx.composer,
                           clock=ctx.clock, max_attempts=ctx.settings.mail_max_attempts,
                           retry_cap=ctx.settings.mail_retry_cap_seconds)
    MAIL_MESSAGES.labels(outcome).inc()
    return outcome
