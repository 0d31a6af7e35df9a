"""`envdesk up`: the whole service on the embedded defaults, for a first look and for demos.

SQLite for the database, a filesystem broker, the provisioning simulator: nothing but Python
is needed. Demo accounts are created on first start and their tokens printed once."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from service.config import Settings
from service.entrypoints.demo import print_welcome, seed_demo
from service.migrate import upgrade


def _secret(home: Path, name: str) -> str:
    path = home / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def embedded_environment(home: Path, *, port: int, sim_port: int) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{(home / 'envdesk.db').resolve()}")
    env.setdefault("REDIS_URL", f"filesystem://{(home / 'broker').resolve()}")
    env.setdefault("PROVISIONING_URL", f"http://127.0.0.1:{sim_port}")
    env.setdefault("PROVISIONING_TOKEN", _secret(home, "provisioning-token"))
    env.setdefault("SECRET_KEY", _secret(home, "secret-key"))
    env.setdefault("CONSOLE_TOKEN_LOGIN", "1")
    env.setdefault("CONSOLE_URL", f"http://127.0.0.1:{port}/console")
    env["ENVDESK_HOME"] = str(home.resolve())
    return env


def run_all(*, home: Path, host: str, port: int, sim_port: int) -> int:
    env = embedded_environment(home, port=port, sim_port=sim_port)
    settings = Settings.from_env(env)
    upgrade(settings.database_url, pooler=settings.database_pooler)
    demo = seed_demo(settings)
    exe = [sys.executable, "-m", "service.cli"]
    commands = {
        "provisioning-sim": [*exe, "provisioning-sim", "--port", str(sim_port), "--latency", "1"],
        "api": [*exe, "serve", "--host", host, "--port", str(port), "--workers", "2"],
        "worker": [*exe, "worker", "--concurrency", "2"],
        "beat": [*exe, "beat"],
    }
    children = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
    print_welcome(port, demo)
    return _supervise(children)


def _supervise(children: dict[str, subprocess.Popen[bytes]]) -> int:
    """Run until interrupted or a child exits; then stop every child gracefully."""
    stopping = False

    def stop(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exited = None
    while not stopping and exited is None:
        exited = next((n for n, p in children.items() if p.poll() is not None), None)
        time.sleep(0.5)
    if exited:
        click.echo(f"{exited} exited with {children[exited].returncode}; stopping the rest", err=True)
    for proc in children.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for proc in children.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    return 1 if exited else 0
