"""The live windows, kept in the process for filing: filing is the hottest write, and reading the
windows that may cover an environment was a statement of its own at every filing. The filing's
one SELECT reads the windows' version (``version``: how many there are, their summed SEQUENCE,
the greatest id — a window added or withdrawn changes it, as nothing else changes a stored
window); while it is the one kept, the windows are taken from here, else read again (one
statement, with the version it read them at). One set is kept per database engine."""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.orm import Session

from service.adapters.models import ChangeWindow
from service.app.calendar.windows import WINDOW_COLUMNS, window_of
from service.domain.windows import Window

_NEVER = datetime.max.replace(tzinfo=timezone.utc)


def version() -> Any:
    """The windows' version as one SQL value (a scalar subquery)."""
    w = ChangeWindow
    return select(cast(func.count(), String) + literal(":") + cast(func.coalesce(func.sum(w.sequence), 0), String)
                  + literal(":") + func.coalesce(func.max(w.id), "")).scalar_subquery()


@dataclass(frozen=True)
class Kept:
    """The live windows of one version, by the scope field that names them most narrowly, each
    list by the end of its last occurrence (a repeating window without end last)."""

    version: str
    by_scope: dict[tuple[str, str | None], list[tuple[datetime, Window]]] = field(default_factory=dict)

    def touching(self, since: datetime, until: datetime, *, environment_id: str, account_id: str,
                 stage: str) -> list[Window]:
        """As service.app.calendar.windows.touching: those that may touch ``[since, until)`` and
        whose scope covers the environment."""
        found = []
        for key in (("environment", environment_id), ("account", account_id), ("stage", stage), ("all", None)):
            listed = self.by_scope.get(key, ())
            for _, window in listed[bisect_right(listed, since, key=_end):]:
                if window.start < until and window.scope.covers(
                        environment_id=environment_id, account_id=account_id, stage=stage):
                    found.append(window)
        return found


def _end(item: tuple[datetime, Window]) -> datetime:
    return item[0]


_KEPT: WeakKeyDictionary[Any, Kept] = WeakKeyDictionary()
_LIVE = select(*WINDOW_COLUMNS, ChangeWindow.last_end, version().label("version")).where(
    ChangeWindow.deleted_at.is_(None))


def kept(session: Session, current: str) -> Kept:
    """The live windows at version ``current`` (the filing's SELECT read it)."""
    engine = session.get_bind()
    held = _KEPT.get(engine)
    if held is not None and held.version == current:
        return held
    rows = session.connection().execute(_LIVE).all()
    held = Kept(rows[0].version if rows else current)
    for row in rows:
        window = window_of(row)
        scope = window.scope
        key = (("environment", scope.environment_id) if scope.environment_id else
               ("account", scope.account_id) if scope.account_id else
               ("stage", scope.stage) if scope.stage else ("all", None))
        held.by_scope.setdefault(key, []).append((row.last_end or _NEVER, window))
    for listed in held.by_scope.values():
        listed.sort(key=_end)
    _KEPT[engine] = held
    return held
