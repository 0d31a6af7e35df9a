"""The import contracts in pyproject.toml hold (a pure domain, views that never reach workers,
layers, no cycles), and functions stay short enough to read at a glance."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_only_the_outbound_module_imports_requests():
    importers = sorted(
        str(path.relative_to(ROOT))
        for package in ("service", "workers", "schemas")
        for path in (ROOT / package).rglob("*.py")
        if any(line.strip().startswith(("import requests", "from requests"))
               for line in path.read_text().splitlines())
    )

    assert importers == ["service/adapters/outbound.py"]


MAX_FUNCTION_LINES = 40


def _long_functions(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    return found


@pytest.mark.parametrize("package", ["service", "schemas", "workers"])
def test_no_function_is_longer_than_forty_lines(package: str) -> None:
    assert _long_functions(package) == []
