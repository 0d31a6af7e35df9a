"""End to end: the running API, worker, beat and provisioning simulator, over HTTP."""
from __future__ import annotations

import os
import re
import signal
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.processes import ENVDESK, ROOT, utcnow
from tests.e2e.stack import Stack
from tests.support.servers import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


def _wait_for_hooks(stack: Stack, ticket_id: str, events: set[str], timeout: float = 20) -> list:
    def check() -> list | None:
        hooks = stack.hooks.for_ticket(ticket_id)
        return hooks if events <= {h.json["event"] for h in hooks} else None
    return wait_until(check, timeout=timeout, what=f"webhooks {sorted(events)} for {ticket_id}")


def test_approved_upscale_is_provisioned_audited_and_announced(stack: Stack) -> None:
    before = stack.environment("stage")["sizes"]["yves"]
    ticket = stack.file("stage", size="xlarge")
    stack.approve(ticket["id"])

    done = stack.wait_for_status(ticket["id"], "completed", timeout=30)

    assert stack.environment("stage")["sizes"]["yves"] == "xlarge"
    assert done["baseline"] == {"yves": before}
    trail = [(e["from_status"], e["to_status"], e["actor_id"]) for e in stack.events(ticket["id"])]
    statuses = [(f, t) for f, t, _ in trail]
    assert statuses == [(None, "pending_approval"), ("pending_approval", "approved"),
                        ("approved", "provisioning"), ("provisioning", "completed")]
    assert trail[0][2] is not None and trail[1][2] is not None  # customer, support
    assert trail[2][2] is None and trail[3][2] is None  # worker steps: the system
    stats = stack.sim_stats()
    assert stats["by_key"] == {f"{ticket['id']}:apply": 1}
    assert stats["applied"] == {f"{ticket['id']}:apply": 1}

    expected = {"ticket.created", "ticket.approved", "ticket.provisioning", "ticket.completed"}
    hooks = _wait_for_hooks(stack, ticket["id"], expected)
    assert all(h.valid for h in hooks), [h.headers for h in hooks if not h.valid]
    for hook in hooks:
        body = hook.json
        assert body["event_id"] and body["ticket"]["id"] == ticket["id"]
        assert {"event", "ticket"} <= set(body)
    assert {h.json["event"] for h in hooks} == expected
    assert len({h.json["event_id"] for h in hooks}) == len({h.json["event"] for h in hooks})


def test_terminal_failure_is_readable_and_support_retry_completes(stack: Stack) -> None:
    stack.sim_config(terminal_failure_rate=1)
    ticket = stack.file("stage")
    stack.approve(ticket["id"])

    failed = stack.wait_for_status(ticket["id"], "failed", timeout=30)
    assert "quota exceeded" in failed["reason"]
    customer_view = stack.api("GET", f"/tickets/{ticket['id']}").json()
    assert customer_view["status"] == "failed" and "quota exceeded" in customer_view["reason"]

    stack.sim_config(terminal_failure_rate=0)
    stack.retry(ticket["id"])
    stack.wait_for_status(ticket["id"], "completed", timeout=30)
    assert stack.environment("stage")["sizes"]["yves"] == "large"
    assert all(count == 1 for count in stack.sim_stats()["by_key"].values())


def test_temporary_upscale_is_reverted_to_the_baseline_at_period_end(stack: Stack) -> None:
    before = stack.environment("stage")["sizes"]
    now = utcnow()
    # Applied at its start (by the sweep) and never after its end: leave room for a slow sweep.
    period = {"start": (now + timedelta(seconds=1)).isoformat(),
              "end": (now + timedelta(seconds=10)).isoformat()}
    ticket = stack.file("stage", size="2xlarge", period=period)
    stack.approve(ticket["id"])

    stack.wait_for_status(ticket["id"], "completed", timeout=30)
    reverted = stack.wait_for_status(ticket["id"], "reverted", timeout=30)

    assert reverted["baseline"] == {"yves": before["yves"]}
    assert stack.environment("stage")["sizes"] == before
    keys = stack.sim_stats()["by_key"]
    assert keys == {f"{ticket['id']}:apply": 1, f"{ticket['id']}:revert": 1}


def _the_customer_mail_is_in_the_printed_folder(text: str, number: str) -> None:
    """`envdesk up` writes mail as .eml files to the folder its welcome names; a newcomer reads one."""
    from email import policy
    from email.parser import BytesParser

    folder = Path(re.search(r"written here as \.eml files, not sent: (\S+)", text).group(1))

    def completed_mail() -> list[Any] | None:
        found = [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in folder.glob("*.eml")]
        done = [m for m in found if m["To"] == "customer@demo.shop" and m["Subject"].startswith(
            f"[{number}] Upscale completed")]
        return done or None
    [message] = wait_until(completed_mail, timeout=30, interval=0.5, what="the completed mail in MAIL_DIR")
    assert "yves: xlarge" in message.get_body(("plain",)).get_content()


def test_the_whole_flow_runs_on_the_embedded_defaults(tmp_path: Path) -> None:
    """`envdesk up`: SQLite, the filesystem broker, no Redis and no PostgreSQL."""
    port, sim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "PROVISIONING_URL",
                        "PROVISIONING_TOKEN", "WEBHOOK_URLS", "ENVDESK_HOME")}
    env["PYTHONUNBUFFERED"] = "1"
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen([ENVDESK, "up", "--home", str(tmp_path / "home"), "--port", str(port),
                               "--sim-port", str(sim_port)], env=env, stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
    try:
        text = wait_until(lambda: "Then approve it" in log.read_text() and log.read_text(),
                          timeout=60, what="`envdesk up` to print the demo tokens")
        tokens = dict(re.findall(r"^\s+(\S+@\S+)\s+(\S+)\s*$", text, re.MULTILINE))
        auth = lambda who: {"Authorization": f"Bearer {tokens[who]}"}  # noqa: E731
        base = f"http://127.0.0.1:{port}/v1"

        def reachable() -> bool:
            try:
                return requests.get(f"{base}/me", headers=auth("customer@demo.shop"), timeout=2).ok
            except requests.RequestException:
                return False
        wait_until(reachable, timeout=30, what="the API of `envdesk up`")
        assert f"Staff console: http://127.0.0.1:{port}/console/" in text
        login = requests.get(f"http://127.0.0.1:{port}/console/login", timeout=5)
        assert login.ok and '<label for="token">Token</label>' in login.text
        envs = requests.get(f"{base}/environments", headers=auth("customer@demo.shop"), timeout=5).json()
        stage = next(e for e in envs["items"] if e["stage"] == "stage")
        body = {"type": "upscale", "environment_id": stage["id"], "summary": "demo",
                "resources": [{"component": "yves", "size": "xlarge"}]}
        # `envdesk up` prices by the sample list: a permanent upscale is quoted per day and its
        # charge must be accepted.
        quote = requests.post(f"{base}/quotes", headers=auth("customer@demo.shop"), timeout=10, json=body).json()
        assert quote["per_day"] and quote["accept_charges"] == {"amount": "61.50", "currency": "EUR"}
        filed = requests.post(f"{base}/tickets", headers=auth("customer@demo.shop"), timeout=10,
                              json={**body, "accept_charges": quote["accept_charges"]})
        assert filed.status_code == 201, filed.text
        ticket_id = filed.json()["id"]
        approved = requests.post(f"{base}/tickets/{ticket_id}/approve",
                                 headers=auth("support@hosting.example"), timeout=10)
        assert approved.status_code == 200, approved.text

        def completed() -> str | None:
            status = requests.get(f"{base}/tickets/{ticket_id}", headers=auth("customer@demo.shop"),
                                  timeout=5).json()["status"]
            assert status not in ("failed",), status
            return status if status == "completed" else None
        wait_until(completed, timeout=45, interval=0.5, what="the ticket to complete under `envdesk up`")
        sizes = requests.get(f"{base}/environments/{stage['id']}", headers=auth("customer@demo.shop"),
                             timeout=5).json()["sizes"]
        assert sizes["yves"] == "xlarge"
        _the_customer_mail_is_in_the_printed_folder(text, filed.json()["number"])
        _the_welcome_stays_last_and_the_processes_log_to_files(log.read_text(), tmp_path / "home",
                                                               ticket_id, tokens["customer@demo.shop"])
    except BaseException:
        print(log.read_text(errors="replace")[-6000:])
        raise
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGTERM)
            try:
                up.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(up.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _the_welcome_stays_last_and_the_processes_log_to_files(screen: str, home: Path, ticket_id: str,
                                                           customer_token: str) -> None:
    """After filing, approving and completing, the screen still ends with the welcome's last
    command; banners, warnings and JSON log lines went to one file per process, named on screen."""
    assert screen.rstrip().endswith(f"/events -H 'Authorization: Bearer {customer_token}'"), screen[-2000:]
    assert not [line for line in screen.splitlines() if line.lstrip().startswith("{")]
    assert "celery" not in screen.lower() and "superuser" not in screen.lower()
    logs = {name: (home / "logs" / f"{name}.log").resolve()
            for name in ("api", "worker", "beat", "provisioning-sim")}
    for name, path in logs.items():
        assert f"  {name:26} {path}" in screen
    assert ticket_id in logs["worker"].read_text()
    assert f"/v1/tickets/{ticket_id}/approve" in logs["api"].read_text()
    assert "beat" in logs["beat"].read_text().lower()
    assert "provisioning simulator on http://127.0.0.1:" in logs["provisioning-sim"].read_text()
