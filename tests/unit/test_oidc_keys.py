"""The issuer's key set: fetched lazily, refetched for unknown keys at a bounded rate, kept when
the issuer is down. A fake HTTP client stands in for the issuer here; tests/integration has the
real one."""
from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from service.adapters.oidc import InvalidToken, KeySet, KeysUnavailable
from service.adapters.outbound import RetryLater
from tests.support.fakes import Clock

ISSUER = "https://login.example"


def jwk(kid: str, **extra: Any) -> dict[str, Any]:
    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public)), "kid": kid, **extra}


class FakeIssuer:
    def __init__(self, *keys: dict[str, Any]) -> None:
        self.keys = list(keys)
        self.down = False
        self.calls: list[str] = []

    def get_json(self, url: str) -> dict[str, Any]:
        self.calls.append(url)
        if self.down:
            raise RetryLater("the identity provider is unavailable: 503")
        if url.endswith("/.well-known/openid-configuration"):
            return {"issuer": ISSUER, "jwks_uri": ISSUER + "/keys"}
        return {"keys": self.keys}


def key_set(issuer: FakeIssuer, clock: Clock, jwks_url: str = "") -> KeySet:
    return KeySet(issuer=ISSUER, jwks_url=jwks_url, http=issuer, refetch_interval=10, clock=clock)  # type: ignore[arg-type]


def test_keys_come_from_the_discovery_documents_jwks_uri_once() -> None:
    issuer, clock = FakeIssuer(jwk("a"), jwk("b")), Clock(100.0)
    keys = key_set(issuer, clock)
    assert keys.key_for("a").key_id == "a"
    assert keys.key_for("b").key_id == "b"
    assert issuer.calls == [ISSUER + "/.well-known/openid-configuration", ISSUER + "/keys"]


def test_configured_jwks_url_skips_discovery() -> None:
    issuer = FakeIssuer(jwk("a"))
    keys = key_set(issuer, Clock(100.0), jwks_url="https://keys.example/jwks")
    keys.key_for("a")
    assert issuer.calls == ["https://keys.example/jwks"]


def test_unknown_kid_refetches_at_most_once_per_interval() -> None:
    issuer, clock = FakeIssuer(jwk("a")), Clock(100.0)
    keys = key_set(issuer, clock)
    keys.key_for("a")
    issuer.keys.append(jwk("new"))
    with pytest.raises(InvalidToken):
        keys.key_for("new")
    clock.now += 10
    assert keys.key_for("new").key_id == "new"
    for _ in range(5):
        with pytest.raises(InvalidToken):
            keys.key_for("unknown")
    assert len(issuer.calls) == 3


def test_symmetric_and_encryption_keys_are_never_used() -> None:
    oct_key = {"kty": "oct", "kid": "h", "k": "c2VjcmV0"}
    issuer = FakeIssuer(oct_key, jwk("e", use="enc"), jwk("s", use="sig"))
    keys = key_set(issuer, Clock(100.0))
    assert keys.key_for("s").key_id == "s"
    for kid in ("h", "e"):
        with pytest.raises(InvalidToken):
            keys.key_for(kid)


def test_issuer_down_keeps_known_keys_and_answers_unavailable_for_others() -> None:
    issuer, clock = FakeIssuer(jwk("a")), Clock(100.0)
    keys = key_set(issuer, clock)
    keys.key_for("a")
    issuer.down = True
    clock.now += 10
    with pytest.raises(KeysUnavailable):
        keys.key_for("other")
    assert keys.key_for("a").key_id == "a"
    with pytest.raises(KeysUnavailable):  # within the interval: no new fetch, still unavailable
        keys.key_for("other")
    issuer.down = False
    clock.now += 10
    with pytest.raises(InvalidToken):
        keys.key_for("other")


def test_discovery_naming_another_issuer_is_refused() -> None:
    class Impostor(FakeIssuer):
        def get_json(self, url: str) -> dict[str, Any]:
            self.calls.append(url)
            return {"issuer": "https://evil.example", "jwks_uri": "https://evil.example/keys"}

    with pytest.raises(KeysUnavailable):
        key_set(Impostor(), Clock(100.0)).key_for("a")
