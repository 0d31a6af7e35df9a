"""Support staff work the queue in headless Chromium against the running server."""
from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Server, screenshot, sign_in_with_token

pytestmark = pytest.mark.browser


def test_sign_in_with_a_token_and_sign_out(new_page: Any, server: Server) -> None:
    page = new_page()
    sign_in_with_token(page, server)
    expect(page.get_by_role("heading", name="Queue")).to_be_visible()
    expect(page.get_by_text("Signed in as support@example.com")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(f"{server.url}/console/")
    expect(page.get_by_label("Token")).to_be_visible()  # back at the sign-in page


def test_a_copied_session_cookie_ends_with_the_sign_out(new_page: Any, server: Server) -> None:
    """Someone who copied the cookie into another browser is signed out with its owner."""
    first = new_page()
    sign_in_with_token(first, server)
    expect(first.get_by_role("heading", name="Queue")).to_be_visible()
    cookies = [c for c in first.context.cookies() if c["name"] == "envdesk_console"]
    assert len(cookies) == 1
    second = new_page()
    second.context.add_cookies(cookies)
    second.goto(f"{server.url}/console/")
    expect(second.get_by_text("Signed in as support@example.com")).to_be_visible()
    first.get_by_role("button", name="Sign out").click()
    expect(first.get_by_text("You are signed out.")).to_be_visible()
    second.reload()
    expect(second.get_by_label("Token")).to_be_visible()  # the sign-in page
    expect(second).to_have_url(re.compile(r"/console/login"))


def test_a_customer_token_is_refused(new_page: Any, server: Server) -> None:
    page = new_page()
    sign_in_with_token(page, server, who="customer_a")
    expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    expect(page.get_by_text("The console is for support staff")).to_be_visible()
    page.goto(f"{server.url}/console/")
    expect(page.get_by_label("Token")).to_be_visible()


def test_queue_is_oldest_first_and_filters(new_page: Any, server: Server) -> None:
    first = server.file("customer_b_stage", who="customer_b", summary="Black Friday load test")
    second = server.file(summary="Demo for the board")
    third = server.file("customer_b_dev", who="customer_b", change=True, summary="Raise PHP memory limit")
    server.backdate(first["id"], hours=9)  # past the 8 h SLA of stage
    server.backdate(third["id"], hours=3)  # no SLA on dev
    page = new_page()
    sign_in_with_token(page, server)
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Black Friday load test")
    expect(rows.nth(0)).to_contain_text("over SLA")
    expect(rows.nth(1)).to_contain_text("Raise PHP memory limit")
    expect(rows.nth(2)).to_contain_text("Demo for the board")
    expect(rows.nth(2)).not_to_contain_text("over SLA")
    expect(page.get_by_role("list", name="Tickets per status")).to_contain_text("pending approval 3")
    screenshot(page, "console-queue")
    page.get_by_label("Type").select_option("change")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("Raise PHP memory limit")
    page.get_by_label("Type").select_option("")
    page.get_by_label("Account").fill("customer_a")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("Demo for the board")
    page.get_by_label("Stage").select_option("dev")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("Nothing waiting here.")).to_be_visible()
    page.get_by_role("link", name="Clear filters").click()
    page.get_by_role("link", name="Black Friday load test").click()
    expect(page).to_have_url(re.compile(f"/console/tickets/{first['id']}$"))
    assert second["id"] != first["id"]


def test_approve_from_the_ticket_page(new_page: Any, server: Server) -> None:
    ticket = server.file(summary="Load test on Thursday")
    page = new_page()
    sign_in_with_token(page, server)
    page.get_by_role("link", name="Load test on Thursday").click()
    expect(page.get_by_role("cell", name="large")).to_be_visible()
    screenshot(page, "console-ticket")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("Approved.")
    expect(page.locator("#ticket-status")).to_have_text("approved")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    assert server.ticket(ticket["id"])["status"] == "approved"
    assert server.events(ticket["id"])[-1]["actor_id"] == server.world.users["support"]


def test_reject_without_a_reason_is_refused_then_with_one_succeeds(new_page: Any, server: Server) -> None:
    ticket = server.file()
    page = new_page()
    sign_in_with_token(page, server)
    page.goto(f"{server.url}/console/tickets/{ticket['id']}")
    page.get_by_label("Reason").fill("   ")
    page.get_by_role("button", name="Reject").click()
    expect(page.get_by_text("Give a reason: the customer reads it.")).to_be_visible()
    assert server.ticket(ticket["id"])["status"] == "pending_approval"
    page.get_by_label("Reason").fill("The contract caps yves at medium.")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#ticket-status")).to_have_text("rejected")
    expect(page.get_by_text("The contract caps yves at medium.").first).to_be_visible()
    assert server.ticket(ticket["id"])["reason"] == "The contract caps yves at medium."


def test_two_engineers_act_on_one_ticket_at_once(new_page: Any, server: Server) -> None:
    ticket = server.file()
    first, second = new_page(), new_page()
    sign_in_with_token(first, server, who="support")
    sign_in_with_token(second, server, who="support_2")
    for page in (first, second):
        page.goto(f"{server.url}/console/tickets/{ticket['id']}")
    second.get_by_label("Reason").fill("not this week")
    first.get_by_role("button", name="Approve").click(no_wait_after=True)
    second.get_by_role("button", name="Reject").click(no_wait_after=True)
    for page in (first, second):
        page.wait_for_load_state()
        expect(page.locator("#ticket-status")).not_to_have_text("pending approval")
    final = server.ticket(ticket["id"])["status"]
    winner, loser = (first, second) if final == "approved" else (second, first)
    expect(winner.get_by_role("status")).to_have_text("Approved." if final == "approved" else "Rejected.")
    expect(loser.get_by_role("alert")).to_contain_text("Someone else acted on this ticket first")
    expect(loser.locator("#ticket-status")).to_have_text(final)
    decisions = [e for e in server.events(ticket["id"]) if e["from_status"] == "pending_approval"]
    assert len(decisions) == 1


def test_a_form_without_its_csrf_token_is_refused(new_page: Any, server: Server) -> None:
    ticket = server.file()
    page = new_page()
    sign_in_with_token(page, server)
    page.goto(f"{server.url}/console/tickets/{ticket['id']}")
    page.locator("form[action$='/approve'] input[name=csrf_token]").evaluate("input => input.remove()")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("heading", name="The form was refused")).to_be_visible()
    assert server.ticket(ticket["id"])["status"] == "pending_approval"


def test_comment_and_internal_note(new_page: Any, server: Server) -> None:
    ticket = server.file()
    page = new_page()
    sign_in_with_token(page, server)
    page.goto(f"{server.url}/console/tickets/{ticket['id']}")
    page.get_by_label("Comment").fill("Which day is the test?")
    page.get_by_role("button", name="Post").click()
    page.get_by_label("Comment").fill("Key account; approve quickly.")
    page.get_by_label("Internal note").check()
    page.get_by_role("button", name="Post").click()
    notes = page.locator("article.comment")
    expect(notes).to_have_count(2)
    expect(notes.nth(1)).to_contain_text("internal note")
    expect(notes.nth(0)).not_to_contain_text("internal note")


def test_the_console_works_with_javascript_turned_off(new_page: Any, server: Server) -> None:
    ticket = server.file(summary="Load test without scripts")
    page = new_page(javascript=False)
    sign_in_with_token(page, server)
    page.get_by_role("link", name="Load test without scripts").click()
    page.get_by_label("Comment").fill("Approving now.")
    page.get_by_role("button", name="Post").click()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#ticket-status")).to_have_text("approved")
    expect(page.locator("article.comment")).to_contain_text("Approving now.")
    assert server.ticket(ticket["id"])["status"] == "approved"
