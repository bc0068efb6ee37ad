"""What a reader sees instead of our identifiers: column names, KPI ids and enum values as words.

The one place for these maps (tables, charts, tiles, the email and the PDF read them). An id without an entry falls
back to itself with underscores as spaces, so a new column still reads; the maps are data, tested in
tests/test_presentation.py.
"""

from __future__ import annotations

#: KPI id (kpis.json) → label
KPI_LABELS: dict[str, str] = {
    "ar_total": "Open receivables",
    "open_items": "Open items",
    "past_due_total": "Past due",
    "past_due_share": "Past due share",
    "dso": "DSO",
    "dso_countback": "Countback DSO",
    "bpdso": "Best possible DSO",
    "add": "Average days delinquent",
    "cei_pct": "Collection effectiveness",
    "days_late_simple": "Days late (simple)",
    "days_late_weighted": "Days late (weighted)",
    "days_to_pay_simple": "Days to pay (simple)",
    "days_to_pay_weighted": "Days to pay (weighted)",
    "allowance_total": "Allowance",
    "allowance_opening": "Opening allowance",
    "bad_debt_expense": "Bad-debt expense (month)",
    "write_offs": "Write-offs (month)",
    "recoveries": "Recoveries (month)",
    "watchlist_loans": "Loans on the watch list",
    "watchlist_balance": "Watch-list recorded investment",
    "specific_reserve": "Specific reserves",
    "general_reserve": "General reserves",
    "total_reserve": "Total reserves",
    "agency_placed": "Placed with agencies",
    "agency_collected": "Collected by agencies (gross)",
    "agency_fees": "Agency fees",
    "agency_net_back": "Net-back after fees",
    "agency_liquidation_pct": "Liquidation",
}

#: table column → header (short: tables must fit the page); KPI columns read as their KPI's short name
COLUMN_LABELS: dict[str, str] = {
    "add": "ADD",
    "bpdso": "Best possible DSO",
    "dso": "DSO",
    "dso_countback": "Countback DSO",
    "cei_pct": "CEI %",
    "ar_total": "Open AR",
    "current_ar": "Current AR",
    "past_due_ar": "Past due AR",
    "past_due_total": "Past due",
    "past_due_pct": "Past due %",
    "share_pct": "Share %",
    "sales_window": "Sales (window)",
    "window_days": "Window days",
    "days_late_simple": "Days late",
    "days_late_weighted": "Days late (wtd)",
    "days_to_pay_simple": "Days to pay",
    "days_to_pay_weighted": "Days to pay (wtd)",
    "customer_id": "Customer",
    "invoice_id": "Invoice",
    "loan_id": "Loan",
    "placement_id": "Placement",
    "agency_id": "Agency id",
    "collection_id": "Collection",
    "promise_id": "Promise",
    "month_end": "Month-end",
    "mom_change": "Change (month)",
    "yoy_change": "Change (year)",
    "previous_month": "Previous month",
    "open_balance_reporting": "Open balance (reporting)",
    "amount_original": "Amount (original)",
    "rate": "Closing rate",
    "risk_grade": "Risk grade",
    "impairment_method": "Method",
    "cost_to_sell_rate": "Cost to sell",
    "collateral_net": "Collateral net",
    "effective_rate": "Effective rate",
    "present_value": "PV of cash flows",
    "reserve_pct": "Reserve %",
    "months_on_list": "Months listed",
    "days_past_due": "Days past due",
    "credit_limit": "Credit limit",
    "over_limit": "Over limit",
    "liquidation_pct": "Liquidation %",
    "net_back_pct": "Net-back %",
    "recall_rate_pct": "Recall rate %",
    "avg_days_to_first_collection": "Days to 1st collection",
    "days_to_first_collection": "Days to 1st collection",
    "kept_rate_pct": "Kept %",
    "roll_rate_pct": "Roll rate %",
    "not_rolled_pct": "Not rolled %",
    "coverage_pct": "Coverage %",
    "loss_pct": "Loss %",
    "write_offs_next_12m": "Write-offs next 12m",
    "horizon_complete": "Horizon complete",
    "horizon_months": "Horizon (months)",
    "champion_n": "Champion n",
    "challenger_n": "Challenger n",
    "champion_mean_pct": "Champion %",
    "challenger_mean_pct": "Challenger %",
    "difference_pct": "Difference %",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "cohens_d": "Cohen's d",
    "t_statistic": "t",
    "p_value": "p-value",
    "needed_per_group": "n needed",
    "fair_value_less_cost": "Fair value less cost",
    "carrying_over_fair_value": "Carrying over fair value",
    "kpi": "KPI",
    "no_recent_payment": "No recent payment",
    "over_age_limit": "Over age limit",
    "long_dispute": "Long dispute",
}

#: enum values found in result tables (risk grades, loan status, impairment method, movement causes…) → words
ENUM_LABELS: dict[str, str] = {
    "pass": "Pass",
    "special_mention": "Special mention",
    "substandard": "Substandard",
    "doubtful": "Doubtful",
    "loss": "Loss",
    "performing": "Performing",
    "non_accrual": "Non-accrual",
    "reo": "REO (foreclosed)",
    "closed": "Closed",
    "cash_flows": "PV of cash flows",
    "collateral": "Collateral",
    "general": "General (by grade)",
    "champion": "Champion",
    "challenger": "Challenger",
    "kept": "Kept",
    "broken": "Broken",
    "pending": "Pending",
}


def _words(identifier: str) -> str:
    text = identifier.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else text


def column_label(name: str) -> str:
    """The header a reader sees for table column ``name`` ("cei_pct" → "CEI %"; unknown: "open_balance" →
    "Open balance")."""
    return COLUMN_LABELS.get(name) or KPI_LABELS.get(name) or _words(name)


def kpi_label(kpi_id: str) -> str:
    """A KPI id as words ("bpdso" → "Best possible DSO"); unknown ids read with spaces."""
    return KPI_LABELS.get(kpi_id) or _words(kpi_id)


def enum_label(value: str) -> str:
    """An enum value as words ("special_mention" → "Special mention"); other text unchanged (names, buckets)."""
    return ENUM_LABELS.get(value, value)
