"""What the web process needs per request: settings, database sessions, the caller, the clock."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from flask import current_app, g
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from service.adapters.policy_file import load_policy
from service.adapters.price_file import load_price_list
from service.adapters.config import Settings
from service.adapters.db import UnitOfWork, make_engine, make_session_factory, read_only_bind
from service.domain.approval_policy import ApprovalPolicy
from service.domain.prices import PriceList
from service.app.tickets.moves import StatusListener
from service.adapters.handoff import Dispatch
from service.adapters.identity import Principal, PrincipalCache
from service.adapters.lru import SizedLRU
from service.adapters.oidc import AccessTokenVerifier, build_verifier
from service.app.staff.worklist import CountsCache


@dataclass
class Runtime:
    """Adapters of the web process, built once at start-up."""

    settings: Settings
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    dispatch: Dispatch | None = None
    listener: StatusListener | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
    broker_probe: Callable[[], bool] | None = None
    queue_depths: Callable[[], Mapping[str, int]] | None = None
    principals: PrincipalCache | None = None
    access_tokens: AccessTokenVerifier | None = None
    approval: ApprovalPolicy = ApprovalPolicy()
    prices: PriceList | None = None
    """The price list (PRICE_LIST), parsed once at start-up; None: nothing is priced."""
    queue_counts: CountsCache | None = None
    filing_sessions: sessionmaker[Session] | None = None
    """Sessions for a filing: autocommit on PostgreSQL (service.app.tickets.filing writes one statement)."""
    usage_bodies: SizedLRU[tuple[str, str, str, str | None]] | None = None
    """Rendered usage of settled months (USAGE_CACHE_BYTES; service.app.billing.usage)."""
    calendar_bodies: SizedLRU[Any] | None = None
    """Calendar bodies while what they show holds (CALENDAR_CACHE_BYTES; service.app.calendar.bodies)."""
    read_bind: Engine | None = None
    """The engine of the read-only sessions, for one statement without a session."""

    def read_connection(self) -> Connection:
        """A connection of the read-only sessions' engine, for one statement without a session
        (a token's owner); a context manager that gives it back to the pool."""
        if self.read_bind is None:
            raise RuntimeError("the runtime was built without a read-only engine")
        return self.read_bind.connect()


def runtime() -> Runtime:
    return current_app.extensions["envdesk"]


def session() -> Session:
    """The request's read session, closed at teardown."""
    if "db_session" not in g:
        g.db_session = runtime().read_sessions()
    return g.db_session


def uow() -> UnitOfWork:
    # A request holds one connection at a time: its read session (authentication) goes back to
    # the pool before it writes, so concurrent requests cannot all hold one while waiting for a
    # second from an exhausted pool.
    close_session()
    return UnitOfWork(runtime().sessions)


def filing_uow() -> UnitOfWork:
    """The unit of work of a filing (service.app.tickets.actions.file_ticket): its reads take no lock and
    its writes are one INSERT on PostgreSQL, which runs in autocommit, without BEGIN and COMMIT."""
    close_session()
    return UnitOfWork(runtime().filing_sessions or runtime().sessions)


def now() -> datetime:
    return runtime().clock()


def principal() -> Principal:
    return g.principal


def close_session(_exc: BaseException | None = None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()


def build_runtime(settings: Settings, **adapters: object) -> Runtime:
    """Raises PolicyError on an invalid APPROVAL_POLICY file and PriceListError on an invalid
    PRICE_LIST file: the API does not start with one."""
    adapters.setdefault("approval", load_policy(settings.approval_policy))
    adapters.setdefault("prices", load_price_list(settings.price_list))
    engine = make_engine(settings.database_url, pooler=settings.database_pooler)
    principals = PrincipalCache(settings.auth_cache_seconds) if settings.auth_cache_seconds > 0 else None
    adapters.setdefault("access_tokens", build_verifier(
        issuer=settings.oidc_issuer, audience=settings.oidc_audience,
        account_claim=settings.oidc_account_claim, jwks_url=settings.oidc_jwks_url))
    read_bind = read_only_bind(engine)
    built = Runtime(settings=settings, sessions=make_session_factory(engine), read_bind=read_bind,
                    read_sessions=make_session_factory(engine, read_only=True), principals=principals,
                    filing_sessions=make_session_factory(engine, autocommit=True),
                    **adapters)  # type: ignore[arg-type]
    if built.queue_counts is None and settings.console_counts_seconds > 0:
        built.queue_counts = CountsCache(settings.console_counts_seconds, clock=built.clock)
    if built.usage_bodies is None and settings.usage_cache_bytes > 0:
        built.usage_bodies = SizedLRU(settings.usage_cache_bytes)
    if built.calendar_bodies is None and settings.calendar_cache_bytes > 0:
        built.calendar_bodies = SizedLRU(settings.calendar_cache_bytes)
    return built
