"""Staff notifications through the webhook outbox: new work, and tickets past their SLA (once)."""
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from service.app.tickets import actions as tickets
from service.adapters.config import Settings
from service.app.commands import FileTicket, Reject
from service.adapters.identity import authenticate
from service.adapters.metrics import observe_decision, render
from service.adapters.models import Ticket, WebhookDelivery
from service.app.notify.outbox import address_new_events, attempt_delivery, status_listener
from service.app.notify.staff_alerts import StaffAlerts, alert_overdue
from tests.support.world import World
from tests.helpers import upscale_body, utc

HOOK = "https://hooks.example/services/T000/B000"
FILED = utc(2026, 11, 28, 9, 0)


def _file(uow_factory: Any, world: World, listener: Any) -> Ticket:
    with uow_factory() as uow:
        customer = authenticate(uow.session, world.tokens["customer_a"])
    ticket, _ = tickets.file_ticket(customer, FileTicket.from_body(upscale_body(world.envs["customer_a_stage"])),
                                    uow=uow_factory(), now=FILED, listener=listener)
    return ticket


def _messages(uow_factory: Any) -> list[str]:
    """What the workers send to the staff webhook (they address what the outbox recorded)."""
    address_new_events(uow_factory(), [], staff_url=HOOK)
    with uow_factory() as uow:
        rows = uow.session.scalars(select(WebhookDelivery).where(WebhookDelivery.url == HOOK)
                                   .order_by(WebhookDelivery.created_at)).all()
        return [json.loads(row.body)["text"] for row in rows]


def test_a_filed_ticket_tells_staff_with_a_console_link(uow_factory: Any, world: World) -> None:
    alerts = StaffAlerts("https://envdesk.example/console/")
    ticket = _file(uow_factory, world, alerts)
    [text] = _messages(uow_factory)
    assert text.startswith("New upscale request for customer_a-stage (stage): load test next week")
    assert text.endswith(f"https://envdesk.example/console/tickets/{ticket.id}")


def test_a_ticket_past_its_sla_is_announced_once(uow_factory: Any, world: World) -> None:
    alerts = StaffAlerts()
    ticket = _file(uow_factory, world, None)
    hours = {"stage": 8.0, "prod": 4.0}
    early = alert_overdue(alerts, uow=uow_factory(), now=FILED + timedelta(hours=7, minutes=59), sla_hours=hours)
    assert early == 0 and _messages(uow_factory) == []
    late = FILED + timedelta(hours=8, minutes=1)
    assert alert_overdue(alerts, uow=uow_factory(), now=late, sla_hours=hours) == 1
    assert alert_overdue(alerts, uow=uow_factory(), now=late + timedelta(hours=1), sla_hours=hours) == 0
    [text] = _messages(uow_factory)
    assert text.startswith("Past its 8 h decision SLA: customer_a-stage (stage)")
    assert text.endswith(f"/console/tickets/{ticket.id}")
    with uow_factory() as uow:
        assert uow.session.get(Ticket, ticket.id).version == ticket.version  # open pages stay fresh


def test_a_decided_ticket_is_not_announced(uow_factory: Any, world: World) -> None:
    ticket = _file(uow_factory, world, None)
    with uow_factory() as uow:
        support = authenticate(uow.session, world.tokens["support"])
    tickets.change_status(support, Reject(ticket.id, reason="no"), uow=uow_factory(), now=FILED)
    assert alert_overdue(StaffAlerts(), uow=uow_factory(), now=FILED + timedelta(days=2),
                         sla_hours={"stage": 8}) == 0


def test_staff_and_portal_webhooks_share_the_outbox_and_its_signing(uow_factory: Any, world: World,
                                                                   settings: Settings) -> None:
    conf = Settings(database_url=settings.database_url, broker_url="memory://",
                    webhook_urls=("https://portal.example/hooks",), webhook_secret="s",
                    staff_webhook_url=HOOK)
    _file(uow_factory, world, status_listener(conf))
    address_new_events(uow_factory(), conf.webhook_urls, staff_url=conf.staff_webhook_url)
    with uow_factory() as uow:
        rows = uow.session.scalars(select(WebhookDelivery)).all()
        assert sorted(r.url for r in rows) == sorted([HOOK, "https://portal.example/hooks"])
        staff_row = next(r for r in rows if r.url == HOOK)
    sent: list[tuple[str, bytes]] = []
    outcome = attempt_delivery(staff_row.id, uow=uow_factory(), send=lambda url, body: sent.append((url, body)),
                      clock=lambda: FILED, max_attempts=3)
    assert outcome == "delivered" and sent[0][0] == HOOK and "text" in json.loads(sent[0][1])


def test_staff_messages_recorded_by_a_process_without_the_staff_url_still_reach_staff(
        uow_factory: Any, world: World, settings: Settings) -> None:
    # The API files the ticket without STAFF_WEBHOOK_URL; the worker that picks it up has it.
    _file(uow_factory, world, status_listener(Settings(database_url=settings.database_url,
                                                       broker_url="memory://")))
    assert [text.split(":")[0] for text in _messages(uow_factory)] == [
        "New upscale request for customer_a-stage (stage)"]


def test_a_staff_webhook_needs_the_signing_secret() -> None:
    conf = Settings(database_url="sqlite://", broker_url="memory://", staff_webhook_url=HOOK)
    assert "WEBHOOK_SECRET is required when STAFF_WEBHOOK_URL is set" in conf.problems()


def test_time_to_decision_is_a_histogram_by_type_and_stage() -> None:
    observe_decision("upscale", "prod", 1800)
    text = render().decode()
    assert 'envdesk_time_to_decision_seconds_bucket{le="3600.0",stage="prod",type="upscale"}' in text
