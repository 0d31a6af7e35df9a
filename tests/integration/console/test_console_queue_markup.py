"""The queue page's filters and links read as before the page was made cheaper to render: the
filter selects are exactly what WTForms renders for the same query, each row links to its
ticket page, and the whole page is what a plain template renders for the same tickets."""
from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import ChoiceLoader, DictLoader
from werkzeug.datastructures import MultiDict

from service.console.forms import QueueFilterForm
from tests.integration.console.conftest import file
from tests.support.world import World

SELECT = re.compile(r'<select id="(\w+)".*?</select>', re.S)


@pytest.mark.parametrize("query", [
    "", "status=failed", "status=pending_approval&stage=prod&type=change", "stage=dev&type=upscale",
    "account=Cust%22o", "status=bogus",
])
def test_the_filter_selects_are_what_wtforms_renders(console_app: Any, staff: Any, query: str) -> None:
    page = staff.get("/console/?" + query).get_data(as_text=True)
    with console_app.test_request_context("/console/?" + query):
        form = QueueFilterForm(MultiDict(re.findall(r"(\w+)=([^&]*)", query)))
        form.validate()
        expected = {name: str(form[name]()) for name in ("status", "stage", "type")}
    found = {match.group(1): match.group(0) for match in SELECT.finditer(page)}
    assert found == expected
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


REFERENCE = Path(__file__).parent / "reference" / "queue.html"
CSRF_VALUE = re.compile(r'(name="csrf_token" type="hidden" value=")[^"]+"')
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


@pytest.mark.parametrize("query", [
    "", "status=pending_approval", "status=failed&stage=prod", "type=change", "account=M%C3%BCller+%26",
    "stage=stage&type=upscale&account=customer_a",
])
def test_the_page_is_what_a_plain_template_renders_byte_for_byte(
        console_app: Any, staff: Any, awkward_queue: None, query: str) -> None:
    """The rows written by service/console/rows.py (and the rest of the page) are the markup of
    tests/integration/console/reference/queue.html, a loop of plain Jinja over the rows."""
    url = "/console/?" + query
    first = staff.get(url).get_data(as_text=True)  # counts taken: the pages below show them kept
    served = staff.get(url).get_data(as_text=True)
    env = console_app.jinja_env
    loader = env.loader
    env.loader = ChoiceLoader([DictLoader({"console/queue.html": REFERENCE.read_text()}), loader])
    env.cache.clear()
    try:
        plain = staff.get(url).get_data(as_text=True)
    finally:
        env.loader = loader
        env.cache.clear()
    assert CSRF_VALUE.sub(r"\1", served) == CSRF_VALUE.sub(r"\1", plain)
    assert "<tr class=" in served or "Nothing waiting here." in served
    assert first.count("<tr class=") == served.count("<tr class=")


def test_awkward_texts_are_escaped_truncated_and_quoted(staff: Any, awkward_queue: None) -> None:
    page = staff.get("/console/").get_data(as_text=True)
    assert '<script>' not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;quotes&#39;" in page
    assert 'data-ticket="odd/id &amp; &lt;b&gt;&#34;1&#34;"' in page
    assert 'href="/console/tickets/odd/id%20%26%20%3Cb%3E%221%22"' in page
    assert "x" * 95 + "<" in page and "y" * 87 + "...<" in page
    assert "Müller &amp; &lt;Söhne&gt; &#34;AG&#34;" in page
    assert page.count('<span class="badge badge-late">over SLA</span>') > 0
