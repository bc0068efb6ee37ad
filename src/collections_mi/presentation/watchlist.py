"""Watch-list section presentation: headline tiles and a sentence."""

from __future__ import annotations

from collections_mi.metrics.published import WatchlistResult
from collections_mi.presentation.format import Tile, count, explained_tiles, money


def tiles(result: WatchlistResult, currency: str) -> dict[str, Tile]:
    """Every headline tile of the section, by KPI id, in the order its page shows them."""
    kpis = result.kpis
    return explained_tiles(
        result,
        {
            "watchlist_loans": {
                "label": "Loans on the watch list",
                "value": count(kpis.watchlist_loans),
                "note": f"{money(kpis.watchlist_balance, currency, symbol=True)} recorded investment",
            },
            "specific_reserve": {
                "label": "Specific reserves",
                "value": money(kpis.specific_reserve, currency, symbol=True),
            },
            "general_reserve": {
                "label": "General reserves",
                "value": money(kpis.general_reserve, currency, symbol=True),
            },
            "total_reserve": {"label": "Total reserves", "value": money(kpis.total_reserve, currency, symbol=True)},
        },
    )


def summary_sentence(result: WatchlistResult, currency: str) -> str:
    kpis = result.kpis
    return (
        f"{count(kpis.watchlist_loans)} loans ({money(kpis.watchlist_balance, currency, symbol=True)}) are on "
        f"the watch list; reserves total {money(kpis.total_reserve, currency, symbol=True)} "
        f"(specific {money(kpis.specific_reserve, currency)}, general {money(kpis.general_reserve, currency)})."
    )
