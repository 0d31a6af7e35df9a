import json

import pytest
import requests
import responses

from service.adapters.provisioning import GiveUp, Operation, ProvisioningClient, RetryLater

BASE = "https://provisioning.example"
TOKEN = "prov-token-123456"
ENVIRONMENT = {
    "id": "env-1",
    "name": "acme-prod",
    "stage": "prod",
    "account_id": "acct-9",
    "owner": "not sent",
}
UPSCALE = {"type": "upscale", "resources": {"cpu": 8, "memory_gb": 32}}


@pytest.fixture
def client():
    return ProvisioningClient(BASE, TOKEN, connect_timeout=1.5, read_timeout=4.0)


def submit(client, *, ticket_id="T", action="apply", request=UPSCALE):
    return client.submit(
        ticket_id=ticket_id, action=action, environment=ENVIRONMENT, request=request
    )


@responses.activate
def test_submit_sends_token_idempotency_key_and_body(client):
    responses.post(f"{BASE}/v1/operations", status=202, json={"id": "op-1", "status": "pending"})

    operation = submit(client)

    assert operation == Operation(id="op-1", status="pending")
    request = responses.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Idempotency-Key"] == "T:apply"
    assert json.loads(request.body) == {
        "ticket_id": "T",
        "action": "apply",
        "environment": {
            "id": "env-1", "name": "acme-prod", "stage": "prod", "account_id": "acct-9"
        },
        "request": {"type": "upscale", "resources": {"cpu": 8, "memory_gb": 32}},
    }
    assert request.req_kwargs["timeout"] == (1.5, 4.0)


@responses.activate
def test_revert_of_a_change_uses_its_own_key(client):
    responses.post(f"{BASE}/v1/operations", status=202, json={"id": "op-2", "status": "pending"})
    change = {"type": "config_change", "change": {"max_connections": 200}}

    submit(client, ticket_id="T-42", action="revert", request=change)

    request = responses.calls[0].request
    assert request.headers["Idempotency-Key"] == "T-42:revert"
    assert json.loads(request.body)["request"] == change


@pytest.mark.parametrize("status", [200, 201, 202])
@responses.activate
def test_submit_accepts_any_success_status(client, status):
    responses.post(f"{BASE}/v1/operations", status=status, json={"id": "op-1", "status": "running"})

    assert submit(client).status == "running"


def test_unknown_action_is_refused_before_anything_is_sent(client):
    with pytest.raises(ValueError):
        submit(client, action="delete")


def test_request_needs_resources_or_change(client):
    with pytest.raises(ValueError):
        submit(client, request={"type": "upscale"})


@responses.activate
def test_get_reports_a_failed_operation_with_its_error(client):
    responses.get(
        f"{BASE}/v1/operations/op-1",
        json={"id": "op-1", "status": "failed", "error": "quota exceeded"},
    )

    operation = client.get("op-1")

    assert operation.finished
    assert operation.error == "quota exceeded"
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("status", "finished"),
    [("pending", False), ("running", False), ("succeeded", True), ("failed", True)],
)
def test_operation_is_finished_only_in_an_end_state(status, finished):
    assert Operation(id="op", status=status).finished is finished


@pytest.mark.parametrize(
    "payload",
    [
        {"status": "pending"},
        {"id": "", "status": "pending"},
        {"id": 7, "status": "pending"},
        {"id": "op-1", "status": "exploded"},
        {"id": "op-1"},
    ],
)
@responses.activate
def test_invalid_operation_is_retried_later(client, payload):
    responses.post(f"{BASE}/v1/operations", status=202, json=payload)

    with pytest.raises(RetryLater):
        submit(client)


@responses.activate
def test_get_of_a_different_operation_is_retried_later(client):
    responses.get(f"{BASE}/v1/operations/op-1", json={"id": "op-2", "status": "succeeded"})

    with pytest.raises(RetryLater):
        client.get("op-1")


@responses.activate
def test_rejection_reason_names_provisioning_and_status(client):
    responses.post(f"{BASE}/v1/operations", status=400, json={"error": "invalid size"})

    with pytest.raises(GiveUp) as caught:
        submit(client)

    assert caught.value.reason == "provisioning rejected the request: 400 invalid size"


@pytest.mark.parametrize("status", [404, 409])
@responses.activate
def test_other_client_errors_give_up(client, status):
    responses.get(f"{BASE}/v1/operations/op-1", status=status, json={"error": "nope"})

    with pytest.raises(GiveUp) as caught:
        client.get("op-1")

    assert str(status) in caught.value.reason


@responses.activate
def test_rate_limit_is_retried_after_the_advertised_delay(client):
    responses.post(f"{BASE}/v1/operations", status=429, headers={"Retry-After": "7"})

    with pytest.raises(RetryLater) as caught:
        submit(client)

    assert caught.value.retry_after == 7


@responses.activate
def test_redirect_to_another_host_is_not_followed(client):
    responses.post(
        f"{BASE}/v1/operations", status=302, headers={"Location": "https://evil.example/"}
    )
    responses.post("https://evil.example/", status=202, json={"id": "op", "status": "pending"})

    with pytest.raises(GiveUp):
        submit(client)

    assert [call.request.url for call in responses.calls] == [f"{BASE}/v1/operations"]


@pytest.mark.parametrize("error", [requests.ReadTimeout(), requests.ConnectionError()])
@responses.activate
def test_unreachable_provisioning_is_retried_later(client, error):
    responses.get(f"{BASE}/v1/operations/op-1", body=error)

    with pytest.raises(RetryLater) as caught:
        client.get("op-1")

    assert TOKEN not in caught.value.reason


@responses.activate
def test_token_never_appears_in_a_reason(client):
    responses.post(
        f"{BASE}/v1/operations", status=401, body=f"Authorization: Bearer {TOKEN} denied"
    )

    with pytest.raises(GiveUp) as caught:
        submit(client)

    assert TOKEN not in caught.value.reason
    assert "401" in caught.value.reason
