"""Open balances per data-contract.md §3, computed in the engine for one or many as-of dates.

Open balance of an invoice at D = amount − Σ payments(payment_date ≤ D)
− Σ adjustments of kind credit_note/discount/write_off (adjustment_date ≤ D).
An invoice is open at D when invoice_date ≤ D and its open balance > 0.
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
from collections.abc import Mapping, Sequence
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from collections_mi.core.contract import BALANCE_REDUCING_KINDS
from collections_mi.core.money import MONEY_CONTEXT, to_decimal
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
    return ibis.memtable(
        pd.DataFrame({"as_of": pd.Series(list(dates), dtype="object")}), schema=ibis.schema({"as_of": "date"})
    )


def reductions(tables: Tables) -> ir.Table:
    """Every balance-reducing event: invoice_id, kind (payment/credit_note/discount/write_off), event_date, amount."""
    payments = tables["payments"]
    events = payments.select(
        invoice_id=payments.invoice_id,
        kind=ibis.literal("payment"),
        event_date=payments.payment_date,
        amount=payments.amount,
    )
    if "adjustments" in tables:
        adj = tables["adjustments"]
        adj = adj.filter(adj.kind.isin(BALANCE_REDUCING_KINDS))
        events = events.union(
            adj.select(invoice_id=adj.invoice_id, kind=adj.kind, event_date=adj.adjustment_date, amount=adj.amount)
        )
    return events


def invoices_with_currency(tables: Tables, reporting_currency: str) -> ir.Table:
    inv = tables["invoices"]
    return inv.mutate(
        currency=inv.currency.upper().fill_null(reporting_currency), disputed=inv.disputed.fill_null(False)
    )


#: keys under which :func:`with_balance_tables` adds the materialised helpers to a tables mapping
SPANS = "_invoice_spans"
DAILY_REDUCTIONS = "_daily_reductions"


def with_balance_tables(tables: Tables, reporting_currency: str) -> dict[str, ir.Table]:
    """``tables`` plus the invoice spans and daily reductions materialised once in the engine (temp tables).

    Every open-balance query of a run — aging at as-of, its trend and roll-forward, DSO's AR at 27 dates, the
    allowance's bucket balances and back-test — then starts from them instead of re-deriving balances from the
    source files each time. The values are the same as computing them inline.
    """
    if "invoices" not in tables or "payments" not in tables:
        return dict(tables)
    daily = daily_reductions(tables).cache()
    extended = {**tables, DAILY_REDUCTIONS: daily}
    extended[SPANS] = invoice_spans(extended, reporting_currency).cache()
    return extended


def release_balance_tables(tables: Mapping[str, ir.Table]) -> None:
    """Drop the temp tables :func:`with_balance_tables` made (now, not when the interpreter exits)."""
    for key in (SPANS, DAILY_REDUCTIONS):
        if key in tables:
            tables[key].release()


def daily_reductions(tables: Tables) -> ir.Table:
    """Balance reductions per invoice and day: ``invoice_id``, ``event_date``, ``reduced`` (that day's total)."""
    if DAILY_REDUCTIONS in tables:
        return tables[DAILY_REDUCTIONS]
    events = reductions(tables)
    return events.group_by(["invoice_id", "event_date"]).aggregate(reduced=events.amount.sum())


def invoice_spans(tables: Tables, reporting_currency: str) -> ir.Table:
    """Every invoice with ``closed_on``: the first day its reductions reach its amount (null while open).

    Reductions are positive (validation guarantees it), so a balance only falls: an invoice is open exactly on
    ``[invoice_date, closed_on)``. This lets :func:`open_items` build only the (invoice, date) pairs where the
    invoice is open, instead of every invoice × every date.
    """
    if SPANS in tables:
        return tables[SPANS]
    inv = invoices_with_currency(tables, reporting_currency)
    daily = daily_reductions(tables)
    running = daily.mutate(
        cumulative=daily.reduced.sum().over(
            ibis.window(group_by=daily.invoice_id, order_by=daily.event_date, rows=(None, 0))
        )
    )
    amounts = inv.select(amount_invoice_id=inv.invoice_id, invoice_amount=inv.amount)
    reached = running.join(amounts, running.invoice_id == amounts.amount_invoice_id).filter(
        lambda t: t.cumulative >= t.invoice_amount
    )
    closed = reached.group_by(closed_invoice_id=reached.invoice_id).aggregate(closed_on=reached.event_date.min())
    return inv.left_join(closed, inv.invoice_id == closed.closed_invoice_id).drop("closed_invoice_id")


def open_items(tables: Tables, as_of: dt.date | Sequence[dt.date], reporting_currency: str) -> ir.Table:
    """Open invoices at each as-of date, with ``as_of``, ``open_balance``, ``days_past_due``, ``days_since_invoice``.

    Balances are in the invoice's currency (exact decimals). One scan of each table whatever the number of
    dates: the dates are a tiny table range-joined to each invoice's open span ``[invoice_date, closed_on)``
    (:func:`invoice_spans`), and only those open pairs collect their reductions up to the date. The result is
    the same as taking every invoice × every date and keeping positive balances — the spans only skip pairs
    whose balance is already ≤ 0.
    """
    dates = as_of_table([as_of] if isinstance(as_of, dt.date) else list(as_of))
    spans = invoice_spans(tables, reporting_currency)
    pairs = spans.join(
        dates, [spans.invoice_date <= dates.as_of, spans.closed_on.isnull() | (dates.as_of < spans.closed_on)]
    ).drop("closed_on")
    daily = daily_reductions(tables)
    keys = pairs.select(key_invoice_id=pairs.invoice_id, key_as_of=pairs.as_of)
    reduced = (
        keys.join(daily, [keys.key_invoice_id == daily.invoice_id, daily.event_date <= keys.key_as_of])
        .group_by(["key_invoice_id", "key_as_of"])
        .aggregate(reduced=lambda t: t.reduced.sum())
    )
    joined = pairs.left_join(
        reduced, [pairs.invoice_id == reduced.key_invoice_id, pairs.as_of == reduced.key_as_of]
    ).drop("key_invoice_id", "key_as_of")
    balance = (joined.amount - joined.reduced.fill_null(0)).cast("decimal(18, 4)")
    items = joined.mutate(open_balance=balance).drop("reduced").filter(lambda t: t.open_balance > 0)
    return items.mutate(
        days_past_due=items.as_of.delta(items.due_date, unit="day"),
        days_since_invoice=items.as_of.delta(items.invoice_date, unit="day"),
    )


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


def zero_if_none(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value
