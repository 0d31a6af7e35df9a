"""Which database errors mean "the database is away for a moment" (503 with Retry-After, a retry
in the worker) and which stay what they are: only a lost connection, a server shutting down or
starting up, and a connection that cannot be made."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from flask import Flask
from psycopg import errors as pg

from service.api import errors
from service.adapters.db import DatabaseUnavailable, database_unavailable
from workers import tasks


CUSTOMER_DATA = "Acme-Shop-Secret-Launch-Plan"


def _context(error: Exception, *, connected: bool = True, is_disconnect: bool = False,
             is_pre_ping: bool = False) -> Any:
    """What SQLAlchemy's handle_error hook is given (only the public attributes it reads)."""
    return SimpleNamespace(original_exception=error, dialect=SimpleNamespace(loaded_dbapi=psycopg),
                           connection=object() if connected else None, is_disconnect=is_disconnect,
                           is_pre_ping=is_pre_ping, statement="SELECT 1 WHERE name = %(name)s",
                           parameters={"name": CUSTOMER_DATA})


@pytest.mark.parametrize("error, connected", [
    (pg.AdminShutdown("terminating connection due to administrator command"), True),
    (pg.CrashShutdown("terminating connection because of crash of another server process"), True),
    (pg.CannotConnectNow("the database system is starting up"), False),
    (pg.CannotConnectNow("the database system is shutting down"), False),
    (pg.TooManyConnections("sorry, too many clients already"), False),
    (pg.ConnectionFailure("server conn crashed?"), True),
    (psycopg.OperationalError("connection failed: Connection refused"), False),
])
def test_a_lost_or_refused_connection_is_database_unavailable(error: Exception, connected: bool) -> None:
    context = _context(error, connected=connected)

    unavailable = database_unavailable(context)

    assert isinstance(unavailable, DatabaseUnavailable)
    assert unavailable.orig is error and unavailable.connection_invalidated
    assert CUSTOMER_DATA not in str(unavailable)  # the statement's parameters stay hidden
    assert context.is_disconnect  # so that SQLAlchemy renews the pool


def test_an_error_sqlalchemy_already_knows_as_a_disconnect_is_database_unavailable() -> None:
    closed = psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly")

    assert isinstance(database_unavailable(_context(closed, is_disconnect=True)), DatabaseUnavailable)


@pytest.mark.parametrize("error, connected", [
    (pg.UniqueViolation("duplicate key value violates unique constraint"), True),
    (pg.ForeignKeyViolation("insert or update violates foreign key constraint"), True),
    (pg.QueryCanceled("canceling statement due to statement timeout"), True),
    (pg.SerializationFailure("could not serialize access"), True),
    (pg.InvalidPassword("password authentication failed"), False),
    (pg.InvalidCatalogName('database "nope" does not exist'), False),
    (psycopg.OperationalError("sending query failed: another command is already in progress"), True),
    (psycopg.ProgrammingError("invalid connection option"), False),
])
def test_client_and_configuration_errors_stay_what_they_are(error: Exception, connected: bool) -> None:
    context = _context(error, connected=connected)

    assert database_unavailable(context) is None
    assert context.is_disconnect is False


def test_a_failed_pre_ping_is_left_to_the_pool() -> None:
    context = _context(pg.AdminShutdown("terminating connection"), is_pre_ping=True, is_disconnect=True)

    assert database_unavailable(context) is None


def _app(raised: Exception) -> Flask:
    app = Flask(__name__)
    errors.register(app)
    app.add_url_rule("/boom", "boom", lambda: (_ for _ in ()).throw(raised))
    return app


def _unavailable() -> DatabaseUnavailable:
    return DatabaseUnavailable("SELECT 1", {}, pg.AdminShutdown("terminating connection"),
                               hide_parameters=True, connection_invalidated=True)


def test_the_api_answers_database_unavailable_with_503_retry_after_and_its_rule() -> None:
    response = _app(_unavailable()).test_client().get("/boom")

    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json["type"].endswith("/database_unavailable")
    assert response.json["rule"] == "database_unavailable"
    assert "terminating" not in response.get_data(as_text=True)  # no driver message leaks


def test_any_other_database_error_is_still_a_500() -> None:
    from sqlalchemy.exc import IntegrityError

    raised = IntegrityError("INSERT", {}, pg.UniqueViolation("duplicate key"))
    response = _app(raised).test_client().get("/boom")

    assert response.status_code == 500 and "Retry-After" not in response.headers


def test_worker_tasks_retry_a_lost_database_a_bounded_number_of_times_with_backoff() -> None:
    for task in (tasks.provision, tasks.deliver_webhook):
        assert task.autoretry_for == (DatabaseUnavailable,)
        assert 0 < task.max_retries <= 10
        assert task.retry_backoff and task.retry_jitter
        assert 0 < task.retry_backoff_max <= 30
