"""tables.xlsx: every table of the pack, one formatted sheet each (number formats, frozen header, widths)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

from collections_mi.metrics.result import SectionResult
from collections_mi.presentation.format import column_kind

FORMATS = {"money": "#,##0.00;(#,##0.00)", "percent": "0.00", "days": "0.00", "count": "#,##0", "rate": "0.000000"}


def sheet_name(name: str, used: set[str]) -> str:
    """Excel sheet names: at most 31 characters, unique."""
    base = name[:31]
    candidate, number = base, 2
    while candidate in used:
        suffix = f"~{number}"
        candidate = base[: 31 - len(suffix)] + suffix
        number += 1
    used.add(candidate)
    return candidate


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NaT:
        return None
    if isinstance(value, Decimal):
        return value  # openpyxl stores Decimals as numbers; no float summing happens here
    if hasattr(value, "item") and not isinstance(value, (dt.date, str)):
        return value.item()
    return value


def _number_format(column: str, values: pd.Series) -> str | None:
    """The Excel number format of a column, judged from its first values."""
    if any(isinstance(v, dt.date) for v in values):
        return "yyyy-mm-dd"
    if any(isinstance(v, (Decimal, int, float)) and not isinstance(v, bool) for v in values):
        return FORMATS.get(column_kind(column), "General")
    return None


def write_excel(results: Mapping[str, SectionResult[Any, Any]], path: Path) -> dict[str, str]:
    """Write the workbook; returns {table name: sheet name}.

    XlsxWriter in constant-memory mode streams each row to the file and formats whole columns (no style object
    per cell), so a per-customer table of a large book costs seconds and little memory. Excel stores numbers as
    doubles: money shows to the cent, and the exact values are in tables/*.csv."""
    used: set[str] = set()
    sheets: dict[str, str] = {}
    workbook = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    header = workbook.add_format({"bold": True, "bg_color": "#F0F4F8", "text_wrap": True, "valign": "top"})
    formats = {}
    try:
        for result in results.values():
            for name, frame in result.tables.published().items():
                title = sheet_name(name, used)
                sheets[name] = title
                sheet = workbook.add_worksheet(title)
                sheet.freeze_panes(1, 0)
                dates = []
                for position, column in enumerate(frame.columns):
                    values = frame[column].head(200)
                    number_format = _number_format(str(column), values)
                    if number_format and number_format not in formats:
                        formats[number_format] = workbook.add_format({"num_format": number_format})
                    width = max([len(str(column))] + [len(str(v)) for v in values if v is not None][:200] + [8])
                    sheet.set_column(
                        position,
                        position,
                        min(max(10, width * 0.9 + 2), 60),
                        formats.get(number_format) if number_format else None,
                    )
                    dates.append(number_format == "yyyy-mm-dd")
                sheet.write_row(0, 0, [str(c) for c in frame.columns], header)
                for number, row in enumerate(frame.itertuples(index=False, name=None), start=1):
                    for position, value in enumerate(row):
                        value = _cell(value)
                        if value is None:
                            continue
                        if dates[position] and isinstance(value, dt.date):
                            sheet.write_datetime(number, position, value, formats["yyyy-mm-dd"])
                        elif isinstance(value, str):
                            sheet.write_string(number, position, value)
                        else:
                            sheet.write(number, position, value)
                if frame.shape[1]:
                    sheet.autofilter(0, 0, len(frame), frame.shape[1] - 1)
    finally:
        workbook.close()
    return sheets
