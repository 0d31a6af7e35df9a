"""Limits: a per-token rate limit on writes (429 with Retry-After) and a per-account cap on
open requests."""
from __future__ import annotations

from dataclasses import replace

from service.app.registry import operators
from service.api import create_app
from tests.helpers import upscale_body


def _client(settings, **limits):  # type: ignore[no-untyped-def]
    return create_app(replace(settings, **limits)).test_client()


def test_writes_over_the_rate_limit_get_429_with_retry_after(settings, world):
    client = _client(settings, write_rate_limit="3/minute")
    statuses = [client.post("/v1/tickets", json=upscale_body("no-such-env"), headers=world.auth("customer_a"))
                for _ in range(4)]

    assert [r.status_code for r in statuses[:3]] == [404, 404, 404]
    limited = statuses[3]
    assert limited.status_code == 429
    assert limited.mimetype == "application/problem+json"
    assert limited.get_json()["status"] == 429
    assert int(limited.headers["Retry-After"]) > 0


def test_rate_limit_is_per_token_and_spares_reads(settings, world):
    client = _client(settings, write_rate_limit="2/minute")
    for _ in range(2):
        client.post("/v1/tickets", json=upscale_body("x"), headers=world.auth("customer_a"))

    assert client.post("/v1/tickets", json=upscale_body("x"), headers=world.auth("customer_a")).status_code == 429
    assert client.post("/v1/tickets", json=upscale_body("x"), headers=world.auth("customer_b")).status_code == 404
    assert client.get("/v1/tickets", headers=world.auth("customer_a")).status_code == 200


def test_an_account_at_its_open_ticket_cap_is_refused_and_nothing_is_stored(settings, world, uow_factory):
    client = _client(settings, max_open_tickets=2)
    envs = [operators.add_environment(world.accounts["customer_a"], f"extra-{i}", "stage",
                                      uow=uow_factory()).id for i in range(3)]
    for env_id in envs[:2]:
        assert client.post("/v1/tickets", json=upscale_body(env_id),
                           headers=world.auth("customer_a")).status_code == 201

    refused = client.post("/v1/tickets", json=upscale_body(envs[2]), headers=world.auth("customer_a"))

    assert refused.status_code == 422
    assert refused.get_json()["rule"] == "open_ticket_limit"
    listed = client.get("/v1/tickets", headers=world.auth("customer_a")).get_json()["items"]
    assert len(listed) == 2
    other_account = client.post("/v1/tickets", json=upscale_body(world.envs["customer_b_stage"]),
                                headers=world.auth("customer_b"))
    assert other_account.status_code == 201


def test_a_cap_of_zero_means_no_cap(settings, world, uow_factory):
    client = _client(settings, max_open_tickets=0)
    for i in range(3):
        env_id = operators.add_environment(world.accounts["customer_a"], f"free-{i}", "stage",
                                           uow=uow_factory()).id
        assert client.post("/v1/tickets", json=upscale_body(env_id),
                           headers=world.auth("customer_a")).status_code == 201


def _redis_settings(settings, url):  # type: ignore[no-untyped-def]
    return replace(settings, broker_url=url, write_rate_limit="3/minute")


def test_processes_sharing_redis_count_one_window_per_token(settings, world):
    from tests.support import servers

    shared = _redis_settings(settings, f"{servers.redis().url}/13")
    first, second = create_app(shared).test_client(), create_app(shared).test_client()
    answers = [client.post("/v1/tickets", json=upscale_body("no-such-env"), headers=world.auth("customer_a"))
               for client in (first, second, first, second)]

    assert [r.status_code for r in answers] == [404, 404, 404, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    assert {r.headers["X-RateLimit-Limit"] for r in answers} == {"3"}
    assert int(answers[3].headers["Retry-After"]) > 0


def test_writes_are_still_limited_in_memory_when_redis_does_not_answer(settings, world):
    from tests.support import servers

    client = create_app(_redis_settings(settings, f"redis://127.0.0.1:{servers.free_port()}/0")).test_client()
    statuses = [client.post("/v1/tickets", json=upscale_body("x"), headers=world.auth("customer_a")).status_code
                for _ in range(4)]

    assert statuses == [404, 404, 404, 429]
