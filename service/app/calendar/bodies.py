"""Calendar bodies kept in the API process while what they show holds. A month across every
environment is thousands of entries, opened by every member of staff who looks at it, and a
feed is fetched again by calendar programs every few minutes; rendering one costs tens of
milliseconds, telling whether it changed one statement.

A body is kept per format, visibility (every account, or one account: a partner's view follows
its links and is rendered each time), range (and, for a feed, its ticket links), together with
the version it was rendered at. The version is read first, in one statement: the windows'
(service.app.calendar.kept: one row that declaring or withdrawing a window moves) and that of the
tickets with a time in the range, as the caller sees them (how many, their summed version, the
latest update: a ticket that enters the range, leaves it or changes moves it, since every change
of a ticket bumps its version). A kept body whose version still matches is served; else the body
is rendered (after the version was read, so it is never older than the version it is kept at)."""
from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, Callable, Hashable

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session

from service.adapters.identity import Principal, visibility, visible_to
from service.adapters.lru import SizedLRU
from service.adapters.models import Ticket
from service.app.calendar import kept as kept_windows

KEPT_SCOPES = ("every", "own")


def kept_body(session: Session, principal: Principal, *, since: datetime, until: datetime,
              kind: Hashable, kept: SizedLRU[Any] | None, render: Callable[[], bytes]) -> bytes:
    """The body ``render`` writes of the calendar of ``[since, until)`` as ``principal`` sees it
    (``kind``: its format and anything else its bytes depend on), from ``kept`` while its version
    holds."""
    scope = visibility(principal)
    if kept is None or scope not in KEPT_SCOPES:
        return render()
    account = principal.account_id if scope == "own" else None
    version = version_of(session, scope, account, since=since, until=until)
    key = (kind, scope, account, since, until)
    found = kept.get(key)
    if found is not None and found[1] == version:
        return found[0]
    body = render()
    kept.put(key, body, version)
    return body


def version_of(session: Session, scope: str, account: str | None, *, since: datetime,
               until: datetime) -> str:
    """The version of what a calendar of ``[since, until)`` shows to ``scope`` (and ``account``)."""
    row = session.connection().execute(_version_query(scope), {
        "since": since, "until": until, "account": account}).one()
    return "|".join("" if value is None else str(value) for value in row)


@cache
def _version_query(scope: str) -> Select[Any]:
    """Built once per scope: the windows' version and the aggregate of the tickets the
    calendar's ticket statement (service.app.calendar.feed) reads, on the same index."""
    t = Ticket
    return select(kept_windows.version(), func.count(), func.coalesce(func.sum(t.version), 0),
                  func.max(t.updated_at)).where(
        t.calendar_end >= bindparam("since"), t.calendar_start < bindparam("until"),
        visible_to(scope, t.account_id, bindparam("account")))
