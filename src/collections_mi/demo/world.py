"""The demo's world: seeded random streams, day numbers, the invoice calendar and FX rates.

Dates are held as integer day numbers (days since 1970-01-01) so that whole columns are computed at once;
``to_date`` turns one back into a ``datetime.date``. Shares of money are integer millionths, so that
money × share stays exact in integer cents.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from collections_mi.demo.columns import date_array, scaled_decimal_array, string_array_from
from collections_mi.demo.schemas import RATE_SCALE, RATE_TYPE, SCHEMAS

# ---------------------------------------------------------------------------------------------------
# Random streams and draws
# ---------------------------------------------------------------------------------------------------


class Stream:
    """One random stream per purpose: adding a table never changes the numbers of another."""

    CUSTOMERS = 1
    FX = 2
    INVOICES = 3
    BROKEN_PROMISES = 4
    AGENCIES = 5
    LOANS = 6
    DISPUTES = 7
    UNAPPLIED_CASH = 8
    CASH_ON_ACCOUNT = 9


def random_stream(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    """An independent generator per purpose (and per chunk), so chunks never share random numbers."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream, index]))


def uniform_int(rng: np.random.Generator, low: int | np.ndarray, high: int | np.ndarray, size: int) -> np.ndarray:
    """Integers uniform in [low, high] (inclusive, bounds may be arrays)."""
    return rng.integers(low, np.asarray(high) + 1, size=size, dtype=np.int64)


MILLIONTHS = 1_000_000


def random_share(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    """Random shares in [low, high], as integer millionths so that money × share stays exact."""
    return uniform_int(rng, round(low * MILLIONTHS), round(high * MILLIONTHS), size)


def share_of(cents: np.ndarray, share_millionths: np.ndarray) -> np.ndarray:
    """floor(cents × share), in integers."""
    return cents * share_millionths // MILLIONTHS


def weighted_draw(rng: np.random.Generator, cumulative_weight: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probability proportional to each weight (given as a cumulative sum)."""
    target = rng.random(size) * cumulative_weight[-1]
    return np.minimum(np.searchsorted(cumulative_weight, target, side="right"), cumulative_weight.size - 1)


def categorical(rng: np.random.Generator, shares: np.ndarray, size: int) -> np.ndarray:
    """Category codes drawn with the given shares."""
    return np.searchsorted(np.cumsum(shares) / shares.sum(), rng.random(size), side="right")


# ---------------------------------------------------------------------------------------------------
# Day numbers
# ---------------------------------------------------------------------------------------------------

_EPOCH = datetime.date(1970, 1, 1)
NEVER = np.iinfo(np.int64).max // 4  # a day number later than any real date


def to_days(day: datetime.date) -> int:
    return (day - _EPOCH).days


def to_date(days: int) -> datetime.date:
    return _EPOCH + datetime.timedelta(days=int(days))


def weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday)."""
    return (days + 3) % 7


def next_business_day(days: np.ndarray) -> np.ndarray:
    day_of_week = weekday(days)
    return days + np.where(day_of_week == 5, 2, np.where(day_of_week == 6, 1, 0))


def previous_business_day(days: np.ndarray) -> np.ndarray:
    day_of_week = weekday(days)
    return days - np.where(day_of_week == 5, 1, np.where(day_of_week == 6, 2, 0))


def month_number(days: np.ndarray | int) -> np.ndarray:
    """Months since 1970-01 of each day."""
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def first_of_month_number(months: np.ndarray) -> np.ndarray:
    """Day number of the first day of each month (months since 1970-01)."""
    return np.asarray(months, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def end_of_month_number(months: np.ndarray) -> np.ndarray:
    """Day number of the last day of each month (months since 1970-01)."""
    return ((np.asarray(months, dtype=np.int64) + 1).astype("datetime64[M]").astype("datetime64[D]") - 1).astype(
        np.int64
    )


def month_end_on_or_after(days: np.ndarray) -> np.ndarray:
    """The last day of each day's month."""
    return end_of_month_number(month_number(days))


# ---------------------------------------------------------------------------------------------------
# The invoice calendar
# ---------------------------------------------------------------------------------------------------

_SEASONALITY = np.array([0.92, 0.90, 1.00, 0.98, 0.97, 0.90, 0.82, 0.80, 0.98, 1.08, 1.16, 1.22])
_ANNUAL_GROWTH = 1.08
_WEEKDAY_ACTIVITY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.05, 0.02])  # Monday .. Sunday


@dataclass(frozen=True)
class Calendar:
    """The invoice months: how many invoices each day gets, their month-ends and the stressed quarter."""

    first_day: int
    end_day: int
    first_invoice_day: int
    last_invoice_day: int
    cumulative_invoices_by_day: np.ndarray  # invoice i is dated first_day + searchsorted(cum, i, 'right')
    month_ends: np.ndarray  # every month-end ≤ end in the invoice months
    stress_start: int
    stress_end: int

    @property
    def latest_month_end(self) -> int:
        if self.month_ends.size:
            return int(self.month_ends[-1])
        return self.first_day - 1


def build_calendar(end: datetime.date, months: int, invoices: int) -> Calendar:
    """``months`` calendar months ending at ``end``, with seasonality, growth and quiet weekends."""
    end_day = to_days(end)
    end_month = np.datetime64(end, "M")
    first_month = end_month - (months - 1)
    first_day = int(first_month.astype("datetime64[D]").astype(np.int64))
    all_month_ends = ((np.arange(first_month, end_month + 1) + 1).astype("datetime64[D]") - 1).astype(np.int64)
    month_ends = all_month_ends[all_month_ends <= end_day]

    days = np.arange(first_day, end_day + 1, dtype=np.int64)
    calendar_month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    weight = (
        _SEASONALITY[calendar_month]
        * _ANNUAL_GROWTH ** ((days - first_day) / 365.25)
        * _WEEKDAY_ACTIVITY[weekday(days)]
    )
    invoices_by_day = _largest_remainder_allocation(weight, invoices)
    cumulative = np.cumsum(invoices_by_day)
    busy_days = days[invoices_by_day > 0]

    # the stressed quarter: the calendar quarter 15 months before end (or the middle of a short range)
    anchor = end_month - 15 if months > 18 else first_month + (months - 1) // 2
    quarter_start = anchor - (anchor.astype(np.int64) % 3)
    stress_start = int(quarter_start.astype("datetime64[D]").astype(np.int64))
    stress_end = int(((quarter_start + 3).astype("datetime64[D]") - 1).astype(np.int64))

    return Calendar(
        first_day=first_day,
        end_day=end_day,
        first_invoice_day=int(busy_days[0]),
        last_invoice_day=int(busy_days[-1]),
        cumulative_invoices_by_day=cumulative,
        month_ends=month_ends,
        stress_start=stress_start,
        stress_end=stress_end,
    )


def _largest_remainder_allocation(weight: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weight`` (deterministic, exact total)."""
    exact = weight / weight.sum() * total
    counts = np.floor(exact).astype(np.int64)
    shortfall = total - int(counts.sum())
    if shortfall:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:shortfall]] += 1
    return counts


# ---------------------------------------------------------------------------------------------------
# FX rates
# ---------------------------------------------------------------------------------------------------

CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP")
# USD per unit: (centre of the walk, lower bound, upper bound)
_USD_PER_UNIT_BANDS: dict[str, tuple[float, float, float]] = {
    "EUR": (1.10, 1.05, 1.15),
    "GBP": (1.275, 1.20, 1.35),
}


@dataclass(frozen=True)
class FxRates:
    """Business-day rates of every demo currency into the reporting currency, as integer millionths."""

    dates: np.ndarray  # business days, ascending
    reporting_per_unit: np.ndarray  # (currency, date) → units of reporting currency per unit, in millionths
    lowest_reporting_per_unit: np.ndarray  # per currency, the lowest rate over the whole table

    def closing_index(self, days: np.ndarray) -> np.ndarray:
        """Index of the latest rate dated on or before each day."""
        index = np.searchsorted(self.dates, days, side="right") - 1
        if np.any(index < 0):
            raise RuntimeError("internal error: an fx rate was requested before the first rate date")
        return index

    def to_table(self, reporting_code: int) -> pa.Table:
        """The ``fx_rates`` table: one row per business day and currency other than the reporting one."""
        foreign = [code for code in range(len(CURRENCIES)) if code != reporting_code]
        dates = np.repeat(self.dates, len(foreign))
        codes = np.tile(np.array(foreign), self.dates.size)
        rates = self.reporting_per_unit[foreign].T.reshape(-1)
        return pa.Table.from_arrays(
            [date_array(dates), string_array_from(CURRENCIES, codes), scaled_decimal_array(rates, RATE_TYPE)],
            schema=SCHEMAS["fx_rates"],
        )


def build_fx_rates(rng: np.random.Generator, calendar: Calendar, reporting_code: int) -> FxRates:
    """Mean-reverting random walks of USD per EUR / GBP on business days, 6 decimals.

    They start on the last business day at least 10 days before the first day of the invoice months (the
    first invoice's day at any realistic size), so every prepayment and month-end has a closing rate.
    """
    start = int(previous_business_day(np.array([calendar.first_day - 10]))[0])
    all_days = np.arange(start, calendar.end_day + 1, dtype=np.int64)
    dates = all_days[weekday(all_days) < 5]
    usd_per_unit = np.empty((len(CURRENCIES), dates.size), dtype=np.int64)
    usd_per_unit[CURRENCIES.index("USD")] = RATE_SCALE
    for currency, (centre, low, high) in _USD_PER_UNIT_BANDS.items():
        shocks = rng.standard_normal(dates.size) * 0.0045
        level = np.empty(dates.size)
        log_centre, log_low, log_high = np.log(centre), np.log(low), np.log(high)
        current = log_centre + rng.uniform(-0.02, 0.02)
        for step in range(dates.size):  # one step per business day (~550 a run), not per invoice
            current += 0.01 * (log_centre - current) + shocks[step]
            current = min(max(current, log_low + 0.002), log_high - 0.002)
            level[step] = current
        usd_per_unit[CURRENCIES.index(currency)] = np.rint(np.exp(level) * RATE_SCALE).astype(np.int64)

    # cross rates into the reporting currency, rounded half-up to 6 decimals with integer arithmetic
    reporting_usd = usd_per_unit[reporting_code]
    reporting_per_unit = (2 * usd_per_unit * RATE_SCALE + reporting_usd) // (2 * reporting_usd)
    reporting_per_unit[reporting_code] = RATE_SCALE
    return FxRates(
        dates=dates,
        reporting_per_unit=reporting_per_unit,
        lowest_reporting_per_unit=reporting_per_unit.min(axis=1),
    )
