"""Sources: open the ledger named in params and expose the contract tables on a compute engine.

Everything here is lazy: tables are Ibis expressions on the engine (DuckDB by default), never a
full copy of the ledger in pandas. Two views of every table:

* ``raw``  — every column as trimmed text (empty → null), exactly as supplied; validation checks it. A value that
  does not follow its layout (a date not written YYYY-MM-DD or as ``source.csv.date_format`` writes it, a number
  not in the CSV's dialect) is kept as written and marked (:data:`NOT_IN_DIALECT`), so its format check reports it.
* ``typed`` — the contract types (dates, exact ``decimal(18, 4)`` money, booleans); metrics use it.

Reading CSV files is :mod:`.csv_files`; building the two views is :mod:`.typed_views`. IO happens in ``sources``,
``store`` and ``outputs`` only.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from collections_mi.config.params import Params, SourceConfig, redact_url, resolve_location
from collections_mi.core.contract import TABLES
from collections_mi.core.errors import SourceError, first_line
from collections_mi.sources.audiences import check_audience_columns
from collections_mi.sources.csv_files import DEFAULT_DIALECT, CsvProblem, read_csv
from collections_mi.sources.engine_memory import memory_limit
from collections_mi.sources.typed_views import TableNames, table_views


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


@contextmanager
def rows_in_any_order(tables: Mapping[str, ir.Table]) -> Iterator[None]:
    """While the tables built inside are built: on DuckDB (the engine of ``tables``), ``preserve_insertion_order =
    false``, so the engine writes a table of ten million rows without holding rows back to keep their order — which
    DuckDB recommends against out-of-memory errors. For tables whose order nobody reads: every query over them
    that shows rows orders them itself (the pack's outputs at 1M and 10M invoices are byte-identical either way).
    Other engines keep no such order anyway. Validation, which reports rows by their position in the ledger's
    files, runs before it and never under it."""
    backend = next((table._find_backend() for table in tables.values()), None)
    if backend is None or backend.name != "duckdb":
        yield
        return
    backend.raw_sql("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        backend.raw_sql("SET preserve_insertion_order = true")


def fetch(expr: ir.Table) -> pd.DataFrame:
    """Execute ``expr`` and return pandas with dates as ``datetime.date`` and decimals as ``Decimal``."""
    return expr.to_pyarrow().to_pandas()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _connect_duckdb(database: str = ":memory:", read_only: bool = False) -> Any:
    """A DuckDB connection with bounded memory: $COLLECTIONS_MI_MEMORY_LIMIT (default 1GB; e.g. 8GB, 500MB),
    spilling to $COLLECTIONS_MI_TEMP_DIR (default: a folder per process in the system temp dir, which DuckDB
    creates only when it spills and removes on close),
    and $COLLECTIONS_MI_THREADS threads (default: all cores); memory the engine freed goes back to the system."""
    backend = ibis.duckdb.connect(database, read_only=read_only)
    backend.raw_sql(f"SET memory_limit = '{memory_limit()}'")
    spill = os.environ.get("COLLECTIONS_MI_TEMP_DIR") or os.path.join(
        tempfile.gettempdir(), f"collections_mi-duckdb-{os.getpid()}"
    )
    backend.raw_sql(f"SET temp_directory = '{spill.replace(chr(39), chr(39) * 2)}'")
    # DuckDB's allocator (jemalloc) keeps the pages of freed query memory until a later allocation purges them: after
    # the Book's tables were dropped, a 1M-invoice pack still held ~400 MB the engine no longer used, through the
    # notebooks, the workbook and the history. Its background threads give them back to the system within seconds.
    backend.raw_sql("SET allocator_background_threads = true")
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
    problems: list[tuple[Path, str, CsvProblem]] = []
    scratch: Path | None = None
    try:
        for name in TABLES:
            path, named = _table_file(folder, name, source)
            if path is None:
                continue
            dialect = source.csv_for(name) if source is not None else DEFAULT_DIALECT
            is_csv = path.suffix.lower() != ".parquet"
            if not is_csv:
                table = backend.read_parquet(str(path), table_name=f"src_{name}")
            else:
                if not dialect.utf8 and scratch is None:
                    scratch = Path(tempfile.mkdtemp(prefix="collections_mi-csv-"))  # this run's transcoded copies
                try:
                    table = read_csv(backend, name, path, dialect, scratch)
                except CsvProblem as unreadable:
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
    raw, typed, extras, names = table_views(tables, names, src)
    if "customers" in names:  # report.audiences filter on columns the customers table has (exit 2 naming the key)
        check_audience_columns(raw, params, f"the customers table ({names['customers'].where})")
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
