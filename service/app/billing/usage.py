"""``GET /v1/usage?month=``: used days and charges per environment and component of one account
and month, from the ledger, under the tenant rules of tickets (another tenant's account: 404)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Float, bindparam, cast, extract, select, union_all
from sqlalchemy.orm import Session

from service.adapters.identity import Principal, visible
from service.adapters.models import Account, Environment, Usage
from service.domain.errors import NotFound, RuleViolation
from service.domain.prices import minor_text, month_lines

_USAGE = Usage.__table__
# POSIX seconds, as the day counting takes them (no datetime per row).
_EPOCH = {name: cast(extract("epoch", _USAGE.c[name]), Float).label(name) for name in ("started_at", "ended_at")}


def _month_rows(ended: Any) -> Any:
    return (select(_USAGE.c.environment_id, _USAGE.c.component, _EPOCH["started_at"], _EPOCH["ended_at"],
                   _USAGE.c.daily_minor, _USAGE.c.currency, _USAGE.c.included_days)
            .where(_USAGE.c.account_id == bindparam("account_id"), ended,
                   _USAGE.c.started_at < bindparam("month_end")))


def _rows_statement() -> Any:
    """The account's rows that ended after the month began and its open ones: two range scans
    of one index (with the columns read included, on PostgreSQL), the names joined once; sorted
    in Python (a sort by name in the database follows its collation, and costs more)."""
    rows = union_all(_month_rows(_USAGE.c.ended_at > bindparam("month_start")),
                     _month_rows(_USAGE.c.ended_at.is_(None))).subquery("u")
    env = Environment.__table__
    return (select(rows.c.environment_id, env.c.name, rows.c.component, rows.c.started_at,
                   rows.c.ended_at, rows.c.daily_minor, rows.c.currency, rows.c.included_days)
            .join(env, (env.c.id == rows.c.environment_id) & (env.c.account_id == bindparam("account_id"))))


_ROWS = _rows_statement()
CSV_COLUMNS = ("environment_id", "environment", "component", "days", "included_days", "charge", "currency")


@dataclass(frozen=True)
class Month:
    text: str
    start: datetime
    end: datetime

    @classmethod
    def parse(cls, text: str) -> "Month":
        year, month = int(text[:4]), int(text[5:7])
        start = datetime(year, month, 1, tzinfo=timezone.utc)
        end = (datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc)
               if (year, month) != (9999, 12) else datetime.max.replace(tzinfo=timezone.utc))
        return cls(text, start, end)


def usage_report(session: Session, principal: Principal, *, month: str, account_id: str | None,
                 now: datetime, currency: str | None = None) -> dict[str, Any]:
    """The account's usage in ``month`` (YYYY-MM, UTC): a customer's or partner's own account
    unless ``account_id`` names one they may see; staff name the account."""
    if account_id is None:
        if principal.is_provider:
            raise RuleViolation("name the account: account_id", rule="validation_failed",
                                errors={"account_id": ["required for staff"]})
        account_id = principal.account_id
    if account_id != principal.account_id or principal.is_provider:
        if session.scalar(select(Account.id).where(Account.id == account_id,
                                                   visible(principal, Account.id))) is None:
            raise NotFound("no such account", errors={"account_id": ["no such account"]})
    span = Month.parse(month)
    rows = session.execute(_ROWS, {"account_id": account_id, "month_start": span.start,
                                   "month_end": span.end}).all()
    # A ledger row keeps its price in the minor units of the price list's one currency.
    currency = currency or next((row[6] for row in rows if row[6]), None)
    cur = currency or "EUR"
    lines = month_lines((((r[0], r[1], r[2]), r[3], r[4], r[5], r[7]) for r in rows),
                        span.start.timestamp(), span.end.timestamp(), now.timestamp())
    items = [{"environment_id": env_id, "environment": name, "component": component, "days": days,
              "included_days": included, "charge": minor_text(minor, cur)}
             for (env_id, name, component), (days, included, minor) in sorted(
                 lines.items(), key=lambda item: (item[0][1], item[0][2]))]
    charged = sum(line[2] for line in lines.values())
    return {"account_id": account_id, "month": span.text, "currency": currency, "items": items,
            "total": {"amount": minor_text(charged, cur), "currency": cur}}


def as_csv(report: dict[str, Any]) -> str:
    """The report as CSV: a header row, then one row per environment and component."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    cur = report["total"]["currency"]
    writer.writerows((i["environment_id"], i["environment"], i["component"], i["days"],
                      i["included_days"], i["charge"], cur) for i in report["items"])
    return out.getvalue()
