"""FX conversion at the closing rate: the latest rate with rate_date ≤ the date (data-contract.md).

Conversion is linear, so engine sums per currency and day, converted afterwards in Decimal, equal converting each
item: :func:`conversion_sums` groups so that this holds, :func:`convert_column` converts a frame's column.

Where the engine can multiply exactly (:func:`engine_rates`), :func:`reporting_sums` converts each row in the engine
instead (the closing rate per currency and day as a small table, joined) and only the sums per group leave it — the
same values; the Python conversion stays for the rest (Spark, rates with more than :data:`ENGINE_RATE_SCALE`
decimals)."""

from __future__ import annotations

import bisect
import datetime as dt
import decimal
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NoReturn

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collections_mi.core.contract import ENGINE_TYPES
from collections_mi.core.errors import MissingFxRate
from collections_mi.core.money import MONEY_CONTEXT, mul, to_decimal

ONE = Decimal(1)


@dataclass(frozen=True)
class FxRates:
    """Rates in units of reporting currency per 1 unit of ``currency``; the reporting currency is 1."""

    reporting_currency: str
    dates: Mapping[str, list[dt.date]] = field(default_factory=dict)
    rates: Mapping[str, list[Decimal]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, reporting_currency: str, rows: list[tuple[dt.date, str, Decimal]]) -> FxRates:
        dates: dict[str, list[dt.date]] = {}
        rates: dict[str, list[Decimal]] = {}
        for rate_date, currency, rate in sorted(rows, key=lambda r: (r[1], r[0])):
            currency_dates = dates.setdefault(currency, [])
            if currency_dates and currency_dates[-1] == rate_date:
                rates[currency][-1] = to_decimal(rate)  # a repeated date: the last row wins (validation flags it)
                continue
            currency_dates.append(rate_date)
            rates.setdefault(currency, []).append(to_decimal(rate).normalize())
        return cls(reporting_currency, dates, rates)

    def rate(self, currency: str | None, on: dt.date) -> Decimal:
        if currency is None or currency == self.reporting_currency:
            return ONE
        currency_dates = self.dates.get(currency)
        if not currency_dates:
            raise MissingFxRate(
                f"fx_rates has no rate for {currency} (needed on {on})",
                hint=f"add fx_rates rows for {currency} → {self.reporting_currency}",
            )
        position = bisect.bisect_right(currency_dates, on) - 1
        if position < 0:
            raise MissingFxRate(
                f"fx_rates has no {currency} rate on or before {on} (first is {currency_dates[0]})",
                hint=f"add a {currency} rate dated on or before {on}",
            )
        return self.rates[currency][position]

    def rates_for(self, currencies: Sequence[str | None], days: Sequence[dt.date]) -> np.ndarray:
        """The closing rate for each (currency, day) pair, as :meth:`rate` gives it, looked up in bulk
        (an object array of the same Decimals). Raises :class:`MissingFxRate` as :meth:`rate` would, for the
        earliest day lacking a rate."""
        currency_array = np.asarray(currencies, dtype=object)
        day_array = np.asarray(days, dtype=object)
        out = np.empty(len(currency_array), dtype=object)
        for currency in dict.fromkeys(currency_array.tolist()):
            mask = (
                currency_array == currency
                if currency is not None
                else np.array([c is None for c in currency_array.tolist()], dtype=bool)
            )
            if currency is None or currency == self.reporting_currency:
                out[mask] = ONE
                continue
            wanted = day_array[mask]
            if currency not in self.dates or not self.dates[currency]:
                self.rate(currency, min(wanted))  # raises, naming the currency
            known = np.array(self.dates[currency], dtype="datetime64[D]")
            positions = np.searchsorted(known, np.array(wanted, dtype="datetime64[D]"), side="right") - 1
            if (positions < 0).any():
                self.rate(currency, min(wanted[positions < 0]))  # raises, naming the first such day
            out[mask] = np.asarray(self.rates[currency], dtype=object)[positions]
        return out

    def convert(self, amount: Decimal, currency: str | None, on: dt.date) -> Decimal:
        """``amount`` in ``currency`` → reporting currency at the closing rate of ``on`` (exact)."""
        if amount == 0:
            return amount
        return mul(to_decimal(amount), self.rate(currency, on))


def load_fx(fx_rates: ir.Table | None, reporting_currency: str) -> FxRates:
    """Read the (small) fx_rates table; an absent table gives reporting-currency-only rates."""
    if fx_rates is None:
        return FxRates(reporting_currency)
    frame = fx_rates.select("rate_date", "currency", "rate").to_pyarrow().to_pylist()
    rows = [
        (r["rate_date"], r["currency"].upper(), r["rate"])
        for r in frame
        if r["rate_date"] is not None and r["currency"] is not None and r["rate"] is not None
    ]
    return FxRates.from_rows(reporting_currency, rows)


def convert_column(frame: pd.DataFrame, fx: FxRates, amount: str, currency: str, on: str | dt.date) -> pd.Series:
    """Exact reporting-currency amounts for each row: amount × closing rate of the row's date (or one date).

    The same Decimals as :meth:`FxRates.convert` row by row (a zero amount stays as it is), with the rates
    looked up in bulk."""
    if not len(frame):
        return pd.Series([], index=frame.index, dtype="object")
    days = [on] * len(frame) if isinstance(on, dt.date) else frame[on].tolist()
    raw = frame[amount].tolist()
    amounts = np.array([to_decimal(a) for a in raw], dtype=object)
    unchanged = np.array([a is not None and a == 0 for a in raw], dtype=bool)
    with decimal.localcontext(MONEY_CONTEXT):
        converted = amounts * fx.rates_for(frame[currency].tolist(), days)
    return pd.Series(np.where(unchanged, amounts, converted), index=frame.index, dtype="object")


#: rows per part of :func:`in_parts`: a few hundred MB of Python objects at most
PART_ROWS = 500_000


def in_parts(expression: ir.Table) -> Iterator[pd.DataFrame]:
    """The rows of ``expression`` (e.g. :func:`conversion_sums` per customer and day, millions of rows on a large
    book) as frames of at most :data:`PART_ROWS` rows, for the caller to convert and sum part by part. The Arrow
    result is compact; its rows as Python objects (a Decimal per amount) are what would not fit at once. (Not
    streamed from the engine: Ibis 12's record-batch reader calls a method DuckDB 2.0 removed.)"""
    arrow = expression.to_pyarrow()
    for batch in arrow.to_batches(max_chunksize=PART_ROWS):
        if batch.num_rows:
            yield batch.to_pandas()


def conversion_sums(
    table: ir.Table,
    reporting_currency: str,
    day: str,
    keys: list[str],
    measures: Callable[[ir.Table], dict[str, ir.Value]],
    keep_day: bool = False,
) -> ir.Table:
    """Sums per ``keys`` that can be converted exactly afterwards: rows in a foreign currency are kept apart per
    ``currency`` and ``day`` (each day has its own closing rate), rows in the reporting currency (rate 1) only per
    ``keys`` — or per ``keys`` and ``day`` with ``keep_day`` — with ``currency`` set to the reporting currency and
    ``day`` null. Fewer rows leave the engine: most of a book is usually in its reporting currency."""
    local = table.filter(table.currency == reporting_currency)
    foreign = table.filter(table.currency != reporting_currency)
    local_keys = list(dict.fromkeys([*keys, day])) if keep_day else keys
    local_sums = (
        local.group_by(local_keys)
        .aggregate(**measures(local))
        .mutate(currency=ibis.literal(reporting_currency, "string"))
    )
    if not keep_day:
        local_sums = local_sums.mutate(**{day: ibis.null("date")})
    foreign_sums = foreign.group_by(list(dict.fromkeys([*keys, "currency", day]))).aggregate(**measures(foreign))
    columns = list(dict.fromkeys([*keys, "currency", day, *measures(foreign)]))
    return local_sums.select(*columns).union(foreign_sums.select(*columns))


#: the most decimals a rate may have (normalised) for the engine to convert: money has 4 decimals, so converted
#: amounts have at most 14, and their sums (× days, for the settlement sums) fit a 38-digit decimal up to 10^24
ENGINE_RATE_SCALE = 10
#: the engine type of money (data-contract.md: decimal(18, 4)) and its decimals
_MONEY_TYPE = ENGINE_TYPES["money"]
_MONEY_SCALE = 4
#: engines whose decimal products may round (Spark reduces the scale of a product wider than 38 digits)
_ROUNDING_ENGINES = frozenset({"pyspark"})


@dataclass(frozen=True)
class EngineRates:
    """The closing rate of every foreign currency on every day from its first rate to the last date a run converts
    at, as an engine table (``currency``, ``rate_day``, ``rate`` as decimal(38, ``scale``)); converted amounts are
    decimal(38, 4 + ``scale``): exact, as the Python conversion. (The engine multiplies decimal(18, 4) money by the
    rate at scale 4 + ``scale``, and refuses a product that does not fit rather than rounding it; the scale is at
    least 4 so that Ibis can type the product.)"""

    reporting_currency: str
    scale: int
    daily: ir.Table | None

    @property
    def amount_type(self) -> str:
        return f"decimal(38, {_MONEY_SCALE + self.scale})"

    def converted(self, table: ir.Table, day: str) -> ir.Table:
        """``table`` with ``amount`` in reporting currency at the closing rate of its ``day`` (rows in the reporting
        currency unchanged) and ``unrated``: true on a foreign row without a rate on that day."""
        amount_type = self.amount_type
        if self.daily is None:  # no foreign rates: every row must be in the reporting currency
            return table.mutate(
                amount=table.amount.cast(amount_type), unrated=table.currency != self.reporting_currency
            )
        daily = self.daily
        joined = table.left_join(daily, [table.currency == daily.currency, table[day] == daily.rate_day])
        joined = joined.drop(*(c for c in ("currency_right", "rate_day") if c in joined.columns))
        local = joined.currency == self.reporting_currency
        amount = ibis.cases(
            (local, joined.amount.cast(amount_type)),
            else_=(joined.amount.cast(_MONEY_TYPE) * joined.rate).cast(amount_type),
        )
        return joined.mutate(amount=amount, unrated=~local & joined.rate.isnull()).drop("rate")


def engine_rates(fx: FxRates, last_day: dt.date, engine: str) -> EngineRates | None:
    """The rates of ``fx`` as an engine table when ``engine`` multiplies decimals exactly and no rate has more than
    :data:`ENGINE_RATE_SCALE` decimals; None otherwise (amounts are then converted in Python). ``last_day``: the
    latest day a run converts at (its as-of date)."""
    if engine in _ROUNDING_ENGINES:
        return None
    foreign = [c for c in fx.dates if c != fx.reporting_currency and fx.dates[c]]
    rates = [rate.normalize() for c in foreign for rate in fx.rates[c]]
    scale = max((-int(rate.as_tuple().exponent) for rate in rates), default=0)
    if scale > ENGINE_RATE_SCALE:
        return None
    scale = max(scale, _MONEY_SCALE)
    if not foreign:
        return EngineRates(fx.reporting_currency, scale, None)
    currencies: list[str] = []
    days: list[np.ndarray] = []
    daily_rates: list[np.ndarray] = []
    for currency in foreign:
        known = np.array(fx.dates[currency], dtype="datetime64[D]")
        span = np.arange(known[0], max(known[-1], np.datetime64(last_day, "D")) + 1, dtype="datetime64[D]")
        positions = np.searchsorted(known, span, side="right") - 1
        currencies.extend([currency] * len(span))
        days.append(span)
        daily_rates.append(np.asarray(fx.rates[currency], dtype=object)[positions])
    table = pa.table(
        {
            "currency": pa.array(currencies, type=pa.string()),
            "rate_day": pa.array(np.concatenate(days), type=pa.date32()),
            "rate": pa.array(np.concatenate(daily_rates).tolist(), type=pa.decimal128(38, scale)),
        }
    )
    return EngineRates(fx.reporting_currency, scale, ibis.memtable(table))


def reporting_sums(
    table: ir.Table,
    fx: FxRates,
    rates: EngineRates | None,
    day: str,
    keys: list[str],
    measures: Callable[[ir.Table], dict[str, ir.Value]],
    money: Collection[str],
) -> pd.DataFrame:
    """``measures`` of ``table`` per ``keys`` (at least one; rows in no particular order), with the ``money`` measures
    (linear in ``amount``) in reporting currency at the closing rate of each row's ``day``, exact: converted row by
    row in the engine (``rates``), else summed there per currency and day and converted here. A foreign row without
    a rate raises :class:`MissingFxRate`, as :meth:`FxRates.rate` does."""
    if rates is None:
        return _converted_here(table, fx, day, keys, measures, money)
    return engine_reporting_sums(table, fx, rates, day, keys, measures).to_pandas()


def engine_reporting_sums(
    table: ir.Table,
    fx: FxRates,
    rates: EngineRates,
    day: str,
    keys: list[str],
    measures: Callable[[ir.Table], dict[str, ir.Value]],
    fetched_keys: Sequence[str] | None = None,
) -> pa.Table:
    """:func:`reporting_sums` converted row by row in the engine, as Arrow: each money measure one decimal type, so
    every value of it has the same scale (Arrow can sum them further, exactly). ``fetched_keys``: only these keys
    come back (a sum per customer without its customer_id); default: all."""
    converted = rates.converted(table, day)
    summed = measures(converted)
    sums = converted.group_by(keys).aggregate(**summed, unrated=converted.unrated.sum())
    if fetched_keys is not None:
        sums = sums.select(*fetched_keys, *summed, "unrated")
    arrow = sums.to_pyarrow()
    if len(arrow) and pc.any(pc.not_equal(pc.fill_null(arrow.column("unrated"), 0), 0)).as_py():
        _raise_missing(converted, fx, day)
    return arrow.drop_columns(["unrated"])


def _raise_missing(converted: ir.Table, fx: FxRates, day: str) -> NoReturn:
    """The :class:`MissingFxRate` of the earliest unrated day of the first currency (in currency order) lacking one:
    :meth:`FxRates.rate`'s, naming the currency and day."""
    unrated = converted.filter(converted.unrated)
    first = unrated.group_by("currency").aggregate(first=unrated[day].min()).order_by("currency").limit(1)
    rows = first.to_pyarrow().to_pylist()
    currency, on = (rows[0]["currency"], rows[0]["first"]) if rows else (None, None)
    if currency is not None and on is not None:
        fx.rate(currency, on)  # raises, naming the currency and day
    raise MissingFxRate(
        f"fx_rates has no {currency} rate for {on}", hint=f"add a {currency} rate dated on or before {on}"
    )


def _converted_here(
    table: ir.Table,
    fx: FxRates,
    day: str,
    keys: list[str],
    measures: Callable[[ir.Table], dict[str, ir.Value]],
    money: Collection[str],
) -> pd.DataFrame:
    """:func:`reporting_sums` converting in Python: the sums per keys, currency and day (:func:`conversion_sums`),
    converted part by part and summed per keys."""
    sums = []
    names = list(measures(table))
    with decimal.localcontext(MONEY_CONTEXT):
        for frame in in_parts(conversion_sums(table, fx.reporting_currency, day, keys, measures, day in keys)):
            rates = fx.rates_for(frame["currency"], frame[day])
            for column in money:
                if column in frame:
                    frame[column] = frame[column].to_numpy(dtype=object) * rates
            sums.append(frame.groupby(keys, sort=False, dropna=False)[names].sum())
        if not sums:
            return pd.DataFrame(columns=[*keys, *names])
        grouped = pd.concat(sums).groupby(level=list(range(len(keys))), sort=False, dropna=False).sum()
    return grouped.reset_index()
