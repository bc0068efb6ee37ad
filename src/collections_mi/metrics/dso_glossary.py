"""The DSO section's glossary: definition, formula and the convention in force for every KPI, beside the numbers."""

from __future__ import annotations

import pandas as pd

from collections_mi.config.params import Params
from collections_mi.metrics.dso_formulas import dso_window


def glossary(params: Params) -> pd.DataFrame:
    """Definition, formula and the convention in force for every KPI — printed beside the numbers."""
    window = dso_window(params.as_of, params.dso.window_months)
    months = params.dso.window_months
    days_rule = (
        "actual calendar days"
        if params.dso.countback_month_days == "actual"
        else "30 days per month (D's month: its days up to D, at most 30)"
    )
    cei_sales = (
        "S = credit sales of the whole window"
        if params.cei.sales == "window_total"
        else f"S = credit sales of the window / {months} (monthly average)"
    )
    rows = [
        (
            "dso",
            "Days sales outstanding: how many days of recent credit sales are still unpaid.",
            "AR(D) / S(W) × days(W)",
            f"W = {window.start} .. {window.end} ({window.days} days, {months} months)",
        ),
        (
            "dso_countback",
            "Countback DSO: AR exhausted against the most recent months' sales.",
            "walk back months from D; subtract whole months' sales while AR ≥ sales, then the fraction",
            days_rule,
        ),
        (
            "bpdso",
            "Best possible DSO: DSO if every past-due item were collected.",
            "current AR(D) / S(W) × days(W)",
            "current = not yet past due (days past due ≤ 0)",
        ),
        ("add", "Average days delinquent: the part of DSO caused by late payment.", "DSO − BPDSO", ""),
        (
            "cei_pct",
            "Collection effectiveness index: share of collectible receivables actually collected.",
            "(AR(start−1) + S − AR(D)) / (AR(start−1) + S − current AR(D)) × 100",
            cei_sales,
        ),
        (
            "days_late_simple",
            "Average days late of invoices settled in the window.",
            "mean of max(0, settlement − due_date)",
            "settled by payments/credits; written-off invoices excluded",
        ),
        (
            "days_late_weighted",
            "Days late weighted by invoice amount.",
            "Σ amount × days late / Σ amount",
            "amounts at each invoice date's closing rate",
        ),
        (
            "days_to_pay_simple",
            "Average days from invoice to settlement.",
            "mean of settlement − invoice_date",
            "settlement = last payment/credit that closed the invoice (not before its invoice date)",
        ),
        (
            "days_to_pay_weighted",
            "Days to pay weighted by invoice amount.",
            "Σ amount × days to pay / Σ amount",
            "amounts at each invoice date's closing rate",
        ),
    ]
    return pd.DataFrame(rows, columns=["kpi", "definition", "formula", "convention"])
