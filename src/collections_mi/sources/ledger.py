"""Sources: open the ledger named in params and expose the contract tables on a compute engine.

Everything here is lazy: tables are Ibis expressions on the engine (DuckDB by default), never a
full copy of the ledger in pandas. Two views of every table:

* ``raw``  — every column as trimmed text (empty → null), exactly as supplied; validation checks it. A value that
  does not follow its layout (a date not written YYYY-MM-DD or as ``source.csv.date_format`` writes it, a number
  not in the CSV's dialect) is kept as written and marked (:data:`NOT_IN_DIALECT`), so its format check reports it.
* ``typed`` — the contract types (dates, exact ``decimal(18, 4)`` money, booleans); metrics use it.

This module and :mod:`collections_mi.pack` are the only places that do IO.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from collections_mi.config.params import CsvDialect, Params, SourceConfig, redact_url, resolve_location
from collections_mi.core.contract import ENGINE_TYPES, FALSE_STRINGS, TABLES, TRUE_STRINGS, Column
from collections_mi.core.errors import SourceError, first_line


@dataclass(frozen=True)
class SourceFile:
    table: str
    path: str
    bytes: int
    sha256: str


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
    #: table → its own names in the source (file or table, columns) and how its CSV is written
    names: dict[str, TableNames] = field(default_factory=dict)

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
        raise SourceError(
            f"COLLECTIONS_MI_MEMORY_LIMIT={limit!r} is not a memory size",
            hint="set it like 2GB, 8GB or 500MB, or unset it for the default (2GB)",
        )
    backend.raw_sql(f"SET memory_limit = '{limit}'")
    spill = os.environ.get("COLLECTIONS_MI_TEMP_DIR") or os.path.join(
        tempfile.gettempdir(), f"collections_mi-duckdb-{os.getpid()}"
    )
    backend.raw_sql(f"SET temp_directory = '{spill.replace(chr(39), chr(39) * 2)}'")
    threads = os.environ.get("COLLECTIONS_MI_THREADS")
    if threads:
        backend.raw_sql(f"SET threads = {int(threads)}")
    return backend


#: a DuckDB database file starts with an 8-byte checksum and these magic bytes
_DUCKDB_MAGIC = b"DUCK"
_DUCKDB_MAGIC_END = 12
_DUCKDB_LOCK = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")


def _open_duckdb_file(path: Path) -> Any:
    """``source.kind: duckdb``: the database file ``path``, opened read-only. A folder, a missing file, a file that
    is not a DuckDB database (a CSV named .duckdb) or one another program holds open for writing is a
    :class:`SourceError` naming the file and the fix."""
    if path.is_dir():
        raise SourceError(
            f"source.location is a folder, not a DuckDB database file: {path}",
            hint="for a folder of <table>.csv/.parquet files set source.kind: files; for a DuckDB "
            "database set source.location to its .duckdb file",
        )
    if not path.is_file():
        raise SourceError(f"DuckDB file not found: {path}", hint="set source.location to an existing .duckdb file")
    not_duckdb = SourceError(
        f"{path} (source.location): it is not a DuckDB database file",
        hint="set source.location to a database file written by DuckDB; for CSV or Parquet "
        "exports set source.kind: files and source.location to their folder",
    )
    try:
        with path.open("rb") as handle:
            header = handle.read(_DUCKDB_MAGIC_END)
    except OSError as exc:
        raise SourceError(
            f"{path} (source.location): cannot be read: {exc.strerror or exc}",
            hint="give the user running collections_mi read access to the file",
        ) from None
    if header[_DUCKDB_MAGIC_END - len(_DUCKDB_MAGIC) :] != _DUCKDB_MAGIC:
        # DuckDB itself would open a .csv or .parquet path as an in-memory database reading that file
        raise not_duckdb
    try:
        return _connect_duckdb(str(path), read_only=True)
    except SourceError:
        raise
    except Exception as exc:  # duckdb.IOException and its kin: say what is wrong with the file
        message = str(exc)
        lock = _DUCKDB_LOCK.search(message)
        if "not a valid DuckDB database file" in message:
            raise not_duckdb from None
        if lock:
            problem = (
                f"another program is writing to it (process {lock.group(2)}, {Path(lock.group(1)).name}), "
                "and DuckDB lets no one read a database file while it is open for writing"
            )
            hint = "close that program's connection to the file (or wait for it to finish) and run again"
        else:
            problem = f"DuckDB cannot open it: {first_line(exc, named=False)}"
            hint = "check that the file is a DuckDB database of a DuckDB version this one reads, and readable"
        raise SourceError(f"{path} (source.location): {problem}", hint=hint) from None


def _check_duckdb_url(url: str, shown: str) -> None:
    """``source.kind: ibis`` on a DuckDB file (``duckdb://<path>``, or a bare ``<path>.duckdb``): the file must
    exist — DuckDB would silently create an empty database there. The path is read as :func:`ibis.connect` reads
    it."""
    parsed = urllib.parse.urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in ("", "file"):
        database = parsed.netloc + parsed.path
        if not database.endswith(".duckdb"):
            return
    elif scheme == "duckdb":
        parts = [part for part in (parsed.netloc, parsed.path[bool(parsed.netloc) :]) if part]
        database = str(Path(*parts)) if parts else ""
    else:
        return
    if (
        database
        and database != ":memory:"
        and not database.startswith(("md:", "motherduck:"))
        and not Path(database).is_file()
    ):
        raise SourceError(
            f"DuckDB file not found: {database} (source.location {redact_url(shown)})",
            hint="name an existing .duckdb file in source.location (duckdb:///absolute/path.duckdb), "
            "or use source.kind: duckdb with the file's path",
        )


#: the longest line (record) a CSV may have; a longer one is almost always an unclosed quote
MAX_CSV_LINE_BYTES = 2 * 1024 * 1024
#: characters of a CSV line or value quoted in an error message
_QUOTED_CHARS = 120
_SEPARATOR_NAMES = {",": "commas (,)", ";": "semicolons (;)", "\t": "tabs", "|": "vertical bars (|)"}
_OTHER_SEPARATORS = {sep: name for sep, name in _SEPARATOR_NAMES.items() if sep != ","}
_CSV_FIX = (
    "export the table again as CSV UTF-8 (comma delimited) with a header row — in Excel: Save As › "
    "CSV UTF-8 (Comma delimited) (*.csv)"
)
_DEFAULT = CsvDialect()


def _csv_fix(dialect: CsvDialect, shown: str, table: str) -> str:
    if dialect.is_default:
        return _CSV_FIX
    return (
        f"check that source.csv (or source.tables.{table}.csv) describes {shown} — its delimiter, quoting and "
        "encoding — or export it again"
    )


def _one_separator(delimiter: str) -> str:
    """``a comma``, ``a semicolon``…: what a value must be quoted for when it contains one."""
    return {",": "a comma", ";": "a semicolon", "\t": "a tab", "|": "a vertical bar"}.get(delimiter, f"a {delimiter!r}")


def _quote_example(delimiter: str) -> str:
    return f'"Acme{delimiter} Inc"' if delimiter != "\t" else '"Acme<tab>Inc"'


class _CsvProblem(Exception):
    """Why one CSV file cannot be read: ``problem`` and ``fix`` (both name the file)."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


def _shorten(text: str, limit: int = _QUOTED_CHARS) -> str:
    text = text.rstrip("\r\n").replace("\t", "\\t")
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _csv_header(path: Path, table: str, dialect: CsvDialect = _DEFAULT, shown: str | None = None) -> list[str]:
    """The column names of a CSV's header row, checked: not empty, UTF-8, separated by the dialect's delimiter,
    no repeated name. ``path`` is UTF-8 (a file in another encoding has been transcoded); ``shown`` is the name of
    the user's own file."""
    shown = shown or path.name
    with path.open("rb") as handle:
        first = handle.readline(MAX_CSV_LINE_BYTES + 1)
        rest = handle.read(4096)
    if not first.strip(b"\xef\xbb\xbf \t\r\n"):
        required = ", ".join(TABLES[table].required_columns)
        if rest.strip():
            raise _CsvProblem(
                "line 1 is blank: the header row naming the columns must be the first line",
                f"remove the blank line(s) at the top of {shown}",
            )
        raise _CsvProblem(
            f"the file is empty: {table} needs at least a header row naming its columns",
            f"export {shown} again with its header row ({required} at least)",
        )
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _non_utf8(path, shown) or _CsvProblem("line 1 is not UTF-8 text", _CSV_FIX) from None
    delimiter = dialect.delimiter
    header = next(csv.reader([text], delimiter=delimiter, quotechar='"', doublequote=True), [])
    if len(header) == 1:
        used = [(sep, name) for sep, name in _SEPARATOR_NAMES.items() if sep != delimiter and sep in header[0]]
        if used and delimiter == ",":
            raise _CsvProblem(
                f"the file is not comma-separated: its header row is separated by {used[0][1]} "
                f"(line 1: {_shorten(text)})",
                f"export {shown} again with commas between values (CSV UTF-8, comma delimited), or replace the "
                "separator by commas; decimals take a point (1234.56), not a comma — or say how the file is "
                f'written in params: source.csv: {{delimiter: "{used[0][0]}", decimal: ","}} '
                "(README.md § Params)",
            )
        if used:
            name = _SEPARATOR_NAMES.get(delimiter, repr(delimiter))
            raise _CsvProblem(
                f"the file is not separated by {name}, as the params say (source.csv.delimiter): its header row is "
                f"separated by {used[0][1]} (line 1: {_shorten(text)})",
                f'set source.tables.{table}.csv.delimiter (or source.csv.delimiter) to "{used[0][0]}", the '
                f"separator {shown} uses",
            )
    names = [name if name.strip() else f"column{i}" for i, name in enumerate(header)]
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        key = name.strip().lower()
        if key in seen:
            raise _CsvProblem(
                f"the header row names the column {name.strip()} twice (columns {seen[key]} and {position})",
                f"remove or rename one of the two {name.strip()} columns in {shown}",
            )
        seen[key] = position
    return names


def _non_utf8(path: Path, shown: str | None = None) -> _CsvProblem | None:
    """Where the first byte that is not UTF-8 is: line and byte, and what the encoding probably is (None: the
    file is UTF-8)."""
    shown = shown or path.name
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with path.open("rb") as handle:
        for raw in handle:
            try:
                decoder.decode(raw, final=False)
            except UnicodeDecodeError as exc:
                bad = raw[exc.start : exc.start + 1].hex().upper()
                return _CsvProblem(
                    f"the file is not UTF-8 text: line {line} holds the byte 0x{bad}, which is not valid UTF-8 "
                    "(the file was probably saved as Windows-1252 / Latin-1)",
                    f"export {shown} again as UTF-8 (in Excel: Save As › CSV UTF-8 (Comma delimited)), or "
                    "convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8, or say its encoding in params "
                    "(source.csv: {encoding: cp1252})",
                )
            line += 1
    return None


def _transcode(path: Path, encoding: str, target: Path) -> None:
    """``path`` (in ``encoding``) as a UTF-8 copy at ``target``, streamed line by line; line numbers stay the
    same. A byte the encoding does not define is an error naming its line."""
    line = 0
    try:
        with path.open(encoding=encoding, newline="") as source, target.open("w", encoding="utf-8", newline="") as copy:
            for line, text in enumerate(source, start=1):  # noqa: B007 - the line is reported on an error
                copy.write(text)
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex().upper() if isinstance(exc.object, bytes) else "?"
        raise _CsvProblem(
            f"the file is not {encoding} text: near line {line + 1} it holds the byte 0x{bad}, which {encoding} "
            "does not define",
            f"set source.csv.encoding (or source.tables.<table>.csv.encoding) to the encoding {path.name} is "
            "written in (utf-8, cp1252, latin-1, utf-16…)",
        ) from None


_DUCKDB_LINE = re.compile(r"CSV Error on Line: (\d+)")
_DUCKDB_ORIGINAL = re.compile(r"Original Line: ?(.*)")
_DUCKDB_COLUMNS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def _explain_csv_error(
    path: Path, message: str, dialect: CsvDialect = _DEFAULT, shown: str | None = None, table: str = ""
) -> _CsvProblem:
    """A DuckDB CSV error as a problem a finance user can fix (the raw message quotes whole lines)."""
    shown = shown or path.name
    encoding = _non_utf8(path, shown)  # DuckDB words this many ways (or not at all): look at the bytes
    if encoding is not None:
        return encoding
    line_match = _DUCKDB_LINE.search(message)
    line = f"line {line_match.group(1)}" if line_match else "a line"
    original = _DUCKDB_ORIGINAL.search(message)
    quoted = f" ({line}: {_shorten(original.group(1))})" if original and original.group(1).strip() else ""
    columns = _DUCKDB_COLUMNS.search(message)
    delimiter = dialect.delimiter
    if columns:
        expected, found = columns.groups()
        return _CsvProblem(
            f"{line} has {found} values but the header row has {expected} columns{quoted}",
            f"in {shown}, enclose a value that contains {_one_separator(delimiter)} in double quotes "
            f"({_quote_example(delimiter)}) and give {line} exactly {expected} values",
        )
    if "unterminated quote" in message.lower():
        return _CsvProblem(
            f"{line} opens a double quote that is never closed{quoted}",
            f'close the quote on {line} of {shown} ({_quote_example(delimiter)}), or remove the stray "; a quote '
            'inside a quoted value is written twice ("")',
        )
    if "maximum line size" in message.lower():
        return _CsvProblem(
            f"{line} is longer than {MAX_CSV_LINE_BYTES // (1024 * 1024)} MB, the most a line may hold",
            f"check {line} of {shown} for a double quote that is never closed; a single value (a name, a note) "
            f"must stay below {MAX_CSV_LINE_BYTES // (1024 * 1024)} MB",
        )
    first = next((part.strip() for part in message.splitlines() if part.strip()), "unknown error")
    if dialect.is_default:
        return _CsvProblem(
            f"cannot be read as a comma-separated UTF-8 CSV with a header row: {_shorten(first, 300)}", _CSV_FIX
        )
    return _CsvProblem(
        f"cannot be read as the CSV the params describe (source.csv): {_shorten(first, 300)}",
        _csv_fix(dialect, shown, table),
    )


def _check_value_counts(path: Path, columns: int, delimiter: str = ",", shown: str | None = None) -> None:
    """Every record has as many values as the header has columns.

    DuckDB's strict mode rejects a row with extra values, except when the extra values are empty: ``C4,Acme,
    Inc,SMB,,`` (an unquoted comma) would be read shifted by one column without a word. One pass of the csv
    module finds it (about a second per million rows).
    """
    shown = shown or path.name
    previous = csv.field_size_limit()
    csv.field_size_limit(MAX_CSV_LINE_BYTES)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)
            next(reader, None)
            for record in reader:
                if record and len(record) != columns:
                    line = f"line {reader.line_num}"
                    raise _CsvProblem(
                        f"{line} has {len(record)} values but the header row has {columns} columns "
                        f"({line}: {_shorten(delimiter.join(record))})",
                        f"in {shown}, enclose a value that contains {_one_separator(delimiter)} in double quotes "
                        f"({_quote_example(delimiter)}) and give {line} exactly {columns} values",
                    )
    except csv.Error:
        return  # DuckDB read the file; a quoting subtlety the csv module disagrees on is not worth an error
    finally:
        csv.field_size_limit(previous)


def _read_csv(
    backend: Any, name: str, path: Path, dialect: CsvDialect = _DEFAULT, scratch: Path | None = None
) -> ir.Table:
    """One CSV file as a table of text columns in the engine. A file not in UTF-8 is first transcoded to a UTF-8
    copy in ``scratch`` (DuckDB reads only UTF-8), which is removed once the engine holds the rows."""
    readable = path
    if not dialect.utf8:
        if scratch is None:
            raise ValueError("a scratch folder is needed to transcode a CSV file")
        readable = scratch / f"{name}.csv"
        _transcode(path, dialect.encoding, readable)
    try:
        names = _csv_header(readable, name, dialect, shown=path.name)
        try:
            # all text, exactly the header's columns, strict CSV: validation sees values as written, a malformed
            # line is an error (never silently padded or skipped); `typed` casts the text afterwards
            view = backend.read_csv(
                str(readable),
                table_name=f"csv_{name}",
                columns=dict.fromkeys(names, "VARCHAR"),
                header=True,
                delim=dialect.delimiter,
                quote='"',
                escape='"',
                strict_mode=True,
                max_line_size=MAX_CSV_LINE_BYTES,
            )
            # parse the CSV once into the engine; every later query reads the in-engine copy
            table = backend.create_table(f"src_{name}", view)
        except Exception as exc:  # duckdb raises its own error types for unreadable CSV
            raise _explain_csv_error(readable, str(exc), dialect, shown=path.name, table=name) from None
        _check_value_counts(readable, len(names), dialect.delimiter, shown=path.name)
    finally:
        if readable != path:
            readable.unlink(missing_ok=True)
    return table


def _table_file(folder: Path, name: str, source: SourceConfig | None) -> tuple[Path | None, bool]:
    """The file of table ``name`` in ``folder`` and whether the params name it (``source.tables.<t>.file``)."""
    entry = source.table_config(name) if source is not None else None
    if entry is not None and entry.file is not None:
        path = folder / entry.file
        if not path.is_file():
            present = sorted(
                p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".parquet")
            )
            raise SourceError(
                f"source.tables.{name}.file: {entry.file!r} (table {name}) is not in {folder}"
                + (f"; CSV/Parquet files there: {', '.join(present)}" if present else ""),
                hint=f"name the file exactly as it is in {folder} (spaces and capitals count), or remove "
                f"source.tables.{name}.file to read {name}.csv",
            )
        return path, True
    parquet, csv_path = folder / f"{name}.parquet", folder / f"{name}.csv"
    if parquet.is_file():
        return parquet, False
    if csv_path.is_file():
        return csv_path, False
    return None, False


def _read_files(
    folder: Path, source: SourceConfig | None = None
) -> tuple[Any, dict[str, ir.Table], list[SourceFile], dict[str, TableNames]]:
    if not folder.is_dir():
        raise SourceError(
            f"source folder not found: {folder}",
            hint="set source.location in params to the folder holding <table>.csv/.parquet "
            "(for the demo run `collections-mi demo --out data/demo`)",
        )
    backend = _connect_duckdb()
    tables: dict[str, ir.Table] = {}
    files: list[SourceFile] = []
    names: dict[str, TableNames] = {}
    problems: list[tuple[Path, str, _CsvProblem]] = []
    scratch: Path | None = None
    try:
        for name in TABLES:
            path, named = _table_file(folder, name, source)
            if path is None:
                continue
            dialect = source.csv_for(name) if source is not None else _DEFAULT
            is_csv = path.suffix.lower() != ".parquet"
            if not is_csv:
                table = backend.read_parquet(str(path), table_name=f"src_{name}")
            else:
                if not dialect.utf8 and scratch is None:
                    scratch = Path(tempfile.mkdtemp(prefix="collections_mi-csv-"))  # this run's transcoded copies
                try:
                    table = _read_csv(backend, name, path, dialect, scratch)
                except _CsvProblem as unreadable:
                    problems.append((path, name, unreadable))  # read the other files too: report every unreadable one
                    continue
            tables[name] = table
            files.append(SourceFile(name, str(path), path.stat().st_size, _sha256(path)))  # the user's own bytes
            mapped = named or source is not None and _mapped(source, name)
            names[name] = TableNames(where=path.name, mapped=mapped, dialect=dialect if is_csv else None)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if len(problems) == 1:
        path, name, problem = problems[0]
        raise SourceError(f"{path} (table {name}): {problem.problem}", hint=problem.fix)
    if problems:
        lines = [
            f"  {path} (table {name}): {problem.problem}\n    fix: {problem.fix}" for path, name, problem in problems
        ]
        raise SourceError(
            f"{len(problems)} source files cannot be read as CSV:\n" + "\n".join(lines),
            hint="correct the files listed above and run again",
        )
    return backend, tables, files, names


def _mapped(source: SourceConfig, table: str) -> bool:
    """Whether the params say anything about ``table``'s names (file, table, columns or values)."""
    entry = source.table_config(table)
    return entry is not None and bool(entry.file or entry.table or entry.columns_map or entry.values_map)


def _list_tables(backend: Any, schema: str | None, where: str = "the source") -> list[str]:
    """The tables (and views) of ``schema`` (default: the current one); a ``schema`` that is not there is an error
    naming the schemas that are. DuckDB is asked through its own connection and information schema (this database
    file only): Ibis 12's ``list_tables`` calls ``fetch_arrow_table`` on DuckDB's connection, which DuckDB 2
    removed."""
    if getattr(backend, "name", "") == "duckdb":
        catalog = "table_catalog = current_database()"
        where_schema = "table_schema = ?" if schema else "table_schema = current_schema()"
        cursor = backend.con.execute(
            f"select table_name from information_schema.tables where {catalog} and {where_schema} order by table_name",
            [schema] if schema else [],
        )
        tables = [row[0] for row in cursor.fetchall()]
        if schema and not tables:
            schemas = [
                row[0]
                for row in backend.con.execute(
                    "select schema_name from information_schema.schemata where catalog_name = current_database() "
                    "order by schema_name"
                ).fetchall()
            ]
            _check_schema(schema, schemas, where)
        return tables
    tables = list(backend.list_tables(database=schema) if schema else backend.list_tables())
    if schema and not tables:
        try:
            schemas = list(backend.list_databases())
        except Exception:  # a backend without schemas to list: the missing tables are reported as such
            return tables
        _check_schema(schema, schemas, where)
    return tables


def _check_schema(schema: str, schemas: list[str], where: str) -> None:
    if schema not in schemas:
        raise SourceError(
            f"source.schema: the schema {schema!r} is not in {where}; schemas there: "
            f"{', '.join(sorted(schemas)) or 'none'}",
            hint="name the schema that holds the ledger's tables exactly (capitals count), or remove "
            "source.schema to read the default one",
        )


def _qualified(backend: Any, schema: str) -> str | tuple[str, str]:
    """How Ibis names ``schema``: on DuckDB with its catalog (the database file's name), else DuckDB cannot tell
    the schema ``erp`` from the catalog of ``erp.duckdb``."""
    if getattr(backend, "name", "") == "duckdb":
        return (backend.con.execute("select current_database()").fetchall()[0][0], schema)
    return schema


def _read_backend(
    backend: Any, schema: str | None, source: SourceConfig | None = None, where: str = "the source"
) -> tuple[dict[str, ir.Table], dict[str, TableNames]]:
    available = _list_tables(backend, schema, where)
    qualified = _qualified(backend, schema) if schema else None
    folded = {t.lower(): t for t in available}
    tables: dict[str, ir.Table] = {}
    names: dict[str, TableNames] = {}
    for name in TABLES:
        entry = source.table_config(name) if source is not None else None
        wanted = entry.table if entry is not None and entry.table else name
        found = wanted if wanted in available else folded.get(wanted.lower())
        if found is None:
            if entry is not None and entry.table:
                raise SourceError(
                    f"source.tables.{name}.table: the table {wanted!r} (table {name}) is not in {where}"
                    + (f" (schema {schema})" if schema else "")
                    + f"; tables there: {', '.join(sorted(available)) or 'none'}",
                    hint=f"name the source's table exactly, or remove source.tables.{name}.table to read {name}",
                )
            continue
        tables[name] = backend.table(found, database=qualified) if qualified else backend.table(found)
        names[name] = TableNames(where=f"the {found} table", mapped=source is not None and _mapped(source, name))
    return tables, names


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _read_spark(
    location: str, params_path: str | Path | None, source: SourceConfig | None = None
) -> tuple[Any, dict[str, ir.Table], list[SourceFile], str, dict[str, TableNames]]:
    """``source.kind: spark``: each ``<table>.parquet`` (a file, or a folder as Spark writes it) under ``location``
    (a local folder, or a URI Spark can read: ``s3a://…``, ``hdfs://…``, ``abfss://…``) as a Spark temporary view;
    ``source.tables.<t>.table`` names another ``<name>.parquet``.

    The session is the active one, else one built from Spark's own configuration (``spark-defaults.conf``,
    ``PYSPARK_SUBMIT_ARGS``); with none, Spark runs locally on every core (``local[*]``)."""
    try:  # PySpark (warehouse extra, ~470 MB) is imported only for source.kind spark, and may be absent
        from pyspark.sql import SparkSession
    except ImportError:
        raise SourceError(
            "source.kind spark needs PySpark, which is not installed",
            hint="pip install 'collections_mi[warehouse]' (and a Java 17+ runtime)",
        ) from None
    remote = bool(_URI.match(location))
    base = location.rstrip("/") if remote else str(resolve_location(location, params_path))
    if not remote and not Path(base).is_dir():
        raise SourceError(
            f"source folder not found: {base}",
            hint="set source.location to the folder (or s3a://, hdfs:// URI) holding <table>.parquet",
        )
    backend = ibis.pyspark.connect(SparkSession.builder.appName("collections_mi").getOrCreate())
    # temporary views are per session: a private prefix keeps two ledgers opened in one session apart
    prefix = f"cmi_{os.getpid()}_{id(backend):x}"
    tables: dict[str, ir.Table] = {}
    files: list[SourceFile] = []
    names: dict[str, TableNames] = {}
    for name in TABLES:
        entry = source.table_config(name) if source is not None else None
        own_name = entry.table if entry is not None else None
        named = own_name is not None
        stem = own_name if own_name is not None else name
        path = f"{base}/{stem}.parquet"
        if not remote:
            local = Path(path)
            if not local.exists():
                if named:
                    raise SourceError(
                        f"source.tables.{name}.table: {stem}.parquet (table {name}) is not in {base}",
                        hint=f"name the Parquet file or folder without .parquet, or remove "
                        f"source.tables.{name}.table to read {name}.parquet",
                    )
                continue
            if local.is_file():
                files.append(SourceFile(name, path, local.stat().st_size, _sha256(local)))
        try:
            tables[name] = backend.read_parquet(path, table_name=f"{prefix}_{name}")
        except Exception as exc:  # pyspark's AnalysisException: a remote table that is not there is optional
            if remote and "PATH_NOT_FOUND" in str(exc) and not named:
                continue
            raise SourceError(
                f"{path} (table {name}): Spark cannot read it as Parquet: {first_line(exc, named=False)}",
                hint="write the table as Parquet (one file, or a folder of part files)",
            ) from None
        names[name] = TableNames(where=f"{stem}.parquet", mapped=source is not None and _mapped(source, name))
    return backend, tables, files, f"spark:{base}", names


#: leading and trailing whitespace, as Python's str.strip() sees it. A regex rather than Ibis' strip(): that renders
#: TRIM's character list with \v and \f escapes, which Spark SQL reads as the letters v and f ("false" → "alse").
_EDGE_WHITESPACE = r"^[ \t\n\r\x0b\x0c]+|[ \t\n\r\x0b\x0c]+$"


def _as_text(column: ir.Value) -> ir.StringValue:
    text = column.cast("string").re_replace(_EDGE_WHITESPACE, "")
    return ibis.ifelse(text == "", ibis.null("string"), text)


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


def _views(
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
            text = _as_text(table[col])
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


def open_ledger(params: Params, params_path: str | Path | None = None) -> Ledger:
    """Open the source named by ``params.source`` and build its raw and typed views (lazily)."""
    src = params.source
    files: list[SourceFile] = []
    if src.kind == "files":
        folder = resolve_location(src.location, params_path)
        backend, tables, files, names = _read_files(folder, src)
        description = f"files:{folder}"
    elif src.kind == "duckdb":
        path = resolve_location(src.location, params_path)
        backend = _open_duckdb_file(path)
        tables, names = _read_backend(backend, src.schema_, src, where=str(path))
        files = [SourceFile("*", str(path), path.stat().st_size, _sha256(path))]
        description = f"duckdb:{path}"
    elif src.kind == "spark":
        backend, tables, files, description, names = _read_spark(src.location, params_path, src)
    else:
        url = os.path.expandvars(src.location)
        _check_duckdb_url(url, src.location)
        try:
            backend = ibis.connect(url)
        except Exception as exc:  # any driver error: name the URL without credentials
            raise SourceError(
                f"cannot connect to {redact_url(src.location)}: {exc}",
                hint="check the URL; put passwords in environment variables, e.g. $PGPASSWORD",
            ) from None
        tables, names = _read_backend(backend, src.schema_, src, where=redact_url(src.location))
        description = f"ibis:{redact_url(src.location)}"
    raw, typed, extras, names = _views(tables, names, src)
    return Ledger(
        backend=backend,
        raw=raw,
        typed=typed,
        reporting_currency=params.reporting_currency,
        description=description,
        files=files,
        extra_columns=extras,
        names=names,
    )
