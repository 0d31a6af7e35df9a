"""openapi.yaml as API client teams use it: linted by Redocly with no error and no warning, and
turned into TypeScript types by openapi-typescript that a strict portal compiles against."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
PORTAL = Path(__file__).resolve().parent / "typescript"
INSTALL = "npm ci"
# The tools talk to 127.0.0.1 only: no telemetry, no update check.
QUIET = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_UPDATE_NOTIFIER": "1"}


def node_tool(name: str) -> Path:
    """A tool the project's package.json pins; missing, the test fails naming the install command."""
    if shutil.which("node") is None:
        pytest.fail("node is not installed: install Node.js 20 or later, then run `npm ci`")
    tool = ROOT / "node_modules" / ".bin" / name
    if not tool.exists():
        pytest.fail(f"{tool.relative_to(ROOT)} is missing: run `{INSTALL}` in {ROOT}")
    return tool


def run(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **QUIET})


def test_redocly_lint_finds_no_error_and_no_warning() -> None:
    result = run(node_tool("redocly"), "lint", SPEC, "--format=json")
    report = json.loads(result.stdout)
    problems = [f"{p['severity']} {p['ruleId']}: {p['message']} at {p['location'][0]['pointer']}"
                for p in report["problems"]]
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, "\n".join(problems)
    assert result.returncode == 0, result.stderr


def test_strict_typescript_portal_compiles_against_generated_types(tmp_path: Path) -> None:
    """portal.ts reads required fields without checks, narrows `change` to Change | null, words
    refusals from rule and params, and must be refused a change request carrying resources."""
    generated = run(node_tool("openapi-typescript"), SPEC, "--output", tmp_path / "api.d.ts")
    assert generated.returncode == 0, generated.stderr
    for name in ("portal.ts", "tsconfig.json"):
        shutil.copy(PORTAL / name, tmp_path / name)
    compiled = run(node_tool("tsc"), "-p", tmp_path / "tsconfig.json", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
