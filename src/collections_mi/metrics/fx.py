"""FX conversion at the closing rate: the latest rate with rate_date ≤ the date (data-contract.md)."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import ibis.expr.types as ir
import numpy as np

from collections_mi.core.errors import MissingFxRate
from collections_mi.core.money import mul, to_decimal

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
            mask = currency_array == currency if currency is not None else np.equal(currency_array, None)
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


def load_fx(tables: Mapping[str, ir.Table], reporting_currency: str) -> FxRates:
    """Read the (small) fx_rates table; an absent table gives reporting-currency-only rates."""
    if "fx_rates" not in tables:
        return FxRates(reporting_currency)
    frame = tables["fx_rates"].select("rate_date", "currency", "rate").to_pyarrow().to_pylist()
    rows = [
        (r["rate_date"], r["currency"].upper(), r["rate"])
        for r in frame
        if r["rate_date"] is not None and r["currency"] is not None and r["rate"] is not None
    ]
    return FxRates.from_rows(reporting_currency, rows)
