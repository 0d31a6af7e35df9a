"""Prometheus metrics of the API and the workers (prometheus-client, multi-process aware).

gunicorn and Celery both fork: with PROMETHEUS_MULTIPROC_DIR set (``envdesk serve`` and
``envdesk worker`` set it, see service.adapters.multiproc) every process writes its samples there and a
scrape adds them up."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.adapters.handoff import ACTIVE_STATUSES
from service.adapters.models import MailMessage, Ticket, WebhookDelivery

HTTP_REQUESTS = Counter("envdesk_http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram("envdesk_http_request_duration_seconds", "HTTP request latency",
                         ["method", "route"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
PROVISIONING_STEPS = Counter("envdesk_provisioning_steps_total",
                             "Pipeline steps by outcome (completed, failed, retrying, polling, ...)",
                             ["outcome"])
WEBHOOK_DELIVERIES = Counter("envdesk_webhook_deliveries_total",
                             "Webhook delivery attempts by outcome (delivered, retrying, given_up)",
                             ["outcome"])

MAIL_MESSAGES = Counter("envdesk_mail_messages_total",
                        "Mail send attempts by outcome (sent, retrying, given_up, skipped)", ["outcome"])

TIME_TO_DECISION = Histogram("envdesk_time_to_decision_seconds",
                             "From filing to the staff decision (approve or reject), by type and stage",
                             ["type", "stage"],
                             buckets=(300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600,
                                      2 * 86400, 7 * 86400))


_REQUEST_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one HTTP request and its latency. The labelled children are looked up once per
    (method, route, status), not on every request (bounded: methods are anyone's to invent)."""
    children = _REQUEST_CHILDREN.get((method, route, status))
    if children is None:
        if len(_REQUEST_CHILDREN) >= 1000:
            _REQUEST_CHILDREN.clear()
        children = _REQUEST_CHILDREN[(method, route, status)] = (
            HTTP_REQUESTS.labels(method, route, str(status)), HTTP_LATENCY.labels(method, route))
    children[0].inc()
    children[1].observe(seconds)


def observe_decision(ticket_type: str, stage: str, seconds: float) -> None:
    """Record one decision's time since filing; called by the use case that approves or rejects."""
    TIME_TO_DECISION.labels(ticket_type, stage).observe(max(0.0, seconds))


class TicketCollector(Collector):
    """Gauges read from the database at scrape time: tickets by status, hand-offs waiting."""

    def __init__(self, sessions: Callable[[], Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = datetime.now(timezone.utc)
        try:
            with self.sessions() as session:
                by_status = session.execute(
                    select(Ticket.status, func.count()).group_by(Ticket.status)).all()
                waiting = session.scalar(select(func.count()).select_from(Ticket).where(
                    Ticket.status.in_(ACTIVE_STATUSES), Ticket.next_attempt_at <= now))
                webhooks = session.scalar(select(func.count()).select_from(WebhookDelivery).where(
                    WebhookDelivery.delivered_at.is_(None), WebhookDelivery.given_up_at.is_(None)))
                mail = mail_counts(session)
        except SQLAlchemyError:
            yield GaugeMetricFamily("envdesk_database_up", "Whether the database answered", value=0)
            return
        yield GaugeMetricFamily("envdesk_database_up", "Whether the database answered", value=1)
        tickets = GaugeMetricFamily("envdesk_tickets", "Tickets by status", labels=["status"])
        for status, count in by_status:
            tickets.add_metric([status], count)
        yield tickets
        yield GaugeMetricFamily("envdesk_handoffs_waiting",
                                "Active tickets due for a worker and not yet claimed", value=waiting or 0)
        yield GaugeMetricFamily("envdesk_webhooks_pending", "Webhook deliveries not yet done",
                                value=webhooks or 0)
        family = GaugeMetricFamily("envdesk_mail", "Mail messages by state (pending: not yet sent, "
                                   "including events not yet addressed; failed: given up)", labels=["state"])
        for state, count in mail.items():
            family.add_metric([state], count)
        yield family


def mail_counts(session: Session) -> dict[str, int]:
    """Messages pending (owed, through the partial index), sent and given up (one count each)."""
    pending = session.scalar(select(func.count()).select_from(MailMessage).where(
        MailMessage.sent_at.is_(None), MailMessage.given_up_at.is_(None)))
    sent = session.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.sent_at.is_not(None)))
    failed = session.scalar(select(func.count()).select_from(MailMessage).where(
        MailMessage.given_up_at.is_not(None)))
    return {"pending": pending or 0, "sent": sent or 0, "failed": failed or 0}


class QueueCollector(Collector):
    """Messages waiting in each Celery queue, read from the broker at scrape time; a broker that
    does not answer in time gives ``envdesk_broker_up 0`` and no depths (never a stale number)."""

    def __init__(self, depths: Callable[[], Mapping[str, int]]) -> None:
        self.depths = depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depths = self.depths()
        except Exception:  # noqa: BLE001 - any broker failure: reported as the broker being down
            yield GaugeMetricFamily("envdesk_broker_up", "Whether the broker answered", value=0)
            return
        yield GaugeMetricFamily("envdesk_broker_up", "Whether the broker answered", value=1)
        family = GaugeMetricFamily("envdesk_queue_depth", "Messages waiting in each queue",
                                   labels=["queue"])
        for queue, depth in depths.items():
            family.add_metric([queue], depth)
        yield family


def render(sessions: Callable[[], Session] | None = None,
           queue_depths: Callable[[], Mapping[str, int]] | None = None) -> bytes:
    registry = CollectorRegistry()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY
        registry = REGISTRY  # type: ignore[assignment]
    extra = [TicketCollector(sessions)] if sessions is not None else []
    extra += [QueueCollector(queue_depths)] if queue_depths is not None else []
    if extra:
        registry = _with(registry, *extra)
    return generate_latest(registry)


def _with(registry: CollectorRegistry, *collectors: Collector) -> CollectorRegistry:
    combined = CollectorRegistry()
    combined.register(_Delegate(registry))
    for collector in collectors:
        combined.register(collector)
    return combined


class _Delegate(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[object]:
        yield from self.registry.collect()


def serve_metrics(port: int) -> None:
    """An HTTP endpoint for a worker's samples (all its pool processes), on a thread."""
    from prometheus_client import start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(port, registry=registry)
