"""Tracing across processes: the API and the worker export to a real OTLP/HTTP receiver, and an
approval is one trace from the request to the worker's provisioning call and webhooks."""
from __future__ import annotations

import json
from typing import Callable, Iterator

import pytest

from tests.e2e.stack import Stack
from tests.support.otlp import OtlpReceiver, Span
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


def _one(otlp: OtlpReceiver, what: str, match: Callable[[Span], bool], timeout: float = 20) -> Span:
    return wait_until(lambda: next((s for s in list(otlp.spans) if match(s)), None), timeout=timeout, what=what)


def test_an_approval_is_one_trace_from_the_request_to_the_provisioning_call(
        make_stack: Callable[..., Stack], otlp: OtlpReceiver) -> None:
    stack = make_stack(OTEL_EXPORTER_OTLP_ENDPOINT=otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY="100")
    ticket = stack.file("stage", size="xlarge")
    stack.approve(ticket["id"])
    stack.wait_for_status(ticket["id"], "completed", timeout=30)

    approve = _one(otlp, "the approve request's server span", lambda s: (
        s.service == "envdesk-api" and s.kind == "server" and "approve" in s.name))
    trace_id = approve.trace_id
    in_trace = lambda match: lambda s: s.trace_id == trace_id and match(s)  # noqa: E731
    submit = _one(otlp, "the worker's provisioning call in the approve trace", in_trace(lambda s: (
        s.service == "envdesk-worker" and s.kind == "client"
        and str(s.attributes.get("http.url", s.attributes.get("url.full", ""))).startswith(stack.sim_url))))
    webhook = _one(otlp, "a webhook delivery in the approve trace", in_trace(lambda s: (
        s.service == "envdesk-worker" and s.kind == "client"
        and str(s.attributes.get("http.url", s.attributes.get("url.full", ""))).startswith(stack.hooks.url))),
        timeout=45)  # webhooks wait for a sweep, which a loaded machine delays

    spans = otlp.trace(trace_id)
    services = {s.service for s in spans}
    assert services == {"envdesk-api", "envdesk-worker"}, services
    # The request's SQL, its hand-off to the queue and the task that took it, in the one trace.
    assert any(s.service == "envdesk-api" and s.attributes.get("db.system") == "postgresql" for s in spans)
    assert any(s.service == "envdesk-api" and s.kind == "producer" for s in spans)
    assert any(s.service == "envdesk-worker" and s.kind == "consumer" for s in spans)
    # The webhook was published by a sweep (a trace of its own): the outbox row carried the
    # approve request's context to the delivery, which links back to the sweep's task.
    delivery = next(s for s in spans if s.span_id == webhook.parent_id)
    assert delivery.name == "webhook delivery" and delivery.links and delivery.links[0] != trace_id
    step = next(s for s in spans if s.span_id == submit.parent_id)
    assert step.name == "provisioning apply" and step.attributes["envdesk.ticket_id"] == ticket["id"]
    # The worker's log line about the step names the trace.
    def logged() -> bool:
        for line in stack.procs["worker"].log.read_text(errors="replace").splitlines():
            if ticket["id"] in line and line.startswith("{"):
                entry = json.loads(line)
                if entry.get("trace_id") == trace_id and entry.get("span_id"):
                    return True
        return False
    wait_until(logged, timeout=10, what="a worker log line with the approve trace's trace_id")

