"""Quotes: what an upscale would cost, by the price list and the account's allowance. Shared by
``POST /v1/quotes``, ``options`` and filing (which keeps the quote on the ticket)."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any, Mapping, Sequence

from sqlalchemy import Integer, Select, bindparam, func, literal, select
from sqlalchemy.orm import Session

from service.adapters.identity import Principal, visibility, visible_to
from service.adapters.models import Allowance, Environment, Usage
from service.adapters.registry import FACT_KEYS, environment_facts
from service.app.commands import FileTicket
from service.domain import hosting
from service.domain.errors import NotFound
from service.domain.prices import PriceList, Quote, Raise, as_text, quote


def allowance_of(account_id: Any) -> tuple[Any, Any]:
    """The included days of the contract year (bound as ``year``, ``year_start``, ``year_end``)
    of ``account_id``, and those its usages started in that year used."""
    return (select(Allowance.days).where(Allowance.account_id == account_id,
                                         Allowance.year == bindparam("year", type_=Integer)).scalar_subquery(),
            _used(account_id, Usage.ended_at >= bindparam("year_start")) + _used(account_id, Usage.ended_at.is_(None)))


def _used(account_id: Any, ended: Any) -> Any:
    """Included days of the year's usages that ended after it began, or of its open ones: range
    scans of the ledger's covering index on (account, end), not every usage of the account."""
    return select(func.coalesce(func.sum(Usage.included_days), literal(0))).where(
        Usage.account_id == account_id, ended, Usage.started_at >= bindparam("year_start"),
        Usage.started_at < bindparam("year_end")).scalar_subquery()


def contract_year(period: tuple[datetime, datetime] | None, now: datetime) -> int:
    """The contract year a request counts against: that of its period's start (UTC), else now's."""
    return (period[0] if period else now).astimezone(timezone.utc).year


def year_bounds(year: int) -> dict[str, Any]:
    """The parameters ``allowance_of`` binds for the contract year ``year``."""
    start = datetime(year, 1, 1, tzinfo=timezone.utc)
    end = start.replace(year=year + 1) if year < 9999 else datetime.max.replace(tzinfo=timezone.utc)
    return {"year": year, "year_start": start, "year_end": end}


def raises_of(env: Environment, resources: Sequence[Mapping[str, str]] | None) -> list[Raise]:
    sizes = env.sizes or {}
    return [Raise(r["component"], sizes.get(r["component"], hosting.DEFAULT_SIZE), r["size"])
            for r in resources or ()]


def quote_upscale(prices: PriceList, env: Environment, resources: Sequence[Mapping[str, str]] | None,
                  period: tuple[datetime, datetime] | None, *, allowance: tuple[int, int] | None) -> Quote:
    """The quote; ``allowance`` (included days of the period's contract year, days used), read
    by the caller's statement, counts where a temporary upscale is charged something."""
    raises = raises_of(env, resources)
    found = quote(prices, env.stage, raises, period=period)
    if found.costs_something and period is not None:
        days, used = allowance or (0, 0)
        found = quote(prices, env.stage, raises, period=period, allowance_days=days, used_days=used)
    return found


def quote_request(session: Session, principal: Principal, command: FileTicket, *,
                  prices: PriceList | None, now: datetime) -> dict[str, Any]:
    """``POST /v1/quotes``: a ticket body quoted, with the filing's own checks; stores nothing.
    Without a price list nothing costs anything. One statement reads the environment and, for a
    temporary upscale, the account's included days of its contract year."""
    period = command.window if command.type == hosting.TicketType.UPSCALE else None
    row = session.connection().execute(_quote_query(visibility(principal), period is not None), {
        "environment_id": command.environment_id, "principal_account": principal.account_id,
        **(year_bounds(contract_year(period, now)) if period is not None else {})}).first()
    if row is None:
        raise NotFound("no such environment", errors={"environment_id": ["no such environment"]})
    env = Environment(**dict(zip(FACT_KEYS, row)))  # not added to the session: a quote stores nothing
    if command.type != hosting.TicketType.UPSCALE:
        return quote_json(None, env, period=None, now=now, currency=prices.currency if prices else None)
    hosting.check_upscale(environment_facts(env), command.resources or [], command.window, now=now)
    days, used = (row[-2] or 0, int(row[-1] or 0)) if period is not None else (0, 0)
    found = quote(prices or PriceList(), env.stage, raises_of(env, command.resources), period=period,
                  allowance_days=days, used_days=used)
    return quote_json(found, env, period=period, now=now)


@cache
def _quote_query(scope: str, temporary: bool) -> Select[Any]:
    """The SELECT of a quote, built once per visibility scope and shape (its parameters bound by
    name): the environment's columns, where the caller may see it, and for a temporary upscale
    its account's included days of the contract year and those used."""
    env = Environment.__table__
    return (select(*(env.c[key] for key in FACT_KEYS), *(allowance_of(env.c.account_id) if temporary else ()))
            .where(env.c.id == bindparam("environment_id"),
                   visible_to(scope, env.c.account_id, bindparam("principal_account"))))


def quote_json(found: Quote | None, env: Environment, *, period: tuple[datetime, datetime] | None,
               now: datetime, currency: str | None = None) -> dict[str, Any]:
    """A quote on the wire: money as decimal strings with the currency."""
    if found is None:
        cur = currency or "EUR"
        return {"environment_id": env.id, "currency": cur, "temporary": False, "days": None,
                "per_day": False, "lines": [], "charge": {"amount": as_text(Decimal(0), cur), "currency": cur},
                "within_allowance": True, "allowance": None, "accept_charges": None}
    cur = found.currency
    total, lines = _texts(found)
    charge = {"amount": total, "currency": cur}
    return {
        "environment_id": env.id, "currency": cur, "temporary": period is not None, "days": found.days,
        "per_day": period is None,
        "lines": [{"component": line.component, "from_size": line.from_size, "to_size": line.to_size,
                   "steps": [{"size": size, "price_per_day": price} for size, price in steps],
                   "price_per_day": daily, "days": line.days, "included_days": line.included_days,
                   "charge": line_charge}
                  for line, (steps, daily, line_charge) in zip(found.lines, lines)],
        "charge": charge,
        "within_allowance": found.within_allowance,
        "allowance": None if period is None else {
            "year": contract_year(period, now), "days": found.allowance_days, "used": found.used_days,
            "included": found.included_days, "left": found.days_left},
        "accept_charges": charge if found.costs_something else None,
    }


@lru_cache(maxsize=4096)
def _texts(found: Quote) -> tuple[str, tuple[tuple[tuple[tuple[str, str], ...], str, str], ...]]:
    """A quote's amounts as wire texts (its charge; each line's steps, price per day and charge),
    written once per process for each quote: quotes recur, and the texts are immutable."""
    cur = found.currency
    return as_text(found.charge, cur), tuple(
        (tuple((size, as_text(price, cur)) for size, price in line.steps), as_text(line.daily, cur),
         as_text(line.charge, cur)) for line in found.lines)


def step_prices(prices: PriceList | None, stage: str, component: str, sizes: Sequence[str]) -> list[dict[str, str]]:
    """For ``options``: the price per day of each size step a component may be raised to."""
    if prices is None:
        return []
    return [{"size": size, "price_per_day": as_text(prices.step_price(stage, component, size), prices.currency),
             "currency": prices.currency} for size in sizes]
