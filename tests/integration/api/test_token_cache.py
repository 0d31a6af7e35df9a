"""The API remembers who a token belongs to for a few seconds: a revoked token stops working
once that time is up, and an unknown token is never remembered."""
from __future__ import annotations

from dataclasses import replace

from service.app.registry import operators
from service.api import create_app
from service.api.runtime import build_runtime
from service.adapters.identity import PrincipalCache
from tests.support.fakes import Clock


def _client(settings, clock):  # type: ignore[no-untyped-def]
    settings = replace(settings, auth_cache_seconds=5)
    runtime = build_runtime(settings)
    runtime.principals = PrincipalCache(5, clock=clock)
    return create_app(settings, runtime).test_client()


def test_a_revoked_token_stops_working_when_its_cache_entry_expires(settings, world, uow_factory):
    clock = Clock(1000.0)
    client = _client(settings, clock)
    headers = world.auth("customer_a")
    assert client.get("/v1/me", headers=headers).status_code == 200

    operators.revoke_user_tokens("customer_a@example.com", uow=uow_factory())

    clock.now += 4.9
    assert client.get("/v1/me", headers=headers).status_code == 200
    clock.now += 0.2
    assert client.get("/v1/me", headers=headers).status_code == 401


def test_an_unknown_token_is_not_remembered(settings, world, uow_factory):
    clock = Clock(1000.0)
    client = _client(settings, clock)
    user = operators.add_user("late@example.com", world.accounts["customer_a"], "member", uow=uow_factory())
    assert client.get("/v1/me", headers={"Authorization": "Bearer edk_not-issued-yet"}).status_code == 401

    token = operators.issue_user_token(user.email, uow=uow_factory())

    assert client.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_the_cache_holds_a_principal_under_the_token_hash_only():
    from service.adapters.identity import Principal, hash_token
    from service.domain.hosting import AccountKind

    cache = PrincipalCache(5, clock=Clock(1000.0))
    principal = Principal("u", "e@x", "a", "A", AccountKind.CUSTOMER, "member")
    cache.put("edk_secret-token", principal)

    assert cache.get("edk_secret-token") == principal
    assert list(cache._entries) == [hash_token("edk_secret-token")]
