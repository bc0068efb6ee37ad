"""Watch-list section presentation: headline tiles and a sentence."""

from __future__ import annotations

from typing import Any

from collections_mi.metrics.result import SectionResult
from collections_mi.presentation.format import count, explained_tiles, money


def headline_tiles(result: SectionResult, currency: str) -> list[dict[str, Any]]:
    kpis = result.kpis
    return explained_tiles(
        result,
        [
            {
                "kpi": "watchlist_loans",
                "label": "Loans on the watch list",
                "value": count(kpis["watchlist_loans"]),
                "note": f"{money(kpis['watchlist_balance'], currency, symbol=True)} recorded investment",
            },
            {
                "kpi": "specific_reserve",
                "label": "Specific reserves",
                "value": money(kpis["specific_reserve"], currency, symbol=True),
            },
            {
                "kpi": "general_reserve",
                "label": "General reserves",
                "value": money(kpis["general_reserve"], currency, symbol=True),
            },
            {
                "kpi": "total_reserve",
                "label": "Total reserves",
                "value": money(kpis["total_reserve"], currency, symbol=True),
            },
        ],
    )


def summary_sentence(result: SectionResult, currency: str) -> str:
    kpis = result.kpis
    return (
        f"{count(kpis['watchlist_loans'])} loans ({money(kpis['watchlist_balance'], currency, symbol=True)}) are on "
        f"the watch list; reserves total {money(kpis['total_reserve'], currency, symbol=True)} "
        f"(specific {money(kpis['specific_reserve'], currency)}, general {money(kpis['general_reserve'], currency)})."
    )
