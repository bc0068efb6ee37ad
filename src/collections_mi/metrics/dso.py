"""Days sales outstanding family and collection KPIs (shared/metrics.md § Days sales outstanding family): the section.

The definitions are in :mod:`~collections_mi.metrics.dso_formulas`, what they are computed from in
:mod:`~collections_mi.metrics.dso_inputs`, the trend in :mod:`~collections_mi.metrics.dso_trend`, the breakdowns in
:mod:`~collections_mi.metrics.dso_breakdowns`, the glossary in :mod:`~collections_mi.metrics.dso_glossary` and
promises in :mod:`~collections_mi.metrics.promises`; :func:`compute_dso` puts the section together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from collections_mi.config.params import Params
from collections_mi.core.money import ZERO
from collections_mi.core.periods import first_of_month_back, month_ends_up_to, previous_month_end
from collections_mi.metrics.aging import ar_rollforward
from collections_mi.metrics.behaviour import (
    BEHAVIOUR_MONTHS,
    band_balances,
    bands_by_risk_band,
    behaviour_window,
    customer_behaviour,
)
from collections_mi.metrics.book import Book
from collections_mi.metrics.customer_groups import customer_attributes, risk_band_labels
from collections_mi.metrics.dso_breakdowns import (
    BREAKDOWNS,
    DETERIORATION_NORM_MONTHS,
    breakdown,
    breakdown_table,
    deteriorating_customers,
    group_inputs,
    past_due_and_dso,
)
from collections_mi.metrics.dso_formulas import dso_window
from collections_mi.metrics.dso_glossary import glossary
from collections_mi.metrics.dso_inputs import SettlementSums
from collections_mi.metrics.dso_trend import bridge, changes, dso_trend, receivable_dates
from collections_mi.metrics.movers import top_movers
from collections_mi.metrics.promises import collector_view, kept_rate_trend, promise_status
from collections_mi.metrics.published import DsoKpis, DsoResult, DsoTables
from collections_mi.metrics.result import Table, Unavailable

#: month-ends of the DSO trend
TREND_MONTHS = 24


def dso_item_dates(params: Params) -> list[dt.date]:
    """Every date :func:`compute_dso` reads open items at under ``params``: the trend's month-ends and their windows'
    eves; as_of, the previous month-end and their windows' eves (the breakdowns and top movers)."""
    window_months = params.dso.window_months
    ends = [params.as_of, previous_month_end(params.as_of)]
    eves = [dso_window(end, window_months).start - dt.timedelta(days=1) for end in ends]
    return sorted({*receivable_dates(month_ends_up_to(params.as_of, TREND_MONTHS), window_months), *ends, *eves})


def compute_dso(book: Book, params: Params) -> DsoResult:
    """Everything the DSO & collection KPIs section shows."""
    trend = dso_trend(book, params, months=TREND_MONTHS)
    # the trend's rows are labelled by month-end: the KPIs are as_of's, the opening AR the previous month-end's
    by_month = trend.set_index("month_end", drop=False)
    latest = by_month.loc[params.as_of]
    kpis = DsoKpis.from_values(latest.to_dict())
    previous = previous_month_end(params.as_of)
    opening = by_month.at[previous, "ar_total"] if previous in by_month.index else ZERO
    rollforward = ar_rollforward(book, opening, latest["ar_total"])
    # the settlement sums per customer and month once, from the earliest month the list of deteriorating customers,
    # the breakdowns (at as_of and the previous month-end) and the payment-behaviour bands read
    sums = SettlementSums.gather(
        book,
        min(
            first_of_month_back(book.as_of, DETERIORATION_NORM_MONTHS),
            dso_window(previous, params.dso.window_months).start,
            behaviour_window(book.as_of).start,
        ),
        by="customer_id",
    )
    deteriorating = deteriorating_customers(book, params.report.top_customers, sums)
    breakdowns = _breakdowns_now(book, params, sums)
    by_attribute, by_customer = breakdowns.by_attribute, breakdowns.by_customer
    movers = _top_movers(book, params, previous, sums, breakdowns)
    # payment behaviour: each customer's band beside its open balance at as_of (the per-customer AR above)
    behaviour = customer_behaviour(book, breakdowns.balances, sums)
    # what only the per-customer tables above read, let go before the rest is made: at 10M invoices the settlement
    # sums (Arrow) and each customer's AR (a Decimal each) were still held at the section's peak, beside its tables
    del sums, breakdowns
    by_currency = breakdown(book, params, "currency")
    by_risk_band: Table = Unavailable("the customers table has no risk_score column")
    if "risk_band" in by_attribute:
        order = {band: position for position, band in enumerate(risk_band_labels())}
        by_risk_band = (
            by_attribute["risk_band"]
            .sort_values("risk_band", key=lambda column: column.map(order), kind="stable")
            .reset_index(drop=True)
        )
    status = promise_status(book)
    behaviour_by_risk: Table = Unavailable("the customers table has no risk_score column")
    if book.shape.has("customers", "risk_score"):
        behaviour_by_risk = bands_by_risk_band(book, behaviour)
    result_tables = DsoTables(
        trend=trend,
        changes=changes(trend, params.as_of),
        bridge=bridge(trend, rollforward, params.as_of),
        glossary=glossary(params),
        deteriorating_customers=deteriorating,
        by_customer=by_customer,
        top_movers=movers,
        by_segment=by_attribute["segment"],
        by_region=by_attribute["region"],
        by_collector=by_attribute["collector"],
        by_risk_band=by_risk_band,
        by_currency=by_currency,
        promises=status,
        promises_kept_rate_trend=kept_rate_trend(status, params.as_of, params.report.trend_months),
        collectors=collector_view(book, by_attribute["collector"], status),
        behaviour_customers=behaviour,
        behaviour_bands=band_balances(behaviour),
        behaviour_by_risk_band=behaviour_by_risk,
    )
    window = dso_window(params.as_of, params.dso.window_months)
    behaviour_months = behaviour_window(params.as_of)
    return DsoResult(
        section="dso",
        kpis=kpis,
        tables=result_tables,
        conventions={
            "dso.window_months": f"{params.dso.window_months} → W = {window.start} .. {window.end} "
            f"({window.days} days)",
            "dso.countback_month_days": str(params.dso.countback_month_days),
            "cei.sales": params.cei.sales,
            "payment behaviour": "terms_weighted over invoices raised in W; dbt_weighted (not clipped) and "
            "on_time_pct over the invoices settled in W, weighted by invoice amount; behaviour band from each "
            f"customer's weighted days late (clipped at 0) over invoices settled in the {BEHAVIOUR_MONTHS} months "
            f"{behaviour_months.start} .. {behaviour_months.end}, rounded half up: Great ≤ 15, Good 16–45, Poor 46–90, "
            "Risk > 90, No history = nothing settled",
            "fx": "AR at each date's closing rate; credit sales at each invoice date's rate "
            f"({params.reporting_currency})",
        },
    )


@dataclass(frozen=True)
class _BreakdownsNow:
    """The DSO family per customer attribute and per customer at as_of, and each customer's AR then."""

    by_attribute: dict[str, pd.DataFrame]
    by_customer: pd.DataFrame
    balances: Mapping[object, Decimal]
    #: customer_id → the customer's segment (what the segments' breakdown at the previous month-end rolls up by)
    segment_of: dict[object, object]


@dataclass(frozen=True)
class _BreakdownsBefore:
    """What top movers compare at the previous month-end: past due AR and DSO per customer, and the segment
    breakdown (None without customers.segment)."""

    by_customer: pd.DataFrame
    by_segment: pd.DataFrame | None


def _breakdowns_now(book: Book, params: Params, sums: SettlementSums) -> _BreakdownsNow:
    """Customer-level inputs once, rolled up into each attribute's groups (every input is a sum). A function of its
    own so that the inputs (a dozen sums per customer: Arrow columns where the engine converts, else Python objects,
    ~1 GB at 10M invoices) are let go as soon as the breakdowns are made, before the previous month-end's are
    gathered."""
    per_customer = group_inputs(book, params.dso.window_months, "customer_id", sums=sums)
    attributes = [
        b
        for b in BREAKDOWNS
        if b not in ("customer_id", "currency") and (b != "risk_band" or "risk_score" in book.customers.columns)
    ]
    attribute_frame = customer_attributes(book.customers, attributes)
    customers = attribute_frame["customer_id"].tolist()
    by_attribute = {
        by: breakdown_table(per_customer.roll_up(dict(zip(customers, attribute_frame[by].tolist()))), params, by)
        for by in attributes
    }
    return _BreakdownsNow(
        by_attribute,
        breakdown_table(per_customer, params, "customer_id"),
        per_customer.balances,
        dict(zip(customers, attribute_frame["segment"].tolist())),
    )


def _top_movers(
    book: Book, params: Params, previous: dt.date, sums: SettlementSums, now: _BreakdownsNow
) -> pd.DataFrame:
    """Top movers between the previous month-end and as_of; the previous month-end's breakdowns and the customers'
    names (a row per customer each) are let go on return."""
    before = _breakdowns_before(book, params, previous, sums, now.segment_of)
    names = book.customers.select("customer_id", "name").to_pyarrow().to_pandas()
    return top_movers(
        now.by_customer,
        before.by_customer,
        {c: n if n else c for c, n in zip(names["customer_id"].tolist(), names["name"].tolist())},
        None if before.by_segment is None else (now.by_attribute["segment"], before.by_segment),
    )


def _breakdowns_before(
    book: Book, params: Params, at: dt.date, sums: SettlementSums, segment_of: Mapping[object, object]
) -> _BreakdownsBefore:
    """The same breakdowns at ``at`` (the previous month-end), only what top movers compare; its inputs are let go on
    return."""
    before = group_inputs(book, params.dso.window_months, "customer_id", at=at, sums=sums)
    by_segment = None
    if book.shape.has("customers", "segment"):
        by_segment = breakdown_table(before.roll_up(segment_of), params, "segment")
    return _BreakdownsBefore(past_due_and_dso(before, "customer_id"), by_segment)
