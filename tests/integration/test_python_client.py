"""A Python client generated from openapi.yaml by openapi-python-client files, lists and reads
tickets against `envdesk serve`, and gets refusals as typed problems it can act on."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import pytest

from tests.support.world import World

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
PACKAGE = "envdesk_client"


@pytest.fixture(scope="module")
def load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], ModuleType]]:
    """Generates the client into a temporary directory; ``load("api.tickets.get_ticket")``."""
    tool = Path(sys.executable).with_name("openapi-python-client")
    if not tool.exists():
        pytest.fail("openapi-python-client is missing: run `.venv/bin/pip install -e '.[dev]'`")
    out = tmp_path_factory.mktemp("client")
    env = {**os.environ, "PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run([str(tool), "generate", "--path", str(SPEC), "--meta", "none",
                             "--output-path", str(out / PACKAGE)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _client(load: Callable[[str], ModuleType], base: str, token: str) -> Any:
    return load("client").AuthenticatedClient(base_url=base, token=token)


def test_generated_client_files_lists_and_reads_tickets(server: tuple[str, World], load: Any) -> None:
    base, world = server
    m = load("models")
    client = _client(load, base, world.tokens["customer_a"])
    page = load("api.environments.list_environments").sync(client=client, stage=m.ListEnvironmentsStage.STAGE)
    assert [env.stage for env in page.items] == [m.EnvironmentStage.STAGE]
    body = m.UpscaleCreate(type_=m.UpscaleCreateType.UPSCALE, environment_id=page.items[0].id,
                           summary="load test", resources=[m.Resource(
                               component=m.ResourceComponent.YVES, size=m.ResourceSize.XLARGE)])
    filed = load("api.tickets.file_ticket").sync_detailed(client=client, body=body)
    assert filed.status_code == 201, filed.content
    ticket = filed.parsed  # the ticket, with what its time overlaps (nothing here)
    assert isinstance(ticket, m.Ticket) and ticket.conflicts == []
    assert ticket.status is m.TicketStatus.PENDING_APPROVAL and ticket.change is None
    assert [(r.component, r.size) for r in ticket.resources] == [("yves", "xlarge")]

    listed = load("api.tickets.list_tickets").sync(client=client, type_=m.ListTicketsType.UPSCALE)
    assert ticket.id in [t.id for t in listed.items]
    read = load("api.tickets.get_ticket").sync(ticket.id, client=client)
    assert (read.id, read.summary, read.period) == (ticket.id, "load test", None)

    again = load("api.tickets.file_ticket").sync_detailed(client=client, body=body)
    assert again.status_code == 409
    assert again.parsed.rule is m.ProblemRule.DUPLICATE_OPEN_REQUEST
    assert again.parsed.params.open_ticket_id == ticket.id


def test_generated_client_files_a_change_and_reads_refusals(server: tuple[str, World], load: Any) -> None:
    base, world = server
    m, file_ticket = load("models"), load("api.tickets.file_ticket")
    client = _client(load, base, world.tokens["customer_a"])
    change = m.Change(kind=m.ChangeKind.CONFIG,
                      parameters=m.ChangeParameters.from_dict({"PHP_MEMORY_LIMIT": "1G"}))
    body = m.ChangeCreate(type_=m.ChangeCreateType.CHANGE, environment_id=world.envs["customer_a_dev"],
                          summary="more memory", change=change)
    filed = file_ticket.sync_detailed(client=client, body=body)
    assert filed.status_code == 201, filed.content
    assert filed.parsed.change.kind is m.ChangeKind.CONFIG and filed.parsed.resources is None

    prod = m.UpscaleCreate(type_=m.UpscaleCreateType.UPSCALE, environment_id=world.envs["customer_a_prod"],
                           summary="more", resources=[m.Resource(component=m.ResourceComponent.ZED,
                                                                 size=m.ResourceSize.LARGE)])
    refused = file_ticket.sync_detailed(client=client, body=prod)
    assert refused.status_code == 422
    assert refused.parsed.rule is m.ProblemRule.PROD_AUTOSCALES
    assert refused.parsed.params.stage == "prod"
