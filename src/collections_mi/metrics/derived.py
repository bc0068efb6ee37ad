"""The tables a run derives from the ledger once, as engine expressions over the contract tables (data-contract.md §3).

:func:`collections_mi.metrics.book.open_book` builds them and materialises them; every metric then reads them from
the :class:`~collections_mi.metrics.book.Book`. Nothing here reads a mapping of tables or computes anything itself.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from collections_mi.core.contract import BALANCE_REDUCING_KINDS

#: adjustment kinds that settle an invoice as a payment does (a write-off closes it without settling it)
SETTLING_KINDS = ("credit_note", "discount")


def in_slice(table: ir.Table, slice_index: int, slices: int) -> ir.Table:
    """The rows of ``table`` whose ``invoice_id`` falls in slice ``slice_index`` of ``slices`` (0-based): slices by
    a hash of the id, so every row of one invoice — its invoice, payments, adjustments, days — is in the same slice,
    and the ``slices`` slices together hold every row exactly once. One slice: ``table`` itself."""
    if slices == 1:
        return table
    remainder = table.invoice_id.hash() % slices  # the engine's hash is signed: a remainder can be negative
    return table.filter((remainder + slices) % slices == slice_index)


def with_invoice_defaults(invoices: ir.Table, reporting_currency: str) -> ir.Table:
    """Invoices as metrics read them: ``currency`` upper-cased, absent/null = the reporting currency; ``disputed``
    null = false (data-contract.md § invoices)."""
    return invoices.mutate(
        currency=invoices.currency.upper().fill_null(reporting_currency),
        disputed=invoices.disputed.fill_null(False),
    )


def reductions(payments: ir.Table, adjustments: ir.Table | None) -> ir.Table:
    """Every balance-reducing event: invoice_id, kind (payment/credit_note/discount/write_off), event_date, amount."""
    events = payments.select(
        invoice_id=payments.invoice_id,
        kind=ibis.literal("payment"),
        event_date=payments.payment_date,
        amount=payments.amount,
    )
    if adjustments is not None:
        adj = adjustments.filter(adjustments.kind.isin(BALANCE_REDUCING_KINDS))
        events = events.union(
            adj.select(invoice_id=adj.invoice_id, kind=adj.kind, event_date=adj.adjustment_date, amount=adj.amount)
        )
    return events


def daily_reductions(payments: ir.Table, adjustments: ir.Table | None) -> ir.Table:
    """Balance reductions per invoice and day: ``invoice_id``, ``event_date``, ``reduced`` (that day's total)."""
    events = reductions(payments, adjustments)
    return events.group_by(["invoice_id", "event_date"]).aggregate(reduced=events.amount.sum())


def running_totals(daily: ir.Table, amount: str, total: str) -> ir.Table:
    """Per invoice and day of ``daily`` (one row per ``invoice_id`` and ``event_date``): ``total`` = Σ ``amount`` of
    that invoice's days up to and including that day.

    A join of each day with the invoice's days on or before it, then a sum — not a running-sum window: joins and
    aggregates spill to disk beyond DuckDB's memory limit, a window over every invoice's days does not (a 10M-invoice
    ledger ran out of memory there at a 1GB limit). An invoice has few days (a payment or two, a credit), so the join
    stays about the size of ``daily``."""
    earlier = daily.select(
        earlier_invoice_id=daily.invoice_id, earlier_date=daily.event_date, earlier_amount=daily[amount]
    )
    joined = daily.join(
        earlier, [daily.invoice_id == earlier.earlier_invoice_id, earlier.earlier_date <= daily.event_date]
    )
    return joined.group_by(["invoice_id", "event_date"]).aggregate(**{total: joined.earlier_amount.sum()})


def invoice_spans(invoices: ir.Table, daily: ir.Table) -> ir.Table:
    """Every invoice (as :func:`with_invoice_defaults` gives them) with ``closed_on``: the first day its reductions
    (``daily``, :func:`daily_reductions`) reach its amount (null while open).

    Reductions are positive (validation guarantees it), so a balance only falls: an invoice is open exactly on
    ``[invoice_date, closed_on)``. This lets :func:`collections_mi.metrics.balances.open_items` build only the
    (invoice, date) pairs where the invoice is open, instead of every invoice × every date.
    """
    running = running_totals(daily, "reduced", "cumulative")
    amounts = invoices.select(amount_invoice_id=invoices.invoice_id, invoice_amount=invoices.amount)
    reached = running.join(amounts, running.invoice_id == amounts.amount_invoice_id).filter(
        lambda t: t.cumulative >= t.invoice_amount
    )
    closed = reached.group_by(closed_invoice_id=reached.invoice_id).aggregate(closed_on=reached.event_date.min())
    return invoices.left_join(closed, invoices.invoice_id == closed.closed_invoice_id).drop("closed_invoice_id")


def settled_invoices(invoices: ir.Table, payments: ir.Table, adjustments: ir.Table | None, as_of: dt.date) -> ir.Table:
    """Invoices whose open balance reached 0 on or before as_of through payments and credits (not write-offs).

    Settlement date = the date of the last payment/credit that closed the invoice, or the invoice date when it
    was fully prepaid (its balance is only open from its invoice date). Invoices with a write-off dated on or
    before that date are excluded: they were not settled by the customer. Adds ``closed_on``, ``settled_on``,
    ``days_to_pay`` and ``days_late`` (never negative) to the invoice columns."""
    inv = invoices.filter(invoices.invoice_date <= as_of)
    events = payments.select(invoice_id=payments.invoice_id, event_date=payments.payment_date, amount=payments.amount)
    write_offs = None
    if adjustments is not None:
        adj = adjustments
        credits = adj.filter(adj.kind.isin(SETTLING_KINDS))
        events = events.union(
            credits.select(invoice_id=credits.invoice_id, event_date=credits.adjustment_date, amount=credits.amount)
        )
        write_offs = (
            adj.filter(adj.kind == "write_off")
            .group_by("invoice_id")
            .aggregate(first_write_off=lambda t: t.adjustment_date.min())
        )
    events = events.filter(events.event_date <= as_of)
    daily = events.group_by(["invoice_id", "event_date"]).aggregate(amount=events.amount.sum())
    running = running_totals(daily, "amount", "applied")
    running = running.join(inv.select("invoice_id", invoice_amount=inv.amount), "invoice_id")
    closed = (
        running.filter(running.applied >= running.invoice_amount)
        .group_by("invoice_id")
        .aggregate(closed_on=lambda t: t.event_date.min())
    )
    settled = inv.join(closed, "invoice_id")
    if write_offs is not None:
        settled = settled.left_join(write_offs, "invoice_id").drop("invoice_id_right")
        settled = settled.filter(settled.first_write_off.isnull() | (settled.first_write_off > settled.closed_on))
    settled = settled.mutate(settled_on=ibis.greatest(settled.closed_on, settled.invoice_date))
    days_to_pay = settled.settled_on.delta(settled.invoice_date, unit="day")
    days_late = ibis.greatest(settled.settled_on.delta(settled.due_date, unit="day"), 0)
    return settled.mutate(days_to_pay=days_to_pay, days_late=days_late)
