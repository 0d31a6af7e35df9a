"""Accounts known by the contract system's id, and staff roles granted by an operator: the CLI
run for real against the test database (PostgreSQL and SQLite)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import Result

from service.adapters.db import make_engine


def last_json(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout.splitlines()[-1])


def environments(database_url: str) -> list[tuple[str, str]]:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(sa.text(
            "SELECT account_id, name FROM environments ORDER BY name"))]
    engine.dispose()
    return found  # type: ignore[return-value]


def test_account_add_with_external_id_prints_it(envdesk: Any) -> None:
    account = last_json(envdesk("account", "add", "Acme", "--kind", "customer", "--external-id", "crm-1"))
    assert account["external_id"] == "crm-1"
    plain = last_json(envdesk("account", "add", "Beta", "--kind", "customer"))
    assert plain["external_id"] is None


def test_external_id_is_unique(envdesk: Any) -> None:
    envdesk("account", "add", "Acme", "--kind", "customer", "--external-id", "crm-1")
    again = envdesk("account", "add", "Other", "--kind", "customer", "--external-id", "crm-1", ok=False)
    assert again.exit_code != 0
    assert "crm-1" in again.stderr


def test_env_import_names_accounts_by_external_id_or_id(
        envdesk: Any, database_url: str, tmp_path: Path) -> None:
    by_external = last_json(envdesk("account", "add", "Acme", "--kind", "customer", "--external-id", "crm-1"))
    by_id = last_json(envdesk("account", "add", "Beta", "--kind", "customer"))
    source = tmp_path / "envs.jsonl"
    source.write_text(
        json.dumps({"account": "crm-1", "name": "acme-stage", "stage": "stage"}) + "\n"
        + json.dumps({"account": by_id["id"], "name": "beta-prod", "stage": "prod"}) + "\n")

    assert last_json(envdesk("env", "import", str(source)))["created"] == 2
    assert environments(database_url) == [(by_external["id"], "acme-stage"), (by_id["id"], "beta-prod")]
    assert last_json(envdesk("env", "import", str(source)))["unchanged"] == 2


def test_env_import_refuses_an_unknown_external_id(envdesk: Any, database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "envs.jsonl"
    source.write_text(json.dumps({"account": "crm-404", "name": "x", "stage": "stage"}) + "\n")
    result = envdesk("env", "import", str(source), ok=False)
    assert result.exit_code != 0
    assert "crm-404" in result.stdout + result.stderr
    assert environments(database_url) == []


def test_user_role_grants_staff_only_in_provider_accounts(envdesk: Any) -> None:
    provider = last_json(envdesk("account", "add", "Hosting", "--kind", "provider"))
    customer = last_json(envdesk("account", "add", "Acme", "--kind", "customer"))
    envdesk("user", "add", "eve@hosting.example", "--account", provider["id"])
    envdesk("user", "add", "bob@acme.example", "--account", customer["id"])

    assert last_json(envdesk("user", "role", "eve@hosting.example", "support"))["role"] == "support"
    refused = envdesk("user", "role", "bob@acme.example", "admin", ok=False)
    assert refused.exit_code != 0
    assert "provider" in refused.stderr
