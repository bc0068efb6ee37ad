"""tables.xlsx: every table of the pack for a finance reader — a contents sheet first (title, as-of date, units, one
line per sheet with a link), the KPIs with their names and units, then one sheet per table with a readable name and
headers, numbers in Excel formats (whole numbers without decimals, percentages as Excel percentages, money rounded
to the minor unit), widths from the displayed values, a frozen header and a filter.

The workbook is for reading and filtering; the exact values stay in tables/*.csv and kpis.json, which this module
never touches. Text from the data (customer names, borrowers) is always written as text: a name starting with
``=``, ``+``, ``-`` or ``@`` never becomes a formula.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter
import xlsxwriter.workbook
from xlsxwriter.utility import _preserve_whitespace, _utf16_len, _utf16_truncate, xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from collections_mi.config.params import Params
from collections_mi.core.contract import minor_unit_digits
from collections_mi.core.interrupts import raise_if_stopped
from collections_mi.core.money import round_money
from collections_mi.metrics.result import FirstRows, SectionResult, SectionTables
from collections_mi.metrics.sections import SECTIONS
from collections_mi.presentation.format import brand, column_kind, is_missing
from collections_mi.presentation.labels import (
    ENUM_COLUMNS,
    kpi_label,
    kpi_unit,
    sheet_column_label,
    table_label,
    value_label,
)
from collections_mi.store.history import HeldTable, TablesAtRest, held_table, python_values
from collections_mi.store.results import write_joined

CONTENTS = "Contents"
KPI_SHEET = "KPIs"
#: the number format of each kind of column (money's depends on the currency's minor unit: :func:`money_format`)
FORMATS = {
    "count": "#,##0",
    "days": "#,##0.0",
    "percent": "0.0%",
    "fraction": "0.00%",
    "fx": "0.000000",
    "points": "0.0",
    "statistic": "0.000",
    "p_value": "0.0000",
    "date": "yyyy-mm-dd",
    "month": "mmm yyyy",
}
#: statistics of the champion/challenger test: not money, not days
STATISTICS = {
    "ci_low": "points",
    "ci_high": "points",
    "cohens_d": "statistic",
    "t_statistic": "statistic",
    "p_value": "p_value",
}
#: date columns that always hold the first day of a month: shown as "Oct 2026"
MONTH_COLUMNS = {"month", "cohort"}
#: characters Excel refuses in a sheet name
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
#: widths (characters) of a column: at least, at most, and what a date needs
_MIN_WIDTH, _MAX_WIDTH, _DATE_WIDTH = 6, 60, 10
#: rows sampled for a column's kind and width (a per-customer table of a large book has 100k rows)
_SAMPLE = 500
#: the rows a sheet holds under its header (Excel's 1,048,576 rows, less the header); a longer table's sheet holds
#: its first rows and says so on the contents sheet — every row is in tables/<name>.csv
SHEET_ROWS = 1_048_575


def money_format(currency: str) -> str:
    """``#,##0.00;(#,##0.00)`` for a currency with cents, ``#,##0;(#,##0)`` for one without (JPY)."""
    digits = minor_unit_digits(currency)
    number = "#,##0" + ("." + "0" * digits if digits else "")
    return f"{number};({number})"


def sheet_name(name: str, used: set[str]) -> str:
    """A valid, unique Excel sheet name for ``name``: without ``[]:*?/\\``, not starting or ending with an
    apostrophe, at most 31 characters; unique ignoring case (as Excel compares them). ``used`` holds the names
    taken so far, folded to lower case, and gets this one."""
    base = _SHEET_FORBIDDEN.sub(" ", name).strip().strip("'").strip()[:31].rstrip() or "Sheet"
    candidate, number = base, 2
    while candidate.casefold() in used:
        suffix = f" ({number})"
        candidate = base[: 31 - len(suffix)].rstrip() + suffix
        number += 1
    used.add(candidate.casefold())
    return candidate


def _plain(value: Any) -> Any:
    """A numpy/pandas scalar as its Python value; missing values as None."""
    if is_missing(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (dt.date, str, Decimal)):
        return value.item()
    return value


def _first_present(values: list[Any], count: int) -> list[Any]:
    """The first ``count`` values that are not missing, as Python values (:func:`_plain`)."""
    found = []
    for value in values:
        plain = _plain(value)
        if plain is not None:
            found.append(plain)
            if len(found) == count:
                break
    return found


def _is_number(value: Any) -> bool:
    return isinstance(value, (Decimal, int, float)) and not isinstance(value, bool)


def _integral(value: Any) -> bool:
    return isinstance(value, int) or (_is_number(value) and math.isfinite(float(value)) and value == int(value))


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is written: its header, its kind (count, days, percent, money, own_money, date, text…), its
    number format and the position of the row's currency for money in the item's own currency."""

    header: str
    kind: str
    number_format: str | None
    currency_at: int | None = None


def _own_currency(column: str, columns: list[str]) -> bool:
    """Whether money ``column`` is in each row's own currency (the table has a ``currency`` column): the original
    amount of a currency row, and an item's amounts beside their ``…_reporting`` conversion."""
    if "currency" not in columns:
        return False
    return (
        column == "amount_original"
        or f"{column}_reporting" in columns
        or ("invoice_id" in columns and not column.endswith("_reporting"))
    )


@dataclass(frozen=True)
class SheetColumn:
    """A column of a table written to a sheet: Arrow as the pack holds it at rest, with its exact kind
    (:func:`~collections_mi.store.history.column_kind`: decimal — money as exact text —, int, float, bool, date,
    str), or its Python values (``kind`` None)."""

    name: str
    kind: str | None
    values: pa.Array | list[Any]

    def __len__(self) -> int:
        return len(self.values)

    def part(self, start: int, stop: int) -> SheetColumn:
        """Rows ``start`` … ``stop`` - 1."""
        if self.kind is None:
            return SheetColumn(self.name, None, self.values[start:stop])
        assert isinstance(self.values, pa.Array)
        return SheetColumn(self.name, self.kind, self.values.slice(start, stop - start))

    def python(self) -> list[Any]:
        """The values as Python values (money as Decimal)."""
        if self.kind is None:
            assert isinstance(self.values, list)
            return self.values
        return python_values(self.values, self.kind)

    def sample(self, count: int) -> list[Any]:
        """The first ``count`` values that are not missing, as Python values (:func:`_plain`)."""
        if self.kind is None:
            return _first_present(self.python(), count)
        assert isinstance(self.values, pa.Array)
        return python_values(self.values.drop_null().slice(0, count), self.kind)

    def all_whole(self) -> bool:
        """Whether every value present is a whole number."""
        if self.kind == "int":
            return True
        if self.kind == "decimal":  # exact text without trailing zeros: a whole number has no point
            assert isinstance(self.values, pa.Array)
            return bool(pc.all(pc.match_substring_regex(self.values, r"^-?\d+$")).as_py() is not False)
        return all(_integral(v) for v in (_plain(v) for v in self.python()) if v is not None)


def plan_column(column: SheetColumn, columns: list[str], currency: str) -> ColumnPlan:
    """The kind, header and format of ``column`` (one of the table's ``columns``), judged from its name and its
    values."""
    label = sheet_column_label(column.name)
    sample = column.sample(_SAMPLE)
    if sample and all(isinstance(v, bool) for v in sample):
        return ColumnPlan(label, "yes_no", None)
    if sample and all(isinstance(v, (dt.date, dt.datetime)) for v in sample):
        kind = "month" if column.name in MONTH_COLUMNS else "date"
        return ColumnPlan(label, kind, FORMATS[kind])
    numbers = sample and all(_is_number(v) for v in sample)
    if not numbers:
        return ColumnPlan(label, "text", None)
    name = column.name
    name_kind = column_kind(name)
    if name in STATISTICS:
        kind = STATISTICS[name]
    elif name_kind == "percent" or name.endswith(" %"):
        kind = "percent"
    elif name_kind == "rate":
        kind = "fx" if name == "rate" else "fraction"
    elif all(isinstance(v, int) for v in sample):
        kind = "count"  # money is Decimal: an int column is a count (items, loans, months, days past due)
    elif name_kind in ("count", "days") or "days" in name or name.startswith("dso"):
        kind = "count" if column.all_whole() else "days"
    else:
        own = _own_currency(name, columns)
        header = f"{label} (own currency)" if own else label
        where = columns.index("currency") if own else None
        return ColumnPlan(header, "own_money" if own else "money", money_format(currency), where)
    if kind in ("percent", "fraction") and "%" not in label:
        label = f"{label} (%)"
    return ColumnPlan(label, kind, FORMATS[kind])


def cell_value(plan: ColumnPlan, column: str, value: Any, row_currency: str) -> Any:
    """What the workbook stores for ``value``: a number as the format expects it (a percentage as a fraction,
    money rounded to the minor unit — a Decimal, written as its exact text: :func:`rounded_money`), a date as a
    date, an enum by its label, text as text."""
    value = _plain(value)
    if value is None:
        return None
    kind = plan.kind
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, str):
        return value_label(column, value)
    if kind in ("date", "month") and isinstance(value, dt.date):
        return value if isinstance(value, dt.datetime) else dt.datetime(value.year, value.month, value.day)
    if not _is_number(value):
        return str(value)
    exact = value if isinstance(value, Decimal) else Decimal(str(value))
    if kind == "percent":
        return float(exact / 100)
    if kind in ("money", "own_money"):
        return rounded_money(exact, row_currency) if exact.is_finite() else float(exact)
    if kind == "count" and _integral(value):
        return int(value)
    return float(value)


def rounded_money(value: Decimal, currency: str) -> Decimal:
    """``value`` rounded half-up to ``currency``'s minor unit, a zero without its sign: the money a cell holds,
    written as its exact text (``1234.50``), which Excel reads as the double nearest to it."""
    rounded = round_money(value, currency)
    return rounded if rounded else abs(rounded)


def column_cells(
    plan: ColumnPlan, column: str, values: list[Any], currency: str, row_currencies: list[Any] | None = None
) -> list[Any]:
    """:func:`cell_value` of each of a column's ``values`` (``row_currencies``: the rows' ``currency`` for money in
    each row's own currency, else all in ``currency``), with money — most of a large table's cells — rounded
    without the per-cell checks when it is a finite Decimal."""
    currencies = (
        [row if isinstance(row, str) else currency for row in row_currencies]
        if row_currencies is not None
        else [currency] * len(values)
    )
    if plan.kind in ("money", "own_money"):
        return [
            rounded_money(value, row_currency)
            if type(value) is Decimal and value.is_finite()
            else cell_value(plan, column, value, row_currency)
            for value, row_currency in zip(values, currencies)
        ]
    # the common types of the other kinds without the per-cell checks: the same cells as cell_value
    if plan.kind == "text":
        labels: dict[str, str] = {}
        return [
            None
            if value is None
            else (labels[value] if value in labels else labels.setdefault(value, value_label(column, value)))
            if type(value) is str
            else float(value)  # a number among texts (the forecast's weeks beside "not forecast"), as cell_value
            if type(value) is int
            else cell_value(plan, column, value, row_currency)
            for value, row_currency in zip(values, currencies)
        ]
    if plan.kind == "count":
        return [
            value if type(value) is int else cell_value(plan, column, value, row_currency)
            for value, row_currency in zip(values, currencies)
        ]
    if plan.kind in ("date", "month"):
        return [
            dt.datetime(value.year, value.month, value.day)
            if type(value) is dt.date
            else cell_value(plan, column, value, row_currency)
            for value, row_currency in zip(values, currencies)
        ]
    if plan.kind in _PLAIN_NUMBER_KINDS:  # days, rates, statistics: the float of a finite Decimal
        return [
            float(value)
            if type(value) is Decimal and value.is_finite()
            else None
            if value is None
            else cell_value(plan, column, value, row_currency)
            for value, row_currency in zip(values, currencies)
        ]
    if plan.kind == "percent":  # stored as a fraction of one (Excel's 0.0% format)
        return [
            float(value / 100)
            if type(value) is Decimal and value.is_finite()
            else None
            if value is None
            else cell_value(plan, column, value, row_currency)
            for value, row_currency in zip(values, currencies)
        ]
    if plan.kind == "yes_no":
        return [
            ("Yes" if value else "No") if type(value) is bool else cell_value(plan, column, value, row_currency)
            for value, row_currency in zip(values, currencies)
        ]
    return [cell_value(plan, column, value, row_currency) for value, row_currency in zip(values, currencies)]


#: the kinds whose cells are the number itself, as a float (:func:`cell_value`'s last line)
_PLAIN_NUMBER_KINDS = frozenset({"days", "fraction", "fx", "points", "statistic", "p_value"})


def shown_width(plan: ColumnPlan, value: Any) -> int:
    """How many characters ``value`` (as :func:`cell_value` stores it) takes once Excel formats it."""
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    if plan.kind == "date":
        return _DATE_WIDTH
    if plan.kind == "month":
        return 8
    if isinstance(value, dt.date):
        return _DATE_WIDTH
    number = float(value)
    texts: dict[str, Callable[[float], str]] = {
        "count": lambda v: f"{v:,.0f}",
        "days": lambda v: f"{v:,.1f}",
        "percent": lambda v: f"{v * 100:.1f}%",
        "fraction": lambda v: f"{v * 100:.2f}%",
        "fx": lambda v: f"{v:.6f}",
        "points": lambda v: f"{v:.1f}",
        "statistic": lambda v: f"{v:.3f}",
        "p_value": lambda v: f"{v:.4f}",
    }
    text = texts.get(plan.kind, lambda v: f"{abs(v):,.2f}" + ("()" if v < 0 else ""))(number)
    return len(text)


def column_width(header: str, widths: Iterable[int]) -> float:
    """A column as wide as its widest shown value, at least as wide as the header's longest word (the header
    wraps), within bounds."""
    longest_word = max((len(word) for word in header.split()), default=0)
    return float(min(max([_MIN_WIDTH, longest_word, min(len(header), 14), *widths]) + 2, _MAX_WIDTH))


def customer_names(tables: Iterable[HeldTable]) -> dict[str, str]:
    """customer id → name, from every table that lists both."""
    names: dict[str, str] = {}
    for table in tables:
        columns = {column.name: column for column in sheet_columns(table, {})}
        if "customer_id" in columns and "name" in columns:
            for customer, name in zip(columns["customer_id"].python(), columns["name"].python()):
                if not is_missing(name):
                    names.setdefault(str(customer), str(name))
    return names


@dataclass(frozen=True)
class _Sheet:
    table: str
    title: str
    description: str
    rows: int
    #: the table's columns, got when its sheet is written (a pack holds its tables at rest, not as frames)
    held: Callable[[], HeldTable]


class _Styles:
    """The workbook's formats, made once."""

    def __init__(self, workbook: xlsxwriter.Workbook, currency: str) -> None:
        self.workbook = workbook
        self.header = workbook.add_format({"bold": True, "bg_color": "#F0F4F8", "text_wrap": True, "valign": "top"})
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.bold = workbook.add_format({"bold": True})
        self.link = workbook.add_format({"font_color": "#1565C0", "underline": 1})
        self.wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        self.money = money_format(currency)
        self._numbers: dict[str, Any] = {}

    def number(self, number_format: str | None) -> Any:
        if number_format is None:
            return None
        if number_format not in self._numbers:
            self._numbers[number_format] = self.workbook.add_format({"num_format": number_format})
        return self._numbers[number_format]


def _period_text(as_of: dt.date) -> str:
    """ "October 2026"."""
    return f"{as_of:%B} {as_of.year}"


def _described(line: _Sheet) -> str:
    """A sheet's line on the contents sheet: what it shows, and that it holds only the first rows of a table longer
    than a sheet."""
    if line.rows <= SHEET_ROWS:
        return line.description
    return (
        f"{line.description} Excel holds only the first {SHEET_ROWS:,} of its {line.rows:,} rows: every row is "
        f"in tables/{line.table}.csv."
    )


def write_contents(sheet: Worksheet, styles: _Styles, params: Params | None, lines: list[_Sheet]) -> None:
    """The first sheet: the pack's title, as-of date and units, then one line per sheet with a link to it."""
    currency = params.reporting_currency if params else "USD"
    if params is not None:
        sheet.write_string(0, 0, brand(params.report.company, _period_text(params.as_of)), styles.title)
        sheet.write_string(1, 0, f"As of {params.as_of.day} {_period_text(params.as_of)} ({params.as_of.isoformat()})")
    else:
        sheet.write_string(0, 0, "Collections MI", styles.title)
    digits = minor_unit_digits(currency)
    unit = "the cent" if digits == 2 else f"{digits} decimals" if digits else "whole units"
    notes = [
        f'Money is in {currency} (the reporting currency), rounded to {unit}; a header saying "own currency" is '
        "in each row's currency. The exact values are in tables/*.csv and kpis.json.",
        "Percentages are Excel percentages: 85.0% is stored as 0.85 (format 0.0%). Counts and whole days have no "
        "decimals; other days one decimal.",
    ]
    for offset, note in enumerate(notes):
        sheet.write_string(2 + offset, 0, note)
    first = 2 + len(notes) + 1
    sheet.write_row(first, 0, ["Sheet", "What it shows", "Rows", "CSV file"], styles.header)
    for number, line in enumerate(lines, start=first + 1):
        target = line.title.replace("'", "''")
        sheet.write_url(number, 0, f"internal:'{target}'!A1", styles.link, string=line.title)
        sheet.write_string(number, 1, _described(line))
        sheet.write_number(number, 2, line.rows, styles.number(FORMATS["count"]))
        sheet.write_string(number, 3, f"tables/{line.table}.csv" if line.table else "kpis.json")
    width = max([len(line.title) for line in lines] + [12])
    sheet.set_column(0, 0, width + 2)
    sheet.set_column(1, 1, min(max([len(_described(line)) for line in lines] + [20]) + 2, 100))
    sheet.set_column(2, 2, 8)
    sheet.set_column(3, 3, max([len(line.table) for line in lines] + [10]) + 14)


def kpi_frame(results: Mapping[str, SectionResult[Any, Any]]) -> pd.DataFrame:
    """Every KPI of kpis.json, in its order: section, name, value, unit and id — and those the ledger could not give
    for another reason than a table or column it does not have (e.g. nothing to divide by: "Not available"); a KPI
    that needs optional data the ledger lacks (disputes without a disputes table) is left out, as kpis.json does."""
    rows = []
    for name, section in SECTIONS.items():
        if name not in results:
            continue
        kpis = results[name].kpis
        declared = kpis.declared()
        for kpi in kpis.ids():
            if kpis.value(kpi) is None and declared[kpi].needs:
                continue
            rows.append({"section": section.title, "kpi": kpi, "value": results[name].kpis.value(kpi), "kpi_id": kpi})
    return pd.DataFrame(rows, columns=["section", "kpi", "value", "kpi_id"])


def _kpi_unit(kpi: str, currency: str) -> tuple[str, str]:
    """(unit shown, cell format kind) of a KPI, from its unit in :data:`labels.KPI_UNITS`."""
    unit = kpi_unit(kpi)
    if unit == "money":
        return currency, "money"
    if unit == "percent":
        return "%", "percent"
    if unit == "index":
        return "points (0–10,000)", "count"
    return unit, unit  # days, count


def write_kpis(sheet: Worksheet, styles: _Styles, frame: pd.DataFrame, currency: str) -> None:
    """The KPI sheet: each KPI's section, name, value in its unit's format, unit and kpis.json id."""
    sheet.write_row(0, 0, ["Section", "KPI", "Value", "Unit", "KPI id (kpis.json)"], styles.header)
    widths = [7, 3, 5, 4, 18]
    for number, (section, kpi, value) in enumerate(zip(frame["section"], frame["kpi"], frame["value"]), start=1):
        unit, kind = _kpi_unit(kpi, currency)
        label = kpi_label(kpi)
        sheet.write_string(number, 0, section)
        sheet.write_string(number, 1, label)
        plan = ColumnPlan("Value", kind, styles.money if kind == "money" else FORMATS[kind])
        stored = cell_value(plan, "value", value, currency)
        if stored is None:
            sheet.write_string(number, 2, "Not available")
        else:
            sheet.write_number(number, 2, stored, styles.number(plan.number_format))
        sheet.write_string(number, 3, unit)
        sheet.write_string(number, 4, kpi)
        shown = [len(section), len(label), shown_width(plan, stored), len(unit), len(kpi)]
        widths = [max(w, s) for w, s in zip(widths, shown)]
    for position, width in enumerate(widths):
        sheet.set_column(position, position, min(width + 2, _MAX_WIDTH))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(frame), 4)


#: what makes a text need more than copying into the XML: a character to escape (XML's, a control character, the
#: start of an ``_xHHHH_`` escape, a non-character), or a blank to preserve at either end (:func:`_text_cell`)
_NOT_PLAIN = re.compile(r'[\x00-\x1f&<>"_\ufffe\uffff]|^\s|\s$')
#: texts Arrow may copy into the XML as they are: printable ASCII without XML's special characters or ``_``, no
#: blank at either end (a narrower test than :data:`_NOT_PLAIN`: any other text is written by :func:`_text_cell`)
_ARROW_PLAIN = r"^[!#-%\'-;=?-^`-~]([ !#-%\'-;=?-^`-~]*[!#-%\'-;=?-^`-~])?$"
#: texts longer than this are written by :func:`_text_cell` (XlsxWriter cuts a text at 32,767 UTF-16 units)
_LONGEST_PLAIN = 10_000
#: money text :func:`_money_texts` rounds in Arrow: at most 13 digits before the point (its scaled integer fits
#: in 64 bits with up to 4 minor digits and the digit that decides the rounding)
_PLAIN_MONEY = r"^-?\d{1,13}(\.\d*)?$"
#: a decimal's exact text in plain notation (core.values.decimal_text), as :func:`_percent_cells` reads it
_PLAIN_DECIMAL = r"^-?\d+(\.\d+)?$"
#: the digits of the default decimal context, to which Python's ``value / 100`` is rounded
_QUOTIENT_DIGITS = 28
#: whole numbers Arrow spells as Python's ``%.16G`` does (it switches to an exponent at 10^16)
_PLAIN_WHOLE = 10**15
#: the first day a date's Excel serial is its days since 1899-12-30 (Excel counts a 29 February 1900)
_FIRST_PLAIN_DATE = dt.date(1900, 3, 1)
_EXCEL_EPOCH_DAYS = (dt.date(1970, 1, 1) - dt.date(1899, 12, 30)).days


def _join(*parts: Any) -> pa.Array:
    """The texts of ``parts`` (arrays and texts) joined row by row; a row with a missing part is missing."""
    return pc.binary_join_element_wise(*parts, "")


def _first(flags: pa.Array) -> int | None:
    """The first position where ``flags`` is true (a missing flag is false)."""
    found = np.flatnonzero(flags.fill_null(False).to_numpy(zero_copy_only=False))
    return int(found[0]) if len(found) else None


def _first_present_row(values: pa.Array) -> int | None:
    return _first(pc.is_valid(values))


@dataclass(frozen=True)
class Cells:
    """One column's cells in a block of rows, before the styles of its cells are known (XlsxWriter numbers a
    format when a cell first uses it: :func:`_first_uses`)."""

    rows: int
    #: the first row (0-based in the block) whose cell uses the column's number format, and the first wrapped text
    first_number: int | None
    first_wrapped: int | None
    #: each row's ``<c>`` element ("" for none) from the column's letter, the block's row numbers (text), the
    #: ` s="…"` of the column's number format and that of a wrapped text
    xml: Callable[[str, pa.Array, str, str], pa.Array]


def _text_cell(sheet: Worksheet, ref: str, value: str, wrap: str) -> str:
    """A text cell as XlsxWriter's ``write_string`` writes it (inline, escaped, blanks preserved, wrapped when
    longer than the widest column)."""
    if len(value) > sheet.xls_strmax // 2 and _utf16_len(value) > sheet.xls_strmax:
        value = _utf16_truncate(value, sheet.xls_strmax)
    style = wrap if len(value) > _MAX_WIDTH else ""
    value = sheet._escape_control_characters(value)
    preserve = ' xml:space="preserve"' if _preserve_whitespace(value) else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{preserve}>{sheet._escape_data(value)}</t></is></c>'


def stored_cells(sheet: Worksheet, values: list[Any]) -> Cells:
    """:class:`Cells` of values as :func:`column_cells` stores them, each written by Python — byte for byte what
    XlsxWriter's ``write_number``/``write_string``/``write_datetime`` put in a constant-memory worksheet (money, a
    Decimal, as its exact text) — except that a text looking like XlsxWriter's rich-string markup (``<r>…</r>``) is
    escaped like any other text instead of being copied into the XML as it is (a customer named ``<r>&</r>`` made
    the workbook unreadable)."""
    first_number = next((row for row, v in enumerate(values) if v is not None and not isinstance(v, str)), None)
    first_wrapped = next((row for row, v in enumerate(values) if isinstance(v, str) and len(v) > _MAX_WIDTH), None)
    serials: dict[dt.datetime, float] = {}

    def other(ref: str, style: str, wrap: str, value: Any) -> str:
        if isinstance(value, str):
            return _text_cell(sheet, ref, value, wrap)
        if isinstance(value, Decimal):  # money, rounded: its exact text
            return f'<c r="{ref}"{style}><v>{value:f}</v></c>'
        if isinstance(value, dt.datetime):
            if value not in serials:
                serials[value] = sheet._convert_date_time(value)
            value = serials[value]
        elif isinstance(value, float) and not math.isfinite(value):
            raise TypeError("NAN/INF not supported in write_number() without 'nan_inf_to_errors' Workbook() option")
        return f'<c r="{ref}"{style}><v>{value:.16G}</v></c>'

    def xml(letter: str, rows: pa.Array, style: str, wrap: str) -> pa.Array:
        return pa.array(
            [
                ""
                if value is None
                else f'<c r="{letter}{row}"{style}><v>{value:.16G}</v></c>'
                if type(value) is float and math.isfinite(value)
                else f'<c r="{letter}{row}" t="inlineStr"><is><t>{value}</t></is></c>'
                if type(value) is str and len(value) <= _MAX_WIDTH and not _NOT_PLAIN.search(value)
                else other(f"{letter}{row}", style, wrap, value)
                for row, value in zip(rows.to_pylist(), values)
            ],
            pa.string(),
        )

    return Cells(len(values), first_number, first_wrapped, xml)


def _number_cells(texts: pa.Array) -> Cells:
    """Numbers or dates already spelled (``texts``, missing where there is no cell), in the column's format."""

    def xml(letter: str, rows: pa.Array, style: str, wrap: str) -> pa.Array:
        return _join(f'<c r="{letter}', rows, f'"{style}><v>', texts, "</v></c>").fill_null("")

    return Cells(len(texts), _first_present_row(texts), None, xml)


def _unrounded_money(digits: int) -> str:
    """Money text :func:`_money_texts` need not round: at most ``digits`` decimals, no leading zero, at most 13
    digits before the point (a subset of :data:`_PLAIN_MONEY`)."""
    return r"^-?(0|[1-9]\d{0,12})" + (rf"(\.\d{{1,{digits}}})?$" if digits else "$")


def _money_texts(texts: pa.Array, digits: int) -> pa.Array | None:
    """Money's exact texts rounded half-up to ``digits`` decimals, as :func:`rounded_money` spells them
    (``1234.50``, a zero without a sign), computed in Arrow; None if a text is not a plain decimal of at most 13
    digits before the point (then Python rounds the column). The rounding reads the first ``digits`` + 1 decimals:
    half-up is decided by that digit alone, away from zero. A column whose every text has at most ``digits``
    decimals (most do: sums of amounts to the cent, held without trailing zeros) needs no rounding: its decimals
    are only padded with zeros, and a negative zero loses its sign."""
    if pc.all(pc.match_substring_regex(texts, _unrounded_money(digits))).as_py() in (True, None):
        unsigned = pc.if_else(pc.match_substring_regex(texts, r"^-0(\.0*)?$"), pc.utf8_ltrim(texts, "-"), texts)
        if not digits:
            return unsigned
        parts = pc.extract_regex(unsigned, r"^(?P<whole>-?\d+)\.?(?P<fraction>\d*)$")
        return _join(
            pc.struct_field(parts, "whole"), ".", pc.utf8_rpad(pc.struct_field(parts, "fraction"), digits, "0")
        )
    if pc.all(pc.match_substring_regex(texts, _PLAIN_MONEY)).as_py() not in (True, None):
        return None
    negative = pc.starts_with(texts, "-")
    parts = pc.extract_regex(pc.utf8_ltrim(texts, "-"), r"^(?P<whole>\d+)\.?(?P<fraction>\d*)$")
    kept = pc.utf8_slice_codeunits(pc.utf8_rpad(pc.struct_field(parts, "fraction"), digits + 1, "0"), 0, digits + 1)
    scaled = pc.cast(_join(pc.struct_field(parts, "whole"), kept), pa.int64())  # magnitude × 10^(digits + 1)
    rounded = pc.divide(pc.add(scaled, 5), 10)
    spelled = pc.utf8_lpad(pc.cast(rounded, pa.string()), digits + 1, "0")
    if digits:
        spelled = _join(pc.utf8_slice_codeunits(spelled, 0, -digits), ".", pc.utf8_slice_codeunits(spelled, -digits))
    sign = pc.if_else(pc.and_(negative, pc.not_equal(rounded, 0)), "-", "")
    return _join(sign, spelled)


def _text_cells(sheet: Worksheet, column: str, texts: pa.Array) -> Cells:
    """Text cells (an enum by its label): a plain text (:data:`_ARROW_PLAIN`) joined into its cell in Arrow, any
    other written by :func:`_text_cell`."""
    if column in ENUM_COLUMNS:
        encoded = texts.dictionary_encode()
        labels = [value_label(column, v) for v in encoded.dictionary.to_pylist()]
        texts = pa.array(labels, pa.string()).take(encoded.indices)
    lengths = pc.utf8_length(texts)
    wrapped = pc.greater(lengths, _MAX_WIDTH)
    first_wrapped = _first(wrapped)
    plain = pc.and_(pc.match_substring_regex(texts, _ARROW_PLAIN), pc.less_equal(lengths, _LONGEST_PLAIN))
    written_by_python = pc.invert(plain).fill_null(False)
    others = np.flatnonzero(written_by_python.to_numpy(zero_copy_only=False))

    def xml(letter: str, rows: pa.Array, style: str, wrap: str) -> pa.Array:
        styles = pc.if_else(wrapped, wrap, "")
        cells = _join(f'<c r="{letter}', rows, '"', styles, ' t="inlineStr"><is><t>', texts, "</t></is></c>")
        cells = cells.fill_null("")
        if len(others) == 0:
            return cells
        refs, values = rows.take(others).to_pylist(), texts.take(others).to_pylist()
        written = [_text_cell(sheet, f"{letter}{row}", value, wrap) for row, value in zip(refs, values)]
        return pc.replace_with_mask(cells, written_by_python, pa.array(written, pa.string()))

    return Cells(len(texts), None, first_wrapped, xml)


def _arrow_cells(sheet: Worksheet, plan: ColumnPlan, column: SheetColumn, digits: int | None) -> Cells | None:
    """A column held as Arrow written in Arrow — money of one minor unit (``digits``), counts, text, dates and
    yes/no, most of a large table's cells; days, rates and statistics (:func:`_float_cells`) — or None (then Python
    writes it: :func:`stored_cells`)."""
    values = column.values
    if not isinstance(values, pa.Array):
        return None
    kind = plan.kind
    if kind in ("money", "own_money") and column.kind == "decimal" and digits is not None:
        texts = _money_texts(values, digits)
        return None if texts is None else _number_cells(texts)
    if kind == "count" and column.kind == "int":
        if (pc.max(pc.abs(values)).as_py() or 0) >= _PLAIN_WHOLE:
            return None
        return _number_cells(pc.cast(values, pa.string()))
    if kind in _PLAIN_NUMBER_KINDS and column.kind in ("decimal", "float"):
        return _float_cells(values, column.kind)
    if kind == "percent" and column.kind == "decimal":
        return _percent_cells(values)
    if kind in ("date", "month") and column.kind == "date":
        earliest = pc.min(values).as_py()
        if earliest is not None and earliest < _FIRST_PLAIN_DATE:
            return None
        serials = pc.add(pc.cast(pc.cast(values, pa.int32()), pa.int64()), _EXCEL_EPOCH_DAYS)
        return _number_cells(pc.cast(serials, pa.string()))
    if kind == "yes_no" and column.kind == "bool":
        return _text_cells(sheet, column.name, pc.if_else(values, "Yes", "No"))
    if kind == "text" and column.kind == "str":
        return _text_cells(sheet, column.name, values)
    return None


def _float_cells(values: pa.Array, kind: str) -> Cells | None:
    """Days, rates and statistics (exact decimal text, or floats) as the double nearest each value — Arrow's
    parsing is correctly rounded, as ``float(Decimal(text))`` is — spelled as the shortest text that reads back as
    that double (``45.333333333333336``, ``1e-7``), where Python spells ``%.16G``, which may not read back the same;
    None if a value is not finite (Python then raises, as XlsxWriter does)."""
    try:
        numbers = values if kind == "float" else pc.cast(values, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if pc.all(pc.is_finite(numbers)).as_py() is False:
        return None
    return _number_cells(pc.cast(numbers, pa.string()))


def _percent_cells(texts: pa.Array) -> Cells | None:
    """Percentages (exact decimal text) as fractions of one (Excel's 0.0% format): each cell the double nearest
    value / 100 — the text read with its point moved two places (``85.1e-2``), which Arrow's correctly rounded parsing
    turns into the double :func:`cell_value` stores (``float(value / 100)``, exact at 28 digits) — spelled as
    :func:`_float_cells` spells it; None if a text is not plain decimal notation or has more than 28 significant
    digits (then Python's quotient is rounded to 28 digits first: it writes the column)."""
    if pc.all(pc.match_substring_regex(texts, _PLAIN_DECIMAL)).as_py() is False:
        return None
    digits = pc.utf8_length(pc.utf8_ltrim(pc.replace_substring(pc.utf8_ltrim(texts, "-"), ".", ""), "0"))
    if (pc.max(digits).as_py() or 0) > _QUOTIENT_DIGITS:
        return None
    return _float_cells(_join(texts, "e-2"), "decimal")


def _minor_digits(plan: ColumnPlan, currency: str, row_currencies: SheetColumn | None) -> int | None:
    """The minor-unit digits every money cell of a block rounds to; None if its rows' currencies differ in them."""
    if plan.currency_at is None or row_currencies is None:
        return minor_unit_digits(currency)
    values = row_currencies.values
    found = set(values.unique().to_pylist() if isinstance(values, pa.Array) else values)
    digits = {minor_unit_digits(c if isinstance(c, str) else currency) for c in found}
    return digits.pop() if len(digits) == 1 else None


def _first_uses(formats: list[Any], wrap: Any, columns: list[Cells]) -> dict[int, int]:
    """Each format (by ``id``) → its XlsxWriter number: those numbered by an earlier sheet, and those the rows use
    first, numbered here in the order XlsxWriter would first meet them writing row by row (it numbers a format the
    first time a cell uses it, so the styles and each cell's ``s="…"`` stay those it writes itself)."""
    firsts = []
    for position, cells in enumerate(columns):
        fmt = formats[position]
        if fmt is not None and fmt.xf_index is None and cells.first_number is not None:
            firsts.append((cells.first_number, position, fmt))
        if wrap.xf_index is None and cells.first_wrapped is not None:
            firsts.append((cells.first_wrapped, position, wrap))
    numbered = {id(fmt): fmt._get_xf_index() for _, _, fmt in sorted(firsts, key=lambda first: first[:2])}
    return {
        id(fmt): fmt.xf_index for fmt in (*formats, wrap) if fmt is not None and fmt.xf_index is not None
    } | numbered


#: rows converted and turned into XML at a time (bounds the memory of a 1M-row sheet: its cells are never all in memory)
_ROWS_AT_A_TIME = 20_000


def write_rows(
    sheet: Worksheet, styles: _Styles, formats: list[Any], blocks: Iterable[list[Cells | list[Any]]]
) -> None:
    """Write the data rows straight into the constant-memory worksheet's row file — XlsxWriter's per-cell calls were
    two thirds of a large workbook's time — and move its dimensions and current row past them as its own writes
    would. ``blocks``: consecutive blocks of rows from row 1 under the header, each as its columns' :class:`Cells`
    (or their values as :func:`column_cells` stores them); ``formats``: each column's number format. A text longer
    than the widest column (60 characters) is wrapped. A row without any cell is left out, as XlsxWriter leaves it
    out. The XML is the same however the rows are split into blocks."""
    first, last = 1, None
    for block in blocks:
        columns = [c if isinstance(c, Cells) else stored_cells(sheet, c) for c in block]
        rows = columns[0].rows if columns else 0
        if rows == 0:
            continue
        if first == 1:  # the header row goes out first; XlsxWriter's current row is now past ours
            sheet._write_single_row(SHEET_ROWS + 1)
        used = _first_uses(formats, styles.wrap, columns)
        attributes = [f' s="{used[id(fmt)]}"' if id(fmt) in used else "" for fmt in formats]
        wrap = f' s="{used[id(styles.wrap)]}"' if id(styles.wrap) in used else ""
        numbers = pa.array(range(first + 1, first + 1 + rows), pa.int64()).cast(pa.string())
        bodies = _join(
            *(
                cells.xml(xl_col_to_name(position), numbers, attributes[position], wrap)
                for position, cells in enumerate(columns)
            )
        )
        filled = pc.not_equal(bodies, "")
        found = np.flatnonzero(filled.to_numpy(zero_copy_only=False))
        if len(found):
            last = first + int(found[-1])
            write_joined(sheet.fh, _join('<row r="', numbers, '">', bodies, "</row>").filter(filled))
        first += rows
    if last is not None:
        sheet._check_dimensions(last, 0, ignore_col=True)  # the dimension (A1:…) covers the last row holding a cell


def write_table(
    sheet: Worksheet,
    styles: _Styles,
    columns: list[SheetColumn],
    currency: str,
    block_rows: int = _ROWS_AT_A_TIME,
) -> None:
    """One table: readable headers, typed cells, widths from the shown values, frozen header and a filter. Its rows
    are converted and written ``block_rows`` at a time; rows past a sheet's last (SHEET_ROWS) are left out (the
    contents sheet says so). A column held as Arrow is written in Arrow where it can be (:func:`_arrow_cells`):
    the same cells Python writes (:func:`stored_cells`)."""
    names = [column.name for column in columns]
    plans = [plan_column(column, names, currency) for column in columns]
    formats = [styles.number(plan.number_format) for plan in plans]
    sheet.write_row(0, 0, [plan.header for plan in plans], styles.header)
    rows = len(columns[0]) if columns else 0
    count = min(rows, SHEET_ROWS)  # the rest is in the CSV only
    shown: list[list[int]] = [[] for _ in plans]

    def stored(plan: ColumnPlan, part: SheetColumn, currencies: SheetColumn | None) -> list[Any]:
        return column_cells(plan, part.name, part.python(), currency, currencies.python() if currencies else None)

    def blocks() -> Iterator[list[Cells | list[Any]]]:
        for start in range(0, count, block_rows):
            parts = [column.part(start, min(start + block_rows, count)) for column in columns]
            block: list[Cells | list[Any]] = []
            for plan, part in zip(plans, parts):
                currencies = parts[plan.currency_at] if plan.currency_at is not None else None
                if start == 0:  # widths from the first rows' shown values
                    first = stored(plan, part.part(0, _SAMPLE), currencies.part(0, _SAMPLE) if currencies else None)
                    shown[len(block)] = [shown_width(plan, v) for v in first if v is not None]
                cells = _arrow_cells(sheet, plan, part, _minor_digits(plan, currency, currencies))
                block.append(cells if cells is not None else stored(plan, part, currencies))
            yield block

    write_rows(sheet, styles, formats, blocks())
    for position, plan in enumerate(plans):
        sheet.set_column(position, position, column_width(plan.header, shown[position]), formats[position])
    sheet.freeze_panes(1, 0)
    if columns:
        sheet.autofilter(0, 0, min(max(rows, 1), SHEET_ROWS), len(columns) - 1)


def sheet_columns(table: HeldTable, names: Mapping[str, str]) -> list[SheetColumn]:
    """A table held at rest as the columns of its sheet; a table listing customers by id only gets their name
    beside the id (a reader knows customers by name)."""
    columns = [
        SheetColumn(str(name), kind, table.column_part(position, 0, table.rows))
        for position, (name, kind) in enumerate(zip(table.columns, table.kinds()))
    ]
    titles = [column.name for column in columns]
    if "customer_id" in titles and "name" not in titles and names:
        ids = columns[titles.index("customer_id")].python()
        shown = pa.array([names.get(str(customer)) for customer in ids], pa.string())
        columns.insert(titles.index("customer_id") + 1, SheetColumn("name", "str", shown))
    return columns


#: zlib level of the workbook's parts: 1, not XlsxWriter's (zlib's default, 6) — a 1M-invoice pack's 125 MB of
#: sheet XML compress in 0.6 s instead of 1.9 s, into 20.7 MB instead of 16.4 MB
ZIP_LEVEL = 1
_ZIP_LOCK = threading.Lock()


class _Workbook(xlsxwriter.Workbook):
    """XlsxWriter's workbook, its zip file compressed at :data:`ZIP_LEVEL`: XlsxWriter has no setting for the level,
    so its module's ``ZipFile`` is given the level while this workbook is stored (a test checks the level each
    part is compressed at: a change in XlsxWriter that undoes this fails it)."""

    def _store_workbook(self) -> None:
        with _ZIP_LOCK:
            xlsxwriter.workbook.ZipFile = partial(zipfile.ZipFile, compresslevel=ZIP_LEVEL)
            try:
                super()._store_workbook()
            finally:
                xlsxwriter.workbook.ZipFile = zipfile.ZipFile


def write_excel(
    results: Mapping[str, SectionResult[Any, Any]],
    path: Path,
    params: Params | None = None,
    at_rest: TablesAtRest | None = None,
) -> dict[str, str]:
    """Write the workbook; returns {table name: sheet name}.

    XlsxWriter in constant-memory mode streams each row to the file, so a per-customer table of a large book costs
    seconds and little memory. ``params`` gives the title (company, period), the as-of date and the reporting
    currency of the contents sheet; without them the workbook says "Collections MI" and money is in USD.
    ``at_rest``: the results' tables as the pack holds them (:class:`~collections_mi.store.history.TablesAtRest`),
    whose Arrow columns the sheets read as they are; another table is converted to them when its sheet is
    written."""
    currency = params.reporting_currency if params else "USD"
    # each table got when used, one at a time: a pack holds its tables at rest (store.history.TablesAtRest)
    heads: dict[str, tuple[Callable[[], HeldTable], FirstRows]] = {}
    for result in results.values():
        for field_name, file in result.tables.available_files().items():
            head = result.tables.first_rows(field_name, 0)
            assert isinstance(head, FirstRows)  # an available table
            heads[file] = (partial(_held, at_rest, file, result.tables, field_name), head)
    names = customer_names(
        table() for table, head in heads.values() if {"customer_id", "name"} <= set(head.frame.columns)
    )
    used = {CONTENTS.casefold(), KPI_SHEET.casefold()}
    sheets = []
    for file, (table, head) in heads.items():
        label = table_label(file)
        sheets.append(_Sheet(file, sheet_name(label.title, used), label.description, head.rows, table))
    kpis = kpi_frame(results)
    kpi_line = _Sheet(
        "", KPI_SHEET, "Every KPI of the pack (kpis.json) with its name and unit.", len(kpis), lambda: held_table(kpis)
    )
    workbook = _Workbook(
        str(path),
        {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False},
    )
    try:
        styles = _Styles(workbook, currency)
        if params is not None:
            workbook.set_properties(
                {"title": brand(params.report.company, _period_text(params.as_of)), "company": params.report.company}
            )
        write_contents(workbook.add_worksheet(CONTENTS), styles, params, [kpi_line, *sheets])
        write_kpis(workbook.add_worksheet(KPI_SHEET), styles, kpis, currency)
        for sheet in sheets:
            raise_if_stopped()  # the pack writes the workbook beside its notebooks: a stop ends it here
            columns = sheet_columns(sheet.held(), names)
            write_table(workbook.add_worksheet(sheet.title), styles, columns, currency)
    finally:
        workbook.close()
    return {sheet.table: sheet.title for sheet in sheets}


def _held(at_rest: TablesAtRest | None, file: str, tables: SectionTables, field_name: str) -> HeldTable:
    """The table ``file``: as ``at_rest`` holds it, else converted from the result's frame."""
    held = at_rest.held(file) if at_rest is not None else None
    return held if held is not None else held_table(getattr(tables, field_name))
