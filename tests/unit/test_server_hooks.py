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


def test_serve_runs_one_request_at_a_time_per_process_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """gunicorn's sync worker takes a connection only when it is idle, so kept connections spread
    over the processes; the threaded worker (``--threads`` above 1) keeps them on whichever
    process accepted them, busy or not."""
    from click.testing import CliRunner

    from service.cli import processes

    started: dict[str, Any] = {}
    monkeypatch.setattr(processes, "checked_settings", lambda _process: None)
    monkeypatch.setattr(server, "run_gunicorn", lambda _settings, **options: started.update(options))
    result = CliRunner().invoke(processes.serve, ["--workers", "3"])
    assert result.exit_code == 0, result.output
    assert started["threads"] == 1
    options = server.gunicorn_options(host="127.0.0.1", port=8080, workers=3, threads=started["threads"])
    assert options["worker_class"] == "sync"
    threaded = server.gunicorn_options(host="127.0.0.1", port=8080, workers=3, threads=4)
    assert threaded["worker_class"] == "gthread"
