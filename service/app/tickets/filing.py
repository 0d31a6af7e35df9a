"""The two statements of a filing: what the rules need, read at once, and the new rows, written
at once.

Filing is the hottest write. Its reads (the environment, the account's external id, the open
request it would duplicate, the account's open requests up to the cap, an earlier ticket with
the same Idempotency-Key) go to the database as one SELECT, and everything the filing adds —
the ticket, its audit events, the outbox rows the listeners recorded — as one INSERT whose other
tables ride along as data-modifying CTEs. The unique indexes still decide races (see
service.app.tickets.actions._resolve_conflict)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Integer, Select, and_, bindparam, case, exists, func, literal, literal_column, null, or_, select,
)
from sqlalchemy.orm import Session, make_transient_to_detached

from service.domain.lifecycle import OPEN_STATUSES
from service.adapters import case_numbers
from service.adapters.models import Account, ChangeWindow, Environment, Ticket
from service.adapters.registry import FACT_KEYS
from service.adapters.writes import added, insert_rows, rows_of
from service.app.billing import quotes
from service.app.calendar import kept

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
    number: int | None = None
    """The case number the new ticket takes, where the database draws it in this SELECT."""
    windows_version: str | None = None
    """The windows' version (service.app.calendar.kept) when a live window may cover the
    environment; None when none may (the calendar's rules then need not look at windows)."""
    allowance: tuple[int, int] | None = None
    """(included days, days used) of the account's contract year, where the SELECT was asked for
    them (``allowance_year``: a priced temporary upscale)."""


def read_facts(session: Session, *, account_id: str, environment_id: str, type_: str,
               key: str | None, max_open: int, now: datetime,
               allowance_year: int | None = None) -> FilingFacts:
    """One SELECT; ``environment`` is None when the account has no such environment. With
    ``allowance_year`` it reads the account's included days of that contract year and those
    used too (what a priced temporary upscale's quote needs).

    The statement is built once per shape and reads the environment's columns, not the entity:
    no ORM loading to pay for. The Environment is then put in the session as if loaded, its
    timestamps left unloaded (read on access)."""
    params = {"account_id": account_id, "environment_id": environment_id, "type": type_,
              "key": key, "max_open": max_open, "now": now,
              **(quotes.year_bounds(allowance_year) if allowance_year is not None else {})}
    connection = session.connection()
    numbered = case_numbers.read_with_facts(connection.dialect.name)
    query = _facts_query(bool(key), bool(max_open), numbered, allowance_year is not None)
    row = connection.execute(query, params).first()
    if row is None:
        return FilingFacts(environment=None)
    env = _loaded(session, Environment(**dict(zip(FACT_KEYS, row[:len(FACT_KEYS)]))))
    number, external_id, count, windows_version, days, used, dup_id, dup_status, *replayed = row[len(FACT_KEYS):]
    return FilingFacts(environment=env, external_id=external_id, open_count=count or 0,
                       windows_version=windows_version,
                       open_ticket=(dup_id, dup_status) if dup_id else None,
                       earlier=(replayed[0], replayed[1]) if replayed and replayed[0] else None,
                       number=number,
                       allowance=(days or 0, int(used or 0)) if allowance_year is not None else None)


def number_for(session: Session, facts: FilingFacts) -> int:
    """The new ticket's case number: the one the facts' SELECT drew, else the next one taken now."""
    return facts.number or case_numbers.take_number(session.connection())


def _loaded(session: Session, env: Environment) -> Environment:
    """``env`` in ``session`` as if a query had loaded it (no SQL): persistent and clean, so a
    session.get finds it; the columns not given stay unloaded (read on access)."""
    held = session.identity_map.get(session.identity_key(Environment, env.id))
    if held is not None:  # loaded earlier in this session: that object stays the one
        return held
    make_transient_to_detached(env)
    session.add(env)
    return env


@cache
def _facts_query(with_key: bool, capped: bool, numbered: bool, allowance: bool = False) -> Select[Any]:
    """The SELECT of read_facts, built once per shape (its parameters are bound by name);
    ``numbered``: it draws the new ticket's case number too (service.adapters.case_numbers);
    ``allowance``: the account's included days of the contract year and those used (bound as
    ``year``, ``year_start``, ``year_end``), else two nulls."""
    account_id, environment_id = bindparam("account_id"), bindparam("environment_id")
    dup = select(Ticket.id, Ticket.status).where(
        Ticket.environment_id == environment_id, Ticket.type == bindparam("type"),
        Ticket.status.in_(_OPEN),
    ).limit(1)
    earlier = select(Ticket.id, Ticket.request_hash).where(
        Ticket.account_id == account_id, Ticket.idempotency_key == bindparam("key"))
    env = tuple(Environment.__table__.c[k] for k in FACT_KEYS)
    number = case_numbers.next_number() if numbered else literal(None, Integer)
    days = quotes.allowance_of(Environment.account_id) if allowance else (null(), null())
    return (select(*env, number, Account.external_id, _open_count(account_id, capped), _windowed(),
                   *days, *_columns(dup), *(_columns(earlier) if with_key else ()))
            .join(Account, Account.id == Environment.account_id)
            .where(Environment.id == environment_id, Environment.account_id == account_id))


def _windowed() -> Any:
    """The windows' version when a live window may cover the environment (most filings meet none,
    and so look at no windows): one that has not ended, or repeats, whose scope covers it; else
    null."""
    return case((_covering(), kept.version()), else_=null())


def _covering() -> Any:
    w = ChangeWindow
    return exists().where(
        w.deleted_at.is_(None), or_(w.last_end.is_(None), w.last_end > bindparam("now")),
        or_(w.scope_environment_id.is_(None), w.scope_environment_id == Environment.id),
        or_(w.scope_account_id.is_(None), w.scope_account_id == Environment.account_id),
        or_(w.scope_stage.is_(None), w.scope_stage == Environment.stage))


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
    """Write every object added to ``session`` (none may be changed or deleted) at once (one
    INSERT on PostgreSQL, see service.adapters.writes), then forget them: they stay readable, detached,
    as written."""
    if session.dirty or session.deleted:
        raise RuntimeError("a filing only adds rows")
    insert_rows(session.connection(), rows_of(added(session)))
    session.expunge_all()  # the unit of work ends here: all of it detached at once, nothing left for a flush
