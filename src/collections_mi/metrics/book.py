"""The Book: one opened ledger as of one date — its contract tables and the tables derived from them, as named fields.

Every metric takes the Book (or the one table it needs) and the params it reads; none reads a table by name and none
derives a shared table again::

    with open_book(ledger, params) as book:
        results = compute_sections(book, params, sections)

:func:`open_book` materialises the derived tables once in the engine (temporary tables) and releases them on exit:
every open-balance query of a run — aging at as-of, its trend and roll-forward, DSO's AR at 27 dates, the allowance's
bucket balances and back-test — starts from the same invoice spans, and the DSO trend, breakdowns and deterioration
list from the same settled invoices. :func:`book_of` gives the same Book with nothing materialised (the derived
tables inline in each query): the values are the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collections_mi.config.params import Params
from collections_mi.core.contract import TABLES
from collections_mi.core.errors import SourceError
from collections_mi.metrics.derived import (
    daily_reductions,
    in_slice,
    invoice_spans,
    settled_invoices,
    with_invoice_defaults,
)
from collections_mi.metrics.fx import (
    EngineRates,
    FxRates,
    engine_rates,
    engine_reporting_sums,
    load_fx,
    reporting_sums,
)
from collections_mi.metrics.shape import LedgerShape, ledger_shape
from collections_mi.sources.ledger import Ledger, rows_in_any_order

#: contract table name → table (the typed views of a ledger, or tables materialised from them)
Tables = Mapping[str, ir.Table]

#: invoices per slice when :func:`open_book` builds the derived tables in slices (DuckDB only): each query's joins and
#: aggregates then hold one slice's invoices whatever the ledger's size. Over 100M invoices at once, the spans' query
#: asked DuckDB for a 512 MiB block in one piece at a 4GB limit and stopped, out of memory, after spilling 25 GB.
#: Up to this many invoices the tables are built in one query, as before.
INVOICES_PER_SLICE = 10_000_000

#: the contract tables every Book has (data-contract.md: required); the others are None when the ledger lacks them
REQUIRED_TABLES = tuple(name for name, spec in TABLES.items() if spec.required)


@dataclass(frozen=True)
class OpenItemsAt:
    """The open items (:func:`~collections_mi.metrics.balances.open_items`) at each of ``dates``, computed once into a
    table of the engine: an open-balance query at some of these dates reads their rows instead of computing them
    from the invoice spans and reductions again (a scan of the whole ledger each time). ``missed``: the dates of
    every query they did not cover (computed inline: right, but a scan more), in the order asked — what a section
    that reads open items at a date it does not declare would add (tests/test_shared_items.py)."""

    dates: frozenset[dt.date]
    table: ir.Table
    missed: list[tuple[dt.date, ...]] = field(default_factory=list, compare=False)

    def covers(self, dates: Collection[dt.date]) -> bool:
        """Whether every one of ``dates`` is among the shared dates."""
        return self.dates.issuperset(dates)


@dataclass(frozen=True)
class PromisePaymentsAt:
    """The payments inside the promises' windows up to ``latest``
    (:func:`~collections_mi.metrics.promises.window_payments`), computed once into a table of the engine: the promise
    statuses at any date up to ``latest`` read them instead of joining every payment to its invoice again."""

    latest: dt.date
    table: ir.Table


@dataclass(frozen=True)
class Book:
    """The contract tables of one ledger (an optional table the ledger lacks is None) and what a run derives from
    them as of ``as_of``, in ``reporting_currency``."""

    as_of: dt.date
    reporting_currency: str
    customers: ir.Table
    #: invoices with ``currency`` upper-cased and defaulted to the reporting currency, ``disputed`` defaulted to false
    invoices: ir.Table
    payments: ir.Table
    adjustments: ir.Table | None
    promises: ir.Table | None
    #: disputes against invoices with their history (v1.1): when present they decide "disputed at D"
    disputes: ir.Table | None
    #: cash received but not yet applied to invoices (v1.1)
    unapplied_cash: ir.Table | None
    fx_rates: ir.Table | None
    gl_balances: ir.Table | None
    agencies: ir.Table | None
    agency_placements: ir.Table | None
    agency_collections: ir.Table | None
    loans: ir.Table | None
    loan_cash_flows: ir.Table | None
    #: closing rates (from ``fx_rates``; reporting currency only when the ledger has none)
    fx: FxRates
    #: the same rates as an engine table, when the engine converts exactly (None: amounts are converted in Python)
    fx_in_engine: EngineRates | None
    #: which contract tables and optional columns hold data as of ``as_of``
    shape: LedgerShape
    #: balance reductions per invoice and day (:func:`collections_mi.metrics.derived.daily_reductions`)
    daily_reductions: ir.Table
    #: every invoice with ``closed_on`` (:func:`collections_mi.metrics.derived.invoice_spans`)
    spans: ir.Table
    #: invoices settled by payments and credits on or before ``as_of`` (:func:`~.derived.settled_invoices`)
    settlements: ir.Table
    #: the open items at the dates the run's sections read them at, computed once
    #: (:func:`~collections_mi.metrics.balances.sharing_open_items`); None: each query computes its own
    open_items_at: OpenItemsAt | None = None
    #: the payments inside the promises' windows, computed once when several sections read promise statuses
    #: (:func:`~collections_mi.metrics.promises.sharing_promise_payments`); None: each query computes its own
    promise_payments_at: PromisePaymentsAt | None = None
    #: how many slices of invoices :func:`open_book` built the derived tables in (1: in one query each)
    slices: int = 1

    def summed_in_reporting_currency(self, table: ir.Table, day: str, keys: list[str], name: str) -> pd.DataFrame:
        """Σ ``amount`` of ``table`` per ``keys`` (column ``name``) in reporting currency at the closing rate of
        each row's ``day``, exact (:func:`~collections_mi.metrics.fx.reporting_sums`)."""
        return reporting_sums(table, self.fx, self.fx_in_engine, day, keys, lambda t: {name: t.amount.sum()}, (name,))

    def summed_at_each(
        self,
        table: ir.Table,
        day: str,
        keys: Sequence[str],
        name: str,
        dates: Sequence[dt.date],
        returned: Sequence[str] = (),
    ) -> Iterator[tuple[dt.date, dict[str, list[Any]]]]:
        """:meth:`summed_in_reporting_currency` per ``keys``, which include ``as_of``, one of ``dates`` at a time (in
        their order; a date without rows gives empty lists): the sums (``name``) and the ``returned`` keys of that
        date's rows, in no particular order, as Python values. Summed in one engine pass; when the engine converts,
        only one date's rows are ever Python objects (at 10M invoices all the dates' at once were 1-2 GB)."""
        wanted = [*returned, name]
        in_arrow = self.arrow_sums_at_each(table, day, keys, name, dates, returned)
        if in_arrow is not None:
            for date, rows in in_arrow:
                yield date, {column: rows[column].to_pylist() for column in wanted}
            return
        frame = self.summed_in_reporting_currency(table, day, list(keys), name)
        at: dict[dt.date, dict[str, list[Any]]] = {date: {c: [] for c in wanted} for date in dates}
        for date, *values in zip(frame["as_of"].tolist(), *(frame[c].tolist() for c in wanted)):
            columns = at[date]
            for column, value in zip(wanted, values):
                columns[column].append(value)
        for date in dates:
            yield date, at[date]

    def arrow_sums_at_each(
        self,
        table: ir.Table,
        day: str,
        keys: Sequence[str],
        name: str,
        dates: Sequence[dt.date],
        returned: Sequence[str] = (),
    ) -> Iterator[tuple[dt.date, pa.Table]] | None:
        """:meth:`summed_at_each` as Arrow tables (columns ``returned`` and ``name``: each money sum one decimal
        type) when the engine converts; None when Python converts (:meth:`summed_at_each` then gives Decimals)."""
        if "as_of" not in keys:
            raise ValueError(f"the sums are split by as_of, which is not among the keys {list(keys)}")
        rates = self.fx_in_engine
        if rates is None:
            return None

        def each() -> Iterator[tuple[dt.date, pa.Table]]:
            sums = engine_reporting_sums(
                table, self.fx, rates, day, list(keys), lambda t: {name: t.amount.sum()}, ["as_of", *returned]
            )
            as_of = sums["as_of"]
            if as_of.type != pa.date32():
                as_of = pc.cast(as_of, pa.date32())
            for date in dates:
                yield date, sums.filter(pc.equal(as_of, pa.scalar(date, pa.date32()))).select([*returned, name])

        return each()


#: tables whose columns beyond the contract the metrics read on purpose: the customers (joined only by the columns
#: a query names), the loans (an export's segment: the watch list by segment) and the agency collections (an
#: export's fee_amount: the fee reconciliation)
_OWN_COLUMNS_READ = frozenset({"customers", "loans", "agency_collections"})


def _tables_of(source: Ledger | Tables) -> Tables:
    """The contract tables the Book holds: each (but :data:`_OWN_COLUMNS_READ`) with its contract columns only. The
    contract lets an export carry more columns (carried through for filters), but one named like a column a query
    joins in or derives — a payment's own currency or customer_id, an invoice's own segment, rate or closed_on —
    would stand in for it after the join (Ibis keeps the left table's column under the name)."""
    tables = source.typed if isinstance(source, Ledger) else source
    return {name: _contract_columns(name, table) for name, table in tables.items()}


def _contract_columns(name: str, table: ir.Table) -> ir.Table:
    if name in _OWN_COLUMNS_READ or name not in TABLES:
        return table
    wanted = [column.name for column in TABLES[name].columns if column.name in table.columns]
    return table if list(table.columns) == wanted else table.select(*wanted)


def book_of(source: Ledger | Tables, params: Params, *, shape: LedgerShape | None = None) -> Book:
    """The Book of ``source`` (a ledger or its typed tables) as of ``params.as_of``, with the derived tables as
    expressions (computed inline by each query that reads them). ``shape``: already measured for this as-of date."""
    tables = _tables_of(source)
    absent = [name for name in REQUIRED_TABLES if name not in tables]
    if absent:
        raise SourceError(
            f"the ledger has no {' and no '.join(absent)} table: metrics need {', '.join(REQUIRED_TABLES)}",
            hint="validate the source (collections-mi validate) and add the missing table",
        )
    currency = params.reporting_currency
    invoices = with_invoice_defaults(tables["invoices"], currency)
    adjustments = tables.get("adjustments")
    daily = daily_reductions(tables["payments"], adjustments)
    fx = load_fx(tables.get("fx_rates"), currency)
    return Book(
        as_of=params.as_of,
        reporting_currency=currency,
        customers=tables["customers"],
        invoices=invoices,
        payments=tables["payments"],
        adjustments=adjustments,
        promises=tables.get("promises"),
        disputes=tables.get("disputes"),
        unapplied_cash=tables.get("unapplied_cash"),
        fx_rates=tables.get("fx_rates"),
        gl_balances=tables.get("gl_balances"),
        agencies=tables.get("agencies"),
        agency_placements=tables.get("agency_placements"),
        agency_collections=tables.get("agency_collections"),
        loans=tables.get("loans"),
        loan_cash_flows=tables.get("loan_cash_flows"),
        fx=fx,
        fx_in_engine=engine_rates(fx, params.as_of, invoices._find_backend().name),
        shape=shape if shape is not None else ledger_shape(tables, params.as_of),
        daily_reductions=daily,
        spans=invoice_spans(invoices, daily),
        settlements=settled_invoices(invoices, tables["payments"], adjustments, params.as_of),
    )


@contextmanager
def open_book(
    source: Ledger | Tables,
    params: Params,
    *,
    shape: LedgerShape | None = None,
    invoices_per_slice: int = INVOICES_PER_SLICE,
    progress: Callable[[str], None] | None = None,
) -> Iterator[Book]:
    """The Book of ``source`` as of ``params.as_of`` with its derived tables materialised once (temporary tables in
    the engine), released on exit (now, not when the interpreter exits). On DuckDB, a ledger of more than
    ``invoices_per_slice`` invoices has its spans and settlements built one slice of invoices at a time
    (:func:`slice_count`); the tables are the same. ``progress``: given a line as each slice starts (a slice of a
    100M-invoice ledger takes about half a minute)."""
    with ExitStack() as cached:
        source_tables = _tables_of(source)
        with rows_in_any_order(source_tables):
            tables = {name: _in_engine(table, cached) for name, table in source_tables.items()}
            inline = book_of(tables, params, shape=shape)
            daily = _materialised(inline.daily_reductions, cached)
            slices = slice_count(
                inline.shape.all_rows.get("invoices", 0), inline.invoices._find_backend().name, invoices_per_slice
            )
            spans = _materialised_in_slices(
                lambda part: invoice_spans(part(inline.invoices), part(daily)),
                slices,
                cached,
                _slice_progress(progress, "open spans"),
            )
            settlements = _materialised_in_slices(
                lambda part: settled_invoices(
                    part(inline.invoices),
                    part(inline.payments),
                    None if inline.adjustments is None else part(inline.adjustments),
                    inline.as_of,
                ),
                slices,
                cached,
                _slice_progress(progress, "settlements"),
            )
        yield replace(inline, daily_reductions=daily, spans=spans, settlements=settlements, slices=slices)


def slice_count(invoices: int, backend: str, invoices_per_slice: int = INVOICES_PER_SLICE) -> int:
    """How many slices of about ``invoices_per_slice`` invoices :func:`open_book` builds the derived tables in: one
    but on DuckDB beyond that many invoices (Postgres and Spark plan and spill large joins themselves)."""
    if backend != "duckdb" or invoices <= invoices_per_slice:
        return 1
    return -(-invoices // invoices_per_slice)


def _slice_progress(progress: Callable[[str], None] | None, table: str) -> Callable[[int, int], None] | None:
    """What :func:`_materialised_in_slices` tells ``progress`` as slice ``index`` (from 1) of ``slices`` starts."""
    if progress is None:
        return None
    shown = progress
    return lambda index, slices: shown(f"  the Book: {table}, slice {index} of {slices} …")


def _materialised_in_slices(
    build: Callable[[Callable[[ir.Table], ir.Table]], ir.Table],
    slices: int,
    releases: ExitStack,
    progress: Callable[[int, int], None] | None = None,
) -> ir.Table:
    """The table ``build`` gives, materialised once (released when ``releases`` closes): ``build`` is called with a
    function that narrows a table to the rows of one slice of invoices
    (:func:`~collections_mi.metrics.derived.in_slice`), once per slice; the first slice makes the temporary table and
    every other is inserted into it. In slices the table is one of its own, not Ibis' cache of the expression: that
    cache is shared by every equal expression (a second Book of the same ledger open at the same time) and must not
    be inserted into. ``progress``: called with (slice, slices) as each slice starts, when there are several."""
    first, *others = (build(partial(in_slice, slice_index=index, slices=slices)) for index in range(slices))
    if not others:
        return _materialised(first, releases)
    if progress:
        progress(1, slices)
    backend = first._find_backend()
    name = ibis.util.gen_name("book_slices")
    table = backend.create_table(name, first, temp=True)
    releases.callback(backend.drop_table, name, force=True)
    for index, part in enumerate(others, start=2):
        if progress:
            progress(index, slices)
        backend.insert(name, part)
    return table


def _in_engine(table: ir.Table, releases: ExitStack) -> ir.Table:
    """``table`` as a table in the engine: as it is when it already is one (an audience's part of the ledger,
    materialised by :func:`collections_mi.sources.audiences.materialised`), else materialised once."""
    if isinstance(table.op(), ops.DatabaseTable):
        return table
    return _materialised(table, releases)


def _materialised(table: ir.Table, releases: ExitStack) -> ir.Table:
    cached = computed_once(table)
    releases.callback(cached.release)
    return cached


def computed_once(table: ir.Table) -> ir.Table:
    """``table`` computed once into a temporary table of its engine (``.release()`` drops it). The in-memory tables
    the expression reads (e.g. the dates of :func:`~collections_mi.metrics.balances.open_items`) are registered
    first, as running a query would: Ibis 12's PySpark backend caches without registering them, and Spark then
    reports a table that cannot be found."""
    table._find_backend()._run_pre_execute_hooks(table)
    return table.cache()


@contextmanager
def held_once(table: ir.Table) -> Iterator[ir.Table]:
    """``table`` computed once into a temporary table of its engine (:func:`computed_once`) for the ``with`` block,
    dropped when it ends."""
    cached = computed_once(table)
    try:
        yield cached
    finally:
        cached.release()


def present(table: ir.Table | None, name: str) -> ir.Table:
    """``table`` (the Book's ``name``), which the caller needs: a :class:`SourceError` naming it when the ledger
    lacks it (the section registry runs a section only when its tables are present)."""
    if table is None:
        raise SourceError(
            f"the ledger has no {name} table", hint=f"add {name} (data-contract.md) or leave the section out"
        )
    return table
