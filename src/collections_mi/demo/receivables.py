"""Receivables: one chunk of invoices and everything that happens to them, and the promises to pay.

A chunk's invoices get partial payments, prepayments, credit notes (often on disputed items), early-payment
discounts, write-offs of defaulted items 180-365 days past due and recoveries; nothing is dated after
``end``. Amounts are integer cents in the invoice's currency; promises are in the reporting currency.
Promises are *kept* (made shortly before a late payment, for at most what it brought in) or *broken*
(made by customers after they stopped paying; ``broken_promises`` after the last chunk).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collections_mi.core.contract import ADJUSTMENT_KINDS, BALANCE_REDUCING_KINDS
from collections_mi.demo.columns import IdWidths, date_array, id_array, scaled_decimal_array, string_array_from
from collections_mi.demo.customers import COLLECTORS, PROMPT, STOPPING, VERY_SLOW, Customers
from collections_mi.demo.schemas import MONEY_TYPE, RATE_SCALE, SCHEMAS
from collections_mi.demo.world import (
    CURRENCIES,
    NEVER,
    Calendar,
    FxRates,
    month_end_on_or_after,
    next_business_day,
    previous_business_day,
    random_share,
    share_of,
    uniform_int,
    weighted_draw,
)

_SEGMENT_AMOUNT_MEDIAN = np.array([25_000.0, 6_000.0, 900.0, 12_000.0])  # by customer segment
_SEGMENT_AMOUNT_SIGMA = np.array([1.0, 0.9, 0.8, 0.9])
_NULL_CURRENCY_SHARE = 0.05
_DISPUTED_SHARE = 0.03
# invoices settled in 2 / 3 payments, as shares of those not discounted, prepaid or defaulted
_PARTIAL_PAYMENT_SHARE = (0.11, 0.055)
_PREPAYMENT_SHARE = 0.004
_RECOVERY_SHARE = 0.15
_KEPT_PROMISE_PER_LATE_PAYMENT = 0.06
_KEPT_PROMISE_SHARE = 0.65


# ---------------------------------------------------------------------------------------------------
# What a chunk holds
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Events:
    """Rows of one kind, keyed by the chunk-local invoice index (sorted by invoice, then day)."""

    invoice: np.ndarray
    day: np.ndarray
    cents: np.ndarray

    def where(self, keep: np.ndarray) -> Events:
        """The rows for which ``keep`` is true."""
        return Events(invoice=self.invoice[keep], day=self.day[keep], cents=self.cents[keep])


@dataclass(frozen=True)
class Promises:
    """Promises to pay, one array entry per promise; amounts in the reporting currency."""

    customer: np.ndarray
    promised_on: np.ndarray
    due_by: np.ndarray
    amount_cents: np.ndarray

    def __len__(self) -> int:
        return int(self.customer.size)

    @staticmethod
    def none() -> Promises:
        empty = np.zeros(0, dtype=np.int64)
        return Promises(customer=empty, promised_on=empty, due_by=empty, amount_cents=empty)

    def by_date(self) -> Promises:
        """The same promises ordered by promised_on, then customer."""
        order = np.lexsort((self.customer, self.promised_on))
        return Promises(
            customer=self.customer[order],
            promised_on=self.promised_on[order],
            due_by=self.due_by[order],
            amount_cents=self.amount_cents[order],
        )


@dataclass(frozen=True)
class ChunkLedger:
    """A chunk of invoices (one array entry per invoice) with their payments, adjustments and kept promises."""

    first_invoice: int  # global 0-based index of the chunk's first invoice
    customer: np.ndarray
    invoice_day: np.ndarray
    due_day: np.ndarray
    terms_days: np.ndarray
    amount_cents: np.ndarray
    currency: np.ndarray  # code of the actual currency (null cells included)
    currency_is_null: np.ndarray
    disputed: np.ndarray
    payments: Events
    adjustments: dict[str, Events]  # by kind
    defaulted: np.ndarray  # never settled: written off (or to be, after end)
    defaulted_balance_cents: np.ndarray  # what the customer owes on a defaulted item, without discount
    kept_promises: Promises


# ---------------------------------------------------------------------------------------------------
# Simulating a chunk (the random draws are made in a fixed order: same seed, same ledger)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Invoices:
    customer: np.ndarray
    profile: np.ndarray  # the customer's payer profile
    invoice_day: np.ndarray
    due_day: np.ndarray
    terms_days: np.ndarray
    in_stress: np.ndarray  # due in the stressed quarter
    amount_cents: np.ndarray
    currency: np.ndarray
    currency_is_null: np.ndarray
    disputed: np.ndarray


@dataclass(frozen=True)
class _CreditNotes:
    issued: np.ndarray  # per invoice: whether it gets a credit note
    cents: np.ndarray  # 0 where none
    day: np.ndarray


@dataclass(frozen=True)
class _Settlement:
    day: np.ndarray  # when the invoice would be settled if nothing intervened
    takes_discount: np.ndarray
    discount_cents: np.ndarray
    item_default: np.ndarray  # the item goes bad (a stopping customer's items may go bad later too)
    prepaid: np.ndarray


def simulate_chunk(
    rng: np.random.Generator,
    first_invoice: int,
    count: int,
    calendar: Calendar,
    customers: Customers,
    fx: FxRates,
    reporting_code: int,
) -> ChunkLedger:
    """Invoices ``first_invoice`` … ``first_invoice + count - 1`` with everything that happens to them by end."""
    invoices = _draw_invoices(rng, first_invoice, count, calendar, customers, reporting_code)
    credit_notes = _draw_credit_notes(rng, invoices)
    settlement = _draw_settlement(rng, invoices, credit_notes, customers)
    payable_cents = invoices.amount_cents - credit_notes.cents - settlement.discount_cents
    payments = plan_payments(
        rng,
        invoices.invoice_day,
        invoices.terms_days,
        settlement.day,
        payable_cents,
        splittable=~settlement.takes_discount & ~settlement.prepaid & ~settlement.item_default,
        item_default=settlement.item_default,
    )

    # stopping customers pay nothing from their stop day on
    stop_day = customers.stop_day[invoices.customer]
    payments = payments.where(payments.day < stop_day[payments.invoice])
    settled = sum_by_invoice(payments, count) == payable_cents
    defaulted = ~settled
    discount_cents = np.where(settled, settlement.discount_cents, 0)  # a discount is only granted on payment

    # defaulted items: the rest is written off at a month-end 180-365 days past due
    write_off_day = month_end_on_or_after(invoices.due_day + uniform_int(rng, 180, 365, count))
    payments = payments.where(~defaulted[payments.invoice] | (payments.day <= write_off_day[payments.invoice]))
    defaulted_balance_cents = np.where(
        defaulted, invoices.amount_cents - credit_notes.cents - sum_by_invoice(payments, count), 0
    )
    recovered = defaulted & (rng.random(count) < _RECOVERY_SHARE)
    recovery_day = next_business_day(write_off_day + uniform_int(rng, 15, 150, count))
    recovery_cents = np.maximum(1, share_of(defaulted_balance_cents, random_share(rng, 0.05, 0.60, count)))

    # nothing is dated after end
    end_day = calendar.end_day
    every_invoice = np.arange(count)
    payments = payments.where(payments.day <= end_day)
    adjustments = {
        "credit_note": Events(every_invoice, credit_notes.day, credit_notes.cents).where(
            credit_notes.issued & (credit_notes.day <= end_day)
        ),
        "discount": Events(every_invoice, settlement.day, discount_cents).where(
            (discount_cents > 0) & (settlement.day <= end_day)
        ),
        "write_off": Events(every_invoice, write_off_day, defaulted_balance_cents).where(
            defaulted & (write_off_day <= end_day)
        ),
        "recovery": Events(every_invoice, recovery_day, recovery_cents).where(recovered & (recovery_day <= end_day)),
    }
    kept_promises = _kept_promises(rng, payments, invoices.customer, invoices.due_day, invoices.currency, fx)
    return ChunkLedger(
        first_invoice=first_invoice,
        customer=invoices.customer,
        invoice_day=invoices.invoice_day,
        due_day=invoices.due_day,
        terms_days=invoices.terms_days,
        amount_cents=invoices.amount_cents,
        currency=invoices.currency,
        currency_is_null=invoices.currency_is_null,
        disputed=invoices.disputed,
        payments=payments,
        adjustments=adjustments,
        defaulted=defaulted,
        defaulted_balance_cents=defaulted_balance_cents,
        kept_promises=kept_promises,
    )


def _draw_invoices(
    rng: np.random.Generator,
    first_invoice: int,
    count: int,
    calendar: Calendar,
    customers: Customers,
    reporting_code: int,
) -> _Invoices:
    """Day, customer, amount, currency and dispute flag of each invoice."""
    invoice_day = calendar.first_day + np.searchsorted(
        calendar.cumulative_invoices_by_day, np.arange(first_invoice, first_invoice + count), side="right"
    )
    customer = customers.sample(rng, invoice_day)
    segment = customers.segment[customer]
    terms_days = customers.terms_days[customer]
    due_day = invoice_day + terms_days
    log_amount = np.log(_SEGMENT_AMOUNT_MEDIAN[segment]) + _SEGMENT_AMOUNT_SIGMA[segment] * rng.standard_normal(count)
    currency = customers.currency[customer]
    return _Invoices(
        customer=customer,
        profile=customers.profile[customer],
        invoice_day=invoice_day,
        due_day=due_day,
        terms_days=terms_days,
        in_stress=(due_day >= calendar.stress_start) & (due_day <= calendar.stress_end),
        amount_cents=np.clip(np.rint(np.exp(log_amount) * 100), 1_000, 500_000_000).astype(np.int64),
        currency=currency,
        currency_is_null=(currency == reporting_code) & (rng.random(count) < _NULL_CURRENCY_SHARE),
        disputed=rng.random(count) < _DISPUTED_SHARE,
    )


def _draw_credit_notes(rng: np.random.Generator, invoices: _Invoices) -> _CreditNotes:
    """Credit notes: partial, mostly on disputed items."""
    count = invoices.invoice_day.size
    issued = rng.random(count) < np.where(invoices.disputed, 0.35, 0.011)
    cents = np.where(issued, np.maximum(1, share_of(invoices.amount_cents, random_share(rng, 0.05, 0.60, count))), 0)
    day = next_business_day(invoices.invoice_day + uniform_int(rng, 3, 45, count))
    return _CreditNotes(issued=issued, cents=cents, day=day)


def _draw_settlement(
    rng: np.random.Generator, invoices: _Invoices, credit_notes: _CreditNotes, customers: Customers
) -> _Settlement:
    """When each invoice would be settled, by payer profile; discounts, items that go bad, prepayments."""
    count = invoices.invoice_day.size
    profile, disputed, invoice_day = invoices.profile, invoices.disputed, invoices.invoice_day
    z = rng.standard_normal(count)
    days_late = np.select(
        [profile == PROMPT, profile == VERY_SLOW],
        [-3.0 + 4.0 * z, np.exp(np.log(50.0) + 0.75 * z)],
        default=20.0 + 9.0 * z,  # slow, and stopping customers before they stop
    )
    days_late = np.where(invoices.in_stress, np.where(profile == PROMPT, days_late + 4, days_late * 1.6 + 8), days_late)
    days_late = np.where(disputed & ~credit_notes.issued, days_late + uniform_int(rng, 20, 90, count), days_late)
    settle_day = np.maximum(invoices.due_day + np.rint(days_late).astype(np.int64), invoice_day + 1)
    settle_day = np.where(
        credit_notes.issued,
        np.maximum(settle_day, credit_notes.day + uniform_int(rng, 1, 20, count)),
        settle_day,
    )

    takes_discount = (
        customers.takes_discount[invoices.customer] & ~disputed & ~credit_notes.issued & (rng.random(count) < 0.75)
    )
    settle_day = np.where(takes_discount, invoice_day + uniform_int(rng, 2, 8, count), settle_day)
    discount_cents = np.where(takes_discount, (invoices.amount_cents * 2 + 50) // 100, 0)  # 2 %, half-up

    default_probability = np.select(
        [profile == PROMPT, profile == VERY_SLOW], [0.001, 0.015], default=0.004
    ) + np.where(invoices.in_stress, np.where(profile == PROMPT, 0.004, 0.06), 0.0)
    item_default = (rng.random(count) < default_probability) & ~takes_discount

    prepaid = (
        (profile != STOPPING)
        & ~disputed
        & ~credit_notes.issued
        & ~takes_discount
        & ~item_default
        & (rng.random(count) < _PREPAYMENT_SHARE)
    )
    settle_day = np.where(
        prepaid,
        previous_business_day(invoice_day - uniform_int(rng, 1, 9, count)),
        next_business_day(settle_day),
    )
    return _Settlement(
        day=settle_day,
        takes_discount=takes_discount,
        discount_cents=discount_cents,
        item_default=item_default,
        prepaid=prepaid,
    )


def plan_payments(
    rng: np.random.Generator,
    invoice_day: np.ndarray,
    terms_days: np.ndarray,
    settle_day: np.ndarray,
    payable_cents: np.ndarray,
    *,
    splittable: np.ndarray,
    item_default: np.ndarray,
) -> Events:
    """Payments each invoice would receive if nothing intervened.

    Settled invoices get 1, 2 or 3 payments summing exactly to ``payable_cents``, the last one on
    ``settle_day``; earlier instalments 7–35 days apart. A defaulting item gets, 40 % of the time, one
    partial payment of 10–50 % before it goes bad.
    """
    n = invoice_day.size
    split_draw = rng.random(n)
    two_share, three_share = _PARTIAL_PAYMENT_SHARE
    parts = np.where(
        splittable & (split_draw < two_share + three_share),
        np.where(split_draw < three_share, 3, 2),
        1,
    )
    defaulted_partial = item_default & (rng.random(n) < 0.4)
    parts = np.where(item_default, defaulted_partial.astype(np.int64), parts)

    # cumulative share paid after the first / second instalment
    first_cut = np.where(parts == 3, random_share(rng, 0.15, 0.45, n), random_share(rng, 0.20, 0.80, n))
    second_cut = random_share(rng, 0.55, 0.85, n)
    gap_last = uniform_int(rng, 7, 35, n)
    gap_before = uniform_int(rng, 7, 35, n)
    default_share = random_share(rng, 0.10, 0.50, n)
    default_day = next_business_day(invoice_day + uniform_int(rng, 10, terms_days + 60, n))

    invoice = np.repeat(np.arange(n), parts)
    position = np.arange(invoice.size) - np.repeat(np.cumsum(parts) - parts, parts)
    invoice_parts = parts[invoice]
    payable = payable_cents[invoice]
    paid_after_first = share_of(payable, first_cut[invoice])
    paid_after_second = share_of(payable, second_cut[invoice])
    is_last = position == invoice_parts - 1
    paid_before = np.select([position == 0, position == 1], [0, paid_after_first], default=paid_after_second)
    paid_after = np.where(is_last, payable, np.where(position == 0, paid_after_first, paid_after_second))
    cents = paid_after - paid_before
    later_parts = invoice_parts - 1 - position
    days_before_settlement = np.select(
        [later_parts == 0, later_parts == 1],
        [0, gap_last[invoice]],
        default=gap_last[invoice] + gap_before[invoice],
    )
    settle = settle_day[invoice]
    day = np.where(
        days_before_settlement > 0,
        next_business_day(np.maximum(invoice_day[invoice], settle - days_before_settlement)),
        settle,
    )

    is_default = item_default[invoice]
    cents = np.where(is_default, np.maximum(1, share_of(payable, default_share[invoice])), cents)
    day = np.where(is_default, default_day[invoice], day)
    return Events(invoice=invoice, day=day, cents=cents)


def sum_by_invoice(events: Events, invoice_count: int) -> np.ndarray:
    total = np.zeros(invoice_count, dtype=np.int64)
    np.add.at(total, events.invoice, events.cents)
    return total


def _kept_promises(
    rng: np.random.Generator,
    payments: Events,
    customer: np.ndarray,
    due_day: np.ndarray,
    currency: np.ndarray,
    fx: FxRates,
) -> Promises:
    """Promises made shortly before a late payment, for at most what that payment brought in.

    The amount is the payment converted at the *lowest* rate in the whole fx table (then trimmed and
    rounded down), so the promise is kept whatever closing date a reader converts the payment at.
    """
    days_late = payments.day - due_day[payments.invoice]
    chosen = (days_late >= 5) & (rng.random(payments.day.size) < _KEPT_PROMISE_PER_LATE_PAYMENT)
    invoice, pay_day, cents = payments.invoice[chosen], payments.day[chosen], payments.cents[chosen]
    size = invoice.size
    window = uniform_int(rng, 7, 30, size)
    lead = np.minimum(uniform_int(rng, 0, np.minimum(window, 10), size), days_late[chosen] - 1)
    promised_on = pay_day - lead
    worst_case_reporting = cents * fx.lowest_reporting_per_unit[currency[invoice]] // RATE_SCALE
    promised = share_of(worst_case_reporting, random_share(rng, 0.50, 1.00, size))
    promised = np.where(promised >= 10_000, promised // 100 * 100, promised)  # whole units above 100.00
    keep = promised > 0
    return Promises(
        customer=customer[invoice][keep],
        promised_on=promised_on[keep],
        due_by=(promised_on + window)[keep],
        amount_cents=promised[keep],
    )


def month_end_balances(chunk: ChunkLedger, month_ends: np.ndarray) -> np.ndarray:
    """Open balance of each invoice of the chunk at each month-end, in cents (invoice × month-end)."""
    month_count = month_ends.size
    n = chunk.invoice_day.size
    # change of each invoice's balance by the month-end it first counts at; column month_count = later
    change = np.zeros((n, month_count + 1), dtype=np.int64)
    invoice_month = np.searchsorted(month_ends, chunk.invoice_day, side="left")
    change[np.arange(n), invoice_month] = chunk.amount_cents
    reductions = [chunk.payments, *(chunk.adjustments[kind] for kind in BALANCE_REDUCING_KINDS)]
    for events in reductions:
        # a prepayment only counts once its invoice exists
        effective_day = np.maximum(events.day, chunk.invoice_day[events.invoice])
        month = np.searchsorted(month_ends, effective_day, side="left")
        np.add.at(change, (events.invoice, month), -events.cents)
    balance = np.cumsum(change[:, :month_count], axis=1)
    if np.any(balance < 0):
        raise RuntimeError("internal error: the demo generator over-applied an invoice")
    return balance


# ---------------------------------------------------------------------------------------------------
# Broken / pending promises (after all chunks)
# ---------------------------------------------------------------------------------------------------


@dataclass
class DefaulterAccumulator:
    """Per stopping customer: due dates and size of defaulted items (to place broken promises)."""

    customer_count: int
    first_default_due: np.ndarray = field(init=False)
    last_default_due: np.ndarray = field(init=False)
    defaulted_reporting_cents: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.first_default_due = np.full(self.customer_count, NEVER, dtype=np.int64)
        self.last_default_due = np.full(self.customer_count, -NEVER, dtype=np.int64)
        self.defaulted_reporting_cents = np.zeros(self.customer_count, dtype=np.int64)

    def add_chunk(self, chunk: ChunkLedger, customers: Customers, fx: FxRates) -> None:
        is_stopped = chunk.defaulted & (customers.profile[chunk.customer] == STOPPING)
        customer = chunk.customer[is_stopped]
        due = chunk.due_day[is_stopped]
        np.minimum.at(self.first_default_due, customer, due)
        np.maximum.at(self.last_default_due, customer, due)
        rate = fx.lowest_reporting_per_unit[chunk.currency[is_stopped]]  # a rough size is all we need
        reporting_cents = chunk.defaulted_balance_cents[is_stopped] * rate // RATE_SCALE
        np.add.at(self.defaulted_reporting_cents, customer, reporting_cents)


def broken_promises(
    rng: np.random.Generator,
    kept_count: int,
    customers: Customers,
    defaulters: DefaulterAccumulator,
    calendar: Calendar,
) -> Promises:
    """Promises by customers after they stopped paying: never kept, so broken (or pending if due_by ≥ end).

    About ``1 - _KEPT_PROMISE_SHARE`` of all promises; made between the stop day / first defaulted due date
    and shortly before the last defaulted item would be written off, i.e. while items are past due.
    """
    earliest = np.maximum(customers.stop_day, defaulters.first_default_due + 1)
    latest = np.minimum(calendar.end_day, defaulters.last_default_due + 179)
    eligible = np.flatnonzero((customers.profile == STOPPING) & (earliest <= latest))
    wanted = round(kept_count * (1 - _KEPT_PROMISE_SHARE) / _KEPT_PROMISE_SHARE)
    if eligible.size == 0 or wanted == 0:
        return Promises.none()
    weight = np.cumsum(np.sqrt(defaulters.defaulted_reporting_cents[eligible].astype(np.float64)) + 1.0)
    customer = eligible[weighted_draw(rng, weight, wanted)]
    promised_on = uniform_int(rng, earliest[customer], latest[customer], wanted)
    due_by = promised_on + uniform_int(rng, 7, 30, wanted)
    owed = defaulters.defaulted_reporting_cents[customer]
    amount_cents = np.maximum(10_000, share_of(owed, random_share(rng, 0.05, 0.40, wanted)) // 100 * 100)
    return Promises(customer=customer, promised_on=promised_on, due_by=due_by, amount_cents=amount_cents).by_date()


# ---------------------------------------------------------------------------------------------------
# Arrow tables, numbered on from the rows of the chunks before
# ---------------------------------------------------------------------------------------------------


@dataclass
class RowCounters:
    """Rows numbered so far, per table whose ids run on across chunks."""

    payments: int = 0
    adjustments: int = 0
    promises: int = 0
    disputes: int = 0
    receipts: int = 0  # unapplied_cash


def chunk_tables(
    chunk: ChunkLedger, customers: Customers, widths: IdWidths, counters: RowCounters
) -> dict[str, pa.Table]:
    """The chunk's rows of ``invoices``, ``payments``, ``adjustments`` and (kept) ``promises``."""
    n = chunk.invoice_day.size
    invoice_numbers = np.arange(chunk.first_invoice + 1, chunk.first_invoice + n + 1)
    invoice_ids = id_array("INV-", invoice_numbers, widths.invoice)
    currency = string_array_from(CURRENCIES, chunk.currency)
    invoices = pa.Table.from_arrays(
        [
            invoice_ids,
            id_array("C", chunk.customer + 1, widths.customer),
            date_array(chunk.invoice_day),
            date_array(chunk.due_day),
            scaled_decimal_array(chunk.amount_cents, MONEY_TYPE),
            pc.if_else(pa.array(chunk.currency_is_null), pa.scalar(None, pa.string()), currency),
            pa.array(chunk.disputed, pa.bool_()),
            pa.array(chunk.terms_days, pa.int64()),
        ],
        schema=SCHEMAS["invoices"],
    )

    payments = chunk.payments
    order = np.lexsort((payments.day, payments.invoice))
    payment_numbers = counters.payments + 1 + np.arange(order.size)
    counters.payments += order.size
    payments_table = pa.Table.from_arrays(
        [
            id_array("PAY-", payment_numbers, widths.row),
            pc.take(invoice_ids, pa.array(payments.invoice[order])),
            date_array(payments.day[order]),
            scaled_decimal_array(payments.cents[order], MONEY_TYPE),
        ],
        schema=SCHEMAS["payments"],
    )

    # the rows of one invoice are listed by day, then in the contract's order of kinds
    kind = np.concatenate([np.full(chunk.adjustments[k].day.size, code) for code, k in enumerate(ADJUSTMENT_KINDS)])
    invoice = np.concatenate([chunk.adjustments[k].invoice for k in ADJUSTMENT_KINDS])
    day = np.concatenate([chunk.adjustments[k].day for k in ADJUSTMENT_KINDS])
    cents = np.concatenate([chunk.adjustments[k].cents for k in ADJUSTMENT_KINDS])
    order = np.lexsort((kind, day, invoice))
    adjustment_numbers = counters.adjustments + 1 + np.arange(order.size)
    counters.adjustments += order.size
    adjustments = pa.Table.from_arrays(
        [
            id_array("ADJ-", adjustment_numbers, widths.row),
            pc.take(invoice_ids, pa.array(invoice[order])),
            date_array(day[order]),
            string_array_from(ADJUSTMENT_KINDS, kind[order]),
            scaled_decimal_array(cents[order], MONEY_TYPE),
        ],
        schema=SCHEMAS["adjustments"],
    )
    return {
        "invoices": invoices,
        "payments": payments_table,
        "adjustments": adjustments,
        "promises": promises_table(chunk.kept_promises.by_date(), customers, widths, counters),
    }


def promises_table(promises: Promises, customers: Customers, widths: IdWidths, counters: RowCounters) -> pa.Table:
    """Rows of ``promises``; the collector is the customer's."""
    numbers = counters.promises + 1 + np.arange(len(promises))
    counters.promises += len(promises)
    return pa.Table.from_arrays(
        [
            id_array("PRM-", numbers, widths.row),
            id_array("C", promises.customer + 1, widths.customer),
            date_array(promises.promised_on),
            date_array(promises.due_by),
            scaled_decimal_array(promises.amount_cents, MONEY_TYPE),
            string_array_from(COLLECTORS, customers.collector[promises.customer]),
        ],
        schema=SCHEMAS["promises"],
    )
