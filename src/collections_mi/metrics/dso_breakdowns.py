"""The DSO family per customer group (segment, region, collector, currency, customer, risk band) and the customers
whose payments are deteriorating.

Customer-level inputs are gathered once and rolled up into each attribute's groups: every input is a sum, so the
roll-up is exact.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from collections_mi.config.params import Params
from collections_mi.core.money import MONEY_CONTEXT, ZERO, ratio
from collections_mi.core.periods import first_of_month_back
from collections_mi.metrics.book import Book
from collections_mi.metrics.dso_formulas import (
    Window,
    breakdown_kpis,
    days_sales_outstanding,
    dso_window,
)
from collections_mi.metrics.dso_inputs import (
    SETTLEMENT_MONEY,
    SETTLEMENT_SUMS,
    SettlementSums,
    receivables_at,
    summed_by,
    window_sales_by,
)

#: what the DSO family is broken down by (``risk_band``: bands of ``customers.risk_score``)
BREAKDOWNS = ("segment", "region", "collector", "currency", "customer_id", "risk_band")
#: months before as_of's month whose settlements make a customer's own norm of days late
DETERIORATION_NORM_MONTHS = 6

#: what a breakdown row is computed from besides the settlement sums: every one a sum over the group's customers
_FLOW_SUMS = ("ar_total", "current_ar", "begin_ar", "sales_window")


@dataclass(frozen=True)
class GroupInputs:
    """Per group (the index of ``sums``), what the DSO family at ``at`` is computed from, each a sum over the group's
    customers: AR and current AR at ``at`` (``ar_total``, ``current_ar``), AR the day before the window
    (``begin_ar``), credit sales in the window (``sales_window``) and the settlement sums of the window's months
    (:data:`~collections_mi.metrics.dso_inputs.SETTLEMENT_SUMS`) — so rolling customers up into the groups of any
    customer attribute is exact. One row per group with AR at either date or an invoice up to as_of."""

    at: dt.date
    window: Window
    sums: pd.DataFrame
    #: AR at ``at`` of the groups with an open item then
    balances: Mapping[object, Decimal]

    def roll_up(self, group_of: Mapping[object, object]) -> GroupInputs:
        """Sum customer-level inputs into the groups of a customer attribute (additive, so exact)."""
        keys = [group_of.get(group, "(none)") for group in self.sums.index.tolist()]
        balances: dict[object, Decimal] = defaultdict(lambda: ZERO)
        with decimal.localcontext(MONEY_CONTEXT):
            for group, ar in self.balances.items():
                balances[group_of.get(group, "(none)")] += ar
        return GroupInputs(
            self.at, self.window, summed_by(self.sums, keys, (*_FLOW_SUMS, *SETTLEMENT_MONEY)), dict(balances)
        )


def group_inputs(
    book: Book, window_months: int, by: str, at: dt.date | None = None, sums: SettlementSums | None = None
) -> GroupInputs:
    """The inputs per value of ``by`` for the window of ``window_months`` ending at ``at`` (default as_of; e.g. the
    previous month-end) and AR the day before it. ``sums``: the settlement sums per ``by``, when already gathered
    from the window's start or earlier."""
    end = book.as_of if at is None else at
    window = dso_window(end, window_months)
    begin = window.start - dt.timedelta(days=1)
    receivables = receivables_at(book, [begin, end], by=by)
    sales = window_sales_by(book, by, window.start, window.end)
    settled = SettlementSums.covering(book, window.start, by, sums).grouped(window.start, window.end)
    groups = list(dict.fromkeys([*(group for _, group in receivables), *sales]))
    none = (ZERO, ZERO)
    at_end = [receivables.get((end, group), none) for group in groups]
    frame = pd.DataFrame(
        {
            "ar_total": [ar for ar, _ in at_end],
            "current_ar": [current for _, current in at_end],
            "begin_ar": [receivables.get((begin, group), none)[0] for group in groups],
            "sales_window": [sales.get(group, ZERO) for group in groups],
        },
        index=pd.Index(groups, dtype=object),
    )
    # each group's row of the settlement sums, -1 (the ZERO appended to each column) for a group without any
    position = {group: row for row, group in enumerate(settled.index.tolist())}
    rows = np.fromiter((position.get(group, -1) for group in groups), dtype=np.int64, count=len(groups))
    for column in SETTLEMENT_SUMS:
        values = np.empty(len(settled) + 1, dtype=object)
        values[:-1] = settled[column].tolist()
        values[-1] = ZERO
        frame[column] = values[rows]
    balances = {group: ar for (day, group), (ar, _) in receivables.items() if day == end}
    return GroupInputs(end, window, frame, balances)


def breakdown_table(inputs: GroupInputs, params: Params, by: str) -> pd.DataFrame:
    """DSO family per group at the inputs' date from pre-aggregated inputs (:func:`group_inputs` at it)."""
    sums = inputs.sums
    groups = sums.index.tolist()
    order = sorted(range(len(groups)), key=lambda row: "" if groups[row] is None else str(groups[row]))
    columns = {}
    for column in sums.columns:
        values = sums[column].tolist()
        columns[column] = [values[row] for row in order]
    ar, current, begin_ar, sales = (columns[column] for column in _FLOW_SUMS)
    kpis = breakdown_kpis(
        window=inputs.window,
        dso_config=params.dso,
        cei_config=params.cei,
        receivables=ar,
        current=current,
        begin_receivables=begin_ar,
        window_sales=sales,
        settled={column: columns[column] for column in SETTLEMENT_SUMS},
    )
    out: dict[str, Sequence[object]] = {
        by: [groups[row] for row in order],
        "ar_total": ar,
        "current_ar": current,
        "past_due_ar": [total - now for total, now in zip(ar, current)],
        "sales_window": sales,
        **kpis,
    }
    frame = pd.DataFrame(out) if order else pd.DataFrame([], columns=list(out))  # no rows: object columns
    return frame.sort_values("ar_total", ascending=False, kind="stable").reset_index(drop=True)


def past_due_and_dso(inputs: GroupInputs, by: str) -> pd.DataFrame:
    """Per group: ``past_due_ar`` and ``dso`` only — the two columns of :func:`breakdown_table` that top movers
    compare at the previous month-end (the same values; the other KPIs per customer are not needed there)."""
    sums = inputs.sums
    days = inputs.window.days
    ar, current, sales = (sums[column].tolist() for column in ("ar_total", "current_ar", "sales_window"))
    return pd.DataFrame(
        {
            by: pd.Series(sums.index.tolist(), dtype=object),
            "past_due_ar": pd.Series([a - c for a, c in zip(ar, current)], dtype=object),
            "dso": pd.Series([days_sales_outstanding(a, s, days) for a, s in zip(ar, sales)], dtype=object),
        }
    )


def breakdown(book: Book, params: Params, by: str) -> pd.DataFrame:
    """DSO family per value of ``by`` (segment, region, collector, currency, customer_id, risk_band) at as_of."""
    return breakdown_table(group_inputs(book, params.dso.window_months, by), params, by)


def deteriorating_customers(book: Book, top: int, sums: SettlementSums | None = None) -> pd.DataFrame:
    """Customers paying later this month than their own norm (weighted days late, previous 6 months). ``sums``: the
    settlement sums per customer, when already gathered from the norm's start or earlier."""
    month_start = book.as_of.replace(day=1)
    norm_start = first_of_month_back(book.as_of, DETERIORATION_NORM_MONTHS)
    sums = SettlementSums.covering(book, norm_start, "customer_id", sums)
    # days_late_weighted (SettlementTotals.kpis()) from the three sums it reads, not every sum of every customer
    now = sums.days_late_sums(month_start, book.as_of)
    norm = sums.days_late_sums(norm_start, month_start - dt.timedelta(days=1))
    rows = []
    for customer, (invoices, amount, amount_late) in now.items():
        if customer not in norm:
            continue
        norm_invoices, norm_amount, norm_late = norm[customer]
        late_now = ratio(amount_late, amount)
        late_norm = ratio(norm_late, norm_amount)
        if late_now is None or late_norm is None or late_now <= late_norm:
            continue
        rows.append(
            {
                "customer_id": customer,
                "days_late_now": late_now,
                "days_late_norm": late_norm,
                "days_worse": late_now - late_norm,
                "invoices_settled_now": invoices,
                "invoices_settled_norm": norm_invoices,
                "amount_settled_now": amount,
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "days_late_now",
            "days_late_norm",
            "days_worse",
            "invoices_settled_now",
            "invoices_settled_norm",
            "amount_settled_now",
        ],
    )
    frame = frame.sort_values(["days_worse", "customer_id"], ascending=[False, True], kind="stable").head(top)
    customers = book.customers.select("customer_id", "name").to_pyarrow().to_pandas()
    return frame.merge(customers, on="customer_id", how="left")[
        ["customer_id", "name", *[c for c in frame.columns if c != "customer_id"]]
    ].reset_index(drop=True)
