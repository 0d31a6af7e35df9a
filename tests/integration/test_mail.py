"""Mail to people (SPEC §10), on PostgreSQL and SQLite, through a real SMTP server: the API records
the events, the workers' use cases address and send them over a socket to an aiosmtpd sink, and
the tests read what arrived with email.parser — subjects, text and HTML, links, threads, the
one-click unsubscribe, preferences, and who must never be told."""
from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import delete, select

from service.adapters.config import Settings
from service.adapters.mail import composer_for, sender_for
from service.adapters.metrics import mail_counts
from service.adapters.models import MailMessage, Ticket
from service.api import create_app
from service.api.runtime import build_runtime
from service.app.notify.mail_delivery import send_message
from service.app.notify.mail_outbox import claim_due_mail, record
from service.app.notify.outbox import status_listener
from service.app.registry import operators
from service.app.tickets.moves import move
from service.domain.actors import WORKER
from service.domain.notice import Notice
from service.domain.lifecycle import Action
from tests.helpers import upscale_body
from tests.support.world import World

LATER = datetime.now(timezone.utc) + timedelta(days=365)


@pytest.fixture
def api(mail_settings: Settings) -> Any:
    # As service.entrypoints.wsgi wires it: the status listener of these settings.
    app = create_app(mail_settings, build_runtime(mail_settings, listener=status_listener(mail_settings)))
    app.config["TESTING"] = True
    return app.test_client()


_SWEEPS = itertools.count()


def deliver(uow_factory: Any, settings: Settings) -> list[str]:
    """What the sweeps and the mail tasks do until nothing more is due: address, claim what is
    due, send it; a thread's next message is claimed once the one before it is sent. Each
    message is tried once per call, and each call is a later sweep than the one before (past
    the leases it took)."""
    send, composer = sender_for(settings.smtp_url, settings.mail_dir), composer_for(settings)
    now = LATER + timedelta(days=next(_SWEEPS))
    outcomes: list[str] = []
    tried: set[str] = set()
    while ids := [i for i in claim_due_mail(uow_factory(), now=now, lease=60) if i not in tried]:
        tried.update(ids)
        outcomes += [send_message(i, uow=uow_factory(), send=send, composer=composer, max_attempts=3,
                                  clock=lambda: datetime.now(timezone.utc)) for i in ids]
    return outcomes


def file(api: Any, world: World, who: str = "customer_a", **body: Any) -> dict[str, Any]:
    response = api.post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"], **body),
                        headers=world.auth(who))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def act(api: Any, world: World, ticket: dict[str, Any], action: str, who: str = "support", **body: Any) -> None:
    response = api.post(f"/v1/tickets/{ticket['id']}/{action}", json=body, headers=world.auth(who))
    assert response.status_code == 200, response.get_json()


def worker_moves(uow_factory: Any, settings: Settings, ticket_id: str, *actions: Action, reason: str | None = None) -> None:
    for action in actions:
        with uow_factory() as uow:
            move(uow, uow.session.get(Ticket, ticket_id), action, actor=WORKER, now=datetime.now(timezone.utc),
                 reason=reason, listener=status_listener(settings))
            uow.commit()


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()


def test_the_requester_is_told_each_step_in_words_in_one_thread(api, world, uow_factory, mail_settings, sink) -> None:
    ticket = file(api, world)
    act(api, world, ticket, "approve")
    worker_moves(uow_factory, mail_settings, ticket["id"], Action.START, Action.COMPLETE)
    assert set(deliver(uow_factory, mail_settings)) == {"sent"}

    received, approved, completed = sink.messages("customer_a@example.com")
    number = ticket["number"]
    assert [m["Subject"] for m in (received, approved, completed)] == [
        f"[{number}] Upscale received: customer_a-stage", f"[{number}] Upscale approved: customer_a-stage",
        f"[{number}] Upscale completed: customer_a-stage"]
    assert received["From"] == "envdesk <desk@envdesk.example>"
    assert "We received your upscale for customer_a-stage (stage)" in text_of(received)
    assert "yves: large" in text_of(completed)
    assert "<th scope=\"row\">yves</th><td>large</td>" in html_of(completed)
    link = f"https://portal.example/requests/{number}?id={ticket['id']}"
    for message in (received, approved, completed):
        assert link in text_of(message) and f'href="{link}"' in html_of(message).replace("&amp;", "&")
        assert "load test next week" in text_of(message)
    root = received["Message-ID"]
    assert root.endswith("@envdesk.example>") and ticket["id"] in root
    for message in (approved, completed):
        assert message["In-Reply-To"] == root and message["References"] == root
        assert message["Message-ID"] != root
    assert len({m["Message-ID"] for m in (received, approved, completed)}) == 3


def kinds_of(uow_factory: Any, ids: list[str]) -> list[str]:
    with uow_factory() as uow:
        return [uow.session.get(MailMessage, i).kind for i in ids]


def send_one(uow_factory: Any, settings: Settings, message_id: str) -> str:
    return send_message(message_id, uow=uow_factory(), send=sender_for(settings.smtp_url, ""),
                        composer=composer_for(settings), clock=lambda: datetime.now(timezone.utc), max_attempts=3)


def test_a_persons_messages_about_one_ticket_go_out_one_at_a_time_in_order(
        api, world, uow_factory, mail_settings, sink) -> None:
    # Workers send in parallel: were both handed out at once, "approved" could arrive first.
    ticket = file(api, world)
    act(api, world, ticket, "approve")
    [first] = claim_due_mail(uow_factory(), now=LATER, lease=60)
    assert kinds_of(uow_factory, [first]) == ["received"]
    # While the first is out with a worker (its lease), the next waits for it.
    assert claim_due_mail(uow_factory(), now=LATER + timedelta(seconds=1), lease=60) == []
    sink.refuse_with = "550 5.1.1 no such mailbox"
    assert send_one(uow_factory, mail_settings, first) == "given_up"
    # A message given up holds nothing back.
    [second] = claim_due_mail(uow_factory(), now=LATER + timedelta(seconds=2), lease=60)
    assert kinds_of(uow_factory, [second]) == ["approved"]


def test_messages_recorded_at_one_instant_go_in_the_lifecycles_order(
        api, world, uow_factory, mail_settings, sink) -> None:
    # As when the approval policy approves a filing in its own transaction: "received" and
    # "scheduled" carry the same instant, and the customer reads "received" first. Recorded here
    # the other way round, for tickets enough that their random ids cannot hold the order.
    tickets = []
    for _ in range(8):  # one open request per environment: each is decided before the next
        tickets.append(file(api, world))
        act(api, world, tickets[-1], "reject", reason="filed for its mail only")
    with uow_factory() as uow:
        uow.session.execute(delete(MailMessage))
        at = datetime.now(timezone.utc)
        for ticket in tickets:
            record(uow.session, ticket["id"], Notice.SCHEDULED, {"actor_id": None}, at)
            record(uow.session, ticket["id"], Notice.RECEIVED, {"actor_id": None}, at)
        uow.commit()
    assert set(deliver(uow_factory, mail_settings)) == {"sent"}

    for ticket in tickets:
        subjects = [m["Subject"] for m in sink.messages("customer_a@example.com")
                    if m["Subject"].startswith(f"[{ticket['number']}]")]
        assert [s.split("] ")[1] for s in subjects] == [
            "Upscale received: customer_a-stage", "Upscale scheduled: customer_a-stage"]


def test_a_thread_waiting_for_its_first_message_does_not_hold_back_other_mail(
        api, world, uow_factory, mail_settings, sink) -> None:
    waiting = file(api, world)
    act(api, world, waiting, "approve")
    claim_due_mail(uow_factory(), now=LATER, lease=86400)  # its "received" is out for a day
    other = api.post("/v1/tickets", json=upscale_body(world.envs["customer_b_stage"]),
                     headers=world.auth("customer_b")).get_json()
    # The waiting thread's "approved" is due before the other ticket's mail, and held back; the
    # claim's limit counts what it hands out, not what it holds back.
    [handed] = claim_due_mail(uow_factory(), now=LATER + timedelta(seconds=1), lease=60, limit=1)
    with uow_factory() as uow:
        message = uow.session.get(MailMessage, handed)
        assert (message.ticket_id, message.kind) == (other["id"], "received")


def test_a_rejection_carries_the_reason_and_a_comment_its_text(api, world, uow_factory, mail_settings, sink) -> None:
    ticket = file(api, world)
    api.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "Which week exactly?"}, headers=world.auth("support"))
    api.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "customer seems unsure", "internal": True},
             headers=world.auth("support"))
    api.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "next week"}, headers=world.auth("customer_a"))
    act(api, world, ticket, "reject", reason="no capacity before Friday")
    deliver(uow_factory, mail_settings)

    messages = sink.messages()
    assert [m["Subject"].split("] ")[1] for m in messages] == [
        "Upscale received: customer_a-stage", "Upscale new comment: customer_a-stage",
        "Upscale rejected: customer_a-stage"]
    assert "Which week exactly?" in text_of(messages[1]) and "Which week exactly?" in html_of(messages[1])
    assert "Reason: no capacity before Friday" in text_of(messages[2])
    assert not any("customer seems unsure" in m.as_string() for m in messages)


def test_a_failed_ticket_tells_the_customer_what_support_does_next_and_staff_who_opted_in(
        api, world, uow_factory, mail_settings, sink) -> None:
    opt_in = api.patch("/v1/me/notifications", json={"staff": {"failed": True}}, headers=world.auth("support"))
    assert opt_in.status_code == 200 and opt_in.get_json()["staff"]["failed"] is True
    ticket = file(api, world)
    act(api, world, ticket, "approve")
    worker_moves(uow_factory, mail_settings, ticket["id"], Action.START, Action.FAIL, reason="quota exceeded")
    deliver(uow_factory, mail_settings)

    failed = sink.messages("customer_a@example.com")[-1]
    assert "could not be applied: quota exceeded" in text_of(failed)
    assert "Support has been told" in text_of(failed)
    [staff] = sink.messages("support@example.com")
    assert staff["Subject"] == f"[{ticket['number']}] Upscale failed: customer_a-stage"
    assert f"https://envdesk.example/console/tickets/{ticket['id']}" in text_of(staff)
    assert sink.messages("support_2@example.com") == []


def test_staff_who_opted_in_hear_of_new_work(api, world, uow_factory, mail_settings, sink) -> None:
    api.patch("/v1/me/notifications", json={"staff": {"awaiting_approval": True}}, headers=world.auth("support"))
    ticket = file(api, world)
    deliver(uow_factory, mail_settings)

    [staff] = sink.messages("support@example.com")
    assert staff["Subject"] == f"[{ticket['number']}] Upscale awaiting approval: customer_a-stage"
    assert "waiting for approval" in text_of(staff)


def test_watchers_and_the_drafting_partner_are_told_and_no_one_else(api, world, uow_factory, mail_settings, sink) -> None:
    for email, account in (("watcher@a.example", "customer_a"), ("quiet@a.example", "customer_a"),
                           ("watcher@b.example", "customer_b"), ("colleague@partner.example", "partner_linked")):
        user = operators.add_user(email, world.accounts[account], "member", uow=uow_factory())
        token = operators.issue_user_token(user.email, uow=uow_factory())
        if email.startswith("watcher") or email.startswith("colleague"):
            api.patch("/v1/me/notifications", json={"watch_account": True},
                      headers={"Authorization": f"Bearer {token}"})
    draft = api.post("/v1/drafts", json=upscale_body(world.envs["customer_a_stage"]),
                     headers=world.auth("partner_linked")).get_json()
    ticket = api.post(f"/v1/drafts/{draft['id']}/submit", headers=world.auth("customer_a")).get_json()
    deliver(uow_factory, mail_settings)

    told = sorted(r for m in sink.received for r in m.to)
    assert told == ["customer_a@example.com", "partner_linked@example.com", "watcher@a.example"]
    assert all(ticket["number"] in m.message["Subject"] for m in sink.received)


def test_one_click_unsubscribe_turns_that_persons_mail_off(api, world, uow_factory, mail_settings, sink) -> None:
    ticket = file(api, world)
    deliver(uow_factory, mail_settings)
    [received] = sink.messages()
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = urlsplit(received["List-Unsubscribe"].strip("<>"))
    assert (url.scheme, url.netloc, url.path) == ("https", "envdesk.example", "/v1/unsubscribe")

    page = api.get(f"{url.path}?{url.query}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "<form method=\"post\">" in page.get_data(as_text=True)
    assert api.get("/v1/me/notifications", headers=world.auth("customer_a")).get_json()["email"] is True
    done = api.post(f"{url.path}?{url.query}", data="List-Unsubscribe=One-Click",
                    content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200 and done.get_json() == {"email": False}
    assert api.get("/v1/me/notifications", headers=world.auth("customer_a")).get_json() == {
        "email": False, "watch_account": False}

    act(api, world, ticket, "approve")
    deliver(uow_factory, mail_settings)
    assert len(sink.messages()) == 1
    forged = api.post(f"{url.path}?token=x{url.query[7:]}", data="List-Unsubscribe=One-Click",
                      content_type="application/x-www-form-urlencoded")
    assert forged.status_code == 404


def test_preferences_default_change_and_refuse_staff_keys_to_customers(api, world) -> None:
    assert api.get("/v1/me/notifications", headers=world.auth("customer_a")).get_json() == {
        "email": True, "watch_account": False}
    assert api.get("/v1/me/notifications", headers=world.auth("support")).get_json() == {
        "email": True, "watch_account": False,
        "staff": {"awaiting_approval": False, "sla_breach": False, "failed": False}}
    changed = api.patch("/v1/me/notifications", json={"watch_account": True}, headers=world.auth("customer_a"))
    assert changed.get_json() == {"email": True, "watch_account": True}
    refused = api.patch("/v1/me/notifications", json={"staff": {"failed": True}}, headers=world.auth("customer_a"))
    assert refused.status_code == 403 and refused.get_json()["rule"] == "staff_only"
    assert "staff" in refused.get_json()["errors"]
    for body, field in (({"email": "sometimes"}, "email"), ({"colour": "red"}, "colour"), ({}, "body"),
                        ({"staff": {"failed": "yes"}}, "staff.failed"), ({"email": 0}, "email")):
        bad = api.patch("/v1/me/notifications", json=body, headers=world.auth("support"))
        assert bad.status_code == 422 and field in bad.get_json()["errors"], body
    assert api.get("/v1/me/notifications", headers=world.auth("customer_a")).get_json()["watch_account"] is True


def test_smtp_4xx_is_retried_and_5xx_given_up_and_counted(api, world, uow_factory, mail_settings, sink) -> None:
    file(api, world)
    sink.refuse_with = "451 4.3.0 try again later"
    assert deliver(uow_factory, mail_settings) == ["retrying"]
    sink.refuse_with = None
    assert deliver(uow_factory, mail_settings) == ["sent"]
    with uow_factory() as uow:
        ticket = uow.session.scalars(select(Ticket)).one()
    act(api, world, {"id": ticket.id}, "approve")
    sink.refuse_with = "550 5.1.1 no such mailbox"
    assert deliver(uow_factory, mail_settings) == ["given_up"]
    with uow_factory() as uow:
        given_up = uow.session.scalars(select(MailMessage).where(MailMessage.given_up_at.is_not(None))).one()
        assert given_up.last_error.startswith("SMTP 550") and given_up.attempts == 1
        assert mail_counts(uow.session) == {"pending": 0, "sent": 1, "failed": 1}
    assert len(sink.messages()) == 1


def test_mail_dir_keeps_eml_files_instead_of_sending(api, world, uow_factory, mail_settings, tmp_path: Path) -> None:
    folder = dataclasses.replace(mail_settings, smtp_url="", mail_dir=str(tmp_path / "mail"))
    ticket = file(api, world)
    assert deliver(uow_factory, folder) == ["sent"]
    [path] = (tmp_path / "mail").glob("*.eml")
    from email import policy
    from email.parser import BytesParser
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert message["Subject"] == f"[{ticket['number']}] Upscale received: customer_a-stage"


def test_with_mail_off_nothing_is_recorded(client, world, uow_factory) -> None:
    client.post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"]), headers=world.auth("customer_a"))
    with uow_factory() as uow:
        assert uow.session.scalars(select(MailMessage)).all() == []


class Killed(BaseException):
    """The worker process dying between the send and the record."""


def test_a_worker_killed_mid_send_repeats_that_message_once_with_the_same_message_id(
        api, world, uow_factory, mail_settings, sink) -> None:
    file(api, world)
    [message_id] = claim_due_mail(uow_factory(), now=LATER, lease=60)
    smtp = sender_for(mail_settings.smtp_url, "")

    def send_then_die(message: EmailMessage) -> None:
        smtp(message)
        raise Killed

    with pytest.raises(Killed):
        send_message(message_id, uow=uow_factory(), send=send_then_die, composer=composer_for(mail_settings),
                     clock=lambda: datetime.now(timezone.utc), max_attempts=3)
    # The task comes back (acks late / the lease runs out) and runs again.
    again = [send_message(message_id, uow=uow_factory(), send=smtp, composer=composer_for(mail_settings),
                          clock=lambda: datetime.now(timezone.utc), max_attempts=3) for _ in range(2)]

    assert again == ["sent", "skipped"]
    first, repeat = sink.messages()
    assert first["Message-ID"] == repeat["Message-ID"]


def test_staff_who_opted_in_hear_of_a_missed_decision_sla(api, world, uow_factory, mail_settings, sink) -> None:
    from service.app.notify.staff_alerts import StaffAlerts, alert_overdue

    api.patch("/v1/me/notifications", json={"staff": {"sla_breach": True}}, headers=world.auth("support"))
    ticket = file(api, world)
    late = datetime.now(timezone.utc) + timedelta(hours=9)
    assert alert_overdue(StaffAlerts(mail=True), uow=uow_factory(), now=late, sla_hours={"stage": 8}) == 1
    deliver(uow_factory, mail_settings)

    [staff] = sink.messages("support@example.com")
    assert staff["Subject"] == f"[{ticket['number']}] Upscale past its decision SLA: customer_a-stage"
    assert "past its decision SLA" in text_of(staff)
