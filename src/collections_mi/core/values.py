"""Exact values ↔ text: the one spelling of a Decimal, an integer, a date, a boolean or a statistic wherever the
pack writes one as text — kpis.json, tables/*.csv, the month-end history's Parquet strings, validation.json,
messages — and the parsers that read each back.

A Decimal is written in plain notation and exactly (12.3400 → 12.34, 1E+2 → 100; never an exponent, never through
a float), so the text read back is the same number. The type names are the vocabulary of ``tables/_types.json``
and of the history's ``collections_mi.type`` field metadata.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import numpy as np

#: how a breakdown shows customers whose grouping attribute (segment, region, collector, …) is empty: its own row
#: under this label, never dropped
UNASSIGNED = "(none)"

#: the column types of tables/_types.json and of the history's Parquet field metadata
COLUMN_TYPES = ("decimal", "int", "float", "bool", "date", "str")


def decimal_text(value: Decimal) -> str:
    """A Decimal exactly, in plain notation: 12.3400 → 12.34, 1E+2 → 100, -0.00 → -0 (NaN and Infinity as
    Decimal spells them)."""
    if not value.is_finite():
        return str(value)
    text = format(value, "f")  # exact: no precision given, so no rounding
    # the trailing zeros of the fraction go (what plain() drops), without building another Decimal: the history and
    # tables/*.csv spell millions of them
    return text.rstrip("0").rstrip(".") if "." in text else text


def exact_text(value: Decimal | int | np.integer) -> str:
    """A Decimal (:func:`decimal_text`) or an integer (``12``), the exact text of a money or count value."""
    return decimal_text(value) if isinstance(value, Decimal) else str(int(value))


def float_text(value: float | np.floating) -> str:
    """A statistic (t, p-value; never money): the shortest text that reads back as the same float."""
    return repr(float(value))


def date_text(value: dt.date) -> str:
    """``2026-10-31`` (a datetime or pandas Timestamp gives its date)."""
    return f"{value:%Y-%m-%d}"


def bool_text(value: bool | np.bool_) -> str:
    return "true" if value else "false"


def parse_bool(text: str) -> bool:
    """What :func:`bool_text` wrote."""
    return text == "true"


#: type name → the parser of what :func:`cell_text` writes for a value of that type (empty cells are None before)
TEXT_PARSERS: Mapping[str, Callable[[str], Any]] = {
    "decimal": Decimal,
    "int": int,
    "float": float,
    "bool": parse_bool,
    "date": dt.date.fromisoformat,
    "str": str,
}


def _empty(value: Any) -> bool:
    """None, a float NaN or pandas' NaT (a datetime unequal to itself): an empty cell."""
    return value is None or (isinstance(value, float | dt.date) and value != value)


def cell_text(value: Any) -> str:
    """One value as tables/*.csv writes it (text cells are neutralised against formulas by the writer first): empty
    for a missing value, exact decimals, ``true``/``false``, ISO dates, floats that read back the same."""
    if _empty(value):
        return ""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, bool | np.bool_):
        return bool_text(value)
    if isinstance(value, dt.date):
        return date_text(value)
    if isinstance(value, float | np.floating):
        return float_text(value)
    if hasattr(value, "item"):  # another numpy scalar: its Python value
        return str(value.item())
    return str(value)


def json_number(value: Any) -> str:
    """A KPI as a JSON literal: exact decimals in plain notation, integers, or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return bool_text(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, float):
        return json.dumps(value)
    raise TypeError(f"KPI value {value!r} is not a number")


#: the immutable cell types :func:`shared_values` shares (exact types: a bool is not the int 1)
_SHAREABLE: frozenset[type] = frozenset({str, int, bool, dt.date})
#: values judged before a column is shared
_JUDGED_VALUES = 20_000
#: the share of distinct values above which a column's values are not shared (here, and by the tables' reader)
MOSTLY_DISTINCT = 0.8


def shared_values(values: list[Any]) -> list[Any]:
    """``values`` with equal cells as one object: the same type and the same text (a Decimal's exponent included, so
    0.00 stays 0.00 beside a 0) — a result table's zero amounts, dates, labels, currencies and customer ids repeat
    across many rows, and each repeat otherwise holds an object of its own (a 10M-invoice ledger's tables took
    ~1.5 GB). Other cells (None, floats, anything else) are kept as they are. A column whose first
    :data:`_JUDGED_VALUES` cells are mostly distinct (ids, most amounts) is returned unchanged: sharing would save
    little and cost a large dictionary."""
    seen: dict[tuple[type, object], Any] = {}
    shared: list[Any] = []
    for position, value in enumerate(values):
        if position == _JUDGED_VALUES and len(seen) > _JUDGED_VALUES * MOSTLY_DISTINCT:
            return values
        kind = type(value)
        if kind is Decimal:
            shared.append(seen.setdefault((kind, str(value)), value))
        elif kind in _SHAREABLE:
            shared.append(seen.setdefault((kind, value), value))
        else:
            shared.append(value)
    return shared
