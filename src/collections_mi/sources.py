"""Sources: open the ledger named in params and expose the contract tables on a compute engine.

Everything here is lazy: tables are Ibis expressions on the engine (DuckDB by default), never a
full copy of the ledger in pandas. Two views of every table:

* ``raw``  — every column as trimmed text (empty → null), exactly as supplied; validation checks it.
* ``typed`` — the contract types (dates, exact ``decimal(18, 4)`` money, booleans); metrics use it.

This module and :mod:`collections_mi.pack` are the only places that do IO.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from collections_mi.config import Params, redact_url, resolve_location
from collections_mi.contract import ENGINE_TYPES, FALSE_STRINGS, TABLES, TRUE_STRINGS, Column
from collections_mi.errors import SourceError


@dataclass(frozen=True)
class SourceFile:
    table: str
    path: str
    bytes: int
    sha256: str


@dataclass
class Ledger:
    """The contract tables of one source on one engine."""

    backend: Any
    raw: dict[str, ir.Table]
    typed: dict[str, ir.Table]
    reporting_currency: str
    description: str
    files: list[SourceFile] = field(default_factory=list)
    #: columns present in the source that the contract does not define (carried through)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)

    def has(self, table: str) -> bool:
        return table in self.typed

    def row_counts(self) -> dict[str, int]:
        return {name: int(t.count().execute()) for name, t in self.raw.items()}

    def fingerprint(self, row_counts: dict[str, int] | None = None) -> dict[str, Any]:
        """What identifies the data of this run: files with sha256, or the connection; and row counts
        (``row_counts`` when already known, e.g. from validation, else counted now)."""
        return {
            "description": self.description,
            "files": [f.__dict__ for f in self.files],
            "row_counts": dict(row_counts) if row_counts is not None else self.row_counts(),
        }


def fetch(expr: ir.Table) -> pd.DataFrame:
    """Execute ``expr`` and return pandas with dates as ``datetime.date`` and decimals as ``Decimal``."""
    return expr.to_pyarrow().to_pandas()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: DuckDB's memory ceiling unless $COLLECTIONS_MI_MEMORY_LIMIT says otherwise: beyond it the engine spills to
#: disk instead of growing (its own default, 80 % of RAM, let a 10M-invoice run reach 8 GB)
DEFAULT_MEMORY_LIMIT = "2GB"


def _connect_duckdb(database: str = ":memory:", read_only: bool = False) -> Any:
    """A DuckDB connection with bounded memory: $COLLECTIONS_MI_MEMORY_LIMIT (default 2GB; e.g. 8GB, 500MB),
    spilling to $COLLECTIONS_MI_TEMP_DIR (default: a folder per process in the system temp dir, which DuckDB
    creates only when it spills and removes on close),
    and $COLLECTIONS_MI_THREADS threads (default: all cores)."""
    backend = ibis.duckdb.connect(database, read_only=read_only)
    limit = os.environ.get("COLLECTIONS_MI_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", limit, flags=re.IGNORECASE):
        raise SourceError(f"COLLECTIONS_MI_MEMORY_LIMIT={limit!r} is not a memory size",
                          hint="set it like 2GB, 8GB or 500MB, or unset it for the default (2GB)")
    backend.raw_sql(f"SET memory_limit = '{limit}'")
    spill = os.environ.get("COLLECTIONS_MI_TEMP_DIR") or os.path.join(tempfile.gettempdir(),
                                                                          f"collections_mi-duckdb-{os.getpid()}")
    backend.raw_sql(f"SET temp_directory = '{spill.replace(chr(39), chr(39) * 2)}'")
    threads = os.environ.get("COLLECTIONS_MI_THREADS")
    if threads:
        backend.raw_sql(f"SET threads = {int(threads)}")
    return backend


#: the longest line (record) a CSV may have; a longer one is almost always an unclosed quote
MAX_CSV_LINE_BYTES = 2 * 1024 * 1024
#: characters of a CSV line or value quoted in an error message
_QUOTED_CHARS = 120
_OTHER_SEPARATORS = {";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}
_CSV_FIX = ("export the table again as CSV UTF-8 (comma delimited) with a header row — in Excel: Save As › "
            "CSV UTF-8 (Comma delimited) (*.csv)")


class _CsvProblem(Exception):
    """Why one CSV file cannot be read: ``problem`` and ``fix`` (both name the file)."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def _shorten(text: str, limit: int = _QUOTED_CHARS) -> str:
    text = text.rstrip("\r\n").replace("\t", "\\t")
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _csv_header(path: Path, table: str) -> list[str]:
    """The column names of a CSV's header row, checked: not empty, UTF-8, comma separated, no repeated name."""
    with path.open("rb") as handle:
        first = handle.readline(MAX_CSV_LINE_BYTES + 1)
        rest = handle.read(4096)
    if not first.strip(b"\xef\xbb\xbf \t\r\n"):
        required = ", ".join(TABLES[table].required_columns)
        if rest.strip():
            raise _CsvProblem("line 1 is blank: the header row naming the columns must be the first line",
                              f"remove the blank line(s) at the top of {path.name}")
        raise _CsvProblem(f"the file is empty: {table} needs at least a header row naming its columns",
                          f"export {path.name} again with its header row ({required} at least)")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _non_utf8(path) or _CsvProblem("line 1 is not UTF-8 text", _CSV_FIX) from None
    header = next(csv.reader([text], delimiter=",", quotechar='"', doublequote=True), [])
    if len(header) == 1:
        used = [name for sep, name in _OTHER_SEPARATORS.items() if sep in header[0]]
        if used:
            raise _CsvProblem(
                f"the file is not comma-separated: its header row is separated by {used[0]} "
                f"(line 1: {_shorten(text)})",
                f"export {path.name} again with commas between values (CSV UTF-8, comma delimited), or replace the "
                "separator by commas; decimals take a point (1234.56), not a comma")
    names = [name if name.strip() else f"column{i}" for i, name in enumerate(header)]
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        key = name.strip().lower()
        if key in seen:
            raise _CsvProblem(f"the header row names the column {name.strip()} twice (columns {seen[key]} and "
                              f"{position})", f"remove or rename one of the two {name.strip()} columns in {path.name}")
        seen[key] = position
    return names


def _non_utf8(path: Path) -> _CsvProblem | None:
    """Where the first byte that is not UTF-8 is: line and byte, and what the encoding probably is (None: the
    file is UTF-8)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        for raw in handle:
            try:
                decoder.decode(raw, final=False)
            except UnicodeDecodeError as exc:
                bad = raw[exc.start:exc.start + 1].hex().upper()
                return _CsvProblem(
                    f"the file is not UTF-8 text: line {line} holds the byte 0x{bad}, which is not valid UTF-8 "
                    "(the file was probably saved as Windows-1252 / Latin-1)",
                    f"export {path.name} again as UTF-8 (in Excel: Save As › CSV UTF-8 (Comma delimited)), or "
                    "convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8")
            line += 1
    return None


_DUCKDB_LINE = re.compile(r"CSV Error on Line: (\d+)")
_DUCKDB_ORIGINAL = re.compile(r"Original Line: ?(.*)")
_DUCKDB_COLUMNS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def _explain_csv_error(path: Path, message: str) -> _CsvProblem:
    """A DuckDB CSV error as a problem a finance user can fix (the raw message quotes whole lines)."""
    encoding = _non_utf8(path)  # DuckDB words this many ways (or not at all): look at the bytes
    if encoding is not None:
        return encoding
    line_match = _DUCKDB_LINE.search(message)
    line = f"line {line_match.group(1)}" if line_match else "a line"
    original = _DUCKDB_ORIGINAL.search(message)
    quoted = f" ({line}: {_shorten(original.group(1))})" if original and original.group(1).strip() else ""
    columns = _DUCKDB_COLUMNS.search(message)
    if columns:
        expected, found = columns.groups()
        return _CsvProblem(
            f"{line} has {found} values but the header row has {expected} columns{quoted}",
            f"in {path.name}, enclose a value that contains a comma in double quotes (\"Acme, Inc\") and give "
            f"{line} exactly {expected} values")
    if "unterminated quote" in message.lower():
        return _CsvProblem(
            f"{line} opens a double quote that is never closed{quoted}",
            f"close the quote on {line} of {path.name} (\"Acme, Inc\"), or remove the stray \"; a quote inside a "
            "quoted value is written twice (\"\")")
    if "maximum line size" in message.lower():
        return _CsvProblem(
            f"{line} is longer than {MAX_CSV_LINE_BYTES // (1024 * 1024)} MB, the most a line may hold",
            f"check {line} of {path.name} for a double quote that is never closed; a single value (a name, a note) "
            f"must stay below {MAX_CSV_LINE_BYTES // (1024 * 1024)} MB")
    first = next((part.strip() for part in message.splitlines() if part.strip()), "unknown error")
    return _CsvProblem(f"cannot be read as a comma-separated UTF-8 CSV with a header row: {_shorten(first, 300)}",
                       _CSV_FIX)


def _check_value_counts(path: Path, columns: int) -> None:
    """Every record has as many values as the header has columns.

    DuckDB's strict mode rejects a row with extra values, except when the extra values are empty: ``C4,Acme,
    Inc,SMB,,`` (an unquoted comma) would be read shifted by one column without a word. One pass of the csv
    module finds it (about a second per million rows).
    """
    previous = csv.field_size_limit()
    csv.field_size_limit(MAX_CSV_LINE_BYTES)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=",", quotechar='"', doublequote=True, strict=True)
            next(reader, None)
            for record in reader:
                if record and len(record) != columns:
                    line = f"line {reader.line_num}"
                    raise _CsvProblem(
                        f"{line} has {len(record)} values but the header row has {columns} columns "
                        f"({line}: {_shorten(','.join(record))})",
                        f"in {path.name}, enclose a value that contains a comma in double quotes (\"Acme, Inc\") "
                        f"and give {line} exactly {columns} values")
    except csv.Error:
        return  # DuckDB read the file; a quoting subtlety the csv module disagrees on is not worth an error
    finally:
        csv.field_size_limit(previous)


def _read_csv(backend: Any, name: str, path: Path) -> ir.Table:
    names = _csv_header(path, name)
    try:
        # all text, exactly the header's columns, strict CSV: validation sees values as written, a malformed
        # line is an error (never silently padded or skipped); `typed` casts the text afterwards
        view = backend.read_csv(str(path), table_name=f"csv_{name}", columns={c: "VARCHAR" for c in names},
                                header=True, delim=",", quote='"', escape='"', strict_mode=True,
                                max_line_size=MAX_CSV_LINE_BYTES)
        # parse the CSV once into the engine; every later query reads the in-engine copy
        table = backend.create_table(f"src_{name}", view)
    except Exception as exc:  # duckdb raises its own error types for unreadable CSV
        raise _explain_csv_error(path, str(exc)) from None
    _check_value_counts(path, len(names))
    return table


def _read_files(folder: Path) -> tuple[Any, dict[str, ir.Table], list[SourceFile]]:
    if not folder.is_dir():
        raise SourceError(f"source folder not found: {folder}",
                          hint="set source.location in params to the folder holding <table>.csv/.parquet "
                               "(for the demo run `collections-mi demo --out data/demo`)")
    backend = _connect_duckdb()
    tables: dict[str, ir.Table] = {}
    files: list[SourceFile] = []
    problems: list[tuple[Path, _CsvProblem]] = []
    for name in TABLES:
        parquet, csv_path = folder / f"{name}.parquet", folder / f"{name}.csv"
        if parquet.is_file():
            path = parquet
            table = backend.read_parquet(str(parquet), table_name=f"src_{name}")
        elif csv_path.is_file():
            path = csv_path
            try:
                table = _read_csv(backend, name, csv_path)
            except _CsvProblem as problem:
                problems.append((csv_path, problem))  # read the other files too: report every unreadable one
                continue
        else:
            continue
        tables[name] = table
        files.append(SourceFile(name, str(path), path.stat().st_size, _sha256(path)))
    if len(problems) == 1:
        path, problem = problems[0]
        raise SourceError(f"{path} (table {path.stem}): {problem.problem}", hint=problem.fix)
    if problems:
        lines = [f"  {path} (table {path.stem}): {problem.problem}\n    fix: {problem.fix}"
                 for path, problem in problems]
        raise SourceError(f"{len(problems)} source files cannot be read as CSV:\n" + "\n".join(lines),
                          hint="correct the files listed above and run again")
    return backend, tables, files


def _read_backend(backend: Any, schema: str | None) -> dict[str, ir.Table]:
    available = set(backend.list_tables(database=schema) if schema else backend.list_tables())
    return {name: backend.table(name, database=schema) if schema else backend.table(name)
            for name in TABLES if name in available}


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _read_spark(location: str, params_path: str | Path | None) -> tuple[Any, dict[str, ir.Table], list[SourceFile],
                                                                     str]:
    """``source.kind: spark``: each ``<table>.parquet`` (a file, or a folder as Spark writes it) under ``location``
    (a local folder, or a URI Spark can read: ``s3a://…``, ``hdfs://…``, ``abfss://…``) as a Spark temporary view.

    The session is the active one, else one built from Spark's own configuration (``spark-defaults.conf``,
    ``PYSPARK_SUBMIT_ARGS``); with none, Spark runs locally on every core (``local[*]``)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SourceError("source.kind spark needs PySpark, which is not installed",
                          hint="pip install 'collections_mi[warehouse]' (and a Java 17+ runtime)") from None
    remote = bool(_URI.match(location))
    base = location.rstrip("/") if remote else str(resolve_location(location, params_path))
    if not remote and not Path(base).is_dir():
        raise SourceError(f"source folder not found: {base}",
                          hint="set source.location to the folder (or s3a://, hdfs:// URI) holding <table>.parquet")
    backend = ibis.pyspark.connect(SparkSession.builder.appName("collections_mi").getOrCreate())
    # temporary views are per session: a private prefix keeps two ledgers opened in one session apart
    prefix = f"cmi_{os.getpid()}_{id(backend):x}"
    tables: dict[str, ir.Table] = {}
    files: list[SourceFile] = []
    for name in TABLES:
        path = f"{base}/{name}.parquet"
        if not remote:
            local = Path(path)
            if not local.exists():
                continue
            if local.is_file():
                files.append(SourceFile(name, path, local.stat().st_size, _sha256(local)))
        try:
            tables[name] = backend.read_parquet(path, table_name=f"{prefix}_{name}")
        except Exception as exc:  # pyspark's AnalysisException: a remote table that is not there is optional
            if remote and "PATH_NOT_FOUND" in str(exc):
                continue
            raise SourceError(f"{path} (table {name}): Spark cannot read it as Parquet: {str(exc).splitlines()[0]}",
                              hint="write the table as Parquet (one file, or a folder of part files)") from None
    return backend, tables, files, f"spark:{base}"


#: leading and trailing whitespace, as Python's str.strip() sees it. A regex rather than Ibis' strip(): that renders
#: TRIM's character list with \v and \f escapes, which Spark SQL reads as the letters v and f ("false" → "alse").
_EDGE_WHITESPACE = r"^[ \t\n\r\x0b\x0c]+|[ \t\n\r\x0b\x0c]+$"


def _as_text(column: ir.Value) -> ir.StringValue:
    text = column.cast("string").re_replace(_EDGE_WHITESPACE, "")
    return ibis.ifelse(text == "", ibis.null("string"), text)


def _typed(source: ir.Value, text: ir.StringValue, column: Column) -> ir.Value:
    """The contract type of one column: straight from the source where it already has that type (Parquet,
    database), else parsed from its trimmed text (CSV). Both give the same values for data that passed
    validation; the direct path just skips a text round trip per value on every scan."""
    native = _native(source, column)
    if native is not None:
        return native
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
    return ibis.cases((lowered.isin(TRUE_STRINGS), True), (lowered.isin(FALSE_STRINGS), False),
                      else_=ibis.null("boolean"))


def _views(source: dict[str, ir.Table]) -> tuple[dict[str, ir.Table], dict[str, ir.Table], dict[str, list[str]]]:
    raw: dict[str, ir.Table] = {}
    typed: dict[str, ir.Table] = {}
    extras: dict[str, list[str]] = {}
    for name, table in source.items():
        spec = TABLES[name]
        contract = {c.name for c in spec.columns}
        # header names are matched case-insensitively and trimmed (a BOM is dropped)
        physical: dict[str, str] = {}
        for col in table.columns:
            clean = col.strip().lstrip("\ufeff")
            physical[clean.lower() if clean.lower() in contract else clean] = col
        raw_cols = {key: _as_text(table[col]) for key, col in physical.items()}
        raw[name] = table.select(**raw_cols)
        extras[name] = [c for c in raw_cols if c not in contract]
        # every contract column, so metrics never meet a missing one: an optional column the source lacks is a
        # typed null (metrics.shape records which columns hold data, and what is not available says so)
        typed_cols = {c.name: _typed(table[physical[c.name]], raw_cols[c.name], c) if c.name in physical
                      else ibis.null(ENGINE_TYPES[c.type]) for c in spec.columns}
        typed_cols.update({c: raw_cols[c] for c in extras[name]})
        typed[name] = table.select(**typed_cols)
    return raw, typed, extras


def open_ledger(params: Params, params_path: str | Path | None = None) -> Ledger:
    """Open the source named by ``params.source`` and build its raw and typed views (lazily)."""
    src = params.source
    files: list[SourceFile] = []
    if src.kind == "files":
        folder = resolve_location(src.location, params_path)
        backend, tables, files = _read_files(folder)
        description = f"files:{folder}"
    elif src.kind == "duckdb":
        path = resolve_location(src.location, params_path)
        if not path.is_file():
            raise SourceError(f"DuckDB file not found: {path}", hint="set source.location to an existing .duckdb file")
        backend = _connect_duckdb(str(path), read_only=True)
        tables = _read_backend(backend, src.schema_)
        files = [SourceFile("*", str(path), path.stat().st_size, _sha256(path))]
        description = f"duckdb:{path}"
    elif src.kind == "spark":
        backend, tables, files, description = _read_spark(src.location, params_path)
    else:
        url = os.path.expandvars(src.location)
        try:
            backend = ibis.connect(url)
        except Exception as exc:  # any driver error: name the URL without credentials
            raise SourceError(f"cannot connect to {redact_url(src.location)}: {exc}",
                              hint="check the URL; put passwords in environment variables, e.g. $PGPASSWORD") from None
        tables = _read_backend(backend, src.schema_)
        description = f"ibis:{redact_url(src.location)}"
    raw, typed, extras = _views(tables)
    return Ledger(backend=backend, raw=raw, typed=typed, reporting_currency=params.reporting_currency,
                  description=description, files=files, extra_columns=extras)

