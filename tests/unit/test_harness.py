"""A test that needs a program pip cannot install fails with the command that installs it."""
from __future__ import annotations

import pytest

from tests.support.tools import require_tool, system_programs


def test_the_programs_are_read_from_scripts_test() -> None:
    assert {"docker-compose": "docker-compose", "chromium": "chromium", "node": "nodejs"}.items() \
        <= system_programs().items()


@pytest.mark.parametrize(("program", "package"), sorted(system_programs().items()))
def test_a_missing_program_fails_the_test_naming_its_install_command(
        program: str, package: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")

    with pytest.raises(pytest.fail.Exception, match=f"install it with `apt-get install -y {package}`"):
        require_tool(program, why="the test cannot run")
