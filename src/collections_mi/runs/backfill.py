"""Backfill: store past month-ends in the history without notebooks, and record a published pack's month."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from collections_mi.config.params import Params, load_params, params_to_jsonable, parse_params
from collections_mi.core.errors import BackfillFailed, first_line
from collections_mi.core.memory import fewer_collections, give_back_freed_memory
from collections_mi.core.periods import check_period, month_end_of, month_range, shift_period
from collections_mi.core.values import exact_text
from collections_mi.metrics.book import Tables, open_book
from collections_mi.metrics.open_items import open_items_snapshot
from collections_mi.metrics.published import DsoResult
from collections_mi.metrics.result import SectionResult
from collections_mi.metrics.sections import Section, available_sections, compute_sections
from collections_mi.metrics.shape import LedgerShape
from collections_mi.sources.ledger import Ledger, open_ledger
from collections_mi.store.history import TablesAtRest, history_dir_for, open_items_table, periods, store_snapshot
from collections_mi.validation.gate import validate_ledger

Progress = Callable[[str], None]


@dataclass(frozen=True)
class MonthEnd:
    """What one Book gives a month-end's snapshot: every section's result and the open items as the history stores
    them (:func:`~collections_mi.store.history.open_items_table`; None without aging)."""

    results: dict[str, SectionResult[Any, Any]]
    open_items: pa.Table | None
    #: the results' tables held at rest since each section was computed (:meth:`TablesAtRest.put`), stored as they are
    at_rest: TablesAtRest | None = None


def compute_month_end(
    source: Ledger | Tables,
    params: Params,
    sections: list[Section],
    shape: LedgerShape | None = None,
    *,
    open_items: bool = True,
    at_rest: TablesAtRest | None = None,
    kpis_only: bool = False,
    progress: Progress | None = None,
) -> MonthEnd:
    """Compute ``sections`` on one opened Book of ``source`` as of ``params.as_of`` (``shape`` measured for that date),
    then release it; with ``open_items``, also the history's open-items table, read from the same Book's
    materialised tables rather than a second Book's views. ``at_rest``: holds each section's tables from when the
    section is computed (a pack's, until its history is stored); ``kpis_only``: each section's tables are let go as
    soon as it is computed (`collections-mi metrics` prints the KPIs only); ``progress``: given a line as the Book
    opens (and each slice of its derived tables, on a ledger built in slices) and as each section starts (a large
    ledger computes for minutes)."""
    if kpis_only and (open_items or at_rest is not None):
        raise ValueError("kpis_only keeps no tables: neither the open items nor tables at rest can be given")
    set_aside: Callable[[Mapping[str, SectionResult[Any, Any]]], None] | None = None
    if at_rest is not None:
        held = at_rest

        def hold(results: Mapping[str, SectionResult[Any, Any]]) -> None:
            held.put(results)
            give_back_freed_memory()  # the frames just let go, before the next section builds its own

        set_aside = hold
    elif kpis_only:
        set_aside = let_tables_go

    if progress:
        progress("  the Book: each invoice's open span and settlement …")
    with fewer_collections(), open_book(source, params, shape=shape, progress=progress) as book:
        results = compute_sections(book, params, sections, progress, set_aside=set_aside)
        wanted = open_items and "aging" in results
        items = open_items_snapshot(book, params.aging, behaviour_customers_of(results)) if wanted else None
    # compact now: a pack holds the month-end through its notebooks, workbook and outputs until the history is stored
    return MonthEnd(results, None if items is None else open_items_table(items, params.period, params.as_of), at_rest)


def let_tables_go(results: Mapping[str, SectionResult[Any, Any]]) -> None:
    """Each result's tables let go as soon as it is computed, when only the KPIs are wanted: no Python object per
    cell held while the next section runs, nor time spent sharing their repeated values."""
    for result in results.values():
        result.tables = result.tables.none_available("not kept: only the KPIs were computed")


def record_pack(
    out_dir: str | Path,
    params: Params,
    source_description: str,
    month_end: MonthEnd | None,
    *,
    run_id: str,
    progress: Progress = print,
) -> Path | None:
    """After a successful publish: store the month-end snapshot in ``out_dir/history``.

    The pack is already published, so a failure here is reported as a warning (with the backfill command that
    stores the month later), never as a failed pack. A partial run (``--only``: ``month_end`` None) is not a
    month-end snapshot and is not stored.
    """
    if month_end is None:
        progress("history not updated: a run with --only is not a complete month-end snapshot")
        return None
    started = time.perf_counter()
    try:
        folder = store_snapshot(
            history_dir_for(out_dir),
            params,
            month_end.results,
            month_end.open_items,
            origin={"origin": "pack", "run_id": run_id, "source": source_description},
            at_rest=month_end.at_rest,
        )
    except Exception as exc:  # the pack is published; say what failed and how to store the month later
        progress(
            f"warning: the history was not updated ({type(exc).__name__}: {exc}); store the month later with "
            f"`collections-mi backfill --params <params> --from {params.period} --to {params.period} "
            f"--out {out_dir}`"
        )
        return None
    progress(f"history: stored {params.period} in {folder} ({time.perf_counter() - started:.1f} s)")
    return folder


@dataclass
class StoredMonth:
    period: str
    seconds: float
    tables: int = 0
    ar_total: Decimal | int | None = None
    error: str | None = None


@dataclass
class BackfillOutcome:
    history_dir: Path
    stored: list[StoredMonth] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    validation: str = "skipped"


def behaviour_customers_of(results: Mapping[str, SectionResult[Any, Any]]) -> Any:
    """The DSO section's behaviour band per customer when the run computed it (the snapshot then reuses it)."""
    dso: DsoResult | None = results.get("dso")
    return None if dso is None else dso.tables.behaviour_customers


def month_params(template: Params, period: str) -> Params:
    """The template params with ``as_of`` set to the month-end of ``period`` (everything else unchanged)."""
    data = params_to_jsonable(template)
    data["as_of"] = month_end_of(period).isoformat()
    return parse_params(data, origin=f"params for {period}")


def engine_tables(ledger: Any) -> Mapping[str, Any]:
    """The typed tables, materialised once in the embedded DuckDB (temporary tables) so that computing many
    month-ends does not re-cast the text columns for every query. Other backends are used as they are."""
    if getattr(ledger.backend, "name", "") != "duckdb":
        return ledger.typed
    try:
        return {
            name: ledger.backend.create_table(f"_history_{name}", table, temp=True, overwrite=True)
            for name, table in ledger.typed.items()
        }
    except Exception:  # e.g. a database that refuses temporary tables: the views give the same values
        return ledger.typed


class _MonthComputer:
    """Computes and stores months for one opened ledger (in this process or in a worker)."""

    def __init__(self, params_path: str, history_dir: str, ledger: Any = None) -> None:
        self.params_path = params_path
        self.history_dir = Path(history_dir)
        self.template = load_params(params_path)
        self.ledger = ledger if ledger is not None else open_ledger(self.template, params_path)
        self.tables = engine_tables(self.ledger)

    def run(self, period: str, run_id: str) -> StoredMonth:
        started = time.perf_counter()
        try:
            params = month_params(self.template, period)
            month_end = compute_month_end(self.tables, params, available_sections(self.tables))
            results, items = month_end.results, month_end.open_items
            store_snapshot(
                self.history_dir,
                params,
                results,
                items,
                origin={
                    "origin": "backfill",
                    "run_id": run_id,
                    "params_file": self.params_path,
                    "source": self.ledger.description,
                },
            )
        except Exception as exc:  # reported per month; the other months go on
            return StoredMonth(period, round(time.perf_counter() - started, 3), error=first_line(exc))
        ar_total = results["aging"].kpis.ar_total if "aging" in results else None
        tables = sum(len(r.tables.available_files()) for r in results.values()) + (items is not None)
        return StoredMonth(period, round(time.perf_counter() - started, 3), tables=tables, ar_total=ar_total)


_WORKER: dict[str, _MonthComputer] = {}


def _worker_start(params_path: str, history_dir: str) -> None:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    _WORKER["computer"] = _MonthComputer(params_path, history_dir)


def _worker_month(period: str, run_id: str) -> StoredMonth:
    return _WORKER["computer"].run(period, run_id)


def default_jobs(months: int) -> int:
    """Worker processes for a backfill: one per core up to 4, never more than months; 1 for up to 3 months."""
    if months < 4:  # starting workers (a fresh interpreter and the ledger each) costs about as much as a month
        return 1
    return max(1, min(months, os.cpu_count() or 1, 4))


def backfill(
    params_path: str | Path,
    start: str | None = None,
    end: str | None = None,
    out_dir: str | Path = "reports",
    *,
    validate: bool = True,
    jobs: int | None = None,
    missing_only: bool = False,
    progress: Progress = print,
    history_dir: str | Path | None = None,
) -> BackfillOutcome:
    """Store the month-end snapshot of every month from ``start`` to ``end`` in ``out_dir/history``.

    ``params_path`` is the template (source, buckets, rates…); each month uses it with ``as_of`` at the month-end.
    ``end`` defaults to the params' period and ``start`` to ``report.trend_months`` months back. Validation runs
    once (for the latest month's as_of, which covers every earlier row); no notebooks run. ``missing_only`` skips
    months already stored. Months are computed in ``jobs`` worker processes; one line of progress per month.
    ``history_dir`` overrides ``out_dir/history``.
    """
    clock = time.perf_counter()
    params_path = Path(params_path)
    template = load_params(params_path)
    end = check_period(end, "--to") if end else template.period
    start = check_period(start, "--from") if start else shift_period(end, -(template.report.trend_months - 1))
    months = month_range(start, end)
    history_dir = Path(history_dir) if history_dir is not None else history_dir_for(out_dir)
    outcome = BackfillOutcome(history_dir)
    stored_already = set(periods(history_dir)) if missing_only else set()
    todo = [m for m in months if m not in stored_already]
    outcome.skipped = [m for m in months if m in stored_already]
    progress(
        f"backfill {start} … {end}: {len(months)} month(s) from {params_path} into {history_dir}"
        + (f"; {len(outcome.skipped)} already stored, skipped" if outcome.skipped else "")
    )
    if not todo:
        outcome.seconds = round(time.perf_counter() - clock, 3)
        return outcome
    for period in todo:
        month_params(template, period)  # a template that cannot be used for a month fails here, before any work
    run_id = f"backfill-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    ledger = None
    if validate:
        latest = month_params(template, todo[-1])
        progress(f"validating input data once (as of {latest.as_of}) …")
        began = time.perf_counter()
        ledger = open_ledger(latest, params_path)
        report = validate_ledger(ledger, latest)
        outcome.validation = f"passed ({report.checks_run} checks)"
        progress(f"validation passed: {report.checks_run} checks ({time.perf_counter() - began:.1f} s)")
    history_dir.mkdir(parents=True, exist_ok=True)
    workers = jobs if jobs else default_jobs(len(todo))
    workers = max(1, min(workers, len(todo)))
    progress(
        f"computing {len(todo)} month(s) without notebooks"
        + (f" in {workers} worker processes" if workers > 1 else "")
        + " …"
    )

    def report_month(done: int, month: StoredMonth) -> None:
        outcome.stored.append(month)
        label = f"[{done}/{len(todo)}] {month.period}"
        if month.error:
            progress(f"{label} FAILED ({month.seconds:.1f} s): {month.error}")
        else:
            total = "" if month.ar_total is None else f"; ar_total {exact_text(month.ar_total)}"
            progress(f"{label} stored: {month.tables} tables{total} ({month.seconds:.1f} s)")

    if workers == 1:
        computer = _MonthComputer(str(params_path), str(history_dir), ledger)
        for done, period in enumerate(todo, start=1):
            report_month(done, computer.run(period, run_id))
    else:
        context = multiprocessing.get_context("spawn")  # fresh interpreters: no engine state forked mid-flight
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_worker_start,
            initargs=(str(params_path.resolve()), str(history_dir.resolve())),
        )
        try:
            futures = [pool.submit(_worker_month, period, run_id) for period in todo]
            for done, future in enumerate(as_completed(futures), start=1):
                report_month(done, future.result())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    outcome.stored.sort(key=lambda m: m.period)
    outcome.seconds = round(time.perf_counter() - clock, 3)
    failed = [m for m in outcome.stored if m.error]
    if failed:
        lines = "\n  ".join(f"{m.period}: {m.error}" for m in failed)
        raise BackfillFailed(
            f"{len(failed)} of {len(todo)} month(s) could not be computed (the others are "
            f"stored in {history_dir}):\n  {lines}",
            hint="correct the cause named above, then run the same command with --missing-only",
        )
    return outcome
