"""tables.xlsx: every table of the pack, one formatted sheet each (number formats, frozen header, widths)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import pandas as pd

from collections_mi.metrics.result import SectionResult
from collections_mi.presentation.format import column_kind

FORMATS = {"money": "#,##0.00;(#,##0.00)", "percent": "0.00", "days": "0.00", "count": "#,##0",
           "rate": "0.000000"}


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


def write_excel(results: Mapping[str, SectionResult], path: Path) -> dict[str, str]:
    """Write the workbook; returns {table name: sheet name}."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    workbook.remove(workbook.active)
    used: set[str] = set()
    sheets: dict[str, str] = {}
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="F0F4F8")
    for result in results.values():
        for name, frame in result.tables.items():
            title = sheet_name(name, used)
            sheets[name] = title
            sheet = workbook.create_sheet(title)
            sheet.append([str(c) for c in frame.columns])
            for cell in sheet[1]:
                cell.font = header_font
                cell.fill = header_fill
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            for row in frame.itertuples(index=False, name=None):
                sheet.append([_cell(v) for v in row])
            sheet.freeze_panes = "A2"
            for position, column in enumerate(frame.columns, start=1):
                letter = get_column_letter(position)
                values = frame[column].head(200)
                is_date = any(isinstance(v, dt.date) for v in values)
                is_number = any(isinstance(v, (Decimal, int, float)) and not isinstance(v, bool) for v in values)
                if is_date:
                    number_format = "yyyy-mm-dd"
                elif is_number:
                    number_format = FORMATS.get(column_kind(str(column)), "General")
                else:
                    number_format = None
                if number_format:
                    for cell in sheet[letter][1:]:
                        cell.number_format = number_format
                width = max([len(str(column))] + [len(str(v)) for v in values if v is not None][:200] + [8])
                sheet.column_dimensions[letter].width = min(max(10, width * 0.9 + 2), 60)
            if frame.shape[1]:
                sheet.auto_filter.ref = sheet.dimensions
    workbook.save(path)
    return sheets
