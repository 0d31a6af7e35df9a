"""Unit tests do no I/O: no network connection (no database server, no broker, no HTTP that
`responses` does not answer) and no subprocess. A test that tries fails with where it belongs."""
from __future__ import annotations

import socket
import subprocess
from typing import Any, NoReturn

import pytest


def _refuse(what: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
        raise AssertionError(f"a unit test {what}: unit tests do no I/O; this test belongs in "
                             "tests/integration/")
    return refuse


@pytest.fixture(autouse=True)
def no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _refuse("opened a network connection"))
    monkeypatch.setattr(socket.socket, "connect_ex", _refuse("opened a network connection"))
    monkeypatch.setattr(subprocess, "Popen", _refuse("started a process"))
