"""Month-end history: every published or back-filled period's snapshot, as Parquet, for trends over many months.

Layout, under ``<out>/history/`` (default ``reports/history/``; a pack run with ``--out DIR`` writes ``DIR/history/``)::

    period=2026-10/
        _snapshot.json      what was stored: as_of, when, by which run (pack run id or backfill), source, tables
        kpis.parquet        one row per KPI: period, as_of, section, kpi, value, type (the kpis.json values)
        aging.parquet       every table of the pack's tables/, under the same name, with period and as_of first
        ...
        open_items.parquet  the open invoices at the month-end: bucket, customer, segment, region, collector,
                            behaviour band, dispute reason, …

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
import os
import re
import shutil
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from collections_mi import __version__
from collections_mi.config.params import Params
from collections_mi.core.errors import HistoryError
from collections_mi.core.periods import check_period, month_end_of
from collections_mi.core.values import TEXT_PARSERS, decimal_text, exact_text, float_text
from collections_mi.metrics.explore import SNAPSHOT_COLUMNS, is_missing
from collections_mi.metrics.result import FirstRows, SectionResult

Progress = Callable[[str], None]

HISTORY_DIRNAME = "history"
KPIS = "kpis"
OPEN_ITEMS = "open_items"
MANIFEST = "_snapshot.json"
TYPE_KEY = b"collections_mi.type"

_PERIOD_DIR = re.compile(r"^period=(\d{4}-\d{2})$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


# ---------------------------------------------------------------------------------------------------------------
# Periods and paths


def history_dir_for(out_dir: str | Path) -> Path:
    """Where a pack published to ``out_dir`` keeps its history: ``out_dir/history``."""
    return Path(out_dir) / HISTORY_DIRNAME


def period_dir(history_dir: str | Path, period: str) -> Path:
    return Path(history_dir) / f"period={check_period(period)}"


def periods(history_dir: str | Path) -> list[str]:
    """The periods stored in ``history_dir``, oldest first (an absent folder has none)."""
    folder = Path(history_dir)
    if not folder.is_dir():
        return []
    found = [
        m.group(1)
        for p in folder.iterdir()
        if p.is_dir() and (m := _PERIOD_DIR.match(p.name)) and (p / f"{KPIS}.parquet").is_file()
    ]
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
    return (
        f"publish a pack (collections-mi pack) or fill past months with "
        f"`collections-mi backfill --params params/<YYYY-MM>.yaml{span}`"
    )


# ---------------------------------------------------------------------------------------------------------------
# Exact columns ↔ Parquet


#: a column holding only these types (and None) is typed from the set of its types alone, in one pass
_OBVIOUS_TYPES: dict[frozenset[type], str] = {
    frozenset({Decimal}): "decimal",
    frozenset({Decimal, int}): "decimal",
    frozenset({int}): "int",
    frozenset({str}): "str",
    frozenset({dt.date}): "date",
    frozenset({bool}): "bool",
    frozenset({float}): "float",
}


def _column_type(values: Sequence[Any]) -> str:
    """decimal | int | float | bool | date | str — the vocabulary of tables/_types.json."""
    types = set(map(type, values))
    types.discard(type(None))
    obvious = _OBVIOUS_TYPES.get(frozenset(types))
    if obvious is not None and (obvious != "float" or all(v == v for v in values if v is not None)):
        return obvious
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
    types = set(map(type, values))
    types.discard(type(None))
    if types == {_NATIVE.get(kind)}:  # Arrow takes these as they are (None is null)
        return pa.array(values, type=arrow_type)
    if kind == "decimal":  # money, most of a large table's cells: a Decimal's text without the per-cell checks
        return pa.array(
            [decimal_text(v) if type(v) is Decimal else None if is_missing(v) else convert(v) for v in values],
            type=arrow_type,
        )
    return pa.array([None if is_missing(v) else convert(v) for v in values], type=arrow_type)


#: the Python type Arrow converts to each kind's Arrow type unchanged (money is text: never native)
_NATIVE: dict[str, type] = {"int": int, "bool": bool, "date": dt.date, "str": str}


def frame_to_arrow(frame: pd.DataFrame, period: str, as_of: dt.date, name: str) -> pa.Table:
    """A result table with ``period`` and ``as_of`` in front; each column's exact type in its field metadata."""
    return with_snapshot_columns(columns_to_arrow(frame), period, as_of, name)


def columns_to_arrow(frame: pd.DataFrame) -> pa.Table:
    """``frame``'s columns in Arrow, each column's exact type in its field metadata (money as exact text)."""
    fields, arrays = [], []
    for column in frame.columns:
        values = frame[column].tolist()
        arrow_field, array = _typed_column(str(column), values, _column_type(values))
        fields.append(arrow_field)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def _typed_column(name: str, values: list[Any], kind: str) -> tuple[pa.Field, pa.Array]:
    """One column of :func:`columns_to_arrow`: its field (the kind in its metadata) and its values."""
    return pa.field(name, _ARROW[kind][0], metadata={TYPE_KEY: kind.encode()}), _arrow_column(values, kind)


def with_snapshot_columns(table: pa.Table, period: str, as_of: dt.date, name: str) -> pa.Table:
    """:func:`columns_to_arrow`'s ``table`` as the history stores it: ``period`` and ``as_of`` in front."""
    clash = [c for c in SNAPSHOT_COLUMNS if c in table.column_names]
    if clash:
        raise HistoryError(
            f"table {name} already has a column named {', '.join(clash)}",
            hint="rename that column in the metrics module; the history adds period and as_of",
        )
    rows = table.num_rows
    fields = [
        pa.field("period", pa.string(), metadata={TYPE_KEY: b"str"}),
        pa.field("as_of", pa.date32(), metadata={TYPE_KEY: b"date"}),
        *table.schema,
    ]
    arrays = [pa.array([period] * rows, type=pa.string()), pa.array([as_of] * rows, type=pa.date32()), *table.columns]
    schema = pa.schema(
        fields, metadata={b"collections_mi.table": name.encode(), b"collections_mi.period": period.encode()}
    )
    return pa.Table.from_arrays(arrays, schema=schema)


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """Back to exact Python values (Decimal, int, date, …) in object columns, as ``read_results`` gives them."""
    columns = {}
    for position, arrow_field in enumerate(table.schema):
        values = python_values(table.column(position), column_kind(arrow_field))
        columns[arrow_field.name] = pd.Series(values, dtype="object")
    return pd.DataFrame(columns, columns=table.column_names)


def column_kind(arrow_field: pa.Field) -> str | None:
    """The exact kind a column's field records (decimal — money as exact text —, int, float, bool, date, str)."""
    return (arrow_field.metadata or {}).get(TYPE_KEY, b"").decode() or None


def python_values(values: pa.Array | pa.ChunkedArray, kind: str | None) -> list[Any]:
    """A column of :func:`columns_to_arrow` back as its exact Python values (money text as Decimal); None stays."""
    cells = values.to_pylist()
    if kind in _PARSE:
        parse = _PARSE[kind]
        cells = [None if v is None else parse(v) for v in cells]
    return cells


def kpis_to_arrow(results: Mapping[str, SectionResult[Any, Any]], period: str, as_of: dt.date) -> pa.Table:
    """The KPIs in long form: one row per KPI with its section, exact value text and type."""
    rows: dict[str, list[Any]] = defaultdict(list)
    for section, result in results.items():
        for kpi, value in result.kpis.items():
            if is_missing(value):
                text, kind = None, "null"
            elif isinstance(value, (bool, np.bool_)):
                raise HistoryError(f"KPI {kpi} is a boolean, not a number")
            elif isinstance(value, (int, np.integer)):
                text, kind = exact_text(value), "int"
            elif isinstance(value, Decimal):
                text, kind = exact_text(value), "decimal"
            elif isinstance(value, (float, np.floating)):
                text, kind = float_text(value), "float"
            else:
                raise HistoryError(f"KPI {kpi} = {value!r} is not a number")
            rows["section"].append(section)
            rows["kpi"].append(kpi)
            rows["value"].append(text)
            rows["type"].append(kind)
    count = len(rows["kpi"])
    return pa.table(
        {
            "period": pa.array([period] * count, pa.string()),
            "as_of": pa.array([as_of] * count, pa.date32()),
            "section": pa.array(rows["section"], pa.string()),
            "kpi": pa.array(rows["kpi"], pa.string()),
            "value": pa.array(rows["value"], pa.string()),
            "type": pa.array(rows["type"], pa.string()),
        }
    )


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


def open_items_table(open_items: pd.DataFrame, period: str, as_of: dt.date) -> pa.Table:
    """The open items as the history stores them: Arrow columns (money as exact text) rather than a Python object
    per cell: a quarter of the memory (a 1M-invoice ledger's 75,705 open items: 61 MB as a frame, 16 MB here; 609 MB
    as a frame at 10M), so a pack converts them once computed and holds this table until the history is stored."""
    return frame_to_arrow(open_items, period, as_of, OPEN_ITEMS)


def _stored_open_items(open_items: pd.DataFrame | pa.Table, period: str, as_of: dt.date) -> pa.Table:
    """``open_items`` as stored: converted from a frame, or checked to be :func:`open_items_table` of ``period``."""
    if isinstance(open_items, pd.DataFrame):
        return open_items_table(open_items, period, as_of)
    metadata = open_items.schema.metadata or {}
    stored_as = (metadata.get(b"collections_mi.table"), metadata.get(b"collections_mi.period"))
    if stored_as != (OPEN_ITEMS.encode(), period.encode()):
        raise HistoryError(
            f"the open items given for {period} are not that month's open_items table "
            f"(table {stored_as[0]!r}, period {stored_as[1]!r})",
            hint="pass the frame, or open_items_table(frame, params.period, params.as_of)",
        )
    return open_items


#: a table at rest of at most this many rows is kept as a frame once used (the tables the front page, the email and
#: its charts show); a longer one is converted each time it is used (the workbook uses it once)
KEPT_ROWS = 10_000


@dataclass(frozen=True)
class HeldTable:
    """One table at rest: the columns Arrow gives back exactly, and the others as their objects."""

    columns: list[Any]
    index: pd.Index
    exact: pa.Table
    #: a column Arrow would not give back as it was — e.g. the forecast's week, 1 … 13 or "later": Arrow's text
    #: column would make the numbers text — kept as the values themselves (mostly shared small ints and labels)
    as_objects: dict[Any, list[Any]]
    #: a frame whose column names are not distinct texts, held as it is
    itself: pd.DataFrame | None = None

    def frame(self, rows: slice) -> pd.DataFrame:
        if self.itself is not None:
            return self.itself.iloc[rows]
        index = self.index[rows]
        exact = arrow_to_frame(self.exact.slice(rows.start, rows.stop - rows.start))
        columns = {name: exact[name].tolist() for name in exact.columns}
        for name, values in self.as_objects.items():
            columns[name] = values[rows]
        # object columns, as computed: a text column's None stays None (not NaN, as an inferred text type makes it)
        return pd.DataFrame(
            {name: pd.Series(columns[name], index=index, dtype="object") for name in self.columns}, index=index
        )

    @property
    def rows(self) -> int:
        return len(self.index)

    def kinds(self) -> list[str | None]:
        """Each column's exact kind (:func:`column_kind`) if it is held as Arrow, None if held as its objects."""
        if self.itself is not None:
            return [None] * len(self.columns)
        return [
            None if name in self.as_objects else column_kind(self.exact.schema.field(name)) for name in self.columns
        ]

    def column_part(self, position: int, start: int, stop: int) -> pa.Array | list[Any]:
        """Rows ``start`` … ``stop`` - 1 of the column at ``position``: Arrow as held (a column of
        :meth:`kinds`), or the values themselves."""
        if self.itself is not None:
            return self.itself.iloc[start:stop, position].tolist()
        name = self.columns[position]
        if name in self.as_objects:
            return self.as_objects[name][start:stop]
        return self.exact.column(name).slice(start, stop - start).combine_chunks()


#: the type each column kind comes back as from Arrow (:func:`arrow_to_frame`)
_KIND_TYPE: dict[str, type] = {
    "decimal": Decimal,
    "int": int,
    "float": float,
    "bool": bool,
    "date": dt.date,
    "str": str,
}


def _given_back_exactly(values: list[Any], kind: str) -> bool:
    """Whether Arrow gives ``values`` back as they are: every cell None or of the kind's own type (no int in a
    text column, no datetime in a date column), and no NaN (Arrow gives None)."""
    types = set(map(type, values))
    types.discard(type(None))
    if not types <= {_KIND_TYPE[kind]}:
        return False
    return kind != "float" or not any(v != v for v in values if v is not None)


class TablesAtRest:
    """A pack's computed tables, from when tables/ is written until the history is stored, in the history's form
    (Arrow columns, money as exact text: :func:`columns_to_arrow`) instead of a Python object per cell — a
    :class:`~collections_mi.metrics.result.TableReader` that gives each back as the same frame: the same values of
    the same types, in the same order, on the same index. At 10M invoices a pack held its tables through the
    notebooks, the workbook and the email as ~1.5 GB of Python objects; the history then stores these very tables."""

    def __init__(self, period: str, as_of: dt.date, kept_rows: int = KEPT_ROWS) -> None:
        self.period, self.as_of, self.kept_rows = period, as_of, kept_rows
        self._held: dict[str, HeldTable] = {}

    def __call__(self, file: str) -> pd.DataFrame:
        held = self._held[file]
        return held.frame(slice(0, len(held.index)))

    def first_rows(self, file: str, count: int) -> FirstRows:
        held = self._held[file]
        rows = len(held.index)
        return FirstRows(held.frame(slice(0, min(count, rows))), rows)

    def keeps(self, file: str) -> bool:
        return len(self._held[file].index) <= self.kept_rows

    def put(self, results: Mapping[str, SectionResult[Any, Any]]) -> None:
        """Every available table of ``results`` converted and held here; each result's tables then read from here."""
        for result in results.values():
            for file, frame in result.tables.published().items():
                self._held[file] = held_table(frame)
            result.tables = result.tables.at_rest(self)

    def held(self, file: str) -> HeldTable | None:
        """The table ``file`` as held (its columns at rest), None if not held."""
        return self._held.get(file)

    def stored(self, file: str) -> pa.Table | None:
        """The table ``file`` as :func:`columns_to_arrow` gives it (what the history stores), None if not held."""
        held = self._held.get(file)
        if held is None:
            return None
        if held.itself is not None:
            return columns_to_arrow(held.itself)
        if not held.as_objects:
            return held.exact
        # the exact columns as they are; only the columns held as objects are typed now (in their place)
        fields, arrays = [], []
        for column in held.columns:
            if column in held.as_objects:
                values = held.as_objects[column]
                arrow_field, array = _typed_column(column, values, _column_type(values))
            else:
                arrow_field, array = held.exact.schema.field(column), held.exact.column(column)
            fields.append(arrow_field)
            arrays.append(array)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def held_table(frame: pd.DataFrame) -> HeldTable:
    """``frame`` as :class:`TablesAtRest` holds it: each column Arrow gives back exactly as Arrow (money as exact
    text), the others as their values; a frame whose column names are not distinct texts as it is."""
    if not frame.columns.is_unique or not all(isinstance(c, str) for c in frame.columns):
        return HeldTable(list(frame.columns), frame.index, pa.table({}), {}, itself=frame)
    fields, arrays, as_objects = [], [], {}
    for column in frame.columns:
        values = frame[column].tolist()
        kind = _column_type(values)
        if _given_back_exactly(values, kind):
            arrow_field, array = _typed_column(column, values, kind)
            fields.append(arrow_field)
            arrays.append(array)
        else:
            as_objects[column] = values
    exact = pa.Table.from_arrays(arrays, schema=pa.schema(fields)) if fields else pa.table({})
    return HeldTable(list(frame.columns), frame.index, exact, as_objects)


def store_snapshot(
    history_dir: str | Path,
    params: Params,
    results: Mapping[str, SectionResult[Any, Any]],
    open_items: pd.DataFrame | pa.Table | None = None,
    *,
    origin: Mapping[str, Any] | None = None,
    at_rest: TablesAtRest | None = None,
) -> Path:
    """Store one period (params.period): its KPIs, every table of ``results`` — taken as they are from ``at_rest``
    when held there — and the open items (a frame, or :func:`open_items_table` of it); replaces the period if
    stored before."""
    history_dir = Path(history_dir)
    history_dir.mkdir(parents=True, exist_ok=True)
    period, as_of = params.period, params.as_of
    if at_rest is not None and (at_rest.period, at_rest.as_of) != (period, as_of):
        raise HistoryError(f"the tables held for {at_rest.period} are not {period}'s")
    tables: dict[str, pd.DataFrame | pa.Table] = {}
    for result in results.values():
        for name, file in result.tables.available_files().items():
            held = at_rest.stored(file) if at_rest is not None else None
            if held is not None:
                tables[file] = with_snapshot_columns(held, period, as_of, file)
            else:
                tables[file] = getattr(result.tables, name)
    reserved = sorted(set(tables) & {KPIS, OPEN_ITEMS})
    if reserved:
        raise HistoryError(f"a section returns a table named {', '.join(reserved)}, a name the history reserves")
    if open_items is not None:
        tables[OPEN_ITEMS] = _stored_open_items(open_items, period, as_of)
    staging = history_dir / f".staging-{period}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        pq.write_table(kpis_to_arrow(results, period, as_of), staging / f"{KPIS}.parquet")
        for name, frame in tables.items():
            table = frame if isinstance(frame, pa.Table) else frame_to_arrow(frame, period, as_of, name)
            pq.write_table(table, staging / f"{name}.parquet")
        manifest = {
            "period": period,
            "as_of": str(as_of),
            "stored_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **(dict(origin) if origin else {}),
            "collections_mi": __version__,
            "sections": list(results),
            "kpis": sum(len(r.kpis.ids()) for r in results.values()),
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


# ---------------------------------------------------------------------------------------------------------------
# Reading


def _require_history(history_dir: Path) -> list[str]:
    found = periods(history_dir)
    if not found:
        raise HistoryError(
            f"no history in {history_dir} (no period=YYYY-MM folders with kpis.parquet)", hint=_backfill_hint()
        )
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
        row: dict[str, Any] = {"period": period, "as_of": table["as_of"][0] if table["as_of"] else month_end_of(period)}
        for kpi, value, kind in zip(table["kpi"], table["value"], table["type"]):
            row[kpi] = None if value is None else TEXT_PARSERS[kind](value)
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
            raise HistoryError(
                f"the history in {history_dir} has no table {name!r}", hint=f"choose one of: {available}"
            )
        return pd.DataFrame(columns=list(SNAPSHOT_COLUMNS))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame = frame.astype("object")
    return frame.where(frame.notna(), None)
