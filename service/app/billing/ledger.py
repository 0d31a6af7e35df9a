"""The usage ledger, written by the provisioning pipeline in the transaction that records the
outcome (service.app.provisioning.pipeline, ``finish``): a completed upscale opens a row per
component it raised, and closes the open rows of every component a completed request changes;
a completed revert closes the rows its ticket opened. A failed apply records nothing. The
unique (ticket, component) index makes one apply one row, whichever worker records it."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from service.adapters.models import Environment, Ticket, Usage
from service.domain.hosting import DEFAULT_SIZE, TicketType
from service.domain.prices import MINOR_UNITS

_USAGE = Usage.__table__
_OPEN = _USAGE.c.ended_at.is_(None)
_CLOSE_COMPONENTS = (update(_USAGE).where(
    _USAGE.c.environment_id == bindparam("env_id"), _USAGE.c.component.in_(bindparam("components", expanding=True)),
    _OPEN).values(ended_at=bindparam("now"), ended_by=bindparam("by")))
_CLOSE_TICKET = (update(_USAGE).where(_USAGE.c.ticket_id == bindparam("b_ticket"), _OPEN)
                 .values(ended_at=bindparam("now"), ended_by=bindparam("by")))


def record_completion(session: Session, ticket: Ticket, env: Environment, sizes: Mapping[str, str],
                      before: Mapping[str, str], now: datetime) -> None:
    """``ticket`` completed, leaving ``env`` with ``sizes`` (each raised from ``before``): the
    usage of those components so far ends, and an upscale's starts."""
    if not sizes:
        return
    session.connection().execute(_CLOSE_COMPONENTS, {"env_id": env.id, "components": sorted(sizes),
                                                     "now": now, "by": ticket.id})
    if ticket.type != TicketType.UPSCALE:
        return
    priced = _lines(ticket.charges)
    currency = (ticket.charges or {}).get("quote", {}).get("currency")
    for component, size in sizes.items():
        line = priced.get(component, {})
        session.add(Usage(
            account_id=ticket.account_id, environment_id=env.id, ticket_id=ticket.id, component=component,
            from_size=before.get(component, DEFAULT_SIZE), to_size=size,
            daily_minor=_minor(line.get("price_per_day"), currency), currency=currency,
            included_days=int(line.get("included_days") or 0), started_at=now))


def record_revert(session: Session, ticket: Ticket, now: datetime) -> None:
    """The revert of ``ticket`` completed: the usage it opened ends (rows a later request
    closed stay as they are)."""
    session.connection().execute(_CLOSE_TICKET, {"b_ticket": ticket.id, "now": now, "by": ticket.id})


def _lines(charges: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    lines: Iterable[Mapping[str, Any]] = ((charges or {}).get("quote") or {}).get("lines") or ()
    return {line["component"]: line for line in lines}


def _minor(amount: str | None, currency: str | None) -> int:
    if not amount or not currency:
        return 0
    return int(Decimal(amount).scaleb(MINOR_UNITS[currency]))
