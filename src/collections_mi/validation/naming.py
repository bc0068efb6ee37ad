"""How failures name things: the columns that identify a row, and the file (or table) to fix.

This is the one place that words a failure's location. For a source read through a mapping (data-contract.md
§1.1: ``source.tables.<t>`` names its file or table, columns or values) every failure names both the contract
column and the source's own: ``invoices.amount (column 'Grand Total' of Sales Invoice.csv)``, and format problems
speak of the CSV dialect the params describe (``DD.MM.YYYY``, ``1.234,56``) rather than the contract's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from collections_mi.contract import TABLES
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
            return (f"no column {', '.join(repr(c) for c in lacking)} in {names.where}; map the export's own column "
                    f"with source.tables.{table}.columns")
        listed = ", ".join(repr(name) for name in found)
        return f"{'column' if len(found) == 1 else 'columns'} {listed} of {names.where}"

    def annotate(self, failure: ValidationFailure) -> ValidationFailure:
        """``failure`` naming the source's own column and file, and worded for its CSV dialect."""
        names = self._names.get(failure.table)
        if names is None:
            return failure
        description, hint, expectation = failure.description, failure.hint, failure.expectation
        dialect = names.dialect
        columns = [TABLES[failure.table].column(c.strip()) for c in (failure.column or "").split(",")
                   if c.strip() in {col.name for col in TABLES[failure.table].columns}]
        types = {c.type for c in columns}
        if dialect is not None and "date" in types and not dialect.iso_dates:
            example = dt.date(2026, 10, 31).strftime(dialect.date_format)
            description, hint, expectation = (
                text.replace(_CONTRACT_DATE_LAYOUT, f"{dialect.date_layout()} (source.csv.date_format "
                                                    f"{dialect.date_format})", 1)
                .replace(_CONTRACT_DATE_EXAMPLE, example).replace(_CONTRACT_DATE_LAYOUT, dialect.date_layout())
                for text in (description, hint, expectation))
        if dialect is not None and types & {"money", "decimal", "int"} and not dialect.plain_numbers:
            def local(text: str) -> str:
                for number in _CONTRACT_NUMBERS:
                    text = text.replace(number, dialect.number(number))
                return text

            description, hint, expectation = local(description), local(hint), local(expectation)
        return dataclasses.replace(failure, source=self.source_of(failure.table, failure.column),
                                   description=description, hint=hint, expectation=expectation)
