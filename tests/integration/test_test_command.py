"""The README's test command is scripts/test, the one path for a newcomer and for CI (.ci/run
calls it): it sets up what the tests need, and without root it names the Debian packages it
cannot install and goes on."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.tools import system_programs

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "test"
NOBODY = 65534


def commands(text: str) -> list[str]:
    """The lines a shell runs: neither blank nor comments."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_readmes_test_command_is_scripts_test() -> None:
    two_commands = (ROOT / "README.md").read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", two_commands, re.DOTALL)
    tests = [block for block in blocks if "test" in block.splitlines()[0]]

    assert len(tests) == 1, blocks
    assert commands(tests[0]) == ["scripts/test"]
    assert os.access(SCRIPT, os.X_OK)


def test_ci_starts_the_services_then_runs_the_same_script() -> None:
    ci = commands((ROOT / ".ci" / "run").read_text())

    assert ci[-1] == "scripts/test"
    assert not [line for line in ci[:-1] if re.search(r"pytest|pip |npm |apt-get", line)]


def test_the_script_is_valid_bash_that_stops_at_the_first_failure() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, timeout=30).returncode == 0
    assert "set -euo pipefail" in SCRIPT.read_text().splitlines()[:12]


@pytest.fixture
def bare_machine() -> Iterator[Path]:
    """A copy of scripts/test where the tests' system programs are missing: on PATH only bash
    and the few tools the script itself uses; readable by an unprivileged user."""
    folder = Path(tempfile.mkdtemp(prefix="envdesk-bare-"))
    try:
        (folder / "scripts").mkdir()
        shutil.copy2(SCRIPT, folder / "scripts" / "test")
        (folder / "bin").mkdir()
        for tool in ("bash", "dirname", "id"):
            (folder / "bin" / tool).symlink_to(shutil.which(tool))
        for path in (folder, *folder.rglob("*")):
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
        yield folder
    finally:
        shutil.rmtree(folder)


def test_without_root_it_names_the_missing_packages_and_the_command_and_goes_on(bare_machine) -> None:
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) runs the script as an unprivileged user"

    run = subprocess.run([setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                          str(bare_machine / "scripts" / "test")], capture_output=True, text=True,
                         timeout=60, env={"PATH": str(bare_machine / "bin"), "HOME": str(bare_machine)})

    packages = " ".join(system_programs().values())
    assert f"the tests need programs that are not installed: {packages}" in run.stderr
    assert f"install them (as root): apt-get install -y {packages}" in run.stderr
    assert "[scripts/test] creating .venv" in run.stderr  # it went on to set up the rest
    assert run.returncode != 0  # here with no python3 to make .venv with
    assert "installing" not in run.stderr
