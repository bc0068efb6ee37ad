"""Result tables shaped for reading on a page (1400 px, A4 landscape): the columns a reader needs, reconciliation
differences to the minor unit, the population a table counts said in words. Display only — kpis.json, tables/*.csv
and tables.xlsx keep every column and the exact values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

import pandas as pd

from collections_mi.core.money import round_money
from collections_mi.core.values import UNASSIGNED
from collections_mi.metrics.result import SectionTables, Unavailable
from collections_mi.presentation.format import count, is_missing, money_short

#: operational lists (credit-limit breaches, disputed items, write-off candidates, placements) show this many rows
#: on a page; the rest are in tables/<name>.csv and tables.xlsx
LIST_ROWS = 10

#: the columns a page shows of each wide table (the rest stay in the CSV and Excel)
COLUMNS: dict[str, tuple[str, ...]] = {
    "disputes": ("dispute_id", "invoice_id", "name", "reason", "owner", "opened_on", "age_days", "amount_reporting"),
    "unapplied_cash": ("name", "receipts", "oldest_receipt", "amount", "share_pct"),
    "cash_customers": (
        "name",
        "amount",
        "promise",
        "customer",
        "segment_or_book",
        "disputed",
        "later",
        "not_forecast",
        "dbt_days",
        "dbt_basis",
    ),
    "cash_items": (
        "invoice_id",
        "name",
        "due_date",
        "rule",
        "expected_on",
        "week",
        "amount",
        "reason",
    ),
    "customers": (
        "name",
        "segment",
        "collector",
        "items",
        "current",
        "1-30",
        "31-60",
        "61-90",
        "91-120",
        "120+",
        "total",
        "past_due_pct",
    ),
    "over_credit_limit": (
        "name",
        "segment",
        "collector",
        "credit_limit",
        "total",
        "over_limit",
        "past_due",
        "past_due_pct",
    ),
    "concentration": ("rank", "name", "balance", "share_pct", "cumulative_share_pct"),
    "behaviour_watch": (
        "name",
        "band",
        "days_late_weighted",
        "settled_invoices",
        "amount_settled",
        "open_balance",
    ),
    "disputed_items": ("invoice_id", "name", "due_date", "days_past_due", "bucket", "open_balance_reporting"),
    "write_off_candidates": (
        "invoice_id",
        "name",
        "collector",
        "due_date",
        "days_past_due",
        "open_balance",
        "last_payment",
    ),
    "watchlist_loans": (
        "loan_id",
        "borrower",
        "risk_grade",
        "status",
        "impairment_method",
        "balance",
        "present_value",
        "collateral_net",
        "reserve",
        "reserve_pct",
    ),
    "placements": (
        "placement_id",
        "agency",
        "strategy",
        "placed_date",
        "placed_amount",
        "recalled_date",
        "collected",
        "fees",
        "net_back",
        "liquidation_pct",
    ),
    "champion_challenger": (
        "horizon_months",
        "champion_n",
        "challenger_n",
        "champion_mean_pct",
        "challenger_mean_pct",
        "difference_pct",
        "ci_low",
        "ci_high",
        "cohens_d",
        "t_statistic",
        "p_value",
        "needed_per_group",
    ),
    "league": (
        "agency",
        "strategy",
        "placements",
        "placed",
        "collected",
        "liquidation_pct",
        "fees",
        "net_back",
        "net_back_pct",
        "recall_rate_pct",
        "avg_days_to_first_collection",
    ),
}
_TINY = re.compile(r"-?\d+\.\d{3,}")


def _pick(frame: pd.DataFrame, wanted: Sequence[str]) -> pd.DataFrame:
    """``wanted`` columns ``frame`` has, in that order, leaving out a text column the ledger could not fill (every
    value "(none)": an optional column such as customers.segment is absent)."""
    kept = [
        c
        for c in dict.fromkeys(wanted)
        if c in frame.columns and not (len(frame) and all(str(v) == UNASSIGNED for v in frame[c]))
    ]
    return frame[kept]


def columns(frame: pd.DataFrame | Unavailable, kind: str, extra: Sequence[str] = ()) -> pd.DataFrame | Unavailable:
    """``frame`` with only the columns :data:`COLUMNS` lists for ``kind`` (those it has, in that order) and
    ``extra`` (e.g. the configured aging buckets); an Unavailable table is returned as it is."""
    if isinstance(frame, Unavailable):
        return frame
    return _pick(frame, [*COLUMNS[kind], *extra])


def customers(frame: pd.DataFrame | Unavailable, kind: str, buckets: Sequence[str]) -> pd.DataFrame | Unavailable:
    """A customer table (largest customers, over credit limit) by name, without the customer id, with the
    configured buckets when the kind shows buckets."""
    if isinstance(frame, Unavailable):
        return frame
    base = list(COLUMNS[kind])
    if "current" in base:  # the default bucket columns stand for the configured ones
        first = base.index("current")
        base = [c for c in base if c not in ("current", "1-30", "31-60", "61-90", "91-120", "120+")]
        base[first:first] = list(buckets)
    return _pick(frame, base)


def first_rows(tables: SectionTables, name: str, count: int) -> pd.DataFrame | Unavailable:
    """The first ``count`` rows of the table ``name`` of ``tables`` (the largest customers of a table ordered largest
    first): from a pack run's results only those rows are read."""
    first = tables.first_rows(name, count)
    return first if isinstance(first, Unavailable) else first.frame.reset_index(drop=True)


def with_names(frame: pd.DataFrame | Unavailable, names: pd.DataFrame | Unavailable) -> pd.DataFrame | Unavailable:
    """``frame`` (keyed by customer_id) with the customer's name beside the id, from a table of ``customer_id``,
    ``name`` (e.g. aging_by_customer)."""
    if isinstance(frame, Unavailable) or isinstance(names, Unavailable):
        return frame
    if "name" not in names.columns or "name" in frame.columns:
        return frame
    lookup = dict(zip(names["customer_id"], names["name"]))
    shown = frame.copy()
    shown.insert(1, "name", [lookup.get(c, "") for c in shown["customer_id"]])
    return shown


def _small_numbers(text: str, currency: str) -> str:
    def short(match: re.Match[str]) -> str:
        value = Decimal(match.group(0))
        return "less than 0.01" if abs(value) < Decimal("0.01") else f"{round_money(value, currency):,}"

    return _TINY.sub(short, text)


def _minor_unit(value: object, currency: str) -> Decimal:
    rounded = round_money(Decimal(str(value)), currency)
    return abs(rounded) if rounded == 0 else rounded


def write_off_candidates(frame: pd.DataFrame | Unavailable) -> pd.DataFrame | Unavailable:
    """The candidates with the reasons they are proposed in words (one column instead of three yes/no)."""
    if isinstance(frame, Unavailable):
        return frame
    shown = columns(frame, "write_off_candidates")
    assert isinstance(shown, pd.DataFrame)
    flags = [
        ("over_age_limit", "past age limit"),
        ("no_recent_payment", "no recent payment"),
        ("long_dispute", "long dispute"),
    ]
    present = [(c, text) for c, text in flags if c in frame.columns]
    if present:
        shown = shown.copy()
        shown["reasons"] = [
            ", ".join(text for c, text in present if bool(row[c]))
            for _, row in frame[[c for c, _ in present]].iterrows()
        ]
    return shown


def reconciliation(frame: pd.DataFrame | Unavailable, currency: str) -> pd.DataFrame | Unavailable:
    """A reconciliation for reading: differences to the minor unit (−0.0011 reads 0.00, never "(0.00)") and
    numbers in explanations rounded the same way ("sub-cent FX rounding of less than 0.01"); the exact values
    stay in the CSV, where the test of exactness is."""
    if isinstance(frame, Unavailable):
        return frame
    shown = frame.copy()
    for column in ("difference", "amount"):
        if column in shown.columns and "check" in shown.columns:
            shown[column] = [None if is_missing(v) else _minor_unit(v, currency) for v in shown[column]]
    for column in ("explanation", "line"):
        if column in shown.columns:
            shown[column] = [v if is_missing(v) else _small_numbers(str(v), currency) for v in shown[column]]
    return shown


def book_population(
    by_grade: pd.DataFrame | Unavailable, loans: int | None, balance: Decimal | None, currency: str
) -> str:
    """Which loans the grade / method / segment tables count (the whole book) against the headline's watch list."""
    if isinstance(by_grade, Unavailable) or by_grade.empty:
        return ""
    total_loans = int(sum(int(v) for v in by_grade["loans"]))
    total_balance = sum((Decimal(v) for v in by_grade["balance"]), Decimal(0))
    watch = (
        ""
        if loans is None
        else f"; {count(loans)} of them ({money_short(balance, currency)}) are on the watch list — the headline "
        "and the watch-list loans table below"
    )
    return (
        f"The tables by risk grade, method and segment count the whole loan book: {count(total_loans)} loans, "
        f"{money_short(total_balance, currency)}{watch}."
    )
