"""Cross-table and business checks, computed in the engine with Ibis (they scale to millions of rows:
only counts and a few sample rows are fetched).

Each check is a small named definition below: its id, the table and column it reports on, the rule in plain
English, the problem as shown to the user (``{rows}`` = "3 payments"), the fix (``{file}`` = this table's
file, ``{invoices}`` = the invoices file, …) and an Ibis expression for the offending rows.

* :class:`RowCheck` — a condition on the rows of one table; all row checks of a table run in one scan.
* :class:`SetCheck` — a query over several tables (orphans, over-application, FX coverage) that returns one
  row per offending item.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from collections_mi.core.contract import (
    BALANCE_REDUCING_KINDS,
    ENGINE_TYPES,
    MINOR_UNIT_EXCEPTIONS,
    TABLES,
    minor_unit_digits,
)
from collections_mi.core.currencies import ISO_4217
from collections_mi.validation.naming import FileNames, row_keys
from collections_mi.validation.report import ValidationFailure, examples, jsonable, plural


@dataclass(frozen=True)
class Context:
    """What the checks read: the usable tables (present, with every required column) and the params."""

    raw: Mapping[str, ir.Table]
    typed: Mapping[str, ir.Table]
    reporting_currency: str
    as_of: dt.date
    #: every table the source has, usable or not
    present: frozenset[str] = frozenset()


Columns = Callable[[ir.Table, Context], dict[str, ir.Value]]
#: the offending rows of a table, as a condition on its rows
Condition = Callable[[ir.Table, Context], ir.BooleanValue]


@dataclass(frozen=True)
class RowCheck:
    id: str
    table: str
    column: str | None
    rule: str
    problem: str
    hint: str
    #: the offending rows of ``table`` (read in the ``view``: ``typed`` values or ``raw`` text)
    where: Callable[[ir.Table, Context], ir.BooleanValue]
    view: Literal["raw", "typed"] = "typed"
    #: columns shown in the sample after the row's key columns
    show: Columns | tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    #: the sample column quoted in the description (default: the row's first key column)
    example: str | None = None


@dataclass(frozen=True)
class SetCheck:
    id: str
    table: str
    column: str | None
    rule: str
    problem: str
    hint: str
    #: one row per offending item; its columns are the sample
    items: Callable[[Context], ir.Table]
    order_by: tuple[str, ...]
    needs: tuple[str, ...] = ()
    #: what ``failing_count`` counts, e.g. "payment", "invoice", "currency"
    noun: str = "row"
    #: the sample column quoted in the description (default: ``column``)
    example: str | None = None
    #: run even when ``table`` is absent from the source (fx_coverage reports on a missing fx_rates)
    table_may_be_absent: bool = False
    #: the same items with fewer columns, counted instead of ``items`` (whose columns are then fetched only for the
    #: sample of a failing check): for a column that is costly to carry through a whole ledger's aggregate
    counted: Callable[[Context], ir.Table] | None = None
    #: counted with other checks over one relation they share instead of a query of its own (``items`` then runs
    #: only for the sample of a failing check): the relation's name in :data:`SHARED` and this check's offending
    #: rows among its ``source == table`` rows — the same rows ``items`` returns
    shared: tuple[str, Condition] | None = None


# ------------------------------------------------------------------------------------------------- helpers


def _orphans(
    child: str, parent: str, keys: tuple[str, ...], show: tuple[str, ...] = ()
) -> Callable[[Context], ir.Table]:
    """Rows of ``child`` whose ``keys`` match no row of ``parent``."""

    def items(ctx: Context) -> ir.Table:
        rows = ctx.typed[child]
        for key in keys:
            rows = rows.filter(rows[key].notnull())  # an empty key is reported by the not_null expectation
        found = ctx.typed[parent].select(*keys).distinct()
        rows = rows.anti_join(found, list(keys))
        columns = list(dict.fromkeys([*row_keys(child), *keys, *show]))
        return rows.select(*columns)

    return items


def _minor_digits(currency: ir.StringValue) -> ir.IntegerValue:
    """ISO 4217 minor-unit digits of a currency code column (2 unless listed in the contract)."""
    by_digits: dict[int, list[str]] = {}
    for code, digits in MINOR_UNIT_EXCEPTIONS.items():
        by_digits.setdefault(digits, []).append(code)
    return ibis.cases(*[(currency.isin(codes), digits) for digits, codes in sorted(by_digits.items())], else_=2)


#: the significant decimals of a plain number (trailing zeros do not count: 100.50 has 1, 100.00 has 0)
_SIGNIFICANT_DECIMALS = r"^-?[0-9]+\.([0-9]*[1-9])0*$"


def _decimals(text: ir.StringValue) -> ir.IntegerValue:
    return text.re_extract(_SIGNIFICANT_DECIMALS, 1).length()


def more_decimals_than(text: ir.StringValue, allowed: ir.IntegerValue | int) -> ir.BooleanValue:
    """Whether the plain number ``text`` has more significant decimals than ``allowed`` (null text: no). The
    regular expression runs only where the text has more characters after its first point than ``allowed``: no
    more of them can be significant decimals, so the rest are settled by two string lengths (a million amounts
    written to the cent: 0.09 s instead of 0.21 s in DuckDB)."""
    point = text.find(".")  # 0-based, -1 without one
    return ibis.cases(
        ((point >= 0) & (text.length() - point - 1 > allowed), _decimals(text) > allowed),
        else_=False,
    )


def _invoice_currency(invoices: ir.Table, reporting: str) -> ir.StringValue:
    if "currency" not in invoices.columns:
        return ibis.literal(reporting)
    return invoices.currency.upper().fill_null(reporting)


# ----------------------------------------------------------------------------------------------- row checks

ROW_CHECKS: list[RowCheck] = [
    RowCheck(
        id="due_before_invoice",
        table="invoices",
        column="due_date",
        rule="An invoice falls due on or after the day it is issued (due_date ≥ invoice_date).",
        problem="{rows} where due_date is before invoice_date",
        hint="correct due_date or invoice_date on the rows listed in {file} (were the two swapped?)",
        where=lambda t, ctx: t.due_date < t.invoice_date,
        show=("invoice_date", "due_date"),
    ),
    RowCheck(
        id="due_by_before_promised",
        table="promises",
        column="due_by",
        rule="A promise is due on or after the day it was made (due_by ≥ promised_on).",
        problem="{rows} where due_by is before promised_on",
        hint="correct due_by or promised_on on the rows listed in {file}",
        where=lambda t, ctx: t.due_by < t.promised_on,
        show=("customer_id", "promised_on", "due_by"),
    ),
    RowCheck(
        id="resolved_before_opened",
        table="disputes",
        column="resolved_on",
        rule="A dispute is resolved on or after the day it was opened (resolved_on ≥ opened_on).",
        problem="{rows} where resolved_on is before opened_on",
        hint="correct resolved_on or opened_on on the rows listed in {file} (were the two swapped?)",
        where=lambda t, ctx: t.resolved_on < t.opened_on,
        show=("invoice_id", "opened_on", "resolved_on"),
    ),
    RowCheck(
        id="applied_before_receipt",
        table="unapplied_cash",
        column="applied_on",
        rule="Cash is applied on or after the day it was received (applied_on ≥ receipt_date).",
        problem="{rows} where applied_on is before receipt_date",
        hint="correct applied_on or receipt_date on the rows listed in {file}; leave applied_on empty while the "
        "receipt is still unapplied",
        where=lambda t, ctx: t.applied_on < t.receipt_date,
        show=("customer_id", "receipt_date", "applied_on"),
    ),
    RowCheck(
        id="flow_not_after_snapshot",
        table="loan_cash_flows",
        column="flow_date",
        rule="Expected cash flows lie after the snapshot they belong to (flow_date > as_of_date).",
        problem="{rows} where flow_date is on or before the snapshot's as_of_date",
        hint="drop cash flows already received from {file}, or correct flow_date / as_of_date",
        where=lambda t, ctx: t.flow_date <= t.as_of_date,
        example="loan_id",
    ),
]


def _money_in_reporting_currency(table: str, column: str) -> RowCheck:
    def where(t: ir.Table, ctx: Context) -> ir.BooleanValue:
        return more_decimals_than(t[column], minor_unit_digits(ctx.reporting_currency))

    def show(t: ir.Table, ctx: Context) -> dict[str, ir.Value]:
        return {
            column: t[column],
            "currency": ibis.literal(ctx.reporting_currency),
            "max_decimals": ibis.literal(minor_unit_digits(ctx.reporting_currency)),
        }

    return RowCheck(
        id="money_decimals",
        table=table,
        column=column,
        view="raw",
        rule=f"{column} is in the reporting currency and has at most its minor-unit decimals (2 for USD, EUR…).",
        problem="{rows} where " + column + " has more decimals than the reporting currency ({reporting}) allows",
        hint=f"round {column} to the currency's smallest unit (cents) in {{file}}; amounts are exact, never fractions "
        "of a cent",
        where=where,
        show=show,
        example=column,
    )


def _invoice_money_decimals() -> RowCheck:
    def where(t: ir.Table, ctx: Context) -> ir.BooleanValue:
        return more_decimals_than(t.amount, _minor_digits(_invoice_currency(t, ctx.reporting_currency)))

    def show(t: ir.Table, ctx: Context) -> dict[str, ir.Value]:
        currency = _invoice_currency(t, ctx.reporting_currency)
        return {"amount": t.amount, "currency": currency, "max_decimals": _minor_digits(currency)}

    return RowCheck(
        id="money_decimals",
        table="invoices",
        column="amount",
        view="raw",
        rule="amount has at most the decimals of the invoice's currency (2 for USD/EUR, 0 for JPY, 3 for KWD…).",
        problem="{rows} where amount has more decimals than its currency allows",
        hint="round amount to the currency's smallest unit in {file} (e.g. cents; whole yen for JPY)",
        where=where,
        show=show,
        example="amount",
    )


def _own_currency_money_decimals(table: str) -> RowCheck:
    """``table.amount`` against the decimals of the row's own ``currency`` (absent/null = the reporting currency)."""

    def where(t: ir.Table, ctx: Context) -> ir.BooleanValue:
        return more_decimals_than(t.amount, _minor_digits(_invoice_currency(t, ctx.reporting_currency)))

    def show(t: ir.Table, ctx: Context) -> dict[str, ir.Value]:
        currency = _invoice_currency(t, ctx.reporting_currency)
        return {"amount": t.amount, "currency": currency, "max_decimals": _minor_digits(currency)}

    return RowCheck(
        id="money_decimals",
        table=table,
        column="amount",
        view="raw",
        rule="amount has at most the decimals of the row's currency (2 for USD/EUR, 0 for JPY, 3 for KWD…).",
        problem="{rows} where amount has more decimals than its currency allows",
        hint="round amount to the currency's smallest unit in {file} (e.g. cents; whole yen for JPY)",
        where=where,
        show=show,
        example="amount",
    )


#: every ISO 4217 code between commas: a three-letter code is one of them when ",<code>," is in this text
_ISO_CODES_TEXT = "," + ",".join(sorted(ISO_4217)) + ","


def _listed_code(currency: ir.StringValue) -> ir.BooleanValue:
    """Whether a three-letter upper-case ``currency`` is an ISO 4217 code: one substring search in a short text,
    four times faster in DuckDB than ``IN`` with the ~180 codes (a million-row table's largest check)."""
    return ibis.literal(_ISO_CODES_TEXT).contains(ibis.literal(",").concat(currency, ","))


def _never(t: ir.Table, table: str) -> ir.BooleanValue:
    """No row: for a check on an optional column the table does not have."""
    key = t[row_keys(table)[0]]
    return key.isnull() & key.notnull()


def _unknown_currency(table: str, used_by: str) -> RowCheck:
    """A well-formed code (currency_format checks the form) that ISO 4217 does not know: a typo, not a rate gap."""

    def where(t: ir.Table, ctx: Context) -> ir.BooleanValue:
        if "currency" not in t.columns:  # invoices.currency is optional: absent = reporting currency
            return _never(t, table)
        return t.currency.re_search(r"^[A-Z]{3}$") & ~_listed_code(t.currency)

    return RowCheck(
        id="unknown_currency",
        table=table,
        column="currency",
        view="raw",
        rule=f"currency is an ISO 4217 code (EUR, GBP, JPY…){used_by}.",
        problem="{rows} where currency is not an ISO 4217 currency code",
        hint="correct currency in {file} to the ISO 4217 code of the currency meant (e.g. EUR, GBP, JPY)"
        + ("; leave it empty for the reporting currency ({reporting})" if table != "fx_rates" else ""),
        where=where,
        show=("currency",),
        example="currency",
    )


ROW_CHECKS += [
    _unknown_currency("invoices", "; empty means the reporting currency"),
    _unknown_currency("unapplied_cash", "; empty means the reporting currency"),
    _unknown_currency("fx_rates", ""),
]

#: the most characters a text value may have: an Excel cell's limit (the pack exports every table to tables.xlsx);
#: a longer "name" is a pasted document or a broken export, and would break the pack's outputs
MAX_TEXT_CHARS = 32_767


def _text_length(table: str, column: str) -> RowCheck:
    def show(t: ir.Table, ctx: Context) -> dict[str, ir.Value]:
        return {"characters": t[column].length()}  # never the value itself: it would drown the report

    return RowCheck(
        id="text_too_long",
        table=table,
        column=column,
        view="raw",
        rule=f"{column} holds at most {MAX_TEXT_CHARS:,} characters (the most an Excel cell can hold).",
        problem="{rows} where " + column + f" is longer than {MAX_TEXT_CHARS:,} characters",
        hint=f"shorten {column} on the rows listed in {{file}}; a value that long is usually a pasted document or "
        "a quote that swallowed the following columns",
        where=lambda t, ctx: t[column].length() > MAX_TEXT_CHARS if column in t.columns else _never(t, table),
        show=show,
    )


ROW_CHECKS += [
    _text_length(name, column.name)
    for name, table in TABLES.items()
    for column in table.columns
    if column.type == "string"
]

MONEY_IN_REPORTING_CURRENCY = [
    (name, column.name)
    for name, table in TABLES.items()
    for column in table.columns
    # invoices and unapplied cash carry their own currency; payments, adjustments and disputes their invoice's
    if column.type == "money" and name not in ("invoices", "payments", "adjustments", "disputes", "unapplied_cash")
]
ROW_CHECKS += [_invoice_money_decimals(), _own_currency_money_decimals("unapplied_cash")] + [
    _money_in_reporting_currency(t, c) for t, c in MONEY_IN_REPORTING_CURRENCY
]


def decimal_bounds(engine_type: str) -> tuple[int, int] | None:
    """(precision, scale) of an engine decimal type such as ``decimal(18, 4)``; None for other types."""
    found = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", engine_type)
    return (int(found.group(1)), int(found.group(2))) if found else None


def _digits_before_point(column_type: str) -> int:
    bounds = decimal_bounds(ENGINE_TYPES[column_type])  # type: ignore[index]
    assert bounds is not None, column_type
    return bounds[0] - bounds[1]


#: how a value of each type must be written, for type-error hints (the digit limits are the engine types')
_WRITTEN_AS = {
    "date": "a date YYYY-MM-DD",
    "money": f"a plain number with at most {_digits_before_point('money')} digits before the decimal point",
    "decimal": f"a plain number with at most {_digits_before_point('decimal')} digits before the decimal point",
    "int": "a whole number",
}
#: a number written plainly: what the format checks accept and the precision check measures
_PLAIN_NUMBER = r"^-?[0-9]+(\.[0-9]+)?$"


def _rounded_by_the_engine(column_type: str) -> bool:
    """Whether a value of ``column_type`` that passes every other check can still have more decimals than its
    engine type keeps. Money cannot: its decimals are checked against the currency's minor unit (money_decimals),
    which is never more than the money scale; a contract change that breaks this brings the check back."""
    bounds = decimal_bounds(ENGINE_TYPES[column_type])  # type: ignore[index]
    if bounds is None:
        return False  # int, date, bool, string: a value the type cannot hold is a type_error (it reads as empty)
    if column_type == "money":
        return max([2, *MINOR_UNIT_EXCEPTIONS.values()]) > bounds[1]
    return True


def precision_check(table: str, column: str, column_type: str) -> RowCheck:
    """Values the typed view would change: more significant decimals than the engine type keeps, which the cast
    rounds without a word (an FX rate of 0.0000000000000000001 would become 0 and convert a whole currency to 0).
    Too many digits before the point make the cast fail instead: that is a type_error."""
    engine_type = ENGINE_TYPES[column_type]  # type: ignore[index]
    bounds = decimal_bounds(engine_type)
    assert bounds is not None, engine_type
    scale = bounds[1]

    def show(t: ir.Table, ctx: Context) -> dict[str, ir.Value]:
        return {column: t[column], "read_as": t[column].try_cast(engine_type)}

    return RowCheck(
        id="decimal_places",
        table=table,
        column=column,
        view="raw",
        rule=f"{column} has at most {scale} decimals, the most its engine type {engine_type} keeps: a longer value "
        "would be rounded.",
        problem="{rows} where " + column + f" has more than {scale} decimals, which the engine would round (to the "
        "value shown as read_as)",
        hint=f"write {column} with at most {scale} decimals in {{file}}; a value that needs more is almost always "
        "a wrong unit or a misplaced decimal point, so check it against the source system",
        where=lambda t, ctx: t[column].re_search(_PLAIN_NUMBER) & more_decimals_than(t[column], scale),
        show=show,
        example=column,
    )


ROW_CHECKS += [
    precision_check(name, column.name, column.type)
    for name, table in TABLES.items()
    for column in table.columns
    if _rounded_by_the_engine(column.type)
]


#: columns the contract does not name that the metrics read when an export has them, and how they must be written
#: (read as written: outside source.csv's dialect, which applies to the contract's columns)
OWN_AMOUNT_COLUMNS = [("agency_collections", "fee_amount")]


def _own_amount_format(table: str, column: str) -> RowCheck:
    """An amount in a column of the export's own that the metrics read (the fee an agency charged): a plain
    number, so the fee reconciliation can read it exactly. Read in the typed view, which carries the export's own
    columns as their text (the raw view the screen counts holds only the contract's)."""
    return RowCheck(
        id="money_format",
        table=table,
        column=column,
        rule=f"{column} (read when present; the contract does not name it) is a plain amount: digits, a point for "
        "the decimals (1234.56).",
        problem="{rows} where " + column + " is not a plain amount",
        hint=f"write {column} in {{file}} as 1234.56 — no thousands separator, currency sign or decimal comma (it "
        "is read as written, outside source.csv's dialect) — or leave the column out",
        where=lambda t, ctx: (
            t[column].notnull() & ~t[column].cast("string").re_search(_PLAIN_NUMBER)
            if column in t.columns
            else _never(t, table)
        ),
        show=(column,),
        example=column,
    )


ROW_CHECKS += [_own_amount_format(table, column) for table, column in OWN_AMOUNT_COLUMNS]


def type_error_check(table: str, column: str, column_type: str) -> RowCheck:
    """Values present in the source that the engine cannot read as the contract type (they would become empty)."""
    engine_type = ENGINE_TYPES[column_type]  # type: ignore[index]

    return RowCheck(
        id="type_error",
        table=table,
        column=column,
        view="raw",
        rule=f"{column} is read as {column_type}: every value must convert.",
        problem="{rows} where " + column + f" cannot be read as {column_type} (the value would be lost)",
        hint=f"write {column} as {_WRITTEN_AS[column_type]} in {{file}}",
        where=lambda t, ctx: t[column].notnull() & t[column].try_cast(engine_type).isnull(),
        show=(column,),
        example=column,
    )


def type_error_checks(skip: Iterable[tuple[str, str]] = ()) -> list[RowCheck]:
    """One type-error check per typed column, except ``skip`` (columns whose format check already failed)."""
    skipped = set(skip)
    return [
        type_error_check(name, column.name, column.type)
        for name, table in TABLES.items()
        for column in table.columns
        if column.type in _WRITTEN_AS and (name, column.name) not in skipped
    ]


# ----------------------------------------------------------------------------------------------- set checks


def _invoice_references(ctx: Context, tables: Iterable[str], keyed: bool = False) -> ir.Table:
    """The rows of ``tables`` (payments, adjustments, disputes: each names an invoice) in one relation, each with
    its invoice's currency: ``source`` (the table), ``invoice_id``, ``amount`` (raw text; null where the table has
    none), ``invoice_rows`` (null: no such invoice) and ``invoice_currency`` (the reporting currency where the
    invoice has none or is missing); ``keyed``: with each row's own key as ``key`` (a failing check's sample lists
    it). One join against the invoices for their orphan and decimals checks together, instead of one per check.
    Raw views throughout: an id is a string column, the same text in the typed view."""
    invoices = ctx.raw["invoices"]
    invoices = invoices.select("invoice_id", currency=_invoice_currency(invoices, ctx.reporting_currency))
    per_invoice = invoices.group_by("invoice_id").aggregate(
        invoice_rows=lambda t: t.count(), invoice_currency=lambda t: t.currency.max()
    )
    parts = []
    for table in tables:
        rows = ctx.raw[table]
        amount = rows.amount if "amount" in rows.columns else ibis.null("string")
        key = {"key": rows[row_keys(table)[0]]} if keyed else {}
        parts.append(rows.select(source=ibis.literal(table), **key, invoice_id=rows.invoice_id, amount=amount))
    references = parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]
    joined = references.left_join(per_invoice, "invoice_id")
    return joined.select(
        "source",
        *(["key"] if keyed else []),
        "invoice_id",
        "amount",
        "invoice_rows",
        invoice_currency=joined.invoice_currency.fill_null(ctx.reporting_currency),
    )


def _unknown_invoice(rows: ir.Table, ctx: Context) -> ir.BooleanValue:
    """An invoice reference (of :func:`_invoice_references`) to no invoice: :func:`_orphans` on ``invoice_id``."""
    return rows.invoice_id.notnull() & rows.invoice_rows.isnull()


def _finer_than_invoice_currency(rows: ir.Table, ctx: Context) -> ir.BooleanValue:
    """An amount (of :func:`_invoice_references`) with more decimals than its invoice's currency allows: the rows
    :func:`_reduction_decimals` returns."""
    return more_decimals_than(rows.amount, _minor_digits(rows.invoice_currency))


#: relations several set checks are counted over together (:attr:`SetCheck.shared`), by name: each is given the
#: tables of the checks that run and returns their rows with a ``source`` column naming the table
SHARED: dict[str, Callable[[Context, Iterable[str]], ir.Table]] = {"invoice_references": _invoice_references}


def _over_applied_amounts(ctx: Context) -> ir.Table:
    """Invoices whose payments and balance-reducing adjustments exceed their amount: ``invoice_id``, ``amount``,
    ``applied``. Amounts only: the invoice's currency (text) in an aggregate over every invoice is state DuckDB
    cannot spill (100M invoices ran out of memory there at an 8GB limit); :func:`_over_applied` adds it to the
    sample of a failing check."""
    payments = ctx.typed["payments"]
    applied = payments.select(invoice_id=payments.invoice_id, amount=payments.amount)
    if "adjustments" in ctx.typed:
        adj = ctx.typed["adjustments"]
        adj = adj.filter(adj.kind.isin(BALANCE_REDUCING_KINDS))
        applied = applied.union(adj.select(invoice_id=adj.invoice_id, amount=adj.amount))
    applied = (
        applied.filter(applied.invoice_id.notnull()).group_by("invoice_id").aggregate(applied=lambda t: t.amount.sum())
    )
    invoices = ctx.typed["invoices"]
    billed = invoices.group_by("invoice_id").aggregate(amount=invoices.amount.sum())
    joined = billed.join(applied, "invoice_id")
    return joined.filter(joined.applied > joined.amount)


def _over_applied(ctx: Context) -> ir.Table:
    """:func:`_over_applied_amounts` with each invoice's currency and the excess."""
    over = _over_applied_amounts(ctx)
    invoices = ctx.typed["invoices"]
    currencies = invoices.select(
        currency_invoice_id=invoices.invoice_id, currency=_invoice_currency(invoices, ctx.reporting_currency)
    )
    labelled = over.join(currencies, over.invoice_id == currencies.currency_invoice_id)
    labelled = labelled.group_by(["invoice_id", "amount", "applied"]).aggregate(currency=labelled.currency.max())
    return labelled.select("invoice_id", "currency", "amount", "applied", excess=(labelled.applied - labelled.amount))


def _collections_before_placement(ctx: Context) -> ir.Table:
    placements = ctx.typed["agency_placements"]
    placed = placements.group_by("placement_id").aggregate(placed_date=placements.placed_date.min())
    collections = ctx.typed["agency_collections"].select("collection_id", "placement_id", "collection_date")
    rows = collections.join(placed, "placement_id")  # not the export's own columns: one may be named placed_date
    rows = rows.filter(rows.collection_date < rows.placed_date)
    return rows.select("collection_id", "placement_id", "placed_date", "collection_date")


def _reduction_decimals(table: str) -> Callable[[Context], ir.Table]:
    """payments / adjustments / disputes: amounts with more decimals than the currency of the invoice they apply to
    allows — the rows the shared count finds (:func:`_finer_than_invoice_currency` over the same relation), each
    with its key; none where the table has no amount (disputes.amount is optional)."""

    def items(ctx: Context) -> ir.Table:
        rows = _invoice_references(ctx, [table], keyed=True)
        rows = rows.filter(_finer_than_invoice_currency(rows, ctx))
        return rows.select(
            rows.key.name(row_keys(table)[0]),
            "invoice_id",
            "amount",
            currency=rows.invoice_currency,
            max_decimals=_minor_digits(rows.invoice_currency),
        )

    return items


def _fx_gaps(table: str, key: str, dated: str, noun: str) -> Callable[[Context], ir.Table]:
    """Foreign currencies of ``table``'s rows (``invoices`` / ``unapplied_cash``, dated ≤ as_of by ``dated``) with no
    rate on or before the earliest such row: currency, earliest_<noun> (its ``key``), earliest_<noun>_date, <noun>s
    and first_rate_date."""
    first_key, first_date, count = f"earliest_{noun}", f"earliest_{noun}_date", f"{noun}s"

    def items(ctx: Context) -> ir.Table:
        rows = ctx.typed[table]
        foreign = rows.select(key, dated, currency=_invoice_currency(rows, ctx.reporting_currency))
        foreign = foreign.filter(
            (foreign[dated] <= ctx.as_of)
            & (foreign.currency != ctx.reporting_currency)
            & foreign.currency.isin(sorted(ISO_4217))
        )  # unknown codes: unknown_currency
        needed = foreign.group_by("currency").aggregate(
            **{
                first_date: foreign[dated].min(),
                first_key: foreign[key].argmin(foreign[dated]),
                count: foreign.count(),
            }
        )
        columns = ("currency", first_key, first_date, count, "first_rate_date")
        if "fx_rates" in ctx.typed:
            rates = ctx.typed["fx_rates"]
            rates = rates.filter(
                rates.rate_date.notnull() & (rates.rate_date <= ctx.as_of) & rates.rate.notnull() & (rates.rate > 0)
            )
            first = rates.group_by(currency=rates.currency.upper()).aggregate(first_rate_date=rates.rate_date.min())
            joined = needed.left_join(first, "currency")
            gaps = joined.filter(joined.first_rate_date.isnull() | (joined.first_rate_date > joined[first_date]))
            return gaps.select(*columns)
        return needed.mutate(first_rate_date=ibis.null("date")).select(*columns)

    return items


SET_CHECKS: list[SetCheck] = [
    SetCheck(
        id="orphan_payment",
        table="payments",
        column="invoice_id",
        needs=("invoices",),
        shared=("invoice_references", _unknown_invoice),
        noun="payment",
        rule="Every payment is applied to an invoice that exists in invoices.",
        problem="{rows} for an invoice_id that is not in invoices",
        hint="add the missing invoices to {invoices}, or correct invoice_id on the payments listed in {file}",
        items=_orphans("payments", "invoices", ("invoice_id",), ("payment_date", "amount")),
        order_by=("payment_id",),
    ),
    SetCheck(
        id="orphan_adjustment",
        table="adjustments",
        column="invoice_id",
        needs=("invoices",),
        shared=("invoice_references", _unknown_invoice),
        noun="adjustment",
        rule="Every adjustment (credit note, discount, write-off, recovery) belongs to an invoice in invoices.",
        problem="{rows} for an invoice_id that is not in invoices",
        hint="add the missing invoices to {invoices}, or correct invoice_id on the adjustments listed in {file}",
        items=_orphans("adjustments", "invoices", ("invoice_id",), ("adjustment_date", "kind", "amount")),
        order_by=("adjustment_id",),
    ),
    SetCheck(
        id="orphan_invoice",
        table="invoices",
        column="customer_id",
        needs=("customers",),
        noun="invoice",
        rule="Every invoice belongs to a customer listed in customers.",
        problem="{rows} for a customer_id that is not in customers",
        hint="add the missing customers to {customers}, or correct customer_id on the invoices listed in {file}",
        items=_orphans("invoices", "customers", ("customer_id",), ("invoice_date", "amount")),
        order_by=("invoice_id",),
    ),
    SetCheck(
        id="orphan_promise",
        table="promises",
        column="customer_id",
        needs=("customers",),
        noun="promise",
        rule="Every promise to pay was made by a customer listed in customers.",
        problem="{rows} for a customer_id that is not in customers",
        hint="add the missing customers to {customers}, or correct customer_id on the promises listed in {file}",
        items=_orphans("promises", "customers", ("customer_id",), ("promised_on", "amount")),
        order_by=("promise_id",),
    ),
    SetCheck(
        id="orphan_dispute",
        table="disputes",
        column="invoice_id",
        needs=("invoices",),
        shared=("invoice_references", _unknown_invoice),
        noun="dispute",
        rule="Every dispute is raised against an invoice that exists in invoices.",
        problem="{rows} for an invoice_id that is not in invoices",
        hint="add the missing invoices to {invoices}, or correct invoice_id on the disputes listed in {file}",
        items=_orphans("disputes", "invoices", ("invoice_id",), ("opened_on", "reason")),
        order_by=("dispute_id",),
    ),
    SetCheck(
        id="orphan_receipt",
        table="unapplied_cash",
        column="customer_id",
        needs=("customers",),
        noun="receipt",
        rule="Every receipt names a customer listed in customers, or none (empty customer_id = unidentified cash).",
        problem="{rows} for a customer_id that is not in customers",
        hint="add the missing customers to {customers}, correct customer_id on the receipts listed in {file}, or "
        "leave it empty when the payer is not known (unidentified cash)",
        items=_orphans("unapplied_cash", "customers", ("customer_id",), ("receipt_date", "amount")),
        order_by=("receipt_id",),
    ),
    SetCheck(
        id="orphan_placement_customer",
        table="agency_placements",
        column="customer_id",
        needs=("customers",),
        noun="placement",
        rule="Every agency placement is for a customer listed in customers.",
        problem="{rows} for a customer_id that is not in customers",
        hint="add the missing customers to {customers}, or correct customer_id on the placements listed in {file}",
        items=_orphans("agency_placements", "customers", ("customer_id",), ("agency_id", "placed_date")),
        order_by=("placement_id",),
    ),
    SetCheck(
        id="orphan_placement_agency",
        table="agency_placements",
        column="agency_id",
        needs=("agencies",),
        noun="placement",
        rule="Every agency placement is with an agency listed in agencies.",
        problem="{rows} with an agency_id that is not in agencies",
        hint="add the missing agencies to {agencies}, or correct agency_id on the placements listed in {file}",
        items=_orphans("agency_placements", "agencies", ("agency_id",), ("customer_id", "placed_date")),
        order_by=("placement_id",),
    ),
    SetCheck(
        id="orphan_collection",
        table="agency_collections",
        column="placement_id",
        needs=("agency_placements",),
        noun="collection",
        rule="Every agency collection belongs to a placement listed in agency_placements.",
        problem="{rows} for a placement_id that is not in agency_placements",
        hint="add the missing placements to {agency_placements}, or correct placement_id on the collections "
        "listed in {file}",
        items=_orphans("agency_collections", "agency_placements", ("placement_id",), ("collection_date", "amount")),
        order_by=("collection_id",),
    ),
    SetCheck(
        id="orphan_cash_flow",
        table="loan_cash_flows",
        column="loan_id",
        needs=("loans",),
        noun="cash flow",
        rule="Every expected cash flow belongs to a loan in the loans snapshot of the same as_of_date.",
        problem="{rows} for a loan_id that is not in the loans snapshot of the same as_of_date",
        hint="add the loan to the matching snapshot in {loans}, or correct loan_id / as_of_date in {file}",
        items=_orphans("loan_cash_flows", "loans", ("as_of_date", "loan_id"), ("amount",)),
        order_by=("as_of_date", "loan_id", "flow_date"),
    ),
    SetCheck(
        id="over_application",
        table="invoices",
        column="amount",
        needs=("payments",),
        noun="invoice",
        example="invoice_id",
        rule="Payments plus credit notes, discounts and write-offs applied to an invoice never exceed its amount "
        "(all dates, including after the reporting date).",
        problem="{rows} where payments and credits applied exceed the invoice amount",
        hint="look in {payments} and {adjustments} for cash or credits entered twice or applied to the wrong "
        "invoice, and move the excess to the right invoice",
        items=_over_applied,
        counted=_over_applied_amounts,
        order_by=("invoice_id",),
    ),
    SetCheck(
        id="collection_before_placement",
        table="agency_collections",
        column="collection_date",
        needs=("agency_placements",),
        noun="collection",
        example="collection_id",
        rule="An agency collects only after the account was placed with it (collection_date ≥ placed_date).",
        problem="{rows} dated before the account was placed with the agency",
        hint="correct collection_date in {file} or placed_date in {agency_placements}",
        items=_collections_before_placement,
        order_by=("collection_id",),
    ),
    SetCheck(
        id="money_decimals",
        table="payments",
        column="amount",
        needs=("invoices",),
        shared=("invoice_references", _finer_than_invoice_currency),
        rule="A payment is in its invoice's currency and has at most that currency's decimals.",
        problem="{rows} where amount has more decimals than the invoice's currency allows",
        hint="round amount to the currency's smallest unit in {file} (e.g. cents; whole yen for JPY)",
        items=_reduction_decimals("payments"),
        order_by=("payment_id",),
    ),
    SetCheck(
        id="money_decimals",
        table="adjustments",
        column="amount",
        needs=("invoices",),
        shared=("invoice_references", _finer_than_invoice_currency),
        rule="An adjustment is in its invoice's currency and has at most that currency's decimals.",
        problem="{rows} where amount has more decimals than the invoice's currency allows",
        hint="round amount to the currency's smallest unit in {file} (e.g. cents; whole yen for JPY)",
        items=_reduction_decimals("adjustments"),
        order_by=("adjustment_id",),
    ),
    SetCheck(
        id="money_decimals",
        table="disputes",
        column="amount",
        needs=("invoices",),
        shared=("invoice_references", _finer_than_invoice_currency),
        rule="A disputed amount is in its invoice's currency and has at most that currency's decimals.",
        problem="{rows} where amount has more decimals than the invoice's currency allows",
        hint="round amount to the currency's smallest unit in {file} (e.g. cents; whole yen for JPY)",
        items=_reduction_decimals("disputes"),
        order_by=("dispute_id",),
    ),
    SetCheck(
        id="fx_coverage",
        table="fx_rates",
        column="currency",
        needs=("invoices",),
        noun="currency",
        rule="Every invoice currency other than {reporting} has a rate in fx_rates dated on or before its "
        "earliest invoice (and not after {as_of}); a missing rate is an error, never a silent 1.0.",
        problem="{rows} used on invoices without an exchange rate dated on or before the earliest such invoice",
        hint="add rows to {fx_rates} (rate_date, currency, rate = {reporting} per 1 unit) dated on or before the "
        "earliest_invoice_date shown",
        items=_fx_gaps("invoices", "invoice_id", "invoice_date", "invoice"),
        order_by=("currency",),
        table_may_be_absent=True,
    ),
    SetCheck(
        id="fx_coverage",
        table="fx_rates",
        column="currency",
        needs=("unapplied_cash",),
        noun="currency",
        rule="Every currency of unapplied cash other than {reporting} has a rate in fx_rates dated on or before its "
        "earliest receipt (and not after {as_of}); a missing rate is an error, never a silent 1.0.",
        problem="{rows} used on unapplied receipts without an exchange rate dated on or before the earliest such "
        "receipt",
        hint="add rows to {fx_rates} (rate_date, currency, rate = {reporting} per 1 unit) dated on or before the "
        "earliest_receipt_date shown",
        items=_fx_gaps("unapplied_cash", "receipt_id", "receipt_date", "receipt"),
        order_by=("currency",),
        table_may_be_absent=True,
    ),
]


# ------------------------------------------------------------------------------------------------- running


@dataclass
class Outcome:
    failures: list[ValidationFailure] = field(default_factory=list)
    checks_run: int = 0
    skipped: list[str] = field(default_factory=list)


def row_check_key(check: RowCheck) -> str:
    """A row check's name among the checks of a run (its id, table and column)."""
    return f"{check.id}:{check.table}:{check.column}"


def raw_row_counts(ctx: Context, table: str, rows: ir.Table, row_checks: Iterable[RowCheck]) -> dict[str, ir.Value]:
    """The row checks of ``table`` that read its raw view and can run, as counts over ``rows`` (the raw view, or a
    selection of its contract columns), by :func:`row_check_key`: for the screen to compute in its scan."""
    return {
        row_check_key(check): check.where(rows, ctx).fill_null(False).sum()
        for check in row_checks
        if check.table == table and check.view == "raw" and _runnable(check, ctx, Outcome())
    }


def run_checks(
    ctx: Context,
    files: FileNames,
    *,
    sample_rows: int,
    row_checks: list[RowCheck],
    set_checks: list[SetCheck],
    counted: Mapping[str, int] | None = None,
) -> Outcome:
    """Run the checks; ``counted``: the failing rows of row checks already counted (by :func:`row_check_key`, e.g.
    in the screen's scan of their table), which need no query of their own unless they fail."""
    outcome = Outcome()
    counted = counted or {}
    keys = [row_check_key(c) for c in row_checks]
    if len(set(keys)) != len(keys):
        raise ValueError("two row checks share an id, table and column")
    runnable_rows = [c for c in row_checks if _runnable(c, ctx, outcome)]
    by_table: dict[tuple[str, str], list[RowCheck]] = {}
    for check in runnable_rows:
        by_table.setdefault((check.table, check.view), []).append(check)
    for (table, view), checks in by_table.items():
        rows = (ctx.raw if view == "raw" else ctx.typed)[table]
        counts = {f"c{i}": counted[key] for i, check in enumerate(checks) if (key := row_check_key(check)) in counted}
        if len(counts) < len(checks):
            counts = (
                rows.aggregate(
                    **{f"c{i}": check.where(rows, ctx).fill_null(False).sum() for i, check in enumerate(checks)}
                )
                .to_pyarrow()
                .to_pylist()[0]
            )
        outcome.checks_run += len(checks)
        for i, check in enumerate(checks):
            count = int(counts[f"c{i}"] or 0)
            if count:
                bad = rows.filter(check.where(rows, ctx).fill_null(False))
                shown = check.show(bad, ctx) if callable(check.show) else {c: bad[c] for c in check.show}
                sample_columns = {k: bad[k] for k in row_keys(table)} | shown
                sample = bad.select(**sample_columns).order_by(list(row_keys(table))).limit(sample_rows)
                outcome.failures.append(
                    _failure(check, count, _fetch(sample), files, ctx, "row", check.example or row_keys(table)[0])
                )
    runnable_sets = [c for c in set_checks if _runnable(c, ctx, outcome)]
    shared_counts = _shared_counts(ctx, runnable_sets)
    for position, set_check in enumerate(runnable_sets):
        items = set_check.items(ctx)
        outcome.checks_run += 1
        if position in shared_counts:
            count = shared_counts[position]
        else:
            to_count = items if set_check.counted is None else set_check.counted(ctx)
            count = int(to_count.count().to_pyarrow().as_py() or 0)
        if count:
            sample = _fetch(items.order_by(list(set_check.order_by)).limit(sample_rows))
            outcome.failures.append(
                _failure(set_check, count, sample, files, ctx, set_check.noun, set_check.example or set_check.column)
            )
    return outcome


def _shared_counts(ctx: Context, checks: list[SetCheck]) -> dict[int, int]:
    """The offending items of the ``checks`` that share a relation (:attr:`SetCheck.shared`), by position in
    ``checks``: one aggregate per relation over the tables of those checks."""
    by_relation: dict[str, list[tuple[int, str, Condition]]] = {}
    for position, check in enumerate(checks):
        if check.shared is not None:
            relation, condition = check.shared
            by_relation.setdefault(relation, []).append((position, check.table, condition))
    counts: dict[int, int] = {}
    for relation, shared in by_relation.items():
        rows = SHARED[relation](ctx, list(dict.fromkeys(table for _, table, _ in shared)))
        # each condition once per row, summed per table — not once per check: the orphan condition serves the
        # orphan checks of all three tables
        conditions = list(dict.fromkeys(condition for _, _, condition in shared))
        measures = {f"c{i}": condition(rows, ctx).fill_null(False).sum() for i, condition in enumerate(conditions)}
        found = rows.group_by("source").aggregate(**measures).to_pyarrow().to_pylist()
        by_table = {row["source"]: row for row in found}
        for position, table, condition in shared:
            counts[position] = int(by_table.get(table, {}).get(f"c{conditions.index(condition)}") or 0)
    return counts


def _runnable(check: RowCheck | SetCheck, ctx: Context, outcome: Outcome) -> bool:
    """Whether a check can run: its tables present and usable. Unusable tables are already reported."""
    may_be_absent = isinstance(check, SetCheck) and check.table_may_be_absent
    if check.table not in ctx.typed and (check.table in ctx.present or not may_be_absent):
        return False  # unusable (the structural failure says so) or an absent optional table: nothing to check
    if (
        isinstance(check, RowCheck)
        and check.column is not None
        and check.table in ctx.typed
        and check.column not in (ctx.raw if check.view == "raw" else ctx.typed)[check.table].columns
    ):
        return False  # an optional column the source does not have: no value to check
    blocked = [t for t in check.needs if t not in ctx.typed]
    if blocked:
        if any(t in ctx.present or TABLES[t].required for t in blocked):
            one = len(blocked) == 1
            outcome.skipped.append(
                f"{check.id} ({check.table}): not checked, because {' and '.join(blocked)} "
                f"{'is' if one else 'are'} missing or {'lacks' if one else 'lack'} a required "
                "column"
            )
        return False
    if check.id == "over_application" and "adjustments" in ctx.present and "adjustments" not in ctx.typed:
        outcome.skipped.append(
            "over_application (invoices): checked with payments only, because adjustments lacks a required column"
        )
    return True


def _fetch(expr: ir.Table) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in row.items()} for row in expr.to_pyarrow().to_pylist()]


def _failure(
    check: RowCheck | SetCheck,
    count: int,
    sample: list[dict[str, Any]],
    files: FileNames,
    ctx: Context,
    noun: str,
    example: str | None,
) -> ValidationFailure:
    words = ChainMap(
        {"reporting": ctx.reporting_currency, "as_of": ctx.as_of.isoformat()}, files.for_table(check.table)
    )
    description = check.problem.format_map(ChainMap({"rows": plural(count, noun)}, words))
    if example and sample and example in sample[0]:
        description += f" ({examples([row.get(example) for row in sample], complete=count <= len(sample))})"
    return ValidationFailure(
        table=check.table,
        column=check.column,
        check=check.id,
        description=description,
        failing_count=count,
        sample=sample,
        hint=check.hint.format_map(words),
        expectation=check.rule.format_map(words),
    )
