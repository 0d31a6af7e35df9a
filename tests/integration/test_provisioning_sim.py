import http.client
import json
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from service.adapters.provisioning import GiveUp, ProvisioningClient, RetryLater
from service.provisioning_sim import SimSettings, make_server

TOKEN = "sim-token-abcdef"
ENVIRONMENT = {"id": "env-1", "name": "acme-stage", "stage": "stage", "account_id": "acct-1"}
UPSCALE = {"type": "upscale", "resources": {"cpu": 4}}


@pytest.fixture
def start_sim():
    servers = []

    def start(**settings) -> str:
        server = make_server("127.0.0.1", 0, SimSettings(**{"token": TOKEN, **settings}))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def client_for(url, token=TOKEN, read_timeout=5.0):
    return ProvisioningClient(url, token, connect_timeout=1.0, read_timeout=read_timeout)


def submit(client, ticket_id="T-1", request=UPSCALE):
    return client.submit(
        ticket_id=ticket_id, action="apply", environment=ENVIRONMENT, request=request
    )


def wait_until_finished(client, operation_id, timeout=5.0):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        operation = client.get(operation_id)
        seen.append(operation.status)
        if operation.finished:
            return operation, seen
        time.sleep(0.02)
    raise AssertionError(f"operation never finished; saw {seen}")


def stats(url):
    return requests.get(f"{url}/_sim/stats", timeout=5).json()


def test_submitted_operation_moves_through_pending_and_running_to_succeeded(start_sim):
    url = start_sim(latency=1.0)
    client = client_for(url)

    accepted = submit(client)
    finished, seen = wait_until_finished(client, accepted.id)

    assert accepted.status == "pending"
    assert finished.status == "succeeded" and finished.error is None
    assert seen[0] == "pending" and "running" in seen
    assert seen.index("running") > seen.index("pending")
    assert stats(url)["applied"] == {"T-1:apply": 1}


def test_without_latency_the_submit_answer_is_already_finished(start_sim):
    client = client_for(start_sim())

    operation = submit(client)

    assert operation.status == "succeeded"
    assert client.get(operation.id).status == "succeeded"


def test_without_latency_a_terminal_failure_is_in_the_submit_answer(start_sim):
    client = client_for(start_sim(terminal_failure_rate=1.0))

    operation = submit(client)

    assert operation.status == "failed" and "quota exceeded" in operation.error


def test_one_client_sends_its_calls_over_one_kept_alive_connection(start_sim):
    url = start_sim()
    conn = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=5)
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    sockets = []
    for n in range(3):
        body = {"ticket_id": f"T-{n}", "action": "apply", "environment": ENVIRONMENT, "request": UPSCALE}
        conn.request("POST", "/v1/operations", body=json.dumps(body),
                     headers={**auth, "Idempotency-Key": f"T-{n}:apply"})
        answer = conn.getresponse()
        operation = json.loads(answer.read())
        conn.request("GET", f"/v1/operations/{operation['id']}", headers=auth)
        looked = conn.getresponse()
        looked.read()
        assert (answer.status, looked.status, answer.will_close, looked.will_close) == (202, 200, False, False)
        sockets.append(conn.sock)
    conn.close()

    assert sockets[0] is not None and sockets.count(sockets[0]) == 3
    assert stats(url)["operations"] == 3


def test_an_oversized_body_closes_the_connection_instead_of_being_read_as_a_request(start_sim):
    url = start_sim()
    with requests.Session() as http:
        refused = http.post(f"{url}/v1/operations", data=b"x" * (1 << 20 + 1),
                            headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "k"}, timeout=5)
        after = http.get(f"{url}/_sim/stats", timeout=5)

    assert refused.status_code == 413 and refused.headers["Connection"] == "close"
    assert after.status_code == 200 and after.json()["operations"] == 0


def test_stats_tell_when_each_key_was_first_submitted(start_sim):
    url = start_sim(latency=0.2)
    before = time.time()
    submit(client_for(url), ticket_id="T-1")
    submit(client_for(url), ticket_id="T-1")
    after = time.time()

    submitted = stats(url)["first_submitted_at"]

    assert list(submitted) == ["T-1:apply"]
    assert before <= submitted["T-1:apply"] <= after


def test_submitting_the_same_key_twice_creates_one_operation(start_sim):
    url = start_sim(latency=0.2)
    client = client_for(url)

    first = submit(client)
    second = submit(client)
    wait_until_finished(client, first.id)

    assert second.id == first.id
    counts = stats(url)
    assert counts["posts"] == 2
    assert counts["operations"] == 1
    assert counts["by_key"] == {"T-1:apply": 1}
    assert counts["applied"] == {"T-1:apply": 1}


def test_reusing_a_key_for_a_different_request_is_refused(start_sim):
    client = client_for(start_sim())
    submit(client)

    with pytest.raises(GiveUp) as caught:
        submit(client, request={"type": "upscale", "resources": {"cpu": 64}})

    assert "422" in caught.value.reason


def test_terminal_failure_reports_an_error(start_sim):
    client = client_for(start_sim(terminal_failure_rate=1.0))

    operation, _ = wait_until_finished(client, submit(client).id)

    assert operation.status == "failed"
    assert operation.error


def test_wrong_token_is_rejected_for_good(start_sim):
    url = start_sim()

    with pytest.raises(GiveUp) as caught:
        submit(client_for(url, token="not-the-token"))

    assert "401" in caught.value.reason
    assert stats(url)["operations"] == 0


def test_transient_failures_are_retried_later_with_retry_after(start_sim):
    client = client_for(start_sim(failure_rate=1.0))

    for _ in range(2):
        with pytest.raises(RetryLater) as caught:
            submit(client)
        assert caught.value.retry_after == 1


def test_client_recovers_once_failures_stop(start_sim):
    url = start_sim(failure_rate=1.0)
    client = client_for(url)
    with pytest.raises(RetryLater):
        submit(client)

    changed = requests.post(
        f"{url}/_sim/config", json={"failure_rate": 0}, headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert changed.status_code == 200
    assert submit(client).status == "succeeded"
    assert stats(url)["operations"] == 1


def test_hanging_provider_times_out_and_is_retried_later(start_sim):
    client = client_for(start_sim(response_delay=2.0), read_timeout=0.3)

    started = time.monotonic()
    with pytest.raises(RetryLater):
        submit(client)

    assert time.monotonic() - started < 1.5


def test_unknown_operation_is_not_found(start_sim):
    client = client_for(start_sim())

    with pytest.raises(GiveUp) as caught:
        client.get("op_missing")

    assert "404" in caught.value.reason


def test_missing_idempotency_key_and_bad_body_are_rejected(start_sim):
    url = start_sim()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"ticket_id": "T-9", "action": "apply", "environment": ENVIRONMENT, "request": UPSCALE}

    no_key = requests.post(f"{url}/v1/operations", json=body, headers=auth, timeout=5)
    bad_action = requests.post(
        f"{url}/v1/operations",
        json={**body, "action": "destroy"},
        headers={**auth, "Idempotency-Key": "T-9:destroy"},
        timeout=5,
    )
    not_json = requests.post(
        f"{url}/v1/operations", data=b"{", headers={**auth, "Idempotency-Key": "k"}, timeout=5
    )

    assert [no_key.status_code, bad_action.status_code, not_json.status_code] == [400, 400, 400]
    assert stats(url)["operations"] == 0


def test_config_and_reset_need_the_token(start_sim):
    url = start_sim()
    submit(client_for(url))

    refused = requests.post(f"{url}/_sim/reset", timeout=5)
    assert refused.status_code == 401
    assert stats(url)["operations"] == 1

    reset = requests.post(
        f"{url}/_sim/reset", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert reset.status_code == 200
    assert stats(url)["operations"] == 0


def test_invalid_config_is_refused(start_sim):
    url = start_sim()
    auth = {"Authorization": f"Bearer {TOKEN}"}

    for change in ({"failure_rate": 2}, {"latency": -1}, {"speed": 3}, {"token": ""}):
        answer = requests.post(f"{url}/_sim/config", json=change, headers=auth, timeout=5)
        assert answer.status_code == 400, change
