"""Database adapter: engine, sessions and the unit of work."""
from __future__ import annotations

import select
from datetime import datetime, timezone
from typing import Any, Callable

import sqlalchemy
from sqlalchemy import DateTime, Engine, ExceptionContext, event
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

from service.adapters import tracing
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


def make_engine(url: str, *, pooler: str = "", **kwargs: Any) -> Engine:
    """An engine for ``url``. ``pooler="pgbouncer"``: the URL reaches PostgreSQL through PgBouncer
    in transaction pooling mode, where consecutive transactions of one client may run on different
    server connections. psycopg then must not prepare statements on the server (its
    ``prepare_threshold``: a statement run often is prepared on the connection that ran it, and
    another client meets the name or misses it). Nothing else here keeps session state: no SET
    outside a transaction, no advisory lock, LISTEN or cursor WITH HOLD; the statements that run
    in autocommit (reads, the filing's INSERT, the worker's claim) are each one transaction."""
    if url.startswith("sqlite"):
        kwargs.setdefault("hide_parameters", True)
        engine = sqlalchemy.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        tracing.instrument_engine(engine)
        return engine
    kwargs.setdefault("hide_parameters", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    if pooler == "pgbouncer":
        kwargs["connect_args"] = {**kwargs.get("connect_args", {}), "prepare_threshold": None}
    engine = sqlalchemy.create_engine(url, **kwargs)
    tracing.instrument_engine(engine)  # when tracing runs (started after the fork, before this)
    event.listen(engine, "handle_error", database_unavailable)
    if not kwargs.get("pool_pre_ping"):
        event.listen(engine, "checkout", _replace_if_closed(engine))
    return engine


class DatabaseUnavailable(OperationalError):
    """The database could not be reached: a connection was lost (the server restarted, shut
    down or failed over) or could not be made. Transient: the pool renews its connections; the
    API answers 503 with Retry-After, a worker retries its task. Raised in place of the driver's
    error, which stays its ``orig``."""

    retry_after = 2
    """Seconds after which to try again: a restart takes a second or two."""


# SQLSTATEs of a server that went away or takes no connection now: connection exceptions
# (class 08), admin and crash shutdown, "cannot connect now" (starting up or shutting down),
# too many connections. Anything else (a constraint, a timeout, a wrong password) is not this.
_GONE = ("08", "57P01", "57P02", "57P03", "53300")


def database_unavailable(context: ExceptionContext) -> DatabaseUnavailable | None:
    """A lost or unobtainable connection becomes ``DatabaseUnavailable`` (SQLAlchemy's
    ``handle_error`` hook); it counts as a disconnect, so the pool renews its connections."""
    dbapi, error = context.dialect.loaded_dbapi, context.original_exception
    if context.is_pre_ping or not isinstance(error, dbapi.Error):
        return None
    code = getattr(error, "sqlstate", None)  # psycopg's SQLSTATE; None when no server answered
    unreachable = (context.connection is None and code is None
                   and isinstance(error, dbapi.OperationalError))  # refused, timed out, reset
    if not (context.is_disconnect or (code or "").startswith(_GONE) or unreachable):
        return None
    context.is_disconnect = True
    return DatabaseUnavailable(context.statement, context.parameters, error, hide_parameters=True,
                               connection_invalidated=True)


def _replace_if_closed(engine: Engine) -> Callable[[Any, Any, Any], None]:
    """A pooled connection is tested before use only when the server has spoken on it since
    it was given back: an idle connection has nothing to read unless the server closed it (a
    restart, a terminated backend) or sent a notice. Telling so is a poll of its socket, no
    round trip (``pool_pre_ping`` costs one per checkout); then a ping decides, and a connection
    that does not answer is replaced before a request sees it (``DisconnectionError``)."""

    def _on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        if not _has_input(dbapi_conn):
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure: the pool connects afresh
            raise DisconnectionError(f"a pooled connection was closed: {type(exc).__name__}") from exc

    return _on_checkout


def _has_input(dbapi_conn: Any) -> bool:
    try:
        descriptor = dbapi_conn.fileno()
    except Exception:  # noqa: BLE001 - the driver knows it is closed
        return True
    poller = select.poll()
    poller.register(descriptor, select.POLLIN)  # a closed or failed socket is reported too
    return bool(poller.poll(0))


READ_ONLY = "envdesk_read_only"


def make_session_factory(engine: Engine, *, read_only: bool = False,
                         autocommit: bool = False) -> sessionmaker[Session]:
    """Sessions for a unit of work, or (``read_only``) for queries that take no write lock.

    On PostgreSQL a read-only session's statements run in autocommit: under READ COMMITTED each
    statement takes its own snapshot inside a transaction too, so readers see the same data, and
    a request spares the BEGIN and ROLLBACK round trips around its queries.

    ``autocommit`` (PostgreSQL only; elsewhere an ordinary unit of work): for a use case whose
    reads take no lock and whose writes are one statement, which is then its own transaction —
    the filing (service.app.tickets.filing). It spares the BEGIN and COMMIT round trips."""
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

