"""How failures name things: the columns that identify a row, and the file (or table) to fix.

This is the one place that words a failure's location. For a source read through a mapping (data-contract.md
§1.1: ``source.tables.<t>`` names its file or table, columns or values) every failure names both the contract
column and the source's own: ``invoices.amount (column 'Grand Total' of Sales Invoice.csv)``, and format problems
speak of the CSV dialect the params describe (``DD.MM.YYYY``, ``1.234,56``) rather than the contract's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Any

from collections_mi.core.contract import TABLES
from collections_mi.sources.typed_views import NOT_IN_DIALECT
from collections_mi.validation.report import ValidationFailure

#: columns that identify a row in failure samples: the key, or the natural key of tables without one
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "fx_rates": ("rate_date", "currency"),
    "gl_balances": ("period_end", "account"),
    "loans": ("as_of_date", "loan_id"),
    "loan_cash_flows": ("as_of_date", "loan_id", "flow_date"),
}

#: how the contract writes a number or a date in the suites' and checks' wording
_CONTRACT_NUMBERS = ("1234.56", "0.85")
_CONTRACT_DATE_LAYOUT = "YYYY-MM-DD"
_CONTRACT_DATE_EXAMPLE = "2026-10-31"


def row_keys(table: str) -> tuple[str, ...]:
    key = TABLES[table].key
    return (key,) if key else NATURAL_KEYS[table]


class FileNames(dict[str, str]):
    """table → what the user edits: ``invoices.csv`` for a folder of files, else ``the invoices table``; the
    source's own file or table where the params name it (``Sales Invoice.csv``, ``the SALES_INV table``).

    Used with ``str.format_map`` so hints can say ``{invoices}`` or ``{file}``.
    """

    def __init__(self, ledger: Any) -> None:
        super().__init__()
        self._files_source = str(getattr(ledger, "description", "")).startswith("files:")
        self._names: dict[str, Any] = dict(getattr(ledger, "names", None) or {})
        for table, names in self._names.items():
            if names.mapped:
                self[table] = names.where
        for source in getattr(ledger, "files", []) or []:
            if source.table != "*":
                self[source.table] = Path(source.path).name

    def for_table(self, table: str) -> FileNames:
        """A copy where ``{file}`` means ``table``'s file."""
        named = FileNames.__new__(FileNames)
        dict.__init__(named, self)
        named._files_source = self._files_source
        named._names = self._names
        named["file"] = named[table]
        return named

    def __missing__(self, table: str) -> str:
        return f"{table}.csv" if self._files_source else f"the {table} table"

    def source_of(self, table: str, column: str | None) -> str:
        """The source's own names of ``table.column`` when the params map the table, else ``""``:
        ``column 'Grand Total' of Sales Invoice.csv``; ``columns 'Posting Date', 'Due Date' of …``."""
        names = self._names.get(table)
        if names is None or not names.mapped:
            return ""
        if column is None:
            return names.where
        columns = [c.strip() for c in column.split(",")]
        found = [names.columns[c] for c in columns if c in names.columns]
        if len(found) < len(columns):
            lacking = [c for c in columns if c not in names.columns]
            return (
                f"no column {', '.join(repr(c) for c in lacking)} in {names.where}; map the export's own column "
                f"with source.tables.{table}.columns"
            )
        listed = ", ".join(repr(name) for name in found)
        return f"{'column' if len(found) == 1 else 'columns'} {listed} of {names.where}"

    def annotate(self, failure: ValidationFailure) -> ValidationFailure:
        """``failure`` naming the source's own column and file, and worded for its CSV dialect."""
        names = self._names.get(failure.table)
        if names is None:
            return failure
        source = self.source_of(failure.table, failure.column)
        dialect = names.dialect
        spec = TABLES[failure.table]
        contract = {c.name for c in spec.columns}
        columns = [c.strip() for c in (failure.column or "").split(",") if c.strip() in contract]
        types = {spec.column(c).type for c in columns}
        dates = dialect is not None and "date" in types and not dialect.iso_dates
        # a number with too many decimals is not a layout problem: no hint about the decimal separator
        numbers = (
            dialect is not None
            and bool(types & {"money", "decimal", "int"})
            and not dialect.plain_numbers
            and failure.check != "decimal_places"
        )
        translated = [c for c in columns if c in names.values]
        if translated and failure.check in ("bool_format", "allowed_values"):
            failure = dataclasses.replace(
                failure,
                hint=f"{failure.hint}; or add the export's value to "
                f"source.tables.{failure.table}.values.{translated[0]}",
            )
        if dialect is not None and "date" in types and dialect.iso_dates and failure.check == "date_format":
            failure = dataclasses.replace(
                failure,
                hint=f"{failure.hint}; or set source.csv.date_format (README.md "
                "§ Params) if the export writes every date another way, "
                'e.g. "%d/%m/%Y"',
            )
        if not (dates or numbers):
            if "date" in types:  # dates are checked as written (sources._strict_date): show them so
                failure = _shown_as_written(failure, columns)
            return dataclasses.replace(failure, source=source) if source else failure
        assert dialect is not None
        description, hint, expectation = failure.description, failure.hint, failure.expectation
        if dates:
            layout, example = dialect.date_layout(), dt.date(2026, 10, 31).strftime(dialect.date_format)
            description, hint, expectation = (
                _DATE_EXAMPLE.sub(lambda m: m.group(1) + example, text.replace(_CONTRACT_DATE_LAYOUT, layout))
                for text in (description, hint, expectation)
            )
            hint += f"; or correct source.csv.date_format (now {dialect.date_format}) if the export writes its dates so"
        if numbers:

            def local(text: str) -> str:
                return _NUMBER_EXAMPLE.sub(lambda m: m.group(1) + dialect.number(m.group(2)), text)

            description, hint, expectation = local(description), local(hint), local(expectation)
            hint += (
                f"; or correct source.csv.decimal / thousands (now {dialect.decimal!r} and "
                f"{dialect.thousands or 'none'!r}) if the export writes its numbers so"
            )
        failure = dataclasses.replace(failure, description=description, hint=hint, expectation=expectation)
        return dataclasses.replace(_shown_as_written(failure, columns), source=source)


def _shown_as_written(failure: ValidationFailure, columns: list[str]) -> ValidationFailure:
    """``failure`` quoting the values of ``columns`` as the source writes them: without the mark of a value that
    does not follow its layout, and in quotes when spaces around it are what is wrong (`` 2026-09-15``)."""
    sample = [{k: _as_written(v) if k in columns else v for k, v in row.items()} for row in failure.sample]
    return dataclasses.replace(failure, description=_examples_as_written(failure.description), sample=sample)


#: the suites' and checks' examples of how the contract writes a date or a number ("e.g. 2026-10-31",
#: "like 1234.56"), which a mapped CSV writes in its own dialect; offending values quoted are left alone
_DATE_EXAMPLE = re.compile(r"(e\.g\. |such as |like )" + re.escape(_CONTRACT_DATE_EXAMPLE))
_NUMBER_EXAMPLE = re.compile(r"(e\.g\. |such as |like )(" + "|".join(re.escape(n) for n in _CONTRACT_NUMBERS) + ")")


def _as_written(value: Any) -> Any:
    """A raw value as the file writes it: without the mark of a value not in the params' CSV dialect, and in
    double quotes when it has spaces around it (raw values are trimmed, so only a marked value can)."""
    if not isinstance(value, str):
        return value
    value = value.removesuffix(NOT_IN_DIALECT)
    return f'"{value}"' if value != value.strip() else value


def _examples_as_written(description: str) -> str:
    """The quoted offending values at the end of a description, e.g. ``(12x,50 , 31.02.2026 )``, without the mark
    of values not in the dialect (and in double quotes where spaces around them remain)."""
    head, bracket, tail = description.rpartition(" (")
    if not bracket or not tail.endswith(")"):
        return description
    values = re.split(r"(, )", tail[:-1])  # a value may hold ", " itself: then it is left as it is
    return head + bracket + "".join(_example_as_written(part) if part != ", " else part for part in values) + ")"


def _example_as_written(example: str) -> str:
    """One quoted example, ``2026-9-15 `` or ``2026-9-15  ×2``, as written."""
    value, times, count = example.rpartition(" ×") if re.search(r" ×\d+$", example) else (example, "", "")
    if not value.endswith(NOT_IN_DIALECT):
        return example
    return f"{_as_written(value)}{times}{count}"
