"""Agency section presentation: headline tiles and the champion/challenger verdict."""

from __future__ import annotations

import pandas as pd

from collections_mi.metrics.published import AgencyResult
from collections_mi.metrics.result import Unavailable
from collections_mi.presentation.format import Tile, explained_tiles, money_short, percent


def tiles(result: AgencyResult, currency: str) -> dict[str, Tile]:
    """Every headline tile of the section, by KPI id, in the order its page shows them."""
    kpis = result.kpis
    return explained_tiles(
        result,
        {
            "agency_placed": {
                "label": "Placed with agencies",
                "value": money_short(kpis.agency_placed, currency),
            },
            "agency_collected": {
                "label": "Collected (gross)",
                "value": money_short(kpis.agency_collected, currency),
            },
            "agency_net_back": {
                "label": "Net-back after fees",
                "value": money_short(kpis.agency_net_back, currency),
                "note": f"fees {money_short(kpis.agency_fees, currency)}",
            },
            "agency_liquidation_pct": {"label": "Liquidation", "value": percent(kpis.agency_liquidation_pct)},
        },
    )


def verdict(result: AgencyResult) -> str:
    table = result.tables.champion_challenger
    if isinstance(table, Unavailable):
        return str(table)
    return str(table["verdict"].iloc[0]) if len(table) else "No champion/challenger comparison available."


def summary_sentence(result: AgencyResult, currency: str) -> str:
    kpis = result.kpis
    league = result.tables.league
    best = f" Best net-back: {league['agency'].iloc[0]}." if isinstance(league, pd.DataFrame) and len(league) else ""
    return (
        f"Agencies collected {money_short(kpis.agency_collected, currency)} of "
        f"{money_short(kpis.agency_placed, currency)} placed ({percent(kpis.agency_liquidation_pct)}); "
        f"net-back after fees {money_short(kpis.agency_net_back, currency)}.{best}"
    )
