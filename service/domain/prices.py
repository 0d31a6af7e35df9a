"""Prices and allowances: what an upscale costs. Pure arithmetic in ``decimal.Decimal``.

A price list names, per stage and component, the price per day of each size step, keyed by the
size the step reaches: raising a component from ``small`` to ``large`` pays the ``medium`` and
the ``large`` step. An account has an allowance of included upscale-days per contract year
(a calendar year, UTC), counted per component and day; included days cover the charged
component-days of temporary upscales, the dearest first, and only what is left is charged.

Rounding is stated once, here: every sum of money is ``money(...)``, rounded half up to the
currency's minor unit. Prices have at most that many decimals, so the sums are exact anyway.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable, Mapping, Sequence

from service.domain.hosting import SIZES, size_rank

ROUNDING = ROUND_HALF_UP
DAY = timedelta(days=1)
MINOR_UNITS: Mapping[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2,
    "HUF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SGD": 2, "HKD": 2, "INR": 2, "BRL": 2, "ZAR": 2,
    "JPY": 0, "KRW": 0, "ISK": 0, "KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3,
}
"""ISO 4217 currencies a price list may name, with their minor units."""
MONTH_PATTERN = r"^[1-9]\d{3}-(0[1-9]|1[0-2])$"
"""A month of usage as YYYY-MM (UTC), of the years 1000 to 9999."""


class PriceListError(ValueError):
    """The price list is not valid; the message names the line at fault when it is known."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


_MINOR_UNIT = {currency: Decimal(1).scaleb(-digits) for currency, digits in MINOR_UNITS.items()}


def minor_unit(currency: str) -> Decimal:
    return _MINOR_UNIT[currency]


def money(amount: Decimal, currency: str) -> Decimal:
    """The one rounding: half up to the currency's minor unit."""
    return amount.quantize(minor_unit(currency), rounding=ROUNDING)


def days_of(start: datetime, end: datetime) -> int:
    """Days charged for a period: every started 24 hours of elapsed time (at least one). Elapsed
    time, not wall-clock time: Python subtracts two times of one zone on the wall clock, so both
    are taken to UTC first (a local day across a DST change lasts 23 or 25 hours)."""
    seconds = (end.astimezone(timezone.utc) - start.astimezone(timezone.utc)).total_seconds()
    return max(1, math.ceil(seconds / 86400))


@dataclass(frozen=True)
class PriceList:
    currency: str = "EUR"
    prices: Mapping[tuple[str, str, str], Decimal] = field(default_factory=dict)
    """(stage, component, size reached) -> price per day of that step."""
    _quotes: dict[tuple[Any, ...], Quote] = field(default_factory=dict, init=False, compare=False, repr=False)
    """Quotes worked out, by what they depend on (``quote``): few shapes of request recur, and a
    list never changes once read."""

    def steps(self, stage: str, component: str, current: str, target: str) -> tuple[tuple[str, Decimal], ...]:
        """Each size step from ``current`` (exclusive) to ``target`` with its price per day; a
        step the list does not name costs nothing."""
        return tuple((size, self.prices.get((stage, component, size), Decimal(0)))
                     for size in SIZES[size_rank(current) + 1:size_rank(target) + 1])

    def step_price(self, stage: str, component: str, size: str) -> Decimal:
        return self.prices.get((stage, component, size), Decimal(0))

    def daily(self, stage: str, component: str, current: str, target: str) -> Decimal:
        return money(sum((p for _, p in self.steps(stage, component, current, target)), Decimal(0)),
                     self.currency)

    def kept_quote(self, key: tuple[Any, ...], work: Callable[[], Quote]) -> Quote:
        """The quote of ``key`` (what it depends on) as worked out once by ``work``."""
        found = self._quotes.get(key)
        if found is None:
            found = work()
            if len(self._quotes) >= QUOTES_KEPT:
                self._quotes.clear()
            self._quotes[key] = found
        return found

    @property
    def is_free(self) -> bool:
        return not any(self.prices.values())


@dataclass(frozen=True)
class Raise:
    """One component of an upscale: from its current size to the requested one."""

    component: str
    current: str
    target: str


@dataclass(frozen=True)
class QuoteLine:
    component: str
    from_size: str
    to_size: str
    steps: tuple[tuple[str, Decimal], ...]
    daily: Decimal
    days: int | None
    included_days: int
    charge: Decimal


@dataclass(frozen=True)
class Quote:
    currency: str
    days: int | None
    """The period's days; None for a permanent upscale (charged per day while it lasts)."""
    lines: tuple[QuoteLine, ...]
    allowance_days: int
    used_days: int
    """Included days the account used this contract year before this request."""
    included_days: int
    """Included days this request would use."""
    charge: Decimal
    """For a temporary upscale the whole charge; for a permanent one the charge per day."""

    @property
    def days_left(self) -> int:
        return max(0, self.allowance_days - self.used_days - self.included_days)

    @property
    def within_allowance(self) -> bool:
        return self.charge == 0

    @property
    def costs_something(self) -> bool:
        return self.charge > 0


def quote(prices: PriceList, stage: str, raises: Sequence[Raise], *,
          period: tuple[datetime, datetime] | None, allowance_days: int = 0,
          used_days: int = 0) -> Quote:
    """What an upscale of ``raises`` on an environment of ``stage`` costs. A temporary upscale
    (``period``) uses the included days left (``allowance_days`` - ``used_days``) on its
    charged component-days, dearest first; a permanent one is quoted per day, without them."""
    days = days_of(*period) if period else None
    return prices.kept_quote((stage, tuple(raises), days, allowance_days, used_days),
                             lambda: _quote(prices, stage, raises, days, allowance_days, used_days))


QUOTES_KEPT = 4096
"""At most this many quotes are kept per price list (all are forgotten when it is reached)."""


def _quote(prices: PriceList, stage: str, raises: Sequence[Raise], days: int | None,
           allowance_days: int, used_days: int) -> Quote:
    dailies = [prices.daily(stage, r.component, r.current, r.target) for r in raises]
    left = max(0, allowance_days - used_days) if days is not None else 0
    included = [0] * len(raises)
    for index in sorted(range(len(raises)), key=lambda i: -dailies[i]):
        if dailies[index] > 0 and days is not None:
            included[index] = min(days, left)
            left -= included[index]
    lines = tuple(
        QuoteLine(component=r.component, from_size=r.current, to_size=r.target,
                  steps=prices.steps(stage, r.component, r.current, r.target), daily=daily,
                  days=days, included_days=inc,
                  charge=money(daily * ((days if days is not None else 1) - inc), prices.currency))
        for r, daily, inc in zip(raises, dailies, included))
    return Quote(currency=prices.currency, days=days, lines=lines, allowance_days=allowance_days,
                 used_days=used_days, included_days=sum(included),
                 charge=money(sum((line.charge for line in lines), Decimal(0)), prices.currency))


def month_days(started: datetime, ended: datetime | None, month: tuple[datetime, datetime], *,
               now: datetime) -> tuple[int, int]:
    """(days before the month, days within it) of a usage from ``started`` to ``ended`` (open:
    until ``now``), each counted as started 24 hours since ``started``; summed over consecutive
    months they give the usage's days."""
    until = now.timestamp()
    end = min(ended.timestamp(), until) if ended is not None else until
    return split_days(started.timestamp(), end, month[0].timestamp(), month[1].timestamp())


def split_days(start: float, end: float, first: float, last: float) -> tuple[int, int]:
    """``month_days`` on POSIX timestamps (elapsed time, whatever the zones). The usage report
    counts the same in SQL (service.app.billing.usage), on a month's rows at once."""
    before = int(-(-(max(start, min(first, end)) - start) // 86400))
    upto = int(-(-(max(start, min(last, end)) - start) // 86400))
    return before, upto - before


def charged_days(included_days: int, before: int, within: int) -> int:
    """Of ``within`` days of a usage after ``before`` of its days, those beyond its included
    days (which come first)."""
    return max(0, before + within - included_days) - max(0, before - included_days)


def usage_charge(daily: Decimal, included_days: int, before: int, within: int, currency: str) -> Decimal:
    """The charge for ``within`` days of a usage after ``before`` of its days."""
    return money(daily * charged_days(included_days, before, within), currency)


def total(amounts: Iterable[Decimal], currency: str) -> Decimal:
    return money(sum(amounts, Decimal(0)), currency)


def minor_text(minor: int, currency: str) -> str:
    """An amount in minor units as ``as_text`` writes it (1850 EUR -> "18.50")."""
    digits = MINOR_UNITS[currency]
    if not digits:
        return str(minor)
    sign, minor = ("-", -minor) if minor < 0 else ("", minor)
    return f"{sign}{minor // 10 ** digits}.{minor % 10 ** digits:0{digits}d}"


def as_text(amount: Decimal, currency: str) -> str:
    """Money on the wire: a decimal string with the currency's minor units, never a float."""
    return str(money(amount, currency))
