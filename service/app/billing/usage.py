"""``GET /v1/usage?month=``: used days and charges per environment and component of one account
and month, from the ledger, under the tenant rules of tickets (another tenant's account: 404)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from service.adapters.identity import Principal, visible
from service.adapters.models import Account, Environment, Usage
from service.domain.errors import NotFound, RuleViolation
from service.domain.prices import MINOR_UNITS, as_text, month_days, total, usage_charge

_ROWS = (
    select(Usage.environment_id, Environment.name, Usage.component, Usage.started_at, Usage.ended_at,
           Usage.daily_minor, Usage.currency, Usage.included_days)
    .join(Environment, Environment.id == Usage.environment_id)
    .where(Usage.account_id == bindparam("account_id"), Usage.started_at < bindparam("month_end"),
           or_(Usage.ended_at.is_(None), Usage.ended_at > bindparam("month_start")))
)
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
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc)
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
    lines: dict[tuple[str, str], list[Any]] = {}
    for env_id, name, component, started, ended, daily_minor, cur, included in rows:
        before, within = month_days(started, ended, (span.start, span.end), now=now)
        if within <= 0:
            continue
        currency = currency or cur
        daily = Decimal(daily_minor).scaleb(-MINOR_UNITS[cur]) if cur else Decimal(0)
        line = lines.setdefault((name, component), [env_id, 0, 0, Decimal(0)])
        line[1] += within
        line[2] += min(within, max(0, included - before))
        line[3] += usage_charge(daily, included, before, within, cur or "EUR")
    cur = currency or "EUR"
    items = [{"environment_id": env_id, "environment": name, "component": component, "days": days,
              "included_days": included, "charge": as_text(charge, cur)}
             for (name, component), (env_id, days, included, charge) in sorted(lines.items())]
    return {"account_id": account_id, "month": span.text, "currency": currency,
            "items": items,
            "total": {"amount": as_text(total((l[3] for l in lines.values()), cur), cur), "currency": cur}}


def as_csv(report: dict[str, Any]) -> str:
    """The report as CSV: a header row, then one row per environment and component."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    cur = report["total"]["currency"]
    writer.writerows((i["environment_id"], i["environment"], i["component"], i["days"],
                      i["included_days"], i["charge"], cur) for i in report["items"])
    return out.getvalue()
