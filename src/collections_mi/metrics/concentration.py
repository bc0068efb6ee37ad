"""Concentration and credit (shared/metrics.md § Concentration and credit): how much of the book the largest customers
hold (top 10 / top 20 shares, the Herfindahl-Hirschman index) at D and over the aging trend's month-ends, and how
much of their credit limits the customers use.

Balances are open balances in reporting currency at the closing rate of each date, as ``ar_total``
(:mod:`collections_mi.metrics.aging`): summed per customer and currency in the engine, converted exactly afterwards.
Customers are ranked by balance, largest first, ties broken by customer_id; a customer with no open balance holds no
share.
"""

from __future__ import annotations

import datetime as dt
import decimal
import heapq
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
import pyarrow as pa

from collections_mi.core.money import HUNDRED, MONEY_CONTEXT, ZERO, dsum, percent_of, ratio
from collections_mi.metrics.balances import open_items
from collections_mi.metrics.book import Book
from collections_mi.metrics.dso_inputs import unscaled_integers
from collections_mi.sources.ledger import fetch

#: the concentration table lists this many customers; top10_share_pct reads its first 10
TOP_SHOWN = 20
HHI_SCALE = Decimal(10_000)
#: credit-utilisation bands: (upper bound in %, inclusive, label); above the last bound is "> 100"
UTILISATION_BOUNDS = ((50, "0–50"), (80, "50–80"), (100, "80–100"))
UTILISATION_BANDS = (*(label for _, label in UTILISATION_BOUNDS), "> 100")


def ranked(balances: Mapping[str, Decimal]) -> list[tuple[str, Decimal]]:
    """(customer_id, balance) of the customers with an open balance, largest first, ties by customer_id."""
    return sorted(((c, b) for c, b in balances.items() if b > 0), key=lambda item: (-item[1], str(item[0])))


def top_share_pct(balances: Iterable[Decimal], n: int) -> Decimal | None:
    """Open balance of the ``n`` largest customers / all open balances × 100 (``balances``: one per customer, in any
    order); None with no open balance."""
    positive = [b for b in balances if b > 0]
    return percent_of(dsum(heapq.nlargest(n, positive)), dsum(positive))  # a sum: the order of ties does not matter


def hhi(balances: Iterable[Decimal]) -> Decimal | None:
    """Σ over customers of (share of AR in %)² = Σ b² / (Σ b)² × 10,000 (0–10,000; 10,000 = one customer;
    ``balances``: one per customer, in any order); None with no open balance. The squares are summed exactly, the one
    division is to 28 digits."""
    positive = [b for b in balances if b > 0]
    with decimal.localcontext(MONEY_CONTEXT) as context:
        context.prec = 120  # exact squares of 60-digit balances
        squares = sum((b * b for b in positive), ZERO)
        total = sum(positive, ZERO)
    return _hhi(squares, total)


def _hhi(squares: Decimal, total: Decimal) -> Decimal | None:
    """The HHI from Σ b² and Σ b over the open balances: Σ b² / (Σ b)² × 10,000, the one division to 28 digits."""
    with decimal.localcontext(MONEY_CONTEXT) as context:
        context.prec = 120
        denominator = total * total
    share = ratio(squares, denominator)
    return None if share is None else share * HHI_SCALE


@dataclass(frozen=True)
class UnscaledBalances:
    """Customers' balances as exact integers at one scale (balance × 10**scale, as the engine's decimal sums hold
    them): the trend's figures in integer arithmetic — the same Decimals, value and exponent, as from the balances
    as Decimals (each of exponent −scale), without a Decimal per customer and date (at 10M invoices 8M of them, and
    the sums and squares over them, were most of the trend's 12 s)."""

    unscaled: list[int]
    scale: int

    def _exact(self, unscaled: int, scale: int | None = None) -> Decimal:
        """``unscaled`` × 10**−scale as the Decimal a sum of balances gives (exponent −scale)."""
        return Decimal(f"{unscaled}E-{self.scale if scale is None else scale}")

    def trend_figures(self) -> tuple[int, Decimal, Decimal | None, Decimal | None, Decimal | None]:
        """customers with an open balance, ar_total, top10_share_pct, top20_share_pct, hhi."""
        if not self.unscaled:
            return 0, ZERO, None, None, None
        positive = [u for u in self.unscaled if u > 0]
        if not positive:
            return 0, self._exact(sum(self.unscaled)), None, None, None
        total = self._exact(sum(positive))
        return (
            len(positive),
            self._exact(sum(self.unscaled)),
            percent_of(self._exact(sum(heapq.nlargest(10, positive))), total),
            percent_of(self._exact(sum(heapq.nlargest(20, positive))), total),
            _hhi(self._exact(sum(u * u for u in positive), 2 * self.scale), total),
        )


def concentration_table(balances: Mapping[str, Decimal], names: Mapping[str, str]) -> pd.DataFrame:
    """The 20 largest customers at as_of: rank, customer_id, name, balance, share_pct and cumulative_share_pct (the
    cumulative share at rank 10 is ``top10_share_pct``, at rank 20 the top-20 share)."""
    order = ranked(balances)
    total = dsum(b for _, b in order)
    rows = []
    running = ZERO
    for rank, (customer, balance) in enumerate(order[:TOP_SHOWN], start=1):
        running += balance
        rows.append(
            {
                "rank": rank,
                "customer_id": customer,
                "name": names.get(customer) or customer,
                "balance": balance,
                "share_pct": percent_of(balance, total),
                "cumulative_share_pct": percent_of(running, total),
            }
        )
    return pd.DataFrame(rows, columns=["rank", "customer_id", "name", "balance", "share_pct", "cumulative_share_pct"])


def customer_balances_at(
    book: Book, dates: Sequence[dt.date]
) -> Iterator[tuple[dt.date, list[Decimal] | UnscaledBalances]]:
    """Each of ``dates`` (in their order) with the open balance of each customer with open items then, in reporting
    currency at the closing rate of that date, in no particular order: summed per date and customer in one engine
    pass, taken one date at a time — at 10M invoices the 24 month-ends' balances held at once as Decimals in dicts per
    date (~8M) were the aging section's peak (+1.3 GB) — as exact integers when the engine converts and its sums are
    decimals, else as Decimals."""
    items = open_items(book, list(dates))
    amounts = items.mutate(amount=items.open_balance)
    keys = ["as_of", "customer_id"]
    in_arrow = book.arrow_sums_at_each(amounts, "as_of", keys, "amount", dates)
    if in_arrow is None:
        for day, sums in book.summed_at_each(amounts, "as_of", keys, "amount", dates):
            yield day, sums["amount"]
        return
    for day, rows in in_arrow:
        column = rows["amount"]
        if pa.types.is_decimal(column.type) and not column.null_count:
            yield day, UnscaledBalances(*unscaled_integers(column))
        else:
            yield day, column.to_pylist()


def concentration_trend(book: Book, dates: Sequence[dt.date]) -> pd.DataFrame:
    """At each date: customers with an open balance, ar_total, top-10 and top-20 shares and the HHI."""
    columns = ["month_end", "customers", "ar_total", "top10_share_pct", "top20_share_pct", "hhi"]
    rows = [
        (day, *balances.trend_figures())
        if isinstance(balances, UnscaledBalances)
        else (
            day,
            sum(1 for b in balances if b > 0),
            dsum(balances),
            top_share_pct(balances, 10),
            top_share_pct(balances, 20),
            hhi(balances),
        )
        for day, balances in customer_balances_at(book, dates)
    ]
    return pd.DataFrame(rows, columns=columns)


def utilisation_band(balance: Decimal, limit: Decimal) -> str:
    """The band of balance / limit × 100 (limit > 0), upper bounds inclusive: 0–50, 50–80, 80–100, > 100."""
    for bound, label in UTILISATION_BOUNDS:
        if balance * HUNDRED <= limit * bound:
            return label
    return UTILISATION_BANDS[-1]


def credit_utilisation(book: Book, balances: Mapping[str, Decimal]) -> pd.DataFrame:
    """Customers with a credit_limit > 0 by utilisation band (every band, lowest first): customers, open balance at
    as_of (reporting currency), their credit limits and the band's utilisation (balance / limits × 100)."""
    customers = book.customers
    limited = fetch(
        customers.filter(customers.credit_limit > 0).select("customer_id", "credit_limit").order_by("customer_id")
    )
    counts: dict[str, int] = defaultdict(int)
    amounts: dict[str, list[Decimal]] = defaultdict(list)
    limits: dict[str, list[Decimal]] = defaultdict(list)
    for customer, limit in zip(limited["customer_id"].tolist(), limited["credit_limit"].tolist()):
        balance = balances.get(customer, ZERO)
        band = utilisation_band(balance, limit)
        counts[band] += 1
        amounts[band].append(balance)
        limits[band].append(limit)
    rows = []
    for band in UTILISATION_BANDS:
        balance, limit = dsum(amounts[band]), dsum(limits[band])
        rows.append(
            {
                "band": band,
                "customers": counts[band],
                "balance": balance,
                "credit_limit": limit,
                "utilisation_pct": percent_of(balance, limit),
            }
        )
    return pd.DataFrame(rows, columns=["band", "customers", "balance", "credit_limit", "utilisation_pct"])
