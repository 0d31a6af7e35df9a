"""The hot paths' ticket bodies (schemas.ticket_bodies, compiled from TicketSchema) are
TicketSchema's, byte for byte on the wire, from a model and from a listed row alike: a table of
every type, status and null, and generated tickets."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings, strategies as st

from schemas.ticket_bodies import page_body, ticket_json
from schemas.tickets import TicketPageSchema, TicketSchema
from service.domain.lifecycle import Status
from service.domain.hosting import CHANGE_KINDS, COMPONENTS, SIZES, TicketType
from service.adapters.models import Ticket, TicketApproval
from service.adapters.pagination import Page
from service.app.tickets.queries import FIELDS, Approval, ListedTicket

APP = Flask("wire")
AT = datetime(2031, 3, 1, 8, 0, 0, 123456, tzinfo=timezone.utc)


def wire(body: Any) -> bytes:
    """What the API sends for ``body`` (the app's JSON provider, as jsonify)."""
    with APP.app_context():
        return APP.json.response(body).get_data()


def make_ticket(**fields: Any) -> Ticket:
    values: dict[str, Any] = {
        "id": "0b6f2c1e-5d0a-4c55-9a55-1f6f0e3c2a10", "type": "upscale", "status": "pending_approval",
        "environment_id": "env-1", "account_id": "acc-1", "requester_id": "user-1", "drafter_id": None,
        "summary": "load test", "resources": [{"component": "yves", "size": "large"}],
        "period_start": None, "period_end": None, "change": None, "verified_on": None,
        "verified_on_ids": None, "baseline": None, "reason": None, "approvals_required": 1,
        "approval_rule": None, "version": 1, "created_at": AT, "updated_at": AT, "approvals": [], "number": 42,
    }
    values.update(fields)
    return Ticket(**values)


def listed(ticket: Ticket) -> ListedTicket:
    """The ticket as the list reads it: its body's columns and its approvals."""
    return ListedTicket(*(getattr(ticket, name) for name in FIELDS),
                        [Approval(a.user_id, a.at) for a in ticket.approvals])


def assert_same_wire(ticket: Ticket) -> None:
    expected = wire(TicketSchema().dump(ticket))
    assert wire(ticket_json(ticket)) == expected
    assert wire(ticket_json(listed(ticket))) == expected


CHANGE = {"kind": "config", "parameters": {"PHP_MEMORY_LIMIT": "1G", "nested": {"a": [1, 2.5, None, True]}}}
UNICODE = "Lasttest vor dem Früh­jahrs­verkauf — 東京 🚀 \"quoted\" \\ \u2028 <b>&amp;</b>"
TABLE = [
    *({"status": status.value} for status in Status),
    {"type": "change", "resources": None, "change": CHANGE},
    {"type": "change", "resources": None, "change": CHANGE, "verified_on": "t-1",
     "verified_on_ids": ["t-1", "t-2"], "approvals_required": 2, "approval_rule": "four eyes"},
    {"period_start": AT, "period_end": AT + timedelta(days=2, microseconds=1)},
    {"period_start": AT.replace(microsecond=0), "period_end": AT.replace(microsecond=0) + timedelta(days=7)},
    {"summary": UNICODE, "reason": UNICODE, "approval_rule": UNICODE},
    {"drafter_id": "partner-user", "baseline": {"yves": "small", "zed": "medium"}},
    {"baseline": {}, "resources": []},
    {"status": "rejected", "reason": "not in the freeze window", "version": 7},
    {"approvals_required": 0, "approval_rule": "standard stage load tests", "status": "approved"},
    {"approvals": [TicketApproval(user_id="s-1", at=AT), TicketApproval(user_id="s-2", at=AT + timedelta(hours=1))]},
    {"resources": [{"component": c, "size": s} for c, s in zip(COMPONENTS, SIZES)]},
]


@pytest.mark.parametrize("fields", TABLE)
def test_a_listed_ticket_reads_exactly_as_the_ticket_itself(fields):
    assert_same_wire(make_ticket(**fields))


def test_a_page_reads_exactly_as_the_page_schema():
    tickets = [make_ticket(**fields) for fields in TABLE]
    for cursor in ("c2lnbmVk", None):
        fast = page_body(Page(items=[listed(t) for t in tickets], next_cursor=cursor))
        assert wire(fast) == wire(TicketPageSchema().dump(Page(items=tickets, next_cursor=cursor)))


moments = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9998, 1, 1),
                       timezones=st.just(timezone.utc))
texts = st.text(max_size=40)
maybe_texts = st.none() | texts
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3), max_leaves=8)


@st.composite
def tickets(draw: Any) -> Ticket:
    start = draw(st.none() | moments)
    return make_ticket(
        id=draw(texts), type=draw(st.sampled_from([t.value for t in TicketType])),
        status=draw(st.sampled_from([s.value for s in Status])), environment_id=draw(texts),
        account_id=draw(texts), requester_id=draw(texts), drafter_id=draw(maybe_texts),
        summary=draw(texts),
        resources=draw(st.none() | st.lists(st.fixed_dictionaries(
            {"component": st.sampled_from(COMPONENTS), "size": st.sampled_from(SIZES)}), max_size=4)),
        period_start=start, period_end=None if start is None else start + draw(st.timedeltas(
            min_value=timedelta(0), max_value=timedelta(days=30))),
        change=draw(st.none() | st.fixed_dictionaries({"kind": st.sampled_from(CHANGE_KINDS),
                                                        "parameters": st.dictionaries(texts, json_values)})),
        verified_on=draw(maybe_texts), verified_on_ids=draw(st.none() | st.lists(texts, max_size=3)),
        baseline=draw(st.none() | st.dictionaries(texts, texts, max_size=4)), reason=draw(maybe_texts),
        approvals_required=draw(st.integers(0, 3)), approval_rule=draw(maybe_texts),
        approvals=[TicketApproval(user_id=user, at=at)
                   for user, at in draw(st.lists(st.tuples(texts, moments), max_size=3))],
        version=draw(st.integers(1, 2**31 - 1)), created_at=draw(moments), updated_at=draw(moments),
    )


@settings(max_examples=300, deadline=None)
@given(tickets())
def test_any_ticket_reads_exactly_as_the_ticket_schema_says(ticket):
    assert_same_wire(ticket)
