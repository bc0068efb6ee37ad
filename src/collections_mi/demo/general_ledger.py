"""Month-end ``ar_control`` and ``allowance`` GL balances that reconcile exactly with the invoices.

Open balances are accumulated chunk by chunk in integer cents by (month-end, currency, aging bucket); after
the last chunk they are converted at each month-end's closing rate with ``Decimal`` and rounded once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext

import numpy as np
import pyarrow as pa

from collections_mi.core.contract import GL_ACCOUNTS
from collections_mi.demo.columns import date_array, scaled_decimal_array, string_array_from
from collections_mi.demo.receivables import ChunkLedger
from collections_mi.demo.schemas import MONEY_TYPE, RATE_SCALE, SCHEMAS
from collections_mi.demo.world import CURRENCIES, Calendar, FxRates

# allowance (aging_rates) by days past due: <=0, 1-30, 31-60, 61-90, 91-120, >120
_AGING_UPPER_BOUNDS = np.array([0, 30, 60, 90, 120], dtype=np.int64)
_ALLOWANCE_RATES = tuple(Decimal(rate) for rate in ("0.005", "0.02", "0.08", "0.2", "0.5", "1.0"))


@dataclass
class BalanceAccumulator:
    """Open balances in integer cents by (month-end, currency, aging bucket)."""

    month_ends: np.ndarray
    cents: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.month_ends.size, len(CURRENCIES), _AGING_UPPER_BOUNDS.size + 1)
        self.cents = np.zeros(shape, dtype=np.int64)

    def add_chunk(self, chunk: ChunkLedger, balance: np.ndarray) -> None:
        """Add a chunk, given its (invoice × month-end) balances from ``month_end_balances``."""
        month_count = self.month_ends.size
        for month in range(month_count):
            column = balance[:, month]
            is_open = column > 0
            days_past_due = self.month_ends[month] - chunk.due_day[is_open]
            bucket = np.searchsorted(_AGING_UPPER_BOUNDS, days_past_due, side="left")
            np.add.at(self.cents[month], (chunk.currency[is_open], bucket), column[is_open])


def gl_balances_table(balances: BalanceAccumulator, fx: FxRates, calendar: Calendar) -> pa.Table:
    """``ar_control`` and ``allowance`` per month-end: exact sums, converted with Decimal, rounded once."""
    month_ends = calendar.month_ends
    rate_index = fx.closing_index(month_ends)
    cent = Decimal("0.01")
    ar_cents: list[int] = []
    allowance_cents: list[int] = []
    with localcontext() as context:
        context.prec = 60
        for month in range(month_ends.size):
            ar_total = Decimal(0)
            allowance_total = Decimal(0)
            for code in range(len(CURRENCIES)):
                fx_rate = Decimal(int(fx.reporting_per_unit[code, rate_index[month]])) / RATE_SCALE
                by_bucket = [Decimal(int(cents)) / 100 for cents in balances.cents[month, code]]
                ar_total += sum(by_bucket, Decimal(0)) * fx_rate
                provision = (bal * loss for bal, loss in zip(by_bucket, _ALLOWANCE_RATES, strict=True))
                allowance_total += sum(provision, Decimal(0)) * fx_rate
            ar_cents.append(int(ar_total.quantize(cent, rounding=ROUND_HALF_UP) * 100))
            allowance_cents.append(int(allowance_total.quantize(cent, rounding=ROUND_HALF_UP) * 100))
    accounts = np.tile(np.array([GL_ACCOUNTS.index("ar_control"), GL_ACCOUNTS.index("allowance")]), month_ends.size)
    amounts = np.column_stack([np.array(ar_cents, dtype=np.int64), np.array(allowance_cents, dtype=np.int64)])
    return pa.Table.from_arrays(
        [
            date_array(np.repeat(month_ends, 2)),
            string_array_from(GL_ACCOUNTS, accounts),
            scaled_decimal_array(amounts.reshape(-1), MONEY_TYPE),
        ],
        schema=SCHEMAS["gl_balances"],
    )
