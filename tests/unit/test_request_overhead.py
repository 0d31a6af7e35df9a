"""What every request pays for stays what it was: secrets never reach a log line, the access log's
fields, the security headers once each (a response's own value kept), requests counted."""
from __future__ import annotations

import json
import logging
import re

from flask import Flask, Response
from hypothesis import given, settings, strategies as st
from prometheus_client import REGISTRY

from service.adapters import metrics
from service.api import headers
from service.adapters.logs import SECRET_HINTS, JsonFormatter, request_id, scrub, scrub_patterns

SECRETISH = st.sampled_from([
    *SECRET_HINTS, *(h.upper() for h in SECRET_HINTS), "Bearer ", "bearer\t", "edk_abcdefghij",
    "EDK_ABCDEFGHIJ", "token=", "Token: ", "\"password\": \"", "AUTHORIZATION=", "secret'=", " ",
    ",", ";", "\"", "abc123", "ſecret=", "K", "tokenß",
])


@settings(max_examples=500, deadline=None)
@given(st.lists(SECRETISH | st.text(max_size=6), max_size=12).map("".join))
def test_scrub_redacts_whatever_its_patterns_redact(text):
    assert scrub(text) == scrub_patterns(text)


def test_scrub_redacts_a_token_in_a_log_line():
    line = json.dumps({"path": "/v1/x", "header": "Bearer edk_abcdefghijklmnop"})
    assert "edk_abcdefghijklmnop" not in scrub(line)
    assert "[redacted]" in scrub(line)


def test_an_access_log_line_carries_its_fields_and_request_id():
    record = logging.LogRecord("envdesk.access", logging.INFO, __file__, 1, "request", (), None)
    record.__dict__.update(method="GET", path="/v1/tickets", route="/v1/tickets", status=200,
                           duration_ms=3.21, user_id="u-1")
    token = request_id.set("req-1")
    try:
        entry = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry.pop("ts"))
    assert entry == {"level": "info", "logger": "envdesk.access", "message": "request",
                     "request_id": "req-1", "method": "GET", "path": "/v1/tickets",
                     "route": "/v1/tickets", "status": 200, "duration_ms": 3.21, "user_id": "u-1"}


def test_log_lines_a_second_apart_carry_their_own_second():
    formatter = JsonFormatter()
    stamps = []
    for created in (1_800_000_000.25, 1_800_000_001.5):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        record.created, record.msecs = created, (created % 1) * 1000
        stamps.append(json.loads(formatter.format(record))["ts"])
    assert stamps == ["2027-01-15T08:00:00.250Z", "2027-01-15T08:00:01.500Z"]


def test_security_headers_are_added_once_and_a_responses_own_value_is_kept():
    app = Flask("headers")
    headers.register(app)

    @app.get("/own")
    def own() -> Response:
        return Response("x", headers={"content-security-policy": "default-src 'self'"})

    response = app.test_client().get("/own")
    assert response.headers.getlist("Content-Security-Policy") == ["default-src 'self'"]
    for name, value in headers.SECURITY_HEADERS.items():
        if name != "Content-Security-Policy":
            assert response.headers.getlist(name) == [value]


def test_requests_are_counted_per_method_route_and_status():
    labels = {"method": "GET", "route": "/counted/<x>", "status": "200"}
    before = REGISTRY.get_sample_value("envdesk_http_requests_total", labels) or 0.0
    for _ in range(3):
        metrics.observe_request("GET", "/counted/<x>", 200, 0.004)
    metrics.observe_request("GET", "/counted/<x>", 404, 0.004)

    assert REGISTRY.get_sample_value("envdesk_http_requests_total", labels) == before + 3
    assert REGISTRY.get_sample_value("envdesk_http_request_duration_seconds_count",
                                     {"method": "GET", "route": "/counted/<x>"}) >= 4
