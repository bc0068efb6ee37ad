"""DSO section presentation: headline tiles, the KPI table with changes, and explanation sentences."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from collections_mi.metrics.dso_formulas import KPI_IDS
from collections_mi.metrics.published import DsoResult
from collections_mi.presentation.format import Tile, decimal_places, explained_tiles, percent
from collections_mi.presentation.labels import kpi_label

KPI_LABELS = {kpi: kpi_label(kpi) for kpi in KPI_IDS}
#: for these KPIs a fall is good news; for CEI a rise is
LOWER_IS_BETTER = {
    "dso",
    "dso_countback",
    "bpdso",
    "add",
    "days_late_simple",
    "days_late_weighted",
    "days_to_pay_simple",
    "days_to_pay_weighted",
}


def _value_text(kpi: str, value: Any) -> str:
    return percent(value) if kpi == "cei_pct" else f"{decimal_places(value, 1)} days"


def _change_text(kpi: str, change: Any) -> str | None:
    if change is None:
        return None
    sign = "+" if change >= 0 else "−"
    unit = " pts" if kpi == "cei_pct" else " days"
    return f"{sign}{decimal_places(abs(change), 1)}{unit} vs previous month-end"


def tiles(result: DsoResult) -> dict[str, Tile]:
    """Every headline tile of the section, by KPI id, in the order its page shows them."""
    changes = result.tables.changes.set_index("kpi")
    shown: dict[str, Tile] = {}
    for kpi in ("dso", "bpdso", "add", "cei_pct", "days_late_weighted"):
        change = changes.loc[kpi, "mom_change"]
        good = None if change is None or change == 0 else ((change < 0) == (kpi in LOWER_IS_BETTER))
        shown[kpi] = {
            "label": KPI_LABELS[kpi],
            "value": _value_text(kpi, result.kpis.value(kpi)),
            "change": _change_text(kpi, change),
            "good": good,
        }
    return explained_tiles(result, shown)


def changes_table(result: DsoResult) -> pd.DataFrame:
    """KPI, value, previous month, change, a year ago, change — display-ready labels."""
    frame = result.tables.changes.copy()
    frame.insert(0, "metric", [KPI_LABELS[k] for k in frame["kpi"]])
    return frame.drop(columns=["kpi"])


def summary_sentence(result: DsoResult) -> str:
    kpis = result.kpis
    changes = result.tables.changes.set_index("kpi")
    change = changes.loc["dso", "mom_change"]
    direction = (
        ""
        if change is None
        else (f", {'up' if change > 0 else 'down'} {decimal_places(abs(change), 1)} days on the previous month-end")
    )
    return (
        f"DSO is {decimal_places(kpis.dso, 1)} days{direction}; {decimal_places(kpis.add, 1)} of them are "
        f"caused by late payment (best possible DSO {decimal_places(kpis.bpdso, 1)}); collection "
        f"effectiveness {percent(kpis.cei_pct)}."
    )


def trend_display(result: DsoResult, months: int) -> pd.DataFrame:
    return result.tables.trend.tail(months).reset_index(drop=True)


def as_days(value: Decimal | None) -> str:
    return decimal_places(value, 1)


#: the behaviour bands a collector should look at first
WATCH_BANDS = ("Risk", "Poor")


def behaviour_watch(customers: pd.DataFrame, count: int) -> pd.DataFrame:
    """The ``count`` customers with the largest open balances among those paying worst (bands Risk and Poor), Risk
    first: whom to call about late payment. All customers and their bands are in tables/behaviour_by_customer.csv."""
    watched = customers[customers["band"].isin(WATCH_BANDS) & (customers["open_balance"] > 0)].copy()
    watched["_band"] = watched["band"].map(WATCH_BANDS.index)
    watched["_balance"] = -watched["open_balance"].map(Decimal)
    ordered = watched.sort_values(["_band", "_balance", "customer_id"], kind="stable").head(count)
    return ordered.drop(columns=["_band", "_balance"]).reset_index(drop=True)
