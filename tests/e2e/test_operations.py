"""Operating the running stack: request ids from the API into the workers, no secrets in any
log, /metrics and /readyz, and graceful shutdown of the API and the worker on SIGTERM."""
from __future__ import annotations

import json
import signal
import threading
import uuid
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.e2e.processes import RedisServer
from tests.e2e.stack import Stack
from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            lines.append(entry)
    return lines


def test_request_id_follows_an_approval_into_the_worker_and_no_secret_is_logged(stack: Stack) -> None:
    ticket = stack.file("stage")
    trace = f"trace-{uuid.uuid4().hex[:12]}"
    response = stack.http.post(f"{stack.api_url}/v1/tickets/{ticket['id']}/approve",
                               headers={**stack.auth("support"), "X-Request-ID": trace}, timeout=10)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == trace
    stack.wait_for_status(ticket["id"], "completed")

    api_lines = [e for e in _json_lines(stack.procs["api"].log.read_text()) if e.get("request_id") == trace]
    worker_lines = [e for e in _json_lines(stack.procs["worker"].log.read_text())
                    if e.get("request_id") == trace]
    assert any(e.get("path", "").endswith("/approve") and e.get("status") == 200 for e in api_lines)
    assert any(e.get("ticket_id") == ticket["id"] for e in worker_lines), "worker lines lack the request id"

    secrets = [stack.seed.customer, stack.seed.support, stack.sim_token, stack.hooks.secret]
    for name, proc in stack.procs.items():
        text = proc.log.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"a secret appears in the {name} log"


def test_metrics_of_api_and_worker_after_the_flow(make_stack: Any, figure: Any) -> None:
    port = free_port()
    stack = make_stack(METRICS_PORT=str(port))
    ticket = stack.file("stage")
    stack.approve(ticket["id"])
    stack.wait_for_status(ticket["id"], "completed")

    api = requests.get(f"{stack.api_url}/metrics", timeout=5).text
    worker = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text

    assert 'envdesk_tickets{status="completed"} 1.0' in api
    assert 'envdesk_http_requests_total{method="POST",route="/v1/tickets",status="201"} 1.0' in api
    assert "envdesk_handoffs_waiting 0.0" in api
    assert 'envdesk_provisioning_steps_total{outcome="completed"} 1.0' in worker
    sample = [line for line in (api + worker).splitlines()
              if line.startswith(("envdesk_tickets", "envdesk_handoffs", "envdesk_webhook",
                                  "envdesk_provisioning", "envdesk_http_requests_total"))]
    figure("metrics sample after one ticket", lines=len(sample), sample=" | ".join(sample[:12]))


def test_readyz_names_the_broker_when_it_is_down(make_stack: Any, private_redis: RedisServer) -> None:
    stack = make_stack(redis_url=private_redis.url)
    assert requests.get(f"{stack.api_url}/readyz", timeout=10).status_code == 200

    private_redis.stop()
    down = requests.get(f"{stack.api_url}/readyz", timeout=15)
    private_redis.start()

    assert down.status_code == 503
    assert down.headers["Content-Type"].startswith("application/problem+json")
    assert down.json()["down"] == ["broker"]
    wait_until(lambda: requests.get(f"{stack.api_url}/readyz", timeout=10).status_code == 200,
               timeout=20, what="/readyz to recover")


def test_api_finishes_an_in_flight_request_on_sigterm(stack: Stack) -> None:
    stack.file("stage")
    result: dict[str, Any] = {}

    def slow_list() -> None:
        try:
            result["response"] = stack.api("GET", "/tickets", who="support", timeout=30)
        except requests.RequestException as exc:  # pragma: no cover - reported below
            result["error"] = exc

    with stack.engine.connect() as conn:
        conn.execute(sa.text("BEGIN"))
        conn.execute(sa.text("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE"))
        request = threading.Thread(target=slow_list)
        request.start()
        wait_until(lambda: stack.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'")[0][0], timeout=15,
            what="the request to wait on the lock, inside a gunicorn worker")
        stack.procs["api"].popen.send_signal(signal.SIGTERM)
        wait_until(lambda: "Handling signal: term" in stack.procs["api"].log.read_text(errors="replace"),
                   timeout=15, what="gunicorn to begin its graceful shutdown")
        conn.execute(sa.text("ROLLBACK"))
    request.join(timeout=30)

    assert "error" not in result, result.get("error")
    assert result["response"].status_code == 200
    assert len(result["response"].json()["items"]) == 1
    assert stack.procs["api"].popen.wait(timeout=30) == 0


def test_worker_finishes_its_task_on_sigterm_and_nothing_is_lost_or_repeated(stack: Stack) -> None:
    stack.sim_config(response_delay=1.5)
    ticket = stack.file("stage")
    stack.approve(ticket["id"])
    worker = stack.procs["worker"]
    # The worker claims the ticket (status provisioning), then calls provisioning, which holds
    # every response for 1.5 s: the task is inside that call.
    wait_until(lambda: stack.statuses([ticket["id"]]).get("provisioning"), timeout=15, interval=0.05,
               what="the worker to take the ticket")

    worker.popen.send_signal(signal.SIGTERM)

    # Within docker-compose's stop_grace_period for workers (60 s), after which it would SIGKILL.
    assert worker.popen.wait(timeout=60) == 0
    log = worker.log.read_text(errors="replace")
    assert "Traceback" not in log
    stack.sim_config(response_delay=0)
    stack.start_worker()
    stack.wait_for_status(ticket["id"], "completed", timeout=40)
    stats = stack.sim_stats()
    assert stats["by_key"] == {f"{ticket['id']}:apply": 1}
