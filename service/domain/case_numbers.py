"""Case numbers: the short name people say on the phone, ``ENV-<n>``."""
from __future__ import annotations

import re

PREFIX = "ENV-"
_NUMBER = re.compile(r"ENV-([1-9][0-9]{0,17})", re.IGNORECASE)


def case_number(n: int) -> str:
    """``ENV-42`` for 42."""
    return f"{PREFIX}{n}"


def parse_case_number(text: str) -> int | None:
    """42 for ``ENV-42`` (any case); None when ``text`` is not a case number (a ticket id, say)."""
    found = _NUMBER.fullmatch(text.strip())
    return int(found.group(1)) if found else None
