"""Agency section presentation: headline tiles and the champion/challenger verdict."""

from __future__ import annotations

from typing import Any

from collections_mi.metrics.result import SectionResult, Unavailable
from collections_mi.presentation.format import explained_tiles, money, percent


def headline_tiles(result: SectionResult, currency: str) -> list[dict[str, Any]]:
    kpis = result.kpis
    return explained_tiles(
        result,
        [
            {
                "kpi": "agency_placed",
                "label": "Placed with agencies",
                "value": money(kpis["agency_placed"], currency, symbol=True),
            },
            {
                "kpi": "agency_collected",
                "label": "Collected (gross)",
                "value": money(kpis["agency_collected"], currency, symbol=True),
            },
            {
                "kpi": "agency_net_back",
                "label": "Net-back after fees",
                "value": money(kpis["agency_net_back"], currency, symbol=True),
                "note": f"fees {money(kpis['agency_fees'], currency)}",
            },
            {"kpi": "agency_liquidation_pct", "label": "Liquidation", "value": percent(kpis["agency_liquidation_pct"])},
        ],
    )


def verdict(result: SectionResult) -> str:
    table = result.table("agency_champion_challenger")
    if isinstance(table, Unavailable):
        return str(table)
    return str(table["verdict"].iloc[0]) if len(table) else "No champion/challenger comparison available."


def summary_sentence(result: SectionResult, currency: str) -> str:
    kpis = result.kpis
    league = result.tables["agency_league"]
    best = f" Best net-back: {league['agency'].iloc[0]}." if len(league) else ""
    return (
        f"Agencies collected {money(kpis['agency_collected'], currency, symbol=True)} of "
        f"{money(kpis['agency_placed'], currency, symbol=True)} placed ({percent(kpis['agency_liquidation_pct'])}); "
        f"net-back after fees {money(kpis['agency_net_back'], currency, symbol=True)}.{best}"
    )
