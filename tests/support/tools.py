"""Programs some tests need that pip cannot install. A test that needs a missing one fails with
the command that installs it. The list is `SYSTEM_PROGRAMS` in scripts/test, which installs them
when run as root."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "test"


def system_programs() -> dict[str, str]:
    """program → Debian package, as scripts/test lists them."""
    listing = re.search(r"^SYSTEM_PROGRAMS=\(\n(.*?)^\)", SCRIPT.read_text(), re.MULTILINE | re.DOTALL)
    return dict(re.findall(r'^\s*"(\S+)\s+(\S+)\s', listing[1], re.MULTILINE))


def require_tool(name: str, *, why: str) -> str:
    """The path of program ``name``; fails the test, naming the install command, when it is missing."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not on PATH, so {why}; install it with "
                    f"`apt-get install -y {system_programs()[name]}` (scripts/test does, run as root)",
                    pytrace=False)
    return found
