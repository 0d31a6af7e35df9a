"""The live windows, kept in each process for the rules of time: filing is the hottest write, and
every filing, hand-off and sweep asks what the windows of one environment do around a moment.

The windows' version is one row (``change_windows_version``, a random id) that declaring or
withdrawing a window replaces in the same transaction. Filing's one SELECT reads it
(service.app.tickets.filing), and so do the statements that read a ticket to approve it
(service.app.tickets.actions) or to hand it to provisioning (service.app.provisioning.pipeline);
elsewhere it is read by primary key. While it is the version kept, the windows are taken from
here (a service.domain.windows.WindowIndex, which works out each scope's occurrences per week as
they are asked for); else they are read again, with the version in the same statement. One set
is kept per database engine."""
from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.adapters.models import ChangeWindow, ChangeWindowsVersion
from service.app.calendar.windows import WINDOW_COLUMNS, window_of
from service.domain.windows import Expanded, WindowIndex

_VERSION = select(ChangeWindowsVersion.version).where(ChangeWindowsVersion.id == 1)


def version() -> Any:
    """The windows' version as one SQL value (a scalar subquery, read by primary key)."""
    return _VERSION.scalar_subquery()


def current(session: Session) -> str:
    """The windows' version, as of the session's transaction."""
    return session.connection().execute(_VERSION).scalar_one()


class Kept:
    """The live windows of one version."""

    def __init__(self, version: str, index: WindowIndex) -> None:
        self.version, self.index = version, index

    def covering(self, *, environment_id: str, account_id: str, stage: str) -> Expanded:
        return self.index.covering(environment_id=environment_id, account_id=account_id, stage=stage)


_KEPT: WeakKeyDictionary[Any, Kept] = WeakKeyDictionary()
_LIVE = select(*WINDOW_COLUMNS, version().label("version")).where(ChangeWindow.deleted_at.is_(None))


def kept(session: Session, current_version: str | None = None) -> Kept:
    """The live windows at ``current_version`` (read by filing's SELECT; read here if not given)."""
    if current_version is None:
        current_version = current(session)
    engine = session.get_bind()
    held = _KEPT.get(engine)
    if held is not None and held.version == current_version:
        return held
    rows = session.connection().execute(_LIVE).all()
    held = Kept(rows[0].version if rows else current_version, WindowIndex(window_of(row) for row in rows))
    _KEPT[engine] = held
    return held


def windows_of(session: Session, *, environment_id: str, account_id: str, stage: str,
               version: str | None = None) -> Expanded:
    """The live windows whose scope covers one environment, as the rules take them; ``version``:
    as ``kept``."""
    return kept(session, version).covering(environment_id=environment_id, account_id=account_id, stage=stage)
