"""Days sales outstanding family and collection KPIs (shared/metrics.md § Days sales outstanding family): the section.

The definitions are in :mod:`~collections_mi.metrics.dso_formulas`, what they are computed from in
:mod:`~collections_mi.metrics.dso_inputs`, the trend in :mod:`~collections_mi.metrics.dso_trend`, the breakdowns in
:mod:`~collections_mi.metrics.dso_breakdowns`, the glossary in :mod:`~collections_mi.metrics.dso_glossary` and
promises in :mod:`~collections_mi.metrics.promises`; :func:`compute_dso` puts the section together.
"""

from __future__ import annotations

from collections_mi.config.params import Params
from collections_mi.core.money import ZERO
from collections_mi.metrics.aging import ar_rollforward
from collections_mi.metrics.book import Book
from collections_mi.metrics.customer_groups import customer_attributes, risk_band_labels
from collections_mi.metrics.dso_breakdowns import (
    BREAKDOWNS,
    breakdown,
    breakdown_table,
    deteriorating_customers,
    group_inputs,
)
from collections_mi.metrics.dso_formulas import KPI_IDS, dso_window
from collections_mi.metrics.dso_glossary import glossary
from collections_mi.metrics.dso_trend import bridge, changes, dso_trend
from collections_mi.metrics.promises import collector_view, kept_rate_trend, promise_status
from collections_mi.metrics.result import SectionResult


def compute_dso(book: Book, params: Params) -> SectionResult:
    """Everything the DSO & collection KPIs section shows."""
    trend = dso_trend(book, params, months=24)
    latest = trend.iloc[-1]
    kpis = {k: latest[k] for k in KPI_IDS}
    opening = trend.iloc[-2]["ar_total"] if len(trend) > 1 else ZERO
    rollforward = ar_rollforward(book, opening, latest["ar_total"])
    result_tables = {
        "dso_trend": trend,
        "dso_changes": changes(trend),
        "dso_bridge": bridge(trend, rollforward),
        "dso_glossary": glossary(params),
        "dso_deteriorating_customers": deteriorating_customers(book, params.report.top_customers),
    }
    # customer-level inputs once; segment, region, collector and risk band are sums of customers
    per_customer = group_inputs(book, params.dso.window_months, "customer_id")
    result_tables["dso_by_customer"] = breakdown_table(per_customer, params, "customer_id")
    attributes = [
        b
        for b in BREAKDOWNS
        if b not in ("customer_id", "currency") and (b != "risk_band" or "risk_score" in book.customers.columns)
    ]
    attribute_frame = customer_attributes(book.customers, attributes)
    for by in attributes:
        group_of = dict(zip(attribute_frame["customer_id"], attribute_frame[by]))
        result_tables[f"dso_by_{by}"] = breakdown_table(per_customer.roll_up(group_of), params, by)
    result_tables["dso_by_currency"] = breakdown(book, params, "currency")
    if "dso_by_risk_band" in result_tables:
        bands = result_tables["dso_by_risk_band"]
        order = {band: position for position, band in enumerate(risk_band_labels())}
        result_tables["dso_by_risk_band"] = bands.sort_values(
            "risk_band", key=lambda column: column.map(order), kind="stable"
        ).reset_index(drop=True)
    status = promise_status(book)
    result_tables["promises"] = status
    result_tables["promises_kept_rate_trend"] = kept_rate_trend(status, params.as_of, params.report.trend_months)
    result_tables["dso_collectors"] = collector_view(book, result_tables["dso_by_collector"], status)
    window = dso_window(params.as_of, params.dso.window_months)
    return SectionResult(
        section="dso",
        kpis=kpis,
        tables=result_tables,
        conventions={
            "dso.window_months": f"{params.dso.window_months} → W = {window.start} .. {window.end} "
            f"({window.days} days)",
            "dso.countback_month_days": str(params.dso.countback_month_days),
            "cei.sales": params.cei.sales,
            "fx": "AR at each date's closing rate; credit sales at each invoice date's rate "
            f"({params.reporting_currency})",
        },
    )
