"""The two statements of a filing: what the rules need, read at once, and the new rows, written
at once.

Filing is the hottest write. Its reads (the environment, the account's external id, the open
request it would duplicate, the account's open requests up to the cap, an earlier ticket with
the same Idempotency-Key) go to the database as one SELECT, and everything the filing adds —
the ticket, its audit events, the outbox rows the listeners recorded — as one INSERT whose other
tables ride along as data-modifying CTEs. The unique indexes still decide races (see
service.tickets._resolve_conflict)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer, Select, and_, bindparam, func, insert, inspect, literal, literal_column, select,
)
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from service.db import DriverQuery
from service.domain.lifecycle import OPEN_STATUSES
from service.models import Account, Base, Environment, Ticket

# Inline, not an expanding parameter: SQLAlchemy would render the statement again at every
# execution, and the partial indexes' predicate is this very list.
_OPEN = [literal_column(f"'{s.value}'") for s in sorted(OPEN_STATUSES)]


@dataclass(frozen=True)
class FilingFacts:
    """What the filing rules read, as of one snapshot."""

    environment: Environment | None
    external_id: str | None = None
    open_ticket: tuple[str, str] | None = None
    """(id, status) of the open request of the same type on the environment."""
    open_count: int = 0
    """The account's open requests, counted up to the cap."""
    earlier: tuple[str, str | None] | None = None
    """(id, request hash) of the account's ticket with the same Idempotency-Key."""


def read_facts(session: Session, *, account_id: str, environment_id: str, type_: str,
               key: str | None, max_open: int) -> FilingFacts:
    """One SELECT; ``environment`` is None when the account has no such environment.

    On PostgreSQL the statement, compiled once, runs on the session's connection without the
    ORM (``DriverQuery``): the environment's columns come back as the driver gives them (JSON
    parsed, booleans) and the Environment is put in the session as if loaded, its timestamps
    left unloaded. Elsewhere the ORM loads it; a test holds both ways equal."""
    params = {"account_id": account_id, "environment_id": environment_id, "type": type_,
              "key": key, "max_open": max_open}
    read = _read_driver if session.get_bind().dialect.name == "postgresql" else _read_orm
    row = read(session, params, bool(key), bool(max_open))
    if row is None:
        return FilingFacts(environment=None)
    env, external_id, count, dup_id, dup_status, *replayed = row
    return FilingFacts(environment=env, external_id=external_id, open_count=count or 0,
                       open_ticket=(dup_id, dup_status) if dup_id else None,
                       earlier=(replayed[0], replayed[1]) if replayed and replayed[0] else None)


def _read_orm(session: Session, params: dict[str, Any], with_key: bool,
              capped: bool) -> tuple[Any, ...] | None:
    row = session.execute(_facts_query(with_key, capped, True), params).first()
    return None if row is None else tuple(row)


def _read_driver(session: Session, params: dict[str, Any], with_key: bool,
                 capped: bool) -> tuple[Any, ...] | None:
    row = _driver_facts_query(with_key, capped).execute(session.connection(), params).first()
    if row is None:
        return None
    env = Environment(**dict(zip(_ENV_KEYS, row[:len(_ENV_KEYS)])))
    return (_loaded(session, env), *row[len(_ENV_KEYS):])


# The environment's columns that the rules, the approval policy and the staff alert read (its
# timestamps are neither read nor, as the driver gives them, in UTC).
_ENV_KEYS = ("id", "account_id", "name", "stage", "sizes", "caps", "upscale_allowed",
             "requires_staging_verification")


def _loaded(session: Session, env: Environment) -> Environment:
    """``env`` in ``session`` as if a query had loaded it (no SQL): persistent and clean, so a
    session.get finds it; the columns not given stay unloaded (read on access)."""
    held = session.identity_map.get(identity_key(Environment, env.id))
    if held is not None:  # loaded earlier in this session: that object stays the one
        return held
    make_transient_to_detached(env)
    session.add(env)
    return env


@cache
def _driver_facts_query(with_key: bool, capped: bool) -> DriverQuery:
    return DriverQuery(_facts_query(with_key, capped, False))


@cache
def _facts_query(with_key: bool, capped: bool, entity: bool) -> Select[Any]:
    """The SELECT of read_facts, built once (its parameters are bound by name): the environment
    as an entity, or (``entity`` false) as the columns of _ENV_KEYS."""
    account_id, environment_id = bindparam("account_id"), bindparam("environment_id")
    dup = select(Ticket.id, Ticket.status).where(
        Ticket.environment_id == environment_id, Ticket.type == bindparam("type"),
        Ticket.status.in_(_OPEN),
    ).limit(1)
    earlier = select(Ticket.id, Ticket.request_hash).where(
        Ticket.account_id == account_id, Ticket.idempotency_key == bindparam("key"))
    env = (Environment,) if entity else tuple(Environment.__table__.c[k] for k in _ENV_KEYS)
    return (select(*env, Account.external_id, _open_count(account_id, capped),
                   *_columns(dup), *(_columns(earlier) if with_key else ()))
            .join(Account, Account.id == Environment.account_id)
            .where(Environment.id == environment_id, Environment.account_id == account_id))


def _columns(query: Any) -> tuple[Any, ...]:
    """Each column of a one-row query as a scalar subquery (SQLite has no LATERAL)."""
    return tuple(query.with_only_columns(column).scalar_subquery()
                 for column in query.selected_columns)


def _open_count(account_id: Any, capped: bool) -> Any:
    """The account's open requests, read no further than ``max_open`` index entries."""
    if not capped:
        return literal(0)
    counted = select(literal(1).label("one")).where(
        and_(Ticket.account_id == account_id, Ticket.status.in_(_OPEN))
    ).limit(bindparam("max_open", type_=Integer)).subquery()
    return select(func.count()).select_from(counted).scalar_subquery()


def insert_new(session: Session) -> None:
    """Write every object added to ``session`` (none may be changed or deleted) as one INSERT,
    then forget them: they stay readable, detached, as written."""
    if session.dirty or session.deleted:
        raise RuntimeError("a filing only adds rows")
    groups = _groups(list(session.new))
    connection = session.connection()
    if connection.dialect.name == "sqlite":  # no INSERT inside WITH: one statement per table
        for table, rows in groups:
            connection.execute(insert(table), rows)
    elif groups:
        sql, binds = _statement(tuple((table, tuple(rows[0]), len(rows)) for table, rows in groups),
                                connection.dialect)
        values = [value for _, rows in groups for row in rows for value in row.values()]
        connection.exec_driver_sql(sql, {name: value if process is None else process(value)
                                         for (name, process), value in zip(binds, values)})
    session.expunge_all()  # the unit of work ends here; nothing is left for a flush


_SHAPES: dict[tuple[Any, ...], tuple[str, list[tuple[str, Any]]]] = {}


def _statement(shape: tuple[tuple[Any, tuple[str, ...], int], ...],
               dialect: Any) -> tuple[str, list[tuple[str, Any]]]:
    """The SQL for rows of this shape (table, columns, how many) with its parameters' names and
    bind processors in the order of the rows' values, compiled once: SQLAlchemy caches neither a
    multi-row INSERT nor one in a CTE."""
    key = (shape, dialect.name)
    if key not in _SHAPES:
        main, *others = [insert(table).values([{k: bindparam(_name(t, i, k), type_=table.c[k].type)
                                                 for k in keys} for i in range(count)])
                         for t, (table, keys, count) in enumerate(shape)]
        statement = main.add_cte(*(stmt.cte(f"rows_{i}") for i, stmt in enumerate(others)))
        binds = [(_name(t, i, k), table.c[k].type.dialect_impl(dialect).bind_processor(dialect))
                 for t, (table, keys, count) in enumerate(shape) for i in range(count) for k in keys]
        _SHAPES[key] = (str(statement.compile(dialect=dialect)), binds)
    return _SHAPES[key]


def _name(table_index: int, row: int, key: str) -> str:
    return f"t{table_index}_{row}_{key}"


def _groups(objects: list[Any]) -> list[tuple[Any, list[dict[str, Any]]]]:
    """The objects' rows by table, parents before children, and within a table by the columns
    they give (each group is one multi-row INSERT)."""
    grouped: dict[tuple[Any, tuple[str, ...]], list[dict[str, Any]]] = {}
    for obj in objects:
        table = type(obj).__table__
        row = row_values(table, obj)
        grouped.setdefault((table, tuple(row)), []).append(row)
    order = _table_order()
    return [(table, rows) for (table, _), rows in sorted(grouped.items(), key=lambda g: order[g[0][0]])]


@cache
def _table_order() -> dict[Any, int]:
    return {table: i for i, table in enumerate(Base.metadata.sorted_tables)}


def row_values(table: Any, obj: Any) -> dict[str, Any]:
    """The row an INSERT of ``obj`` writes: the columns as given on it, the others' Python
    defaults computed here (so that no two tables' default parameters share a name in one
    statement), in a fixed order. Also the worker's (service.pipeline), which inserts the rows
    that the lifecycle added to its session."""
    given = obj.__dict__  # the instance's loaded and set attributes (InstanceState.dict)
    row = {column: given[attr] for attr, column in _columns_of(type(obj)) if attr in given}
    for key, default in _defaults_of(table):
        if key not in row:
            row[key] = _default(default)
    return dict(sorted(row.items()))


@cache
def _defaults_of(table: Any) -> tuple[tuple[str, Any], ...]:
    """(column, default) of a table's columns that have a Python-side default."""
    return tuple((column.key, column.default) for column in table.c if column.default is not None)


@cache
def _columns_of(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, column) of a mapped class's column attributes."""
    return tuple((attr.key, attr.columns[0].key) for attr in inspect(cls).column_attrs)


def _default(default: Any) -> Any:
    return default.arg(None) if default.is_callable else default.arg
