"""Open balances per data-contract.md §3, computed in the engine for one or many as-of dates.

Open balance of an invoice at D = amount − Σ payments(payment_date ≤ D)
− Σ adjustments of kind credit_note/discount/write_off (adjustment_date ≤ D).
An invoice is open at D when invoice_date ≤ D and its open balance > 0.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import pandas as pd

from collections_mi.contract import BALANCE_REDUCING_KINDS
from collections_mi.metrics.fx import FxRates

Tables = Mapping[str, ir.Table]


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def previous_month_end(day: dt.date) -> dt.date:
    return day.replace(day=1) - dt.timedelta(days=1)


def month_ends_up_to(as_of: dt.date, count: int) -> list[dt.date]:
    """The last ``count`` month-ends ≤ as_of, oldest first; as_of itself closes the list if not a month-end."""
    ends: list[dt.date] = []
    cursor = as_of if month_end(as_of) == as_of else previous_month_end(as_of)
    if cursor != as_of:
        ends.append(as_of)
    while len(ends) < count:
        ends.append(cursor)
        cursor = previous_month_end(cursor)
    return sorted(ends)


def as_of_table(dates: Sequence[dt.date]) -> ir.Table:
    return ibis.memtable(pd.DataFrame({"as_of": pd.Series(list(dates), dtype="object")}),
                         schema=ibis.schema({"as_of": "date"}))


def reductions(tables: Tables) -> ir.Table:
    """Every balance-reducing event: invoice_id, kind (payment/credit_note/discount/write_off), event_date, amount."""
    payments = tables["payments"]
    events = payments.select(invoice_id=payments.invoice_id, kind=ibis.literal("payment"),
                             event_date=payments.payment_date, amount=payments.amount)
    if "adjustments" in tables:
        adj = tables["adjustments"]
        adj = adj.filter(adj.kind.isin(BALANCE_REDUCING_KINDS))
        events = events.union(adj.select(invoice_id=adj.invoice_id, kind=adj.kind,
                                         event_date=adj.adjustment_date, amount=adj.amount))
    return events


def invoices_with_currency(tables: Tables, reporting_currency: str) -> ir.Table:
    inv = tables["invoices"]
    currency = inv.currency.upper() if "currency" in inv.columns else ibis.null("string")
    disputed = inv.disputed if "disputed" in inv.columns else ibis.literal(False)
    return inv.mutate(currency=currency.fill_null(reporting_currency), disputed=disputed.fill_null(False))


def open_items(tables: Tables, as_of: dt.date | Sequence[dt.date], reporting_currency: str) -> ir.Table:
    """Open invoices at each as-of date, with ``as_of``, ``open_balance``, ``days_past_due``, ``days_since_invoice``.

    Balances are in the invoice's currency (exact decimals). One scan of each table whatever the
    number of dates: the dates are a tiny table joined on ``date ≤ as_of``.
    """
    dates = as_of_table([as_of] if isinstance(as_of, dt.date) else list(as_of))
    inv = invoices_with_currency(tables, reporting_currency)
    inv = inv.cross_join(dates).filter(lambda t: t.invoice_date <= t.as_of)
    events = reductions(tables)
    reduced = (events.cross_join(dates).filter(lambda t: t.event_date <= t.as_of)
               .group_by(["invoice_id", "as_of"]).aggregate(reduced=lambda t: t.amount.sum()))
    joined = inv.left_join(reduced, ["invoice_id", "as_of"]).drop("invoice_id_right", "as_of_right")
    balance = (joined.amount - joined.reduced.fill_null(0)).cast("decimal(18, 4)")
    items = joined.mutate(open_balance=balance).drop("reduced").filter(lambda t: t.open_balance > 0)
    return items.mutate(days_past_due=items.as_of.delta(items.due_date, unit="day"),
                        days_since_invoice=items.as_of.delta(items.invoice_date, unit="day"))


def bucket_expr(age: ir.IntegerValue, labels: Sequence[str], bounds: Sequence[int], basis: str) -> ir.StringValue:
    """The bucket label of an age (days) for the configured bounds (metrics.md § Aging)."""
    cases = []
    if basis == "due_date":
        cases.append((age <= 0, labels[0]))
        bucket_labels = labels[1:]
    else:
        bucket_labels = labels
    for bound, label in zip(bounds, bucket_labels):
        cases.append((age <= bound, label))
    return ibis.cases(*cases, else_=labels[-1])


def convert_column(frame: pd.DataFrame, fx: FxRates, amount: str, currency: str, on: str | dt.date) -> pd.Series:
    """Exact reporting-currency amounts for each row: amount × closing rate of the row's date (or one date)."""
    if isinstance(on, dt.date):
        values = [fx.convert(a, c, on) for a, c in zip(frame[amount], frame[currency])]
    else:
        values = [fx.convert(a, c, d) for a, c, d in zip(frame[amount], frame[currency], frame[on])]
    return pd.Series(values, index=frame.index, dtype="object")


def zero_if_none(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value
