"""A one-query screen of an expectation suite, in the engine, before Great Expectations sees any rows.

Great Expectations validates pandas frames: run on every table as it stands, it would copy a 10M-invoice ledger
into memory as text and parse each date with ``strptime`` (a quarter of a minute per million rows). The screen
evaluates the same expectations as one aggregate query per table in the engine (DuckDB, Postgres, Spark), so
a table that passes never leaves the engine. A table the screen flags goes to Great Expectations as before,
which settles it and writes the report (counts, offending rows, hints): the GX suites stay the authority.

The screen is conservative: each rule flags at least every row GX would reject (it may flag more, e.g.
``2026-1-5``, which ``strptime`` accepts; GX then decides). An expectation type or argument it does not know,
or an engine that cannot run the query, sends the table to GX.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from collections_mi.sources.engine_memory import out_of_memory

#: strftime formats the screen can check, as the regex a conforming value must fully match
_STRFTIME_PATTERNS = {"%Y-%m-%d": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_KNOWN_KWARGS = {"column", "column_list", "regex", "value_set", "strftime_format", "result_format"}


@dataclass(frozen=True)
class Screen:
    """What the screen found for one table."""

    rows: int
    #: positions (in the items given) of the expectations that may fail; GX must settle them
    flagged: tuple[int, ...]
    #: the other counts asked for (``extra``), computed in the same scan
    extra: Mapping[str, int] = field(default_factory=dict)


class Unscreenable(Exception):
    """The screen cannot judge this expectation; the table goes to Great Expectations whole."""


def _unexpected(table: ir.Table, item: dict[str, Any]) -> ir.Value:
    """A count of rows that may break ``item`` (0 = it certainly holds), as an aggregate over ``table``."""
    kind, kwargs = item["type"], item["kwargs"]
    if set(kwargs) - _KNOWN_KWARGS:
        raise Unscreenable(f"{kind} with {sorted(set(kwargs) - _KNOWN_KWARGS)}")
    if kind == "expect_compound_columns_to_be_unique":
        raise Unscreenable(kind)  # needs its own group-by; see compound_duplicates
    column: ir.StringValue = table[kwargs["column"]]
    present = column.notnull()
    if kind == "expect_column_values_to_not_be_null":
        return column.isnull().sum()
    if kind == "expect_column_values_to_be_unique":
        return column.count() - column.nunique()
    if kind == "expect_column_values_to_be_in_set":
        return (present & ~column.isin(list(kwargs["value_set"]))).sum()
    if kind == "expect_column_values_to_match_regex":
        return (present & ~column.re_search(kwargs["regex"])).sum()
    if kind == "expect_column_values_to_not_match_regex":
        return (present & column.re_search(kwargs["regex"])).sum()
    if kind == "expect_column_values_to_match_strftime_format":
        pattern = _STRFTIME_PATTERNS.get(kwargs["strftime_format"])
        if pattern is None:
            raise Unscreenable(f"strftime format {kwargs['strftime_format']!r}")
        parsed = ibis.cases((column.re_search(pattern), column.try_cast("date").notnull()), else_=False)
        return (present & ~parsed).sum()
    raise Unscreenable(kind)


def _compound_duplicates(table: ir.Table, columns: Sequence[str]) -> ir.Table:
    groups = table.group_by(list(columns)).aggregate(rows=lambda t: t.count())
    return groups.aggregate(duplicated=lambda t: (t.rows > 1).sum())


def screen(table: ir.Table, items: Sequence[dict[str, Any]], extra: Mapping[str, ir.Value] | None = None) -> Screen:
    """Run every expectation in ``items`` against ``table`` (raw text) in one engine query (plus one per
    compound-unique expectation). Raises :class:`Unscreenable` when it cannot judge one of them.

    ``extra``: more counts over ``table`` (aggregates, e.g. the rows breaking a cross-table row check) to compute in
    the same scan; they are in ``Screen.extra`` under the same names."""
    measures: dict[str, ir.Value] = {"__rows": table.count()}
    measures.update({f"x{position}": value for position, value in enumerate((extra or {}).values())})
    compound: dict[int, list[str]] = {}
    for position, item in enumerate(items):
        if item["type"] == "expect_compound_columns_to_be_unique":
            if set(item["kwargs"]) - _KNOWN_KWARGS:
                raise Unscreenable(item["type"])
            compound[position] = list(item["kwargs"]["column_list"])
            continue
        measures[f"e{position}"] = _unexpected(table, item)
    try:
        counts = table.aggregate(**measures).to_pyarrow().to_pylist()[0]
        flagged = [
            position for position in range(len(items)) if position not in compound and (counts[f"e{position}"] or 0) > 0
        ]
        for position, columns in compound.items():
            duplicated = _compound_duplicates(table, columns).to_pyarrow().to_pylist()[0]["duplicated"]
            if duplicated:
                flagged.append(position)
    except Exception as exc:  # an engine without regex or try_cast support: let GX judge
        # (not an engine out of memory: Great Expectations would then hold the whole table in pandas)
        raise out_of_memory(exc, "validating the ledger") or Unscreenable(f"{type(exc).__name__}: {exc}") from exc
    return Screen(
        rows=int(counts["__rows"]),
        flagged=tuple(sorted(flagged)),
        extra={name: int(counts[f"x{position}"] or 0) for position, name in enumerate(extra or {})},
    )
