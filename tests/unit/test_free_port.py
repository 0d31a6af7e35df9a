"""The test harness hands each server of a stack a port of its own."""
from __future__ import annotations

from typing import Any

import pytest

from tests.support import servers


class _SameFirstPort:
    """A socket whose kernel gives port 40731 twice, then 40732 (as one did to an e2e stack)."""

    given: Any = iter(())

    def __init__(self, *_args: Any) -> None:
        self.port = next(self.given)

    def __enter__(self) -> "_SameFirstPort":
        return self

    def __exit__(self, *_exc: Any) -> None:
        return None

    def bind(self, _address: Any) -> None:
        return None

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


def test_two_ports_asked_in_a_row_differ_even_when_the_kernel_repeats_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers, "_HANDED_OUT", set(), raising=False)
    monkeypatch.setattr(_SameFirstPort, "given", iter([40731, 40731, 40732]))
    monkeypatch.setattr(servers.socket, "socket", _SameFirstPort)
    assert (servers.free_port(), servers.free_port()) == (40731, 40732)
