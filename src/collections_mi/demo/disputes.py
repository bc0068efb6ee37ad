"""Disputes and unapplied cash (data contract v1.1): one chunk of invoices at a time, from its own random stream, so
every other table of the demo is unchanged by them.

Disputes:
* Every invoice the simulation treats as disputed (``ChunkLedger.disputed``: paid late, often credited) gets a
  dispute opened 3–40 days after its invoice date, with a reason (pricing 35 %, quantity 20 %, quality 20 %,
  not_received 10 %, duplicate_billing 10 %, terms 5 %), an owner, and a resolution time that depends on the reason
  (medians in :data:`RESOLUTION_MEDIAN_DAYS`: not_received ~10 days, quality ~55). The outcome follows what happened
  to the invoice: ``credit_note`` when it got one, ``written_off`` when it was written off, else ``customer_pays``. A
  dispute not resolved by the demo's last day is open (resolved_on empty). 40 % dispute the whole invoice (amount
  empty), the others 10–60 % of it.
* About 1 % of the other invoices had a short dispute (not_received or duplicate_billing, 3–20 days) that is over:
  back-dated packs see disputes that are gone today. A fifth of the disputed invoices had such an earlier dispute too,
  before the one above (two disputes in sequence, never overlapping).
* ``invoices.disputed`` keeps the simulation's flag; with the disputes table present the contract ignores it.

Unapplied cash:
* About 3 % of payments were first received on account: a receipt 1–20 days before the payment, the same amount and
  currency, applied on the payment's date (the contract: applied cash appears in payments on applied_on); one in ten
  of them arrived without a customer (unidentified, matched later).
* Cash still on account at the demo's last day: about 0.6 % of the invoices dated in its last 90 days have a receipt
  of 30–100 % of their amount received in the last 60 days and never applied (not in payments); 15 % unidentified.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from collections_mi.demo.columns import date_array, nullable, scaled_decimal_array
from collections_mi.demo.receivables import ChunkLedger
from collections_mi.demo.schemas import MONEY_TYPE, SCHEMAS
from collections_mi.demo.world import CURRENCIES, categorical, uniform_int

REASONS = ("pricing", "quantity", "quality", "not_received", "duplicate_billing", "terms")
REASON_SHARES = np.array([0.35, 0.20, 0.20, 0.10, 0.10, 0.05])
#: median days from opened_on to resolved_on, by reason (lognormal spread around it)
RESOLUTION_MEDIAN_DAYS = {
    "pricing": 30,
    "quantity": 35,
    "quality": 55,
    "not_received": 10,
    "duplicate_billing": 18,
    "terms": 40,
}
OWNERS = ("Maria Chen", "Tom Okafor", "Billing team", "Sales operations", "Priya Nair")
OWNER_SHARES = np.array([0.3, 0.25, 0.2, 0.15, 0.1])


def _ids(prefix: str, keys: pa.Array) -> pa.Array:
    return pa.array([f"{prefix}{key}" for key in keys.to_pylist()], pa.string())


def dispute_table(rng: np.random.Generator, chunk: ChunkLedger, invoice_ids: pa.Array, end_day: int) -> pa.Table:
    """The chunk's disputes (see the module docstring), ordered by invoice, then opened_on."""
    n = chunk.invoice_day.size
    credited = np.zeros(n, dtype=bool)
    credited[chunk.adjustments["credit_note"].invoice] = True
    written_off = np.zeros(n, dtype=bool)
    written_off[chunk.adjustments["write_off"].invoice] = True

    main = np.flatnonzero(chunk.disputed)
    reason = categorical(rng, REASON_SHARES, main.size)
    # an invoice disputed in the last days before the end is disputed by then (opened on the last day at the latest)
    opened = np.minimum(
        chunk.invoice_day[main] + uniform_int(rng, 3, 40, main.size), np.maximum(chunk.invoice_day[main], end_day)
    )
    medians = np.array([RESOLUTION_MEDIAN_DAYS[r] for r in REASONS])[reason]
    took = np.maximum(1, np.rint(medians * np.exp(rng.normal(0.0, 0.5, main.size)))).astype(np.int64)
    outcome = np.where(credited[main], 0, np.where(written_off[main], 2, 1))
    whole = rng.random(main.size) < 0.4
    share = uniform_int(rng, 10, 60, main.size)
    owner = categorical(rng, OWNER_SHARES, main.size)

    # short disputes that are over: on ~1 % of the other invoices, and before the main one on a fifth of those
    others = np.flatnonzero(~chunk.disputed & (rng.random(n) < 0.01))
    earlier = main[rng.random(main.size) < 0.2]
    short = np.concatenate([others, earlier])
    short_reason = np.where(
        rng.random(short.size) < 0.5, REASONS.index("not_received"), REASONS.index("duplicate_billing")
    )
    short_opened = chunk.invoice_day[short] + uniform_int(rng, 1, 3, short.size)
    short_took = uniform_int(rng, 3, 20, short.size)
    # the earlier dispute of a main one ends before it opens
    main_opened = dict(zip(main.tolist(), opened.tolist()))
    short_took = np.array(
        [
            min(t, main_opened[i] - o - 1) if i in main_opened else t
            for i, o, t in zip(short.tolist(), short_opened.tolist(), short_took.tolist())
        ],
        dtype=np.int64,
    )
    keep = short_took >= 1
    short, short_reason, short_opened, short_took = (
        short[keep],
        short_reason[keep],
        short_opened[keep],
        short_took[keep],
    )
    short_owner = categorical(rng, OWNER_SHARES, short.size)

    invoice = np.concatenate([main, short])
    opened_day = np.concatenate([opened, short_opened])
    resolved_day = opened_day + np.concatenate([took, short_took])
    reasons = np.concatenate([reason, short_reason])
    outcomes = np.concatenate([outcome, np.ones(short.size, dtype=np.int64)])
    amount_cents = np.concatenate(
        [
            np.where(whole, -1, chunk.amount_cents[main] * share // 100),
            np.full(short.size, -1, dtype=np.int64),
        ]
    )
    owners = np.concatenate([owner, short_owner])
    sequence = np.concatenate([np.full(main.size, 2), np.ones(short.size, dtype=np.int64)])

    exists = opened_day <= end_day
    invoice, opened_day, resolved_day = invoice[exists], opened_day[exists], resolved_day[exists]
    reasons, outcomes, amount_cents, owners = reasons[exists], outcomes[exists], amount_cents[exists], owners[exists]
    sequence = sequence[exists]
    order = np.lexsort((opened_day, invoice))
    invoice, opened_day, resolved_day = invoice[order], opened_day[order], resolved_day[order]
    reasons, outcomes, amount_cents, owners = reasons[order], outcomes[order], amount_cents[order], owners[order]
    sequence = sequence[order]
    is_open = resolved_day > end_day
    keys = pa.array(
        [f"{invoice_id}-{number}" for invoice_id, number in zip(invoice_ids.take(invoice).to_pylist(), sequence)]
    )
    outcome_names = np.array(["credit_note", "customer_pays", "written_off"], dtype=object)[outcomes]
    return pa.Table.from_arrays(
        [
            _ids("DSP-", keys),
            invoice_ids.take(pa.array(invoice)),
            date_array(opened_day),
            date_array(resolved_day, ~is_open),
            pa.array(np.array(REASONS, dtype=object)[reasons], pa.string()),
            nullable(scaled_decimal_array(np.maximum(amount_cents, 0), MONEY_TYPE), amount_cents >= 0),
            pa.array(np.array(OWNERS, dtype=object)[owners], pa.string()),
            pa.array(outcome_names, pa.string(), mask=is_open),
        ],
        schema=SCHEMAS["disputes"],
    )


def unapplied_cash_table(
    rng: np.random.Generator, chunk: ChunkLedger, invoice_ids: pa.Array, invoice_customers: pa.Array, end_day: int
) -> pa.Table:
    """The chunk's receipts on account (see the module docstring), ordered by receipt date, then id."""
    payments = chunk.payments
    applied = np.flatnonzero((rng.random(payments.day.size) < 0.03) & (payments.day <= end_day))
    applied_invoice = payments.invoice[applied]
    applied_day = payments.day[applied]
    received = applied_day - uniform_int(rng, 1, 20, applied.size)
    applied_unknown = rng.random(applied.size) < 0.1

    recent = np.flatnonzero((chunk.invoice_day > end_day - 90) & (chunk.invoice_day <= end_day))
    waiting = recent[rng.random(recent.size) < 0.006]
    waiting_received = np.maximum(chunk.invoice_day[waiting], end_day - uniform_int(rng, 0, 59, waiting.size))
    waiting_cents = chunk.amount_cents[waiting] * uniform_int(rng, 30, 100, waiting.size) // 100
    waiting_unknown = rng.random(waiting.size) < 0.15

    invoice = np.concatenate([applied_invoice, waiting])
    receipt_day = np.concatenate([received, waiting_received])
    applied_on = np.concatenate([applied_day, np.zeros(waiting.size, dtype=np.int64)])
    never = np.concatenate([np.zeros(applied.size, dtype=bool), np.ones(waiting.size, dtype=bool)])
    cents = np.concatenate([payments.cents[applied], waiting_cents])
    unknown = np.concatenate([applied_unknown, waiting_unknown])
    keys = [
        f"{kind}{number}" for kind, number in zip(np.where(never, "OA-", "PA-"), np.concatenate([applied, waiting]))
    ]
    receipt_ids = pa.array(
        [f"RCP-{invoice_id}-{key}" for invoice_id, key in zip(invoice_ids.take(pa.array(invoice)).to_pylist(), keys)]
    )
    order = np.lexsort((np.array(receipt_ids.to_pylist(), dtype=object), receipt_day))
    customers = invoice_customers.take(pa.array(invoice))
    currency_codes = np.array(CURRENCIES, dtype=object)[chunk.currency[invoice]]
    table = pa.Table.from_arrays(
        [
            receipt_ids,
            nullable(customers, ~unknown),
            date_array(receipt_day),
            scaled_decimal_array(cents, MONEY_TYPE),
            pa.array(currency_codes, pa.string()),
            date_array(applied_on, ~never),
        ],
        schema=SCHEMAS["unapplied_cash"],
    )
    return table.take(pa.array(order))
