"""Configuration, read from the environment once at start-up."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping


def normalize_database_url(url: str) -> str:
    """Accept the usual URL forms and pick the psycopg 3 driver for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    home: Path = Path("var")
    secret_key: str = ""
    provisioning_url: str = "http://127.0.0.1:8081"
    provisioning_token: str = ""
    provisioning_connect_timeout: float = 3.05
    provisioning_read_timeout: float = 10.0
    provisioning_max_attempts: int = 8
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = ""
    webhook_max_attempts: int = 10
    max_body_bytes: int = 64 * 1024
    queues: Mapping[str, str] = field(default_factory=dict)

    @property
    def cursor_key(self) -> bytes:
        seed = self.secret_key or f"envdesk-cursor:{self.database_url}"
        return hashlib.sha256(seed.encode()).digest()

    @property
    def embedded(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        home = Path(env.get("ENVDESK_HOME", "var"))
        return cls(
            home=home,
            database_url=normalize_database_url(
                env.get("DATABASE_URL") or f"sqlite:///{(home / 'envdesk.db').as_posix()}"
            ),
            broker_url=env.get("REDIS_URL") or env.get("BROKER_URL") or f"filesystem://{home.as_posix()}/broker",
            secret_key=env.get("SECRET_KEY", ""),
            provisioning_url=env.get("PROVISIONING_URL", "http://127.0.0.1:8081").rstrip("/"),
            provisioning_token=env.get("PROVISIONING_TOKEN", ""),
            provisioning_connect_timeout=float(env.get("PROVISIONING_CONNECT_TIMEOUT", "3.05")),
            provisioning_read_timeout=float(env.get("PROVISIONING_READ_TIMEOUT", "10")),
            provisioning_max_attempts=int(env.get("PROVISIONING_MAX_ATTEMPTS", "8")),
            webhook_urls=_split(env.get("WEBHOOK_URLS", "")),
            webhook_secret=env.get("WEBHOOK_SECRET", ""),
            webhook_max_attempts=int(env.get("WEBHOOK_MAX_ATTEMPTS", "10")),
            max_body_bytes=int(env.get("MAX_BODY_BYTES", str(64 * 1024))),
        )
