"""Disputes (data contract v1.1): one chunk of invoices at a time, from the chunk's own random stream.

Nothing here draws from the receivables' streams, so every other table is unchanged by the disputes; the only
column they decide is ``invoices.disputed`` (see below).

Which invoices, and when
    * Every invoice the simulation treats as disputed (``ChunkLedger.disputed``: paid 20–90 days late, or credited)
      gets a dispute opened 2–42 days after its invoice date, never after the demo's last day (an invoice dated in
      the last two days is not disputed *yet*). Its end follows what happened to the invoice:

      - ``credit_note``: resolved on the day of the invoice's credit note;
      - ``written_off``: resolved on the day the rest of the invoice was written off;
      - ``customer_pays``: the invoice was paid without credit; resolved 0–21 days before its last payment (the
        customer pays on its next payment run once the dispute is settled);
      - open (``resolved_on`` and ``outcome`` empty): none of these happened by the demo's last day.

    * A quarter of the credited invoices whose rest was paid, written off or is still open well after the credit
      note see a second dispute, opened 2–30 days after the credit note (so never overlapping the first), on what is
      left; it ends as above. About 1 % of the other paid invoices had a dispute that ended with the customer paying:
      disputes that are over long before the end, which back-dated reports still see.

Reasons and resolution time
    Reasons are drawn with ``REASON_SHARES`` (pricing 30 %, quantity 20 %, quality 15 %, not received 15 %,
    duplicate billing 10 %, terms 10 %) and each takes a lognormal time to resolve (σ = 0.6) around its median in
    ``RESOLUTION_MEDIAN_DAYS``: not_received 8 days (proof of delivery), duplicate_billing 12, pricing 21,
    quantity 25, terms 35, quality 50 (investigation). A dispute's reason and duration are drawn together and kept
    only if the duration fits the dates the ledger already fixed (e.g. a credit note 10 days after the invoice leaves
    no room for a 50-day quality dispute), so reasons and resolution times agree with the ledger; the rare dispute no
    draw fits takes the reason whose median is nearest its duration (disputes dragging on until a write-off are
    mostly quality ones). Because the ledger's dates leave long windows more often than short ones, slow reasons
    are kept more often and last longer than their nominal medians: at the default size (60,000 invoices, seed 7)
    the disputes resolved have median times of not_received 5 days, duplicate_billing 9, pricing 21, quantity 29,
    terms 51 and quality 83, and quality is 24 % of all disputes.

Owner and amount
    Owners are a handful of people and teams, with a preference by reason (``_OWNER_SHARES_BY_REASON``: duplicate
    billing goes to the billing team, pricing to sales operations, …). Half of the disputes are about the whole
    invoice (``amount`` empty); the others name a part: on a credited invoice what was claimed (the credit note
    times 1.0–1.6, at most the invoice), otherwise 10–70 % of the invoice (a second dispute: 20–100 % of what the
    credit note left), in the invoice's currency.

``invoices.disputed``
    The flag says "a dispute is open at the demo's last day": exactly the invoices with an open dispute then
    (``Disputes.open_at_end``). The contract ignores it when the disputes table is present; a reader without that
    table still sees today's disputes right. The simulation's flag (disputed at some time) only drives the dates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from collections_mi.core.contract import BALANCE_REDUCING_KINDS
from collections_mi.demo.columns import (
    IdWidths,
    date_array,
    id_array,
    nullable,
    scaled_decimal_array,
    string_array_from,
)
from collections_mi.demo.receivables import ChunkLedger, RowCounters, sum_by_invoice
from collections_mi.demo.schemas import MONEY_TYPE, SCHEMAS
from collections_mi.demo.world import NEVER, categorical, random_share, share_of, uniform_int

REASONS: tuple[str, ...] = ("pricing", "quantity", "quality", "not_received", "duplicate_billing", "terms")
REASON_SHARES = np.array([0.30, 0.20, 0.15, 0.15, 0.10, 0.10])
#: median days from opened_on to resolved_on, by reason (lognormal around it, σ = ``_RESOLUTION_SIGMA``)
RESOLUTION_MEDIAN_DAYS: dict[str, int] = {
    "pricing": 21,
    "quantity": 25,
    "quality": 50,
    "not_received": 8,
    "duplicate_billing": 12,
    "terms": 35,
}
_MEDIANS = np.array([RESOLUTION_MEDIAN_DAYS[reason] for reason in REASONS], dtype=np.float64)
_RESOLUTION_SIGMA = 0.6
_DRAW_ROUNDS = 60  # attempts to find a reason whose duration fits the ledger's dates

OWNERS: tuple[str, ...] = ("Maria Chen", "Tom Okafor", "Priya Nair", "Billing team", "Sales operations")
_OWNER_SHARES_BY_REASON = np.array(
    [  # Maria Chen (credit manager), Tom Okafor (logistics), Priya Nair, Billing team, Sales operations
        [0.20, 0.05, 0.10, 0.15, 0.50],  # pricing
        [0.10, 0.45, 0.25, 0.15, 0.05],  # quantity
        [0.15, 0.40, 0.35, 0.00, 0.10],  # quality
        [0.05, 0.50, 0.40, 0.05, 0.00],  # not_received
        [0.05, 0.00, 0.05, 0.90, 0.00],  # duplicate_billing
        [0.55, 0.00, 0.10, 0.05, 0.30],  # terms
    ]
)
OUTCOMES: tuple[str, ...] = ("credit_note", "customer_pays", "written_off")
CREDIT_NOTE, CUSTOMER_PAYS, WRITTEN_OFF = 0, 1, 2
_OPEN = -1
_WHOLE = -1  # amount code: the whole invoice (empty cell)

_OPENED_AFTER_INVOICE = (2, 42)
_OPENED_AFTER_CREDIT_NOTE = (2, 30)
_PAID_AFTER_RESOLUTION = (0, 21)
_SECOND_DISPUTE_SHARE = 0.25
_HISTORY_SHARE = 0.01
_WHOLE_INVOICE_SHARE = 0.5


@dataclass(frozen=True)
class Disputes:
    """A chunk's disputes, one array entry per dispute, ordered by invoice then opened_on."""

    invoice: np.ndarray  # chunk-local invoice index
    opened: np.ndarray
    resolved: np.ndarray  # NEVER: still open at the demo's last day
    reason: np.ndarray
    amount_cents: np.ndarray  # _WHOLE: the whole invoice
    owner: np.ndarray
    outcome: np.ndarray  # _OPEN while open
    open_at_end: np.ndarray  # per invoice of the chunk: a dispute is open at the demo's last day


@dataclass(frozen=True)
class _Part:
    """Disputes of one kind before they are put together."""

    invoice: np.ndarray
    opened: np.ndarray
    resolved: np.ndarray
    reason: np.ndarray
    amount_cents: np.ndarray
    outcome: np.ndarray


def plan_disputes(rng: np.random.Generator, chunk: ChunkLedger, end_day: int) -> Disputes:
    """The chunk's disputes (see the module docstring)."""
    n = chunk.invoice_day.size
    credit_note_day = np.full(n, NEVER, dtype=np.int64)
    credit_note_cents = np.zeros(n, dtype=np.int64)
    notes = chunk.adjustments["credit_note"]
    credit_note_day[notes.invoice], credit_note_cents[notes.invoice] = notes.day, notes.cents
    write_off_day = np.full(n, NEVER, dtype=np.int64)
    write_off_day[chunk.adjustments["write_off"].invoice] = chunk.adjustments["write_off"].day
    last_paid = np.full(n, -NEVER, dtype=np.int64)
    np.maximum.at(last_paid, chunk.payments.invoice, chunk.payments.day)
    reduced = sum_by_invoice(chunk.payments, n) + sum(
        sum_by_invoice(chunk.adjustments[kind], n) for kind in BALANCE_REDUCING_KINDS
    )
    paid = (reduced == chunk.amount_cents) & (write_off_day == NEVER)  # settled by the end, not written off
    credited = credit_note_day != NEVER
    invoice_day = chunk.invoice_day

    # what ends a dispute opened on each invoice (before its credit note, or after it for a second dispute)
    pays_day = np.maximum(
        last_paid - uniform_int(rng, *_PAID_AFTER_RESOLUTION, n), np.minimum(last_paid, invoice_day + 3)
    )
    end_of_first = np.where(credited, credit_note_day, np.where(paid, pays_day, write_off_day))
    outcome_of_first = np.where(credited, CREDIT_NOTE, np.where(paid, CUSTOMER_PAYS, WRITTEN_OFF))
    end_of_second = np.where(paid, pays_day, write_off_day)
    outcome_of_second = np.where(paid, CUSTOMER_PAYS, WRITTEN_OFF)

    disputed = np.flatnonzero(chunk.disputed)
    first = _disputes_opened_between(
        rng,
        disputed,
        floor=invoice_day[disputed],
        earliest=invoice_day[disputed] + _OPENED_AFTER_INVOICE[0],
        latest=np.minimum(invoice_day[disputed] + _OPENED_AFTER_INVOICE[1], end_day),
        ends=end_of_first[disputed],
        outcome=outcome_of_first[disputed],
        end_day=end_day,
    )
    claimed = np.minimum(chunk.amount_cents, share_of(credit_note_cents, random_share(rng, 1.0, 1.6, n)))
    part_of_invoice = np.maximum(1, share_of(chunk.amount_cents, random_share(rng, 0.10, 0.70, n)))
    first_amount = np.where(credited, claimed, part_of_invoice)[first.invoice]
    first = _with_amount(rng, first, first_amount)

    # a second dispute after the credit note, on what it left
    candidates = first.invoice[
        (first.outcome == CREDIT_NOTE) & (rng.random(first.invoice.size) < _SECOND_DISPUTE_SHARE)
    ]
    second = _disputes_opened_between(
        rng,
        candidates,
        floor=credit_note_day[candidates] + 1,
        earliest=credit_note_day[candidates] + _OPENED_AFTER_CREDIT_NOTE[0],
        latest=np.minimum(credit_note_day[candidates] + _OPENED_AFTER_CREDIT_NOTE[1], end_day),
        ends=end_of_second[candidates],
        outcome=outcome_of_second[candidates],
        end_day=end_day,
    )
    rest = chunk.amount_cents - credit_note_cents
    second = _with_amount(rng, second, np.maximum(1, share_of(rest, random_share(rng, 0.20, 1.00, n)))[second.invoice])

    # disputes that are over: on ~1 % of the other invoices that were paid
    others = np.flatnonzero(~chunk.disputed & paid & ~credited & (rng.random(n) < _HISTORY_SHARE))
    history = _disputes_opened_between(
        rng,
        others,
        floor=invoice_day[others],
        earliest=invoice_day[others] + _OPENED_AFTER_INVOICE[0],
        latest=np.minimum(invoice_day[others] + _OPENED_AFTER_INVOICE[1], end_day),
        ends=pays_day[others],
        outcome=np.full(others.size, CUSTOMER_PAYS),
        end_day=end_day,
    )
    history = _with_amount(rng, history, part_of_invoice[history.invoice])

    parts = (first, second, history)
    invoice = np.concatenate([part.invoice for part in parts])
    opened = np.concatenate([part.opened for part in parts])
    order = np.lexsort((opened, invoice))
    reason = np.concatenate([part.reason for part in parts])[order]
    resolved = np.concatenate([part.resolved for part in parts])[order]
    owner = _owners(rng, reason)
    open_at_end = np.zeros(n, dtype=bool)
    open_at_end[invoice[order][resolved == NEVER]] = True
    return Disputes(
        invoice=invoice[order],
        opened=opened[order],
        resolved=resolved,
        reason=reason,
        amount_cents=np.concatenate([part.amount_cents for part in parts])[order],
        owner=owner,
        outcome=np.concatenate([part.outcome for part in parts])[order],
        open_at_end=open_at_end,
    )


def _disputes_opened_between(
    rng: np.random.Generator,
    invoice: np.ndarray,
    *,
    floor: np.ndarray,
    earliest: np.ndarray,
    latest: np.ndarray,
    ends: np.ndarray,
    outcome: np.ndarray,
    end_day: int,
) -> _Part:
    """Disputes on ``invoice`` opened in [earliest, latest], resolved on ``ends`` (with ``outcome``) if that is
    on or before ``end_day``, else still open. When the dispute ends early the window ends the day before (and may
    start earlier, but never before ``floor``); a dispute that cannot open after ``floor`` and before it ends, or
    by ``end_day``, is dropped."""
    resolved_by_end = ends <= end_day
    latest = np.where(resolved_by_end, np.minimum(latest, ends - 1), latest)
    earliest = np.maximum(floor, np.minimum(earliest, latest))
    keep = (latest >= earliest) & (earliest <= end_day)
    invoice, earliest, latest, ends = invoice[keep], earliest[keep], latest[keep], ends[keep]
    resolved_by_end, outcome = resolved_by_end[keep], outcome[keep]

    # open disputes open on a random day of their window and have lasted longer than the time since
    open_on = uniform_int(rng, earliest, latest, invoice.size)
    shortest = np.where(resolved_by_end, ends - latest, end_day - open_on + 1)
    longest = np.where(resolved_by_end, ends - earliest, NEVER)
    reason, days = _reasons_and_durations(rng, shortest, longest)
    return _Part(
        invoice=invoice,
        opened=np.where(resolved_by_end, ends - days, open_on),
        resolved=np.where(resolved_by_end, ends, NEVER),
        reason=reason,
        amount_cents=np.zeros(invoice.size, dtype=np.int64),
        outcome=np.where(resolved_by_end, outcome, _OPEN),
    )


def _reasons_and_durations(
    rng: np.random.Generator, shortest: np.ndarray, longest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A reason and a resolution time in [shortest, longest] days for each dispute, drawn together.

    Each draw is kept only if its time fits, so a reason is as likely as its share times the chance that its
    resolution time fits the dispute's dates; a dispute no draw fits takes the reason whose median is nearest.
    """
    reason = categorical(rng, REASON_SHARES, shortest.size)
    days = _durations(rng, reason)
    pending = np.flatnonzero((days < shortest) | (days > longest))
    for _ in range(_DRAW_ROUNDS):
        if pending.size == 0:
            break
        reason[pending] = categorical(rng, REASON_SHARES, pending.size)
        days[pending] = _durations(rng, reason[pending])
        pending = pending[(days[pending] < shortest[pending]) | (days[pending] > longest[pending])]
    typical = np.sqrt(shortest[pending] * np.minimum(longest[pending], 2 * shortest[pending]).astype(np.float64))
    reason[pending] = np.argmin(np.abs(np.log(typical[:, None]) - np.log(_MEDIANS)[None, :]), axis=1)
    days[pending] = np.clip(days[pending], shortest[pending], longest[pending])
    return reason, days


def _durations(rng: np.random.Generator, reason: np.ndarray) -> np.ndarray:
    spread = np.exp(_RESOLUTION_SIGMA * rng.standard_normal(reason.size))
    return np.maximum(1, np.rint(_MEDIANS[reason] * spread)).astype(np.int64)


def _with_amount(rng: np.random.Generator, part: _Part, partial_cents: np.ndarray) -> _Part:
    whole = rng.random(part.invoice.size) < _WHOLE_INVOICE_SHARE
    return _Part(
        invoice=part.invoice,
        opened=part.opened,
        resolved=part.resolved,
        reason=part.reason,
        amount_cents=np.where(whole, _WHOLE, partial_cents),
        outcome=part.outcome,
    )


def _owners(rng: np.random.Generator, reason: np.ndarray) -> np.ndarray:
    cumulative = np.cumsum(_OWNER_SHARES_BY_REASON, axis=1)[reason]
    draw = rng.random(reason.size)[:, None] * cumulative[:, -1:]
    return np.minimum((draw >= cumulative).sum(axis=1), len(OWNERS) - 1)


def dispute_table(disputes: Disputes, invoice_ids: pa.Array, widths: IdWidths, counters: RowCounters) -> pa.Table:
    """Rows of ``disputes``, numbered on from the chunks before (``DSP-…``)."""
    count = disputes.invoice.size
    numbers = counters.disputes + 1 + np.arange(count)
    counters.disputes += count
    is_open = disputes.resolved == NEVER
    partial = disputes.amount_cents != _WHOLE
    return pa.Table.from_arrays(
        [
            id_array("DSP-", numbers, widths.row),
            invoice_ids.take(pa.array(disputes.invoice)),
            date_array(disputes.opened),
            date_array(np.where(is_open, 0, disputes.resolved), ~is_open),
            string_array_from(REASONS, disputes.reason),
            nullable(scaled_decimal_array(np.where(partial, disputes.amount_cents, 0), MONEY_TYPE), partial),
            string_array_from(OWNERS, disputes.owner),
            nullable(string_array_from(OUTCOMES, np.maximum(disputes.outcome, 0)), ~is_open),
        ],
        schema=SCHEMAS["disputes"],
    )
