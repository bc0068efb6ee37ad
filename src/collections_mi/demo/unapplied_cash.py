"""Unapplied cash (data contract v1.1): receipts on account, from their own random streams.

Nothing here draws from the receivables' streams, so every other table is unchanged by it.

Receipts applied later (one chunk of invoices at a time)
    About 3 % of the payments were first received on account: a receipt on a business day 1–20 days before the
    payment, for the same amount in the invoice's currency (the ``currency`` cell as the invoice's, empty meaning
    the reporting currency), from the invoice's customer, applied on the payment's date, as the contract says
    ("when it is applied, the same money appears in payments with payment_date = applied_on"). One in ten arrived
    without a customer (unidentified cash, matched to its invoice later).

Cash still on account at the demo's last day (after the last chunk)
    Overpayments, payments without remittance advice and unidentified receipts that nobody has applied yet
    (``applied_on`` empty, not in ``payments``): received on business days in the last 60 days, by customers
    invoiced in the last 120 days (more likely the more they owe), in their billing currency, sized like a part
    of a typical invoice of their segment; a fifth are unidentified. They are drawn until they add up to 0.8–1.5 %
    of the open receivables at the last day (in the reporting currency, at its closing rate).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collections_mi.core.contract import BALANCE_REDUCING_KINDS
from collections_mi.demo.columns import (
    IdWidths,
    date_array,
    id_array,
    nullable,
    scaled_decimal_array,
    string_array_from,
)
from collections_mi.demo.customers import Customers
from collections_mi.demo.receivables import ChunkLedger, RowCounters, sum_by_invoice
from collections_mi.demo.schemas import MONEY_TYPE, RATE_SCALE, SCHEMAS
from collections_mi.demo.world import (
    CURRENCIES,
    NEVER,
    Calendar,
    FxRates,
    previous_business_day,
    random_share,
    share_of,
    uniform_int,
    weighted_draw,
)

_ON_ACCOUNT_SHARE = 0.03  # of payments, first received on account
_RECEIVED_DAYS_BEFORE = (1, 20)
_UNIDENTIFIED_APPLIED_SHARE = 0.10
_WAITING_SHARE_OF_OPEN_AR = (0.008, 0.015)
_WAITING_DAYS = 60  # cash still on account was received in the last this many days
_ACTIVE_DAYS = 120  # by customers invoiced in the last this many days
_UNIDENTIFIED_WAITING_SHARE = 0.20
_NULL_CURRENCY_SHARE = 0.05  # as invoices: some reporting-currency receipts leave the currency empty
_RECEIPT_MEDIAN_UNITS = np.array([9_000.0, 2_500.0, 400.0, 5_000.0])  # by segment (Enterprise, Mid-Market, …)
_BATCH = 64


@dataclass(frozen=True)
class Receipts:
    """Receipts on account, one array entry per receipt; amounts in the receipt's currency."""

    customer: np.ndarray  # -1: unidentified
    received: np.ndarray
    cents: np.ndarray
    currency: np.ndarray
    currency_is_null: np.ndarray
    applied_on: np.ndarray  # NEVER: still unapplied

    def by_date(self) -> Receipts:
        order = np.lexsort((self.cents, self.customer, self.applied_on, self.received))
        return Receipts(
            customer=self.customer[order],
            received=self.received[order],
            cents=self.cents[order],
            currency=self.currency[order],
            currency_is_null=self.currency_is_null[order],
            applied_on=self.applied_on[order],
        )


def applied_receipts(rng: np.random.Generator, chunk: ChunkLedger, first_day: int) -> Receipts:
    """The chunk's payments that were first received on account (see the module docstring)."""
    payments = chunk.payments
    chosen = np.flatnonzero(rng.random(payments.day.size) < _ON_ACCOUNT_SHARE)
    applied_on = payments.day[chosen]
    received = previous_business_day(applied_on - uniform_int(rng, *_RECEIVED_DAYS_BEFORE, chosen.size))
    unidentified = rng.random(chosen.size) < _UNIDENTIFIED_APPLIED_SHARE
    keep = received >= first_day  # the first invoices' prepayments stay payments
    invoice = payments.invoice[chosen][keep]
    return Receipts(
        customer=np.where(unidentified[keep], -1, chunk.customer[invoice]),
        received=received[keep],
        cents=payments.cents[chosen][keep],
        currency=chunk.currency[invoice],
        currency_is_null=chunk.currency_is_null[invoice],
        applied_on=applied_on[keep],
    ).by_date()


@dataclass
class OpenReceivables:
    """Per customer: open receivables at the demo's last day (reporting cents) and the last invoice day."""

    customer_count: int
    open_reporting_cents: np.ndarray = field(init=False)
    last_invoice_day: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.open_reporting_cents = np.zeros(self.customer_count, dtype=np.int64)
        self.last_invoice_day = np.full(self.customer_count, -NEVER, dtype=np.int64)

    def add_chunk(self, chunk: ChunkLedger, fx: FxRates, end_day: int) -> None:
        """Nothing in a chunk is dated after the end, so its open balance is what is left of each invoice."""
        n = chunk.invoice_day.size
        reduced = sum_by_invoice(chunk.payments, n)
        for kind in BALANCE_REDUCING_KINDS:
            reduced += sum_by_invoice(chunk.adjustments[kind], n)
        closing = fx.reporting_per_unit[:, fx.closing_index(np.array([end_day]))[0]]
        open_reporting = (chunk.amount_cents - reduced) * closing[chunk.currency] // RATE_SCALE
        np.add.at(self.open_reporting_cents, chunk.customer, open_reporting)
        np.maximum.at(self.last_invoice_day, chunk.customer, chunk.invoice_day)


def waiting_receipts(
    rng: np.random.Generator,
    receivables: OpenReceivables,
    customers: Customers,
    fx: FxRates,
    calendar: Calendar,
    reporting_code: int,
) -> Receipts:
    """Cash still on account at the demo's last day (see the module docstring)."""
    end_day = calendar.end_day
    target = int(
        share_of(np.array([receivables.open_reporting_cents.sum()]), random_share(rng, *_WAITING_SHARE_OF_OPEN_AR, 1))[
            0
        ]
    )
    active = np.flatnonzero(receivables.last_invoice_day >= end_day - _ACTIVE_DAYS)
    if target <= 0 or active.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Receipts(empty, empty, empty, empty, np.zeros(0, dtype=bool), empty)
    weight = np.cumsum(np.sqrt(np.maximum(receivables.open_reporting_cents[active], 0).astype(np.float64)) + 500.0)
    closing = fx.reporting_per_unit[:, fx.closing_index(np.array([end_day]))[0]]
    batches: list[tuple[np.ndarray, np.ndarray]] = []
    total = 0
    while total < target:
        customer = active[weighted_draw(rng, weight, _BATCH)]
        typical = _RECEIPT_MEDIAN_UNITS[customers.segment[customer]] * rng.lognormal(0.0, 0.8, _BATCH)
        cents = np.maximum(5_000, np.rint(typical * rng.uniform(0.2, 1.0, _BATCH) * 100)).astype(np.int64)
        reporting = cents * closing[customers.currency[customer]] // RATE_SCALE
        needed = np.searchsorted(np.cumsum(reporting), target - total, side="left") + 1
        batches.append((customer[:needed], cents[:needed]))
        total += int(reporting[:needed].sum())
    customer = np.concatenate([c for c, _ in batches])
    cents = np.concatenate([a for _, a in batches])
    count = customer.size
    first = max(calendar.first_day, end_day - _WAITING_DAYS + 1)
    received = np.maximum(previous_business_day(uniform_int(rng, first, end_day, count)), calendar.first_day)
    currency = customers.currency[customer]
    return Receipts(
        customer=np.where(rng.random(count) < _UNIDENTIFIED_WAITING_SHARE, -1, customer),
        received=received,
        cents=cents,
        currency=currency,
        currency_is_null=(currency == reporting_code) & (rng.random(count) < _NULL_CURRENCY_SHARE),
        applied_on=np.full(count, NEVER, dtype=np.int64),
    ).by_date()


def unapplied_cash_table(receipts: Receipts, widths: IdWidths, counters: RowCounters) -> pa.Table:
    """Rows of ``unapplied_cash``, numbered on from the receipts before (``RCP-…``)."""
    count = receipts.customer.size
    numbers = counters.receipts + 1 + np.arange(count)
    counters.receipts += count
    identified = receipts.customer >= 0
    applied = receipts.applied_on != NEVER
    currency = string_array_from(CURRENCIES, receipts.currency)
    return pa.Table.from_arrays(
        [
            id_array("RCP-", numbers, widths.row),
            nullable(id_array("C", np.maximum(receipts.customer, 0) + 1, widths.customer), identified),
            date_array(receipts.received),
            scaled_decimal_array(receipts.cents, MONEY_TYPE),
            pc.if_else(pa.array(receipts.currency_is_null), pa.scalar(None, pa.string()), currency),
            date_array(np.where(applied, receipts.applied_on, 0), applied),
        ],
        schema=SCHEMAS["unapplied_cash"],
    )
