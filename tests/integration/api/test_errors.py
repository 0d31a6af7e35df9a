"""Every error is RFC 9457 problem+json, names what is wrong, is never a 500, and stores nothing.

Every test runs on PostgreSQL and on SQLite (the ``database_url`` fixture is parametrized)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from service.app.registry import operators
from service.api import create_app
from service.adapters.config import Settings
from service.adapters.models import Comment, Ticket
from tests.support.world import file_via_api
from tests.helpers import assert_problem, change_body, upscale_body


@pytest.fixture
def stored(uow_factory: Any) -> Any:
    """How many tickets and comments the database holds."""
    def count() -> tuple[int, int]:
        with uow_factory() as uow:
            return (uow.session.scalar(select(func.count()).select_from(Ticket)),
                    uow.session.scalar(select(func.count()).select_from(Comment)))

    return count


@pytest.fixture
def a_ticket(client: Any, world: Any) -> str:
    return file_via_api(client, world).get_json()["id"]


# --- 401 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token edk_abc", "bearer\tedk_x",
    "Bearer edk_" + "x" * 500, "Bearer not-a-token",
], ids=["absent", "empty", "scheme-only", "scheme-space", "basic", "other-scheme", "tab",
        "huge", "no-prefix"])
def test_missing_or_malformed_authorization_is_401_problem(client, world, header):
    headers = {} if header is None else {"Authorization": header}

    response = client.get("/v1/tickets", headers=headers)

    assert_problem(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_token_is_401(client, world):
    response = client.get("/v1/me", headers={"Authorization": "Bearer edk_this-token-was-never-issued"})

    assert_problem(response, 401, "unauthenticated")
    assert "WWW-Authenticate" in response.headers


def test_revoked_token_is_401(client, world, uow_factory):
    assert client.get("/v1/me", headers=world.auth("customer_a")).status_code == 200
    operators.revoke_user_tokens("customer_a@example.com", uow=uow_factory())

    response = client.get("/v1/me", headers=world.auth("customer_a"))

    assert_problem(response, 401, "unauthenticated")
    assert "WWW-Authenticate" in response.headers


def test_401_on_writes_stores_nothing(client, world, stored):
    response = client.post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"]))

    assert_problem(response, 401)
    assert stored() == (0, 0)


def test_healthz_needs_no_token(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


# --- 404 / 405 -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/v1", "/v1/ticket", "/v1/tickets/x/y/z"])
def test_unknown_route_is_404_problem(client, world, path):
    assert_problem(client.get(path, headers=world.auth("customer_a")), 404)


@pytest.mark.parametrize("ticket_id", [
    "00000000-0000-0000-0000-000000000000", "not-a-uuid", "%00", "abc%00def", "x" * 200,
    "%27%3B%20DROP%20TABLE%20tickets%3B--", "%C3%BC%E2%82%AC%F0%9F%92%A5", "%25", "%FF%FE",
    "a%20b", "..%2F..%2Fetc", "%0A",
], ids=["zero-uuid", "text", "nul", "embedded-nul", "200-chars", "sql", "unicode", "percent",
        "invalid-utf8", "space", "dots", "newline"])
@pytest.mark.parametrize("who", ["customer_a", "support"])
def test_unknown_or_odd_ticket_id_is_404_never_500(client, world, ticket_id, who):
    for path in (f"/v1/tickets/{ticket_id}", f"/v1/tickets/{ticket_id}/events",
                 f"/v1/tickets/{ticket_id}/comments"):
        assert_problem(client.get(path, headers=world.auth(who)), 404)
    assert_problem(client.post(f"/v1/tickets/{ticket_id}/approve", headers=world.auth(who)),
                   404 if who == "support" else 404)


@pytest.mark.parametrize("env_id", ["nope", "%00", "y" * 200])
def test_unknown_environment_id_is_404(client, world, env_id):
    assert_problem(client.get(f"/v1/environments/{env_id}", headers=world.auth("support")), 404)


def test_delete_ticket_is_405_with_allow_header(client, world, a_ticket):
    response = client.delete(f"/v1/tickets/{a_ticket}", headers=world.auth("support"))

    assert_problem(response, 405, "method_not_allowed")
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert "GET" in allowed and "DELETE" not in allowed
    assert client.get(f"/v1/tickets/{a_ticket}", headers=world.auth("support")).status_code == 200


def test_put_on_ticket_collection_is_405_with_allow_header(client, world):
    response = client.put("/v1/tickets", json={}, headers=world.auth("customer_a"))

    assert_problem(response, 405)
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}


# --- body-level errors ---------------------------------------------------------------------


def test_body_over_the_limit_is_413_and_stores_nothing(settings, world, stored):
    small = create_app(Settings(**{**settings.__dict__, "max_body_bytes": 1024}))
    client = small.test_client()
    body = upscale_body(world.envs["customer_a_stage"], summary="x" * 1500)

    response = client.post("/v1/tickets", json=body, headers=world.auth("customer_a"))

    assert_problem(response, 413, "payload_too_large")
    assert stored() == (0, 0)
    ok = client.post("/v1/tickets", json=upscale_body(world.envs["customer_a_stage"]),
                     headers=world.auth("customer_a"))
    assert ok.status_code == 201


def test_text_plain_body_is_415(client, world, stored):
    response = client.post("/v1/tickets", data='{"type": "upscale"}', content_type="text/plain",
                           headers=world.auth("customer_a"))

    assert_problem(response, 415, "unsupported_media_type")
    assert stored() == (0, 0)


def test_form_encoded_comment_is_415(client, world, a_ticket, stored):
    response = client.post(f"/v1/tickets/{a_ticket}/comments", data={"body": "hi"},
                           headers=world.auth("customer_a"))

    assert_problem(response, 415)
    assert stored() == (1, 0)


@pytest.mark.parametrize("raw", ['{"type": "upscale",', "{'a': 1}", "nope", '{"a":1}}'])
def test_malformed_json_is_400(client, world, stored, raw):
    response = client.post("/v1/tickets", data=raw, content_type="application/json",
                           headers=world.auth("customer_a"))

    assert_problem(response, 400)
    assert stored() == (0, 0)


@pytest.mark.parametrize("raw", ["[]", '[{"type": "upscale"}]', '"upscale"', "42", "null", "true"],
                         ids=["empty-array", "array", "string", "number", "null", "bool"])
def test_json_that_is_not_an_object_is_422(client, world, stored, raw):
    response = client.post("/v1/tickets", data=raw, content_type="application/json",
                           headers=world.auth("customer_a"))

    problem = assert_problem(response, 422)
    assert problem["errors"]
    assert stored() == (0, 0)


def test_unknown_and_read_only_fields_are_each_named(client, world, stored):
    forged = {"status": "approved", "account_id": world.accounts["customer_b"], "id": "mine",
              "requester_id": world.users["support"], "created_at": "2020-01-01T00:00:00Z",
              "priority": "urgent", "colour": "red"}
    body = upscale_body(world.envs["customer_a_stage"], **forged)

    response = client.post("/v1/tickets", json=body, headers=world.auth("customer_a"))

    problem = assert_problem(response, 422)
    assert set(forged) <= set(problem["errors"])
    assert stored() == (0, 0)


@pytest.mark.parametrize("field", ["status", "account_id", "id", "requester_id", "created_at"])
def test_each_read_only_field_alone_is_refused(client, world, stored, field):
    body = upscale_body(world.envs["customer_a_stage"], **{field: "x"})

    problem = assert_problem(client.post("/v1/tickets", json=body, headers=world.auth("customer_a")), 422)

    assert field in problem["errors"]
    assert stored() == (0, 0)


def test_unknown_field_in_comment_and_reject_bodies_is_named(client, world, a_ticket, stored):
    comment = client.post(f"/v1/tickets/{a_ticket}/comments", json={"body": "hi", "author_id": "x"},
                          headers=world.auth("customer_a"))
    reject = client.post(f"/v1/tickets/{a_ticket}/reject", json={"reason": "no", "status": "approved"},
                         headers=world.auth("support"))

    assert "author_id" in assert_problem(comment, 422)["errors"]
    assert "status" in assert_problem(reject, 422)["errors"]
    assert stored() == (1, 0)
    ticket = client.get(f"/v1/tickets/{a_ticket}", headers=world.auth("support")).get_json()
    assert ticket["status"] == "pending_approval"


@pytest.mark.parametrize("resources, path", [
    ([{"component": "yves", "size": "huge"}], "resources.0.size"),
    ([{"component": "yves", "size": "large"}, {"component": "mainframe", "size": "large"}],
     "resources.1.component"),
    ([{"component": "yves", "size": "large", "count": 3}], "resources.0.count"),
    ([{"component": "yves"}], "resources.0.size"),
], ids=["bad-size", "bad-component", "unknown-nested-field", "missing-size"])
def test_wrong_nested_value_is_named_by_its_path(client, world, stored, resources, path):
    body = upscale_body(world.envs["customer_a_stage"], resources=resources)

    problem = assert_problem(client.post("/v1/tickets", json=body, headers=world.auth("customer_a")), 422)

    assert path in problem["errors"], problem["errors"]
    assert stored() == (0, 0)


def test_several_wrong_fields_are_all_named(client, world, stored):
    body = {"type": "upscale", "environment_id": world.envs["customer_a_stage"], "summary": "",
            "resources": [{"component": "yves", "size": "tiny"}]}

    problem = assert_problem(client.post("/v1/tickets", json=body, headers=world.auth("customer_a")), 422)

    assert {"summary", "resources.0.size"} <= set(problem["errors"])
    assert stored() == (0, 0)


@pytest.mark.parametrize("make_body, field", [
    (lambda env: upscale_body(env, summary="load\x00test"), "summary"),
    (lambda env: change_body(env, change={"kind": "config", "parameters": {"A": "1\x00G"}}),
     "change.parameters"),
    (lambda env: change_body(env, change={"kind": "config", "parameters": {"A\x00B": "1G"}}),
     "change.parameters"),
    (lambda env: change_body(env, change={"kind": "config", "parameters": {"A": ["x", {"y": "\x00"}]}}),
     "change.parameters"),
    (lambda env: upscale_body("\x00" + env), "environment_id"),
], ids=["summary", "parameter-value", "parameter-name", "nested-parameter", "environment-id"])
def test_nul_characters_in_strings_are_422_not_500(client, world, stored, make_body, field):
    env = world.envs["customer_a_stage"]

    response = client.post("/v1/tickets", json=make_body(env), headers=world.auth("customer_a"))

    problem = assert_problem(response, 422)
    assert any(name == field or name.startswith(field + ".") for name in problem["errors"]), problem
    assert stored() == (0, 0)


def test_nul_in_comment_and_reject_reason_is_422(client, world, a_ticket, stored):
    comment = client.post(f"/v1/tickets/{a_ticket}/comments", json={"body": "hi\x00"},
                          headers=world.auth("customer_a"))
    reject = client.post(f"/v1/tickets/{a_ticket}/reject", json={"reason": "no\x00"},
                         headers=world.auth("support"))

    assert "body" in assert_problem(comment, 422)["errors"]
    assert "reason" in assert_problem(reject, 422)["errors"]
    assert stored() == (1, 0)


@pytest.mark.parametrize("overrides, field", [
    ({"summary": 42}, "summary"),
    ({"summary": None}, "summary"),
    ({"summary": ["a"]}, "summary"),
    ({"resources": {"component": "yves", "size": "large"}}, "resources"),
    ({"resources": "yves=large"}, "resources"),
    ({"resources": [["yves", "large"]]}, "resources.0"),
    ({"environment_id": 7}, "environment_id"),
    ({"type": "downscale"}, "type"),
    ({"period": "tomorrow"}, "period"),
], ids=["summary-number", "summary-null", "summary-list", "resources-object", "resources-string",
        "resource-list", "env-number", "bad-type", "period-string"])
def test_type_mismatches_are_422_naming_the_field(client, world, stored, overrides, field):
    body = upscale_body(world.envs["customer_a_stage"], **overrides)

    problem = assert_problem(client.post("/v1/tickets", json=body, headers=world.auth("customer_a")), 422)

    assert any(name == field or name.startswith(field + ".") for name in problem["errors"]), problem
    assert stored() == (0, 0)


def test_change_parameters_of_wrong_type_is_422(client, world, stored):
    body = change_body(world.envs["customer_a_stage"], change={"kind": "config", "parameters": "A=1"})

    problem = assert_problem(client.post("/v1/tickets", json=body, headers=world.auth("customer_a")), 422)

    assert "change.parameters" in problem["errors"]
    assert stored() == (0, 0)


def test_comment_internal_of_wrong_type_is_422(client, world, a_ticket, stored):
    response = client.post(f"/v1/tickets/{a_ticket}/comments", json={"body": "hi", "internal": "maybe"},
                           headers=world.auth("support"))

    assert "internal" in assert_problem(response, 422)["errors"]
    assert stored() == (1, 0)


def test_absurdly_nested_json_is_400_not_500(client, world, stored):
    response = client.post("/v1/tickets", data="[" * 5000 + "]" * 5000,
                           content_type="application/json", headers=world.auth("customer_a"))

    assert_problem(response, 400)
    assert stored() == (0, 0)


def raw_body(template: str, env_id: str) -> bytes:
    return template.replace("ENV", env_id).encode()


@pytest.mark.parametrize("template, field", [
    ('{"type": "upscale", "environment_id": "ENV", "summary": "load \\ud800 test",'
     ' "resources": [{"component": "yves", "size": "large"}]}', "summary"),
    ('{"type": "upscale", "environment_id": "ENV\\udfff", "summary": "x",'
     ' "resources": [{"component": "yves", "size": "large"}]}', "environment_id"),
    ('{"type": "change", "environment_id": "ENV", "summary": "x",'
     ' "change": {"kind": "config", "parameters": {"A": "\\ud800"}}}', "change.parameters"),
    ('{"type": "change", "environment_id": "ENV", "summary": "x",'
     ' "change": {"kind": "config", "parameters": {"\\udc00": "1"}}}', "change.parameters"),
    ('{"type": "change", "environment_id": "ENV", "summary": "x",'
     ' "change": {"kind": "config", "parameters": {"A": NaN}}}', "change.parameters"),
    ('{"type": "change", "environment_id": "ENV", "summary": "x",'
     ' "change": {"kind": "config", "parameters": {"A": [Infinity]}}}', "change.parameters"),
    ('{"type": "change", "environment_id": "ENV", "summary": "x",'
     ' "change": {"kind": "config", "parameters": {"A": -1e999}}}', "change.parameters"),
], ids=["surrogate-summary", "surrogate-env-id", "surrogate-parameter-value",
        "surrogate-parameter-name", "nan", "infinity", "overflowing-number"])
def test_values_no_database_can_store_are_422_not_500(client, world, stored, template, field):
    body = raw_body(template, world.envs["customer_a_stage"])

    response = client.post("/v1/tickets", data=body, content_type="application/json",
                           headers=world.auth("customer_a"))

    problem = assert_problem(response, 422)
    assert field in problem["errors"], problem
    assert stored() == (0, 0)


def test_surrogate_in_comment_is_422(client, world, a_ticket, stored):
    response = client.post(f"/v1/tickets/{a_ticket}/comments", data=b'{"body": "hi \\ud83d"}',
                           content_type="application/json", headers=world.auth("customer_a"))

    assert "body" in assert_problem(response, 422)["errors"]
    assert stored() == (1, 0)
