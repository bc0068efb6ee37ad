"""Month arithmetic (collections_mi.core.periods): the one home for month-ends, month shifts and month counts, on dates
and on YYYY-MM periods — leap years, year ends and days past the 28th included."""

from __future__ import annotations

import datetime as dt

import pytest

from collections_mi.core import periods

D = dt.date


@pytest.mark.parametrize(
    ("day", "end"),
    [(D(2024, 2, 10), D(2024, 2, 29)), (D(2025, 2, 28), D(2025, 2, 28)), (D(2026, 12, 1), D(2026, 12, 31))],
)
def test_month_end(day: dt.date, end: dt.date) -> None:
    assert periods.month_end(day) == end
    assert periods.is_month_end(end) and (day == end or not periods.is_month_end(day))


def test_previous_and_latest_month_end() -> None:
    assert periods.previous_month_end(D(2026, 3, 31)) == D(2026, 2, 28)
    assert periods.previous_month_end(D(2026, 1, 15)) == D(2025, 12, 31)
    assert periods.latest_month_end(D(2026, 3, 31)) == D(2026, 3, 31)
    assert periods.latest_month_end(D(2026, 3, 30)) == D(2026, 2, 28)


def test_shifts_cross_year_ends_and_land_on_month_ends() -> None:
    assert periods.shift_month_end(D(2026, 10, 31), -12) == D(2025, 10, 31)
    assert periods.shift_month_end(D(2024, 1, 31), 1) == D(2024, 2, 29)  # not "Feb 31"
    assert periods.shift_month_end(D(2025, 11, 15), 3) == D(2026, 2, 28)
    assert periods.first_of_month_back(D(2026, 2, 17), 2) == D(2025, 12, 1)
    assert periods.first_of_month_back(D(2026, 2, 17), 0) == D(2026, 2, 1)


def test_months_between_counts_calendar_months_not_days() -> None:
    assert periods.months_between(D(2026, 1, 31), D(2026, 2, 1)) == 1
    assert periods.months_between(D(2026, 1, 1), D(2026, 1, 31)) == 0
    assert periods.months_between(D(2025, 11, 15), D(2026, 2, 3)) == 3
    assert periods.periods_between("2025-11", "2026-02") == 3
    assert periods.periods_between("2026-02", "2026-02") == 0


def test_month_end_lists() -> None:
    # a mid-month as_of closes its own list; a month-end as_of is one of the month-ends
    assert periods.month_ends_up_to(D(2026, 3, 15), 3) == [D(2026, 1, 31), D(2026, 2, 28), D(2026, 3, 15)]
    assert periods.month_ends_up_to(D(2026, 3, 31), 2) == [D(2026, 2, 28), D(2026, 3, 31)]
    # only whole months: the last month-end on or before the day
    assert periods.closed_month_ends_up_to(D(2026, 3, 15), 2) == [D(2026, 1, 31), D(2026, 2, 28)]
    assert periods.closed_month_ends_up_to(D(2026, 3, 31), 2) == [D(2026, 2, 28), D(2026, 3, 31)]


def test_periods_and_dates_agree() -> None:
    for period in periods.month_range("2023-11", "2024-03"):
        end = periods.month_end_of(period)
        assert end == periods.month_end(end.replace(day=1)) and f"{end:%Y-%m}" == period
    assert periods.shift_period("2026-01", -1) == "2025-12"
