"""Display formatting. Values are rounded here and only here (metrics keep exact values).

Column names say what a value is: ``*_pct`` → percent, ``rate`` → an FX/loss rate, counts
(``items``, ``open_items``, ``*_count``, ``days_*``) → integers/days, other Decimals → money.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Required, TypedDict

import pandas as pd

from collections_mi.core.money import round_money
from collections_mi.metrics.result import SectionResult
from collections_mi.presentation.sparkline import sparkline_svg

COUNT_COLUMNS = {"items", "open_items", "customers", "invoices", "loans"}
#: columns measured in days (or other non-money ratios) shown with two decimals, no thousands grouping of money
DAY_COLUMNS = {
    "dso",
    "dso_countback",
    "bpdso",
    "add",
    "days",
    "value",
    "previous_month",
    "mom_change",
    "year_ago",
    "yoy_change",
}


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NaT


def money(value: Any, currency: str = "USD", *, symbol: bool = False) -> str:
    if is_missing(value):
        return "–"
    rounded = round_money(Decimal(value), currency)
    text = f"{rounded:,}"
    if text.startswith("-"):
        text = f"({text[1:]})"
    return f"{currency} {text}" if symbol else text


def percent(value: Any, digits: int = 2) -> str:
    if is_missing(value):
        return "–"
    quantum = Decimal(1).scaleb(-digits)
    return f"{Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP):,}%"


def decimal_places(value: Any, digits: int = 2) -> str:
    if is_missing(value):
        return "–"
    quantum = Decimal(1).scaleb(-digits)
    return f"{Decimal(value).quantize(quantum, rounding=ROUND_HALF_UP):,}"


def count(value: Any) -> str:
    return "–" if is_missing(value) else f"{int(value):,}"


def column_kind(name: str) -> str:
    if name.endswith("_pct") or name.endswith("_share"):
        return "percent"
    if name in ("rate", "fee_rate") or name.endswith("_rate"):
        return "rate"
    if name in COUNT_COLUMNS or name.endswith("_count"):
        return "count"
    if name in DAY_COLUMNS or name.startswith("days_") or name.endswith("_days"):
        return "days"
    return "money"


def cell(value: Any, column: str, currency: str) -> str:
    """One value as display text (already escaped)."""
    if is_missing(value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dt.date, pd.Timestamp)):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, (Decimal, int, float)) and not isinstance(value, bool):
        kind = column_kind(column)
        if kind == "percent":
            return percent(value)
        if kind == "rate":
            if column == "rate":  # an FX rate: as given, at most 6 decimals
                return html.escape(f"{Decimal(str(value)).quantize(Decimal('1e-6')).normalize():f}")
            return percent(Decimal(str(value)) * 100)  # a loss / fee rate, shown as a percentage
        if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(getattr(value, "dtype", ""))):
            return count(value)
        if kind in ("count", "days"):
            return decimal_places(value, 2)
        return money(value, currency)
    return html.escape(str(value))


def html_table(
    frame: pd.DataFrame,
    *,
    currency: str = "USD",
    labels: Mapping[str, str] | None = None,
    max_rows: int | None = None,
    total_row: bool = False,
    css_class: str = "mi-table",
    highlight: Sequence[str] = (),
) -> str:
    """A DataFrame as an accessible HTML table with right-aligned, rounded numbers; every text escaped."""
    labels = labels or {}
    shown = frame if max_rows is None else frame.head(max_rows)
    head = "".join(
        f'<th class="{"num" if _numeric(frame, c) else "txt"}">{html.escape(labels.get(c, c.replace("_", " ")))}</th>'
        for c in frame.columns
    )
    body_rows = []
    for _, row in shown.iterrows():
        status = str(row.get("status", "")) if "status" in frame.columns else ""
        row_class = ' class="warn"' if status == "DIFFERENCE" or any(bool(row.get(h)) for h in highlight) else ""
        cells = "".join(
            f'<td class="{"num" if _numeric(frame, c) else "txt"}">{cell(row[c], c, currency)}</td>'
            for c in frame.columns
        )
        body_rows.append(f"<tr{row_class}>{cells}</tr>")
    note = ""
    if max_rows is not None and len(frame) > max_rows:
        note = f'<p class="mi-note">Showing {max_rows:,} of {len(frame):,} rows; the full table is in tables/.</p>'
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(body_rows)}</tbody></table>{note}'


def _numeric(frame: pd.DataFrame, column: str) -> bool:
    values = [v for v in frame[column].head(50) if not is_missing(v)]
    return bool(values) and all(isinstance(v, (Decimal, int, float)) and not isinstance(v, bool) for v in values)


class Tile(TypedDict, total=False):
    """A headline tile: a label and display value, optionally a change (good news, bad news or neutral) and a
    note; with a target (``report.targets``) its RAG colour (``rag``: green / amber / red), its status in words
    with an icon (``status``: "▲ At risk") and the target (``target``: "target 45.0 days"); with a trend, the
    values of its last month-ends, oldest first (``trend``: plot coordinates for a sparkline only)."""

    label: Required[str]
    value: Required[str]
    change: str | None
    good: bool | None
    note: str | None
    rag: str | None
    status: str | None
    target: str | None
    trend: list[float | None] | None


def rag_badge(tile: Tile) -> str:
    """The tile's status and target ("▲ At risk · target 45.0 days") in its RAG colour; empty without a target."""
    if not tile.get("status"):  # a target whose KPI is not available: the target alone
        return f'<div class="mi-tile-note">{html.escape(str(tile["target"]))}</div>' if tile.get("target") else ""
    text = " · ".join(str(part) for part in (tile.get("status"), tile.get("target")) if part)
    return f'<div class="mi-rag mi-rag-{html.escape(str(tile.get("rag")))}">{html.escape(text)}</div>'


def kpi_tiles(tiles: Sequence[Tile]) -> str:
    """Headline tiles: each mapping has label, value (display text), and optional note / change / good, a RAG
    status with its target and a trend drawn as a sparkline."""
    parts = []
    for tile in tiles:
        change = ""
        if tile.get("change"):
            direction = {True: "good", False: "bad", None: "neutral"}[tile.get("good")]
            change = f'<div class="mi-change {direction}">{html.escape(str(tile["change"]))}</div>'
        note = f'<div class="mi-tile-note">{html.escape(str(tile["note"]))}</div>' if tile.get("note") else ""
        trend = tile.get("trend") or []
        spark = sparkline_svg(trend, f"{tile['label']} over the last {len(trend)} month-ends")
        spark = f'<div class="mi-tile-spark">{spark}</div>' if spark else ""
        rag = f" mi-tile-{html.escape(str(tile.get('rag')))}" if tile.get("status") else ""
        parts.append(
            f'<div class="mi-tile{rag}"><div class="mi-tile-label">{html.escape(str(tile["label"]))}</div>'
            f'<div class="mi-tile-main"><div class="mi-tile-value">{html.escape(str(tile["value"]))}</div>{spark}</div>'
            f"{rag_badge(tile)}{change}{note}</div>"
        )
    return f'<div class="mi-tiles">{"".join(parts)}</div>'


def brand(company: str, period: str) -> str:
    """The pack's title line: "Acme Ltd · Collections MI · 2026-10", or without a company when none is set."""
    return " · ".join(part for part in (company.strip(), "Collections MI", period) if part)


def explained_tiles(result: SectionResult[Any, Any], tiles: Mapping[str, Tile]) -> dict[str, Tile]:
    """``tiles`` (keyed by tile id) with each tile whose KPI (the id, when it is one of the section's KPI ids) the
    result could not compute showing "Not available" and why (e.g. "the ledger has no adjustments table") instead
    of a bare dash."""
    shown: dict[str, Tile] = {}
    for tile_id, tile in tiles.items():
        is_kpi = tile_id in result.kpis.ids()
        reason = result.unavailable.get(tile_id) if is_kpi and result.kpis.value(tile_id) is None else None
        shown[tile_id] = {"label": tile["label"], "value": "Not available", "note": reason} if reason else tile
    return shown


def definition_list(items: Mapping[str, str]) -> str:
    rows = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in items.items())
    return f'<dl class="mi-conventions">{rows}</dl>'


def change_text(current: Decimal | None, previous: Decimal | None, currency: str = "USD") -> str | None:
    """'+1,234.56 vs last month' style text; None when either side is missing."""
    if current is None or previous is None:
        return None
    delta = Decimal(current) - Decimal(previous)
    sign = "+" if delta >= 0 else "−"
    return f"{sign}{money(abs(delta), currency)} vs previous month-end"
