"""What a newcomer meets first: `envdesk up` prints demo tokens and shell commands that file a
temporary upscale and approve it; run as printed, against the real API, they do just that."""
from __future__ import annotations

import json
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import click
import pytest
from click.testing import CliRunner
from werkzeug.serving import make_server

from service.api import create_app
from service.adapters.config import Settings
from service.entrypoints.demo import print_welcome, seed_demo
from service.entrypoints.up import SAMPLE_PRICE_LIST
from tests.helpers import new_secret


@pytest.fixture
def api_port(pg_database_url: str, tmp_path: Path) -> Iterator[tuple[int, Settings]]:
    settings = Settings(database_url=pg_database_url, broker_url="memory://", home=tmp_path,
                        secret_key=new_secret(), write_rate_limit="", auth_cache_seconds=0,
                        price_list=str(SAMPLE_PRICE_LIST))  # as `envdesk up` runs
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port, settings
    server.shutdown()
    thread.join(timeout=5)


def welcome(port: int, demo: dict[str, Any] | None) -> str:
    command = click.Command("welcome", callback=lambda: print_welcome(port, demo))
    return CliRunner().invoke(command, []).output


def printed_commands(text: str) -> list[str]:
    """The indented lines after the blank line that ends the instructions, as a user copies them."""
    block = text.split("(curl and python3):\n\n", 1)[1]
    return [line.strip() for line in block.splitlines() if line.startswith("  ")]


def test_the_printed_commands_file_a_temporary_upscale_and_approve_it(api_port) -> None:
    port, settings = api_port
    demo = seed_demo(settings)
    text = welcome(port, demo)
    script = "set -eo pipefail\n" + "\n".join(printed_commands(text))

    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)

    assert run.returncode == 0, run.stdout + run.stderr
    quote_line, ticket_line, approved, events = run.stdout.splitlines()
    assert quote_line.startswith("quote ") and "within the allowance" in quote_line
    ticket_id = ticket_line.removeprefix("ticket ")
    assert json.loads(approved)["id"] == ticket_id
    assert [event["to_status"] for event in json.loads(events)["items"]][:2] == [
        "pending_approval", json.loads(approved)["status"]]
    with create_app(settings).test_client() as client:
        ticket = client.get(f"/v1/tickets/{ticket_id}", headers={
            "Authorization": f"Bearer {demo['tokens']['customer@demo.shop']}"}).get_json()
    assert ticket["status"] in ("approved", "scheduled")
    start = datetime.fromisoformat(ticket["period"]["start"])
    now = datetime.now(timezone.utc)
    assert now < start <= now + timedelta(minutes=3)
    assert ticket["environment_id"] == demo["environments"]["stage"]


def test_a_second_start_names_the_command_that_issues_a_new_token(api_port) -> None:
    port, settings = api_port
    seed_demo(settings)

    assert seed_demo(settings) is None
    assert "envdesk token issue customer@demo.shop" in welcome(port, None)
