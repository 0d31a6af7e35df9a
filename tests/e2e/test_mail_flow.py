"""Mail on the running stack (API, worker, beat, simulator) through a real SMTP server: a
temporary upscale's requester gets its four messages in one thread, and an SMTP server that is
down for 20 seconds loses nothing and repeats nothing."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Any

import pytest

from tests.support.smtp_sink import SmtpSink
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e
CUSTOMER = "customer@shop.example"


@pytest.fixture
def stack(make_stack: Any, private_redis: Any, sink: SmtpSink) -> Any:
    return make_stack(redis_url=private_redis.url, SMTP_URL=sink.url, MAIL_FROM="Shop Hosting <desk@hosting.example>",
                      PORTAL_TICKET_URL="https://portal.example/requests/{number}",
                      # retries every few seconds, for as long as the test's outage lasts
                      MAIL_RETRY_CAP_SECONDS="3", MAIL_MAX_ATTEMPTS="100")


def _mail_of(sink: SmtpSink, number: str, count: int, timeout: float) -> list[EmailMessage]:
    def arrived() -> list[EmailMessage] | None:
        found = [m for m in sink.messages(CUSTOMER) if m["Subject"].startswith(f"[{number}]")]
        return found if len(found) >= count else None
    return wait_until(arrived, timeout=timeout, interval=0.3, what=f"{count} messages about {number}")


def test_a_temporary_upscale_tells_its_requester_four_times_in_one_thread(stack: Any, sink: SmtpSink) -> None:
    start = datetime.now(timezone.utc) + timedelta(seconds=4)
    ticket = stack.file("stage", size="large", period={"start": start.isoformat(),
                                                       "end": (start + timedelta(seconds=6)).isoformat()})
    assert stack.approve(ticket["id"]).json()["status"] == "scheduled"
    stack.wait_for_status(ticket["id"], "reverted", timeout=60)

    messages = _mail_of(sink, ticket["number"], 4, timeout=30)
    time.sleep(2)  # nothing more arrives: one message per event
    assert len([m for m in sink.messages(CUSTOMER) if ticket["number"] in m["Subject"]]) == 4
    subjects = [m["Subject"] for m in messages]
    assert subjects == [f"[{ticket['number']}] Upscale {what}: shop-stage"
                        for what in ("received", "scheduled", "completed", "reverted")]
    root = messages[0]["Message-ID"]
    assert all(m["In-Reply-To"] == root and m["References"] == root for m in messages[1:])
    assert f"https://portal.example/requests/{ticket['number']}" in messages[2].get_body(("plain",)).get_content()
    assert start.strftime("%Y-%m-%d at %H:%M UTC") in messages[1].get_body(("plain",)).get_content()


def test_an_smtp_server_down_for_20_seconds_loses_nothing(stack: Any, sink: SmtpSink) -> None:
    sink.stop()
    tickets = [stack.file(env) for env in ("stage01", "stage02", "stage03")]
    for ticket in tickets:
        stack.approve(ticket["id"])
    for ticket in tickets:
        stack.wait_for_status(ticket["id"], "completed", timeout=30)
    time.sleep(20 - 1)
    assert sink.received == []
    sink.start()

    for ticket in tickets:
        _mail_of(sink, ticket["number"], 3, timeout=30)
    time.sleep(3)
    messages = sink.messages(CUSTOMER)
    assert len(messages) == 9 and len({m["Message-ID"] for m in messages}) == 9
    pending = stack.query("SELECT count(*) FROM mail_messages WHERE sent_at IS NULL")
    assert pending[0][0] == 0
