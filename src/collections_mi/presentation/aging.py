"""Aging section presentation: headline tiles and the sentences that explain the numbers."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from collections_mi.core.money import percent_of
from collections_mi.metrics.published import AgingResult
from collections_mi.presentation.format import Tile, change_text, count, money_short, percent

#: tiles that are not KPIs of the section but figures derived from them
DERIVED_TILES = ("past_due_share",)


def _previous(trend: pd.DataFrame, column: str) -> Decimal | None:
    """``column`` at the month-end before the trend's latest (None when the trend holds one month)."""
    latest = trend["month_end"].max()
    earlier = trend.loc[trend["month_end"] < latest]
    if earlier.empty:
        return None
    value: Decimal = earlier.set_index("month_end").at[earlier["month_end"].max(), column]
    return value


def _past_due_share(result: AgingResult) -> Decimal | None:
    kpis = result.kpis
    return (Decimal(kpis.past_due_total) / Decimal(kpis.ar_total) * 100) if kpis.ar_total else None


def tiles(result: AgingResult, currency: str) -> dict[str, Tile]:
    """Every headline tile of the section, by KPI id (or derived figure), in the order its page shows them."""
    kpis = result.kpis
    ar_total, past_due = kpis.ar_total, kpis.past_due_total
    trend = result.tables.trend
    previous_ar, previous_past_due = _previous(trend, "ar_total"), _previous(trend, "past_due_total")
    return {
        "ar_total": {
            "label": "Open receivables",
            "value": money_short(ar_total, currency),
            "change": change_text(ar_total, previous_ar, currency),
            "good": None,
        },
        "open_items": {"label": "Open items", "value": count(kpis.open_items)},
        "past_due_total": {
            "label": "Past due",
            "value": money_short(past_due, currency),
            "change": change_text(past_due, previous_past_due, currency),
            "good": None if previous_past_due is None else past_due <= previous_past_due,
        },
        "past_due_share": {"label": "Past due share", "value": percent(_past_due_share(result))},
    }


def summary_sentence(result: AgingResult, currency: str) -> str:
    """One plain-language sentence for the top of the section and the email."""
    buckets = result.tables.buckets
    oldest = buckets.iloc[-1]  # the rows are the configured buckets, youngest first
    kpis = result.kpis
    share = _past_due_share(result) or Decimal(0)
    return (
        f"{count(kpis.open_items)} open items total {money_short(kpis.ar_total, currency)}; "
        f"{percent(share)} is past due and {money_short(oldest['amount'], currency)} "
        f"({percent(oldest['share_pct'])}) sits in the oldest bucket ({oldest['bucket']})."
    )


def disputes_sentence(result: AgingResult, currency: str) -> str:
    """The disputes KPIs in a sentence (the ledger has a disputes table), or why there are none."""
    kpis = result.kpis
    if kpis.disputes_open is None or kpis.disputed_open_total is None:
        return f"Not available: {result.unavailable.get('disputes_open', 'the ledger has no disputes table')}."
    share = percent(percent_of(kpis.disputed_open_total, kpis.ar_total))
    sentence = (
        f"{count(kpis.disputes_open)} disputes are open at the month-end for "
        f"{money_short(kpis.disputed_open_total, currency)} ({share} of open receivables)."
    )
    if kpis.dispute_days_to_resolve is None:
        return sentence + " No dispute was resolved in the DSO window."
    return sentence + f" Disputes resolved in the DSO window took {kpis.dispute_days_to_resolve:.1f} days on average."


def unapplied_sentence(result: AgingResult, currency: str) -> str:
    """Unapplied cash and receivables net of it in a sentence (the ledger has an unapplied_cash table)."""
    kpis = result.kpis
    if kpis.unapplied_cash_total is None or kpis.ar_net is None:
        reason = result.unavailable.get("unapplied_cash_total", "the ledger has no unapplied_cash table")
        return f"Not available: {reason}."
    return (
        f"{money_short(kpis.unapplied_cash_total, currency)} of cash received is not applied to invoices at the "
        f"month-end; receivables net of it: {money_short(kpis.ar_net, currency)} (open invoices, gross: "
        f"{money_short(kpis.ar_total, currency)})."
    )
