import email.utils

import pytest
import requests
import responses

from service.adapters.outbound import GiveUp, HttpClient, RetryLater, backoff_delay, parse_retry_after

BASE = "https://remote.example"
TOKEN = "s3cr3t-bearer-token"
NOW = 1_700_000_000.0


@pytest.fixture
def client():
    with HttpClient(
        BASE,
        connect_timeout=2.0,
        read_timeout=7.5,
        headers={"Authorization": f"Bearer {TOKEN}"},
        name="provisioning",
        clock=lambda: NOW,
    ) as http:
        yield http


@responses.activate
def test_every_call_sends_connect_and_read_timeouts(client):
    responses.post(f"{BASE}/things", json={"ok": True})
    responses.get(f"{BASE}/things/1", json={"ok": True})
    responses.post("https://hook.example/in", status=204)

    client.post_json("/things", {"a": 1})
    client.get_json("things/1")
    client.post_bytes("https://hook.example/in", b"{}", {"Content-Type": "application/json"})

    assert [call.request.req_kwargs["timeout"] for call in responses.calls] == [(2.0, 7.5)] * 3


@responses.activate
def test_post_json_sends_body_and_default_and_extra_headers(client):
    responses.post(f"{BASE}/things", json={"id": "x"})

    assert client.post_json("/things", {"a": 1}, headers={"X-Extra": "1"}) == {"id": "x"}

    request = responses.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-Extra"] == "1"
    assert request.body == b'{"a": 1}'


@responses.activate
def test_redirect_is_not_followed_and_gives_up(client):
    responses.get(f"{BASE}/things/1", status=302, headers={"Location": f"{BASE}/elsewhere"})
    responses.get(f"{BASE}/elsewhere", json={"ok": True})

    with pytest.raises(GiveUp) as caught:
        client.get_json("/things/1")

    assert "302" in caught.value.reason
    assert len(responses.calls) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
@responses.activate
def test_server_errors_are_retried_later(client, status):
    responses.post(f"{BASE}/things", status=status, body="upstream broke")

    with pytest.raises(RetryLater) as caught:
        client.post_json("/things", {})

    assert str(status) in caught.value.reason


@responses.activate
def test_429_honours_retry_after_seconds(client):
    responses.post(f"{BASE}/things", status=429, headers={"Retry-After": "7"})

    with pytest.raises(RetryLater) as caught:
        client.post_json("/things", {})

    assert caught.value.retry_after == 7


@responses.activate
def test_429_honours_retry_after_http_date(client):
    when = email.utils.formatdate(NOW + 30, usegmt=True)
    responses.post(f"{BASE}/things", status=429, headers={"Retry-After": when})

    with pytest.raises(RetryLater) as caught:
        client.post_json("/things", {})

    assert caught.value.retry_after == pytest.approx(30)


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
@responses.activate
def test_client_errors_give_up_with_status_and_excerpt(client, status):
    responses.post(f"{BASE}/things", status=status, json={"error": "invalid size"})

    with pytest.raises(GiveUp) as caught:
        client.post_json("/things", {})

    assert caught.value.reason == f"provisioning rejected the request: {status} invalid size"


@responses.activate
def test_long_error_bodies_are_cut_short(client):
    responses.post(f"{BASE}/things", status=400, body="x" * 5000)

    with pytest.raises(GiveUp) as caught:
        client.post_json("/things", {})

    assert len(caught.value.reason) < 300


@pytest.mark.parametrize(
    "error",
    [requests.ConnectTimeout(), requests.ReadTimeout(), requests.ConnectionError("refused")],
)
@responses.activate
def test_transport_failures_are_retried_later(client, error):
    responses.get(f"{BASE}/things/1", body=error)

    with pytest.raises(RetryLater):
        client.get_json("/things/1")


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '"text"', ""])
@responses.activate
def test_success_without_a_json_object_is_retried_later(client, body):
    responses.get(f"{BASE}/things/1", body=body, status=200)

    with pytest.raises(RetryLater) as caught:
        client.get_json("/things/1")

    assert "malformed" in caught.value.reason


@responses.activate
def test_token_echoed_by_the_server_never_reaches_the_reason(client):
    responses.post(f"{BASE}/things", status=403, body=f"bad credentials: Bearer {TOKEN}")
    responses.post(f"{BASE}/other", status=503, body=f"token {TOKEN} overloaded")

    with pytest.raises(GiveUp) as rejected:
        client.post_json("/things", {})
    with pytest.raises(RetryLater) as unavailable:
        client.post_json("/other", {})

    for error in (rejected.value, unavailable.value):
        assert TOKEN not in error.reason
        assert TOKEN not in str(error)
    assert "403" in rejected.value.reason


@responses.activate
def test_absolute_urls_bypass_the_base_url(client):
    responses.get("https://other.example/x", json={"ok": 1})

    assert client.get_json("https://other.example/x") == {"ok": 1}


def test_backoff_grows_exponentially_up_to_the_cap():
    top = [backoff_delay(n, base=1.0, cap=60.0, rand=lambda: 1.0) for n in range(1, 10)]

    assert top == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_backoff_uses_full_jitter():
    assert backoff_delay(4, rand=lambda: 0.0) == 0.0
    assert backoff_delay(4, base=1.0, rand=lambda: 0.5) == 4.0


def test_backoff_waits_at_least_retry_after_but_never_past_the_cap():
    assert backoff_delay(1, retry_after=7, rand=lambda: 0.5) == 7
    assert backoff_delay(8, retry_after=7, rand=lambda: 1.0) == 60.0
    assert backoff_delay(1, cap=30.0, retry_after=3600, rand=lambda: 0.0) == 30.0


def test_backoff_survives_huge_attempt_numbers():
    assert backoff_delay(10_000, cap=60.0, rand=lambda: 1.0) == 60.0


def test_backoff_rejects_attempt_zero():
    with pytest.raises(ValueError):
        backoff_delay(0)


@pytest.mark.parametrize("value", [None, "", "soon", "-3"])
def test_unusable_retry_after_is_ignored(value):
    assert parse_retry_after(value, now=NOW) is None


def test_retry_after_in_the_past_means_now():
    past = email.utils.formatdate(NOW - 100, usegmt=True)

    assert parse_retry_after(past, now=NOW) == 0.0


def test_proxies_and_ca_bundle_come_from_the_environment_as_requests_would_read_them(monkeypatch):
    """Read once per origin instead of on every call, they are what requests itself finds."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/internal.pem")
    with HttpClient(BASE, connect_timeout=1, read_timeout=1) as http:
        for url in (f"{BASE}/v1/operations", "https://internal.example/hook"):
            expected = requests.Session().merge_environment_settings(url, {}, None, None, None)
            assert http.environment_for(url) == {"proxies": expected["proxies"], "verify": expected["verify"]}
        assert http.environment_for(f"{BASE}/x")["proxies"]["https"] == "http://proxy.example:3128"
        assert "https" not in http.environment_for("https://internal.example/hook")["proxies"]
        assert http.environment_for(f"{BASE}/x")["verify"] == "/etc/ssl/certs/internal.pem"


@responses.activate
def test_a_call_goes_through_the_proxy_the_environment_names(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    responses.get(f"{BASE}/things/1", json={"ok": True})
    with HttpClient(BASE, connect_timeout=1, read_timeout=1) as http:
        http.get_json("/things/1")
    assert responses.calls[0].request.req_kwargs["proxies"]["https"] == "http://proxy.example:3128"


class _WatchedSession(requests.Session):
    """A session that records every value its ``trust_env`` is set to after construction."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env_set: list[bool] = []

    def __setattr__(self, name: str, value: object) -> None:
        if name == "trust_env" and "trust_env_set" in self.__dict__:
            self.trust_env_set.append(value)
        super().__setattr__(name, value)


def test_reading_the_environment_never_changes_the_session_other_threads_send_on(monkeypatch):
    """Under gthread several threads share one client: a call sent while another thread reads
    the environment for a new origin must not see its session trusting the environment."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    session = _WatchedSession()
    with HttpClient(BASE, connect_timeout=1, read_timeout=1, session=session) as http:
        session.trust_env_set.clear()  # the client's own set-up, before any thread shares it
        origins = [f"https://host-{i}.example/x" for i in range(40)]
        with ThreadPoolExecutor(8) as pool:
            found = list(pool.map(http.environment_for, origins))
    assert session.trust_env_set == [] and session.trust_env is False
    assert all(f["proxies"]["https"] == "http://proxy.example:3128" for f in found)
