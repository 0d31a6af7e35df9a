"""Allowances from the operators' side: `envdesk account set-allowance` and ``allowance_days``
in the registry import."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from service.adapters.db import make_engine


@pytest.fixture
def db(database_url: str) -> Any:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def allowances(db: Any) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT account_id, year, days FROM allowances ORDER BY year"))]


@pytest.fixture
def customer(envdesk: Any) -> str:
    return json.loads(envdesk("account", "add", "Acme", "--kind", "customer").stdout)["id"]


def test_set_allowance_sets_and_replaces_the_days_of_a_year(envdesk, customer, db) -> None:
    printed = json.loads(envdesk("account", "set-allowance", customer, "--days", "20", "--year", "2027").stdout)
    assert printed == {"account_id": customer, "year": 2027, "days": 20}
    envdesk("account", "set-allowance", customer, "--days", "25", "--year", "2027")
    envdesk("account", "set-allowance", customer, "--days", "5")
    assert set(allowances(db)) == {(customer, 2027, 25), (customer, datetime.now(timezone.utc).year, 5)}


def test_set_allowance_refuses_an_unknown_account_and_negative_days(envdesk, customer, db) -> None:
    assert envdesk("account", "set-allowance", "nope", "--days", "3", ok=False).exit_code != 0
    assert envdesk("account", "set-allowance", customer, "--days", "-3", ok=False).exit_code != 0
    assert allowances(db) == []


def test_env_import_sets_the_allowance_of_the_line_s_account(envdesk, customer, db, tmp_path) -> None:
    source = tmp_path / "envs.jsonl"
    source.write_text(json.dumps({"account": customer, "name": "shop-stage", "stage": "stage",
                                  "allowance_days": 12}) + "\n")
    envdesk("env", "import", str(source))
    assert allowances(db) == [(customer, datetime.now(timezone.utc).year, 12)]
    source.write_text(json.dumps({"account": customer, "name": "shop-stage", "stage": "stage",
                                  "allowance_days": -1}) + "\n")
    result = envdesk("env", "import", str(source), ok=False)
    assert "line 1" in (result.stdout + result.stderr) and "allowance_days" in (result.stdout + result.stderr)
    assert allowances(db) == [(customer, datetime.now(timezone.utc).year, 12)]
