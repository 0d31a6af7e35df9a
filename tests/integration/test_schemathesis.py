"""Property-based API tests: schemathesis drives the running server (gunicorn, PostgreSQL) from
the committed openapi.yaml, with valid and invalid data, and every default check."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
import schemathesis
from schemathesis.config import SchemathesisConfig

from service.db import UnitOfWork, make_engine, make_session_factory
from service.models import Base
from tests.support.servers import free_port
from tests.support.waiting import wait_until
from tests.support.world import World, build_world

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, World]]:
    """`envdesk serve` on the session's PostgreSQL database, emptied and seeded with tenants."""
    url = pg_url
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    world = build_world(lambda: UnitOfWork(make_session_factory(engine)))
    engine.dispose()
    port = free_port()
    home = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "DATABASE_URL": url, "BROKER_URL": "memory://", "ENVDESK_HOME": str(home),
           "SECRET_KEY": "schemathesis",
           # Limits would answer most generated writes 429 and hide the paths behind them.
           "RATE_LIMIT_WRITES": "", "MAX_OPEN_TICKETS_PER_ACCOUNT": "0"}
    env.pop("REDIS_URL", None)
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base, process, home / "server.log")
        yield base, world
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait_for(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    def answers() -> bool:
        if process.poll() is not None:
            pytest.fail(f"envdesk serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            return requests.get(f"{base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_until(answers, timeout=60, what="envdesk serve to answer /healthz")
    except pytest.fail.Exception:
        pytest.fail(f"envdesk serve did not answer /healthz within 60 s:\n{log.read_text()}")


# Statuses a schema-valid request may get. 422 is allowed only where the service refuses valid-looking
# data for reasons JSON Schema cannot state: a cursor it did not sign, and the cross-field rules of
# a ticket body (fields that depend on `type`, each component once, nesting depth of parameters).
ACCEPTED = ["2xx", "401", "403", "404", "409"]
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
SEMANTIC_422 = {"checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED + ["422"]}}}
CONFIG = SchemathesisConfig.from_dict({
    # Unknown query parameters are ignored by design (a tolerant reader), so invalid data is not
    # made by adding parameters the document does not name.
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none",
                   "allow-extra-parameters": False,
                   # The same cases on every run, so CI is repeatable; set
                   # ENVDESK_SCHEMATHESIS_EXPLORE=1 to draw new ones.
                   "deterministic": not os.environ.get("ENVDESK_SCHEMATHESIS_EXPLORE")},
    "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED},
               # Invalid data must be refused; 413 (a body over MAX_BODY_BYTES) is a refusal too.
               "negative_data_rejection": {"expected-statuses": REJECTED}},
    "operations": [
        {"include-method": "GET", "include-path-regex": "^/v1/(tickets|environments)$", **SEMANTIC_422},
        {"include-method": "POST", "include-path": "/v1/tickets", **SEMANTIC_422},
    ],
})
schema = schemathesis.openapi.from_path(SPEC, config=CONFIG)


@pytest.fixture(scope="module", params=["support", "customer_a"])
def caller(request: pytest.FixtureRequest, server: tuple[str, World]) -> tuple[str, dict[str, str]]:
    base, world = server
    return base, world.auth(request.param)


@schema.parametrize()
def test_api_conforms_to_its_openapi_document(case: Any, caller: tuple[str, dict[str, str]],
                                              request: pytest.FixtureRequest) -> None:
    base, headers = caller
    request.node.user_properties.append(("count", "schemathesis cases"))
    case.call_and_validate(base_url=base, headers=headers, timeout=30)
