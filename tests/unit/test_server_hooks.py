"""gunicorn's hooks that run inside its signal handlers."""
from __future__ import annotations

import builtins
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from service.entrypoints import server


def test_a_worker_exit_is_recorded_without_importing_anything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second SIGCHLD can arrive while the first one's handler runs; an import there would be
    found half done by the second."""
    monkeypatch.setattr(server, "_mark_process_dead", server._mark_process_dead)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))  # restored after
    server.prepare_metrics(tmp_path / "metrics")
    live = tmp_path / "metrics" / "gauge_livesum_4242.db"
    live.write_bytes(b"")

    def no_imports(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("an import inside gunicorn's SIGCHLD handler")

    with monkeypatch.context() as handler:
        handler.setattr(builtins, "__import__", no_imports)
        server._child_exit(None, SimpleNamespace(pid=4242))
    assert not live.exists()
