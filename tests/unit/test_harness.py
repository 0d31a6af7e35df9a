"""A test that needs a program pip cannot install fails with the command that installs it."""
from __future__ import annotations

import pytest

from tests.support.tools import INSTALL, require_tool


@pytest.mark.parametrize("program", sorted(INSTALL))
def test_a_missing_program_fails_the_test_naming_its_install_command(
        program: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")

    with pytest.raises(pytest.fail.Exception, match=f"install it with `apt-get install -y {program}`"):
        require_tool(program, why="the test cannot run")
