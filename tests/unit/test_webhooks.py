import hashlib
import hmac

import pytest
import responses

from service.adapters.outbound import GiveUp, RetryLater
from service.adapters.webhooks import send_signed, sign, verify

SECRET = "whsec-test"
BODY = b'{"event": "ticket.approved", "ticket": {"id": "T-1"}}'
NOW = 1_700_000_000
HOOK = "https://portal.example/hooks/envdesk"


def test_signature_is_hmac_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert sign(BODY, SECRET, NOW) == f"t={NOW},v1={expected}"


def test_signed_body_verifies():
    assert verify(sign(BODY, SECRET, NOW), BODY, SECRET, now=NOW + 10)


def test_tampered_body_is_rejected():
    header = sign(BODY, SECRET, NOW)

    assert not verify(header, BODY.replace(b"T-1", b"T-2"), SECRET, now=NOW)


def test_wrong_secret_is_rejected():
    assert not verify(sign(BODY, "another-secret", NOW), BODY, SECRET, now=NOW)


@pytest.mark.parametrize("skew", [-301, 301, 86_400])
def test_timestamp_outside_tolerance_is_rejected(skew):
    header = sign(BODY, SECRET, NOW)

    assert not verify(header, BODY, SECRET, now=NOW + skew)


def test_replayed_timestamp_cannot_be_swapped_for_a_fresh_one():
    old = sign(BODY, SECRET, NOW - 3600)
    forged = old.replace(f"t={NOW - 3600}", f"t={NOW}")

    assert not verify(forged, BODY, SECRET, now=NOW)


def test_extra_parts_and_several_signatures_are_tolerated():
    good = sign(BODY, SECRET, NOW).split(",v1=")[1]
    header = f"t={NOW}, v0=legacy, v1={'0' * 64}, v1={good}, scheme=next"

    assert verify(header, BODY, SECRET, now=NOW)


@pytest.mark.parametrize(
    "header", ["", "garbage", f"t={NOW}", "v1=abc", f"t=soon,v1={'0' * 64}", f"t={NOW},v1=é"]
)
def test_malformed_headers_are_rejected(header):
    assert not verify(header, BODY, SECRET, now=NOW)


@responses.activate
def test_delivery_is_signed_so_the_receiver_can_verify_it():
    responses.post(HOOK, status=204)

    send_signed(HOOK, BODY, SECRET, now=NOW, timeout=(1.0, 2.0))

    request = responses.calls[0].request
    assert request.body == BODY
    assert request.headers["Content-Type"] == "application/json"
    assert verify(request.headers["Envdesk-Signature"], request.body, SECRET, now=NOW + 5)
    assert request.req_kwargs["timeout"] == (1.0, 2.0)


@responses.activate
def test_failing_receiver_is_retried_later():
    responses.post(HOOK, status=503)

    with pytest.raises(RetryLater):
        send_signed(HOOK, BODY, SECRET, now=NOW)


@responses.activate
def test_receiver_rejecting_the_webhook_gives_up():
    responses.post(HOOK, status=410, body="endpoint removed")

    with pytest.raises(GiveUp) as caught:
        send_signed(HOOK, BODY, SECRET, now=NOW)

    assert "410" in caught.value.reason
