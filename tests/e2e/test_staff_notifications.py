"""Staff notifications on the running stack: the staff webhook hears about new work at once and
about a ticket past its decision SLA exactly once, signed like the portal's webhooks."""
from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from tests.e2e.processes import RedisServer
from tests.e2e.webhook_receiver import WebhookReceiver
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


def _texts(receiver: WebhookReceiver, ticket_id: str) -> list[str]:
    with receiver.lock:
        hooks = list(receiver.received)
    assert all(h.valid for h in hooks), "every delivery carries a valid Envdesk-Signature"
    return [h.json["text"] for h in hooks if "text" in h.json and ticket_id in h.json["text"]]


def test_staff_hear_of_new_work_and_of_a_missed_sla_once(make_stack: Any,
                                                         private_redis: RedisServer) -> None:
    receiver = WebhookReceiver(secrets.token_urlsafe(32))
    try:
        stack = make_stack(redis_url=private_redis.url, WEBHOOK_URLS=receiver.url, WEBHOOK_SECRET=receiver.secret,
                           STAFF_WEBHOOK_URL=receiver.url, SLA_DECISION_HOURS="stage=0.001",
                           CONSOLE_URL="https://envdesk.example/console")
        ticket = stack.file("stage")
        link = f"https://envdesk.example/console/tickets/{ticket['id']}"
        new = wait_until(lambda: [t for t in _texts(receiver, ticket["id"]) if t.startswith("New ")],
                         timeout=20, what="the staff message about the new ticket")
        assert new == [f"New upscale request for shop-stage (stage): load test {link}"]
        late = wait_until(lambda: [t for t in _texts(receiver, ticket["id"]) if t.startswith("Past ")],
                          timeout=30, what="the staff message about the missed SLA")
        time.sleep(4)  # several more sweeps (SWEEP_INTERVAL=1) must not repeat it
        assert [t for t in _texts(receiver, ticket["id"]) if t.startswith("Past ")] == late
        assert late[0].startswith("Past its 0.001 h decision SLA") and late[0].endswith(link)
    finally:
        receiver.close()
