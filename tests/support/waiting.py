"""Waiting on a condition instead of sleeping for a guessed time."""
from __future__ import annotations

import time
from typing import Any, Callable

import pytest


def wait_until(check: Callable[[], Any], *, timeout: float, interval: float = 0.2,
               what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy and return that; fail the test after
    ``timeout`` seconds, naming ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last value: {last!r}", pytrace=False)
