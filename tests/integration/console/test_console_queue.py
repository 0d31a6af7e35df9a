"""The queue and the ticket page, through Flask's test client on PostgreSQL."""
from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from service.domain.actors import WORKER
from service.domain.lifecycle import Action
from service.app.tickets.moves import move
from service.adapters.models import Ticket
from tests.support.world import World
from tests.helpers import change_body
from tests.integration.console.conftest import NOW, csrf_token, file, form_of, sign_in
from tests.support.fakes import Clock

ROW = re.compile(r'<tr class="(overdue)?" data-ticket="([^"]+)">')


def rows(page: str) -> list[tuple[str, bool]]:
    return [(ticket, bool(late)) for late, ticket in ROW.findall(page)]


def test_queue_lists_open_tickets_oldest_first_with_counts(console_app: Any, staff: Any,
                                                           world: World, clock: Clock) -> None:
    api = console_app.test_client()
    first = file(api, world, "customer_b_stage", who="customer_b")
    clock.tick(5 * 60)
    second = file(api, world)
    clock.tick(5 * 60)
    cancelled = api.post("/v1/tickets", json=change_body(world.envs["customer_a_dev"]),
                         headers=world.auth("customer_a")).get_json()
    api.post(f"/v1/tickets/{cancelled['id']}/cancel", headers=world.auth("customer_a"))
    page = staff.get("/console/").get_data(as_text=True)
    assert [t for t, _ in rows(page)] == [first["id"], second["id"]]
    assert "customer_b-stage" in page and "load test next week" in page
    assert re.search(r"pending approval <strong>2</strong>", page)


def test_queue_filters_by_status_stage_type_and_account(console_app: Any, staff: Any,
                                                        world: World) -> None:
    api = console_app.test_client()
    upscale = file(api, world)
    change = api.post("/v1/tickets", json=change_body(world.envs["customer_b_dev"]),
                      headers=world.auth("customer_b")).get_json()
    ids = lambda query: [t for t, _ in rows(staff.get("/console/?" + query).get_data(as_text=True))]  # noqa: E731
    assert ids("stage=dev") == [change["id"]]
    assert ids("type=upscale") == [upscale["id"]]
    assert ids(f"account={world.accounts['customer_b']}") == [change["id"]]
    assert ids("account=CUSTOMER_B") == [change["id"]]  # the start of the name, any case
    assert sorted(ids("account=customer_")) == sorted([upscale["id"], change["id"]])
    assert ids("account=%25") == [] and ids("account=customer%25b") == []  # % is a character
    assert ids("status=failed") == []
    assert ids("status=pending_approval&stage=stage") == [upscale["id"]]
    assert staff.get("/console/?status=bogus").status_code == 400


def test_counts_per_status_follow_the_stage_type_and_account_filters(console_app: Any, staff: Any,
                                                                    world: World) -> None:
    api = console_app.test_client()
    file(api, world)
    api.post("/v1/tickets", json=change_body(world.envs["customer_b_dev"]), headers=world.auth("customer_b"))

    def pending(query: str) -> str:
        page = staff.get("/console/?" + query).get_data(as_text=True)
        return re.search(r"pending approval <strong>(\d+)</strong>", page).group(1)  # type: ignore[union-attr]

    assert pending("") == "2"
    assert pending("stage=dev") == "1" and pending("stage=stage") == "1" and pending("stage=prod") == "0"
    assert pending("type=upscale") == "1"
    assert pending(f"account={world.accounts['customer_b']}") == "1"
    assert pending("status=failed&stage=dev") == "1"  # the counts ignore the status filter


def test_queue_pages_with_a_cursor(console_app: Any, staff: Any, world: World) -> None:
    import sqlalchemy as sa

    with console_app.extensions["envdesk"].sessions() as db, db.begin():
        db.execute(sa.text(
            "INSERT INTO tickets (id, type, status, version, environment_id, account_id, requester_id,"
            " summary, created_at, updated_at, attempts, round) SELECT"
            " 'failed-' || lpad(g::text, 3, '0'), 'upscale', 'failed', 1, :env, :account, :user,"
            " 'refused by provisioning', :at - make_interval(mins => 100 - g), :at, 0, 1"
            " FROM generate_series(1, 75) g"),
            {"env": world.envs["customer_a_stage"], "account": world.accounts["customer_a"],
             "user": world.users["customer_a"], "at": NOW})
    first = staff.get("/console/?status=failed").get_data(as_text=True)
    assert [t for t, _ in rows(first)] == [f"failed-{i:03d}" for i in range(1, 51)]
    assert "failed <strong>75</strong>" in first
    next_link = html.unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    second = staff.get(next_link).get_data(as_text=True)
    assert [t for t, _ in rows(second)] == [f"failed-{i:03d}" for i in range(51, 76)]
    assert 'rel="next"' not in second and "status=failed" in next_link
    assert staff.get("/console/?cursor=not-a-cursor").status_code == 422


def test_tickets_past_their_sla_stand_out(console_app: Any, staff: Any, world: World,
                                          clock: Clock) -> None:
    ticket = file(console_app.test_client(), world)  # stage: 8 hours
    assert rows(staff.get("/console/").get_data(as_text=True)) == [(ticket["id"], False)]
    clock.tick(8 * 3600 + 60)  # the session expired meanwhile: the next morning's sign-in
    assert sign_in(staff, world.tokens["support"]).status_code == 303
    page = staff.get("/console/").get_data(as_text=True)
    assert rows(page) == [(ticket["id"], True)]
    assert "over SLA" in page


def test_ticket_page_shows_the_request_beside_the_environment(console_app: Any, staff: Any,
                                                              world: World) -> None:
    ticket = file(console_app.test_client(), world)
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    assert "customer_a@example.com of customer_a asks" in page
    assert re.search(r"<th scope=\"row\">yves</th><td>medium</td><td><strong>large</strong></td>"
                     r"<td>none</td>", page)
    for button in (">Approve</button>", ">Reject</button>", '<label for="reason">Reason</label>'):
        assert button in page
    assert ">Retry</button>" not in page
    assert "filed, pending approval" in page


def test_approve_goes_through_the_use_case_and_leaves_the_audit_event(console_app: Any, staff: Any,
                                                                      world: World) -> None:
    api = console_app.test_client()
    ticket = file(api, world)
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    response = staff.post(f"/console/tickets/{ticket['id']}/approve",
                          data=form_of(page))
    assert response.status_code == 303
    after = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    assert "Approved." in after and ">Approve</button>" not in after
    events = api.get(f"/v1/tickets/{ticket['id']}/events", headers=world.auth("customer_a")).get_json()
    assert events["items"][-1]["to_status"] == "approved"
    assert events["items"][-1]["actor_id"] == world.users["support"]


def test_reject_needs_a_reason_and_keeps_it(console_app: Any, staff: Any, world: World) -> None:
    api = console_app.test_client()
    ticket = file(api, world)
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    form = form_of(page)
    for blank in ("  ", "\x1f\u00a0"):
        empty = staff.post(f"/console/tickets/{ticket['id']}/reject", data={**form, "reason": blank})
        assert empty.status_code == 422
        assert "Give a reason" in empty.get_data(as_text=True)
    assert api.get(f"/v1/tickets/{ticket['id']}", headers=world.auth("customer_a")).get_json()["status"] \
        == "pending_approval"
    done = staff.post(f"/console/tickets/{ticket['id']}/reject", data={**form, "reason": "too big"})
    assert done.status_code == 303
    body = api.get(f"/v1/tickets/{ticket['id']}", headers=world.auth("customer_a")).get_json()
    assert body["status"] == "rejected" and body["reason"] == "too big"


def test_acting_on_a_stale_page_shows_a_message_and_the_fresh_state(console_app: Any, staff: Any,
                                                                    world: World) -> None:
    api = console_app.test_client()
    ticket = file(api, world)
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    form = form_of(page)
    api.post(f"/v1/tickets/{ticket['id']}/approve", headers=world.auth("support_2"))
    response = staff.post(f"/console/tickets/{ticket['id']}/reject", data={**form, "reason": "no"},
                          follow_redirects=True)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Someone else acted on this ticket first" in text
    assert '<strong id="ticket-status">approved</strong>' in text


def test_comments_and_internal_notes(console_app: Any, staff: Any, world: World) -> None:
    api = console_app.test_client()
    ticket = file(api, world)
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    token = csrf_token(page)
    staff.post(f"/console/tickets/{ticket['id']}/comments", data={"csrf_token": token, "body": "Which day?"})
    staff.post(f"/console/tickets/{ticket['id']}/comments",
               data={"csrf_token": token, "body": "Big customer", "internal": "y"})
    assert staff.post(f"/console/tickets/{ticket['id']}/comments",
                      data={"csrf_token": token, "body": ""}).status_code == 422
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    assert page.count("internal note</span>") == 1 and "Which day?" in page
    seen = api.get(f"/v1/tickets/{ticket['id']}/comments", headers=world.auth("customer_a")).get_json()
    assert [c["body"] for c in seen["items"]] == ["Which day?"]


def test_unknown_ticket_is_a_page_not_a_problem(staff: Any) -> None:
    response = staff.get("/console/tickets/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert staff.get("/console/tickets/" + "x" * 100).mimetype == "text/html"


def _set_status(app: Any, ticket_id: str, status: str) -> None:
    import sqlalchemy as sa

    from service.api.runtime import Runtime

    runtime: Runtime = app.extensions["envdesk"]
    with runtime.sessions() as db, db.begin():
        db.execute(sa.text("UPDATE tickets SET status = :s, version = version + 1 WHERE id = :id"),
                   {"s": status, "id": ticket_id})


def test_a_failed_ticket_offers_retry_and_retry_sends_it_round_again(console_app: Any, staff: Any,
                                                                    world: World) -> None:
    api = console_app.test_client()
    ticket = file(api, world)
    api.post(f"/v1/tickets/{ticket['id']}/approve", headers=world.auth("support"))
    _set_status(console_app, ticket["id"], "failed")  # as the pipeline leaves a refused operation
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    assert ">Retry</button>" in page and ">Approve</button>" not in page
    assert staff.post(f"/console/tickets/{ticket['id']}/retry", data=form_of(page)).status_code == 303
    assert api.get(f"/v1/tickets/{ticket['id']}", headers=world.auth("support")).get_json()["status"] \
        == "approved"
    assert "failed <strong>0</strong>" in staff.get("/console/").get_data(as_text=True)


def test_a_prod_change_shows_its_verification_ticket_and_a_period_is_spelled_out(
        console_app: Any, staff: Any, world: World, clock: Clock) -> None:
    api = console_app.test_client()
    staged = api.post("/v1/tickets", json=change_body(world.envs["customer_a_stage"]),
                      headers=world.auth("customer_a")).get_json()
    _set_status(console_app, staged["id"], "completed")
    prod = api.post("/v1/tickets", json=change_body(world.envs["customer_a_prod"], verified_on=staged["id"]),
                    headers=world.auth("customer_a")).get_json()
    page = " ".join(staff.get(f"/console/tickets/{prod['id']}").get_data(as_text=True).split())
    assert "asks for a config change on customer_a-prod (prod)" in page
    assert f'Verified on stage ticket <a href="/console/tickets/{staged["id"]}">' in page
    assert "now <strong>completed</strong>" in page and "PHP_MEMORY_LIMIT" in page
    period = {"start": "2026-12-01T08:00:00Z", "end": "2026-12-03T18:00:00Z"}
    temporary = file(api, world, period=period)
    page = " ".join(staff.get(f"/console/tickets/{temporary['id']}").get_data(as_text=True).split())
    assert "temporarily, from 2026-12-01 08:00 UTC until 2026-12-03 18:00 UTC" in page


def test_staffs_first_public_comment_not_a_note_starts_the_response_clock_without_staling_pages(
        console_app: Any, staff: Any, world: World, clock: Clock) -> None:
    import sqlalchemy as sa

    api = console_app.test_client()
    ticket = file(api, world)
    api.post(f"/v1/tickets/{ticket['id']}/comments", json={"body": "any news?"}, headers=world.auth("customer_a"))
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    assert staff.post(f"/console/tickets/{ticket['id']}/comments", data={
        "csrf_token": csrf_token(page), "body": "check the contract", "internal": "y"}).status_code == 303
    assert "first staff response" not in staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    clock.tick(30 * 60)
    staff.post(f"/console/tickets/{ticket['id']}/comments", data={"csrf_token": csrf_token(page), "body": "On it"})
    clock.tick(30 * 60)
    staff.post(f"/console/tickets/{ticket['id']}/comments", data={"csrf_token": csrf_token(page), "body": "Still"})
    with console_app.extensions["envdesk"].sessions() as db:
        first = db.execute(sa.text("SELECT first_response_at FROM tickets WHERE id = :id"),
                           {"id": ticket["id"]}).scalar_one()
    assert first == clock.now - timedelta(minutes=30)
    assert "first staff response 2026-11-28 12:30 UTC" in staff.get(
        f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    assert staff.post(f"/console/tickets/{ticket['id']}/approve", data=form_of(page)).status_code == 303
    assert api.get(f"/v1/tickets/{ticket['id']}", headers=world.auth("support")).get_json()["status"] \
        == "approved"


def test_the_history_names_the_part_of_the_system_that_moved_the_ticket(
        console_app: Any, staff: Any, world: World, uow_factory_pg: Any) -> None:
    api = console_app.test_client()
    ticket = file(api, world)
    api.post(f"/v1/tickets/{ticket['id']}/approve", headers=world.auth("support"))
    with uow_factory_pg() as uow:  # a worker takes it up
        row = uow.session.get(Ticket, ticket["id"])
        move(uow, row, Action.START, actor=WORKER, now=row.updated_at)
        uow.commit()
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)
    assert "system: worker" in page


def test_the_account_filter_finds_an_account_by_its_contract_id(
        console_app: Any, staff: Any, world: World, uow_factory_pg: Any) -> None:
    from service.adapters.models import Account

    api = console_app.test_client()
    ticket = file(api, world)
    with uow_factory_pg() as uow:
        uow.session.get(Account, world.accounts["customer_a"]).external_id = "CRM-4711"
        uow.commit()
    page = staff.get("/console/?account=CRM-4711").get_data(as_text=True)
    assert [t for t, _ in rows(page)] == [ticket["id"]]
    assert rows(staff.get("/console/?account=CRM-47").get_data(as_text=True)) == []


def test_the_queue_and_the_ticket_page_show_the_case_number(console_app: Any, staff: Any,
                                                           world: World) -> None:
    ticket = file(console_app.test_client(), world)
    queue = staff.get("/console/").get_data(as_text=True)
    page = staff.get(f"/console/tickets/{ticket['id']}").get_data(as_text=True)

    assert f'<td class="case-number">{ticket["number"]}</td>' in queue
    assert f'<span class="case-number">{ticket["number"]}</span>' in page


def test_staff_find_a_ticket_by_its_case_number(console_app: Any, staff: Any, world: World) -> None:
    ticket = file(console_app.test_client(), world)
    found = staff.get(f"/console/?number={ticket['number'].lower()}")
    page = staff.get(found.headers["Location"])

    assert found.status_code == 303
    assert page.status_code == 200 and "load test next week" in page.get_data(as_text=True)
    assert staff.get(staff.get("/console/?number=ENV-99999999").headers["Location"]).status_code == 404
