"""How failures name things: the columns that identify a row, and the file (or table) to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from collections_mi.contract import TABLES

#: columns that identify a row in failure samples: the key, or the natural key of tables without one
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "fx_rates": ("rate_date", "currency"),
    "gl_balances": ("period_end", "account"),
    "loans": ("as_of_date", "loan_id"),
    "loan_cash_flows": ("as_of_date", "loan_id", "flow_date"),
}


def row_keys(table: str) -> tuple[str, ...]:
    key = TABLES[table].key
    return (key,) if key else NATURAL_KEYS[table]


class FileNames(dict[str, str]):
    """table → what the user edits: ``invoices.csv`` for a folder of files, else ``the invoices table``.

    Used with ``str.format_map`` so hints can say ``{invoices}`` or ``{file}``.
    """

    def __init__(self, ledger: Any) -> None:
        super().__init__()
        self._files_source = str(getattr(ledger, "description", "")).startswith("files:")
        for source in getattr(ledger, "files", []) or []:
            if source.table != "*":
                self[source.table] = Path(source.path).name

    def for_table(self, table: str) -> FileNames:
        """A copy where ``{file}`` means ``table``'s file."""
        named = FileNames.__new__(FileNames)
        dict.__init__(named, self)
        named._files_source = self._files_source
        named["file"] = named[table]
        return named

    def __missing__(self, table: str) -> str:
        return f"{table}.csv" if self._files_source else f"the {table} table"
