"""Hostile bodies at every write endpoint: a 4xx problem with nothing stored, or success, never
a 500. Huge integers, dates no database can store, deep nesting, odd strings, oversized chunked
bodies; explicit cases first, then hypothesis draws arbitrary JSON.

Every test runs on PostgreSQL and on SQLite (the ``database_url`` fixture is parametrized)."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import func, select

from service.adapters.models import Comment, Draft, Ticket, TicketEvent, WebhookDelivery
from tests.helpers import assert_problem, upscale_body
from tests.support.world import file_via_api

WRITES = ("/v1/tickets", "/v1/tickets/{id}/approve", "/v1/tickets/{id}/reject",
          "/v1/tickets/{id}/cancel", "/v1/tickets/{id}/retry", "/v1/tickets/{id}/comments",
          "/v1/drafts")
WHO = {"approve": "support", "reject": "support", "retry": "support", "drafts": "partner_linked"}
HUGE = "9" * 5000


def _stored(uow_factory: Any) -> tuple[int, ...]:
    with uow_factory() as uow:
        return tuple(uow.session.scalar(select(func.count()).select_from(model))
                     for model in (Ticket, TicketEvent, Comment, WebhookDelivery, Draft))


@pytest.fixture
def pending(client: Any, world: Any) -> str:
    return file_via_api(client, world).get_json()["id"]


def _post(client: Any, world: Any, path: str, ticket_id: str, text: str) -> Any:
    action = path.rsplit("/", 1)[-1]
    return client.post(path.format(id=ticket_id), data=text.encode("utf-8", "surrogatepass"),
                       content_type="application/json",
                       headers=world.auth(WHO.get(action, "customer_a")))


# --- explicit cases ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", WRITES)
@pytest.mark.parametrize("text", [
    '{"reason": ' + HUGE + '}',
    '{"body": "hi", "internal": false, "x": [' + HUGE + ']}',
    '{"summary": "s", "type": "upscale", "environment_id": "e", "resources": [{"size": -' + HUGE + '}]}',
], ids=["top-level", "in-a-list", "negative-nested"])
def test_an_integer_of_5000_digits_anywhere_is_a_400_problem(client, world, uow_factory, pending,
                                                              path, text):
    before = _stored(uow_factory)

    response = _post(client, world, path, pending, text)

    body = assert_problem(response, 400, "bad_request")
    assert "4300 digits" in body["detail"]
    assert _stored(uow_factory) == before


@pytest.mark.parametrize("field,start,end", [
    ("period.end", "2030-01-01T00:00:00Z", "9999-12-31T23:00:00-02:00"),
    ("period.start", "0001-01-01T00:00:00+05:00", "2030-01-01T00:00:00Z"),
])
def test_a_date_that_does_not_exist_in_utc_is_422_naming_the_field(client, world, uow_factory,
                                                                    field, start, end):
    before = _stored(uow_factory)
    body = upscale_body(world.envs["customer_a_stage"], period={"start": start, "end": end})

    response = client.post("/v1/tickets", json=body, headers=world.auth("customer_a"))

    problem = assert_problem(response, 422)
    assert field in problem["errors"], problem
    assert _stored(uow_factory) == before


def test_an_oversized_chunked_body_is_413_not_400(client, world, uow_factory, settings):
    before = _stored(uow_factory)
    text = json.dumps(upscale_body(world.envs["customer_a_stage"], summary="x" * settings.max_body_bytes))

    response = client.post("/v1/tickets", input_stream=io.BytesIO(text.encode()),
                           headers=world.auth("customer_a") | {"Content-Type": "application/json",
                                                               "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})

    assert_problem(response, 413, "payload_too_large")
    assert _stored(uow_factory) == before


def test_a_chunked_body_under_the_limit_is_accepted(client, world, uow_factory):
    text = json.dumps(upscale_body(world.envs["customer_a_stage"]))

    response = client.post("/v1/tickets", input_stream=io.BytesIO(text.encode()),
                           headers=world.auth("customer_a") | {"Content-Type": "application/json",
                                                               "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})

    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize("path,who", [("/healthz", None), ("/v1/tickets", "customer_a"),
                                      ("/v1/tickets", None), ("/v1/nothing-here", "customer_a")])
def test_every_response_carries_the_security_headers(client, world, path, who):
    response = client.get(path, headers=world.auth(who) if who else {})

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


# --- arbitrary JSON -------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text put into the body as it is (an integer Python will not print, a lone surrogate)."""

    text: str

    def __repr__(self) -> str:
        return f"Raw({self.text[:40]!r}...)"


def _encode(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    return json.dumps(value)


ODD = st.sampled_from([Raw(HUGE), Raw("-" + HUGE), Raw('"\\ud800"'), Raw('"\\u0000"'), Raw("1e400"),
                       Raw("-0.0"), "x" * 20_000, "", " ", "\u202e", "😀" * 600])
DATES = st.one_of(
    st.sampled_from(["9999-12-31T23:00:00-02:00", "0001-01-01T00:00:00+05:00", "2030-02-30T00:00:00Z",
                     "2030-01-01", "2030-01-01T00:00:00", "9999-12-31T23:59:59Z", "now", ""]),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(),
                    ODD, DATES)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)
FIELDS = ("type", "environment_id", "summary", "resources", "period", "change", "verified_on",
          "reason", "body", "internal", "component", "size", "start", "end", "kind", "parameters")
NEAR_VALID = st.fixed_dictionaries({}, optional={
    name: JSON for name in FIELDS}) | st.fixed_dictionaries({
        "type": st.sampled_from(["upscale", "change"]), "summary": st.one_of(st.text(), ODD),
        "environment_id": st.sampled_from(["{env}", "{other}", HUGE[:64]]),
        "resources": st.lists(st.fixed_dictionaries({"component": st.sampled_from(["yves", "zed", "x"]),
                                                     "size": st.sampled_from(["large", "2xlarge", "s"])}),
                              max_size=3),
        "period": st.fixed_dictionaries({"start": DATES, "end": DATES})})
DEEP = st.integers(min_value=100, max_value=100_000).map(lambda n: Raw("[" * n + "]" * n))
BODIES = st.one_of(JSON, NEAR_VALID, DEEP)


@pytest.mark.parametrize("path", WRITES)
def test_arbitrary_json_is_answered_4xx_with_nothing_stored_or_succeeds_never_500(
    client, world, uow_factory, pending, path
):
    ids = {"{env}": world.envs["customer_a_stage"], "{other}": world.envs["customer_b_stage"]}

    @hypothesis_settings(max_examples=40, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(body=BODIES)
    def check(body: Any) -> None:
        text = _encode(body)
        for placeholder, value in ids.items():
            text = text.replace(placeholder, value)
        before = _stored(uow_factory)

        response = _post(client, world, path, pending, text)

        assert response.status_code < 500, (text[:300], response.get_json())
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json"
            assert _stored(uow_factory) == before, text[:300]

    check()
