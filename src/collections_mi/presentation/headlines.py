"""What heads the pack: per section, which tiles (KPI ids, in order) head the index page and which the leadership
email — declared here, never picked by position — and the one sentence per section both show.

A section's page (its notebook) shows every tile its presentation module builds (``<section>.tiles``); the index
page, which heads the whole pack, shows a few of them; the email shows the page's. A tile id is a KPI id of the
section (:mod:`collections_mi.metrics.published`) or a figure derived from them (``aging.DERIVED_TILES``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from collections_mi.config.params import ReportConfig
from collections_mi.config.targets import targets_of
from collections_mi.metrics.dso_formulas import BEHAVIOUR_KPI_IDS
from collections_mi.metrics.result import SectionResult
from collections_mi.presentation import agency, aging, allowance, cash, dso, watchlist
from collections_mi.presentation.format import Tile, explained_tiles
from collections_mi.presentation.targets import KPI_LABELS, kpi_text, status, target_text


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
    "cash": Headlines(
        index=("forecast_13w_total", "forecast_wape_pct"),
        email=("forecast_13w_total", "forecast_wape_pct", "forecast_bias_pct"),
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
    "cash": SectionView(cash.tiles, cash.summary_sentence),
}


#: tile id → the column of its section's ``trend`` table (one row per month-end) that a sparkline draws
TRENDS: dict[str, str] = {
    "ar_total": "ar_total",
    "open_items": "open_items",
    "past_due_total": "past_due_total",
    "past_due_share": "past_due_pct",
    **{kpi: kpi for kpi in dso.KPI_LABELS},
    **{kpi: kpi for kpi in BEHAVIOUR_KPI_IDS},  # terms, days beyond terms and on-time share: columns of dso_trend
}


def trend_values(result: SectionResult[Any, Any], tile_id: str, months: int) -> list[float | None] | None:
    """The values of ``tile_id`` at the last ``months`` month-ends of its section's trend table, oldest first
    (plot coordinates); None when the section has no trend of it."""
    trend = getattr(result.tables, "trend", None)
    column = TRENDS.get(tile_id)
    if not isinstance(trend, pd.DataFrame) or column is None or column not in trend.columns:
        return None
    values = trend.sort_values("month_end")[column].tail(months)
    return [None if value is None or value != value else float(value) for value in values]


def _kpi_tile(result: SectionResult[Any, Any], kpi: str, currency: str) -> Tile:
    """A tile for a KPI its section's presentation has none for (a KPI given a target that heads nothing)."""
    tile: Tile = {"label": KPI_LABELS[kpi], "value": kpi_text(kpi, result.kpis.value(kpi), currency)}
    return explained_tiles(result, {kpi: tile})[kpi]


def section_tiles(
    result: SectionResult[Any, Any], currency: str, chosen: Sequence[str], report: ReportConfig | None = None
) -> list[Tile]:
    """The tiles ``chosen`` (ids) of ``result``'s section, then a tile for each other KPI of the section that has a
    target; each KPI with a target carries its RAG status and target, each tile with a trend its last
    ``report.trend_months`` values."""
    report = report or ReportConfig()
    targets = targets_of(report.targets)
    tiles = VIEWS[result.section].tiles(result, currency)
    ids = [*chosen, *(kpi for kpi in result.kpis.ids() if kpi in targets and kpi not in chosen)]
    shown: list[Tile] = []
    for tile_id in ids:
        tile = tiles[tile_id].copy() if tile_id in tiles else _kpi_tile(result, tile_id, currency)
        tile["headline"] = tile_id in chosen
        target = targets.get(tile_id)
        if target is not None:
            standing = status(result.kpis.value(tile_id), target)
            tile["target"] = target_text(tile_id, target, currency)
            tile["rag"] = None if standing is None else standing.rag
            tile["status"] = None if standing is None else standing.text
        trend = trend_values(result, tile_id, report.trend_months)
        if trend is not None:
            tile["trend"] = trend
        shown.append(tile)
    return shown


def page_tiles(result: SectionResult[Any, Any], currency: str, report: ReportConfig | None = None) -> list[Tile]:
    """Every tile of ``result``'s section, in the order its page shows them (with targets and trends)."""
    return section_tiles(result, currency, list(VIEWS[result.section].tiles(result, currency)), report)


def _headline_tiles(
    results: Mapping[str, SectionResult[Any, Any]],
    currency: str,
    chosen: Callable[[Headlines], tuple[str, ...]],
    report: ReportConfig | None,
) -> list[Tile]:
    shown: list[Tile] = []
    for section, headlines in HEADLINES.items():
        if section in results:
            shown += section_tiles(results[section], currency, chosen(headlines), report)
    return shown


def index_tiles(
    results: Mapping[str, SectionResult[Any, Any]], currency: str, report: ReportConfig | None = None
) -> list[Tile]:
    """The tiles heading the pack's index page (and the PDF's cover): each present section's ``index`` headlines,
    in section order, then its other KPIs with a target; with ``report`` (params.report) each KPI with a target
    carries its RAG status and target, each tile with a trend its sparkline values."""
    return _headline_tiles(results, currency, lambda headlines: headlines.index, report)


def email_tiles(
    results: Mapping[str, SectionResult[Any, Any]], currency: str, report: ReportConfig | None = None
) -> list[Tile]:
    """The KPIs of the leadership email: each present section's ``email`` headlines, in section order, then its
    other KPIs with a target (with RAG status and target, as :func:`index_tiles`)."""
    return _headline_tiles(results, currency, lambda headlines: headlines.email, report)


def summary_sentences(results: Mapping[str, SectionResult[Any, Any]], currency: str) -> list[str]:
    """One plain-language sentence per present section, in section order (the index page and the email)."""
    return [VIEWS[section].sentence(results[section], currency) for section in HEADLINES if section in results]
