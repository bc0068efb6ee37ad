"""Cash section presentation: headline tiles, the sentence that heads the pack, and the page's explanations."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from collections_mi.core.money import dsum
from collections_mi.metrics.published import LATER, NOT_FORECAST, CashResult
from collections_mi.presentation.format import Tile, explained_tiles, money_short, percent

#: the first weeks the back-test checks (the near term a treasurer plans on)
NEAR_WEEKS = 4


def week_rows(weeks: pd.DataFrame) -> pd.DataFrame:
    """The rows of weeks 1–13 of the forecast table (not ``later`` or ``not forecast``) — weeks are ints when
    computed, their text when read back from tables/."""
    return weeks[[str(week) not in (LATER, NOT_FORECAST) for week in weeks["week"]]]


def week_amounts(weeks: pd.DataFrame) -> list[Decimal]:
    """The amounts of weeks 1–13, in order."""
    return list(week_rows(weeks)["amount"])


def row_amount(weeks: pd.DataFrame, row: str) -> Decimal:
    """The amount of the ``later`` or ``not forecast`` row."""
    return dsum(amount for week, amount in zip(weeks["week"], weeks["amount"]) if str(week) == row)


def bias_text(bias: Decimal | None) -> str:
    """The bias in words: "10.55% under" (the forecast expected less than came in), "3.20% over", or "–"."""
    if bias is None:
        return "–"
    if bias == 0:
        return "none"
    return f"{percent(abs(bias))} {'under' if bias < 0 else 'over'}"


def tiles(result: CashResult, currency: str) -> dict[str, Tile]:
    """Every headline tile of the section, by KPI id, in the order its page shows them."""
    kpis = result.kpis
    weeks = result.tables.weeks
    near = dsum(week_amounts(weeks)[:NEAR_WEEKS])
    return explained_tiles(
        result,
        {
            "forecast_13w_total": {
                "label": "Cash expected in 13 weeks",
                "value": money_short(kpis.forecast_13w_total, currency),
                "note": f"{money_short(near, currency)} in the next {NEAR_WEEKS} weeks",
            },
            "forecast_wape_pct": {
                "label": "Forecast error (WAPE)",
                "value": percent(kpis.forecast_wape_pct),
                "note": f"back-test, first {NEAR_WEEKS} weeks of the last 6 month-ends",
            },
            "forecast_bias_pct": {
                "label": "Forecast bias",
                "value": percent(kpis.forecast_bias_pct),
                "note": f"{bias_text(kpis.forecast_bias_pct)}: negative = less forecast than came in",
            },
        },
    )


def summary_sentence(result: CashResult, currency: str) -> str:
    kpis = result.kpis
    weeks = result.tables.weeks
    open_total = dsum(weeks["amount"])
    near = dsum(week_amounts(weeks)[:NEAR_WEEKS])
    later, left_out = row_amount(weeks, LATER), row_amount(weeks, NOT_FORECAST)
    sentence = (
        f"{money_short(kpis.forecast_13w_total, currency)} of the {money_short(open_total, currency)} open is "
        f"expected in the next 13 weeks ({money_short(near, currency)} in the first {NEAR_WEEKS}); "
        f"{money_short(later, currency)} later and {money_short(left_out, currency)} not forecast."
    )
    if kpis.forecast_wape_pct is not None:
        sentence += (
            f" Back-test: off by {percent(kpis.forecast_wape_pct)} of the cash received (WAPE), bias "
            f"{bias_text(kpis.forecast_bias_pct)}."
        )
    return sentence
