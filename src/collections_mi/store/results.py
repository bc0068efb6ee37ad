"""Writing and reading a run's computed results: kpis.json and tables/*.csv with exact values.

CSV cells hold exact decimals in plain notation (no exponent, no float rounding); ``tables/_types.json``
records each column's type so :func:`read_results` restores Decimals, dates and integers exactly.

Text cells are written so that no spreadsheet runs them as a formula (OWASP, "CSV Injection"): a text cell that
begins with ``=``, ``+``, ``-`` or ``@`` — also after leading spaces, which a spreadsheet trims on import — or with a
tab or a carriage return gets a leading ``'``, as does one that begins with ``'`` itself, so reading it back is
exact. Numbers, dates and booleans are never touched: a negative amount stays the number ``-12.50``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import itertools
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collections_mi.core.values import (
    MOSTLY_DISTINCT,
    TEXT_PARSERS,
    cell_text,
    date_text,
    decimal_text,
    json_number,
)
from collections_mi.metrics.published import PUBLISHED
from collections_mi.metrics.result import FirstRows, SectionResult
from collections_mi.store.history import HeldTable, TablesAtRest, python_values

TYPES_FILE = "_types.json"
SECTIONS_FILE = "_sections.json"
#: what a spreadsheet reads as the start of a formula in a text cell, after any leading whitespace (OWASP)
FORMULA_STARTS = ("=", "+", "-", "@")
#: control characters OWASP lists as formula starts too; Python's strip() counts them as whitespace
FORMULA_CONTROLS = ("\t", "\r")
#: the prefix that makes a spreadsheet show a cell as text
TEXT_PREFIX = "'"


def neutralised(text: str) -> str:
    """A text cell as tables/*.csv writes it: ``'=HYPERLINK(…)`` for ``=HYPERLINK(…)``, ``' -5`` for `` -5``;
    a text that already begins with ``'`` gets another, so :func:`restored` gives back every text exactly."""
    if text.startswith((*FORMULA_CONTROLS, TEXT_PREFIX)) or text.lstrip().startswith(FORMULA_STARTS):
        return TEXT_PREFIX + text
    return text


def restored(text: str) -> str:
    """The text :func:`neutralised` was given."""
    return text[len(TEXT_PREFIX) :] if text.startswith(TEXT_PREFIX) else text


def kpis_json(kpis: Mapping[str, Any]) -> str:
    """The flat kpis.json object (metric id → number), keys in a stable order, unrounded values."""
    body = ",\n".join(f"  {json.dumps(key)}: {json_number(value)}" for key, value in kpis.items())
    return "{\n" + body + "\n}\n"


def _column_type(series: pd.Series) -> str:
    values = [v for v in series if v is not None and not (isinstance(v, float) and v != v)]
    if not values:
        return "str"
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return "bool"
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values):
        return "int"
    if all(isinstance(v, (Decimal, int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values):
        return "decimal"
    if all(isinstance(v, dt.date) for v in values):
        return "date"
    if all(
        isinstance(v, (float, np.floating, int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values
    ):
        return "float"  # statistics (t, p-values), never money
    return "str"


def _cell(value: Any) -> str:
    """One CSV cell: a text value neutralised against formulas, anything else as
    :func:`~collections_mi.core.values.cell_text` writes it (a number stays a number, whatever its sign)."""
    return neutralised(value) if isinstance(value, str) else cell_text(value)


#: what makes a CSV cell need quotes (csv.writer's minimal quoting, plus a carriage return: :func:`_csv_line`)
_NEEDS_QUOTES = re.compile('[,"\n\r]')


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTES.search(cell) else cell


def _csv_line(cells: list[str]) -> str:
    """One CSV record as ``csv.writer`` writes it with ``\\n`` line ends, except that a cell holding a carriage
    return is quoted too (the csv module quotes only the line terminator's characters, so a bare CR split the
    record for every reader, ours included)."""
    if cells == [""]:
        return '""\n'  # a lone empty cell, as csv.writer writes it: an empty line would be no record at all
    return ",".join(map(_quoted, cells)) + "\n"


#: rows joined into text at a time (bounds the memory of a large table's CSV)
_ROWS_AT_A_TIME = 50_000


def _column_cells(values: list[Any]) -> list[str]:
    """:func:`_cell` of each value, quoted as :func:`_csv_line` quotes it — money (a Decimal) and counts, most of a
    large table's cells, without the per-cell type tests (neither ever needs quotes); a date spelled once."""
    dates: dict[dt.date, str] = {}
    return [
        decimal_text(value)
        if type(value) is Decimal
        else str(value)
        if type(value) is int
        else (dates[value] if value in dates else dates.setdefault(value, date_text(value)))
        if type(value) is dt.date
        else _quoted(neutralised(value))
        if type(value) is str
        else _quoted(_cell(value))
        for value in values
    ]


def write_table(frame: pd.DataFrame, path: Path) -> dict[str, str]:
    """tables/<name>.csv: the header and each row as :func:`_csv_line` writes them, converted a column at a time."""
    types = {str(c): _column_type(frame[c]) for c in frame.columns}
    raw = [frame[column].tolist() for column in frame.columns]
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(_csv_line([neutralised(str(c)) for c in frame.columns]))
        for start in range(0, len(frame), _ROWS_AT_A_TIME):
            columns = [_column_cells(values[start : start + _ROWS_AT_A_TIME]) for values in raw]
            if len(columns) == 1:  # a lone empty cell is written '""', as csv.writer writes it (_csv_line)
                columns = [[cell or '""' for cell in columns[0]]]
            handle.write("".join(",".join(row) + "\n" for row in zip(*columns)) if columns else "\n" * len(frame))
    return types


#: a text cell Arrow may write as it is: it starts with an ASCII letter or digit (so it is no formula, and needs
#: no ' in front) and holds no comma, quote or line end (so it needs no quotes); any other goes through Python
_PLAIN_TEXT = r'^[0-9A-Za-z][^,"\r\n]*$'
#: the first year Arrow spells as date_text does (four digits: Python's %Y gives 999 for the year 999)
_FIRST_PLAIN_YEAR = dt.date(1000, 1, 1)


def _csv_cells(values: pa.Array, kind: str | None) -> pa.Array:
    """The CSV cells of a column held at rest (:class:`~collections_mi.store.history.HeldTable`), "" where missing:
    what :func:`_column_cells` writes from its values — money's exact text as it is held, counts, ISO dates,
    true/false and plain text spelled in Arrow, anything else through Python."""
    if kind == "decimal":  # held as decimal_text: digits, a sign and a point (or NaN, Infinity): never quoted
        return values.fill_null("")
    if kind == "int":
        return pc.cast(values, pa.string()).fill_null("")
    if kind == "bool":
        return pc.if_else(values, "true", "false").fill_null("")
    if kind == "date" and (pc.min(values).as_py() or _FIRST_PLAIN_YEAR) >= _FIRST_PLAIN_YEAR:
        return pc.cast(values, pa.string()).fill_null("")
    if kind == "str":
        plain = pc.match_substring_regex(values, _PLAIN_TEXT).fill_null(True)
        written_by_python = pc.invert(plain)
        others = np.flatnonzero(written_by_python.to_numpy(zero_copy_only=False))
        cells = values.fill_null("")
        if len(others) == 0:
            return cells
        written = _column_cells(values.take(pa.array(others)).to_pylist())
        return pc.replace_with_mask(cells, written_by_python, pa.array(written, pa.string()))
    return pa.array(_column_cells(python_values(values, kind)), pa.string())


def write_held_table(table: HeldTable, path: Path) -> dict[str, str]:
    """tables/<name>.csv of a table held at rest: the same file :func:`write_table` writes from its frame, each
    column held as Arrow spelled in Arrow (:func:`_csv_cells`), a column held as its objects cell by cell."""
    if table.itself is not None:
        return write_table(table.itself, path)
    kinds = table.kinds()
    types = {
        name: kind if kind is not None else _column_type(pd.Series(table.as_objects[name], dtype="object"))
        for name, kind in zip(table.columns, kinds)
    }
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(_csv_line([neutralised(str(c)) for c in table.columns]))
        for start in range(0, table.rows, _ROWS_AT_A_TIME):
            stop = min(start + _ROWS_AT_A_TIME, table.rows)
            parts = [table.column_part(position, start, stop) for position in range(len(kinds))]
            cells = [
                _csv_cells(part, kind) if isinstance(part, pa.Array) else pa.array(_column_cells(part), pa.string())
                for part, kind in zip(parts, kinds)
            ]
            if not cells:
                handle.write("\n" * (stop - start))
                continue
            if len(cells) == 1:  # a lone empty cell is written '""', as csv.writer writes it (_csv_line)
                cells = [pc.if_else(pc.equal(cells[0], ""), '""', cells[0])]
            write_joined(handle, pc.binary_join_element_wise(*cells, ","), "\n", "\n")
    return types


def write_joined(handle: TextIO, texts: pa.Array, separator: str = "", end: str = "") -> None:
    """Write every text of ``texts`` (none missing) one after another, ``separator`` between them, then ``end``, to
    ``handle`` (a UTF-8 text file) as the bytes Arrow joined them into: no Python string of the block is made and
    encoded again (at 10M invoices the workbook's rows are 1.3 GB of XML). Newlines are written as they are — the
    same bytes wherever the file was opened with ``newline=""`` (tables/*.csv), or where ``\n`` is the line
    separator (XlsxWriter's row files, which it reads back in universal-newline mode anyway)."""
    if codecs.lookup(handle.encoding).name != "utf-8":
        raise ValueError(f"write_joined writes UTF-8, not {handle.encoding}")
    handle.flush()  # what the text layer holds goes first
    if len(texts):
        whole = pa.ListArray.from_arrays(pa.array([0, len(texts)], pa.int32()), texts)
        handle.buffer.write(pc.binary_join(whole, separator)[0].as_buffer())
    handle.buffer.write(end.encode("utf-8"))


def write_results(
    results: Mapping[str, SectionResult[Any, Any]],
    kpis: Mapping[str, Any],
    folder: Path,
    at_rest: TablesAtRest | None = None,
) -> None:
    """kpis.json, every available table as tables/<published name>.csv, their column types and, per section, which
    KPIs and tables it has and why any is not available. ``at_rest``: the results' tables as the pack holds them
    (:class:`~collections_mi.store.history.TablesAtRest`), each written from its Arrow columns
    (:func:`write_held_table`) rather than from the frame it would be converted back to."""
    tables_dir = folder / "tables"
    tables_dir.mkdir(parents=True, exist_ok=True)
    (folder / "kpis.json").write_text(kpis_json(kpis), encoding="utf-8")
    types: dict[str, dict[str, str]] = {}
    sections: dict[str, Any] = {}
    for name, result in results.items():
        rows: dict[str, int] = {}
        for field_name, table_name in result.tables.available_files().items():
            path = tables_dir / f"{table_name}.csv"
            held = at_rest.held(table_name) if at_rest is not None else None
            if held is not None:
                types[table_name], rows[table_name] = write_held_table(held, path), held.rows
            else:
                frame = getattr(result.tables, field_name)
                types[table_name], rows[table_name] = write_table(frame, path), len(frame)
        sections[name] = {
            "kpis": list(result.kpis.ids()),
            "tables": list(rows),
            "rows": rows,
            "conventions": result.conventions,
            "unavailable": result.unavailable,
        }
    (tables_dir / TYPES_FILE).write_text(json.dumps(types, indent=1, sort_keys=True), encoding="utf-8")
    (tables_dir / SECTIONS_FILE).write_text(json.dumps(sections, indent=1), encoding="utf-8")


_PARSERS: dict[str, Callable[[str], Any]] = {
    **TEXT_PARSERS,
    "str": restored,  # a number in a text column never begins with ': it is read back as written
}


def _parsed(texts: Iterable[str], parse: Callable[[str], Any], seen: dict[str, Any] | None) -> list[Any]:
    """Each cell of a column parsed — an empty one as None. With ``seen`` (text → value, kept across a column's blocks
    of rows), one object per distinct text: the values are immutable, so a column's repeated dates, ids, labels,
    counts and amounts share one (the same text gives the same value, a Decimal's exponent included)."""
    if seen is None:
        return [parse(text) if text != "" else None for text in texts]
    known, add, missing = seen.get, seen.setdefault, _MISSING
    return [value if (value := known(text, missing)) is not missing else add(text, parse(text)) for text in texts]


#: a cell :func:`_parsed` has not met yet (None is an empty cell's value)
_MISSING = object()
#: values of a column read before :func:`read_table` judges whether they repeat
_JUDGED_AFTER = 1_000


def read_table(path: Path, types: Mapping[str, str], rows: int | None = None) -> pd.DataFrame:
    """A table as :func:`write_table` wrote it, each column typed, read a block of rows at a time, never all the rows'
    texts at once. A column whose first block repeats its values (dates, customer ids, currencies, labels, counts,
    zero amounts) keeps one object per distinct value: a 10M-invoice pack's cash kernel reads its tables in 515 MB
    instead of 1,020, the DSO kernel in 701 instead of 1,055. A column of mostly distinct values (over 80 %: invoice
    ids, most amounts) is parsed cell by cell from its second block on: sharing would save little there and cost a
    large dictionary. With ``rows``, only the first ``rows`` rows."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = [restored(name) for name in next(reader)]
        parsers = [_PARSERS[types.get(name, "str")] for name in header]
        seen: list[dict[str, Any] | None] = [{"": None} for _ in header]
        values: list[list[Any]] = [[] for _ in header]
        rows_left = sys.maxsize if rows is None else rows
        while block := list(itertools.islice(reader, min(_ROWS_AT_A_TIME, rows_left))):
            rows_left -= len(block)
            for position, parse in enumerate(parsers):
                values[position].extend(_parsed(map(itemgetter(position), block), parse, seen[position]))
                distinct, count = seen[position], len(values[position])
                if distinct is not None and count >= _JUDGED_AFTER and len(distinct) - 1 > count * MOSTLY_DISTINCT:
                    seen[position] = None  # mostly distinct so far: cell by cell from the next block on
    columns = {name: pd.Series(column, dtype="object") for name, column in zip(header, values)}
    return pd.DataFrame(columns, columns=header)


@dataclass(frozen=True)
class _WrittenTables:
    """The tables of a results folder, each read whole or only its first rows (a
    :class:`~collections_mi.metrics.result.TableReader`)."""

    tables_dir: Path
    types: Mapping[str, Mapping[str, str]]
    #: rows of each table as written (results written before the count was recorded: counted when asked)
    rows: Mapping[str, int]

    def __call__(self, file: str) -> pd.DataFrame:
        return read_table(self.tables_dir / f"{file}.csv", self.types.get(file, {}))

    def keeps(self, file: str) -> bool:
        return True  # a page uses a table it reads a few times: read it once

    def first_rows(self, file: str, count: int) -> FirstRows:
        path = self.tables_dir / f"{file}.csv"
        rows = self.rows.get(file)
        if rows is None:
            with path.open(newline="", encoding="utf-8") as handle:
                rows = sum(1 for _ in csv.reader(handle)) - 1
        return FirstRows(read_table(path, self.types.get(file, {}), rows=count), rows)


def read_kpis(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "kpis.json").read_text(encoding="utf-8"), parse_float=Decimal)


def read_results(
    folder: Path, only: Iterable[str] | None = None, *, when_used: bool = False
) -> dict[str, SectionResult[Any, Any]]:
    """Read back what :func:`write_results` wrote, with exact types, as each section's typed result — every section,
    or those in ``only`` (a notebook reads just its own: a large book's per-customer tables are not loaded into
    every kernel). With ``when_used`` each table is read the first time it is used (a notebook page: the tables it
    never shows are never read). A table the folder lacks holds
    :class:`~collections_mi.metrics.result.Unavailable` with the recorded reason; a section this version does not
    publish is left out."""
    folder = Path(folder)
    tables_dir = folder / "tables"
    types = json.loads((tables_dir / TYPES_FILE).read_text(encoding="utf-8"))
    sections = json.loads((tables_dir / SECTIONS_FILE).read_text(encoding="utf-8"))
    if only is not None:
        wanted = set(only)
        sections = {name: meta for name, meta in sections.items() if name in wanted}
    kpis = read_kpis(folder)
    results: dict[str, SectionResult[Any, Any]] = {}
    for name, meta in sections.items():
        if name not in PUBLISHED:
            continue  # a section this version does not publish (results written by another version)
        outputs = PUBLISHED[name]
        unavailable = meta.get("unavailable", {})
        files = set(outputs.tables.files().values())
        written = [t for t in meta["tables"] if t in files]
        read = _WrittenTables(tables_dir, types, meta.get("rows", {}))
        if when_used:
            tables = outputs.tables.read_when_used(read, written, unavailable)
        else:
            tables = outputs.tables.from_published({t: read(t) for t in written}, unavailable)
        results[name] = SectionResult(
            section=name,
            kpis=outputs.kpis.from_values({k: kpis.get(k) for k in meta["kpis"]}),
            tables=tables,
            conventions=meta["conventions"],
            unavailable=unavailable,
        )
    return results
