"""Watch-list section presentation: headline tiles and a sentence."""

from __future__ import annotations

from collections_mi.metrics.published import WatchlistResult
from collections_mi.presentation.format import Tile, count, explained_tiles, money_short


def tiles(result: WatchlistResult, currency: str) -> dict[str, Tile]:
    """Every headline tile of the section, by KPI id, in the order its page shows them."""
    kpis = result.kpis
    return explained_tiles(
        result,
        {
            "watchlist_loans": {
                "label": "Loans on the watch list",
                "value": count(kpis.watchlist_loans),
                "note": f"{money_short(kpis.watchlist_balance, currency)} recorded investment",
            },
            "specific_reserve": {
                "label": "Specific reserves",
                "value": money_short(kpis.specific_reserve, currency),
            },
            "general_reserve": {
                "label": "General reserves",
                "value": money_short(kpis.general_reserve, currency),
            },
            "total_reserve": {"label": "Total reserves", "value": money_short(kpis.total_reserve, currency)},
        },
    )


def summary_sentence(result: WatchlistResult, currency: str) -> str:
    kpis = result.kpis
    return (
        f"{count(kpis.watchlist_loans)} loans ({money_short(kpis.watchlist_balance, currency)}) are on "
        f"the watch list; reserves total {money_short(kpis.total_reserve, currency)} "
        f"(specific {money_short(kpis.specific_reserve, currency)}, "
        f"general {money_short(kpis.general_reserve, currency)})."
    )
