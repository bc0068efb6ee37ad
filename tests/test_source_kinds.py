"""Every ``source.kind`` gives the same numbers: kpis.json and tables/*.csv byte-identical to the reference.

The reference is the small demo ledger as Parquet files (``source.kind: files``, ``engines.duckdb_reference``).
Here: the same ledger as CSV files, and as a DuckDB database file (``source.kind: duckdb``: typed tables under their
contract names, and text tables with the system's own table names in a schema of their own). The engine kinds
(``ibis`` on a Postgres server, ``spark``) are compared with the same reference in tests/test_engines.py.

And what can go wrong with a DuckDB file is a named error (exit 2), never an internal error: a file another program
is writing to, a schema that is not there, a ``duckdb://`` URL to a file that does not exist (which DuckDB would
create). A CSV or a folder named as the DuckDB file: tests/bad_inputs/160_…, 161_…, 162_….
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from collections_mi.config.params import load_params
from collections_mi.core.errors import SourceError
from collections_mi.sources.ledger import open_ledger

from conftest import ROOT, cli, write_params
from engines import (
    assert_same_results,
    compute_results,
    duckdb_reference,  # noqa: F401 - the fixture every source kind is compared with
)


def duckdb_file_from_parquet(folder: Path, database: Path) -> Path:
    """One table per ``<table>.parquet``, with the column types stored there (dates, decimal(18, 2), booleans)."""
    import duckdb

    con = duckdb.connect(str(database))
    try:
        for path in sorted(folder.glob("*.parquet")):
            con.execute(f'create table "{path.stem}" as select * from read_parquet(?)', [str(path)])
    finally:
        con.close()
    return database


#: the system's own names of the tables, in its schema ``erp``
ERP_TABLES = {"invoices": "AR_INVOICE", "customers": "Debtor Master", "payments": "AR_RECEIPT"}


def duckdb_file_from_csv(folder: Path, database: Path, schema: str, names: dict[str, str]) -> Path:
    """One text table per ``<table>.csv`` (every column VARCHAR, as a staging schema holds an export) in ``schema``,
    named ``names[table]`` where given."""
    import duckdb

    con = duckdb.connect(str(database))
    catalog = database.stem  # spelt out: a schema named like the file is ambiguous otherwise
    try:
        con.execute(f'create schema "{catalog}"."{schema}"')
        for path in sorted(folder.glob("*.csv")):
            name = names.get(path.stem, path.stem)
            con.execute(
                f'create table "{catalog}"."{schema}"."{name}" as select * from read_csv(?, all_varchar = true)',
                [str(path)],
            )
    finally:
        con.close()
    return database


#: an export's own columns named like columns the metrics derive or join in (the Book's spans and open items, the
#: customers' attributes, the invoices' currency, the agencies' names): the pack must read the contract's, never these
CLASHING_EXTRAS = {
    "invoices": ["closed_on", "as_of", "rate", "segment", "name", "collector", "region", "last_payment",
                 "open_dispute", "open_balance", "first_write_off", "reduced"],
    "payments": ["currency", "customer_id", "invoice_date", "due_date"],
    "adjustments": ["currency", "invoice_date", "customer_id"],
    "disputes": ["customer_id", "currency", "due_date", "open_balance", "as_of"],
    "promises": ["owner", "collector", "currency"],
    "unapplied_cash": ["as_of", "rate"],
    "agency_placements": ["agency", "strategy", "collected", "agency_name", "first_collection", "collections"],
}  # fmt: skip


def test_an_exports_own_columns_never_stand_in_for_the_contracts(
    demo_ledger_parquet: Path,
    duckdb_reference: Path,  # noqa: F811 - the fixture imported from engines
    tmp_path: Path,
) -> None:
    """The contract lets a ledger carry columns it does not name (data-contract.md §1: carried through). Each
    table here carries text columns named like what the metrics join or derive (a payment's own currency and
    customer, an invoice's own segment, closed_on or rate, a placement's agency…): every KPI and table is the
    reference's, byte for byte; an own column read on purpose (the loans' segment) is still read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ledger = tmp_path / "ledger"
    ledger.mkdir()
    for path in demo_ledger_parquet.glob("*.parquet"):
        table = pq.read_table(path)
        for column in CLASHING_EXTRAS.get(path.stem, []):
            if column not in table.column_names:
                values = "2000-01-01" if column.endswith(("_on", "_date", "as_of")) else "JPY"
                table = table.append_column(column, pa.array([values] * table.num_rows, pa.string()))
        pq.write_table(table, ledger / path.name)
    params = write_params(tmp_path, ledger)
    out = compute_results(params, tmp_path / "out")
    assert_same_results(duckdb_reference, out)
    # own columns the metrics read on purpose stay: the demo's loans carry their segment (the watch list by segment)
    assert len((out / "tables" / "watchlist_by_segment.csv").read_text(encoding="utf-8").splitlines()) > 1


def test_agency_collections_fee_amount_is_read_when_the_export_has_it(
    demo_ledger_parquet: Path, tmp_path: Path
) -> None:
    """agency_collections.fee_amount — the fee the agency charged, a column of the export's own (the contract does
    not name it) that metrics.agency.fee_reconciliation reads when present — is still read: the reconciliation lists
    it beside the fee computed, collection by collection."""
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    ledger = tmp_path / "ledger"
    ledger.mkdir()
    for path in demo_ledger_parquet.glob("*.parquet"):
        table = pq.read_table(path)
        if path.stem == "agency_collections":
            table = table.append_column("fee_amount", pa.array(["1.25"] * table.num_rows, pa.string()))
        pq.write_table(table, ledger / path.name)
    out = compute_results(write_params(tmp_path, ledger), tmp_path / "out")
    with (out / "tables" / "agency_fee_reconciliation.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {row["fee_charged"] for row in rows} == {"1.25"}


def test_files_csv_is_identical_to_parquet(demo_ledger: Path, duckdb_reference: Path, tmp_path: Path) -> None:  # noqa: F811 - the fixture imported from engines
    """``source.kind: files`` on the CSV export of the same ledger: text parsed into the contract types."""
    params = write_params(tmp_path, demo_ledger)
    assert_same_results(duckdb_reference, compute_results(params, tmp_path / "out"))


def test_duckdb_file_is_identical_through_the_command_line(
    demo_ledger_parquet: Path,
    duckdb_reference: Path,  # noqa: F811 - the fixture imported from engines
    tmp_path: Path,
) -> None:
    """``source.kind: duckdb``: `collections-mi metrics` prints the reference's kpis.json; the tables match too."""
    database = duckdb_file_from_parquet(demo_ledger_parquet, tmp_path / "ledger.duckdb")
    params = write_params(tmp_path, tmp_path, source={"kind": "duckdb", "location": str(database)})
    run = cli("metrics", "--params", str(params))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout == (duckdb_reference / "kpis.json").read_text(encoding="utf-8")
    assert_same_results(duckdb_reference, compute_results(params, tmp_path / "out"))
    ledger = open_ledger(load_params(params), params)
    assert ledger.description == f"duckdb:{database}"
    assert sorted(ledger.typed) == sorted(p.stem for p in demo_ledger_parquet.glob("*.parquet"))


def test_duckdb_file_with_its_own_table_names_in_a_schema(
    demo_ledger: Path,
    duckdb_reference: Path,  # noqa: F811 - the fixture imported from engines
    tmp_path: Path,
) -> None:
    """``source.schema`` and ``source.tables.<t>.table``: text tables named as the system names them. The file is
    called like its schema (erp.duckdb, schema erp): Ibis' unqualified name for the schema was ambiguous there, an
    internal error."""
    database = duckdb_file_from_csv(demo_ledger, tmp_path / "erp.duckdb", "erp", ERP_TABLES)
    params = write_params(
        tmp_path,
        tmp_path,
        source={
            "kind": "duckdb",
            "location": str(database),
            "schema": "erp",
            "tables": {table: {"table": name} for table, name in ERP_TABLES.items()},
        },
    )
    assert_same_results(duckdb_reference, compute_results(params, tmp_path / "out"))
    ledger = open_ledger(load_params(params), params)
    assert ledger.names["customers"].where == "the Debtor Master table"
    assert ledger.names["customers"].mapped and not ledger.names["fx_rates"].mapped


def test_duckdb_file_another_program_is_writing_to_is_named(tiny_ledger: Path, tmp_path: Path) -> None:
    """DuckDB locks a file open for writing against every other process: exit 2 naming the file and the process
    (it was an internal error, exit 1)."""
    import duckdb

    database = tmp_path / "ledger.duckdb"
    writer = duckdb.connect(str(database))
    try:
        writer.execute("create table invoices (invoice_id varchar)")
        params = write_params(tmp_path, tmp_path, source={"kind": "duckdb", "location": str(database)})
        run = cli("metrics", "--params", str(params))
    finally:
        writer.close()
    assert run.returncode == 2, run.stderr
    assert (
        f"error: {database} (source.location): another program is writing to it (process {os.getpid()}, "
        f"{Path(sys.executable).resolve().name}), and DuckDB lets no one read a database file while it is open "
        "for writing"
    ) in run.stderr
    assert "fix: close that program's connection to the file (or wait for it to finish) and run again" in run.stderr
    assert "internal error" not in run.stderr and "Traceback" not in run.stderr


def test_duckdb_schema_that_is_not_there_names_the_schemas(demo_ledger: Path, tmp_path: Path) -> None:
    """Every table was reported missing, as if the file were empty; the schema is what is wrong."""
    database = duckdb_file_from_csv(demo_ledger, tmp_path / "erp.duckdb", "erp", {})
    params = write_params(tmp_path, tmp_path, source={"kind": "duckdb", "location": str(database), "schema": "ERP"})
    with pytest.raises(SourceError) as raised:
        open_ledger(load_params(params), params)
    assert raised.value.message == f"source.schema: the schema 'ERP' is not in {database}; schemas there: erp, main"
    assert raised.value.hint.startswith("name the schema that holds the ledger's tables exactly (capitals count)")


def test_ibis_duckdb_url_to_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    """``source.kind: ibis`` with ``duckdb://`` (or a bare path ending .duckdb): DuckDB would create an empty
    database there and validation then reported every table missing."""
    missing = tmp_path / "typo.duckdb"
    for location in (f"duckdb://{missing}", str(missing)):
        params = write_params(tmp_path, tmp_path, source={"kind": "ibis", "location": location})
        with pytest.raises(SourceError, match=f"^DuckDB file not found: {missing} \\(source.location "):
            open_ledger(load_params(params), params)
        assert not missing.exists()


def test_ibis_duckdb_url_to_an_existing_file_reads_it(tiny_ledger: Path, tmp_path: Path) -> None:
    """The same URL to a file that is there: its tables, on DuckDB."""
    import duckdb

    database = tmp_path / "ledger.duckdb"
    con = duckdb.connect(str(database))
    try:
        for path in sorted(tiny_ledger.glob("*.csv")):
            con.execute(f"create table {path.stem} as select * from read_csv(?, all_varchar = true)", [str(path)])
    finally:
        con.close()
    params = write_params(tmp_path, tmp_path, source={"kind": "ibis", "location": f"duckdb://{database}"})
    ledger = open_ledger(load_params(params), params)
    assert (
        int(ledger.typed["invoices"].count().execute())
        == sum(1 for _ in (tiny_ledger / "invoices.csv").open(encoding="utf-8")) - 1
    )


def test_engine_missing_fails_in_ci_and_skips_elsewhere(tmp_path: Path) -> None:
    """A missing Postgres or Java skips the engine tests on a laptop, saying why, and fails them in CI."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "from engines import engine_missing\n\n"
        "def test_needs_an_engine():\n    engine_missing('no Java runtime for Spark: install it')\n",
        encoding="utf-8",
    )
    runs = {}
    for ci in ("true", ""):
        env = {**os.environ, "CI": ci, "PYTHONPATH": str(ROOT / "tests")}
        runs[ci] = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-p", "no:xdist", str(probe)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert runs["true"].returncode == 1, runs["true"].stdout
    assert (
        "no Java runtime for Spark: install it — CI=true: the engine tests must run in CI, not skip"
        in runs["true"].stdout
    )
    assert runs[""].returncode == 0, runs[""].stdout
    assert "engines.py:" in runs[""].stdout and ": no Java runtime for Spark: install it\n" in runs[""].stdout
    assert "1 skipped" in runs[""].stdout
