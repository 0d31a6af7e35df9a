"""Database adapter: engine, sessions and the unit of work."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

from service.domain.errors import ConcurrentChange


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, foreign keys, and write locks taken at BEGIN so racing
    writers queue up instead of failing with 'database is locked'."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        kwargs.setdefault("hide_parameters", True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


PING_AFTER_IDLE_SECONDS = 10.0


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """Test a pooled connection before use only when it sat idle for ``seconds``: a connection
    in steady use needs no extra round trip per checkout (pool_pre_ping's cost), and one that
    the server or a proxy dropped while idle is replaced before a request sees it. A server
    restart under load fails the statements in flight, and SQLAlchemy then renews the pool."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", -float("inf")) < seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure: the pool connects afresh
            raise DisconnectionError(f"a pooled connection did not answer: {type(exc).__name__}") from exc


READ_ONLY = "envdesk_read_only"


def make_session_factory(engine: Engine, *, read_only: bool = False,
                         autocommit: bool = False) -> sessionmaker[Session]:
    """Sessions for a unit of work, or (``read_only``) for queries that take no write lock.

    On PostgreSQL a read-only session's statements run in autocommit: under READ COMMITTED each
    statement takes its own snapshot inside a transaction too, so readers see the same data, and
    a request spares the BEGIN and ROLLBACK round trips around its queries.

    ``autocommit`` (PostgreSQL only; elsewhere an ordinary unit of work): for a use case whose
    reads take no lock and whose writes are one statement, which is then its own transaction —
    the filing (service.filing). It spares the BEGIN and COMMIT round trips."""
    if read_only:
        return sessionmaker(bind=read_only_bind(engine), expire_on_commit=False)
    bind = engine
    if autocommit and engine.dialect.name == "postgresql":
        bind = bind.execution_options(isolation_level="AUTOCOMMIT")
    return sessionmaker(bind=bind, expire_on_commit=False)


def read_only_bind(engine: Engine) -> Engine:
    """``engine`` for statements that take no write lock (see make_session_factory)."""
    bind = engine.execution_options(**{READ_ONLY: True})
    if engine.dialect.name == "postgresql":
        bind = bind.execution_options(isolation_level="AUTOCOMMIT")
    return bind


STALE = "the ticket was changed by someone else at the same time; read it again"


class UnitOfWork:
    """One transaction. Rolls back unless committed; runs after-commit hooks only on success.

    Versioned rows make every UPDATE a compare-and-set. Whether the losing UPDATE surfaces at
    commit or at an autoflush before some query, it leaves the unit of work as
    ``ConcurrentChange`` (409), never as the ORM's StaleDataError."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self._session_factory = session_factory
        self._after_commit: list[Callable[[], None]] = []

    def __enter__(self) -> "UnitOfWork":
        self.session = self._session_factory()
        self._after_commit = []
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 _tb: object) -> None:
        # Detach first so objects already loaded stay readable after the rollback.
        self.session.expunge_all()
        self.session.rollback()
        self.session.close()
        if isinstance(exc, StaleDataError):
            raise ConcurrentChange(STALE) from exc

    def commit(self) -> None:
        try:
            self.session.commit()
        except StaleDataError as exc:
            self.session.rollback()
            raise ConcurrentChange(STALE) from exc
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    def rollback(self) -> None:
        self.session.rollback()

    def after_commit(self, hook: Callable[[], None]) -> None:
        self._after_commit.append(hook)

