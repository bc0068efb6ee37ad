"""Which parts of the data contract a ledger actually fills (data-contract.md §1).

Every optional table and column may be absent, present with no rows, or present with only nulls. The typed views
(:mod:`collections_mi.sources.ledger`) expose every contract column of a present table — null where the source lacks
it — so no query meets a missing column; this module says which of them hold data, once per run, so that what needs
missing data can say so ("not available: the ledger has no customers.collector") and leave its KPIs out.

Measured as of the report date D: a row dated after D (by its table's ``dated_by`` column) has not happened yet, so
a ledger whose first credit note is dated after D has, as of D, no adjustments — its write-offs are "not available"
in that month, exactly as if the later rows had not been exported (the same KPIs, the same pages).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import ibis.expr.types as ir

from collections_mi.core.contract import TABLES

#: optional columns whose role a v1.1 table takes over when the ledger has it (even with no rows): with a disputes
#: table, the disputes decide which invoices are disputed at D and ``invoices.disputed`` is ignored (contract v1.1)
SUPERSEDED_BY: Mapping[tuple[str, str], str] = {("invoices", "disputed"): "disputes"}


@dataclass(frozen=True)
class LedgerShape:
    """Rows per present contract table and, per table, the optional columns with at least one value — counting only
    rows dated on or before ``as_of`` (undated tables: every row)."""

    rows: Mapping[str, int]
    filled: Mapping[str, frozenset[str]]
    as_of: dt.date | None = None
    #: rows per table whatever their date (to say "no rows dated on or before D" rather than "no rows")
    all_rows: Mapping[str, int] = field(default_factory=dict)
    #: tables the ledger has but this book leaves out (an audience's: not per customer) → why
    left_out: Mapping[str, str] = field(default_factory=dict)

    def has_rows(self, table: str) -> bool:
        return self.rows.get(table, 0) > 0

    def has(self, table: str, column: str | None = None) -> bool:
        """``table`` has rows and, with ``column``, that column holds at least one value (or the ledger has the
        table that takes over the column's role: :data:`SUPERSEDED_BY`)."""
        if column is not None and SUPERSEDED_BY.get((table, column)) in self.rows:
            return True
        if not self.has_rows(table):
            return False
        if column is None or TABLES[table].column(column).required:
            return True
        return column in self.filled.get(table, frozenset())

    def missing(self, table: str, column: str | None = None) -> str:
        """Why ``table`` (or ``table.column``) gives nothing, in the words a page shows after "Not available: "."""
        if table in self.left_out:
            return self.left_out[table]
        if table not in self.rows:
            return f"the ledger has no {table} table"
        if not self.has_rows(table):
            if self.as_of is not None and self.all_rows.get(table, 0) > 0:
                return f"the ledger's {table} table has no rows dated on or before {self.as_of.isoformat()}"
            return f"the ledger's {table} table has no rows"
        return f"the ledger has no {table}.{column}"

    def missing_of(self, *needs: tuple[str, str | None]) -> str | None:
        """The first reason among ``needs`` ((table, column or None), …) why something is not available, or None."""
        for table, column in needs:
            if not self.has(table, column):
                return self.missing(table, column)
        return None


def ledger_shape(
    tables: Mapping[str, ir.Table], as_of: dt.date | None = None, left_out: Mapping[str, str] | None = None
) -> LedgerShape:
    """Count each contract table's rows and which of its optional columns hold a value, as of ``as_of`` (rows dated
    after it left out; None: every row) — one query per table. ``left_out``: tables deliberately not in ``tables``
    → the reason pages show (an audience's ledger, :mod:`collections_mi.sources.audiences`)."""
    rows: dict[str, int] = {}
    all_rows: dict[str, int] = {}
    filled: dict[str, frozenset[str]] = {}
    for name, spec in TABLES.items():
        if name not in tables:
            continue
        table = tables[name]
        optional = [c.name for c in spec.columns if not c.required and c.name in table.columns]
        dated = spec.dated_by if as_of is not None and spec.dated_by in table.columns else None
        if dated is None:
            measures = {"_rows": table.count(), "_all_rows": table.count()}
            measures.update({c: table[c].count() for c in optional})
        else:
            current = table[dated] <= as_of
            measures = {"_rows": current.sum(), "_all_rows": table.count()}
            measures.update({c: (current & table[c].notnull()).sum() for c in optional})
        counts = table.aggregate(**measures).to_pyarrow()
        values = {column: counts.column(column)[0].as_py() for column in counts.column_names}
        rows[name] = int(values.pop("_rows") or 0)
        all_rows[name] = int(values.pop("_all_rows") or 0)
        filled[name] = frozenset(c for c, n in values.items() if n)
    return LedgerShape(rows=rows, filled=filled, as_of=as_of, all_rows=all_rows, left_out=dict(left_out or {}))
