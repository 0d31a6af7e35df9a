"""A unit of work's writes in as few statements as the database takes: the rows it added, and
a versioned row's compare-and-set with the rows that ride along.

Every statement here is a prebuilt SQLAlchemy Core statement, kept per shape (tables, columns,
rows) and run with ``Connection.execute``, so SQLAlchemy's compiled cache holds its SQL. The one
difference between the databases lives here: PostgreSQL writes another table's rows as
data-modifying CTEs of one statement (one round trip, and nothing written unless the
compare-and-set matched); SQLite, which has no INSERT inside WITH, takes one statement per
table inside the unit of work's transaction."""
from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, event, exists, insert, inspect, select, union_all, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import get_history, set_committed_value

from service.adapters.models import Base

_ADDED = "envdesk_added"


@event.listens_for(Session, "transient_to_pending")
def _remember_added(session: Session, obj: Any) -> None:
    """The order in which objects were added (session.new is a set)."""
    session.info.setdefault(_ADDED, []).append(obj)


def added(session: Session) -> list[Any]:
    """The objects added to ``session`` and not yet written, in the order they were added: the
    caller writes them with ``insert_rows``, then takes them out of the session (expunge_all)."""
    objects = [obj for obj in session.info.pop(_ADDED, ()) if obj in session.new]
    if len(objects) != len(session.new):
        raise RuntimeError("an object was added to the session in a way that was not seen")
    return objects


Rows = list[tuple[Table, dict[str, Any]]]


def rows_of(objects: list[Any]) -> Rows:
    """Each object's table and row, in the order given."""
    return [(type(obj).__table__, row_values(obj)) for obj in objects]


def row_values(obj: Any) -> dict[str, Any]:
    """The row an INSERT of ``obj`` writes: the columns as set on it, the others' Python
    defaults computed here (so that no two tables' default parameters share a name in one
    statement), in a fixed order. A NULL the column would get anyway is left out: fewer bind
    parameters keep a filing's statement within what psycopg caches (50 parameters), so it is
    not parsed again for every request."""
    table = type(obj).__table__
    given = inspect(obj).dict
    row = {column: given[attr] for attr, column in _columns_of(type(obj)) if attr in given}
    for key, default in _defaults_of(table):
        if key not in row:
            row[key] = default.arg(None) if default.is_callable else default.arg
    null_anyway = _null_by_default(table)
    return {key: value for key, value in sorted(row.items()) if value is not None or key not in null_anyway}


def insert_rows(connection: Connection, rows: Rows) -> None:
    """Insert ``rows``: parents before children, one statement on PostgreSQL."""
    groups = _groups(rows)
    if not groups:
        return
    if connection.dialect.name != "postgresql":  # no INSERT inside WITH: one statement per table
        for table, values in groups:
            connection.execute(_insert(table), values)
        return
    shape = tuple((table, tuple(values[0]), len(values)) for table, values in groups)
    connection.execute(_inserts_statement(shape), _params(groups, "r"))


def _params(groups: list[tuple[Table, list[dict[str, Any]]]], prefix: str) -> dict[str, Any]:
    return {f"{prefix}{t}_{i}_{key}": value for t, (_table, values) in enumerate(groups)
            for i, row in enumerate(values) for key, value in row.items()}


def _groups(rows: Rows) -> list[tuple[Table, list[dict[str, Any]]]]:
    """The rows by table, parents before children, each table's rows in one INSERT in the order
    given (a table's ids follow it: two INSERTs of one table in one statement run in no set
    order). A column a row leaves out (a NULL it gets anyway) is given as NULL where another row
    of its table sets it, so the table's rows share one column list."""
    grouped: dict[Table, list[dict[str, Any]]] = {}
    for table, row in rows:
        grouped.setdefault(table, []).append(row)
    for table, values in grouped.items():
        keys = sorted({key for row in values for key in row})
        if any(len(row) != len(keys) for row in values):
            grouped[table] = [{key: row.get(key) for key in keys} for row in values]
    order = _table_order()
    return sorted(grouped.items(), key=lambda group: order[group[0]])


def _rows_select(table: Table, keys: tuple[str, ...], count: int, prefix: str, source: Any = None) -> Any:
    """The rows as a SELECT of bind parameters (SQLAlchemy caches an INSERT ... SELECT, not a
    multi-row VALUES), one row per parameter set."""
    selects = [select(*(bindparam(f"{prefix}_{i}_{k}", type_=table.c[k].type) for k in keys))
               for i in range(count)]
    if source is not None:
        selects = [s.select_from(source) for s in selects]
    return selects[0] if count == 1 else union_all(*selects)


_STATEMENTS: dict[tuple[Any, ...], Any] = {}


def _inserts_statement(shape: tuple[tuple[Table, tuple[str, ...], int], ...]) -> Any:
    statement = _STATEMENTS.get(shape)
    if statement is None:
        main, *others = [insert(table).from_select(keys, _rows_select(table, keys, count, f"r{t}"),
                                                   include_defaults=False)
                         for t, (table, keys, count) in enumerate(shape)]
        if others:
            main = main.add_cte(*(other.cte(f"rows_{i}") for i, other in enumerate(others)))
        statement = _STATEMENTS[shape] = main
    return statement


def update_versioned(connection: Connection, table: Table, *, key: Any, version: int,
                     changed: dict[str, Any], also: dict[str, Any] | None = None,
                     also_key: Any = None, also_table: Table | None = None, rows: Rows = ()) -> bool:
    """Set ``changed`` (and the next version) on ``table``'s row ``key`` if its version is still
    ``version``; with it, ``also`` on ``also_table``'s row ``also_key`` and ``rows`` inserted —
    all or nothing. False when the version no longer matched: nothing was written."""
    also = also or {}
    rows = list(rows)
    if connection.dialect.name == "postgresql" and rows:
        shape = (table, tuple(changed), also_table, tuple(also), tuple((t, tuple(r)) for t, r in rows))
        params = {f"t_{k}": v for k, v in changed.items()}
        params.update({f"e_{k}": v for k, v in also.items()})
        for i, (_t, row) in enumerate(rows):
            params.update({f"a{i}_0_{k}": v for k, v in row.items()})
        params.update(b_id=key, b_version=version, b_env_id=also_key, t_version=version + 1)
        return connection.execute(_versioned_statement(shape), params).rowcount == 1
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT" and (also or rows):
        raise RuntimeError("a write of several statements needs a transaction")
    done = connection.execute(_update(table), {**changed, "version": version + 1,
                                               "b_id": key, "b_version": version})
    if done.rowcount != 1:
        return False
    if also:
        connection.execute(_update(also_table), {**also, "b_id": also_key})
    insert_rows(connection, rows)
    return True


def statement_at_a_time(session: Session) -> None:
    """On PostgreSQL, a unit of work whose reads take no lock and whose write is one statement
    (``save``) runs its statements in autocommit: the compare-and-set on the versioned row
    decides, and under READ COMMITTED a read takes no lock, so BEGIN and COMMIT would only add
    two round trips. Must be called before the session's first statement. Elsewhere the unit of
    work stays one transaction (``save`` then writes a statement per table inside it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def save(session: Session, versioned: Any, *, version: int, also: Any = None) -> int | None:
    """Write what a unit of work changed, in one statement on PostgreSQL: the columns set to
    something new on ``versioned`` since it was loaded, as a compare-and-set on ``version`` (its
    version as read), with the columns changed on ``also`` (another row) and the rows added to
    the session, all or nothing. Then every object leaves the session, each as written, so
    nothing is left to flush and all stay readable. The version written; None when the version
    no longer matched and nothing was written (a concurrent change won)."""
    changed = changes(versioned)
    also_changed = changes(also) if also is not None else {}
    rows = rows_of(added(session))
    connection = session.connection()
    if changed:
        if not update_versioned(connection, type(versioned).__table__, key=versioned.id, version=version,
                                changed=changed, also=also_changed, also_key=None if also is None else also.id,
                                also_table=None if also is None else type(also).__table__, rows=rows):
            return None
        version = changed["version"] = version + 1
    else:
        if also is not None:
            update_row(connection, type(also).__table__, key=also.id, changed=also_changed)
        insert_rows(connection, rows)
    for obj, written in ((versioned, changed), (also, also_changed)):
        for key, value in written.items():
            set_committed_value(obj, key, value)
    session.expunge_all()
    return version


def changes(obj: Any) -> dict[str, Any]:
    """The columns of ``obj`` set to something new since it was loaded (its key and version
    are not among them)."""
    state = inspect(obj)
    writable = _writable(type(obj))
    touched = writable - state.unmodified_intersection(writable)
    return {key: state.dict[key] for key in sorted(touched) if get_history(obj, key).has_changes()}


@cache
def _writable(cls: type) -> frozenset[str]:
    table = cls.__table__
    fixed = {column.key for column in table.primary_key} | {"version"}
    return frozenset(attr for attr, column in _columns_of(cls) if column not in fixed)


def update_row(connection: Connection, table: Table, *, key: Any, changed: dict[str, Any]) -> None:
    """Set ``changed`` on ``table``'s row ``key`` (nothing when it is empty)."""
    if changed:
        connection.execute(_update(table), {**changed, "b_id": key})


def _versioned_statement(shape: tuple[Any, ...]) -> Any:
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _STATEMENTS[shape] = _versioned(*shape)
    return statement


def _versioned(table: Table, columns: tuple[str, ...], also_table: Table | None, also: tuple[str, ...],
               inserts: tuple[tuple[Table, tuple[str, ...]], ...]) -> Any:
    """The compare-and-set UPDATE as a CTE; the other UPDATE and each INSERT take their row from
    it, so that nothing is written unless the version matched: the row count is then 1, else 0."""
    row = (update(table).where(table.c.id == bindparam("b_id"), table.c.version == bindparam("b_version"))
           .values({name: bindparam(f"t_{name}", type_=table.c[name].type) for name in (*columns, "version")})
           .returning(table.c.id).cte("row_written"))
    ctes: list[Any] = [row]
    if also and also_table is not None:
        ctes.append(update(also_table)
                    .where(also_table.c.id == bindparam("b_env_id"), exists(select(row.c.id)))
                    .values({name: bindparam(f"e_{name}", type_=also_table.c[name].type) for name in also})
                    .cte("also_written"))
    written = [insert(t).from_select(keys, _rows_select(t, keys, 1, f"a{i}", source=row), include_defaults=False)
               for i, (t, keys) in enumerate(inserts)]
    ctes.extend(w.cte(f"inserted_{i}") for i, w in enumerate(written[:-1]))
    last = written[-1]
    for cte in ctes:
        last = last.add_cte(cte)
    # An INSERT's row count is kept only when asked for.
    return last.execution_options(preserve_rowcount=True)


@cache
def _insert(table: Table) -> Any:
    return insert(table)


@cache
def _update(table: Table) -> Any:
    """An UPDATE by id (and version, for a versioned table) whose SET is the parameters given:
    SQLAlchemy caches one compiled form per set of columns."""
    where = [table.c.id == bindparam("b_id")]
    if "version" in table.c:
        where.append(table.c.version == bindparam("b_version"))
    return update(table).where(*where)


@cache
def _table_order() -> dict[Table, int]:
    return {table: i for i, table in enumerate(Base.metadata.sorted_tables)}


@cache
def _defaults_of(table: Table) -> tuple[tuple[str, Any], ...]:
    """(column, default) of a table's columns that have a Python-side default."""
    return tuple((column.key, column.default) for column in table.c if column.default is not None)


@cache
def _null_by_default(table: Table) -> frozenset[str]:
    """The columns an INSERT that leaves them out sets to NULL (nullable, with no default)."""
    return frozenset(column.key for column in table.c if column.nullable and column.default is None
                     and column.server_default is None and not column.primary_key)


@cache
def _columns_of(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, column) of a mapped class's column attributes."""
    return tuple((attr.key, attr.columns[0].key) for attr in inspect(cls).column_attrs)
