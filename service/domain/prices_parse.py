"""Reading a price list from plain data, strictly: every unknown key, wrong type or value is
refused with the line it sits on (``lines`` maps a key's path to its line in the file)."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Mapping

from service.domain.hosting import COMPONENTS, SIZES, Stage
from service.domain.prices import MINOR_UNITS, PriceList, PriceListError

Path = tuple[str | int, ...]
_AMOUNT = re.compile(r"^\d{1,9}(\.\d+)?$")
STEP_SIZES = SIZES[1:]
"""The sizes a step can reach: every size above the smallest."""


def parse_price_list(data: Any, lines: Mapping[Path, int] | None = None) -> PriceList:
    """A PriceList from ``{"currency": ..., "stages": {stage: {component: {size: price}}}}``;
    raises PriceListError naming the line at fault."""
    at = lines or {}

    def fail(path: Path, message: str) -> PriceListError:
        for end in range(len(path), -1, -1):
            if path[:end] in at:
                return PriceListError(message, line=at[path[:end]])
        return PriceListError(message)

    def mapping(value: Any, path: Path, what: str, allowed: tuple[str, ...]) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise fail(path, f"{what} must be a mapping")
        for key in value:
            if key not in allowed:
                raise fail(path + (key,) if isinstance(key, (str, int)) else path,
                           f"unknown key {key!r} in {what}; expected one of {', '.join(allowed)}")
        return value

    top = mapping(data, (), "the price list", ("currency", "stages"))
    currency = top.get("currency")
    if currency not in MINOR_UNITS:
        raise fail(("currency",), f"'currency' must be an ISO 4217 code such as EUR, not {currency!r}")
    prices: dict[tuple[str, str, str], Decimal] = {}
    stages = mapping(top.get("stages", {}), ("stages",), "'stages'", tuple(s.value for s in Stage))
    for stage, components in stages.items():
        path: Path = ("stages", stage)
        for component, steps in mapping(components or {}, path, f"stage {stage!r}", COMPONENTS).items():
            where = path + (component,)
            for size, price in mapping(steps or {}, where, f"{stage}.{component}", STEP_SIZES).items():
                prices[(stage, component, size)] = _amount(price, currency, where + (size,), fail)
    return PriceList(currency=currency, prices=prices)


def _amount(value: Any, currency: str, path: Path, fail: Any) -> Decimal:
    digits = MINOR_UNITS[currency]
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not _AMOUNT.match(str(value)):
        raise fail(path, f"a price must be a quoted decimal amount of at least 0 such as \"12.00\", "
                         f"not {value!r}")
    amount = Decimal(str(value))
    if -amount.as_tuple().exponent > digits:  # type: ignore[operator]
        raise fail(path, f"{currency} has {digits} decimal place{'' if digits == 1 else 's'}; "
                         f"{value!r} has more")
    return amount


def to_data(prices: PriceList) -> dict[str, Any]:
    """The price list as plain data that ``parse_price_list`` reads back to an equal list."""
    stages: dict[str, dict[str, dict[str, str]]] = {}
    for (stage, component, size), price in sorted(
            prices.prices.items(), key=lambda item: (item[0][0], COMPONENTS.index(item[0][1]),
                                                      SIZES.index(item[0][2]))):
        stages.setdefault(stage, {}).setdefault(component, {})[size] = str(price)
    return {"currency": prices.currency, "stages": stages}
