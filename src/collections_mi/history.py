"""Month-end history: every published or back-filled period's snapshot, as Parquet, for trends over many months.

Layout, under ``<out>/history/`` (default ``reports/history/``; a pack run with ``--out DIR`` writes ``DIR/history/``)::

    period=2026-10/
        _snapshot.json      what was stored: as_of, when, by which run (pack run id or backfill), source, tables
        kpis.parquet        one row per KPI: period, as_of, section, kpi, value, type (the kpis.json values)
        aging.parquet       every table of the pack's tables/, under the same name, with period and as_of first
        ...
        open_items.parquet  the open invoices at the month-end: bucket, customer, segment, region, collector, …

**Money stays exact.** Decimal columns are stored as Parquet *strings* holding the exact value in plain notation —
the same text as ``kpis.json`` and ``tables/*.csv`` — and the column's field metadata says
``collections_mi.type = decimal``; :func:`load_table` and :func:`load_kpis` return them as ``Decimal``. A fixed
``decimal128`` would not do: it holds 38 digits, while ratios and present values here carry up to 60 significant
digits. Other columns keep native types (int64, float64 for statistics, bool, date32, string). In SQL:
``SELECT period, CAST(value AS DECIMAL(38, 10)) AS dso FROM read_parquet('reports/history/*/kpis.parquet')
WHERE kpi = 'dso'`` (the cast rounds; Python's :func:`load_kpis` does not).

**A period is one folder, replaced as a whole** (written beside it, then swapped in by rename under a lock), so
storing a period again — a re-run pack, a second backfill — replaces it, never mixes old and new files.

Reading (:func:`load_kpis`, :func:`load_table`, :func:`periods`) needs only this folder, never the ledger.
:func:`backfill` fills past months without notebooks: the params file is the template, ``as_of`` is set to each
month-end, validation runs once, every section is computed and stored.
:mod:`collections_mi.metrics.explore` turns loaded history into the exploration notebooks' views (filters,
drill-down, trends by dimension, cohorts), exactly.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import multiprocessing
import os
import re
import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from collections_mi import __version__
from collections_mi.config import Params, load_params, params_to_jsonable, parse_params
from collections_mi.errors import CollectionsMIError, HistoryError
from collections_mi.metrics.explore import SNAPSHOT_COLUMNS, is_missing
from collections_mi.metrics.result import SectionResult
from collections_mi.money import plain

Progress = Callable[[str], None]

HISTORY_DIRNAME = "history"
KPIS = "kpis"
OPEN_ITEMS = "open_items"
MANIFEST = "_snapshot.json"
TYPE_KEY = b"collections_mi.type"

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_PERIOD_DIR = re.compile(r"^period=(\d{4}-\d{2})$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


class BackfillFailed(CollectionsMIError):
    """Some months of a backfill could not be computed (the others are stored)."""

    exit_code = 1


# ---------------------------------------------------------------------------------------------------------------
# Periods and paths


def history_dir_for(out_dir: str | Path) -> Path:
    """Where a pack published to ``out_dir`` keeps its history: ``out_dir/history``."""
    return Path(out_dir) / HISTORY_DIRNAME


def check_period(text: str, what: str = "period") -> str:
    if not isinstance(text, str) or not _PERIOD.match(text):
        raise HistoryError(f"{what}: {text!r} is not a month in the form YYYY-MM", hint="e.g. --from 2025-11")
    return text


def shift_period(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_range(start: str, end: str) -> list[str]:
    """Every month from ``start`` to ``end`` (YYYY-MM, inclusive), oldest first."""
    check_period(start, "--from")
    check_period(end, "--to")
    if start > end:
        raise HistoryError(f"--from {start} is after --to {end}", hint="give the earlier month first")
    months = [start]
    while months[-1] < end:
        months.append(shift_period(months[-1], 1))
    return months


def month_end_of(period: str) -> dt.date:
    first_of_next = dt.date.fromisoformat(f"{shift_period(period, 1)}-01")
    return first_of_next - dt.timedelta(days=1)


def period_dir(history_dir: str | Path, period: str) -> Path:
    return Path(history_dir) / f"period={check_period(period)}"


def periods(history_dir: str | Path) -> list[str]:
    """The periods stored in ``history_dir``, oldest first (an absent folder has none)."""
    folder = Path(history_dir)
    if not folder.is_dir():
        return []
    found = [m.group(1) for p in folder.iterdir() if p.is_dir() and (m := _PERIOD_DIR.match(p.name))
             and (p / f"{KPIS}.parquet").is_file()]
    return sorted(found)


def has_period(history_dir: str | Path, period: str) -> bool:
    return period in periods(history_dir)


def tables_available(history_dir: str | Path) -> list[str]:
    """Names of the tables stored for at least one period (kpis and open_items included)."""
    names: set[str] = set()
    for period in periods(history_dir):
        names.update(p.stem for p in period_dir(history_dir, period).glob("*.parquet"))
    return sorted(names)


def snapshot_manifest(history_dir: str | Path, period: str) -> dict[str, Any]:
    """What ``_snapshot.json`` of a period says (origin, run, source, tables)."""
    path = period_dir(history_dir, period) / MANIFEST
    if not path.is_file():
        raise HistoryError(f"no snapshot of {period} in {history_dir}", hint=_backfill_hint(period))
    return json.loads(path.read_text(encoding="utf-8"))


def _backfill_hint(period: str | None = None) -> str:
    span = f" --from {period} --to {period}" if period else ""
    return (f"publish a pack (collections-mi pack) or fill past months with "
            f"`collections-mi backfill --params params/<YYYY-MM>.yaml{span}`")


# ---------------------------------------------------------------------------------------------------------------
# Exact columns ↔ Parquet


def _column_type(values: Sequence[Any]) -> str:
    """decimal | int | float | bool | date | str — the vocabulary of tables/_types.json."""
    present = [v for v in values if not is_missing(v)]
    if not present:
        return "str"
    if all(isinstance(v, (bool, np.bool_)) for v in present):
        return "bool"
    integral = [isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in present]
    if all(integral):
        return "int"
    if all(isinstance(v, Decimal) or i for v, i in zip(present, integral)):
        return "decimal"
    if all(isinstance(v, dt.date) for v in present):
        return "date"
    if all(isinstance(v, (float, np.floating)) or i for v, i in zip(present, integral)):
        return "float"  # statistics (t, p-values), never money
    return "str"


def exact_text(value: Decimal | int) -> str:
    """A Decimal in plain notation, exactly as kpis.json and tables/*.csv write it (12.3400 → 12.34)."""
    if isinstance(value, Decimal):
        return format(plain(value), "f") if value.is_finite() else str(value)
    return str(int(value))


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


_ARROW: dict[str, tuple[pa.DataType, Callable[[Any], Any]]] = {
    "decimal": (pa.string(), exact_text),
    "int": (pa.int64(), int),
    "float": (pa.float64(), float),
    "bool": (pa.bool_(), bool),
    "date": (pa.date32(), _as_date),
    "str": (pa.string(), str),
}

_PARSE: dict[str, Callable[[Any], Any]] = {
    "decimal": Decimal,
    "int": int,
    "float": float,
    "bool": bool,
    "date": _as_date,
    "str": str,
}


def _arrow_column(values: Sequence[Any], kind: str) -> pa.Array:
    arrow_type, convert = _ARROW[kind]
    return pa.array([None if is_missing(v) else convert(v) for v in values], type=arrow_type)


def frame_to_arrow(frame: pd.DataFrame, period: str, as_of: dt.date, name: str) -> pa.Table:
    """A result table with ``period`` and ``as_of`` in front; each column's exact type in its field metadata."""
    clash = [c for c in SNAPSHOT_COLUMNS if c in frame.columns]
    if clash:
        raise HistoryError(f"table {name} already has a column named {', '.join(clash)}",
                           hint="rename that column in the metrics module; the history adds period and as_of")
    rows = len(frame)
    fields = [pa.field("period", pa.string(), metadata={TYPE_KEY: b"str"}),
              pa.field("as_of", pa.date32(), metadata={TYPE_KEY: b"date"})]
    arrays = [pa.array([period] * rows, type=pa.string()), pa.array([as_of] * rows, type=pa.date32())]
    for column in frame.columns:
        values = list(frame[column])
        kind = _column_type(values)
        fields.append(pa.field(str(column), _ARROW[kind][0], metadata={TYPE_KEY: kind.encode()}))
        arrays.append(_arrow_column(values, kind))
    schema = pa.schema(fields, metadata={b"collections_mi.table": name.encode(), b"collections_mi.period":
                                         period.encode()})
    return pa.Table.from_arrays(arrays, schema=schema)


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """Back to exact Python values (Decimal, int, date, …) in object columns, as ``read_results`` gives them."""
    columns = {}
    for position, arrow_field in enumerate(table.schema):
        kind = (arrow_field.metadata or {}).get(TYPE_KEY, b"").decode() or None
        values = table.column(position).to_pylist()
        if kind in _PARSE:
            parse = _PARSE[kind]
            values = [None if v is None else parse(v) for v in values]
        columns[arrow_field.name] = pd.Series(values, dtype="object")
    return pd.DataFrame(columns, columns=table.column_names)


def kpis_to_arrow(results: Mapping[str, SectionResult], period: str, as_of: dt.date) -> pa.Table:
    """The KPIs in long form: one row per KPI with its section, exact value text and type."""
    rows: dict[str, list[Any]] = defaultdict(list)
    for section, result in results.items():
        for kpi, value in result.kpis.items():
            if is_missing(value):
                text, kind = None, "null"
            elif isinstance(value, (bool, np.bool_)):
                raise HistoryError(f"KPI {kpi} is a boolean, not a number")
            elif isinstance(value, (int, np.integer)):
                text, kind = str(int(value)), "int"
            elif isinstance(value, Decimal):
                text, kind = exact_text(value), "decimal"
            elif isinstance(value, (float, np.floating)):
                text, kind = repr(float(value)), "float"
            else:
                raise HistoryError(f"KPI {kpi} = {value!r} is not a number")
            rows["section"].append(section)
            rows["kpi"].append(kpi)
            rows["value"].append(text)
            rows["type"].append(kind)
    count = len(rows["kpi"])
    return pa.table({"period": pa.array([period] * count, pa.string()),
                     "as_of": pa.array([as_of] * count, pa.date32()),
                     "section": pa.array(rows["section"], pa.string()),
                     "kpi": pa.array(rows["kpi"], pa.string()),
                     "value": pa.array(rows["value"], pa.string()),
                     "type": pa.array(rows["type"], pa.string())})


_KPI_PARSE: dict[str, Callable[[str], Any]] = {"decimal": Decimal, "int": int, "float": float}


# ---------------------------------------------------------------------------------------------------------------
# Writing a snapshot


@contextlib.contextmanager
def _history_lock(history_dir: Path) -> Iterator[None]:
    with (history_dir / ".lock").open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def store_snapshot(history_dir: str | Path, params: Params, results: Mapping[str, SectionResult],
                   open_items: pd.DataFrame | None = None, *, origin: Mapping[str, Any] | None = None) -> Path:
    """Store one period (params.period): its KPIs, every table of ``results`` and the open items; replaces it."""
    history_dir = Path(history_dir)
    history_dir.mkdir(parents=True, exist_ok=True)
    period, as_of = params.period, params.as_of
    tables: dict[str, pd.DataFrame] = {}
    for result in results.values():
        tables.update(result.tables)
    reserved = sorted(set(tables) & {KPIS, OPEN_ITEMS})
    if reserved:
        raise HistoryError(f"a section returns a table named {', '.join(reserved)}, a name the history reserves")
    if open_items is not None:
        tables[OPEN_ITEMS] = open_items
    staging = history_dir / f".staging-{period}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        pq.write_table(kpis_to_arrow(results, period, as_of), staging / f"{KPIS}.parquet")
        for name, frame in tables.items():
            pq.write_table(frame_to_arrow(frame, period, as_of, name), staging / f"{name}.parquet")
        manifest = {
            "period": period,
            "as_of": str(as_of),
            "stored_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **(dict(origin) if origin else {}),
            "collections_mi": __version__,
            "sections": list(results),
            "kpis": sum(len(r.kpis) for r in results.values()),
            "tables": {name: len(frame) for name, frame in tables.items()},
            "money": "exact decimals as strings in plain notation (field metadata collections_mi.type = decimal)",
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
        final = period_dir(history_dir, period)
        replaced = history_dir / f".replaced-{period}-{uuid.uuid4().hex[:8]}"
        with _history_lock(history_dir):
            if final.exists():
                os.replace(final, replaced)
            os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(replaced, ignore_errors=True)
    return final


def open_items_snapshot(tables: Mapping[str, Any], params: Params, fx: Any = None) -> pd.DataFrame:
    """Every open invoice at ``params.as_of`` with its bucket, customer attributes and exact reporting amount.

    The reporting amounts add up, exactly, to the aging section's ``ar_total`` (closing-rate conversion is linear).
    """
    from collections_mi.metrics.aging import UNASSIGNED, aged_items
    from collections_mi.metrics.balances import convert_column
    from collections_mi.metrics.fx import load_fx

    import ibis

    fx = fx if fx is not None else load_fx(tables, params.reporting_currency)
    items = aged_items(tables, params, params.as_of)
    customers = tables["customers"]
    wanted = [c for c in ("name", "segment", "region", "collector") if c in customers.columns]
    items = items.left_join(customers.select("customer_id", *wanted), "customer_id").drop("customer_id_right")
    frame = (items.select("invoice_id", "customer_id", *wanted, "currency", "invoice_date", "due_date", "amount",
                          "open_balance", "days_past_due", "bucket", "past_due", "disputed")
             .order_by([ibis.desc("days_past_due"), "invoice_id"]).to_pyarrow().to_pandas())
    for column in ("name", "segment", "region", "collector"):
        if column not in frame.columns:
            frame[column] = None
    for column in ("segment", "region", "collector"):
        frame[column] = frame[column].astype("object").where(frame[column].notna(), UNASSIGNED)
    frame["name"] = frame["name"].astype("object").where(frame["name"].notna(), frame["customer_id"])
    frame["open_balance_reporting"] = convert_column(frame, fx, "open_balance", "currency", params.as_of)
    order = ["invoice_id", "customer_id", "name", "segment", "region", "collector", "currency", "invoice_date",
             "due_date", "amount", "open_balance", "open_balance_reporting", "days_past_due", "bucket", "past_due",
             "disputed"]
    return frame[order].reset_index(drop=True)


def record_pack(out_dir: str | Path, params: Params, ledger: Any, results: Mapping[str, SectionResult], *,
                run_id: str, complete: bool = True, progress: Progress = print) -> Path | None:
    """After a successful publish: store the month-end snapshot in ``out_dir/history``.

    The pack is already published, so a failure here is reported as a warning (with the backfill command that
    stores the month later), never as a failed pack. A partial run (``--only``) is not a month-end snapshot and
    is not stored.
    """
    if not complete:
        progress("history not updated: a run with --only is not a complete month-end snapshot")
        return None
    started = time.perf_counter()
    try:
        items = open_items_snapshot(ledger.typed, params) if "aging" in results else None
        folder = store_snapshot(history_dir_for(out_dir), params, results, items,
                                origin={"origin": "pack", "run_id": run_id, "source": ledger.description})
    except Exception as exc:  # the pack is published; say what failed and how to store the month later
        progress(f"warning: the history was not updated ({type(exc).__name__}: {exc}); store the month later with "
                 f"`collections-mi backfill --params <params> --from {params.period} --to {params.period} "
                 f"--out {out_dir}`")
        return None
    progress(f"history: stored {params.period} in {folder} ({time.perf_counter() - started:.1f} s)")
    return folder


# ---------------------------------------------------------------------------------------------------------------
# Reading


def _require_history(history_dir: Path) -> list[str]:
    found = periods(history_dir)
    if not found:
        raise HistoryError(f"no history in {history_dir} (no period=YYYY-MM folders with kpis.parquet)",
                           hint=_backfill_hint())
    return found


def _chosen(found: list[str], months: Sequence[str] | None) -> list[str]:
    """The stored periods among ``months`` (all of them when None)."""
    if months is None:
        return found
    wanted = {check_period(m) for m in months}
    return [p for p in found if p in wanted]


def load_kpis(history_dir: str | Path, months: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per stored period: ``period``, ``as_of`` and every KPI (exact Decimal / int; None when absent).

    ``months`` (YYYY-MM) limits the periods read; the ledger is never read."""
    history_dir = Path(history_dir)
    rows: list[dict[str, Any]] = []
    order: dict[str, None] = {}
    for period in _chosen(_require_history(history_dir), months):
        table = pq.read_table(period_dir(history_dir, period) / f"{KPIS}.parquet").to_pydict()
        row: dict[str, Any] = {"period": period, "as_of": table["as_of"][0] if table["as_of"] else
                               month_end_of(period)}
        for kpi, value, kind in zip(table["kpi"], table["value"], table["type"]):
            row[kpi] = None if value is None else _KPI_PARSE[kind](value)
            order.setdefault(kpi, None)
        rows.append(row)
    columns = ["period", "as_of", *order]
    frame = pd.DataFrame(rows, columns=columns, dtype="object")
    return frame.where(frame.notna(), None).reset_index(drop=True)


def load_table(history_dir: str | Path, name: str, months: Sequence[str] | None = None) -> pd.DataFrame:
    """A stored table over every period (``period`` and ``as_of`` first), exact values; the ledger is not read.

    ``name`` is a table of the pack's tables/ (aging, dso_trend, watchlist_loans, agency_league…), ``open_items`` or
    ``kpis`` (the long form); ``months`` (YYYY-MM) limits the periods read."""
    history_dir = Path(history_dir)
    if not _TABLE_NAME.match(name or ""):
        raise HistoryError(f"{name!r} is not a table name", hint="use a name of tables/*.csv, kpis or open_items")
    frames = []
    for period in _chosen(_require_history(history_dir), months):
        path = period_dir(history_dir, period) / f"{name}.parquet"
        if path.is_file():
            frames.append(arrow_to_frame(pq.read_table(path)))
    if not frames:
        if months is None:
            available = ", ".join(tables_available(history_dir))
            raise HistoryError(f"the history in {history_dir} has no table {name!r}",
                               hint=f"choose one of: {available}")
        return pd.DataFrame(columns=list(SNAPSHOT_COLUMNS))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame = frame.astype("object")
    return frame.where(frame.notna(), None)


# ---------------------------------------------------------------------------------------------------------------
# Backfill


@dataclass
class StoredMonth:
    period: str
    seconds: float
    tables: int = 0
    ar_total: Decimal | None = None
    error: str | None = None


@dataclass
class BackfillOutcome:
    history_dir: Path
    stored: list[StoredMonth] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    validation: str = "skipped"


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
        return {name: ledger.backend.create_table(f"_history_{name}", table, temp=True, overwrite=True)
                for name, table in ledger.typed.items()}
    except Exception:  # e.g. a database that refuses temporary tables: the views give the same values
        return ledger.typed


class _MonthComputer:
    """Computes and stores months for one opened ledger (in this process or in a worker)."""

    def __init__(self, params_path: str, history_dir: str, ledger: Any = None) -> None:
        from collections_mi.sources import open_ledger

        self.params_path = params_path
        self.history_dir = Path(history_dir)
        self.template = load_params(params_path)
        self.ledger = ledger if ledger is not None else open_ledger(self.template, params_path)
        self.tables = engine_tables(self.ledger)

    def run(self, period: str, run_id: str) -> StoredMonth:
        from collections_mi.metrics.fx import load_fx
        from collections_mi.metrics.sections import available_sections, compute_sections

        started = time.perf_counter()
        try:
            params = month_params(self.template, period)
            results = compute_sections(self.tables, params, available_sections(self.tables))
            items = (open_items_snapshot(self.tables, params, load_fx(self.tables, params.reporting_currency))
                     if "aging" in results else None)
            store_snapshot(self.history_dir, params, results, items,
                           origin={"origin": "backfill", "run_id": run_id, "params_file": self.params_path,
                                   "source": self.ledger.description})
        except Exception as exc:  # reported per month; the other months go on
            return StoredMonth(period, round(time.perf_counter() - started, 3), error=_first_line(exc))
        ar_total = results["aging"].kpis.get("ar_total") if "aging" in results else None
        tables = sum(len(r.tables) for r in results.values()) + (items is not None)
        return StoredMonth(period, round(time.perf_counter() - started, 3), tables=tables, ar_total=ar_total)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


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


def backfill(params_path: str | Path, start: str | None = None, end: str | None = None,
             out_dir: str | Path = "reports", *, validate: bool = True, jobs: int | None = None,
             missing_only: bool = False, progress: Progress = print,
             history_dir: str | Path | None = None) -> BackfillOutcome:
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
    progress(f"backfill {start} … {end}: {len(months)} month(s) from {params_path} into {history_dir}"
             + (f"; {len(outcome.skipped)} already stored, skipped" if outcome.skipped else ""))
    if not todo:
        outcome.seconds = round(time.perf_counter() - clock, 3)
        return outcome
    for period in todo:
        month_params(template, period)  # a template that cannot be used for a month fails here, before any work
    run_id = f"backfill-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    ledger = None
    if validate:
        from collections_mi.pack.runner import validate_ledger  # the same gate as a pack
        from collections_mi.sources import open_ledger

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
    progress(f"computing {len(todo)} month(s) without notebooks"
             + (f" in {workers} worker processes" if workers > 1 else "") + " …")

    def report_month(done: int, month: StoredMonth) -> None:
        outcome.stored.append(month)
        label = f"[{done}/{len(todo)}] {month.period}"
        if month.error:
            progress(f"{label} FAILED ({month.seconds:.1f} s): {month.error}")
        else:
            total = "" if month.ar_total is None else f"; ar_total {format(plain(month.ar_total), 'f')}"
            progress(f"{label} stored: {month.tables} tables{total} ({month.seconds:.1f} s)")

    if workers == 1:
        computer = _MonthComputer(str(params_path), str(history_dir), ledger)
        for done, period in enumerate(todo, start=1):
            report_month(done, computer.run(period, run_id))
    else:
        context = multiprocessing.get_context("spawn")  # fresh interpreters: no engine state forked mid-flight
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_start,
                                   initargs=(str(params_path.resolve()), str(history_dir.resolve())))
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
        raise BackfillFailed(f"{len(failed)} of {len(todo)} month(s) could not be computed (the others are "
                             f"stored in {history_dir}):\n  {lines}",
                             hint="correct the cause named above, then run the same command with --missing-only")
    return outcome
