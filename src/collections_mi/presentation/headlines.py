"""What heads the pack: per section, which tiles (KPI ids, in order) head the index page and which the leadership
email — declared here, never picked by position — and the one sentence per section both show.

A section's page (its notebook) shows every tile its presentation module builds (``<section>.tiles``); the index
page, which heads the whole pack, shows a few of them; the email shows the page's. A tile id is a KPI id of the
section (:mod:`collections_mi.metrics.published`) or a figure derived from them (``aging.DERIVED_TILES``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from collections_mi.metrics.result import SectionResult
from collections_mi.presentation import agency, aging, allowance, dso, watchlist
from collections_mi.presentation.format import Tile


@dataclass(frozen=True)
class Headlines:
    """The tile ids, in order, that head the pack's index page and the leadership email for one section."""

    index: tuple[str, ...]
    email: tuple[str, ...]


HEADLINES: dict[str, Headlines] = {
    "aging": Headlines(
        index=("ar_total", "open_items", "past_due_total", "past_due_share"),
        email=("ar_total", "open_items", "past_due_total", "past_due_share"),
    ),
    "dso": Headlines(
        index=("dso", "bpdso", "add", "cei_pct"),
        email=("dso", "bpdso", "add", "cei_pct", "days_late_weighted"),
    ),
    "allowance": Headlines(
        index=("allowance_total", "bad_debt_expense"),
        email=("allowance_total", "bad_debt_expense", "write_offs", "recoveries"),
    ),
    "watchlist": Headlines(
        index=("watchlist_loans", "total_reserve"),
        email=("watchlist_loans", "specific_reserve", "general_reserve", "total_reserve"),
    ),
    "agency": Headlines(
        index=("agency_net_back", "agency_liquidation_pct"),
        email=("agency_placed", "agency_collected", "agency_net_back", "agency_liquidation_pct"),
    ),
}


@dataclass(frozen=True)
class SectionView:
    """How a section's presentation module builds its tiles and its summary sentence (result, currency)."""

    tiles: Callable[[Any, str], dict[str, Tile]]
    sentence: Callable[[Any, str], str]


VIEWS: dict[str, SectionView] = {
    "aging": SectionView(aging.tiles, aging.summary_sentence),
    "dso": SectionView(
        lambda result, currency: dso.tiles(result), lambda result, currency: dso.summary_sentence(result)
    ),
    "allowance": SectionView(allowance.tiles, allowance.summary_sentence),
    "watchlist": SectionView(watchlist.tiles, watchlist.summary_sentence),
    "agency": SectionView(agency.tiles, agency.summary_sentence),
}


def page_tiles(result: SectionResult[Any, Any], currency: str) -> list[Tile]:
    """Every tile of ``result``'s section, in the order its page shows them."""
    return list(VIEWS[result.section].tiles(result, currency).values())


def _headline_tiles(
    results: Mapping[str, SectionResult[Any, Any]], currency: str, chosen: Callable[[Headlines], tuple[str, ...]]
) -> list[Tile]:
    shown: list[Tile] = []
    for section, headlines in HEADLINES.items():
        if section in results:
            tiles = VIEWS[section].tiles(results[section], currency)
            shown += [tiles[tile_id] for tile_id in chosen(headlines)]
    return shown


def index_tiles(results: Mapping[str, SectionResult[Any, Any]], currency: str) -> list[Tile]:
    """The tiles heading the pack's index page: each present section's ``index`` headlines, in section order."""
    return _headline_tiles(results, currency, lambda headlines: headlines.index)


def email_tiles(results: Mapping[str, SectionResult[Any, Any]], currency: str) -> list[Tile]:
    """The KPIs of the leadership email: each present section's ``email`` headlines, in section order."""
    return _headline_tiles(results, currency, lambda headlines: headlines.email)


def summary_sentences(results: Mapping[str, SectionResult[Any, Any]], currency: str) -> list[str]:
    """One plain-language sentence per present section, in section order (the index page and the email)."""
    return [VIEWS[section].sentence(results[section], currency) for section in HEADLINES if section in results]
