"""Property-based API tests run as a client team would: the schemathesis CLI drives `envdesk serve`
(gunicorn, PostgreSQL) from the committed openapi.yaml with every check and every phase, stateful
included, as a customer and as support, and must find no failure. Its settings (the statuses a
request may get, the number of cases) are the project's schemathesis.toml, which the same
command reads when run by hand."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.world import World
from tests.helpers import change_body, upscale_body

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
CONFIG = ROOT / "schemathesis.toml"


def _config(tmp_path: Path) -> Path:
    """The project's settings; ENVDESK_SCHEMATHESIS_EXPLORE=1 draws new cases instead of the same."""
    if not os.environ.get("ENVDESK_SCHEMATHESIS_EXPLORE"):
        return CONFIG
    explore = tmp_path / "schemathesis.toml"
    explore.write_text(CONFIG.read_text().replace("deterministic = true", "deterministic = false"))
    return explore


def _file_tickets(base: str, world: World) -> None:
    """Open tickets for support to find through the lists' links (support may not file them);
    one may be open already when the customer's run filed it."""
    for body in (upscale_body(world.envs["customer_a_stage"]), change_body(world.envs["customer_a_dev"])):
        response = requests.post(f"{base}/v1/tickets", json=body, headers=world.auth("customer_a"),
                                 timeout=30)
        assert response.status_code == 201 or (
            response.status_code == 409 and response.json()["rule"] == "duplicate_open_request"
        ), response.text


@pytest.mark.parametrize("who", ["customer_a", "support"])
def test_schemathesis_finds_no_failure(server: tuple[str, World], who: str, tmp_path: Path,
                                       request: pytest.FixtureRequest) -> None:
    base, world = server
    if who == "support":
        _file_tickets(base, world)
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(_config(tmp_path)),
               "--no-color", "run", str(SPEC), "--url", base, "--checks", "all",
               "--header", f"Authorization: Bearer {world.tokens[who]}", "--request-timeout", "30"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    output = result.stdout + result.stderr
    cases = re.search(r"(\d+) generated", output)
    request.node.user_properties.append(("e2e_figure", {
        "test": request.node.name, "figure": f"schemathesis as {who}",
        "cases": cases.group(1) if cases else "?"}))
    assert result.returncode == 0 and "Failures:" not in output, output[-20000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ {phase}", output), f"{phase} did not run and pass:\n{output[-5000:]}"
