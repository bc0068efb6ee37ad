"""What each section publishes: its KPI ids and its tables, as typed fields.

A table field declares its published name — ``tables/<name>.csv``, the Excel sheet and the history table, which
never change — and, where it has them, the optional contract data it needs (data-contract.md §1) and the column
that identifies its rows (compared row by row when a period is restated). A table typed ``Table`` may be
:class:`~collections_mi.metrics.result.Unavailable` (the ledger lacks what it needs); one typed ``pd.DataFrame``
is always computed. A KPI typed ``… | None`` may be not available; kpis.json then omits it.

``PUBLISHED`` maps each section of the registry (:mod:`collections_mi.metrics.sections`) to its two classes, so
reading results back (:func:`collections_mi.store.results.read_results`) rebuilds the typed objects without
importing the engine code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

import pandas as pd

from collections_mi.config.params import Params
from collections_mi.metrics.result import (
    Needs,
    SectionKpis,
    SectionResult,
    SectionTables,
    Table,
    needing,
    published,
)


def _customers(column: str) -> Needs:
    return (("customers", column),)


SEGMENT = _customers("segment")
REGION = _customers("region")
COLLECTOR = _customers("collector")
CREDIT_LIMIT = _customers("credit_limit")
RISK_SCORE = _customers("risk_score")
#: disputed at D: invoices.disputed, or the disputes table when the ledger has one (metrics/shape.SUPERSEDED_BY)
DISPUTED = (("invoices", "disputed"),)
DISPUTES: Needs = (("disputes", None),)
UNAPPLIED_CASH: Needs = (("unapplied_cash", None),)
PROMISES: Needs = (("promises", None),)
#: write-offs and recoveries are adjustments: without them every write-off-driven view would read as "no losses"
ADJUSTMENTS: Needs = (("adjustments", None),)
AGENCY_STRATEGY = (("agencies", "strategy"),)


def _roll_rate(params: Params) -> bool:
    """The roll-rate and vintage methods: the last bucket's roll rate is its write-offs, a cohort's development its
    net write-offs, so the allowance itself needs them."""
    return params.allowance.method in ("roll_rate", "vintage")


# ---------------------------------------------------------------------------------------------- aging


@dataclass
class AgingKpis(SectionKpis):
    ar_total: Decimal
    open_items: int
    past_due_total: Decimal
    top10_share_pct: Decimal | None
    hhi: Decimal | None
    # v1.1, only when the ledger has the tables (metrics/disputes.py)
    unapplied_cash_total: Decimal | None = field(metadata=needing(UNAPPLIED_CASH))
    ar_net: Decimal | None = field(metadata=needing(UNAPPLIED_CASH))
    disputes_open: int | None = field(metadata=needing(DISPUTES))
    disputed_open_total: Decimal | None = field(metadata=needing(DISPUTES))
    #: without resolved_on no dispute was ever resolved (the contract: null = still open)
    dispute_days_to_resolve: Decimal | None = field(metadata=needing((*DISPUTES, ("disputes", "resolved_on"))))


@dataclass
class AgingTables(SectionTables):
    buckets: pd.DataFrame = field(metadata=published("aging", key="bucket", measure="amount"))
    by_segment: Table = field(metadata=published("aging_by_segment", needs=SEGMENT))
    by_region: Table = field(metadata=published("aging_by_region", needs=REGION))
    by_collector: Table = field(metadata=published("aging_by_collector", needs=COLLECTOR))
    by_currency: pd.DataFrame = field(metadata=published("aging_by_currency"))
    by_customer: pd.DataFrame = field(metadata=published("aging_by_customer", key="customer_id", measure="total"))
    over_credit_limit: Table = field(metadata=published("aging_over_credit_limit", needs=CREDIT_LIMIT))
    disputed_buckets: Table = field(metadata=published("aging_disputed_buckets", needs=DISPUTED))
    disputed_items: Table = field(metadata=published("aging_disputed_items", needs=DISPUTED))
    trend: pd.DataFrame = field(metadata=published("aging_trend"))
    reconciliation: pd.DataFrame = field(metadata=published("ar_reconciliation"))
    rollforward: pd.DataFrame = field(metadata=published("ar_rollforward"))
    #: the 20 largest customers at as_of with their shares (metrics.md § Concentration and credit)
    concentration: pd.DataFrame = field(metadata=published("concentration"))
    #: top-10 / top-20 shares and HHI at each month-end of the aging trend
    concentration_trend: pd.DataFrame = field(metadata=published("concentration_trend"))
    credit_utilisation: Table = field(metadata=published("credit_utilisation", needs=CREDIT_LIMIT))
    #: v1.1 (metrics/disputes.py): disputes open at as_of, their breakdowns, those resolved in the window, the trend
    disputes: Table = field(metadata=published("disputes", needs=DISPUTES, key="dispute_id"))
    disputes_by_reason: Table = field(metadata=published("disputes_by_reason", needs=DISPUTES))
    disputes_by_owner: Table = field(metadata=published("disputes_by_owner", needs=DISPUTES))
    disputes_by_age: Table = field(metadata=published("disputes_by_age", needs=DISPUTES))
    disputes_resolved: Table = field(metadata=published("disputes_resolved", needs=DISPUTES))
    disputes_trend: Table = field(metadata=published("disputes_trend", needs=DISPUTES))
    #: v1.1: cash received but not applied at as_of, per customer (unidentified apart), and its trend
    unapplied_cash: Table = field(metadata=published("unapplied_cash", needs=UNAPPLIED_CASH))
    unapplied_cash_trend: Table = field(metadata=published("unapplied_cash_trend", needs=UNAPPLIED_CASH))


AgingResult = SectionResult[AgingKpis, AgingTables]


# ---------------------------------------------------------------------------------------------- DSO


@dataclass
class DsoKpis(SectionKpis):
    dso: Decimal | None
    dso_countback: Decimal | None
    bpdso: Decimal | None
    add: Decimal | None
    cei_pct: Decimal | None
    days_late_simple: Decimal | None
    days_late_weighted: Decimal | None
    days_to_pay_simple: Decimal | None
    days_to_pay_weighted: Decimal | None
    terms_weighted: Decimal | None
    dbt_weighted: Decimal | None
    on_time_pct: Decimal | None


@dataclass
class DsoTables(SectionTables):
    trend: pd.DataFrame = field(metadata=published("dso_trend"))
    changes: pd.DataFrame = field(metadata=published("dso_changes"))
    bridge: pd.DataFrame = field(metadata=published("dso_bridge"))
    glossary: pd.DataFrame = field(metadata=published("dso_glossary"))
    deteriorating_customers: pd.DataFrame = field(metadata=published("dso_deteriorating_customers"))
    by_customer: pd.DataFrame = field(metadata=published("dso_by_customer"))
    #: segments and customers whose past due moved most since the previous month-end, with their DSO (movers.py)
    top_movers: pd.DataFrame = field(metadata=published("top_movers"))
    by_segment: Table = field(metadata=published("dso_by_segment", needs=SEGMENT))
    by_region: Table = field(metadata=published("dso_by_region", needs=REGION))
    by_collector: Table = field(metadata=published("dso_by_collector", needs=COLLECTOR))
    by_risk_band: Table = field(metadata=published("dso_by_risk_band", needs=RISK_SCORE))
    by_currency: pd.DataFrame = field(metadata=published("dso_by_currency"))
    promises: Table = field(metadata=published("promises", needs=PROMISES))
    promises_kept_rate_trend: Table = field(metadata=published("promises_kept_rate_trend", needs=PROMISES))
    collectors: Table = field(metadata=published("dso_collectors", needs=COLLECTOR))
    #: payment behaviour (metrics.md § Payment behaviour): each customer's band, balances per band, band × risk band
    behaviour_customers: pd.DataFrame = field(metadata=published("behaviour_by_customer"))
    behaviour_bands: pd.DataFrame = field(metadata=published("behaviour_bands"))
    behaviour_by_risk_band: Table = field(metadata=published("behaviour_by_risk_band", needs=RISK_SCORE))


DsoResult = SectionResult[DsoKpis, DsoTables]


# ---------------------------------------------------------------------------------------------- allowance


@dataclass
class AllowanceKpis(SectionKpis):
    allowance_total: Decimal | None = field(metadata=needing(ADJUSTMENTS, when=_roll_rate))
    allowance_opening: Decimal | None = field(metadata=needing(ADJUSTMENTS, when=_roll_rate))
    bad_debt_expense: Decimal | None = field(metadata=needing(ADJUSTMENTS))
    write_offs: Decimal | None = field(metadata=needing(ADJUSTMENTS))
    recoveries: Decimal | None = field(metadata=needing(ADJUSTMENTS))


@dataclass
class AllowanceTables(SectionTables):
    matrix: Table = field(metadata=published("allowance_matrix", needs=ADJUSTMENTS, when=_roll_rate))
    rollforward: Table = field(metadata=published("allowance_rollforward", needs=ADJUSTMENTS))
    gl_reconciliation: Table = field(
        metadata=published("allowance_gl_reconciliation", needs=ADJUSTMENTS, when=_roll_rate)
    )
    backtest: Table = field(metadata=published("allowance_backtest", needs=ADJUSTMENTS))
    #: v1.1: every method on the same book — allowance at D, coverage, back-test error and bias; the booked one marked
    methods: Table = field(
        metadata=published("allowance_methods", needs=ADJUSTMENTS, key="allowance_method", measure="allowance")
    )
    roll_rates_monthly: Table = field(metadata=published("roll_rates_monthly", needs=ADJUSTMENTS))
    roll_rates_average: Table = field(metadata=published("roll_rates_average", needs=ADJUSTMENTS))
    loss_rates: Table = field(metadata=published("loss_rates", needs=ADJUSTMENTS))
    #: v1.1 item-level migration: where each bucket's balance went a month later (rolled on, still open, settled)
    cure_rates: pd.DataFrame = field(metadata=published("cure_rates", key="from_bucket", measure="bucket_balance"))
    #: the monthly from-bucket × to-bucket migration behind the roll rates
    migration: pd.DataFrame = field(metadata=published("roll_migration"))
    vintages: Table = field(metadata=published("allowance_vintages", needs=ADJUSTMENTS))
    #: v1.1 vintage method (chain ladder), computed whatever the booked method: per cohort, the triangle (observed
    #: and projected) and the age-to-age factors
    vintage_cohorts: Table = field(metadata=published("vintage_cohorts", needs=ADJUSTMENTS, measure="allowance"))
    vintage_triangle: Table = field(metadata=published("vintage_triangle", needs=ADJUSTMENTS))
    vintage_factors: Table = field(metadata=published("vintage_factors", needs=ADJUSTMENTS))
    projection: Table = field(metadata=published("allowance_projection", needs=ADJUSTMENTS))
    write_off_candidates: pd.DataFrame = field(metadata=published("write_off_candidates"))
    disputed: Table = field(metadata=published("allowance_disputed", needs=DISPUTED))
    #: v1.1 qualitative-factor register (empty without factors) and the waterfall quantitative → factors → booked
    qualitative: Table = field(
        metadata=published("allowance_qualitative", needs=ADJUSTMENTS, when=_roll_rate, key="factor", measure="amount")
    )
    waterfall: Table = field(metadata=published("allowance_waterfall", needs=ADJUSTMENTS, when=_roll_rate))


AllowanceResult = SectionResult[AllowanceKpis, AllowanceTables]


# ---------------------------------------------------------------------------------------------- watch list
# Every table and KPI may be not available: a ledger whose loans have no snapshot by as_of gives none.


@dataclass
class WatchlistKpis(SectionKpis):
    watchlist_loans: int | None
    watchlist_balance: Decimal | None
    specific_reserve: Decimal | None
    general_reserve: Decimal | None
    total_reserve: Decimal | None


@dataclass
class WatchlistTables(SectionTables):
    loans: Table = field(metadata=published("watchlist_loans", key="loan_id", measure="reserve"))
    by_grade: Table = field(metadata=published("watchlist_by_grade"))
    by_method: Table = field(metadata=published("watchlist_by_method"))
    by_segment: Table = field(metadata=published("watchlist_by_segment"))
    movements: Table = field(metadata=published("watchlist_movements"))
    reserve_rollforward: Table = field(metadata=published("watchlist_reserve_rollforward"))
    migration_counts: Table = field(metadata=published("watchlist_migration_counts"))
    migration_balances: Table = field(metadata=published("watchlist_migration_balances"))
    non_accrual: Table = field(metadata=published("watchlist_non_accrual"))
    reo: Table = field(metadata=published("watchlist_reo"))
    #: v1.1: the total reserve if collateral values fall 10 / 20 % and if every loan moves one grade worse
    sensitivity: Table = field(metadata=published("watchlist_sensitivity", key="scenario", measure="total_reserve"))


WatchlistResult = SectionResult[WatchlistKpis, WatchlistTables]


# ---------------------------------------------------------------------------------------------- agency
# Every table and KPI may be not available: a ledger with no placement by as_of gives none.


@dataclass
class AgencyKpis(SectionKpis):
    agency_placed: Decimal | None
    agency_collected: Decimal | None
    agency_fees: Decimal | None
    agency_net_back: Decimal | None
    agency_liquidation_pct: Decimal | None


@dataclass
class AgencyTables(SectionTables):
    league: Table = field(metadata=published("agency_league", key="agency_id", measure="collected"))
    placements: Table = field(metadata=published("agency_placements"))
    liquidation_curves: Table = field(metadata=published("agency_liquidation_curves"))
    champion_challenger: Table = field(metadata=published("agency_champion_challenger", needs=AGENCY_STRATEGY))
    fee_reconciliation: Table = field(metadata=published("agency_fee_reconciliation"))
    collections_by_month: Table = field(metadata=published("agency_collections_by_month"))


AgencyResult = SectionResult[AgencyKpis, AgencyTables]


# ---------------------------------------------------------------------------------------------- cash
# metrics.md v1.1 § Cash-collection forecast (metrics/forecast.py). The forecast is always computed (0 with no open
# item); the back-test KPIs are not available when no back-test month-end saw cash on its open items.


@dataclass
class CashKpis(SectionKpis):
    forecast_13w_total: Decimal
    forecast_wape_pct: Decimal | None
    forecast_bias_pct: Decimal | None


#: the ``week`` of cash_forecast beyond weeks 1–13: expected after week 13, and open but not forecast (last bucket,
#: write-off candidate). Here, not in metrics.forecast, so that pages can name them without importing the engine.
LATER = "later"
NOT_FORECAST = "not forecast"


@dataclass
class CashTables(SectionTables):
    #: weeks 1–13, later, not forecast — the spec's tables/cash_forecast.csv
    weeks: pd.DataFrame = field(metadata=published("cash_forecast", key="week", measure="amount"))
    by_customer: pd.DataFrame = field(
        metadata=published("cash_forecast_by_customer", key="customer_id", measure="amount")
    )
    #: the not-forecast line by reason (last bucket, write-off candidate)
    not_forecast: pd.DataFrame = field(metadata=published("cash_forecast_not_forecast", key="reason", measure="amount"))
    #: one row per open item and rule: the drill-down behind every week
    items: pd.DataFrame = field(metadata=published("cash_forecast_items"))
    #: each back-test month-end's weeks 1–4: forecast, actual, error
    backtest: pd.DataFrame = field(metadata=published("cash_forecast_backtest"))
    backtest_months: pd.DataFrame = field(
        metadata=published("cash_forecast_backtest_months", key="month_end", measure="error")
    )


CashResult = SectionResult[CashKpis, CashTables]


# ---------------------------------------------------------------------------------------------- the sections


class Outputs(NamedTuple):
    """A section's published KPIs and tables."""

    kpis: type[SectionKpis]
    tables: type[SectionTables]


PUBLISHED: dict[str, Outputs] = {
    "aging": Outputs(AgingKpis, AgingTables),
    "dso": Outputs(DsoKpis, DsoTables),
    "allowance": Outputs(AllowanceKpis, AllowanceTables),
    "watchlist": Outputs(WatchlistKpis, WatchlistTables),
    "agency": Outputs(AgencyKpis, AgencyTables),
    "cash": Outputs(CashKpis, CashTables),
}
