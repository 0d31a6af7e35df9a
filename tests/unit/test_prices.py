"""Quote arithmetic: exact decimals, never negative, additive, within the allowance iff free."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st

from service.domain.approval_policy import PolicyError

from service.domain.hosting import COMPONENTS, SIZES
from service.domain.prices import (
    PriceList, Raise, days_of, month_days, quote, usage_charge,
)

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2027, 3, 1, 8, tzinfo=UTC)

amounts = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
price_lists = st.dictionaries(
    st.tuples(st.just("stage"), st.sampled_from(COMPONENTS), st.sampled_from(SIZES[1:])),
    amounts, max_size=40).map(lambda prices: PriceList("EUR", prices))


@st.composite
def raises(draw: st.DrawFn) -> list[Raise]:
    components = draw(st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=4, unique=True))
    out = []
    for component in components:
        current = draw(st.integers(0, len(SIZES) - 2))
        target = draw(st.integers(current + 1, len(SIZES) - 1))
        out.append(Raise(component, SIZES[current], SIZES[target]))
    return out


def period(days: int) -> tuple[datetime, datetime]:
    return START, START + timedelta(days=days)


SAMPLE = PriceList("EUR", {("stage", "yves", "medium"): Decimal("12.00"),
                           ("stage", "yves", "large"): Decimal("18.50"),
                           ("stage", "database", "medium"): Decimal("20.00")})


def test_a_raise_over_two_steps_pays_both_steps_per_day() -> None:
    q = quote(SAMPLE, "stage", [Raise("yves", "small", "large")], period=period(3))
    assert q.days == 3
    assert q.lines[0].daily == Decimal("30.50")
    assert q.charge == Decimal("91.50")
    assert str(q.charge) == "91.50"


def test_included_days_cover_the_dearest_component_days_first() -> None:
    q = quote(SAMPLE, "stage", [Raise("yves", "small", "medium"), Raise("database", "small", "medium")],
              period=period(2), allowance_days=3, used_days=0)
    database, yves = q.lines[1], q.lines[0]
    assert (database.included_days, yves.included_days) == (2, 1)
    assert q.charge == Decimal("12.00") and q.days_left == 0 and not q.within_allowance


def test_a_permanent_upscale_is_quoted_per_day_without_included_days() -> None:
    q = quote(SAMPLE, "stage", [Raise("yves", "small", "medium")], period=None, allowance_days=10)
    assert q.days is None and q.included_days == 0 and q.charge == Decimal("12.00")


def test_a_step_the_list_does_not_name_is_free() -> None:
    q = quote(SAMPLE, "stage", [Raise("glue", "small", "2xlarge")], period=period(5))
    assert q.charge == 0 and q.within_allowance


@given(price_lists, raises(), st.integers(1, 400), st.integers(0, 500), st.integers(0, 500))
def test_a_quote_is_never_negative_and_exact(prices: PriceList, items: list[Raise], days: int,
                                            allowance: int, used: int) -> None:
    q = quote(prices, "stage", items, period=period(days), allowance_days=allowance, used_days=used)
    assert q.charge >= 0 and q.days_left >= 0
    assert all(line.charge >= 0 and 0 <= line.included_days <= days for line in q.lines)
    assert q.charge.as_tuple().exponent == -2
    assert q.charge == sum(line.charge for line in q.lines)
    assert q.included_days <= max(0, allowance - used)


@given(price_lists, raises(), st.integers(1, 200), st.integers(0, 500), st.integers(0, 500))
def test_within_the_allowance_iff_there_is_no_charge(prices: PriceList, items: list[Raise], days: int,
                                                     allowance: int, used: int) -> None:
    q = quote(prices, "stage", items, period=period(days), allowance_days=allowance, used_days=used)
    assert q.within_allowance == (q.charge == 0)
    charged_days = sum(days for line in q.lines if line.daily > 0)
    assert q.within_allowance == (charged_days <= max(0, allowance - used) or charged_days == 0)


@given(price_lists, raises(), st.integers(1, 200), st.integers(1, 200))
def test_without_an_allowance_charges_add_up_over_days(prices: PriceList, items: list[Raise], a: int,
                                                       b: int) -> None:
    def charge(days: int) -> Decimal:
        return quote(prices, "stage", items, period=period(days)).charge
    assert charge(a) + charge(b) == charge(a + b)


@given(price_lists, raises(), st.integers(1, 200))
def test_without_an_allowance_charges_add_up_over_components(prices: PriceList, items: list[Raise],
                                                             days: int) -> None:
    whole = quote(prices, "stage", items, period=period(days)).charge
    parts = sum(quote(prices, "stage", [item], period=period(days)).charge for item in items)
    assert whole == parts


@given(st.integers(1, 100), st.integers(0, 23))
def test_days_across_a_dst_change_are_elapsed_time_not_wall_clock(days: int, hour: int) -> None:
    for switch in (datetime(2027, 3, 28, hour, tzinfo=BERLIN), datetime(2027, 10, 31, hour, tzinfo=BERLIN)):
        start = switch - timedelta(days=1)
        end = start + timedelta(days=days)  # the same wall-clock time: 23 or 25 hours more or less
        elapsed = (end.astimezone(UTC) - start.astimezone(UTC)).total_seconds()
        assert days_of(start, end) == max(1, -(-int(elapsed) // 86400))
        utc_start = start.astimezone(UTC)
        assert days_of(start, utc_start + timedelta(days=days)) == days


def test_a_period_of_seconds_is_one_day() -> None:
    assert days_of(START, START + timedelta(seconds=5)) == 1


@given(st.integers(0, 200 * 86400), st.integers(1, 90 * 86400), st.integers(0, 10))
def test_usage_days_add_up_over_months(offset: int, seconds: int, included: int) -> None:
    started = datetime(2027, 1, 1, tzinfo=UTC) + timedelta(seconds=offset)
    ended = started + timedelta(seconds=seconds)
    months = [datetime(2027, m, 1, tzinfo=UTC) for m in range(1, 13)] + [datetime(2028, 1, 1, tzinfo=UTC)]
    now = datetime(2030, 1, 1, tzinfo=UTC)
    split = [month_days(started, ended, (a, b), now=now) for a, b in zip(months, months[1:])]
    assert sum(within for _, within in split) == days_of(started, ended)
    daily = Decimal("7.25")
    charged = sum(usage_charge(daily, included, before, within, "EUR") for before, within in split)
    assert charged == daily * max(0, days_of(started, ended) - included)


def test_an_open_usage_counts_until_now() -> None:
    month = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
    assert month_days(START, None, month, now=START + timedelta(days=2, hours=1)) == (0, 3)


def test_the_policy_matches_on_within_allowance() -> None:
    from service.adapters.policy_file import parse_text
    from service.domain.approval_policy import RequestFacts
    from service.domain.hosting import Stage, TicketType

    policy = parse_text("rules:\n  - name: free\n    match: {within_allowance: true}\n    approval: auto\n")
    facts = RequestFacts(type=TicketType.UPSCALE, stage=Stage.STAGE, account_ids=frozenset({"a"}))
    assert policy.decide(facts).rule is None
    assert policy.decide(dataclasses.replace(facts, within_allowance=True)).rule == "free"
    assert policy.decide(dataclasses.replace(facts, within_allowance=False)).rule is None
    with pytest.raises(PolicyError, match="line 3.*within_allowance"):
        parse_text("rules:\n  - name: free\n    match: {within_allowance: maybe}\n")


@given(st.integers(0, 10**12), st.sampled_from(["EUR", "JPY", "KWD"]))
def test_minor_units_are_written_as_the_decimal_amount(minor: int, currency: str) -> None:
    from service.domain.prices import MINOR_UNITS, as_text, minor_text

    assert minor_text(minor, currency) == as_text(Decimal(minor).scaleb(-MINOR_UNITS[currency]), currency)


@given(prices=price_lists, asked=st.lists(st.tuples(raises(), st.one_of(st.none(), st.integers(1, 40)),
                                                     st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=12))
def test_a_price_list_answers_each_quote_as_a_fresh_copy_of_it_would(
        prices: PriceList, asked: list[tuple[list[Raise], int | None, int, int]]) -> None:
    # A list keeps the quotes it worked out; asked again, in any order and mixed with others,
    # it answers what a list that never quoted before answers.
    for items, days, allowance, used in asked + asked[::-1]:
        when = period(days) if days is not None else None
        fresh = PriceList(prices.currency, dict(prices.prices))
        assert quote(prices, "stage", items, period=when, allowance_days=allowance, used_days=used) == \
            quote(fresh, "stage", items, period=when, allowance_days=allowance, used_days=used)
