"""Sources: open the ledger named in params and expose the contract tables on a compute engine.

Everything here is lazy: tables are Ibis expressions on the engine (DuckDB by default), never a
full copy of the ledger in pandas. Two views of every table:

* ``raw``  — every column as trimmed text (empty → null), exactly as supplied; validation checks it.
* ``typed`` — the contract types (dates, exact ``decimal(18, 4)`` money, booleans); metrics use it.

This module and :mod:`collections_mi.pack` are the only places that do IO.
"""

from __future__ import annotations

import hashlib
import os
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

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the data of this run: files with sha256, or the connection; and row counts."""
        return {
            "description": self.description,
            "files": [f.__dict__ for f in self.files],
            "row_counts": self.row_counts(),
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


def _connect_duckdb(database: str = ":memory:", read_only: bool = False) -> Any:
    backend = ibis.duckdb.connect(database, read_only=read_only)
    threads = os.environ.get("COLLECTIONS_MI_THREADS")
    if threads:
        backend.raw_sql(f"SET threads = {int(threads)}")
    return backend


def _read_files(folder: Path) -> tuple[Any, dict[str, ir.Table], list[SourceFile]]:
    if not folder.is_dir():
        raise SourceError(f"source folder not found: {folder}",
                          hint="set source.location in params to the folder holding <table>.csv/.parquet "
                               "(for the demo run `collections-mi demo --out data/demo`)")
    backend = _connect_duckdb()
    tables: dict[str, ir.Table] = {}
    files: list[SourceFile] = []
    for name in TABLES:
        parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
        if parquet.is_file():
            path = parquet
            table = backend.read_parquet(str(parquet), table_name=f"src_{name}")
        elif csv.is_file():
            path = csv
            try:
                # all text: validation sees values exactly as written; `typed` casts them afterwards.
                view = backend.read_csv(str(csv), table_name=f"csv_{name}", all_varchar=True, header=True,
                                        delim=",", quote='"', escape='"', auto_detect=True, sample_size=-1)
                # parse the CSV once into the engine; every later query reads the in-engine copy
                table = backend.create_table(f"src_{name}", view)
            except Exception as exc:  # duckdb raises its own error types for unreadable CSV
                raise SourceError(f"{csv}: cannot be read as a comma-separated UTF-8 CSV with a header row: "
                                  f"{str(exc).splitlines()[0]}",
                                  hint="export the table as UTF-8 CSV, comma separated, with a header row") from None
        else:
            continue
        tables[name] = table
        files.append(SourceFile(name, str(path), path.stat().st_size, _sha256(path)))
    return backend, tables, files


def _read_backend(backend: Any, schema: str | None) -> dict[str, ir.Table]:
    available = set(backend.list_tables(database=schema) if schema else backend.list_tables())
    return {name: backend.table(name, database=schema) if schema else backend.table(name)
            for name in TABLES if name in available}


def _as_text(column: ir.Value) -> ir.StringValue:
    text = column.cast("string").strip()
    return ibis.ifelse(text == "", ibis.null("string"), text)


def _typed(text: ir.StringValue, column: Column) -> ir.Value:
    if column.type == "string":
        return text
    if column.type == "bool":
        return _bool_cases(text.lower())
    return text.try_cast(ENGINE_TYPES[column.type])


def _bool_cases(lowered: ir.StringValue) -> ir.BooleanValue:
    return ibis.cases((lowered.isin(TRUE_STRINGS), True), (lowered.isin(FALSE_STRINGS), False),
                      else_=ibis.null("boolean"))


def _views(source: dict[str, ir.Table]) -> tuple[dict[str, ir.Table], dict[str, ir.Table], dict[str, list[str]]]:
    raw: dict[str, ir.Table] = {}
    typed: dict[str, ir.Table] = {}
    extras: dict[str, list[str]] = {}
    for name, table in source.items():
        spec = TABLES[name]
        # header names are matched case-insensitively and trimmed (a BOM is dropped)
        by_name = {c.strip().lstrip("\ufeff").lower(): c for c in table.columns}
        raw_cols = {}
        for col in table.columns:
            clean = col.strip().lstrip("\ufeff")
            key = clean.lower() if clean.lower() in {c.name for c in spec.columns} else clean
            raw_cols[key] = _as_text(table[col])
        raw[name] = table.select(**raw_cols)
        extras[name] = [c for c in raw_cols if c not in {col.name for col in spec.columns}]
        present = {c.name for c in spec.columns if c.name in by_name}
        typed_cols = {c.name: _typed(raw[name][c.name], c) for c in spec.columns if c.name in present}
        typed_cols.update({c: raw[name][c] for c in extras[name]})
        typed[name] = raw[name].select(**typed_cols)
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
