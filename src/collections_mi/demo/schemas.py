"""The Arrow schema of each table the demo writes: the contract's columns, then the demo's own extras.

Column names, their order and their contract types come from ``core.contract.TABLES``; this module only
says how the demo stores each contract type (money as ``decimal128(18, 2)``, dates as ``date32``, …), the
scale of each contract ``decimal`` column (the contract gives none) and, in ``EXTRA_COLUMNS``, the columns
the demo adds after the contract's (the contract lets a ledger carry more columns than it names).
"""

from __future__ import annotations

import pyarrow as pa

from collections_mi.core.contract import TABLES, ColumnType

__all__ = [
    "DEMO_TABLES",
    "EXTRA_COLUMNS",
    "MONEY_TYPE",
    "RATE_SCALE",
    "RATE_TYPE",
    "SCHEMAS",
    "SHARE_SCALE",
    "SHARE_TYPE",
]

#: the contract tables the demo writes, in the order they are written and summarised
DEMO_TABLES: tuple[str, ...] = (
    "customers",
    "invoices",
    "payments",
    "adjustments",
    "promises",
    "disputes",
    "unapplied_cash",
    "fx_rates",
    "gl_balances",
    "agencies",
    "agency_placements",
    "agency_collections",
    "loans",
    "loan_cash_flows",
)

MONEY_TYPE = pa.decimal128(18, 2)  # the demo's currencies (USD, EUR, GBP) all have 2 minor-unit digits
RATE_TYPE = pa.decimal128(18, 6)
RATE_SCALE = 1_000_000  # fx rates are held as integer millionths ("micro" units)
SHARE_TYPE = pa.decimal128(9, 4)  # fee rates, interest rates, cost-to-sell rates: 0.2500
SHARE_SCALE = 10_000  # shares are held as integer ten-thousandths (basis points)

#: how the demo stores each contract type (``decimal`` columns: see ``_DECIMAL_COLUMN_TYPES``)
_ARROW_TYPES: dict[ColumnType, pa.DataType] = {
    "string": pa.string(),
    "date": pa.date32(),
    "money": MONEY_TYPE,
    "int": pa.int64(),
    "bool": pa.bool_(),
}

#: the contract's ``decimal`` columns, each with the scale the demo writes it at
_DECIMAL_COLUMN_TYPES: dict[tuple[str, str], pa.DataType] = {
    ("customers", "risk_score"): pa.int64(),  # whole-number scores (300-850)
    ("fx_rates", "rate"): RATE_TYPE,
    ("agency_placements", "fee_rate"): SHARE_TYPE,
    ("loans", "effective_rate"): SHARE_TYPE,
    ("loans", "cost_to_sell_rate"): SHARE_TYPE,
}

#: the demo's columns that are not in the contract, written after the contract's columns of their table
EXTRA_COLUMNS: dict[str, tuple[tuple[str, pa.DataType], ...]] = {
    "customers": (("currency", pa.string()),),  # the customer's billing currency
    "invoices": (("terms_days", pa.int64()),),  # payment terms: due_date - invoice_date
    "agencies": (("fee_rate_default", SHARE_TYPE),),  # the agency's commission before a small-balance uplift
    "loans": (
        ("segment", pa.string()),  # CRE, C&I or Consumer
        ("watch_list_since", pa.date32()),  # month-end the loan was first put on the watch list (null: not on it)
    ),
}


def _schema(table: str) -> pa.Schema:
    fields: list[tuple[str, pa.DataType]] = []
    for column in TABLES[table].columns:
        if column.type == "decimal":
            fields.append((column.name, _DECIMAL_COLUMN_TYPES[(table, column.name)]))
        else:
            fields.append((column.name, _ARROW_TYPES[column.type]))
    return pa.schema([*fields, *EXTRA_COLUMNS.get(table, ())])


#: Parquet types of every table; the CSV files print the same values as text
SCHEMAS: dict[str, pa.Schema] = {table: _schema(table) for table in DEMO_TABLES}
