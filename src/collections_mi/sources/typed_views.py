"""The two views of every table: ``raw`` (trimmed text, values outside the dialect marked) for validation and
``typed`` (contract types: dates, exact money, booleans) for metrics."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from collections_mi.config.params import CsvDialect, SourceConfig
from collections_mi.core.contract import ENGINE_TYPES, FALSE_STRINGS, TABLES, TRUE_STRINGS, Column
from collections_mi.core.errors import SourceError


@dataclass(frozen=True)
class TableNames:
    """What one contract table is called in the source (data-contract.md §1.1), for messages."""

    #: what the user edits: ``Sales Invoice.csv``, ``invoices.csv`` or ``the SALES_INV table``
    where: str
    #: contract column → the source's column, for every contract column the source has
    columns: dict[str, str] = field(default_factory=dict)
    #: the params map this table (file, table, columns or values): messages then name the source's names too
    mapped: bool = False
    #: the CSV dialect the file was read with (None: not a CSV)
    dialect: CsvDialect | None = None
    #: contract columns whose values the params translate (``source.tables.<t>.values``)
    values: tuple[str, ...] = ()


#: leading and trailing whitespace, as Python's str.strip() sees it. A regex rather than Ibis' strip(): that renders
#: TRIM's character list with \v and \f escapes, which Spark SQL reads as the letters v and f ("false" → "alse").
_EDGE_WHITESPACE = r"^[ \t\n\r\x0b\x0c]+|[ \t\n\r\x0b\x0c]+$"


def as_text(column: ir.Value) -> ir.StringValue:
    """The value as trimmed text, empty text as null. A column the source types (a Parquet date, a database
    decimal) is just cast: the engine writes no spaces around a number or a date, and never an empty one."""
    if not column.type().is_string():
        return column.cast("string")
    return column.cast("string").re_replace(_EDGE_WHITESPACE, "").nullif("")


@ibis.udf.scalar.builtin
def try_strptime(text: str, format: str) -> dt.datetime:
    """DuckDB's ``try_strptime``: the timestamp ``text`` holds in ``format`` (strptime codes), else null."""
    raise NotImplementedError("a DuckDB builtin: Ibis compiles calls to it into the query, never runs this body")


#: what a value that is not written as the params' CSV dialect says shows in the raw view: its text as written and
#: this suffix, so the contract-form checks (date_format, money_format…) report it as written instead of reading it
#: in another layout (a stray 2026-10-05 in a DD.MM.YYYY file, or 1234.56 where 1.234,56 is the layout)
NOT_IN_DIALECT = " "
#: a date as the contract writes it (data-contract.md §1): exactly YYYY-MM-DD, nothing before or after it
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _marked(text: ir.StringValue, written: ir.StringValue, contract: ir.StringValue) -> ir.StringValue:
    """The raw view of a value checked against a layout: ``contract`` (its contract form) where it follows the
    layout, else the value exactly as written (spaces included) with the NOT_IN_DIALECT mark; empty stays empty."""
    return ibis.ifelse(text.isnull(), text, contract.fill_null(written.concat(NOT_IN_DIALECT)))


def _strict_date(text: ir.StringValue, written: ir.StringValue) -> ir.StringValue:
    """The raw view of a date column read as ISO dates: the value where it is written exactly YYYY-MM-DD, else
    marked (see :func:`_marked`). The date_format check reads dates with ``strptime`` and the engine casts them,
    and both accept 2024-9-2, 2024-09-2 or spaces around the date: the contract does not."""
    return _marked(text, written, ibis.ifelse(written.re_search(_ISO_DATE), text, ibis.null("string")))


def _in_dialect(
    text: ir.StringValue, column: Column, dialect: CsvDialect, written: ir.StringValue | None = None
) -> tuple[ir.StringValue, ir.StringValue | None]:
    """A CSV column written in ``dialect``: (its raw text in the contract's form, the contract form alone for the
    typed view, null where the value does not follow the dialect); (text, None) when the dialect writes it as the
    contract does. ``written`` is the value before trimming (default: ``text``).

    A date follows ``date_format`` only when it is exactly what the format writes for that date (ignoring case):
    ``%d.%m.%Y`` takes 01.02.2026, not 1.2.2026 or " 01.02.2026", although strptime reads all three."""
    written = text if written is None else written
    if column.type == "date" and not dialect.iso_dates:
        stamp = try_strptime(text, dialect.date_format)
        parsed = stamp.cast("date")
        sane = parsed.year().between(1000, 9999)  # %Y reads "26" as the year 26: not a date the ledger means
        contract = ibis.ifelse(sane, parsed.strftime("%Y-%m-%d"), ibis.null("string"))
        exact = stamp.strftime(dialect.date_format).lower() == written.lower()
        return _marked(text, written, ibis.ifelse(exact, contract, ibis.null("string"))), contract
    if column.type in ("money", "decimal", "int") and not dialect.plain_numbers:
        digits = r"[0-9]{1,3}(" + f"[{dialect.thousands}]" + r"[0-9]{3})+|[0-9]+" if dialect.thousands else "[0-9]+"
        fraction = "" if column.type == "int" else f"([{dialect.decimal}][0-9]+)?"
        written_so = text.re_search(f"^-?({digits}){fraction}$")
        plain = text.replace(dialect.thousands, "") if dialect.thousands else text
        plain = plain.replace(dialect.decimal, ".") if dialect.decimal != "." else plain
        contract = ibis.ifelse(written_so, plain, ibis.null("string"))
        return contract.fill_null(text.concat(NOT_IN_DIALECT)), contract
    return text, None


def _mapped_values(text: ir.StringValue, column: Column, mapping: dict[str, Any]) -> ir.StringValue:
    """``values``: the source's value → the contract's (booleans as true/false); other values as they are."""

    def contract(value: Any) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)

    return ibis.cases(*[(text == key, ibis.literal(contract(value))) for key, value in mapping.items()], else_=text)


def _typed(source: ir.Value, text: ir.StringValue, column: Column, native: bool = True) -> ir.Value:
    """The contract type of one column: straight from the source where it already has that type (Parquet,
    database), else parsed from its trimmed text (CSV). Both give the same values for data that passed
    validation; the direct path just skips a text round trip per value on every scan."""
    direct = _native(source, column) if native else None
    if direct is not None:
        return direct
    if column.type == "string":
        return text
    if column.type == "bool":
        return _bool_cases(text.lower())
    return text.try_cast(ENGINE_TYPES[column.type])


def _native(source: ir.Value, column: Column) -> ir.Value | None:
    dtype = source.type()
    if column.type == "date" and dtype.is_date():
        return source
    if column.type in ("money", "decimal") and (dtype.is_decimal() or dtype.is_integer()):
        return source.cast(ENGINE_TYPES[column.type])
    if column.type == "int" and dtype.is_integer():
        return source.cast(ENGINE_TYPES[column.type])
    if column.type == "bool" and dtype.is_boolean():
        return source
    return None


def _bool_cases(lowered: ir.StringValue) -> ir.BooleanValue:
    return ibis.cases(
        (lowered.isin(TRUE_STRINGS), True), (lowered.isin(FALSE_STRINGS), False), else_=ibis.null("boolean")
    )


def _clean(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip()


def _physical(name: str, table: ir.Table, mapping: dict[str, str], where: str) -> tuple[dict[str, str], list[str]]:
    """Output column → the source's column: the mapped contract columns first (``mapping``: contract → source
    name, matched trimmed, then regardless of case), then every other column under its own name (a contract name
    regardless of case; a BOM dropped). A source column named like a contract column that ``mapping`` takes from
    another column is left out. Returns the problems of mapped columns the source lacks."""
    exact = {_clean(col): col for col in table.columns}
    folded: dict[str, str] = {}
    for col in table.columns:
        folded.setdefault(_clean(col).lower(), col)
    contract = {c.name for c in TABLES[name].columns}
    physical: dict[str, str] = {}
    problems = []
    for column, wanted in mapping.items():
        found = exact.get(wanted.strip()) or folded.get(wanted.strip().lower())
        if found is None:
            problems.append(
                f"{where}: the column {wanted!r}, mapped to {name}.{column} by "
                f"source.tables.{name}.columns.{column}, is not in it (its columns: "
                f"{', '.join(repr(_clean(c)) for c in table.columns)})"
            )
            continue
        physical[column] = found
    used = set(physical.values())
    for col in table.columns:
        if col in used:
            continue
        clean = _clean(col)
        key = clean.lower() if clean.lower() in contract else clean
        if key not in physical:
            physical[key] = col
    return physical, problems


def table_views(
    source: dict[str, ir.Table], names: dict[str, TableNames] | None = None, config: SourceConfig | None = None
) -> tuple[dict[str, ir.Table], dict[str, ir.Table], dict[str, list[str]], dict[str, TableNames]]:
    raw: dict[str, ir.Table] = {}
    typed: dict[str, ir.Table] = {}
    extras: dict[str, list[str]] = {}
    named: dict[str, TableNames] = {}
    problems: list[str] = []
    for name, table in source.items():
        spec = TABLES[name]
        contract = {c.name for c in spec.columns}
        where = names[name] if names and name in names else TableNames(where=f"the {name} table")
        mapping = config.columns_for(name) if config is not None else {}
        values = config.values_for(name) if config is not None else {}
        dialect = where.dialect
        physical, missing = _physical(name, table, mapping, where.where)
        problems += missing
        if missing:
            continue
        named[name] = TableNames(
            where=where.where,
            mapped=where.mapped,
            dialect=dialect,
            values=tuple(values),
            columns={c: _clean(physical[c]) for c in physical if c in contract},
        )
        raw_cols: dict[str, ir.Value] = {}
        parsed: dict[str, ir.Value] = {}  # contract form of columns read in a CSV dialect (null: not in it)
        for key, col in physical.items():
            text = as_text(table[col])
            if key in contract:
                column = spec.column(key)
                if key in values:
                    text = _mapped_values(text, column, values[key])
                # a date held as text is checked as written, before trimming (a date column is a date already)
                written = (
                    table[col].cast("string") if column.type == "date" and not table[col].type().is_date() else None
                )
                if dialect is not None:
                    text, contract_form = _in_dialect(text, column, dialect, written)
                    if contract_form is not None:
                        parsed[key] = contract_form
                if written is not None and key not in parsed:  # ISO dates: the typed view casts the trimmed text
                    parsed[key] = text
                    text = _strict_date(text, written)
            raw_cols[key] = text
        raw[name] = table.select(**raw_cols)
        extras[name] = [c for c in raw_cols if c not in contract]
        # every contract column, so metrics never meet a missing one: an optional column the source lacks is a
        # typed null (metrics.shape records which columns hold data, and what is not available says so)
        typed_cols = {
            c.name: _typed(
                table[physical[c.name]], parsed.get(c.name, raw_cols[c.name]), c, native=c.name not in values
            )
            if c.name in physical
            else ibis.null(ENGINE_TYPES[c.type])
            for c in spec.columns
        }
        typed_cols.update({c: raw_cols[c] for c in extras[name]})
        typed[name] = table.select(**typed_cols)
    if problems:
        raise SourceError(
            problems[0]
            if len(problems) == 1
            else f"{len(problems)} mapped columns are missing:\n" + "\n".join(f"  {p}" for p in problems),
            hint="spell each mapped column as in the source's header row (source.tables.<table>."
            "columns: {contract column: source column}), or remove the mapping",
        )
    return raw, typed, extras, named
