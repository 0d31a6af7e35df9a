"""Maintenance and freeze windows: support and admins declare and delete them (each moves the
windows' version, by which every process tells whether the windows it keeps still hold:
service.app.calendar.kept)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from service.adapters import recurrence_probe
from service.adapters.db import UnitOfWork
from service.adapters.identity import Principal
from service.adapters.models import Account, ChangeWindow, ChangeWindowsVersion, Environment
from service.adapters.pagination import Page, page_of, paginate
from service.domain import permissions
from service.domain.errors import Forbidden, NotFound, RuleViolation
from service.domain.windows import Scope, Window, WindowKind, check_window, last_end

STAFF_ONLY = "only support staff manage maintenance and freeze windows"


def ensure_staff(principal: Principal) -> None:
    if not permissions.is_staff(principal.kind, principal.role):
        raise Forbidden(STAFF_ONLY, rule="support_only", params={"action": "manage_windows"})


def window_of(row: Any) -> Window:
    """The domain's window for a stored one (a ChangeWindow, or a row of its columns)."""
    return _window(row.id, row.kind, row.title, row.start_at, row.end_at, row.timezone, row.rrule,
                   row.scope_stage, row.scope_account_id, row.scope_environment_id)


@lru_cache(maxsize=4096)
def _window(id_: str, kind: str, title: str, start: datetime, end: datetime, zone: str, rrule: str | None,
            stage: str | None, account_id: str | None, environment_id: str | None) -> Window:
    """One Window object per stored window and process (what it is never changes once stored;
    only its deletion does, which is not part of it): the rules then find its recurrence's
    worked-out occurrences (service.domain.windows) by identity."""
    return Window(id=id_, kind=WindowKind(kind), title=title, start=start, end=end, timezone=zone, rrule=rrule,
                  scope=Scope(stage=stage, account_id=account_id, environment_id=environment_id))


def create_window(principal: Principal, data: dict[str, Any], *, uow: UnitOfWork,
                  now: datetime) -> ChangeWindow:
    ensure_staff(principal)
    scope = data.get("scope") or {}
    row = ChangeWindow(kind=data["kind"], title=data["title"], start_at=data["start"], end_at=data["end"],
                       timezone=data.get("timezone") or "UTC", rrule=data.get("rrule") or None,
                       scope_stage=scope.get("stage"), scope_account_id=scope.get("account_id"),
                       scope_environment_id=scope.get("environment_id"), created_by=principal.user_id,
                       sequence=0, created_at=now, updated_at=now)
    window = window_of(row)
    check_window(window)
    _check_happens(window)
    row.last_end = last_end(window)
    with uow:
        _check_scope(uow.session, row)
        uow.session.add(row)
        _moved(uow.session)
        uow.commit()
    return row


RECURS_WITHIN = timedelta(days=4 * 366)
"""A repeating window must happen within four years of its start (a rule on the 29th of
February does; one whose parts never meet never does, and expanding it would never end)."""


def _check_happens(window: Window) -> None:
    if window.rrule is None:
        return
    first = window.start.astimezone(window.zone)
    if not recurrence_probe.happens_within(window.rrule, first, window.timezone, RECURS_WITHIN):
        raise RuleViolation("the rule never repeats within four years of the window's start", rule="window_invalid",
                            errors={"rrule": ["has no occurrence within four years of start: its parts never meet"]})


def _check_scope(session: Session, row: ChangeWindow) -> None:
    """The account and environment a scope names exist (and agree with each other)."""
    if row.scope_environment_id is not None:
        env = session.get(Environment, row.scope_environment_id)
        if env is None:
            raise _bad_scope("environment_id", "no such environment")
        if row.scope_account_id is not None and env.account_id != row.scope_account_id:
            raise _bad_scope("environment_id", "the environment is not the account's")
        if row.scope_stage is not None and env.stage != row.scope_stage:
            raise _bad_scope("stage", f"the environment is a {env.stage} environment")
    if row.scope_account_id is not None and session.get(Account, row.scope_account_id) is None:
        raise _bad_scope("account_id", "no such account")


def _bad_scope(name: str, message: str) -> RuleViolation:
    return RuleViolation(message, rule="window_invalid", errors={f"scope.{name}": [message]})


def list_windows(session: Session, principal: Principal, *, key: bytes, limit: int | None = None,
                 cursor: str | None = None, include_deleted: bool = False) -> Page:
    ensure_staff(principal)
    query = select(ChangeWindow)
    if not include_deleted:
        query = query.where(ChangeWindow.deleted_at.is_(None))
    query, size = paginate(query, created=ChangeWindow.created_at, ident=ChangeWindow.id, key=key,
                           limit=limit, cursor=cursor)
    return page_of(session.scalars(query).all(), size, key)


def delete_window(principal: Principal, window_id: str, *, uow: UnitOfWork, now: datetime) -> None:
    """The window stops applying; the row stays so that calendar feeds show it cancelled."""
    ensure_staff(principal)
    with uow:
        # Guarded: of two racing deletes, the one that waits finds the window gone (404).
        withdrawn = uow.session.connection().execute(_WITHDRAW, {"b_id": window_id, "now": now}).rowcount
        if withdrawn != 1:
            raise NotFound("no such window")
        _moved(uow.session)
        uow.commit()


_WINDOWS = ChangeWindow.__table__
_WITHDRAW = (update(_WINDOWS).where(_WINDOWS.c.id == bindparam("b_id"), _WINDOWS.c.deleted_at.is_(None))
             .values(deleted_at=bindparam("now"), updated_at=bindparam("now"), sequence=_WINDOWS.c.sequence + 1))


_MOVE = update(ChangeWindowsVersion).where(ChangeWindowsVersion.id == 1).values(version=bindparam("version"))


def _moved(session: Session) -> None:
    """A window is declared or withdrawn in the session's transaction: the windows' version moves
    with it (a new random id), so that every process reads the windows again
    (service.app.calendar.kept)."""
    session.connection().execute(_MOVE, {"version": str(uuid.uuid4())})


WINDOW_COLUMNS = (ChangeWindow.id, ChangeWindow.kind, ChangeWindow.title, ChangeWindow.start_at, ChangeWindow.end_at,
            ChangeWindow.timezone, ChangeWindow.rrule, ChangeWindow.scope_stage, ChangeWindow.scope_account_id,
            ChangeWindow.scope_environment_id)
"""What window_of reads of a stored window."""
