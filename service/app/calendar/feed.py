"""The calendar: what the caller may see happen on environments in a range of time — windows
(each occurrence), temporary upscales, scheduled changes and load tests, each with its ticket —
and the same as an RFC 5545 feed for calendar programs, opened with a feed key."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, or_, select
from sqlalchemy.orm import Session

from service.adapters.db import UnitOfWork
from service.adapters.identity import Principal, visibility, visible, visible_to
from service.adapters.models import Account, CalendarKey, ChangeWindow, Environment, Ticket, User
from service.app.calendar.windows import WINDOW_COLUMNS, window_of
from service.domain.errors import NotFound, RuleViolation
from service.domain.hosting import AccountKind
from service.domain.windows import Window

MAX_RANGE = timedelta(days=400)
"""The longest range one calendar read covers (a feed: a month back, a year ahead)."""
MAX_TICKETS = 2000
KEY_PREFIX = "edc_"
FEED_PAST, FEED_AHEAD = timedelta(days=31), timedelta(days=366)


@dataclass(frozen=True)
class TicketEntry:
    id: str
    type: str
    status: str
    summary: str
    environment_id: str
    account_id: str
    start: datetime
    end: datetime
    emergency: bool
    version: int
    updated_at: datetime


@dataclass(frozen=True)
class Calendar:
    since: datetime
    until: datetime
    windows: list[tuple[Window, Any]]
    """Each window with its stored row's columns (``_WINDOW``): scope, sequence, updated_at,
    deleted_at."""
    tickets: list[TicketEntry]


def check_range(since: datetime, until: datetime) -> None:
    if until <= since or until - since > MAX_RANGE:
        raise RuleViolation("`to` must be after `from`, at most 400 days later", rule="range_invalid",
                            errors={"to": ["must be after from, at most 400 days later"]})


def read_calendar(session: Session, principal: Principal, *, since: datetime, until: datetime,
                  environment_id: str | None = None, with_deleted: bool = False) -> Calendar:
    """Windows that may touch the range and tickets with a time in it, as ``principal`` sees
    them; ``environment_id`` (one the caller may see, else 404) narrows both to it."""
    check_range(since, until)
    env = get_environment(session, principal, environment_id) if environment_id else None
    rows = session.execute(_windows_query(principal, env, with_deleted), {"since": since, "until": until})
    windows = [(window_of(row), row) for row in rows]
    query = _tickets_query(principal, env is not None)
    params = {"since": since, "until": until, "account": principal.account_id,
              "environment_id": env.id if env else None}
    tickets = [TicketEntry(*row) for row in session.execute(query, params)]
    return Calendar(since, until, windows, tickets)


def get_environment(session: Session, principal: Principal, environment_id: str) -> Environment:
    env = session.scalar(select(Environment).where(
        Environment.id == environment_id, visible(principal, Environment.account_id)))
    if env is None:
        raise NotFound("no such environment")
    return env


_WINDOW = (*WINDOW_COLUMNS, ChangeWindow.sequence, ChangeWindow.updated_at, ChangeWindow.deleted_at)


def _windows_query(principal: Principal, env: Environment | None, with_deleted: bool) -> Select[Any]:
    w = ChangeWindow
    query = select(*_WINDOW).where(w.start_at < bindparam("until"),
                            or_(w.last_end.is_(None), w.last_end > bindparam("since")))
    if not with_deleted:
        query = query.where(w.deleted_at.is_(None))
    if env is not None:
        return query.where(or_(w.scope_environment_id.is_(None), w.scope_environment_id == env.id),
                           or_(w.scope_account_id.is_(None), w.scope_account_id == env.account_id),
                           or_(w.scope_stage.is_(None), w.scope_stage == env.stage)).order_by(w.start_at, w.id)
    scope = visibility(principal)
    if scope == "none":
        return query.where(w.id.is_(None))
    if scope != "every":  # windows of every environment, or of environments the caller sees
        query = query.where(
            or_(w.scope_account_id.is_(None), visible(principal, w.scope_account_id)),
            or_(w.scope_environment_id.is_(None), w.scope_environment_id.in_(
                select(Environment.id).where(visible(principal, Environment.account_id)))))
    return query.order_by(w.start_at, w.id)


_ENTRY = (Ticket.id, Ticket.type, Ticket.status, Ticket.summary, Ticket.environment_id, Ticket.account_id,
          Ticket.calendar_start, Ticket.calendar_end, Ticket.emergency, Ticket.version, Ticket.updated_at)


def _tickets_query(principal: Principal, one_environment: bool) -> Select[Any]:
    """Tickets with a time in [since, until): read from the calendar indexes on their end, so
    that everything that ended before the range costs nothing."""
    query = select(*_ENTRY).where(Ticket.calendar_end >= bindparam("since"),
                                  Ticket.calendar_start < bindparam("until"))
    query = query.where(visible_to(visibility(principal), Ticket.account_id, bindparam("account")))
    if one_environment:
        query = query.where(Ticket.environment_id == bindparam("environment_id"))
    return query.order_by(Ticket.calendar_start, Ticket.id).limit(MAX_TICKETS)


# --- feed keys ------------------------------------------------------------------------------


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(principal: Principal, *, uow: UnitOfWork, now: datetime) -> str:
    """A new feed key for the caller, shown once; it replaces (revokes) any earlier one."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with uow:
        uow.session.execute(delete(CalendarKey).where(CalendarKey.user_id == principal.user_id))
        uow.session.add(CalendarKey(user_id=principal.user_id, key_hash=hash_key(key), created_at=now))
        uow.commit()
    return key


def revoke_key(principal: Principal, *, uow: UnitOfWork) -> None:
    with uow:
        uow.session.execute(delete(CalendarKey).where(CalendarKey.user_id == principal.user_id))
        uow.commit()


_KEY_OWNER = (select(User.id, User.email, User.role, Account.id, Account.name, Account.kind)
              .join(CalendarKey, CalendarKey.user_id == User.id)
              .join(Account, Account.id == User.account_id)
              .where(CalendarKey.key_hash == bindparam("key_hash")))


def key_owner(connection: Connection, key: str | None) -> Principal | None:
    """Whose feed a key opens; None for an unknown or revoked key."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = connection.execute(_KEY_OWNER, {"key_hash": hash_key(key)}).first()
    if row is None:
        return None
    user_id, email, role, account_id, account_name, kind = row
    return Principal(user_id=user_id, email=email, account_id=account_id, account_name=account_name,
                     kind=AccountKind(kind), role=role)
