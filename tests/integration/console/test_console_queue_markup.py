"""What staff read on the queue page: the filter fields are exactly what WTForms renders for the
same query, and each row shows its ticket, escaped, cut where long, linked to the ticket's page
and marked when past its SLA."""
from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest
from werkzeug.datastructures import MultiDict

from service.console.forms import QueueFilterForm
from tests.integration.console.conftest import file
from tests.support.world import World

SELECT = re.compile(r'<select id="(\w+)".*?</select>', re.S)
TEXT = re.compile(r'<input id="(\w+)"[^>]*>')


@pytest.mark.parametrize("query", [
    "", "status=failed", "status=pending_approval&stage=prod&type=change", "stage=dev&type=upscale",
    "account=Cust%22o", "account=M%C3%BCller+%26+%3CS%C3%B6hne%3E", "number=ENV-" + "4" * 40 + "%22", "status=bogus",
])
def test_the_filter_fields_are_what_wtforms_renders(console_app: Any, staff: Any, query: str) -> None:
    page = staff.get("/console/?" + query).get_data(as_text=True)
    with console_app.test_request_context("/console/?" + query):
        form = QueueFilterForm(MultiDict(parse_qsl(query)))
        form.validate()
        expected = {name: str(form[name]()) for name in ("status", "stage", "type")}
        typed = {name: str(form[name](placeholder=form[name].description)) for name in ("number", "account")}
    found = {match.group(1): match.group(0) for match in SELECT.finditer(page)}
    assert found == expected
    assert {match.group(1): match.group(0) for match in TEXT.finditer(page)} == typed
    for name in ("status", "stage", "type", "account"):
        assert f'<label for="{name}">{form[name].label.text}</label>' in page


def test_every_row_links_to_its_ticket_page(console_app: Any, staff: Any, world: World) -> None:
    api = console_app.test_client()  # both filed at the clock's one instant: in no set order
    filed = [file(api, world, "customer_a_stage"), file(api, world, "customer_b_stage", who="customer_b")]
    page = staff.get("/console/").get_data(as_text=True)
    links = [html.unescape(href) for href in re.findall(r'<a href="(/console/tickets/[^"]+)">', page)]
    assert sorted(links) == sorted(f"/console/tickets/{ticket['id']}" for ticket in filed)
    for link in links:
        assert staff.get(link).status_code == 200


ROW = re.compile(
    r'<tr class="(overdue)?" data-ticket="([^"]*)">\s*<td class="case-number">ENV-[1-9][0-9]*</td>\s*<td>([^<]*)(?:( <span class="badge badge-late">over SLA</span>))?</td>'
    r'\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>\s*<td><span class="stage stage-([^"]*)">([^<]*)</span></td>'
    r'\s*<td>([^<]*)</td>\s*<td><a href="([^"]*)">([^<]*)</a></td>\s*<td>([^<]*)</td>\s*</tr>')
SUMMARIES = [
    "Black Friday load test", '<script>alert("x")</script> & \'quotes\'', "x" * 95, "y" * 96,
    "word " * 19 + "end", "Größere Datenbank für den Shop 🚀 " * 3, "a&b " * 30, "   ",
]
IDS = ['odd/id & <b>"1"', "sp ace?x=1#frag", "ünï-cødé", "percent%41"]


@pytest.fixture
def awkward_queue(console_app: Any, world: World) -> None:
    """55 queued tickets (more than a page) in every queued status, over dev, stage and prod,
    some past their SLA, with texts that need escaping, truncating or quoting."""
    import sqlalchemy as sa

    from tests.integration.console.conftest import NOW

    statuses = ["pending_approval", "failed", "approved", "provisioning", "scheduled"]
    with console_app.extensions["envdesk"].sessions() as db, db.begin():
        db.execute(sa.text("UPDATE accounts SET name = :n WHERE id = :id"),
                   {"n": 'Müller & <Söhne> "AG"', "id": world.accounts["customer_b"]})
        for i in range(55):
            account = ("customer_a", "customer_b")[i % 2]
            stage = ("dev", "stage", "prod")[i % 3]
            env_id = f"env-awkward-{i}"
            db.execute(sa.text(
                "INSERT INTO environments (id, account_id, name, stage, sizes, caps, created_at, updated_at)"
                " SELECT :id, account_id, :name, stage, sizes, caps, created_at, updated_at"
                " FROM environments WHERE id = :like"),
                {"id": env_id, "name": f"{account}'s <{stage}> & {i}", "like": world.envs[f"{account}_{stage}"]})
            db.execute(sa.text(
                "INSERT INTO tickets (id, type, status, version, environment_id, account_id, requester_id,"
                " summary, created_at, updated_at, attempts, round) VALUES (:id, :type, :status, 1, :env,"
                " :account, :user, :summary, :at, :at, 0, 1)"),
                {"id": IDS[i] if i < len(IDS) else f"t-{i:03d}", "type": ("upscale", "change")[i % 2],
                 "status": statuses[i % len(statuses)], "env": env_id, "account": world.accounts[account],
                 "user": world.users[account], "summary": SUMMARIES[i % len(SUMMARIES)],
                 "at": NOW - timedelta(minutes=37 * (60 - i))})


STATUSES = ["pending_approval", "failed", "approved", "provisioning", "scheduled"]


def _shown(summary: str) -> str:
    """A summary as the queue shows it: whole up to 95 characters, else cut after its last whole
    word within the first 87, with "..." appended."""
    if len(summary) <= 95:
        return summary
    cut = summary[:87]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "..."


def _age(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} days"


def _awkward(i: int, names: dict[str, str]) -> dict[str, str]:
    """What the queue shows for the i-th ticket of ``awkward_queue`` (``names``: the accounts')."""
    account, stage = ("customer_a", "customer_b")[i % 2], ("dev", "stage", "prod")[i % 3]
    return {"id": IDS[i] if i < len(IDS) else f"t-{i:03d}", "age": _age(37 * (60 - i)),
            "account": names[account],
            "environment": f"{account}'s <{stage}> & {i}", "stage": stage,
            "type": ("upscale", "change")[i % 2], "summary": _shown(SUMMARIES[i % len(SUMMARIES)]),
            "status": STATUSES[i % len(STATUSES)].replace("_", " ")}


@pytest.mark.parametrize("query", [
    "", "status=pending_approval", "status=failed&stage=prod", "type=change", "account=M%C3%BCller+%26",
    "stage=stage&type=upscale&account=customer_a",
])
def test_each_row_shows_its_ticket_escaped_linked_and_marked_past_its_sla(
        console_app: Any, staff: Any, awkward_queue: None, world: World, query: str) -> None:
    """Every row reads, once unescaped, as its ticket: age, account, environment, stage, type,
    summary (cut), status; it links to the ticket's page and is marked when past its SLA."""
    import sqlalchemy as sa

    with console_app.extensions["envdesk"].sessions() as db:
        by_id = dict(db.execute(sa.text("SELECT id, name FROM accounts")).all())
    names = {who: by_id[world.accounts[who]] for who in ("customer_a", "customer_b")}
    expected = {row["id"]: row for row in (_awkward(i, names) for i in range(55))}
    page = staff.get("/console/?" + query).get_data(as_text=True)
    rows = ROW.findall(page)
    assert len(rows) == page.count("<tr class=") > 0
    for late, ticket, age, badge, *cells, href, summary, status in rows:
        want = expected[html.unescape(ticket)]
        account, environment, stage_class, stage, type_ = cells
        assert [html.unescape(text) for text in (age, account, environment, stage, type_, summary, status)] == [
            want[key] for key in ("age", "account", "environment", "stage", "type", "summary", "status")]
        assert stage_class == stage == html.escape(want["stage"])
        assert href == html.escape("/console/tickets/" + quote(want["id"], safe="/"))
        assert bool(late) == bool(badge)
    if not query:
        assert {bool(late) for late, *_ in rows} == {True, False}


def test_awkward_texts_are_escaped_truncated_and_quoted(staff: Any, awkward_queue: None) -> None:
    page = staff.get("/console/").get_data(as_text=True)
    assert '<script>' not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;quotes&#39;" in page
    assert 'data-ticket="odd/id &amp; &lt;b&gt;&#34;1&#34;"' in page
    assert 'href="/console/tickets/odd/id%20%26%20%3Cb%3E%221%22"' in page
    assert "x" * 95 + "<" in page and "y" * 87 + "...<" in page
    assert "Müller &amp; &lt;Söhne&gt; &#34;AG&#34;" in page
    assert page.count('<span class="badge badge-late">over SLA</span>') > 0
