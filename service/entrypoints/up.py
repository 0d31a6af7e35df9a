"""`envdesk up`: the whole service on the embedded defaults, for a first look and for demos.

SQLite for the database, a filesystem broker, the provisioning simulator: nothing but Python
is needed. Demo accounts are created on first start and their tokens printed once."""
from __future__ import annotations

import http.client
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from service.adapters.config import Settings
from service.entrypoints.demo import print_welcome, seed_demo
from service.adapters.migrate import upgrade


SAMPLE_PRICE_LIST = Path(__file__).with_name("sample_price_list.yaml")
"""The price list shipped with the package: `envdesk up` quotes upscales by it."""


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
    env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{port}")
    # Mail is written as .eml files here, not sent (unless SMTP_URL is set).
    env.setdefault("MAIL_DIR", str((home / "mail").resolve()))
    env.setdefault("PRICE_LIST", str(SAMPLE_PRICE_LIST))  # so the demo shows a quote
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
    logs = {name: (home / "logs" / f"{name}.log").resolve() for name in commands}
    children = {name: _start(cmd, env, logs[name]) for name, cmd in commands.items()}
    if _await_api(host, port, children):
        print_welcome(port, demo, logs, mail_dir="" if settings.smtp_url else settings.mail_dir)
    elif all(child.poll() is None for child in children.values()):
        click.echo(f"the API did not answer on port {port} within a minute; its log: {logs['api']}",
                   err=True)
    return _supervise(children, logs)


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A child whose output (its banners and log lines alike) goes to ``log``, not the screen."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)


def _await_api(host: str, port: int, children: dict[str, subprocess.Popen[bytes]],
               timeout: float = 60.0) -> bool:
    """True once the API answers its health check; False if a child exits first."""
    address = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children.values()):
            return False
        try:
            connection = http.client.HTTPConnection(address, port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def _supervise(children: dict[str, subprocess.Popen[bytes]], logs: dict[str, Path]) -> int:
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
        click.echo(f"{exited} exited with {children[exited].returncode} (its log: {logs[exited]}); "
                   "stopping the rest", err=True)
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
