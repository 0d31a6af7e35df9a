"""The committed openapi.yaml is the one the code generates, valid, and documents every error."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate

from service.config import Settings
from service.api.openapi import dump_spec, generate_spec

COMMITTED = Path(__file__).resolve().parents[2] / "openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM = {"$ref": "#/components/schemas/Problem"}
PUBLIC = {("/healthz", "get"), ("/readyz", "get")}


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


def test_filing_a_ticket_links_to_get_ticket(spec: dict[str, Any]) -> None:
    created = spec["paths"]["/v1/tickets"]["post"]["responses"]["201"]
    operation_ids = {link["operationId"] for link in created["links"].values()}
    assert "getTicket" in operation_ids
    assert any(op.get("operationId") == "getTicket" for _, _, op in _operations(spec))


def test_openapi_json_is_served_and_equals_the_generated_spec(spec: dict[str, Any]) -> None:
    from service.api import create_app

    app = create_app(Settings(database_url="sqlite://", broker_url="memory://"))
    response = app.test_client().get("/v1/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == spec
