"""Readable names for what the pack publishes — one home for them: a KPI's name (tiles, targets, glossaries), a
table's title and what it shows, a column's header (short on the pages, :func:`column_label`; in full in the
workbook, :func:`sheet_column_label`), an enum value as a reader says it.

The pages, charts, tiles, the email and the PDF read :func:`kpi_label`, :func:`column_label` and :func:`enum_label`;
the workbook (:mod:`collections_mi.outputs.excel`) takes every sheet name, header and enum value from here too. A
name not listed here is shown with its underscores as spaces and a capital first letter (:func:`humanize`), never as
a bare id.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "COLUMN_LABELS",
    "PAGE_COLUMN_LABELS",
    "ENUM_COLUMNS",
    "KPI_LABELS",
    "KPI_UNITS",
    "TABLES",
    "VALUE_LABELS",
    "TableLabel",
    "column_label",
    "enum_label",
    "humanize",
    "kpi_label",
    "kpi_unit",
    "sheet_column_label",
    "table_label",
    "value_label",
]


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
    # payment behaviour and concentration (metrics.md v1.1)
    "terms_weighted": "Terms granted (weighted)",
    "dbt_weighted": "Days beyond terms (weighted)",
    "on_time_pct": "Paid on time",
    "top10_share_pct": "Top-10 customers' share",
    "hhi": "Concentration (HHI)",
    # unapplied cash and disputes (metrics.md v1.1)
    "unapplied_cash_total": "Unapplied cash",
    "ar_net": "Receivables net of unapplied cash",
    "disputes_open": "Open disputes",
    "disputed_open_total": "Disputed amount",
    "dispute_days_to_resolve": "Days to resolve a dispute",
    # the cash-collection forecast (metrics.md v1.1)
    "forecast_13w_total": "Cash expected in 13 weeks",
    "forecast_wape_pct": "Forecast error (WAPE)",
    "forecast_bias_pct": "Forecast bias",
}

#: KPI id → its unit: ``money`` (the reporting currency), ``days``, ``percent``, ``count`` or ``index`` (a number
#: without a unit: the HHI, 0–10,000). Every KPI of kpis.json is listed (tested): tiles, targets, the email, the PDF
#: and the workbook's KPI sheet format a KPI by this, never by guessing from its name.
KPI_UNITS: dict[str, str] = {
    "ar_total": "money",
    "open_items": "count",
    "past_due_total": "money",
    "past_due_share": "percent",
    "top10_share_pct": "percent",
    "hhi": "index",
    "unapplied_cash_total": "money",
    "ar_net": "money",
    "disputes_open": "count",
    "disputed_open_total": "money",
    "dispute_days_to_resolve": "days",
    "dso": "days",
    "dso_countback": "days",
    "bpdso": "days",
    "add": "days",
    "cei_pct": "percent",
    "days_late_simple": "days",
    "days_late_weighted": "days",
    "days_to_pay_simple": "days",
    "days_to_pay_weighted": "days",
    "terms_weighted": "days",
    "dbt_weighted": "days",
    "on_time_pct": "percent",
    "allowance_total": "money",
    "allowance_opening": "money",
    "bad_debt_expense": "money",
    "write_offs": "money",
    "recoveries": "money",
    "watchlist_loans": "count",
    "watchlist_balance": "money",
    "specific_reserve": "money",
    "general_reserve": "money",
    "total_reserve": "money",
    "agency_placed": "money",
    "agency_collected": "money",
    "agency_fees": "money",
    "agency_net_back": "money",
    "agency_liquidation_pct": "percent",
    "forecast_13w_total": "money",
    "forecast_wape_pct": "percent",
    "forecast_bias_pct": "percent",
}


class TableLabel(NamedTuple):
    """A published table as a reader meets it: a title (≤ 31 characters: it names the Excel sheet) and one line
    on what it shows."""

    title: str
    description: str


#: published table (tables/<name>.csv) → its title and description, in the sections' order
TABLES: dict[str, TableLabel] = {
    # receivables aging
    "aging": TableLabel("Aging", "Open receivables by age bucket: items, amount and share of the total."),
    "aging_by_segment": TableLabel("Aging by segment", "Open receivables by customer segment and age bucket."),
    "aging_by_region": TableLabel("Aging by region", "Open receivables by region and age bucket."),
    "aging_by_collector": TableLabel("Aging by collector", "Open receivables by collector and age bucket."),
    "aging_by_currency": TableLabel(
        "Aging by currency", "Open receivables by invoice currency, converted at the closing rate."
    ),
    "aging_by_customer": TableLabel(
        "Aging by customer", "Every customer with open items: age buckets, past due and credit limit."
    ),
    "aging_over_credit_limit": TableLabel(
        "Over credit limit", "Customers whose open balance exceeds their credit limit, and by how much."
    ),
    "aging_disputed_buckets": TableLabel("Disputed by age", "Disputed open items by age bucket."),
    "aging_disputed_items": TableLabel("Disputed items", "Every disputed open item, oldest first."),
    "aging_trend": TableLabel("Aging trend", "Open receivables by age bucket at each month-end."),
    "ar_reconciliation": TableLabel(
        "AR reconciliation", "The aging total against the open-item subledger and the general ledger."
    ),
    "ar_rollforward": TableLabel(
        "AR rollforward", "Opening receivables, sales, cash, credits and write-offs to closing receivables."
    ),
    "concentration": TableLabel(
        "Customer concentration", "The 20 largest customers by open balance, their share and cumulative share."
    ),
    "concentration_trend": TableLabel(
        "Concentration trend", "Top-10 and top-20 customers' share of receivables and the HHI at each month-end."
    ),
    "credit_utilisation": TableLabel(
        "Credit utilisation", "Customers with a credit limit by how much of it their open balance uses."
    ),
    "disputes": TableLabel(
        "Open disputes", "Every dispute open at the month-end: invoice, reason, owner, age, amount."
    ),
    "disputes_by_reason": TableLabel("Disputes by reason", "Open disputes and the disputed amount by reason."),
    "disputes_by_owner": TableLabel("Disputes by owner", "Open disputes and the disputed amount by who works them."),
    "disputes_by_age": TableLabel("Disputes by age", "Open disputes by days since they were opened."),
    "disputes_resolved": TableLabel(
        "Disputes resolved", "Disputes resolved in the DSO window by reason: how many, mean days to resolve, outcomes."
    ),
    "disputes_trend": TableLabel("Disputes trend", "Open disputes and the disputed amount at each month-end."),
    "unapplied_cash": TableLabel(
        "Unapplied cash", "Cash received but not applied to invoices, per customer; unidentified cash apart."
    ),
    "unapplied_cash_trend": TableLabel(
        "Unapplied cash trend", "Identified and unidentified unapplied cash at each month-end."
    ),
    # DSO and collection KPIs
    "dso_trend": TableLabel("DSO trend", "DSO and the other collection KPIs at each month-end."),
    "dso_changes": TableLabel("DSO changes", "Each collection KPI against the previous month-end and a year ago."),
    "dso_bridge": TableLabel("DSO bridge", "What moved DSO from the previous month-end to this one, step by step."),
    "dso_glossary": TableLabel("DSO glossary", "How each collection KPI is defined and computed."),
    "dso_deteriorating_customers": TableLabel(
        "Paying later", "Customers paying much later this month than they usually do."
    ),
    "dso_by_customer": TableLabel("DSO by customer", "Collection KPIs for every customer."),
    "top_movers": TableLabel(
        "Top movers", "The segments and customers whose past due and DSO moved most since the previous month-end."
    ),
    "dso_by_segment": TableLabel("DSO by segment", "Collection KPIs by customer segment."),
    "dso_by_region": TableLabel("DSO by region", "Collection KPIs by region."),
    "dso_by_collector": TableLabel("DSO by collector", "Collection KPIs by collector."),
    "dso_by_risk_band": TableLabel("DSO by risk band", "Collection KPIs by customer risk-score band."),
    "dso_by_currency": TableLabel("DSO by currency", "Collection KPIs by invoice currency."),
    "promises": TableLabel("Promises to pay", "Every promise to pay: amount, due date and whether it was kept."),
    "promises_kept_rate_trend": TableLabel("Promises kept trend", "Promises to pay falling due, kept and broken."),
    "dso_collectors": TableLabel("Collector scorecard", "Each collector's book, DSO, cash collected and promises."),
    "behaviour_by_customer": TableLabel(
        "Behaviour by customer", "Each customer's payment-behaviour band from its weighted days late, with its balance."
    ),
    "behaviour_bands": TableLabel("Behaviour bands", "Open receivables by payment-behaviour band."),
    "behaviour_by_risk_band": TableLabel(
        "Behaviour by risk band", "Customers and open receivables by behaviour band and risk-score band."
    ),
    # bad-debt allowance
    "allowance_matrix": TableLabel("Allowance matrix", "Receivables by age bucket × loss rate = allowance."),
    "allowance_rollforward": TableLabel(
        "Allowance rollforward", "Opening allowance, write-offs, recoveries and expense to closing allowance."
    ),
    "allowance_gl_reconciliation": TableLabel(
        "Allowance vs GL", "The computed allowance against the general ledger balance."
    ),
    "allowance_backtest": TableLabel(
        "Allowance back-test", "Each past month-end's allowance against the write-offs of the next 12 months."
    ),
    "roll_rates_monthly": TableLabel("Roll rates by month", "The share of each age bucket rolling into the next."),
    "roll_rates_average": TableLabel("Average roll rates", "Roll rates averaged over the look-back period."),
    "loss_rates": TableLabel("Loss rates", "The loss rate of each age bucket implied by the roll rates."),
    "cure_rates": TableLabel(
        "Where each bucket went",
        "Each bucket's balance a month later: rolled on, still open, or paid, credited or written off.",
    ),
    "roll_migration": TableLabel(
        "Migration matrix", "Items and balances moving from each bucket to each bucket (or closed) month by month."
    ),
    "allowance_vintages": TableLabel("Loss vintages", "Cumulative net write-offs of each month's sales."),
    "allowance_projection": TableLabel(
        "Allowance projection", "Receivables and write-offs projected forward by the roll rates."
    ),
    "write_off_candidates": TableLabel(
        "Write-off candidates", "Open items proposed for write-off, with the rule each meets."
    ),
    "allowance_disputed": TableLabel("Allowance on disputes", "The allowance on disputed items by age bucket."),
    "vintage_cohorts": TableLabel(
        "Vintage allowance by cohort",
        "Each cohort's losses to date, development to ultimate, open balance and allowance.",
    ),
    "vintage_triangle": TableLabel(
        "Loss triangle", "Cumulative net write-offs of each invoice month by age, observed and projected."
    ),
    "vintage_factors": TableLabel("Age-to-age factors", "Volume-weighted development factors (chain ladder)."),
    "allowance_methods": TableLabel(
        "Allowance methods compared",
        "Every method on the same book: allowance, coverage and back-test error; the booked one marked.",
    ),
    "allowance_qualitative": TableLabel(
        "Qualitative factors", "The register: each factor's scope, adjustment, rationale, approver and amount."
    ),
    "allowance_waterfall": TableLabel(
        "Allowance waterfall", "The method's allowance, each qualitative factor, and the allowance booked."
    ),
    # watch-list reserves
    "watchlist_loans": TableLabel("Watch-list loans", "Every loan on the watch list: grade, status, PV and reserve."),
    "watchlist_by_grade": TableLabel("Reserves by grade", "Loans, balance and reserves by risk grade."),
    "watchlist_sensitivity": TableLabel(
        "Reserve sensitivity", "The total reserve if collateral values fall and if every loan moves one grade worse."
    ),
    "watchlist_by_method": TableLabel("Reserves by method", "Loans, balance and reserves by impairment method."),
    "watchlist_by_segment": TableLabel("Reserves by segment", "Loans, balance and reserves by loan segment."),
    "watchlist_movements": TableLabel(
        "Watch-list movements", "Loans added to, removed from or regraded on the watch list this month."
    ),
    "watchlist_reserve_rollforward": TableLabel(
        "Reserve rollforward", "Reserves at the previous month-end to this one, by cause."
    ),
    "watchlist_migration_counts": TableLabel(
        "Grade migration (loans)", "Loans by risk grade a year ago (rows) and now (columns)."
    ),
    "watchlist_migration_balances": TableLabel(
        "Grade migration (balances)", "Balances by risk grade a year ago (rows) and now (columns)."
    ),
    "watchlist_non_accrual": TableLabel("Non-accrual loans", "Non-accrual loans and their reserves by risk grade."),
    "watchlist_reo": TableLabel("REO (foreclosed)", "Foreclosed property held: carrying amount against fair value."),
    # agency performance
    "agency_league": TableLabel("Agency league", "Each collection agency: placed, collected, fees and net-back."),
    "agency_placements": TableLabel("Agency placements", "Every account placed with an agency and what it brought."),
    "agency_liquidation_curves": TableLabel(
        "Liquidation curves", "Cumulative collections of each placement month, by months since placement."
    ),
    "agency_champion_challenger": TableLabel(
        "Champion vs challenger", "The champion and challenger strategies compared, with the test statistics."
    ),
    "agency_fee_reconciliation": TableLabel(
        "Agency fee check", "Agency fees charged that differ from the contracted rate."
    ),
    "agency_collections_by_month": TableLabel("Agency cash by month", "Collections by agency and month."),
    # cash forecast
    "cash_forecast": TableLabel(
        "Cash forecast",
        "Open receivables by the week their cash is expected (13 weeks), later and not forecast, by how each amount "
        "was estimated.",
    ),
    "cash_forecast_by_customer": TableLabel(
        "Cash forecast by customer", "Cash expected from each customer in the 13 weeks, later and not forecast."
    ),
    "cash_forecast_not_forecast": TableLabel(
        "Not forecast", "Open items left out of the forecast: the last aging bucket and the write-off candidates."
    ),
    "cash_forecast_items": TableLabel(
        "Cash forecast by item", "Every open item: the rule that placed it, its expected date and week."
    ),
    "cash_forecast_backtest": TableLabel(
        "Forecast back-test by week",
        "The forecast made at each of the last 6 month-ends for its first 4 weeks against the cash received.",
    ),
    "cash_forecast_backtest_months": TableLabel(
        "Forecast back-test by month", "Each back-test month-end's 4 weeks together: forecast, actual, WAPE, bias."
    ),
}

#: column id → header, without its unit (the workbook adds "(USD)", "(%)" from the column's kind)
COLUMN_LABELS: dict[str, str] = {
    # disputes and unapplied cash (metrics.md v1.1)
    "dispute_id": "Dispute",
    "reason": "Reason",
    "owner": "Owner",
    "opened_on": "Opened on",
    "age_days": "Days open",
    "age_band": "Dispute age (days)",
    "disputes": "Disputes",
    "disputes_open": "Open disputes",
    "amount_reporting": "Amount (reporting currency)",
    "resolved": "Resolved",
    "mean_days_to_resolve": "Mean days to resolve",
    "outcomes": "Outcomes",
    "receipts": "Receipts",
    "oldest_receipt": "Oldest receipt",
    "identified": "Identified",
    "unidentified": "Unidentified",
    # payment behaviour and concentration
    "rank": "Rank",
    "band": "Band",
    "behaviour_band": "Behaviour band",
    "customers": "Customers",
    "cumulative_share_pct": "Cumulative share",
    "top20_share_pct": "Top-20 customers' share",
    "utilisation_pct": "Credit utilisation",
    "days_late_rounded": "Days late (rounded)",
    "settled_invoices": "Invoices settled",
    "amount_settled": "Amount settled",
    # who and what
    "customer_id": "Customer ID",
    "name": "Customer",
    "segment": "Segment",
    "region": "Region",
    "collector": "Collector",
    "currency": "Currency",
    "risk_band": "Risk band",
    "invoice_id": "Invoice",
    "loan_id": "Loan",
    "borrower": "Borrower",
    "agency_id": "Agency ID",
    "agency": "Agency",
    "strategy": "Strategy",
    "placement_id": "Placement",
    "collection_id": "Collection",
    "promise_id": "Promise",
    "level": "Level",
    "key": "ID",
    "kpi": "KPI",
    "line": "Line",
    "check": "Check",
    "step": "Step",
    "series": "Series",
    "status": "Status",
    "explanation": "Explanation",
    "definition": "Definition",
    "formula": "Formula",
    "convention": "Convention",
    "verdict": "Verdict",
    "movement": "Movement",
    "method": "Impairment method",
    "impairment_method": "Impairment method",
    "risk_grade": "Risk grade",
    "grade_before": "Grade a month ago",
    "grade_now": "Grade now",
    "from_grade": "Grade a year ago",
    "bucket": "Age bucket",
    "from_bucket": "From bucket",
    "to_bucket": "To bucket",
    # dates
    "month_end": "Month-end",
    "month": "Month",
    "cohort": "Cohort",
    "invoice_date": "Invoice date",
    "due_date": "Due date",
    "last_payment": "Last payment",
    "promised_on": "Promised on",
    "due_by": "Due by",
    "placed_date": "Placed on",
    "recalled_date": "Recalled on",
    "first_collection": "First collection",
    "collection_date": "Collected on",
    # counts
    "items": "Items",
    "open_items": "Open items",
    "loans": "Loans",
    "placements": "Placements",
    "collections": "Collections",
    "promises_due": "Promises due",
    "promises_taken": "Promises taken",
    "promises_kept": "Promises kept",
    "promises_broken": "Promises broken",
    "kept": "Kept",
    "broken": "Broken",
    "pending": "Pending",
    "invoices_settled_now": "Invoices settled this month",
    "invoices_settled_norm": "Invoices settled (usual month)",
    "months_since": "Months since",
    "months_on_list": "Months on the watch list",
    "months_held": "Months held",
    "window_days": "Days in the DSO window",
    "horizon_months": "Horizon (months)",
    "champion_n": "Champion placements",
    "challenger_n": "Challenger placements",
    "needed_per_group": "Placements needed per group",
    # money
    "amount": "Amount",
    "amount_original": "Amount",
    "amount_due": "Amount due",
    "amount_settled_now": "Settled this month",
    "open_balance": "Open balance",
    "open_balance_reporting": "Open balance",
    "current": "Current",
    "total": "Total",
    "past_due": "Past due",
    "past_due_before": "Past due a month ago",
    "past_due_change": "Change in past due",
    "current_ar": "Current receivables",
    "past_due_ar": "Past due receivables",
    "sales_window": "Credit sales in the DSO window",
    "sales": "Sales",
    "credit_limit": "Credit limit",
    "over_limit": "Over the limit by",
    "collected_in_month": "Collected in the month",
    "paid_in_window": "Paid by the due date",
    "difference": "Difference",
    "balance": "Balance",
    "balance_before": "Balance a month ago",
    "balance_now": "Balance now",
    "allowance": "Allowance",
    "write_offs": "Write-offs",
    "write_offs_next_12m": "Write-offs in the next 12 months",
    "net_write_offs": "Net write-offs",
    "actual_total": "Actual receivables",
    "actual_write_offs": "Actual write-offs",
    "numerator": "Balance rolled",
    "denominator": "Balance at the start",
    "reserve": "Reserve",
    "reserve_before": "Reserve a month ago",
    "reserve_now": "Reserve now",
    "reserve_change": "Change in reserve",
    "specific_reserve": "Specific reserve",
    "general_reserve": "General reserve",
    "collateral_value": "Collateral value",
    "collateral_net": "Collateral less cost to sell",
    "present_value": "PV of expected cash flows",
    "fair_value_less_cost": "Fair value less cost to sell",
    "carrying_over_fair_value": "Carrying amount over fair value",
    "placed": "Placed",
    "placed_amount": "Amount placed",
    "collected": "Collected",
    "collected_cumulative": "Collected to date",
    "fees": "Fees",
    "fee_computed": "Fee at the contract rate",
    "fee_charged": "Fee charged",
    "net_back": "Net-back",
    "gone": "Left the book",
    # percentages and rates
    "share_pct": "Share of total",
    "past_due_pct": "Past due share",
    "coverage_pct": "Coverage",
    "kept_rate_pct": "Kept rate",
    "roll_rate_pct": "Roll rate",
    "not_rolled_pct": "Not rolled",
    "bucket_balance": "Balance in the bucket (Σ over the months)",
    "allowance_method": "Method",
    "age_months": "Age (months)",
    "loss_to_date_rate": "Loss rate to date",
    "development_factor": "Development to ultimate",
    "ultimate_loss_rate": "Ultimate loss rate",
    "ultimate_losses": "Ultimate losses",
    "age_to_age_factor": "Age-to-age factor",
    "cohorts_used": "Cohorts used",
    "projected": "Projected",
    "scenario": "Scenario",
    "change": "Change",
    "change_pct": "Change %",
    "booked": "Booked",
    "backtest_months": "Month-ends back-tested",
    "backtest_error_pct": "Back-test error",
    "backtest_bias_pct": "Back-test bias",
    "not_available": "Why not available",
    "factor": "Factor",
    "scope": "Applies to",
    "adjustment_pct": "Adjustment",
    "rationale": "Rationale",
    "approved_by": "Approved by",
    "balance_in_scope": "Balance in scope",
    "allowance_in_scope": "Method's allowance in scope",
    "rolled_on": "Rolled to a later bucket",
    "still_open": "Still open, same or earlier bucket",
    "settled": "Paid, credited or written off",
    "rolled_on_pct": "Rolled on",
    "still_open_pct": "Still open",
    "settled_pct": "Paid, credited or written off",
    "written_off_pct": "Of which written off",
    "loss_pct": "Cumulative loss",
    "reserve_pct": "Reserve ratio",
    "liquidation_pct": "Liquidation",
    "net_back_pct": "Net-back rate",
    "recall_rate_pct": "Recalled",
    "champion_mean_pct": "Champion mean liquidation",
    "challenger_mean_pct": "Challenger mean liquidation",
    "difference_pct": "Difference",
    "loss_rate": "Loss rate",
    "fee_rate": "Fee rate",
    "cost_to_sell_rate": "Cost to sell",
    "effective_rate": "Effective interest rate",
    "rate": "Closing FX rate",
    # days and statistics
    "days": "Days",
    "days_past_due": "Days past due",
    "days_late_now": "Days late this month",
    "days_late_norm": "Days late (usual month)",
    "days_worse": "Days later than usual",
    "days_to_first_collection": "Days to first collection",
    "avg_days_to_first_collection": "Average days to first collection",
    "dso_before": "DSO a month ago",
    "dso_change": "Change in DSO",
    "value": "Value",
    "previous_month": "Previous month-end",
    "mom_change": "Change on the month",
    "year_ago": "A year ago",
    "yoy_change": "Change on the year",
    "ci_low": "95% interval, low (points)",
    "ci_high": "95% interval, high (points)",
    "cohens_d": "Effect size (Cohen's d)",
    "t_statistic": "t statistic",
    "p_value": "p-value",
    # yes / no
    "disputed": "Disputed",
    "horizon_complete": "12 months observed",
    "over_age_limit": "Over the age limit",
    "no_recent_payment": "No recent payment",
    "long_dispute": "Long dispute",
    # the cash forecast
    "segment_or_book": "Segment or book behaviour",
    "not_forecast": "Not forecast",
    "dbt_days": "Days beyond terms used",
    "dbt_basis": "Days beyond terms of",
    "expected_on": "Expected on",
    "week_start": "Week from",
    "week_end": "Week to",
    "actual_not_forecast": "Actual on items not forecast",
    "abs_error": "Absolute error",
    "wape_pct": "WAPE %",
    "bias_pct": "Bias %",
    "rule": "Estimated from",
}

#: table column → header on the pages (short: tables must fit the page); the workbook's longer headers are
#: :data:`COLUMN_LABELS`
PAGE_COLUMN_LABELS: dict[str, str] = {
    "top10_share_pct": "Top 10 %",
    "top20_share_pct": "Top 20 %",
    "cumulative_share_pct": "Cumulative %",
    "utilisation_pct": "Utilisation %",
    "terms_weighted": "Terms (wtd)",
    "dbt_weighted": "DBT (wtd)",
    "on_time_pct": "On time %",
    "hhi": "HHI",
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
    "rolled_on_pct": "Rolled on %",
    "still_open_pct": "Still open %",
    "settled_pct": "Settled %",
    "written_off_pct": "Written off %",
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

#: an enum value (risk grade, loan status, impairment method, …) → how a reader says it
VALUE_LABELS: dict[str, str] = {
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
    "segment": "Segment",
    "customer": "Customer",
    "projection": "Projection",
    "added": "Added",
    "upgraded": "Upgraded",
    "downgraded": "Downgraded",
    "ok": "OK",
    "gone": "Left the book",
    # dispute reason codes named by the contract (data-contract.md v1.1 § disputes); a system's own codes show as
    # they are
    "pricing": "Pricing",
    "quantity": "Quantity",
    "quality": "Quality",
    "not_received": "Not received",
    "duplicate_billing": "Duplicate billing",
    "terms": "Terms",
    # how the cash forecast estimated an amount, and why an item is not forecast
    "promise": "Promise to pay",
    "segment_or_book": "Segment or book behaviour",
    "disputed": "Disputed",
    "later": "Later",
    "not forecast": "Not forecast",
    "last bucket": "Last aging bucket",
    "write-off candidate": "Write-off candidate",
    "book": "Whole book",
    # allowance methods (metrics.md § Bad-debt allowance)
    "aging_rates": "Aging rates",
    "roll_rate": "Roll rates (item-level)",
    "vintage": "Vintage (chain ladder)",
}

#: columns whose values are enum ids (shown through :data:`VALUE_LABELS`; ``kpi`` through :data:`KPI_LABELS`)
ENUM_COLUMNS = frozenset(
    {
        "risk_grade",
        "grade_before",
        "grade_now",
        "from_grade",
        "status",
        "impairment_method",
        "method",
        "strategy",
        "level",
        "series",
        "kpi",
        "reason",
        "rule",
        "dbt_basis",
        "to_bucket",
        "allowance_method",
    }
)


def humanize(name: str) -> str:
    """``some_id`` → "Some id": the fallback for a name no map lists."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def kpi_unit(kpi: str) -> str:
    """A KPI's unit (:data:`KPI_UNITS`); an id not listed is a programming error, not money by default."""
    try:
        return KPI_UNITS[kpi]
    except KeyError:
        raise KeyError(f"KPI {kpi!r} has no unit in presentation.labels.KPI_UNITS") from None


def kpi_label(kpi: str) -> str:
    """A KPI id of kpis.json as its tile names it ("bpdso" → "Best possible DSO")."""
    return KPI_LABELS.get(kpi) or humanize(kpi)


def sheet_column_label(column: str) -> str:
    """A column id as the workbook's header, without its unit: ``days_past_due`` → "Days past due", ``bpdso`` →
    "Best possible DSO", a risk grade as a column (a migration matrix) → "Special mention"; a bucket label ("1-30")
    as it is."""
    return COLUMN_LABELS.get(column) or KPI_LABELS.get(column) or VALUE_LABELS.get(column) or humanize(column)


def column_label(column: str) -> str:
    """A column id as the pages' header, short so that tables fit ("cei_pct" → "CEI %"; otherwise as
    :func:`sheet_column_label`: "open_balance" → "Open balance")."""
    return PAGE_COLUMN_LABELS.get(column) or sheet_column_label(column)


def enum_label(value: str) -> str:
    """An enum value as words ("special_mention" → "Special mention"); other text unchanged (names, buckets)."""
    return VALUE_LABELS.get(value, value)


def value_label(column: str, value: str) -> str:
    """An enum value of ``column`` as a reader says it (``non_accrual`` → "Non-accrual", KPI ids by their name);
    any other text unchanged."""
    if column not in ENUM_COLUMNS:
        return value
    if column == "kpi":
        return KPI_LABELS.get(value, value)
    return VALUE_LABELS.get(value, value)


def table_label(name: str) -> TableLabel:
    """A published table's title and description; a table no map lists is titled from its name."""
    return TABLES.get(name) or TableLabel(humanize(name), "")
