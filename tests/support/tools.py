"""Programs some tests need that pip cannot install. A test that needs a missing one fails with
the command that installs it (the README's test section lists them too)."""
from __future__ import annotations

import shutil

import pytest

INSTALL = {
    "docker-compose": "apt-get install -y docker-compose",
    "chromium": "apt-get install -y chromium",
}


def require_tool(name: str, *, why: str) -> str:
    """The path of program ``name``; fails the test, naming the install command, when it is missing."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not on PATH, so {why}; install it with `{INSTALL[name]}`",
                    pytrace=False)
    return found
