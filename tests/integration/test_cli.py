"""The operators' CLI `envdesk`, run for real against the test database (PostgreSQL and SQLite)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result

from service.api import create_app
from service.adapters.config import Settings
from service.adapters.db import make_engine
from tests.helpers import new_secret


@pytest.fixture
def db(database_url: str) -> Any:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def one_json_line(result: Result) -> dict[str, Any]:
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def rows(db: Any, sql: str, **params: Any) -> list[Any]:
    with db.connect() as conn:
        return list(conn.execute(sa.text(sql), params))


def count_envs(db: Any) -> int:
    return rows(db, "SELECT count(*) FROM environments")[0][0]


@pytest.fixture
def customer(envdesk: Any) -> str:
    return one_json_line(envdesk("account", "add", "Acme", "--kind", "customer"))["id"]


# --- accounts, users, partners ------------------------------------------------------------

def test_account_add_prints_the_new_account(envdesk, db) -> None:
    account = one_json_line(envdesk("account", "add", "Acme GmbH", "--kind", "customer"))

    assert account["name"] == "Acme GmbH" and account["kind"] == "customer" and account["id"]
    assert rows(db, "SELECT name, kind FROM accounts WHERE id = :id", id=account["id"]) == [
        ("Acme GmbH", "customer")]


def test_account_add_refuses_an_unknown_kind(envdesk, db) -> None:
    result = envdesk("account", "add", "Acme", "--kind", "reseller", ok=False)

    assert result.exit_code != 0
    assert rows(db, "SELECT count(*) FROM accounts")[0][0] == 0


def test_user_add_prints_the_new_user(envdesk, customer) -> None:
    user = one_json_line(envdesk("user", "add", "Dev@Acme.example", "--account", customer))

    assert user["email"] == "dev@acme.example"
    assert user["account_id"] == customer
    assert user["role"] == "member"
    assert user["id"]


def test_support_user_needs_a_provider_account(envdesk, customer, db) -> None:
    result = envdesk("user", "add", "x@acme.example", "--account", customer, "--role", "support", ok=False)

    assert result.exit_code != 0
    assert "provider" in result.stderr
    assert rows(db, "SELECT count(*) FROM users")[0][0] == 0


def test_partner_link_prints_the_link(envdesk, customer, db) -> None:
    agency = one_json_line(envdesk("account", "add", "Agency", "--kind", "partner"))["id"]

    link = one_json_line(envdesk("partner", "link", agency, customer))

    assert link == {"partner_account_id": agency, "customer_account_id": customer}
    assert rows(db, "SELECT partner_account_id, customer_account_id FROM partner_links") == [
        (agency, customer)]


def test_partner_link_refuses_two_customers(envdesk, customer) -> None:
    other = one_json_line(envdesk("account", "add", "Other", "--kind", "customer"))["id"]

    result = envdesk("partner", "link", other, customer, ok=False)

    assert result.exit_code != 0
    assert "not a partner" in result.stderr


# --- tokens -------------------------------------------------------------------------------

def api_client(database_url: str, tmp_path: Path) -> Any:
    settings = Settings(database_url=database_url, broker_url="memory://", home=tmp_path,
                        secret_key=new_secret(), auth_cache_seconds=0)
    return create_app(settings).test_client()


def test_token_issue_prints_the_token_and_stores_only_its_hash(envdesk, customer, db) -> None:
    envdesk("user", "add", "dev@acme.example", "--account", customer)

    issued = one_json_line(envdesk("token", "issue", "dev@acme.example"))

    token = issued["token"]
    assert token
    stored = rows(db, "SELECT * FROM api_tokens")
    assert len(stored) == 1
    assert stored[0]._mapping["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(value) for value in stored[0])


def test_issued_token_works_against_the_api_until_revoked(envdesk, customer, database_url, tmp_path) -> None:
    envdesk("user", "add", "dev@acme.example", "--account", customer)
    token = one_json_line(envdesk("token", "issue", "dev@acme.example"))["token"]
    client = api_client(database_url, tmp_path)
    auth = {"Authorization": f"Bearer {token}"}

    me = client.get("/v1/me", headers=auth)
    assert me.status_code == 200
    assert me.get_json()["email"] == "dev@acme.example"
    assert me.get_json()["account_id"] == customer

    assert one_json_line(envdesk("token", "revoke", "dev@acme.example")) == {"revoked": 1}

    refused = client.get("/v1/me", headers=auth)
    assert refused.status_code == 401
    assert refused.get_json()["rule"] == "unauthenticated"


def test_revoking_one_token_by_prefix_keeps_the_others(envdesk, customer, database_url, tmp_path) -> None:
    envdesk("user", "add", "dev@acme.example", "--account", customer)
    first = one_json_line(envdesk("token", "issue", "dev@acme.example"))["token"]
    second = one_json_line(envdesk("token", "issue", "dev@acme.example"))["token"]
    client = api_client(database_url, tmp_path)

    envdesk("token", "revoke", "dev@acme.example", "--prefix", first[:10])

    assert client.get("/v1/me", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {second}"}).status_code == 200


def test_token_issue_for_unknown_user_fails(envdesk) -> None:
    result = envdesk("token", "issue", "nobody@example.com", ok=False)

    assert result.exit_code != 0
    assert "nobody@example.com" in result.stderr
    assert result.stdout == ""


# --- environments -------------------------------------------------------------------------

def test_env_add_prints_the_environment_with_sizes_caps_and_overrides(envdesk, customer, db) -> None:
    env = one_json_line(envdesk("env", "add", "--account", customer, "--name", "acme-dev", "--stage", "dev",
                                "--size", "yves=large", "--size", "database=medium",
                                "--cap", "yves=xlarge", "--allow-upscale"))

    assert env["account_id"] == customer and env["name"] == "acme-dev" and env["stage"] == "dev"
    assert env["sizes"]["yves"] == "large"
    assert env["sizes"]["database"] == "medium"
    assert env["sizes"]["zed"] == "small"
    assert env["caps"] == {"yves": "xlarge"}
    assert env["upscale_allowed"] is True
    assert env["requires_staging_verification"] is None
    assert rows(db, "SELECT name, stage FROM environments WHERE id = :id", id=env["id"]) == [
        ("acme-dev", "dev")]


def test_env_add_refuses_a_bad_size(envdesk, customer, db) -> None:
    result = envdesk("env", "add", "--account", customer, "--name", "x", "--stage", "stage",
                     "--size", "yves=huge", ok=False)

    assert result.exit_code != 0
    assert "yves=huge" in result.stderr
    assert count_envs(db) == 0


def test_env_add_refuses_a_duplicate_name(envdesk, customer, db) -> None:
    envdesk("env", "add", "--account", customer, "--name", "acme-stage", "--stage", "stage")

    result = envdesk("env", "add", "--account", customer, "--name", "acme-stage", "--stage", "prod", ok=False)

    assert result.exit_code != 0
    assert count_envs(db) == 1


def test_env_set_changes_the_contract_rules(envdesk, customer) -> None:
    env = one_json_line(envdesk("env", "add", "--account", customer, "--name", "acme-stage",
                                "--stage", "stage"))

    changed = one_json_line(envdesk("env", "set", env["id"], "--cap", "yves=large",
                                    "--upscale", "deny", "--verification", "require"))

    assert changed["id"] == env["id"]
    assert changed["caps"] == {"yves": "large"}
    assert changed["upscale_allowed"] is False
    assert changed["requires_staging_verification"] is True

    reset = one_json_line(envdesk("env", "set", env["id"], "--clear-caps", "--upscale", "default"))
    assert reset["caps"] == {}
    assert reset["upscale_allowed"] is None
    assert reset["requires_staging_verification"] is True


def test_env_set_unknown_environment_fails(envdesk) -> None:
    result = envdesk("env", "set", "no-such-env", "--upscale", "allow", ok=False)

    assert result.exit_code != 0
    assert "no-such-env" in result.stderr


# --- env import ---------------------------------------------------------------------------

def write_lines(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


def contract(account: str, n: int = 3000) -> list[dict[str, Any]]:
    stages = ("dev", "stage", "prod")
    return [{"account": account, "name": f"shop-{i:05d}", "stage": stages[i % 3],
             "sizes": {"yves": "medium"}} for i in range(n)]


def summary_of(result: Result) -> dict[str, int]:
    return json.loads(result.stdout.splitlines()[-1])


def test_env_import_creates_then_is_idempotent_then_updates(envdesk, customer, db, tmp_path) -> None:
    items = contract(customer)
    source = write_lines(tmp_path / "envs.jsonl", items)

    first = summary_of(envdesk("env", "import", str(source)))
    assert first == {"created": 3000, "updated": 0, "unchanged": 0, "errors": 0}
    assert count_envs(db) == 3000
    assert rows(db, "SELECT stage FROM environments WHERE name = 'shop-00004'") == [("stage",)]

    again = summary_of(envdesk("env", "import", str(source)))
    assert again == {"created": 0, "updated": 0, "unchanged": 3000, "errors": 0}
    assert count_envs(db) == 3000

    items[7]["sizes"] = {"yves": "large"}
    changed = summary_of(envdesk("env", "import", str(write_lines(source, items))))
    assert changed == {"created": 0, "updated": 1, "unchanged": 2999, "errors": 0}
    sizes = rows(db, "SELECT sizes FROM environments WHERE name = 'shop-00007'")[0][0]
    sizes = json.loads(sizes) if isinstance(sizes, str) else sizes
    assert sizes["yves"] == "large"
    assert count_envs(db) == 3000


def test_env_import_keeps_environments_added_by_hand(envdesk, customer, db, tmp_path) -> None:
    envdesk("env", "add", "--account", customer, "--name", "shop-00001", "--stage", "stage",
            "--size", "yves=medium")

    summary = summary_of(envdesk("env", "import", str(write_lines(tmp_path / "e.jsonl", contract(customer, 3)))))

    assert summary == {"created": 2, "updated": 0, "unchanged": 1, "errors": 0}
    assert count_envs(db) == 3


@pytest.mark.parametrize("bad", [
    lambda acct: {"account": acct, "name": "broken", "stage": "qa"},
    lambda acct: {"account": "00000000-0000-0000-0000-000000000000", "name": "broken", "stage": "stage"},
    lambda acct: {"account": acct, "name": "broken", "stage": "stage", "sizes": {"yves": "huge"}},
    lambda acct: {"account": acct, "stage": "stage"},
], ids=["bad-stage", "unknown-account", "bad-size", "missing-name"])
def test_env_import_with_an_invalid_line_changes_nothing_and_names_the_line(
        envdesk, customer, db, tmp_path, bad: Any) -> None:
    items = contract(customer, 10)
    source = write_lines(tmp_path / "envs.jsonl", items)
    envdesk("env", "import", str(source))
    items[3]["sizes"] = {"yves": "xlarge"}
    items.insert(5, bad(customer))
    write_lines(source, items + contract(customer, 20)[10:])

    result = envdesk("env", "import", str(source), ok=False)

    assert result.exit_code != 0
    assert "line 6" in result.stderr
    assert count_envs(db) == 10
    sizes = rows(db, "SELECT sizes FROM environments WHERE name = 'shop-00003'")[0][0]
    sizes = json.loads(sizes) if isinstance(sizes, str) else sizes
    assert sizes["yves"] == "medium"


def test_env_import_of_a_line_that_is_not_json_names_the_line(envdesk, customer, db, tmp_path) -> None:
    source = tmp_path / "envs.jsonl"
    source.write_text(json.dumps(contract(customer, 1)[0]) + "\n{not json\n")

    result = envdesk("env", "import", str(source), ok=False)

    assert result.exit_code != 0
    assert "line 2" in result.stderr
    assert count_envs(db) == 0


# --- schema -------------------------------------------------------------------------------

def test_db_upgrade_is_idempotent_on_an_up_to_date_database(envdesk, customer, db) -> None:
    envdesk("db", "upgrade")
    result = envdesk("db", "upgrade")

    assert result.stdout == ""
    assert len(rows(db, "SELECT version_num FROM alembic_version")) == 1
    assert rows(db, "SELECT id FROM accounts") == [(customer,)]
