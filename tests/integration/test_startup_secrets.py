"""`envdesk serve`, `worker` and `beat` refuse to start on a secret an operator forgot to set,
left at a placeholder, or made too short: the real commands, run as an operator runs them."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import new_secret

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDERS = ["change-me", "changeme", "CHANGE_ME", "secret", "password", "Change-me-before-going-live-please!"]
SHORT = secrets.token_urlsafe(32)[:31]


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SECRET_KEY", "PROVISIONING_", "WEBHOOK_", "METRICS_", "DATABASE_URL",
                                "REDIS_URL", "BROKER_URL", "CONSOLE_", "OIDC_", "STAFF_WEBHOOK"))}
    env.update(ENVDESK_HOME=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'envdesk.db'}",
               REDIS_URL=f"filesystem://{tmp_path / 'broker'}", SECRET_KEY=new_secret(),
               PROVISIONING_TOKEN=new_secret(), WEBHOOK_SECRET=new_secret(), METRICS_TOKEN=new_secret())
    env.update(overrides)
    return env


def _refused(process: str, env: dict[str, str]) -> str:
    """Runs the command; it must exit at once with status 1 and say why on stderr."""
    argv = {"serve": ["serve", "--port", "1"], "worker": ["worker"], "beat": ["beat"]}[process]
    result = subprocess.run([sys.executable, "-m", "service.cli", *argv], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, f"envdesk {process} did not refuse:\n{result.stdout}\n{result.stderr}"
    assert f"envdesk {process} refuses to start" in result.stderr, result.stderr
    assert "envdesk secret new" in result.stderr, result.stderr
    return result.stderr


PROCESS_SECRET = {"serve": "SECRET_KEY", "worker": "PROVISIONING_TOKEN", "beat": "WEBHOOK_SECRET"}


@pytest.mark.parametrize("process", sorted(PROCESS_SECRET))
def test_every_placeholder_is_refused_by_name(tmp_path: Path, process: str) -> None:
    """One placeholder in each secret: the process names every one (a secret set to a placeholder
    is refused whether or not this process uses it)."""
    given = {"SECRET_KEY": PLACEHOLDERS[0], "PROVISIONING_TOKEN": PLACEHOLDERS[1],
             "WEBHOOK_SECRET": PLACEHOLDERS[2], "METRICS_TOKEN": PLACEHOLDERS[3],
             "SECRET_KEY_FALLBACKS": f"{new_secret()},{PLACEHOLDERS[4]}",
             "DATABASE_URL": f"postgresql://envdesk:{PLACEHOLDERS[5]}@127.0.0.1:1/envdesk"}
    stderr = _refused(process, _env(tmp_path, **given))
    for name in ("SECRET_KEY", "PROVISIONING_TOKEN", "WEBHOOK_SECRET", "METRICS_TOKEN",
                 "SECRET_KEY_FALLBACKS", "the password in DATABASE_URL"):
        assert f"{name} is a placeholder, not a secret" in stderr


@pytest.mark.parametrize("process", sorted(PROCESS_SECRET))
def test_a_short_secret_is_refused_by_name(tmp_path: Path, process: str) -> None:
    name = PROCESS_SECRET[process]
    assert f"{name} is shorter than 32 characters" in _refused(process, _env(tmp_path, **{name: SHORT}))


@pytest.mark.parametrize(("process", "name", "extra"), [
    ("serve", "SECRET_KEY", {}),
    ("worker", "PROVISIONING_TOKEN", {}),
    ("worker", "WEBHOOK_SECRET", {"WEBHOOK_URLS": "https://portal.example/hooks"}),
    ("beat", "WEBHOOK_SECRET", {"STAFF_WEBHOOK_URL": "https://chat.example/hook"}),
])
def test_a_required_secret_left_empty_is_refused_by_name(tmp_path: Path, process: str, name: str,
                                                         extra: dict[str, str]) -> None:
    assert f"{name} is not set" in _refused(process, _env(tmp_path, **{name: "", **extra}))


def test_the_console_token_sign_in_without_secret_key_names_both(tmp_path: Path) -> None:
    stderr = _refused("serve", _env(tmp_path, SECRET_KEY="", CONSOLE_TOKEN_LOGIN="1"))
    assert "CONSOLE_TOKEN_LOGIN" in stderr and "SECRET_KEY" in stderr


def test_envdesk_secret_new_makes_a_secret_every_process_accepts(tmp_path: Path) -> None:
    made = {subprocess.run([sys.executable, "-m", "service.cli", "secret", "new"], capture_output=True,
                           text=True, timeout=60, check=True).stdout.strip() for _ in range(2)}
    assert len(made) == 2 and all(len(value) >= 43 for value in made)
    from service.adapters.config import Settings

    conf = Settings.from_env(_env(tmp_path, SECRET_KEY=made.pop(), PROVISIONING_TOKEN=made.pop()))
    assert conf.secret_problems(("SECRET_KEY", "PROVISIONING_TOKEN")) == []
