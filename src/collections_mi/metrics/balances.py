"""Open balances per data-contract.md §3, computed in the engine for one or many as-of dates.

Open balance of an invoice at D = amount − Σ payments(payment_date ≤ D)
− Σ adjustments of kind credit_note/discount/write_off (adjustment_date ≤ D).
An invoice is open at D when invoice_date ≤ D and its open balance > 0.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

import ibis
import ibis.expr.types as ir
import pandas as pd

from collections_mi.metrics.book import Book, OpenItemsAt, held_once


def as_of_table(dates: Sequence[dt.date]) -> ir.Table:
    return ibis.memtable(
        pd.DataFrame({"as_of": pd.Series(list(dates), dtype="object")}), schema=ibis.schema({"as_of": "date"})
    )


def open_items(book: Book, as_of: dt.date | Sequence[dt.date]) -> ir.Table:
    """Open invoices at each as-of date, with ``as_of``, ``open_balance``, ``days_past_due``, ``days_since_invoice``:
    the rows of ``book.open_items_at`` when it holds every one of the dates (:func:`sharing_open_items`), else
    computed (:func:`computed_open_items`)."""
    dates = [as_of] if isinstance(as_of, dt.date) else list(as_of)
    shared = book.open_items_at
    if shared is None:
        return computed_open_items(book, dates)
    if not shared.covers(dates):
        shared.missed.append(tuple(sorted(set(dates))))
        return computed_open_items(book, dates)
    table = shared.table
    return table if shared.dates == set(dates) else table.filter(table.as_of.isin(sorted(set(dates))))


@contextmanager
def sharing_open_items(book: Book, dates: Collection[dt.date]) -> Iterator[Book]:
    """``book`` with its open items at ``dates`` computed once into a temporary table of the engine (dropped on
    exit), which every :func:`open_items` query at some of these dates reads: a run's sections read open items at
    the same month-ends again and again (the aging trend, disputes and concentration at the trend's month-ends; DSO
    at 27 dates and at its windows' eves; the allowance at 37 month-ends; the forecast's back-test), and each
    computation scans the invoice spans and every reduction. The rows are the same either way.

    When ``book`` already shares the open items at every one of ``dates`` (a section asking for its own dates within
    a run), it is given as it is; when it shares others, the dates are recorded as missed by its share."""
    shared = book.open_items_at
    if not dates or (shared is not None and shared.covers(dates)):
        yield book
        return
    if shared is not None:
        shared.missed.append(tuple(sorted(set(dates))))
    with held_once(computed_open_items(book, sorted(set(dates)))) as table:
        yield replace(book, open_items_at=OpenItemsAt(frozenset(dates), table))


def computed_open_items(book: Book, dates: Sequence[dt.date]) -> ir.Table:
    """The open invoices at each of ``dates`` computed from the invoice spans and reductions.

    Balances are in the invoice's currency (exact decimals). One scan of each table whatever the number of
    dates: the dates are a tiny table range-joined to each invoice's open span ``[invoice_date, closed_on)``
    (``book.spans``), and only those open pairs collect their reductions up to the date. The result is
    the same as taking every invoice × every date and keeping positive balances — the spans only skip pairs
    whose balance is already ≤ 0.
    """
    days = as_of_table(dates)
    spans = book.spans
    pairs = spans.join(
        days, [spans.invoice_date <= days.as_of, spans.closed_on.isnull() | (days.as_of < spans.closed_on)]
    ).drop("closed_on")
    daily = book.daily_reductions
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
    items = items.mutate(
        days_past_due=items.as_of.delta(items.due_date, unit="day"),
        days_since_invoice=items.as_of.delta(items.invoice_date, unit="day"),
    )
    return items if book.disputes is None else disputed_at(items, book.disputes)


def disputed_at(items: ir.Table, disputes: ir.Table) -> ir.Table:
    """``items`` (one row per invoice and ``as_of``) with ``disputed`` decided by the disputes table (data-contract.md
    v1.1 § disputes): true when one of the invoice's disputes is open at that date — opened_on ≤ as_of and
    (resolved_on null or resolved_on > as_of) — so a back-dated report sees the disputes of its own date;
    ``invoices.disputed`` is then ignored."""
    keys = items.select(key_invoice_id=items.invoice_id, key_as_of=items.as_of)
    open_then = (
        keys.join(
            disputes,
            [
                keys.key_invoice_id == disputes.invoice_id,
                disputes.opened_on <= keys.key_as_of,
                disputes.resolved_on.isnull() | (disputes.resolved_on > keys.key_as_of),
            ],
        )
        .select("key_invoice_id", "key_as_of")
        .distinct()
        .mutate(open_dispute=ibis.literal(True))
    )
    joined = items.left_join(
        open_then, [items.invoice_id == open_then.key_invoice_id, items.as_of == open_then.key_as_of]
    ).drop("key_invoice_id", "key_as_of")
    return joined.mutate(disputed=joined.open_dispute.fill_null(False)).drop("open_dispute")


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
