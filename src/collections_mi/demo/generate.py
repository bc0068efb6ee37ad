"""``generate_demo``: the whole demo ledger, written chunk by chunk into a folder.

The calendar, FX rates and customers are built first; invoices are then simulated and written in chunks
(``receivables``) with their disputes (``disputes``, which decide ``invoices.disputed``) and the receipts on
account applied to their payments (``unapplied_cash``), while accumulators keep only what later tables need
(``general_ledger``, ``agencies``, broken promises, open receivables per customer); after the last chunk come
the broken promises, the cash still on account, the GL balances, the agency tables and the loan book, each
from its own random stream.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pyarrow as pa

from collections_mi.core.errors import ConfigError
from collections_mi.demo.agencies import PastDueAccumulator, agency_tables
from collections_mi.demo.columns import IdWidths
from collections_mi.demo.customers import build_customers
from collections_mi.demo.disputes import dispute_table, plan_disputes
from collections_mi.demo.general_ledger import BalanceAccumulator, gl_balances_table
from collections_mi.demo.loans import loan_tables
from collections_mi.demo.receivables import (
    DefaulterAccumulator,
    RowCounters,
    broken_promises,
    chunk_tables,
    month_end_balances,
    promises_table,
    simulate_chunk,
)
from collections_mi.demo.schemas import DEMO_TABLES
from collections_mi.demo.sinks import TableSink, open_sink
from collections_mi.demo.unapplied_cash import OpenReceivables, applied_receipts, unapplied_cash_table, waiting_receipts
from collections_mi.demo.world import (
    CURRENCIES,
    Calendar,
    Stream,
    build_calendar,
    build_fx_rates,
    random_stream,
    to_date,
)

_MAX_CHUNK_INVOICES = 250_000
_BALANCE_MATRIX_CELLS = 8_000_000  # bounds the per-chunk (invoice × month-end) balance matrix


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo`` wrote.

    Attributes:
        out_dir: the folder holding the tables.
        row_counts: rows written per table, in ``DEMO_TABLES`` order.
        first_invoice_date: earliest ``invoice_date``.
        last_invoice_date: latest ``invoice_date``.
        latest_month_end: the last month-end on or before ``end`` (the natural ``as_of`` for a pack).
        seconds: wall-clock time taken.
    """

    out_dir: Path
    row_counts: Mapping[str, int]
    first_invoice_date: datetime.date
    last_invoice_date: datetime.date
    latest_month_end: datetime.date
    seconds: float


def generate_demo(
    out_dir: str | os.PathLike[str],
    *,
    invoices: int = 60_000,
    seed: int = 7,
    end: datetime.date = datetime.date(2026, 10, 31),
    months: int = 26,
    fmt: Literal["csv", "parquet"] = "csv",
    reporting_currency: str = "USD",
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Write a deterministic, realistic demo receivables ledger (plus agencies and loan book) into ``out_dir``.

    Args:
        out_dir: destination folder, created if missing. Existing ``<table>.csv|.parquet`` files of the
            demo tables (``DEMO_TABLES``) are replaced; the other format's copies are removed so that a
            reader (Parquet wins over CSV) never mixes two ledgers.
        invoices: number of invoices (≥ 1). Customers = ``max(2000, invoices // 30)``; loans in the
            first snapshot = ``300 × (invoices / 60,000) ** 0.25``, kept within 100-2,000.
        seed: random seed; the same arguments always produce byte-identical files.
        end: last date of the ledger; no row is dated after it.
        months: number of calendar months of invoices, the last one being ``end``'s month.
        fmt: ``"csv"`` (UTF-8, comma, header, ISO dates, empty cell = null, money with 2 decimals)
            or ``"parquet"`` (date32, decimal128(18,2) money, string ids, bool flags).
        reporting_currency: ``USD``, ``EUR`` or ``GBP``. FX rates are units of it per unit of the other
            two currencies; credit limits, promises, GL balances, agency tables and loans are in it;
            invoices with an empty ``currency`` cell are in it.
        progress: called with a short message after each chunk of invoices.

    Returns:
        A ``DemoSummary`` with the row counts and date range written.

    Raises:
        ConfigError: an argument is out of range (the message names it; nothing is written).
    """
    started = time.perf_counter()
    end_date = datetime.date(end.year, end.month, end.day)
    _validate_arguments(invoices=invoices, seed=seed, months=months, fmt=fmt, reporting_currency=reporting_currency)
    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)

    calendar = build_calendar(end_date, months, invoices)
    tables = _ledger_tables(seed, invoices, calendar, CURRENCIES.index(reporting_currency), progress)
    row_counts = _write_all_or_nothing(out_path, fmt, tables)
    other_suffix = "parquet" if fmt == "csv" else "csv"
    for table in DEMO_TABLES:
        (out_path / f"{table}.{other_suffix}").unlink(missing_ok=True)

    summary = DemoSummary(
        out_dir=out_path,
        row_counts=row_counts,
        first_invoice_date=to_date(calendar.first_invoice_day),
        last_invoice_date=to_date(calendar.last_invoice_day),
        latest_month_end=to_date(calendar.latest_month_end),
        seconds=time.perf_counter() - started,
    )
    if progress is not None:
        progress(f"demo: wrote {invoices:,} invoices to {out_path} in {summary.seconds:.1f}s")
    return summary


def _validate_arguments(*, invoices: int, seed: int, months: int, fmt: str, reporting_currency: str) -> None:
    def positive_integer(name: str, value: object, minimum: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(
                f"demo: {name} must be an integer ≥ {minimum}, got {value!r}",
                hint=f"pass {name}={max(minimum, 1)} or more",
            )

    positive_integer("invoices", invoices, 1)
    positive_integer("seed", seed, 0)
    positive_integer("months", months, 1)
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"demo: fmt must be 'csv' or 'parquet', got {fmt!r}", hint="use fmt='csv' or fmt='parquet'")
    if reporting_currency not in CURRENCIES:
        raise ConfigError(
            f"demo: reporting_currency must be one of the demo's currencies {', '.join(CURRENCIES)}, "
            f"got {reporting_currency!r}",
            hint="use reporting_currency='USD' (or 'EUR' / 'GBP')",
        )


def _write_all_or_nothing(out_path: Path, fmt: str, tables: Iterator[tuple[str, pa.Table]]) -> dict[str, int]:
    """Write every (table, rows) pair to its table's file; the files appear only once all are complete.

    On any error every temporary file is removed and the contract names are left as they were.
    """
    sinks: dict[str, TableSink] = {}
    try:
        for table in DEMO_TABLES:
            sinks[table] = open_sink(out_path, table, fmt)
        for table, content in tables:
            sinks[table].write(content)
        for sink in sinks.values():
            sink.close()
    except BaseException:
        for sink in sinks.values():
            sink.discard()
        raise
    for sink in sinks.values():
        sink.commit()
    return {table: sinks[table].rows for table in DEMO_TABLES}


def _ledger_tables(
    seed: int,
    invoices: int,
    calendar: Calendar,
    reporting_code: int,
    progress: Callable[[str], None] | None,
) -> Iterator[tuple[str, pa.Table]]:
    """Every table's rows as (table, rows), in the order they are written; one chunk of invoices at a time.

    Only per-customer and per-month accumulators live across chunks, so memory stays bounded at any size.
    """
    fx = build_fx_rates(random_stream(seed, Stream.FX), calendar, reporting_code)
    customers = build_customers(random_stream(seed, Stream.CUSTOMERS), max(2000, invoices // 30), calendar)
    id_widths = IdWidths.for_size(invoices, customers.count)
    chunk_size = max(10_000, min(_MAX_CHUNK_INVOICES, _BALANCE_MATRIX_CELLS // (calendar.month_ends.size + 1)))
    chunk_starts = list(range(0, invoices, chunk_size))
    yield "customers", customers.to_table(id_widths)
    yield "fx_rates", fx.to_table(reporting_code)

    balances = BalanceAccumulator(month_ends=calendar.month_ends)
    past_due = PastDueAccumulator(month_ends=calendar.month_ends, customer_count=customers.count)
    defaulters = DefaulterAccumulator(customers.count)
    counters = RowCounters()
    open_receivables = OpenReceivables(customers.count)
    for chunk_number, first_invoice in enumerate(chunk_starts):
        count = min(chunk_size, invoices - first_invoice)
        chunk = simulate_chunk(
            random_stream(seed, Stream.INVOICES, chunk_number),
            first_invoice,
            count,
            calendar,
            customers,
            fx,
            reporting_code,
        )
        month_end_balance = month_end_balances(chunk, calendar.month_ends)
        balances.add_chunk(chunk, month_end_balance)
        past_due.add_chunk(chunk, month_end_balance)
        del month_end_balance
        defaulters.add_chunk(chunk, customers, fx)
        # the disputes decide invoices.disputed: a dispute open at the demo's last day
        disputes = plan_disputes(random_stream(seed, Stream.DISPUTES, chunk_number), chunk, calendar.end_day)
        tables = chunk_tables(replace(chunk, disputed=disputes.open_at_end), customers, id_widths, counters)
        yield from tables.items()
        invoice_ids = tables["invoices"].column("invoice_id").combine_chunks()
        yield "disputes", dispute_table(disputes, invoice_ids, id_widths, counters)
        receipts = applied_receipts(random_stream(seed, Stream.UNAPPLIED_CASH, chunk_number), chunk, calendar.first_day)
        yield "unapplied_cash", unapplied_cash_table(receipts, id_widths, counters)
        open_receivables.add_chunk(chunk, fx, calendar.end_day)
        if progress is not None:
            progress(
                f"demo: invoices {first_invoice + count:,}/{invoices:,} (chunk {chunk_number + 1}/{len(chunk_starts)})"
            )

    broken = broken_promises(
        random_stream(seed, Stream.BROKEN_PROMISES), counters.promises, customers, defaulters, calendar
    )
    yield "promises", promises_table(broken, customers, id_widths, counters)
    waiting = waiting_receipts(
        random_stream(seed, Stream.CASH_ON_ACCOUNT), open_receivables, customers, fx, calendar, reporting_code
    )
    yield "unapplied_cash", unapplied_cash_table(waiting, id_widths, counters)
    yield "gl_balances", gl_balances_table(balances, fx, calendar)
    agency_rng = random_stream(seed, Stream.AGENCIES)
    yield from agency_tables(agency_rng, past_due.finish(), customers, fx, calendar, id_widths).items()
    yield from loan_tables(random_stream(seed, Stream.LOANS), invoices, calendar.end_day).items()
