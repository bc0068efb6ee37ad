"""Payment behaviour per customer (shared/metrics.md § Payment behaviour): each customer's behaviour band from its
amount-weighted days late over the invoices it settled in the 12 months to D, with its open balance at D; balances
per band; and the bands beside the customers' ``risk_score`` bands.

The settled invoices are the DSO family's (:attr:`~collections_mi.metrics.book.Book.settlements`: settled by
payments and credits, not write-offs); "the 12 months to D" is the window W of ``dso.window_months: 12`` — the 1st
day of the month 11 months before D's month .. D — so a month-end pack reads 12 whole calendar months. Days late
are clipped at 0 per invoice, weighted by the invoice amount in reporting currency at its invoice date's rate (as
``days_late_weighted``), and rounded half up to whole days before banding.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pandas as pd

from collections_mi.core.money import ZERO, dsum, percent_of, ratio
from collections_mi.metrics.book import Book
from collections_mi.metrics.customer_groups import customer_attributes, risk_band_labels
from collections_mi.metrics.dso_formulas import Window, dso_window
from collections_mi.metrics.dso_inputs import SettlementSums

#: months of settlements a customer's band is read from
BEHAVIOUR_MONTHS = 12
#: the bands, best first; ``No history``: no invoice settled in the 12 months
NO_HISTORY = "No history"
BANDS = ("Great", "Good", "Poor", "Risk", NO_HISTORY)
#: upper bounds (whole days late, inclusive) of Great, Good and Poor; above the last is Risk
BAND_BOUNDS = ((15, "Great"), (45, "Good"), (90, "Poor"))

CUSTOMER_COLUMNS = [
    "customer_id",
    "name",
    "band",
    "days_late_weighted",
    "days_late_rounded",
    "settled_invoices",
    "amount_settled",
    "open_balance",
]


def behaviour_window(as_of: dt.date) -> Window:
    """The 12 months to D a band is read from (W with 12 months)."""
    return dso_window(as_of, BEHAVIOUR_MONTHS)


def rounded_days(days: Decimal) -> int:
    """Whole days, half up (15.5 → 16, 15.49 → 15)."""
    return int(Decimal(days).quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))


def behaviour_band(days: int | None) -> str:
    """The band of a customer's weighted days late (whole days); None (nothing settled) = No history."""
    if days is None:
        return NO_HISTORY
    for bound, band in BAND_BOUNDS:
        if days <= bound:
            return band
    return "Risk"


def customer_behaviour(
    book: Book, balances: Mapping[object, Decimal], sums: SettlementSums | None = None
) -> pd.DataFrame:
    """One row per customer (the customers table's, and any other customer with an open balance or a settled invoice):
    its band, weighted days late (exact, and rounded half up), invoices and amount settled in the 12 months, and its
    open balance at as_of (``balances``: customer → open balance in reporting currency; ``sums``: the settlement
    sums per customer, when already gathered from the window's start or earlier). Sorted by band (best first),
    then open balance (largest first), then customer_id."""
    window = behaviour_window(book.as_of)
    covering = SettlementSums.covering(book, window.start, "customer_id", sums)
    settled = covering.days_late_sums(window.start, window.end)
    names_frame = book.customers.select("customer_id", "name").to_pyarrow().to_pandas()
    names = {c: n if n else c for c, n in zip(names_frame["customer_id"].tolist(), names_frame["name"].tolist())}
    customers = list(dict.fromkeys([*names, *balances, *settled]))
    # a column at a time, not a dict per customer: at 10M invoices 330k dicts were this section's peak (+300 MB)
    totals = [settled.get(customer) for customer in customers]
    weighted = [None if total is None else ratio(total[2], total[1]) for total in totals]
    days = [None if value is None else rounded_days(value) for value in weighted]
    bands = [behaviour_band(value) for value in days]
    open_balances = [balances.get(customer, ZERO) for customer in customers]
    order = {band: position for position, band in enumerate(BANDS)}
    ranks = [order[band] for band in bands]
    # by band, then open balance (largest first), then id: three stable sorts, no key tuple per customer
    rows = sorted(range(len(customers)), key=[str(customer) for customer in customers].__getitem__)
    rows.sort(key=open_balances.__getitem__, reverse=True)
    rows.sort(key=ranks.__getitem__)
    columns: dict[str, list[Any]] = {
        "customer_id": customers,
        "name": [names.get(customer, customer) for customer in customers],
        "band": bands,
        "days_late_weighted": weighted,
        "days_late_rounded": days,
        "settled_invoices": [0 if total is None else total[0] for total in totals],
        "amount_settled": [ZERO if total is None else total[1] for total in totals],
        "open_balance": open_balances,
    }
    frame = pd.DataFrame(
        {name: [values[r] for r in rows] for name, values in columns.items()}, columns=CUSTOMER_COLUMNS
    )
    # whole days or None, not a float column with NaN
    frame["days_late_rounded"] = pd.Series([days[r] for r in rows], dtype=object)
    return frame


def band_balances(customers: pd.DataFrame) -> pd.DataFrame:
    """Per band (every band, best first): customers, open balance at as_of and its share of the total."""
    counts: dict[str, int] = defaultdict(int)
    amounts: dict[str, list[Decimal]] = defaultdict(list)
    for band, balance in zip(customers["band"].tolist(), customers["open_balance"].tolist()):
        counts[band] += 1
        amounts[band].append(balance)
    sums = {band: dsum(amounts[band]) for band in BANDS}
    total = dsum(sums.values())
    return pd.DataFrame(
        {
            "band": list(BANDS),
            "customers": [counts[band] for band in BANDS],
            "open_balance": [sums[band] for band in BANDS],
            "share_pct": [percent_of(sums[band], total) for band in BANDS],
        }
    )


def bands_by_risk_band(book: Book, customers: pd.DataFrame) -> pd.DataFrame:
    """Behaviour band × risk-score band (every pair, in band order): customers and open balance at as_of. A customer
    not in the customers table, or without a score, is in "no score"."""
    risk = customer_attributes(book.customers, ["risk_band"])
    risk_of = dict(zip(risk["customer_id"].tolist(), risk["risk_band"].tolist()))
    counts: dict[tuple[str, str], int] = defaultdict(int)
    amounts: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for customer, band, balance in zip(
        customers["customer_id"].tolist(), customers["band"].tolist(), customers["open_balance"].tolist()
    ):
        key = (band, risk_of.get(customer, "no score"))
        counts[key] += 1
        amounts[key].append(balance)
    rows = [
        {
            "behaviour_band": band,
            "risk_band": risk_band,
            "customers": counts[(band, risk_band)],
            "open_balance": dsum(amounts[(band, risk_band)]),
        }
        for band in BANDS
        for risk_band in risk_band_labels()
    ]
    return pd.DataFrame(rows, columns=["behaviour_band", "risk_band", "customers", "open_balance"])
