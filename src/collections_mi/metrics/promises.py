"""Promises to pay (data-contract.md § promises) and the collector view.

A promise is kept when the customer's payments dated in [promised_on, due_by] (and on or before as_of) total at
least its amount in reporting currency (each payment at its payment date's closing rate); broken when due_by is
before as_of and it was not kept; otherwise pending.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal

import ibis.expr.types as ir
import pandas as pd

from collections_mi.core.money import HUNDRED, ZERO, dsum, percent_of, ratio
from collections_mi.core.periods import month_ends_up_to
from collections_mi.core.values import UNASSIGNED
from collections_mi.metrics.balances import as_of_table
from collections_mi.metrics.book import Book, PromisePaymentsAt, held_once

STATUS_COLUMNS = [
    "promise_id",
    "customer_id",
    "collector",
    "promised_on",
    "due_by",
    "amount",
    "paid_in_window",
    "status",
]


def promise_status(book: Book, as_of: dt.date | None = None) -> pd.DataFrame:
    """Every promise made on or before as_of with paid_in_window, status, and the collector who took it. ``as_of``:
    an earlier date than the book's (only promises and payments dated on or before it count); default the book's."""
    day = book.as_of if as_of is None else as_of
    return promise_statuses(book, [day])[day]


def promise_statuses(book: Book, dates: Sequence[dt.date]) -> dict[dt.date, pd.DataFrame]:
    """:func:`promise_status` as of each of ``dates`` (:func:`each_promise_status`)."""
    return dict(each_promise_status(book, dates))


def each_promise_status(book: Book, dates: Sequence[dt.date]) -> Iterator[tuple[dt.date, pd.DataFrame]]:
    """:func:`promise_status` as of each of ``dates``, one date at a time in their order, from two engine queries
    whatever their number: the payments in each promise's window dated on or before each date, summed per promise
    and date. The payments in the windows are ``book.promise_payments_at``'s when they reach the latest date
    (:func:`sharing_promise_payments`). A reader that keeps only a part of each date's statuses (the forecast's
    pending promises) never holds every date's at once: at 10M invoices the 7 dates' ~450k promises each, with a
    (promise, date) key per payment sum, were the cash section's peak (+700 MB)."""
    if book.promises is None or not dates:
        yield from ((day, pd.DataFrame(columns=STATUS_COLUMNS)) for day in dates)
        return
    latest = max(dates)
    promises = book.promises
    promises = promises.filter(promises.promised_on <= latest)
    customers = book.customers
    owner = customers.collector
    promises = promises.left_join(customers.select("customer_id", owner=owner), "customer_id").drop("customer_id_right")
    taken_by = promises.collector
    promises = promises.mutate(collector=taken_by.fill_null(promises.owner).fill_null(UNASSIGNED))
    shared = book.promise_payments_at
    matched = shared.table if shared is not None and shared.latest >= latest else window_payments(book, latest)
    # what each promise was paid within its window up to each date, in reporting currency at each payment's rate
    per_date = matched.cross_join(as_of_table(dates))
    per_date = per_date.filter(per_date.payment_date <= per_date.as_of)
    every = (
        promises.select("promise_id", "customer_id", "collector", "promised_on", "due_by", "amount")
        .order_by("promise_id")
        .to_pyarrow()
        .to_pandas()
    )
    paid_at_each = book.summed_at_each(
        per_date.mutate(amount=per_date.paid), "payment_date", ["promise_id", "as_of"], "paid", dates, ["promise_id"]
    )
    for as_of, sums in paid_at_each:
        paid_by_promise = dict(zip(sums["promise_id"], sums["paid"]))
        frame = every[every["promised_on"] <= as_of].reset_index(drop=True) if len(every) else every.copy()
        frame["paid_in_window"] = [ZERO + paid_by_promise.get(p, ZERO) for p in frame["promise_id"].tolist()]
        frame["status"] = [
            "kept" if paid >= amount else ("broken" if due_by < as_of else "pending")
            for paid, amount, due_by in zip(*(frame[c].tolist() for c in ("paid_in_window", "amount", "due_by")))
        ]
        yield as_of, frame[STATUS_COLUMNS]


def window_payments(book: Book, latest: dt.date) -> ir.Table:
    """The payments of each promise's customer dated inside its window [promised_on, due_by] and on or before
    ``latest`` (promise_id, currency, payment_date, paid: only what the statuses read — a 10M-invoice book's 1.2M rows
    are held in the engine while the sections that read them run), for the promises made on or before ``latest``. A
    promise made after a date, or a payment dated after it, adds nothing to the statuses at that date
    (:func:`promise_statuses` keeps the payments dated on or before each), so the rows up to a later date serve an
    earlier one too."""
    if book.promises is None:
        raise ValueError("the book has no promises table")
    promises = book.promises
    promises = promises.filter(promises.promised_on <= latest)
    invoices = book.invoices.select("invoice_id", "customer_id", "currency")
    payments = book.payments.join(invoices, "invoice_id")
    payments = payments.filter(payments.payment_date <= latest)
    payments = payments.select(
        "customer_id", "currency", "payment_date", paid=payments.amount, month=payments.payment_date.truncate("M")
    )
    # each promise joined to its customer's payments of the months its window touches only, then to those inside
    # the window: not to every payment of the customer (~15M pairs at 10M invoices; the two calls' engine time
    # 13.3 -> 11.6 s there: most of it is joining the payments to their invoices and converting them)
    months = payments.select(window_month=payments.month).distinct()
    windows = promises.select("promise_id", "customer_id", "promised_on", "due_by")
    windows = windows.join(
        months, [months.window_month >= windows.promised_on.truncate("M"), months.window_month <= windows.due_by]
    )
    matched = windows.join(
        payments, [windows.customer_id == payments.customer_id, windows.window_month == payments.month]
    )
    matched = matched.filter((matched.payment_date >= matched.promised_on) & (matched.payment_date <= matched.due_by))
    return matched.select("promise_id", "currency", "payment_date", "paid")


@contextmanager
def sharing_promise_payments(book: Book) -> Iterator[Book]:
    """``book`` with the payments inside its promises' windows up to as_of (:func:`window_payments`) computed once
    into a temporary table of the engine (dropped on exit), which the promise statuses at every date up to as_of
    read: the DSO section's at as_of and the cash forecast's at as_of and its back-test month-ends each joined every
    payment to its invoice. The statuses are the same either way. Without a promises table, or when ``book`` already
    shares them, it is given as it is."""
    shared = book.promise_payments_at
    if book.promises is None or (shared is not None and shared.latest >= book.as_of):
        yield book
        return
    with held_once(window_payments(book, book.as_of)) as table:
        yield replace(book, promise_payments_at=PromisePaymentsAt(book.as_of, table))


def _kept_rate(kept: int, broken: int) -> Decimal | None:
    return percent_of(Decimal(kept), Decimal(kept + broken))


def kept_rate_trend(status: pd.DataFrame, as_of: dt.date, months: int) -> pd.DataFrame:
    """Promises falling due in each month: kept, broken, pending and the kept rate (kept / (kept + broken))."""
    rows = []
    for end in month_ends_up_to(as_of, months):
        start = end.replace(day=1)
        due = status[(status["due_by"] >= start) & (status["due_by"] <= end)] if len(status) else status
        counts = due["status"].value_counts() if len(due) else {}
        kept, broken, pending = (int(counts.get(s, 0)) for s in ("kept", "broken", "pending"))
        rows.append(
            {
                "month_end": end,
                "promises_due": len(due),
                "kept": kept,
                "broken": broken,
                "pending": pending,
                "kept_rate_pct": _kept_rate(kept, broken),
                "amount_due": dsum(due["amount"]) if len(due) else ZERO,
            }
        )
    return pd.DataFrame(rows)


def collected_in_month(book: Book, by: str = "collector") -> dict[object, Decimal]:
    """Cash received in as_of's month (up to as_of) per customer attribute, at each payment date's rate."""
    start = book.as_of.replace(day=1)
    invoices = book.invoices.select("invoice_id", "customer_id", "currency")
    payments = book.payments
    payments = payments.filter((payments.payment_date >= start) & (payments.payment_date <= book.as_of))
    payments = payments.join(invoices, "invoice_id")
    customers = book.customers
    group = customers[by].fill_null(UNASSIGNED)
    payments = payments.left_join(customers.select("customer_id", group=group), "customer_id")
    frame = (
        payments.group_by(["group", "currency", "payment_date"])
        .aggregate(amount=payments.amount.sum())
        .to_pyarrow()
        .to_pandas()
    )
    totals: dict[object, list[Decimal]] = defaultdict(list)
    for group_value, currency, day, amount in zip(
        frame["group"], frame["currency"], frame["payment_date"], frame["amount"]
    ):
        totals[group_value].append(book.fx.convert(amount, currency, day))
    return {k: dsum(v) for k, v in totals.items()}


def collector_view(book: Book, by_collector: pd.DataFrame, status: pd.DataFrame) -> pd.DataFrame:
    """Per collector: balances owned, past-due share, cash collected in the month, promises taken / kept / broken."""
    collected = collected_in_month(book)
    start = book.as_of.replace(day=1)
    taken = status[status["promised_on"] >= start] if len(status) else status
    due = status[(status["due_by"] >= start) & (status["due_by"] <= book.as_of)] if len(status) else status
    rows = []
    for record in by_collector.itertuples(index=False):
        collector = record.collector
        mine_taken = taken[taken["collector"] == collector] if len(taken) else taken
        mine_due = due[due["collector"] == collector] if len(due) else due
        kept = int((mine_due["status"] == "kept").sum()) if len(mine_due) else 0
        broken = int((mine_due["status"] == "broken").sum()) if len(mine_due) else 0
        past_due_pct = ratio(record.past_due_ar, record.ar_total)
        rows.append(
            {
                "collector": collector,
                "ar_total": record.ar_total,
                "past_due_ar": record.past_due_ar,
                "past_due_pct": None if past_due_pct is None else past_due_pct * HUNDRED,
                "collected_in_month": collected.get(collector, ZERO),
                "dso": record.dso,
                "add": record.add,
                "promises_taken": len(mine_taken),
                "promises_due": len(mine_due),
                "promises_kept": kept,
                "promises_broken": broken,
                "kept_rate_pct": _kept_rate(kept, broken),
            }
        )
    return pd.DataFrame(rows)
