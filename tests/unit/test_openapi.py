"""The committed openapi.yaml is the one the code generates, valid, and documents every error."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from service.adapters.config import Settings
from service.api.openapi import dump_spec, generate_spec

COMMITTED = Path(__file__).resolve().parents[2] / "openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM = {"$ref": "#/components/schemas/Problem"}
PUBLIC = {("/healthz", "get"), ("/readyz", "get"),
          # the signed token in the link is the credential (RFC 8058 one-click unsubscribe)
          ("/v1/unsubscribe", "get"), ("/v1/unsubscribe", "post")}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return generate_spec()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in spec["paths"].items()
            for method, op in item.items() if method in METHODS]


def _resolve(spec: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    ref = response.get("$ref")
    return spec["components"]["responses"][ref.rsplit("/", 1)[1]] if ref else response


def test_committed_openapi_yaml_is_what_the_code_generates() -> None:
    assert COMMITTED.exists(), "openapi.yaml is missing: run `envdesk openapi --output openapi.yaml`"
    assert COMMITTED.read_text(encoding="utf-8") == dump_spec(), (
        "openapi.yaml is out of date with the code: run `envdesk openapi --output openapi.yaml` "
        "and commit the result")


def test_openapi_yaml_is_a_valid_openapi_document() -> None:
    validate(yaml.safe_load(COMMITTED.read_text(encoding="utf-8")))


def test_every_operation_documents_401_and_problem_responses(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    assert len(operations) >= 12
    for path, method, op in operations:
        responses = op["responses"]
        assert "default" not in responses, f"{method} {path}: a catch-all default hides codes"
        if (path, method) not in PUBLIC:
            assert "401" in responses, f"{method.upper()} {path} does not document 401"
            assert "400" in responses, f"{method.upper()} {path} does not document 400"
        errors = {code: _resolve(spec, r) for code, r in responses.items() if int(code) >= 400}
        assert errors, f"{method.upper()} {path} documents no error response"
        for code, response in errors.items():
            content = response.get("content", {})
            assert list(content) == ["application/problem+json"], (method, path, code)
            assert content["application/problem+json"]["schema"] == PROBLEM, (method, path, code)


@pytest.mark.parametrize(("path", "codes"), [
    ("/v1/tickets", {"201", "400", "401", "403", "404", "409", "413", "415", "422"}),
    ("/v1/tickets/{ticket_id}/approve", {"200", "401", "403", "404", "409", "412", "415", "422"}),
    ("/v1/tickets/{ticket_id}/reject", {"200", "400", "401", "403", "404", "409", "413", "415",
                                        "422"}),
])
def test_write_operations_document_every_status_they_return(
    spec: dict[str, Any], path: str, codes: set[str]
) -> None:
    assert codes <= set(spec["paths"][path]["post"]["responses"])


TICKET_ACTIONS = {"getTicket", "getTicketEvents", "listTicketComments", "addTicketComment",
                  "approveTicket", "rejectTicket", "cancelTicket", "retryTicket"}


def test_filing_a_ticket_links_to_every_action_on_it(spec: dict[str, Any]) -> None:
    created = spec["paths"]["/v1/tickets"]["post"]["responses"]["201"]
    links = created["links"].values()
    assert {link["operationId"] for link in links} == TICKET_ACTIONS
    operation_ids = {op.get("operationId") for _, _, op in _operations(spec)}
    assert TICKET_ACTIONS <= operation_ids
    assert all(link["parameters"]["ticket_id"] == "$response.body#/id" for link in links)


def test_every_ticket_path_says_a_case_number_names_the_ticket_too(spec: dict[str, Any]) -> None:
    ticket_paths = {path: item for path, item in spec["paths"].items() if "{ticket_id}" in path}
    assert len(ticket_paths) == 7, sorted(ticket_paths)
    for path, item in ticket_paths.items():
        [parameter] = [p for p in item["parameters"] if p["in"] == "path"]
        assert parameter["name"] == "ticket_id" and "ENV-<n>" in parameter["description"], path
        assert parameter["schema"] == {"type": "string", "minLength": 1} and parameter["required"], path


def test_every_operation_has_a_unique_operation_id(spec: dict[str, Any]) -> None:
    ids = [op.get("operationId") for _, _, op in _operations(spec)]
    assert None not in ids, [(m, p) for p, m, op in _operations(spec) if "operationId" not in op]
    assert len(ids) == len(set(ids))


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return spec["components"]["schemas"][name]


@pytest.mark.parametrize(("name", "fields"), [
    ("Ticket", {"id", "type", "status", "environment_id", "account_id", "requester_id", "summary",
                "resources", "period", "change", "verified_on", "created_at", "updated_at"}),
    ("Event", {"at", "actor_id", "from_status", "to_status", "reason"}),
    ("Comment", {"id", "body", "internal", "author_id", "created_at"}),
    ("Environment", {"id", "account_id", "name", "stage", "sizes", "caps"}),
    ("Me", {"user_id", "account_id", "kind", "role"}),
    ("TicketPage", {"items", "next_cursor"}),
])
def test_responses_mark_the_fields_every_body_carries_as_required(
    spec: dict[str, Any], name: str, fields: set[str]
) -> None:
    assert fields <= set(_schema(spec, name)["required"])


def test_change_and_period_are_a_proper_nullable_object(spec: dict[str, Any]) -> None:
    ticket = _schema(spec, "Ticket")["properties"]
    for name, component in (("change", "Change"), ("period", "Period")):
        assert ticket[name]["anyOf"] == [{"$ref": f"#/components/schemas/{component}"},
                                         {"type": "null"}]


def test_ticket_body_is_a_oneof_told_apart_by_type(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/v1/tickets"]["post"]["requestBody"]["content"]["application/json"]
    created = _schema(spec, body["schema"]["$ref"].rsplit("/", 1)[1])
    mapping = created["discriminator"]["mapping"]
    assert created["discriminator"]["propertyName"] == "type"
    assert set(mapping) == {"upscale", "change", "load_test"}
    upscale, change, load_test = (_schema(spec, mapping[t].rsplit("/", 1)[1])
                                  for t in ("upscale", "change", "load_test"))
    assert {"window", "peak_rps", "source_cidrs"} <= set(load_test["required"])
    assert load_test["additionalProperties"] is False and "resources" not in load_test["properties"]
    assert {"resources", "period"} <= set(upscale["properties"]) and "change" not in upscale["properties"]
    assert {"change", "verified_on"} <= set(change["properties"])
    assert "resources" not in change["properties"] and "period" not in change["properties"]
    assert upscale["additionalProperties"] is False and change["additionalProperties"] is False
    assert upscale["properties"]["summary"]["pattern"] == "^[^\\x00]*$"


def test_cursor_is_an_opaque_token_with_its_pattern(spec: dict[str, Any]) -> None:
    params = {p["name"]: p for p in spec["paths"]["/v1/tickets"]["get"]["parameters"]}
    assert params["cursor"]["schema"]["pattern"] == "^[A-Za-z0-9_-]+$"
    assert _schema(spec, "TicketPage")["properties"]["next_cursor"]["pattern"] == "^[A-Za-z0-9_-]+$"


def _raised_rules() -> set[str]:
    """Every rule code written in the service's source."""
    import re

    source = "\n".join(p.read_text() for p in (COMMITTED.parent / "service").rglob("*.py"))
    return set(re.findall(r'rule\s*=\s*"([a-z_]+)"', source)) | set(
        re.findall(r'rules\.append\("([a-z_]+)"\)', source))


def test_problem_declares_its_members_and_every_rule_code(spec: dict[str, Any]) -> None:
    from service.api.errors import RULE_BY_STATUS

    problem = _schema(spec, "Problem")
    assert {"etag", "action", "current_status", "open_ticket_id", "params", "errors"} <= set(
        problem["properties"])
    rules = set(problem["properties"]["rule"]["enum"])
    # The CLI prints these; the console answers with a page, not a Problem.
    not_api = {"invalid_role", "duplicate_user", "invalid_size", "duplicate_environment",
               "duplicate_external_id", "wrong_account_kind", "console_refused"}
    missing = (_raised_rules() | set(RULE_BY_STATUS.values())) - not_api - rules
    assert not missing, f"rule codes the API answers with but Problem.rule does not list: {missing}"
    assert {"component", "current_size", "requested_size", "cap"} <= set(
        _schema(spec, "ResourceRefusal")["properties"])


def test_openapi_json_is_served_and_equals_the_generated_spec(spec: dict[str, Any]) -> None:
    from service.api import create_app

    app = create_app(Settings(database_url="sqlite://", broker_url="memory://"))
    response = app.test_client().get("/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == spec
