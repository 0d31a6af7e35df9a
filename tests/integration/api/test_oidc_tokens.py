"""Access tokens from the portal's OIDC issuer, served by a real issuer on 127.0.0.1 with keys
generated per run; opaque tokens keep working beside them."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from service.app.registry import operators
from service.api import create_app
from service.adapters.config import Settings
from service.adapters.db import make_engine
from service.adapters.models import User
from tests.helpers import upscale_body
from tests.support.world import World
from tests.helpers import assert_problem
from tests.oidc import TestIssuer, rsa_key


@pytest.fixture
def api(oidc_settings: Settings) -> Any:
    app = create_app(oidc_settings)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture
def portal_account(uow_factory: Any) -> str:
    operators.add_account("Portal Customer", "customer", uow=uow_factory(), external_id="crm-4711")
    return "crm-4711"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_count(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(User))
    engine.dispose()
    return count or 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hmac_with_public_key(issuer: TestIssuer, claims: dict[str, Any]) -> str:
    """The key-confusion attack: HS256 keyed with the issuer's published public key."""
    key = issuer.published[0]
    secret = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = (_b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
                     + "." + _b64(json.dumps(claims).encode()))
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + _b64(signature)


def test_first_token_creates_a_member_in_the_named_account(
        api: Any, oidc_issuer: TestIssuer, portal_account: str, oidc_settings: Settings) -> None:
    claims = oidc_issuer.claims(portal_account, email="Ada@Portal.Example", name="Ada Lovelace",
                                role="admin", kind="provider")
    token = oidc_issuer.mint(claims)
    first = api.get("/v1/me", headers=bearer(token))
    assert first.status_code == 200, first.get_data(as_text=True)
    me = first.get_json()
    assert (me["kind"], me["role"], me["email"]) == ("customer", "member", "ada@portal.example")
    again = api.get("/v1/me", headers=bearer(oidc_issuer.mint({**claims, "jti": "second"})))
    assert again.get_json()["user_id"] == me["user_id"]
    assert user_count(oidc_settings) == 1


def test_concurrent_first_requests_create_one_user(
        oidc_settings: Settings, oidc_issuer: TestIssuer, portal_account: str) -> None:
    app = create_app(oidc_settings)
    claims = oidc_issuer.claims(portal_account)
    tokens = [oidc_issuer.mint({**claims, "jti": str(n)}) for n in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda t: app.test_client().get("/v1/me", headers=bearer(t)), tokens))
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.get_json()["user_id"] for a in answers}) == 1
    assert user_count(oidc_settings) == 1


def test_account_claim_may_name_the_account_by_id(
        api: Any, oidc_issuer: TestIssuer, world: World) -> None:
    response = api.get("/v1/me", headers=bearer(oidc_issuer.token(world.accounts["partner_linked"])))
    assert response.status_code == 200
    assert response.get_json()["kind"] == "partner"


def test_unknown_account_is_refused_and_nothing_is_stored(
        api: Any, oidc_issuer: TestIssuer, oidc_settings: Settings) -> None:
    response = api.get("/v1/me", headers=bearer(oidc_issuer.token("no-such-account")))
    assert_problem(response, 403, "unknown_account")
    assert user_count(oidc_settings) == 0


def test_jwt_customer_files_and_reads_its_own_ticket(
        api: Any, oidc_issuer: TestIssuer, world: World) -> None:
    token = oidc_issuer.token(world.accounts["customer_a"])
    filed = api.post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"]),
                     headers=bearer(token))
    assert filed.status_code == 201, filed.get_data(as_text=True)
    assert api.get(filed.headers["Location"], headers=bearer(token)).status_code == 200
    other = oidc_issuer.token(world.accounts["customer_b"])
    assert_problem(api.get(filed.headers["Location"], headers=bearer(other)), 404, "not_found")


def test_opaque_tokens_keep_working_beside_the_issuer(api: Any, world: World) -> None:
    response = api.get("/v1/me", headers=world.auth("customer_a"))
    assert response.status_code == 200
    assert response.get_json()["user_id"] == world.users["customer_a"]


def test_token_within_the_leeway_is_accepted(api: Any, oidc_issuer: TestIssuer, world: World) -> None:
    now = int(time.time())
    token = oidc_issuer.mint(oidc_issuer.claims(world.accounts["customer_a"], exp=now - 30, nbf=now + 30))
    assert api.get("/v1/me", headers=bearer(token)).status_code == 200


def _bad_tokens(issuer: TestIssuer, account: str) -> dict[str, str]:
    now = int(time.time())
    claims = issuer.claims(account)
    stranger = rsa_key()
    return {
        "wrong signature": issuer.mint(claims, stranger, kid=issuer.published[0].kid),
        "unknown kid": issuer.mint(claims, stranger),
        "alg none": jwt.encode(claims, None, algorithm="none", headers={"kid": issuer.published[0].kid}),
        "hmac with the public key": hmac_with_public_key(issuer, claims),
        "wrong issuer": issuer.mint({**claims, "iss": "https://evil.example"}),
        "wrong audience": issuer.mint({**claims, "aud": "another-api"}),
        "expired": issuer.mint({**claims, "exp": now - 120}),
        "not yet valid": issuer.mint({**claims, "nbf": now + 120}),
        "no expiry": issuer.mint({k: v for k, v in claims.items() if k != "exp"}),
        "missing sub": issuer.mint({k: v for k, v in claims.items() if k != "sub"}),
        "missing account claim": issuer.mint({k: v for k, v in claims.items() if k != "envdesk_account"}),
        "garbage": "not.a.jwt",
        "truncated": issuer.mint(claims)[:-20],
    }


BAD_TOKEN_CASES = ("wrong signature", "unknown kid", "alg none", "hmac with the public key",
                   "wrong issuer", "wrong audience", "expired", "not yet valid", "no expiry",
                   "missing sub", "missing account claim", "garbage", "truncated")


@pytest.mark.parametrize("case", BAD_TOKEN_CASES)
def test_bad_token_is_401_invalid_token(
        api: Any, oidc_issuer: TestIssuer, world: World, oidc_settings: Settings, case: str) -> None:
    before = user_count(oidc_settings)
    token = _bad_tokens(oidc_issuer, world.accounts["customer_a"])[case]
    response = api.get("/v1/me", headers=bearer(token))
    assert_problem(response, 401, "unauthenticated")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert user_count(oidc_settings) == before


def test_missing_token_has_no_error_code(api: Any) -> None:
    response = api.get("/v1/me")
    assert_problem(response, 401, "unauthenticated")
    assert "error=" not in response.headers["WWW-Authenticate"]


def test_rotated_key_is_fetched_when_a_token_names_it(
        api: Any, oidc_issuer: TestIssuer, world: World) -> None:
    account = world.accounts["customer_a"]
    keys = api.application.extensions["envdesk"].access_tokens.keys
    seconds = [1000.0]
    keys.clock = lambda: seconds[0]
    assert api.get("/v1/me", headers=bearer(oidc_issuer.token(account))).status_code == 200
    rotated = rsa_key("PS256")
    oidc_issuer.published.append(rotated)
    seconds[0] += keys.refetch_interval
    token = oidc_issuer.mint(oidc_issuer.claims(account), rotated)
    assert api.get("/v1/me", headers=bearer(token)).status_code == 200
    ec_token = oidc_issuer.mint(oidc_issuer.claims(account), oidc_issuer.published[1])
    assert api.get("/v1/me", headers=bearer(ec_token)).status_code == 200


def test_unknown_kids_do_not_hammer_the_issuer(api: Any, oidc_issuer: TestIssuer, world: World) -> None:
    account = world.accounts["customer_a"]
    assert api.get("/v1/me", headers=bearer(oidc_issuer.token(account))).status_code == 200
    for _ in range(10):
        token = oidc_issuer.mint(oidc_issuer.claims(account), rsa_key())
        assert_problem(api.get("/v1/me", headers=bearer(token)), 401, "unauthenticated")
    assert oidc_issuer.jwks_requests == 1


def test_issuer_down_unknown_keys_503_cached_keys_work(
        api: Any, oidc_issuer: TestIssuer, world: World) -> None:
    account = world.accounts["customer_a"]
    assert api.get("/v1/me", headers=bearer(oidc_issuer.token(account))).status_code == 200
    oidc_issuer.down = True
    assert api.get("/v1/me", headers=bearer(oidc_issuer.token(account))).status_code == 200
    stranger = oidc_issuer.mint(oidc_issuer.claims(account), rsa_key())
    keys = api.application.extensions["envdesk"].access_tokens.keys
    keys.clock = lambda: time.monotonic() + keys.refetch_interval
    response = api.get("/v1/me", headers=bearer(stranger))
    assert_problem(response, 503, "identity_provider_unavailable")
    assert response.headers["Retry-After"]


def test_issuer_down_from_the_start_is_503(api: Any, oidc_issuer: TestIssuer, world: World) -> None:
    oidc_issuer.down = True
    response = api.get("/v1/me", headers=bearer(oidc_issuer.token(world.accounts["customer_a"])))
    assert_problem(response, 503, "identity_provider_unavailable")


def test_remembered_token_is_not_accepted_past_its_expiry(
        oidc_settings: Settings, oidc_issuer: TestIssuer, world: World) -> None:
    app = create_app(dataclasses.replace(oidc_settings, auth_cache_seconds=3600))
    api = app.test_client()
    cache = app.extensions["envdesk"].principals
    seconds = [0.0]
    cache.clock = lambda: seconds[0]
    now = int(time.time())
    token = oidc_issuer.mint(oidc_issuer.claims(world.accounts["customer_a"], exp=now + 5))
    assert api.get("/v1/me", headers=bearer(token)).status_code == 200
    seconds[0] += 5 + 60 + 1  # past exp and the leeway, well within AUTH_CACHE_SECONDS
    assert cache.get(token) is None


def test_unknown_opaque_token_is_also_invalid_token(api: Any) -> None:
    response = api.get("/v1/me", headers=bearer("edk_" + "x" * 43))
    assert_problem(response, 401, "unauthenticated")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
