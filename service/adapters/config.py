"""Configuration, read from the environment once at start-up."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from sqlalchemy.engine import make_url

MIN_SECRET_LENGTH = 32
PLACEHOLDERS = frozenset({
    "change-me", "changeme", "change_me", "changeit", "replace-me", "replaceme", "secret",
    "password", "passwd", "default", "example", "test", "token", "admin", "none", "null", "todo",
    "xxx", "envdesk"})
"""Values that stand in for a secret in examples and defaults; none of them is ever accepted."""
NEW_SECRET_HINT = "make one with `envdesk secret new`"

def normalize_database_url(url: str) -> str:
    """Accept the usual URL forms and pick the psycopg 3 driver for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _routes(env: Mapping[str, str]) -> dict[str, str]:
    """Per-route provisioning targets: PROVISIONING_URL_<TYPE>_<STAGE>, e.g. PROVISIONING_URL_CHANGE_PROD."""
    prefix = "PROVISIONING_URL_"
    return {k[len(prefix):].lower(): v.rstrip("/") for k, v in env.items()
            if k.startswith(prefix) and v.strip()}


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _hours_per_stage(value: str) -> dict[str, float]:
    """``stage=8,prod=4`` → {"stage": 8.0, "prod": 4.0}; a malformed pair raises ValueError."""
    hours = {}
    for pair in _split(value):
        stage, sep, number = pair.partition("=")
        if not sep or not stage.strip():
            raise ValueError(f"SLA_DECISION_HOURS: {pair!r} is not STAGE=HOURS")
        hours[stage.strip().lower()] = float(number)
    return hours


def _flag(value: str | None, default: bool) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


POOLERS = ("", "pgbouncer")


@dataclass(frozen=True)
class Settings:
    database_url: str
    broker_url: str
    # "pgbouncer": DATABASE_URL points at a PgBouncer in transaction pooling mode (see service.adapters.db).
    database_pooler: str = ""
    home: Path = Path("var")
    secret_key: str = ""
    # Earlier SECRET_KEYs, still accepted (never used to sign) while a new key rolls out.
    secret_key_fallbacks: tuple[str, ...] = ()
    provisioning_url: str = "http://127.0.0.1:8081"
    provisioning_token: str = ""
    provisioning_connect_timeout: float = 3.05
    provisioning_read_timeout: float = 10.0
    provisioning_max_attempts: int = 8
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = ""
    webhook_max_attempts: int = 10
    max_body_bytes: int = 256 * 1024
    metrics_token: str = ""
    write_rate_limit: str = "120/minute"
    max_open_tickets: int = 100
    auth_cache_seconds: float = 5.0
    # Portal integration: access tokens from one OIDC issuer, browsers on the portal's origins.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_account_claim: str = "envdesk_account"
    cors_origins: tuple[str, ...] = ()
    # The staff console: OIDC sign-in as a confidential client, or a staff API token.
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    console_token_login: bool = True
    sla_decision_hours: Mapping[str, float] = field(default_factory=dict)
    staff_webhook_url: str = ""
    console_url: str = ""
    console_counts_seconds: float = 5.0
    # The approval policy file (YAML); empty: every request needs one support approval.
    approval_policy: str = ""
    # Mail to people (service.app.notify.mail): SMTP_URL sends; else MAIL_DIR keeps .eml files; neither: off.
    smtp_url: str = ""
    mail_from: str = "envdesk <envdesk@localhost>"
    mail_dir: str = ""
    # Send attempts per message, spaced by exponential backoff with full jitter up to the cap:
    # the defaults ride out an SMTP server down for about 20 minutes.
    mail_max_attempts: int = 15
    mail_retry_cap_seconds: float = 300.0
    # Links in mail: the portal's ticket page ({id}, {number}) and this service's public base URL.
    portal_ticket_url: str = ""
    public_url: str = ""
    # The price list file (YAML); empty: nothing is priced and no filing needs consent.
    price_list: str = ""
    # The rendered usage of settled months an API process keeps (bytes, least recently read out; 0: none).
    usage_cache_bytes: int = 64 * 1024 * 1024
    # Calendar bodies (JSON months, feeds) an API process keeps while what they show holds (0: none).
    calendar_cache_bytes: int = 32 * 1024 * 1024
    routes: Mapping[str, str] = field(default_factory=dict)
    # Worker timing, in the order that keeps redelivery safe (checked in workers/app.py):
    # provisioning read timeout < task soft limit < hard limit < lease < broker visibility timeout.
    task_soft_time_limit: float = 30.0
    task_hard_time_limit: float = 45.0
    lease_seconds: float = 60.0
    visibility_timeout: float = 300.0
    retry_cap_seconds: float = 60.0
    poll_interval: float = 1.0
    sweep_interval: float = 2.0

    def problems(self) -> list[str]:
        """Settings that cannot work together; processes refuse to start with any of these."""
        found = []
        if self.database_pooler not in POOLERS:
            found.append(f"DATABASE_POOLER must be one of {', '.join(p for p in POOLERS if p)} or unset")
        if self.webhook_urls and not self.webhook_secret:
            found.append("WEBHOOK_SECRET is required when WEBHOOK_URLS is set")
        if self.staff_webhook_url and not self.webhook_secret:
            found.append("WEBHOOK_SECRET is required when STAFF_WEBHOOK_URL is set")
        if self.oidc_issuer and not self.oidc_audience:
            found.append("OIDC_AUDIENCE is required when OIDC_ISSUER is set")
        return found

    def secret_problems(self, required: tuple[str, ...]) -> list[str]:
        """Secrets a process must not start with: one it ``required`` that is empty, and any that
        is set to a placeholder or is too short to be random. WEBHOOK_SECRET is required wherever
        webhooks are sent."""
        if self.webhook_urls or self.staff_webhook_url:
            required = (*required, "WEBHOOK_SECRET")
        found = []
        for name, value in self._secrets():
            weakness = secret_weakness(value)
            if weakness and (value or name in required):
                found.append(f"{name} {weakness}; {NEW_SECRET_HINT}")
        if "SECRET_KEY" in required and not self.secret_key and self.console_token_login:
            found.append("the console's token sign-in (CONSOLE_TOKEN_LOGIN) needs SECRET_KEY")
        return found

    def _secrets(self) -> list[tuple[str, str]]:
        url = make_url(self.database_url)
        return [("SECRET_KEY", self.secret_key),
                *(("SECRET_KEY_FALLBACKS", key) for key in self.secret_key_fallbacks),
                ("PROVISIONING_TOKEN", self.provisioning_token),
                ("WEBHOOK_SECRET", self.webhook_secret), ("METRICS_TOKEN", self.metrics_token),
                ("the password in DATABASE_URL", url.password or "")]

    @property
    def mail_enabled(self) -> bool:
        return bool(self.smtp_url or self.mail_dir)

    @property
    def base_url(self) -> str:
        """Where people reach this service (PUBLIC_URL; else the console's origin)."""
        if self.public_url:
            return self.public_url
        return self.console_url.removesuffix("/console") if self.console_url else "http://127.0.0.1:8080"

    @property
    def cursor_key(self) -> tuple[bytes, ...]:
        """The keys of pagination cursors: the first signs, every one verifies (rotation)."""
        seeds = (self.secret_key or f"envdesk-cursor:{self.database_url}", *self.secret_key_fallbacks)
        return tuple(hashlib.sha256(seed.encode()).digest() for seed in seeds)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Settings from environment variables; a variable that is not set keeps the default above."""
        env = os.environ if env is None else env
        home = Path(env.get("ENVDESK_HOME", "var"))
        return cls(
            home=home,
            database_url=normalize_database_url(
                env.get("DATABASE_URL") or f"sqlite:///{(home / 'envdesk.db').as_posix()}"
            ),
            broker_url=env.get("REDIS_URL") or env.get("BROKER_URL") or f"filesystem://{home.as_posix()}/broker",
            routes=_routes(env),
            console_token_login=_flag(env.get("CONSOLE_TOKEN_LOGIN"), default=not env.get("OIDC_ISSUER")),
            **_given(_service(env)), **_given(_portal(env)), **_given(_worker_timing(env)),
            **_given(_mail(env)),
        )


def secret_weakness(value: str) -> str | None:
    """Why ``value`` cannot be a secret, or None when it can."""
    if not value.strip():
        return "is not set"
    lowered = value.strip().lower()
    if lowered in PLACEHOLDERS or any(word in lowered for word in ("change-me", "changeme", "change_me")):
        return "is a placeholder, not a secret"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def _parsed(parse: Callable[[str], Any], value: str | None) -> Any:
    return None if value is None else parse(value)


def _given(values: dict[str, Any]) -> dict[str, Any]:
    """The settings the environment sets; the others keep their defaults in ``Settings``."""
    return {name: value for name, value in values.items() if value is not None}


def _service(env: Mapping[str, str]) -> dict[str, Any]:
    return dict(
        database_pooler=_parsed(lambda name: name.strip().lower(), env.get("DATABASE_POOLER")),
        secret_key=env.get("SECRET_KEY"),
        secret_key_fallbacks=_parsed(_split, env.get("SECRET_KEY_FALLBACKS")),
        provisioning_url=_parsed(lambda url: url.rstrip("/"), env.get("PROVISIONING_URL")),
        provisioning_token=env.get("PROVISIONING_TOKEN"),
        provisioning_connect_timeout=_parsed(float, env.get("PROVISIONING_CONNECT_TIMEOUT")),
        provisioning_read_timeout=_parsed(float, env.get("PROVISIONING_READ_TIMEOUT")),
        provisioning_max_attempts=_parsed(int, env.get("PROVISIONING_MAX_ATTEMPTS")),
        webhook_urls=_parsed(_split, env.get("WEBHOOK_URLS")),
        webhook_secret=env.get("WEBHOOK_SECRET"),
        webhook_max_attempts=_parsed(int, env.get("WEBHOOK_MAX_ATTEMPTS")),
        max_body_bytes=_parsed(int, env.get("MAX_BODY_BYTES")),
        metrics_token=env.get("METRICS_TOKEN"),
        write_rate_limit=env.get("RATE_LIMIT_WRITES"),
        max_open_tickets=_parsed(int, env.get("MAX_OPEN_TICKETS_PER_ACCOUNT")),
        auth_cache_seconds=_parsed(float, env.get("AUTH_CACHE_SECONDS")),
    )


def _portal(env: Mapping[str, str]) -> dict[str, Any]:
    return dict(
        oidc_issuer=_parsed(lambda url: url.rstrip("/"), env.get("OIDC_ISSUER")),
        oidc_audience=env.get("OIDC_AUDIENCE"),
        oidc_jwks_url=env.get("OIDC_JWKS_URL"),
        oidc_account_claim=env.get("OIDC_ACCOUNT_CLAIM") or None,
        cors_origins=_parsed(_split, env.get("CORS_ORIGINS")),
        oidc_client_id=env.get("OIDC_CLIENT_ID"),
        oidc_client_secret=env.get("OIDC_CLIENT_SECRET"),
        sla_decision_hours=_parsed(_hours_per_stage, env.get("SLA_DECISION_HOURS")),
        staff_webhook_url=env.get("STAFF_WEBHOOK_URL"),
        console_url=_parsed(lambda url: url.rstrip("/"), env.get("CONSOLE_URL")),
        console_counts_seconds=_parsed(float, env.get("CONSOLE_COUNTS_SECONDS")),
        approval_policy=env.get("APPROVAL_POLICY"),
        price_list=env.get("PRICE_LIST"),
        usage_cache_bytes=_parsed(int, env.get("USAGE_CACHE_BYTES")),
        calendar_cache_bytes=_parsed(int, env.get("CALENDAR_CACHE_BYTES")),
    )


def _mail(env: Mapping[str, str]) -> dict[str, Any]:
    return dict(
        smtp_url=env.get("SMTP_URL"),
        mail_from=env.get("MAIL_FROM") or None,
        mail_dir=env.get("MAIL_DIR"),
        mail_max_attempts=_parsed(int, env.get("MAIL_MAX_ATTEMPTS")),
        mail_retry_cap_seconds=_parsed(float, env.get("MAIL_RETRY_CAP_SECONDS")),
        portal_ticket_url=env.get("PORTAL_TICKET_URL"),
        public_url=_parsed(lambda url: url.rstrip("/"), env.get("PUBLIC_URL")),
    )


def _worker_timing(env: Mapping[str, str]) -> dict[str, Any]:
    return dict(
        task_soft_time_limit=_parsed(float, env.get("TASK_SOFT_TIME_LIMIT")),
        task_hard_time_limit=_parsed(float, env.get("TASK_HARD_TIME_LIMIT")),
        lease_seconds=_parsed(float, env.get("TASK_LEASE_SECONDS")),
        visibility_timeout=_parsed(float, env.get("BROKER_VISIBILITY_TIMEOUT")),
        retry_cap_seconds=_parsed(float, env.get("RETRY_CAP_SECONDS")),
        poll_interval=_parsed(float, env.get("POLL_INTERVAL")),
        sweep_interval=_parsed(float, env.get("SWEEP_INTERVAL")),
    )
