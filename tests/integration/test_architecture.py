"""The import contracts in pyproject.toml hold: a pure domain, views that never reach workers."""
import subprocess
import sys
from pathlib import Path

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

    assert importers == ["service/outbound.py"]
