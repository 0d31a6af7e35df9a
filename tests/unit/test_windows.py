"""Window arithmetic as properties: recurrences keep their wall-clock times across DST changes in
Europe/Berlin and America/New_York, windows cross midnight, overlaps are symmetric, and the first
clear instant after a run of windows is really clear."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from service.domain.errors import RuleViolation
from tests.support.recurrences import walked_from_the_first
from service.domain.windows import (
    Scope, Window, WindowIndex, WindowKind, applying, check_window, clear_after, covering,
    occurrences_in, occurring, overlaps,
)

UTC = timezone.utc
ZONES = ("Europe/Berlin", "America/New_York")
# Each zone's DST changes of 2026 and 2027 lie inside this range.
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(UTC))
wall_times = st.times(min_value=time(0, 0), max_value=time(23, 45)).map(
    lambda t: t.replace(second=0, microsecond=0, fold=0))
durations = st.integers(min_value=15, max_value=20 * 60).map(lambda m: timedelta(minutes=m))


def nightly(zone: str, at: time, length: timedelta, kind: WindowKind = WindowKind.MAINTENANCE,
            first: date = date(2025, 12, 1)) -> Window:
    tz = ZoneInfo(zone)
    start = datetime.combine(first, at, tzinfo=tz)
    end = (start.replace(tzinfo=None) + length).replace(tzinfo=tz)
    return Window(id=f"{zone}-{at}", kind=kind, title="nightly", start=start, end=end,
                  timezone=zone, rrule="FREQ=DAILY")


def oracle_covers(zone: str, at: time, length: timedelta, moment: datetime) -> bool:
    """Covered by a daily window, computed naively day by day from wall-clock times."""
    tz = ZoneInfo(zone)
    local_day = moment.astimezone(tz).date()
    for day in (local_day - timedelta(days=1), local_day):
        begins = datetime.combine(day, at)
        start = begins.replace(tzinfo=tz).astimezone(UTC)
        end = (begins + length).replace(tzinfo=tz).astimezone(UTC)
        if end <= start:
            end = start + length
        if start <= moment < end:
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(zone=st.sampled_from(ZONES), at=wall_times, length=durations, moment=instants)
def test_a_daily_window_covers_what_its_wall_clock_times_cover(zone: str, at: time, length: timedelta,
                                                               moment: datetime) -> None:
    window = nightly(zone, at, length)
    assert (covering([window], moment) is not None) == oracle_covers(zone, at, length, moment)


@settings(max_examples=100, deadline=None)
@given(zone=st.sampled_from(ZONES), at=wall_times, length=durations, since=instants,
       days=st.integers(min_value=1, max_value=60))
def test_occurrences_keep_their_local_start_across_dst(zone: str, at: time, length: timedelta,
                                                       since: datetime, days: int) -> None:
    window, tz = nightly(zone, at, length), ZoneInfo(zone)
    found = window.occurrences(since, since + timedelta(days=days))
    assert found, "a daily window occurs in every range of a day or more"
    for start, end in found:
        assert start < end and end > since and start < since + timedelta(days=days)
        local = start.astimezone(tz)
        exists = local.replace(tzinfo=None).time() == at
        skipped = datetime.combine(local.date(), at).replace(tzinfo=tz).astimezone(UTC) == start
        assert exists or skipped, f"{local} is not {at} in {zone}"
    starts = [s for s, _ in found]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


@settings(max_examples=100, deadline=None)
@given(zone=st.sampled_from(ZONES), at=wall_times, length=durations, a=instants,
       split=st.integers(min_value=1, max_value=30 * 24), rest=st.integers(min_value=1, max_value=30 * 24))
def test_a_range_split_in_two_finds_the_same_occurrences(zone: str, at: time, length: timedelta,
                                                         a: datetime, split: int, rest: int) -> None:
    window = nightly(zone, at, length)
    b, c = a + timedelta(hours=split), a + timedelta(hours=split + rest)
    whole = set(window.occurrences(a, c))
    assert whole == set(window.occurrences(a, b)) | set(window.occurrences(b, c))


spans = st.tuples(instants, st.integers(min_value=0, max_value=72 * 60)).map(
    lambda p: (p[0], p[0] + timedelta(minutes=p[1])))


@given(a=spans, b=spans)
def test_overlap_is_symmetric_and_agrees_with_shared_instants(a: tuple[datetime, datetime],
                                                              b: tuple[datetime, datetime]) -> None:
    assert overlaps(a, b) == overlaps(b, a)
    if a[0] < a[1] and b[0] < b[1]:
        assert overlaps(a, b) == (max(a[0], b[0]) < min(a[1], b[1]))


@settings(max_examples=150, deadline=None)
@given(zone=st.sampled_from(ZONES), at=wall_times, length=durations, moment=instants,
       extra=st.integers(min_value=0, max_value=48))
def test_the_first_clear_instant_is_clear_and_nothing_before_it_is(zone: str, at: time, length: timedelta,
                                                                    moment: datetime, extra: int) -> None:
    one = nightly(zone, at, length, kind=WindowKind.FREEZE)
    # A one-off freeze that may chain onto the nightly one.
    other = Window(id="once", kind=WindowKind.FREEZE, title="once", start=moment,
                   end=moment + timedelta(hours=extra) + timedelta(minutes=1))
    clear = clear_after([one, other], moment)
    assert clear > moment
    assert covering([one, other], clear) is None
    step = (clear - moment) / 7
    for i in range(7):
        assert covering([one, other], moment + step * i) is not None


def test_a_window_across_midnight_covers_both_evenings_and_mornings() -> None:
    window = nightly("Europe/Berlin", time(22), timedelta(hours=4))
    berlin = ZoneInfo("Europe/Berlin")
    assert covering([window], datetime(2026, 7, 1, 23, 30, tzinfo=berlin)) is not None
    assert covering([window], datetime(2026, 7, 2, 1, 30, tzinfo=berlin)) is not None
    assert covering([window], datetime(2026, 7, 2, 2, 0, tzinfo=berlin)) is None
    assert covering([window], datetime(2026, 7, 2, 12, 0, tzinfo=berlin)) is None


def test_a_berlin_night_window_moves_in_utc_when_the_clocks_change() -> None:
    window = nightly("Europe/Berlin", time(22), timedelta(hours=4))
    winter, summer = (window.occurrences(datetime(2026, m, d, tzinfo=UTC), datetime(2026, m, d, 23, tzinfo=UTC))
                      for m, d in ((3, 20), (4, 20)))
    assert winter[0][0].hour == 21 and summer[0][0].hour == 20


def test_a_new_york_window_on_the_night_of_the_fall_change_lasts_an_hour_longer() -> None:
    window = nightly("America/New_York", time(0, 30), timedelta(hours=3))
    (start, end), = window.occurrences(datetime(2026, 11, 1, 4, tzinfo=UTC),
                                       datetime(2026, 11, 1, 5, tzinfo=UTC))
    assert end - start == timedelta(hours=4)


def test_until_and_count_end_a_recurrence() -> None:
    window = Window(id="w", kind=WindowKind.FREEZE, title="Black Friday week",
                    start=datetime(2026, 11, 23, tzinfo=UTC), end=datetime(2026, 11, 24, tzinfo=UTC),
                    rrule="FREQ=DAILY;COUNT=7")
    found = occurrences_in([window], datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert len(found) == 7 and found[-1].end == datetime(2026, 11, 30, tzinfo=UTC)
    assert clear_after([window], datetime(2026, 11, 25, 12, tzinfo=UTC)) == datetime(2026, 11, 30, tzinfo=UTC)


def test_scope_narrows_the_windows_to_an_environment() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    everywhere = Window("a", WindowKind.FREEZE, "all", start, end)
    prod = Window("b", WindowKind.FREEZE, "prod", start, end, scope=Scope(stage="prod"))
    theirs = Window("c", WindowKind.FREEZE, "acc", start, end, scope=Scope(account_id="other"))
    found = applying([everywhere, prod, theirs], environment_id="e", account_id="mine", stage="prod")
    assert [w.id for w in found] == ["a", "b"]


@pytest.mark.parametrize("changes,field", [
    ({"rrule": "FREQ=SECONDLY"}, "rrule"),
    ({"rrule": "FREQ=DAILY;BYHOUR=99"}, "rrule"),
    ({"rrule": "not a rule"}, "rrule"),
    ({"rrule": "FREQ=DAILY\nDTSTART:20260101T000000Z"}, "rrule"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": ""}, "timezone"),
    ({"end": datetime(2025, 12, 31, tzinfo=UTC)}, "end"),
    ({"end": datetime(2028, 1, 1, tzinfo=UTC)}, "end"),
])
def test_a_window_that_cannot_be_computed_is_refused_naming_the_field(changes: dict, field: str) -> None:
    base = dict(id="w", kind=WindowKind.MAINTENANCE, title="t", start=datetime(2026, 1, 1, tzinfo=UTC),
                end=datetime(2026, 1, 1, 2, tzinfo=UTC), timezone="UTC", rrule=None)
    with pytest.raises(RuleViolation) as raised:
        check_window(Window(**{**base, **changes}))
    assert raised.value.rule == "window_invalid" and field in raised.value.extra["errors"]


# --- recurrences asked about long after they began --------------------------------------------

@pytest.mark.parametrize("zone,at", [("Europe/Berlin", time(2, 30)), ("America/New_York", time(1, 30)),
                                     ("Europe/Berlin", time(0, 0))])
def test_a_nightly_window_started_a_year_ago_keeps_its_wall_clock_time_across_dst(zone: str, at: time) -> None:
    window = nightly(zone, at, timedelta(hours=2), first=date(2025, 3, 1))
    for moment in (datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 10, 24, tzinfo=UTC),
                   datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 3, 13, tzinfo=UTC)):
        until = moment + timedelta(days=3)
        assert window.occurrences(moment, until) == walked_from_the_first(window, moment, until)
        assert len(window.occurrences(moment, until)) >= 3


RULES = (None, "FREQ=DAILY", "FREQ=WEEKLY;BYDAY=SU", "FREQ=MONTHLY;BYMONTHDAY=1", "FREQ=HOURLY;INTERVAL=5",
         "FREQ=DAILY;COUNT=3")
SCOPES = (Scope(), Scope(stage="prod"), Scope(stage="dev"), Scope(account_id="mine"), Scope(account_id="other"),
          Scope(environment_id="e"), Scope(environment_id="f"), Scope(stage="prod", account_id="mine"),
          Scope(stage="dev", environment_id="e"))


@st.composite
def windows(draw: st.DrawFn) -> Window:
    zone = draw(st.sampled_from(("UTC",) + ZONES))
    start = draw(instants).astimezone(ZoneInfo(zone))
    length = draw(st.sampled_from((timedelta(minutes=1), timedelta(hours=4), timedelta(days=2),
                                   timedelta(days=12))))
    rule = draw(st.sampled_from(RULES))
    if rule is not None and rule.startswith("FREQ=HOURLY"):
        length = min(length, timedelta(hours=4))
    return Window(id=f"w{draw(st.integers(0, 10**6))}", kind=draw(st.sampled_from(WindowKind)), title="t",
                  start=start, end=start + length, timezone=zone, rrule=rule, scope=draw(st.sampled_from(SCOPES)))


@settings(max_examples=200, deadline=None)
@given(found=st.lists(windows(), max_size=8, unique_by=lambda w: w.id), since=instants,
       length=st.sampled_from((timedelta(0), timedelta(microseconds=1), timedelta(hours=3), timedelta(days=9),
                               timedelta(days=40))),
       environment=st.sampled_from((("e", "mine", "prod"), ("f", "other", "dev"), ("g", "mine", "stage"))))
def test_the_index_answers_as_the_windows_themselves_for_any_environment_and_range(
        found: list[Window], since: datetime, length: timedelta, environment: tuple[str, str, str]) -> None:
    env, account, stage = environment
    index = WindowIndex(found).covering(environment_id=env, account_id=account, stage=stage)
    plain = applying(found, environment_id=env, account_id=account, stage=stage)
    until = since + length
    assert index.occurrences(since, until) == occurrences_in(plain, since, until)
    assert occurring(index, since, until, frozenset({WindowKind.FREEZE})) == \
        occurring(plain, since, until, frozenset({WindowKind.FREEZE}))
    assert clear_after(index, since) == clear_after(plain, since)
    assert covering(index, since) == covering(plain, since)


def test_the_index_keeps_a_bounded_number_of_weeks() -> None:
    from service.domain import windows as module

    window = nightly("Europe/Berlin", time(22), timedelta(hours=4))
    index = WindowIndex([window])
    view = index.covering(environment_id="e", account_id="a", stage="prod")
    monday = datetime(2026, 1, 5, tzinfo=UTC)
    for week in range(module.WEEKS_INDEXED + 10):
        at = monday + timedelta(weeks=week)
        assert view.occurrences(at, at + timedelta(days=7)) == occurrences_in([window], at, at + timedelta(days=7))
        assert index.weeks_kept <= module.WEEKS_INDEXED


@pytest.mark.parametrize("since,until", [
    (datetime(9999, 12, 30, tzinfo=UTC), datetime.max.replace(tzinfo=UTC)),
    (datetime.max.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)),
    (datetime.min.replace(tzinfo=UTC), datetime(1, 1, 3, tzinfo=UTC)),
])
def test_questions_at_the_ends_of_time_are_answered_without_leaving_the_range_of_datetime(
        since: datetime, until: datetime) -> None:
    windows = [nightly("Europe/Berlin", time(22), timedelta(hours=4)),
               Window("once", WindowKind.FREEZE, "once", datetime(2026, 1, 1, tzinfo=UTC),
                      datetime(2026, 1, 2, tzinfo=UTC))]
    for asked in (windows, WindowIndex(windows).covering(environment_id="e", account_id="a", stage="prod")):
        assert occurring(asked, since, until) == []
        assert covering(asked, until) is None
        assert clear_after(asked, since) == since
