"""End to end under an approval policy: the running API, worker and simulator, no person approving."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from service.app.registry import operators
from service.adapters.db import UnitOfWork, make_session_factory

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]

POLICY = """\
rules:
  - name: standard stage load tests
    match: {type: upscale, stage: stage, temporary: true, max_days: 7}
    approval: auto
"""


def test_stage_temporary_upscale_within_caps_completes_with_no_human_action(
        make_stack: Callable[..., Any], tmp_path: Path) -> None:
    policy = tmp_path / "approval-policy.yaml"
    policy.write_text(POLICY)
    stack = make_stack(APPROVAL_POLICY=str(policy))
    sessions = make_session_factory(stack.engine)
    operators.set_environment_rules(stack.seed.envs["stage"], uow=UnitOfWork(sessions),
                                    caps={"yves": "xlarge"})
    now = datetime.now(timezone.utc)
    period = {"start": (now + timedelta(seconds=2)).isoformat(), "end": (now + timedelta(days=1)).isoformat()}

    filed = stack.file("stage", size="xlarge", period=period)
    assert filed["status"] == "scheduled"  # approved by the policy; applied at the period's start
    assert filed["approval_rule"] == "standard stage load tests"

    done = stack.wait_for_status(filed["id"], "completed", timeout=40)
    assert done["approvals"] == []
    assert stack.environment("stage")["sizes"]["yves"] == "xlarge"
    trail = stack.events(filed["id"])
    decided = [e for e in trail if e["to_status"] == "scheduled"]
    assert len(decided) == 1 and "standard stage load tests" in decided[0]["reason"]
    assert decided[0]["actor"] == {"kind": "system", "name": "policy"}
    assert [e["actor"] for e in trail if e["to_status"] == "approved"] == [{"kind": "system", "name": "sweep"}]
    assert stack.sim_stats()["applied"] == {f"{filed['id']}:apply": 1}


def test_the_api_refuses_to_start_on_an_invalid_policy(tmp_path: Path) -> None:
    policy = tmp_path / "approval-policy.yaml"
    policy.write_text("rules:\n  - name: a\n    approval: sometimes\n")
    env = {**os.environ, "APPROVAL_POLICY": str(policy), "ENVDESK_HOME": str(tmp_path),
           "SECRET_KEY": secrets.token_urlsafe(32),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'envdesk.db'}"}
    out = subprocess.run([sys.executable, "-m", "service.cli", "serve", "--port", "0", "--workers", "1"],
                         env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode != 0
    assert "line 3" in out.stderr and "auto, single or dual" in out.stderr
