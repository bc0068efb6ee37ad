"""Aging section presentation: headline tiles and the sentences that explain the numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from collections_mi.metrics.result import SectionResult
from collections_mi.presentation.format import change_text, count, money, percent


def _previous(result: SectionResult, column: str) -> Decimal | None:
    trend = result.tables["aging_trend"]
    return trend[column].iloc[-2] if len(trend) > 1 else None


def headline_tiles(result: SectionResult, currency: str) -> list[dict[str, Any]]:
    kpis = result.kpis
    ar_total, past_due = kpis["ar_total"], kpis["past_due_total"]
    past_due_share = (Decimal(past_due) / Decimal(ar_total) * 100) if ar_total else None
    previous_ar, previous_past_due = _previous(result, "ar_total"), _previous(result, "past_due_total")
    past_due_change = change_text(past_due, previous_past_due, currency)
    return [
        {
            "label": "Open receivables",
            "value": money(ar_total, currency, symbol=True),
            "change": change_text(ar_total, previous_ar, currency),
            "good": None,
        },
        {"label": "Open items", "value": count(kpis["open_items"])},
        {
            "label": "Past due",
            "value": money(past_due, currency, symbol=True),
            "change": past_due_change,
            "good": None if previous_past_due is None else past_due <= previous_past_due,
        },
        {"label": "Past due share", "value": percent(past_due_share)},
    ]


def summary_sentence(result: SectionResult, currency: str) -> str:
    """One plain-language sentence for the top of the section and the email."""
    aging = result.tables["aging"]
    oldest = aging.iloc[-1]
    kpis = result.kpis
    share = (Decimal(kpis["past_due_total"]) / Decimal(kpis["ar_total"]) * 100) if kpis["ar_total"] else Decimal(0)
    return (
        f"{count(kpis['open_items'])} open items total {money(kpis['ar_total'], currency, symbol=True)}; "
        f"{percent(share)} is past due and {money(oldest['amount'], currency, symbol=True)} "
        f"({percent(oldest['share_pct'])}) sits in the oldest bucket ({oldest['bucket']})."
    )
