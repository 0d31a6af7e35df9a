"""``GET /v1/usage?month=``: used days and charges per environment and component of one account
and month, from the ledger, under the tenant rules of tickets (another tenant's account: 404)."""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Any, Callable

from sqlalchemy import BigInteger, Integer, bindparam, case, cast, extract, func, literal_column, select, union_all
from sqlalchemy.orm import Session

from service.adapters.identity import Principal, visible
from service.adapters.lru import SizedLRU
from service.adapters.models import Account, Environment, Usage
from service.domain.errors import NotFound, RuleViolation
from service.domain.prices import minor_text

_USAGE = Usage.__table__
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_DAY = literal_column(str(86_400_000_000), BigInteger)
_DAY_LESS_ONE = literal_column(str(86_400_000_000 - 1), BigInteger)


def _micros(value: Any) -> Any:
    """POSIX microseconds, exact on PostgreSQL (whole seconds on SQLite, which keeps no more)."""
    return cast(extract("epoch", value) * literal_column("1000000", BigInteger), BigInteger)


def _days(micros: Any) -> Any:
    """Every started 24 hours of ``micros`` (> -24 hours): integer division, the same on every
    database for a numerator that is not negative; an INTEGER (summed as such)."""
    return cast((micros + _DAY_LESS_ONE) // _DAY, Integer)


def _days_to(cut: str, started: Any) -> Any:
    """The days of a row from its start to a bound (the bind ``cut``; ``cut_us``: the same in
    microseconds): none when it started at or after it."""
    return case((started >= bindparam(cut), literal_column("0", Integer)),
                else_=_days(bindparam(f"{cut}_us", type_=BigInteger) - _micros(started)))


def _month_rows(kind: Any, upto: Any) -> Any:
    """The account's rows of one kind (closed after the month began, or open), from one index:
    each with its days before the month and up to its end within it. Both cuts are the month's
    bounds capped at now; a closed row ends earlier when it ended before the later cut."""
    started = _USAGE.c.started_at
    return (select(_USAGE.c.environment_id, _USAGE.c.component, _USAGE.c.daily_minor,
                   _USAGE.c.included_days, _USAGE.c.currency, _days_to("cut_before", started).label("before"),
                   upto.label("upto"))
            .where(_USAGE.c.account_id == bindparam("account_id"), kind, started < bindparam("month_end")))


def _days_statement() -> Any:
    """Per ledger row of the month, its days before the month and up to its end in it, each
    every started 24 hours since the row's start (``service.domain.prices.month_days``): the
    months add up to the row's days. Each branch computes them once per row, in its scan; the
    costly part (seconds since the epoch) only where a bound falls inside the row."""
    ended, started = _USAGE.c.ended_at, _USAGE.c.started_at
    closed_upto = case((ended < bindparam("cut_upto"), _days(_micros(ended) - _micros(started))),
                       else_=_days_to("cut_upto", started))
    return union_all(_month_rows(ended > bindparam("month_start"), closed_upto),
                     _month_rows(ended.is_(None), _days_to("cut_upto", started)))


def _lines_statement() -> Any:
    """The month per environment and component, summed in the database: days, included days
    (a row's included days come first), the charge in minor units (the rest of its days at its
    price), with the environment's name. Sorted in Python: a sort by name in the database
    follows its collation."""
    rows = _days_statement().subquery("r")
    before, upto, allowed = rows.c.before, rows.c.upto, rows.c.included_days
    included = case((upto < allowed, upto), else_=allowed) - case((before < allowed, before), else_=allowed)
    lines = (select(rows.c.environment_id, rows.c.component, func.sum(upto - before).label("days"),
                    func.sum(included).label("included_days"),
                    # In BIGINT: a month of days at a price per day may pass INTEGER's range.
                    cast(func.sum(cast(upto - before - included, BigInteger) * rows.c.daily_minor),
                         BigInteger).label("charge"),
                    func.max(rows.c.currency).label("currency"))
             .group_by(rows.c.environment_id, rows.c.component).subquery("l"))
    env = Environment.__table__
    return (select(lines.c.environment_id, env.c.name, lines.c.component, lines.c.days, lines.c.included_days,
                   lines.c.charge, lines.c.currency)
            .join(env, (env.c.id == lines.c.environment_id) & (env.c.account_id == bindparam("account_id"))))


_LINES = _lines_statement()
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

    def bounds(self, now: datetime) -> dict[str, Any]:
        """The statement's bounds: the month, and its start and end capped at ``now`` (usage
        counts until now), also in POSIX microseconds."""
        cuts = {"cut_before": min(self.start, now), "cut_upto": min(self.end, now)}
        return {"month_start": self.start, "month_end": self.end, **cuts,
                **{f"{name}_us": (cut - _EPOCH) // _MICROSECOND for name, cut in cuts.items()}}


@dataclass(frozen=True)
class UsageReport:
    """A month of an account's usage: ``lines`` as the statement gives them (environment id,
    name, component, days, included days, charge in minor units), sorted by environment name
    and component; ``money`` writes the amounts."""

    account_id: str
    month: str
    currency: str | None
    lines: list[Any]
    total: int
    money: "_MoneyTexts"

    def as_json(self) -> dict[str, Any]:
        """The body UsageSchema documents, built as plain dicts: a month can hold tens of
        thousands of lines."""
        text = self.money
        items = [{"environment_id": env_id, "environment": name, "component": component, "days": days,
                  "included_days": included, "charge": text[minor]}
                 for env_id, name, component, days, included, minor, _ in self.lines]
        return {"account_id": self.account_id, "month": self.month, "currency": self.currency, "items": items,
                "total": {"amount": text[self.total], "currency": text.currency}}

    def as_csv(self) -> str:
        """A header row, then one row per environment and component."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        text, currency = self.money, self.money.currency
        writer.writerows((env_id, name, component, days, included, text[minor], currency)
                         for env_id, name, component, days, included, minor, _ in self.lines)
        return out.getvalue()


class _MoneyTexts(dict[int, str]):
    """Amounts in minor units, each written once: a month's lines repeat few distinct charges."""

    def __init__(self, currency: str) -> None:
        super().__init__()
        self.currency = currency

    def __missing__(self, minor: int) -> str:
        text = self[minor] = minor_text(minor, self.currency)
        return text


def usage_report(session: Session, principal: Principal, *, month: str, account_id: str | None,
                 now: datetime, currency: str | None = None) -> UsageReport:
    """The account's usage in ``month`` (YYYY-MM, UTC): a customer's or partner's own account
    unless ``account_id`` names one they may see; staff name the account."""
    return _report(session, _account_of(session, principal, account_id), Month.parse(month), now, currency)


def _report(session: Session, account_id: str, span: Month, now: datetime, currency: str | None) -> UsageReport:
    rows = session.execute(_LINES, {"account_id": account_id, **span.bounds(now)}).all()
    # A ledger row keeps its price in the minor units of the price list's one currency.
    currency = currency or next((row[6] for row in rows if row[6]), None)
    # A line whose rows' days all fell in the month before (a started day counts there) is none.
    lines = list(filter(itemgetter(3), rows))
    lines.sort(key=itemgetter(2))  # by name, then component: two stable sorts on one key each
    lines.sort(key=itemgetter(1))  # cost less than one on pairs
    return UsageReport(account_id, span.text, currency, lines, sum(map(itemgetter(5), lines)),
                       _MoneyTexts(currency or "EUR"))


# A month is settled this long after its end. Nothing writes a usage's start or end but as now
# (service.app.billing.ledger), its price and included days are fixed on it (a later allowance
# changes quotes, not usage), and an environment keeps its name and account; the margin covers a
# worker that took its now before the month ended and commits after, or whose clock is behind.
SETTLED_AFTER = timedelta(hours=1)


def usage_body(session: Session, principal: Principal, *, month: str, account_id: str | None, now: datetime,
               currency: str | None, kind: str, render: Callable[[UsageReport], bytes],
               kept: SizedLRU[tuple[str, str, str, str | None]] | None = None) -> tuple[bytes, str]:
    """The report as ``render`` writes it (``kind``: its format) and its entity tag. A settled
    month's body is rendered once and then served from ``kept`` (keyed by the account: another
    tenant's is never served); the month still running is computed as of ``now`` every time."""
    account_id = _account_of(session, principal, account_id)
    span = Month.parse(month)
    key = (account_id, span.text, kind, currency)
    kept = kept if span.end <= now - SETTLED_AFTER else None
    if kept is not None and (found := kept.get(key)) is not None:
        return found
    body = render(_report(session, account_id, span, now, currency))
    tag = hashlib.blake2b(body, digest_size=16).hexdigest()
    if kept is not None:
        kept.put(key, body, tag)
    return body, tag


def _account_of(session: Session, principal: Principal, account_id: str | None) -> str:
    """The account to report on, under the tenant rules of tickets (another tenant's: 404)."""
    if account_id is None:
        if principal.is_provider:
            raise RuleViolation("name the account: account_id", rule="validation_failed",
                                errors={"account_id": ["required for staff"]})
        return principal.account_id
    if account_id != principal.account_id or principal.is_provider:
        if session.scalar(select(Account.id).where(Account.id == account_id,
                                                   visible(principal, Account.id))) is None:
            raise NotFound("no such account", errors={"account_id": ["no such account"]})
    return account_id
