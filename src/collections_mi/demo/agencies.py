"""Collection agencies: placements of long-overdue customers and what the agencies collect on them.

Four agencies (two champions, two challengers). Customers whose oldest open item is 90-150 days past due
are placed at a month-end for their open past-due balance (exactly, at the closing rate); agencies collect
10-35 % of what they are given, mostly in months 1-6, one challenger doing better than one champion; some
placements are recalled after 4-9 months. Agency collections are gross amounts independent of the invoice
payments. The past-due balances are accumulated chunk by chunk (``PastDueAccumulator``); the three tables
are built once, after the last chunk, from their own random stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collections_mi.demo.columns import IdWidths, date_array, id_array, scaled_decimal_array
from collections_mi.demo.customers import PUBLIC, Customers
from collections_mi.demo.receivables import ChunkLedger
from collections_mi.demo.schemas import MONEY_TYPE, RATE_SCALE, SCHEMAS, SHARE_TYPE
from collections_mi.demo.world import (
    MILLIONTHS,
    Calendar,
    FxRates,
    next_business_day,
    share_of,
    uniform_int,
    weighted_draw,
)


@dataclass(frozen=True)
class _Agency:
    name: str
    strategy: str
    fee_rate_bp: int  # default commission, basis points
    placement_share: float  # share of placements it gets
    any_probability: float  # probability that a small placement yields anything
    mean_liquidation: float  # expected lifetime liquidation (amount-weighted)
    first_money_days: float  # typical days to the first collection


_AGENCIES: tuple[_Agency, ...] = (
    _Agency("Keystone Recovery Partners", "champion", 2500, 0.34, 0.62, 0.27, 25.0),
    _Agency("Meridian Credit Management", "champion", 2000, 0.28, 0.52, 0.20, 30.0),
    _Agency("Bluewater Collections Group", "challenger", 2800, 0.22, 0.57, 0.23, 28.0),
    _Agency("Ashford & Lane Receivables", "challenger", 1800, 0.16, 0.45, 0.14, 38.0),
)
_PLACEMENT_MIN_DAYS_PAST_DUE = 90  # placed at a month-end once the oldest open item is 90-150 days past due
_PLACEMENT_MAX_THRESHOLD_DAYS = 150
_PLACEMENT_MIN_CENTS = 25_000  # agencies do not take balances below 250.00 (reporting currency)
_PLACEMENT_SHARE = 0.8  # of eligible customers; the rest are worked in-house
_SMALL_BALANCE_CENTS = 250_000  # balances under 2,500.00 are placed at a 5-point higher commission
_SMALL_BALANCE_FEE_UPLIFT = 500
_MAX_FEE_RATE = 3500
_AGENCY_RECALL_BASE = (0.06, 0.10, 0.08, 0.13)  # probability of a recall after 4-9 months, by agency
_AGENCY_RECALL_IF_SILENT = 0.20  # extra probability when nothing came in during the first 120 days


# ---------------------------------------------------------------------------------------------------
# Past-due balances, chunk by chunk
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PastDue:
    """Per (month-end, customer) with an item at least 90 days past due, ordered by month, then customer."""

    month: np.ndarray  # index into the calendar's month-ends
    customer: np.ndarray
    cents: np.ndarray  # open past-due balance, in the customer's currency
    oldest_due: np.ndarray  # oldest open past-due due date


@dataclass
class PastDueAccumulator:
    """Per (month-end, customer): open past-due balance and oldest open past-due due date.

    Only what agency placements need is kept: a month-end's figures are final once a chunk ends after
    it (invoices come in date order), and then only customers whose oldest open item is at least
    ``_PLACEMENT_MIN_DAYS_PAST_DUE`` days past due are kept. Memory stays bounded by the few customers
    that are seriously late, not by the number of invoices.
    """

    month_ends: np.ndarray
    customer_count: int
    _pending: tuple[np.ndarray, np.ndarray, np.ndarray] = field(init=False)  # key, cents, oldest due
    _final: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        empty = np.zeros(0, dtype=np.int64)
        self._pending = (empty, empty, empty)

    def add_chunk(self, chunk: ChunkLedger, balance: np.ndarray) -> None:
        """Add a chunk, given its (invoice × month-end) balances from ``month_end_balances``."""
        if self.month_ends.size == 0 or chunk.invoice_day.size == 0:
            return
        past_due = (balance > 0) & (chunk.due_day[:, None] < self.month_ends[None, :])
        invoice, month = np.nonzero(past_due)
        key = month * self.customer_count + chunk.customer[invoice]  # month-major: sorts by month first
        self._pending = _reduce_by_key(
            np.concatenate([self._pending[0], key]),
            np.concatenate([self._pending[1], balance[invoice, month]]),
            np.concatenate([self._pending[2], chunk.due_day[invoice]]),
        )
        # month-ends before the chunk's last invoice day get no more invoices from later chunks
        self._finalize(int(np.searchsorted(self.month_ends, chunk.invoice_day[-1], side="left")))

    def _finalize(self, month_count: int) -> None:
        key, cents, oldest_due = self._pending
        done = key < month_count * self.customer_count
        month_end = self.month_ends[key[done] // self.customer_count]
        keep = oldest_due[done] <= month_end - _PLACEMENT_MIN_DAYS_PAST_DUE
        self._final.append((key[done][keep], cents[done][keep], oldest_due[done][keep]))
        self._pending = (key[~done], cents[~done], oldest_due[~done])

    def finish(self) -> PastDue:
        """Every month-end's figures, once the last chunk has been added."""
        self._finalize(self.month_ends.size)
        key = np.concatenate([part[0] for part in self._final])
        cents = np.concatenate([part[1] for part in self._final])
        oldest_due = np.concatenate([part[2] for part in self._final])
        self._final = [(key, cents, oldest_due)]
        return PastDue(
            month=key // self.customer_count,
            customer=key % self.customer_count,
            cents=cents,
            oldest_due=oldest_due,
        )


def _reduce_by_key(key: np.ndarray, cents: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted unique keys with the sum of ``cents`` and the minimum of ``day`` per key."""
    if key.size == 0:
        return key, cents, day
    order = np.argsort(key, kind="stable")
    key, cents, day = key[order], cents[order], day[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    return key[starts], np.add.reduceat(cents, starts), np.minimum.reduceat(day, starts)


# ---------------------------------------------------------------------------------------------------
# Placements, collections and recalls (after all chunks)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Placements:
    """One entry per placement, in placement order (by month-end, then customer)."""

    customer: np.ndarray
    day: np.ndarray
    cents: np.ndarray  # reporting currency


@dataclass(frozen=True)
class _Collections:
    """One entry per collection: the placement it belongs to, its position among them, its day and amount."""

    placement: np.ndarray
    position: np.ndarray
    day: np.ndarray
    cents: np.ndarray


def agency_tables(
    rng: np.random.Generator,
    past_due: PastDue,
    customers: Customers,
    fx: FxRates,
    calendar: Calendar,
    widths: IdWidths,
) -> dict[str, pa.Table]:
    """``agencies``, ``agency_placements`` and ``agency_collections``.

    A customer is placed (once) at the first month-end at which its oldest open item is past a
    customer-specific threshold of 90-150 days past due, for its whole open past-due balance at that
    month-end converted at the closing rate (public bodies, balances under 250.00 and a fifth of the
    customers, worked in-house, are not placed). Champions get most placements. What an agency
    collects is independent of the invoice ledger (gross amounts, as the contract models them): about
    half the placements yield something, mostly in months 1-6, as a lump sum or monthly instalments,
    never more than was placed. 10-20 % of placements are recalled 4-9 months after placement (more
    often when nothing came in early); nothing is collected on or after a recall, nor after ``end``.
    """
    placements = _placements(rng, past_due, customers, fx, calendar)
    count = placements.cents.size
    agency = weighted_draw(rng, np.cumsum([a.placement_share for a in _AGENCIES]), count)
    fee_default = np.array([a.fee_rate_bp for a in _AGENCIES], dtype=np.int64)
    fee = np.minimum(
        fee_default[agency] + np.where(placements.cents < _SMALL_BALANCE_CENTS, _SMALL_BALANCE_FEE_UPLIFT, 0),
        _MAX_FEE_RATE,
    )
    total = _lifetime_collections(rng, agency, placements.cents)
    collections = _collection_schedule(rng, agency, placements.day, total)

    # recalls, 4-9 months after placement; nothing is collected from the recall on
    placement = collections.placement
    early = np.zeros(count, dtype=bool)
    np.logical_or.at(early, placement, collections.day <= placements.day[placement] + 120)
    recall_probability = np.array(_AGENCY_RECALL_BASE)[agency] + np.where(early, 0.0, _AGENCY_RECALL_IF_SILENT)
    recall_day = next_business_day(placements.day + uniform_int(rng, 121, 273, count))
    recalled = (rng.random(count) < recall_probability) & (recall_day <= calendar.end_day)
    keep = (collections.day <= calendar.end_day) & (~recalled[placement] | (collections.day < recall_day[placement]))
    collected = _Collections(
        placement=placement[keep],
        position=collections.position[keep],
        day=collections.day[keep],
        cents=collections.cents[keep],
    )
    return _agency_arrow_tables(placements, agency, fee, fee_default, recall_day, recalled, collected, widths)


def _placements(
    rng: np.random.Generator, past_due: PastDue, customers: Customers, fx: FxRates, calendar: Calendar
) -> _Placements:
    """Each placed customer's first month-end past its threshold, and its past-due balance then."""
    month, customer, cents, oldest_due = past_due.month, past_due.customer, past_due.cents, past_due.oldest_due
    threshold = uniform_int(rng, _PLACEMENT_MIN_DAYS_PAST_DUE, _PLACEMENT_MAX_THRESHOLD_DAYS, customers.count)
    uses_agency = rng.random(customers.count) < _PLACEMENT_SHARE
    month_end = calendar.month_ends[month]
    rate = fx.reporting_per_unit[customers.currency[customer], fx.closing_index(month_end)]
    reporting_cents = (2 * cents * rate + RATE_SCALE) // (2 * RATE_SCALE)  # half-up, amounts are > 0
    eligible = np.flatnonzero(
        (month_end - oldest_due >= threshold[customer])
        & uses_agency[customer]
        & (customers.segment[customer] != PUBLIC)
        & (reporting_cents >= _PLACEMENT_MIN_CENTS)
    )
    # entries are ordered by month-end, then customer: the first one of a customer is its placement
    _, first = np.unique(customer[eligible], return_index=True)
    chosen = np.sort(eligible[first])
    return _Placements(customer=customer[chosen], day=month_end[chosen], cents=reporting_cents[chosen])


def _lifetime_collections(rng: np.random.Generator, agency: np.ndarray, placed_cents: np.ndarray) -> np.ndarray:
    """What each placement would yield if it stayed with the agency for ever, in cents.

    Small balances are paid in full or not at all, large ones mostly settle for a share close to the
    agency's typical rate.
    """
    count = placed_cents.size
    any_probability = np.array([a.any_probability for a in _AGENCIES])[agency]
    mean_liquidation = np.array([a.mean_liquidation for a in _AGENCIES])
    size = np.clip(np.log10(placed_cents / 500_000), 0.0, 2.0) / 2  # 0 up to 5,000.00, 1 from 500,000.00
    any_probability = any_probability + (0.85 - any_probability) * size
    collects = rng.random(count) < any_probability
    mean_if_any = mean_liquidation[agency] / any_probability
    concentration = 2.5 + 12.0 * size
    liquidation = rng.beta(mean_if_any * concentration, (1 - mean_if_any) * concentration)
    total = np.where(collects, share_of(placed_cents, np.rint(liquidation * MILLIONTHS).astype(np.int64)), 0)
    # a few large accounts would otherwise decide an agency's rate: pull each agency's lifetime
    # liquidation (amount-weighted) towards its expected rate, so the league table tells a stable story
    for code in range(len(_AGENCIES)):
        mine = agency == code
        for _ in range(2):
            realised = total[mine].sum() / max(1, placed_cents[mine].sum())
            if realised <= 0:
                break
            scale = min(2.0, max(0.5, mean_liquidation[code] / realised))
            total[mine] = np.minimum(placed_cents[mine], np.floor(total[mine] * scale).astype(np.int64))
    return total


def _collection_schedule(
    rng: np.random.Generator, agency: np.ndarray, placed_day: np.ndarray, total: np.ndarray
) -> _Collections:
    """``total`` as a lump sum or monthly instalments of at least 10.00, from the agency's first money on."""
    count = total.size
    first_days = np.array([a.first_money_days for a in _AGENCIES])
    lump_sum = rng.random(count) < 0.35
    parts = np.where(lump_sum, 1, rng.integers(2, 10, count))
    parts = np.where(total >= 100, np.clip(parts, 1, np.maximum(1, total // 1_000)), 0)  # instalments ≥ 10.00
    first_offset = 7 + np.rint(rng.gamma(1.6, first_days[agency])).astype(np.int64)
    gap = uniform_int(rng, 26, 35, count)
    placement = np.repeat(np.arange(count), parts)
    position = np.arange(placement.size) - np.repeat(np.cumsum(parts) - parts, parts)
    jitter = uniform_int(rng, 0, 3, placement.size)
    day = next_business_day(placed_day[placement] + first_offset[placement] + position * gap[placement] + jitter)
    base = total[placement] // parts[placement]
    cents = base + np.where(position == parts[placement] - 1, total[placement] - base * parts[placement], 0)
    return _Collections(placement=placement, position=position, day=day, cents=cents)


def _agency_arrow_tables(
    placements: _Placements,
    agency: np.ndarray,
    fee: np.ndarray,
    fee_default: np.ndarray,
    recall_day: np.ndarray,
    recalled: np.ndarray,
    collections: _Collections,
    widths: IdWidths,
) -> dict[str, pa.Table]:
    count = placements.cents.size
    order = np.lexsort((collections.position, collections.placement, collections.day))
    agency_ids = pa.array([f"AG{number:02d}" for number in range(1, len(_AGENCIES) + 1)], pa.string())
    placement_ids = id_array("PL-", np.arange(1, count + 1), max(6, len(str(count))))
    agencies = pa.Table.from_arrays(
        [
            agency_ids,
            pa.array([a.name for a in _AGENCIES], pa.string()),
            pa.array([a.strategy for a in _AGENCIES], pa.string()),
            scaled_decimal_array(fee_default, SHARE_TYPE),
        ],
        schema=SCHEMAS["agencies"],
    )
    agency_placements = pa.Table.from_arrays(
        [
            placement_ids,
            pc.take(agency_ids, pa.array(agency)),
            id_array("C", placements.customer + 1, widths.customer),
            date_array(placements.day),
            scaled_decimal_array(placements.cents, MONEY_TYPE),
            scaled_decimal_array(fee, SHARE_TYPE),
            date_array(recall_day, valid=recalled),
        ],
        schema=SCHEMAS["agency_placements"],
    )
    agency_collections = pa.Table.from_arrays(
        [
            id_array("COL-", np.arange(1, order.size + 1), max(7, len(str(order.size)))),
            pc.take(placement_ids, pa.array(collections.placement[order])),
            date_array(collections.day[order]),
            scaled_decimal_array(collections.cents[order], MONEY_TYPE),
        ],
        schema=SCHEMAS["agency_collections"],
    )
    return {"agencies": agencies, "agency_placements": agency_placements, "agency_collections": agency_collections}
