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
from collections_mi.presentation.labels import ENUM_COLUMNS as labels_enum_columns
from collections_mi.presentation.labels import column_label, enum_label, kpi_label
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
    "terms_weighted",
    "dbt_weighted",
    "hhi",  # an index, 0–10,000
}
#: statistics (not money): a plain minus sign, never accounting parentheses
STAT_COLUMNS = {"ci_low", "ci_high", "cohens_d", "t_statistic", "p_value", "development_factor", "age_to_age_factor"}
#: columns whose values are enum ids a reader sees as words (:func:`labels.enum_label`): one list for pages and
#: workbook
ENUM_COLUMNS = labels_enum_columns
#: columns kept on one line (ids and dates); any date value is too
NOWRAP_COLUMNS = {"bucket", "month_end", "month", "cohort", "currency", "due_by", "promised_on", "first_collection"}
#: the scales of headline money: the largest whose unit the value reaches
SCALES = ((Decimal(10) ** 9, "bn"), (Decimal(10) ** 6, "m"), (Decimal(10) ** 3, "k"))
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NaT


def money(value: Any, currency: str = "USD", *, symbol: bool = False) -> str:
    if is_missing(value):
        return "–"
    rounded = round_money(Decimal(value), currency)
    if rounded == 0:
        rounded = abs(rounded)  # −0.0011 shows as 0.00, not (0.00)
    text = f"{rounded:,}"
    if text.startswith("-"):
        text = f"({text[1:]})"
    return f"{currency} {text}" if symbol else text


def money_short(value: Any, currency: str = "USD") -> str:
    """Money scaled for reading a headline: "USD 80.6m", "USD 75.2k", "USD 950"; negative "−USD 1.2m"; None "–";
    without a currency ("") the figure alone ("80.6m", for chart labels).

    One decimal in the largest unit (bn, m, k) the amount reaches; a value that rounds up to the next unit is shown
    in it (999,999.99 → "USD 1.0m", 999.5 → "USD 1.0k"). Below 1,000: whole units. Tables, CSV and Excel keep the
    full precision."""
    if is_missing(value):
        return "–"
    amount = Decimal(value)
    size = abs(amount)
    text = f"{size.quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"
    # the smallest scale whose one-decimal value stays under 1,000 (999,999.99 is 1,000.0k: so 1.0m)
    carried = size.quantize(Decimal(1), rounding=ROUND_HALF_UP) >= 1000
    for unit, suffix in reversed(SCALES):
        if not carried and size < unit:
            break
        scaled = (size / unit).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        text = f"{scaled:,}{suffix}"
        carried = scaled >= 1000
    sign = "−" if amount < 0 and text.strip("0.,kmbn") else ""
    return f"{sign}{currency} {text}" if currency else f"{sign}{text}"


def period_label(period: str) -> str:
    """ "2026-10" → "October 2026" (a period that is not YYYY-MM unchanged)."""
    year, _, month = period.partition("-")
    if len(year) == 4 and year.isdigit() and month.isdigit() and 1 <= int(month) <= 12:
        return f"{MONTHS[int(month) - 1]} {year}"
    return period


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
    if name in STAT_COLUMNS:
        return "statistic"
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
        if kind == "statistic":
            places = 3 if column in ("p_value", "development_factor", "age_to_age_factor") else 2
            return decimal_places(value, places).replace("-", "−")
        if kind == "rate":
            if column == "rate":  # an FX rate: as given, at most 6 decimals
                return html.escape(f"{Decimal(str(value)).quantize(Decimal('1e-6')).normalize():f}")
            return percent(Decimal(str(value)) * 100)  # a loss / fee rate, shown as a percentage
        if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(getattr(value, "dtype", ""))):
            return count(value)
        if kind in ("count", "days"):
            return decimal_places(value, 2)
        return money(value, currency)
    if column in ENUM_COLUMNS:
        return html.escape(enum_label(str(value)))
    if column == "kpi":
        return html.escape(kpi_label(str(value)))
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
    source: str | None = None,
    empty: str | None = None,
    total_rows: int | None = None,
) -> str:
    """A DataFrame as an accessible HTML table with right-aligned, rounded numbers, headers as words
    (:func:`labels.column_label`, or ``labels``), ids and dates on one line; every text escaped. With ``max_rows``
    a longer table shows its first rows and says how many more are in ``tables/<source>.csv`` and tables.xlsx
    (``total_rows``: the whole table's rows when ``frame`` holds only its first :data:`COLUMN_SAMPLE_ROWS`); with
    ``empty`` a table without rows is that sentence instead of a bare header."""
    if empty is not None and frame.empty:
        return f'<p class="mi-note">{html.escape(empty)}</p>'
    labels = labels or {}
    shown = frame if max_rows is None else frame.head(max_rows)
    classes = {c: _cell_class(frame, c) for c in frame.columns}
    head = "".join(
        f'<th class="{classes[c]}">{html.escape(labels.get(c) or column_label(str(c)))}</th>' for c in frame.columns
    )
    body_rows = []
    for _, row in shown.iterrows():
        status = str(row.get("status", "")) if "status" in frame.columns else ""
        row_class = ' class="warn"' if status == "DIFFERENCE" or any(bool(row.get(h)) for h in highlight) else ""
        cells = "".join(f'<td class="{classes[c]}">{cell(row[c], c, currency)}</td>' for c in frame.columns)
        body_rows.append(f"<tr{row_class}>{cells}</tr>")
    return (
        f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(body_rows)}</tbody></table>'
        f"{more_rows_note(len(frame) if total_rows is None else total_rows, len(shown), source)}"
    )


#: a column's first rows that decide how it is aligned and formatted (dates, numbers, text)
COLUMN_SAMPLE_ROWS = 50


def more_rows_note(total: int, shown: int, source: str | None) -> str:
    """ "Showing 10 of 62 rows; 52 more in tables/aging_over_credit_limit.csv and tables.xlsx." (empty when all
    rows are shown)."""
    if total <= shown:
        return ""
    where = f"tables/{source}.csv and tables.xlsx" if source else "tables/ and tables.xlsx"
    text = f"Showing {shown:,} of {total:,} rows; {total - shown:,} more in {where}."
    return f'<p class="mi-note">{html.escape(text)}</p>'


def _cell_class(frame: pd.DataFrame, column: Any) -> str:
    name = str(column)
    values = [v for v in frame[column].head(COLUMN_SAMPLE_ROWS) if not is_missing(v)]
    dated = bool(values) and all(isinstance(v, (dt.date, pd.Timestamp)) for v in values)
    nowrap = name in NOWRAP_COLUMNS or name.endswith(("_id", "_date")) or dated
    return ("num" if _numeric(frame, column) else "txt") + (" nowrap" if nowrap else "")


def _numeric(frame: pd.DataFrame, column: str) -> bool:
    values = [v for v in frame[column].head(COLUMN_SAMPLE_ROWS) if not is_missing(v)]
    return bool(values) and all(isinstance(v, (Decimal, int, float)) and not isinstance(v, bool) for v in values)


class Tile(TypedDict, total=False):
    """A headline tile: a label and display value, optionally a change (good news, bad news or neutral) and a
    note; with a target (``report.targets``) its RAG colour (``rag``: green / amber / red), its status in words
    with an icon (``status``: "▲ At risk") and the target (``target``: "target 45.0 days"); with a trend, the
    values of its last month-ends, oldest first (``trend``: plot coordinates for a sparkline only); ``headline``
    False for a tile shown only because its KPI has a target (the PDF's cover makes room for headlines first)."""

    label: Required[str]
    value: Required[str]
    change: str | None
    good: bool | None
    note: str | None
    rag: str | None
    status: str | None
    target: str | None
    trend: list[float | None] | None
    headline: bool


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
    """The pack's title line: "Acme Ltd · Collections MI · October 2026", or without a company when none is set."""
    return " · ".join(part for part in (company.strip(), "Collections MI", period_label(period)) if part)


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
    return f"{sign}{money_short(abs(delta), currency)} vs previous month-end"
