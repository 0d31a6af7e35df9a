"""The database goes away (SPEC §13): PostgreSQL is restarted (`pg_ctl -m fast`) under
the running stack — the API (gunicorn, 2 processes x 4 threads), a Celery worker, beat and the
provisioning simulator — on a PostgreSQL server of the test's own (the run's server is shared
and is never restarted).

What a user notices: no 500 at all; a 503 carries Retry-After and rule database_unavailable;
every request sent once the server is back succeeds; nothing is half written (a write answered
503 either happened entirely or not at all, so a client that sends it again gets one ticket);
and the worker completes every approved ticket, each applied once by provisioning."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
import requests

from tests.e2e.stack import STAGE_ENVS, Stack
from tests.support.servers import PrivatePostgres

pytestmark = pytest.mark.e2e

Figure = Callable[..., None]
NO_AUTH_CACHE = {"AUTH_CACHE_SECONDS": "0"}  # every request authenticates on the database


@dataclass
class Answer:
    sent: float  # time.monotonic() when the request was sent
    what: str
    status: int
    rule: str | None = None
    retry_after: str | None = None


@dataclass
class Stream:
    """A customer filing and a support engineer approving, listing and reading, one request after
    another, as a client would: a write answered 503 is sent again after Retry-After (a filing
    with the same Idempotency-Key)."""

    stack: Stack
    envs: list[str]
    answers: list[Answer] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)
    done: int = 0

    def run(self) -> None:
        http = requests.Session()
        for env in self.envs:
            ticket = self._write(http, "file", "POST", "/tickets", "customer", {
                "json": {"type": "upscale", "environment_id": self.stack.seed.envs[env],
                         "summary": "load test", "resources": [{"component": "yves", "size": "large"}]},
                "headers": {"Idempotency-Key": str(uuid.uuid4())}})
            self._send(http, "list", "GET", "/tickets?limit=5", "support", {})
            if ticket is not None:
                self.ids[env] = ticket["id"]
                self._write(http, "approve", "POST", f"/tickets/{ticket['id']}/approve", "support", {})
                self._send(http, "get", "GET", f"/tickets/{ticket['id']}", "customer", {})
            self.done += 1
        http.close()

    def _write(self, http: requests.Session, what: str, method: str, path: str, who: str,
               kw: dict[str, Any]) -> dict[str, Any] | None:
        for attempt in range(30):
            answer, body = self._send(http, what if attempt == 0 else f"{what} again", method, path, who, kw)
            if answer.status != 503:
                return body if answer.status < 300 else None
            time.sleep(float(answer.retry_after or 1))
        return None

    def _send(self, http: requests.Session, what: str, method: str, path: str, who: str,
              kw: dict[str, Any]) -> tuple[Answer, Any]:
        headers = {**self.stack.auth(who), **kw.get("headers", {})}
        sent = time.monotonic()
        response = http.request(method, f"{self.stack.api_url}/v1{path}", headers=headers,
                                json=kw.get("json"), timeout=15)
        body = response.json() if response.content else None
        answer = Answer(sent, what, response.status_code, (body or {}).get("rule"),
                        response.headers.get("Retry-After"))
        self.answers.append(answer)
        return answer, body


def _refused_wrongly(answers: list[Answer]) -> list[Answer]:
    """Answers a client would not expect: anything but a success, a 503 that says when to come
    back, and a 409 to an approval sent again (the first one was done after all)."""
    def expected(a: Answer) -> bool:
        if a.status == 503:
            return a.rule == "database_unavailable" and a.retry_after is not None
        return a.status < 300 or (a.what == "approve again" and a.rule == "invalid_transition")
    return [a for a in answers if not expected(a)]


def _history_problems(stack: Stack, ids: list[str]) -> list[str]:
    """Tickets whose events do not form one chain from filing to the ticket's status, or that
    moved the same way twice: a half-written or twice-applied write."""
    rows = stack.query("SELECT t.id, t.status, e.from_status, e.to_status FROM tickets t "
                       "JOIN ticket_events e ON e.ticket_id = t.id WHERE t.id = ANY(:ids) "
                       "ORDER BY t.id, e.id", ids=ids)
    chains: dict[str, list[tuple[str | None, str]]] = {}
    status: dict[str, str] = {}
    for ticket_id, current, from_status, to_status in rows:
        chains.setdefault(ticket_id, []).append((from_status, to_status))
        status[ticket_id] = current
    problems = []
    for ticket_id in ids:
        chain = chains.get(ticket_id, [])
        linked = all(a[1] == b[0] for a, b in zip(chain, chain[1:]))
        if not chain or chain[0][0] is not None or not linked or chain[-1][1] != status[ticket_id] \
                or len(set(chain)) != len(chain):
            problems.append(f"{ticket_id}: {chain} ending {status.get(ticket_id)}")
    return problems


def _applied_once(stack: Stack, ids: list[str]) -> tuple[int, int]:
    """(never applied, applied more than once) by the simulator, among ``ids``."""
    stats = stack.sim_stats()
    keys = [f"{t}:apply" for t in ids]
    lost = sum(1 for k in keys if stats["applied"].get(k, 0) == 0)
    twice = sum(1 for k in keys if stats["by_key"].get(k, 0) > 1 or stats["applied"].get(k, 0) > 1)
    return lost, twice


def test_a_restart_under_a_stream_of_requests_answers_no_500_and_loses_nothing(
    private_postgres: PrivatePostgres, make_stack: Callable[..., Stack], figure: Figure,
) -> None:
    stack = make_stack(pg_server=private_postgres.url, **NO_AUTH_CACHE)
    stack.sim_config(response_delay=0.2)  # the worker holds tickets while the server restarts
    stream = Stream(stack, [f"stage{i:02d}" for i in range(STAGE_ENVS)])
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    while stream.done < 5 and thread.is_alive():
        time.sleep(0.01)

    # Stopped, and started again only once the stream has sent requests to the stopped server: a
    # bare restart can take 0.2 s and fall between two requests.
    restarting = time.monotonic()
    stopping = private_postgres.stop("fast")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and thread.is_alive() and \
            sum(1 for a in list(stream.answers) if a.sent >= restarting + stopping) < 1:
        time.sleep(0.05)
    private_postgres.start()
    back = time.monotonic()
    thread.join(timeout=120)

    answers = stream.answers
    during = [a for a in answers if restarting <= a.sent < back]
    after = [a for a in answers if a.sent >= back]
    unavailable = [a for a in answers if a.status == 503]
    figure("PostgreSQL restarted under a stream of requests", requests=len(answers),
           during_restart=len(during), answered_503=len(unavailable),
           failed_after=sum(1 for a in after if a.status >= 300), down_s=round(back - restarting, 1))
    assert not thread.is_alive(), "the stream of requests did not finish"
    assert [a for a in answers if a.status >= 500 and a.status != 503] == []
    assert _refused_wrongly(answers) == []
    assert during, "no request was sent while the server restarted"
    assert after and all(a.status < 300 for a in after), [a for a in after if a.status >= 300]
    assert len(stream.ids) == STAGE_ENVS
    filed = stack.query("SELECT environment_id, count(*) FROM tickets GROUP BY environment_id")
    assert all(count == 1 for _, count in filed) and len(filed) == STAGE_ENVS  # each filed once

    ids = list(stream.ids.values())
    stack.wait_for_all(ids, "completed", timeout=90)
    assert _history_problems(stack, ids) == []
    assert _applied_once(stack, ids) == (0, 0)


def test_after_a_restart_of_an_idle_stack_every_approval_succeeds_and_completes_once(
    private_postgres: PrivatePostgres, make_stack: Callable[..., Stack], figure: Figure,
) -> None:
    stack = make_stack(pg_server=private_postgres.url, **NO_AUTH_CACHE)
    n = 8
    ids = [stack.file(f"stage{i:02d}")["id"] for i in range(n)]
    for ticket_id in ids:  # every API process and thread has used its pooled connections
        stack.ticket(ticket_id)
    time.sleep(3)  # idle for a few seconds, as an API between two users

    private_postgres.restart("fast")
    approvals = [stack.api("POST", f"/tickets/{ticket_id}/approve", who="support") for ticket_id in ids]

    figure("PostgreSQL restarted while idle", approvals=n,
           failed=sum(1 for a in approvals if a.status_code != 200))
    assert [a.status_code for a in approvals] == [200] * n, [a.text for a in approvals]
    stack.wait_for_all(ids, "completed", timeout=60)
    assert _history_problems(stack, ids) == []
    assert _applied_once(stack, ids) == (0, 0)
