"""The DSO family per customer group (segment, region, collector, currency, customer, risk band) and the customers
whose payments are deteriorating.

Customer-level inputs are gathered once and rolled up into each attribute's groups: every input is a sum, so the
roll-up is exact.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

import pandas as pd

from collections_mi.config.params import Params
from collections_mi.core.money import MONEY_CONTEXT, ZERO
from collections_mi.core.periods import first_of_month_back
from collections_mi.metrics.book import Book
from collections_mi.metrics.dso_formulas import KPI_IDS, SalesLedger, SettlementTotals, dso_kpis, dso_window
from collections_mi.metrics.dso_inputs import SettlementSums, daily_sales_by, receivables_at

#: what the DSO family is broken down by (``risk_band``: bands of ``customers.risk_score``)
BREAKDOWNS = ("segment", "region", "collector", "currency", "customer_id", "risk_band")
#: months before as_of's month whose settlements make a customer's own norm of days late
DETERIORATION_NORM_MONTHS = 6

Value = TypeVar("Value")


def split_by_group(
    values: Mapping[tuple[dt.date, object], Value],
) -> dict[object, dict[tuple[dt.date, object], Value]]:
    """{(date, group): v} → {group: {(date, group): v}} so per-group lookups do not rescan everything."""
    grouped: dict[object, dict[tuple[dt.date, object], Value]] = defaultdict(dict)
    for key, value in values.items():
        grouped[key[1]][key] = value
    return grouped


@dataclass(frozen=True)
class GroupInputs:
    """Receivables, daily sales and settlement sums per group: everything a breakdown needs."""

    receivables: dict[tuple[dt.date, object], tuple[Decimal, Decimal]]
    sales: dict[object, dict[dt.date, Decimal]]
    settlement: dict[tuple[dt.date, object], SettlementTotals]

    def roll_up(self, group_of: Mapping[object, object]) -> GroupInputs:
        """Sum customer-level inputs into the groups of a customer attribute (additive, so exact)."""
        receivables: dict[tuple[dt.date, object], tuple[Decimal, Decimal]] = {}
        for (day, customer), (ar, current) in self.receivables.items():
            key = (day, group_of.get(customer, "(none)"))
            before = receivables.get(key, (ZERO, ZERO))
            receivables[key] = (before[0] + ar, before[1] + current)
        sales: dict[object, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        with decimal.localcontext(MONEY_CONTEXT):
            for customer, daily in self.sales.items():
                target = sales[group_of.get(customer, "(none)")]
                for day, amount in daily.items():
                    target[day] += amount
        settlement: dict[tuple[dt.date, object], SettlementTotals] = defaultdict(SettlementTotals)
        for (month, customer), part in self.settlement.items():
            key = (month, group_of.get(customer, "(none)"))
            settlement[key] = settlement[key] + part
        return GroupInputs(receivables, dict(sales), dict(settlement))


def group_inputs(
    book: Book, window_months: int, by: str, at: dt.date | None = None, sums: SettlementSums | None = None
) -> GroupInputs:
    """The inputs per value of ``by`` for the window of ``window_months`` ending at ``at`` (default as_of; e.g. the
    previous month-end) and AR the day before it. ``sums``: the settlement sums per ``by``, when already gathered
    from the window's start or earlier."""
    end = book.as_of if at is None else at
    window = dso_window(end, window_months)
    begin = window.start - dt.timedelta(days=1)
    return GroupInputs(
        receivables_at(book, [begin, end], by=by),
        daily_sales_by(book, by=by, since=window.start),
        SettlementSums.covering(book, window.start, by, sums).within(window.start).by_month(),
    )


def breakdown_table(inputs: GroupInputs, params: Params, by: str, at: dt.date | None = None) -> pd.DataFrame:
    """DSO family per group at ``at`` (default as_of) from pre-aggregated inputs (:func:`group_inputs` at it)."""
    end = params.as_of if at is None else at
    window = dso_window(end, params.dso.window_months)
    groups = sorted({g for (_, g) in inputs.receivables} | set(inputs.sales), key=lambda g: "" if g is None else str(g))
    receivables_by_group = split_by_group(inputs.receivables)
    settlement_by_group = split_by_group(inputs.settlement)
    rows = []
    for group in groups:
        group_receivables = {d: v for (d, _), v in receivables_by_group.get(group, {}).items()}
        group_sales = SalesLedger.from_daily(inputs.sales.get(group, {}))
        ar, current = group_receivables.get(end, (ZERO, ZERO))
        row: dict[str, object] = {
            by: group,
            "ar_total": ar,
            "current_ar": current,
            "past_due_ar": ar - current,
            "sales_window": group_sales.total(window.start, window.end),
        }
        kpis = dso_kpis(
            as_of=end,
            dso_config=params.dso,
            cei_config=params.cei,
            sales=group_sales,
            receivables=group_receivables,
            settlement=settlement_by_group.get(group, {}),
            group=group,
            countback=False,
        )
        row.update({k: kpis[k] for k in KPI_IDS if k != "dso_countback"})
        rows.append(row)
    columns = [
        by,
        "ar_total",
        "current_ar",
        "past_due_ar",
        "sales_window",
        *(k for k in KPI_IDS if k != "dso_countback"),
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("ar_total", ascending=False, kind="stable").reset_index(drop=True)


def breakdown(book: Book, params: Params, by: str) -> pd.DataFrame:
    """DSO family per value of ``by`` (segment, region, collector, currency, customer_id, risk_band) at as_of."""
    return breakdown_table(group_inputs(book, params.dso.window_months, by), params, by)


def deteriorating_customers(book: Book, top: int, sums: SettlementSums | None = None) -> pd.DataFrame:
    """Customers paying later this month than their own norm (weighted days late, previous 6 months). ``sums``: the
    settlement sums per customer, when already gathered from the norm's start or earlier."""
    month_start = book.as_of.replace(day=1)
    norm_start = first_of_month_back(book.as_of, DETERIORATION_NORM_MONTHS)
    sums = SettlementSums.covering(book, norm_start, "customer_id", sums)
    now = sums.per_group(month_start, book.as_of)
    norm = sums.per_group(norm_start, month_start - dt.timedelta(days=1))
    rows = []
    for customer, current in now.items():
        if customer not in norm:
            continue
        late_now = current.kpis()["days_late_weighted"]
        late_norm = norm[customer].kpis()["days_late_weighted"]
        if late_now is None or late_norm is None or late_now <= late_norm:
            continue
        rows.append(
            {
                "customer_id": customer,
                "days_late_now": late_now,
                "days_late_norm": late_norm,
                "days_worse": late_now - late_norm,
                "invoices_settled_now": current.invoices,
                "invoices_settled_norm": norm[customer].invoices,
                "amount_settled_now": current.amount,
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
