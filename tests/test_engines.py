"""The same pack on DuckDB, Postgres and Spark: kpis.json and every tables/*.csv identical, byte for byte.

The small demo ledger (Parquet: dates, decimal(18, 2) money, booleans) is the source everywhere:

* DuckDB — ``source.kind: files`` on the Parquet folder (the reference);
* Postgres — the tables loaded with their types into schema ``ar`` of a throwaway server (initdb + pg_ctl, password
  authentication), read through ``source.kind: ibis`` with ``postgres://mi@127.0.0.1:PORT/ledger`` and the password
  only in ``PGPASSWORD``, through the command line (`collections-mi metrics`) and the library;
* Spark — a ``local[1]`` session: ``source.kind: spark`` on the same Parquet folder, and ``source.kind: ibis`` with
  ``pyspark://`` on tables saved in a catalog database.

The files kinds (CSV, Parquet) and ``source.kind: duckdb`` are compared with the same reference in
tests/test_source_kinds.py: together every ``source.kind`` is tested by ``make test``.

Deselect with ``-m "not engines"``. The engines come from ``make test`` (Debian's postgresql, a Java runtime and the
``warehouse`` extra); a test skips, saying what is missing, only when they are not on the machine — and fails instead
in CI (``CI=true``), where every source kind must run (``engines.engine_missing``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collections_mi.config.params import load_params
from collections_mi.sources.ledger import open_ledger

from conftest import cli, write_params
from engines import (
    PG_DATABASE,
    PG_USER,
    assert_same_results,
    compute_results,
    duckdb_reference,  # noqa: F401 - the fixture the engines are compared with
    engine_missing,
    import_engine,
    load_parquet_folder,
    postgres_bindir,
    spark_session,
    start_postgres,
)

pytestmark = pytest.mark.engines


#: cell values whose edges hold every whitespace character str.strip() removes, and letters next to them
EDGE_CASES = ["  C-1  ", "\tStaff\x0b", "write_off", "false", "\x0c v \x0c", " \r\n", "", "a b", "\r\nvf\r\n", "f"]


def assert_text_view_trims_like_python(backend) -> None:
    """The raw text view of a column (what validation reads and typed values are parsed from) on ``backend``."""
    import ibis

    from collections_mi.sources.typed_views import as_text as _as_text

    cells = ibis.memtable({"i": list(range(len(EDGE_CASES))), "x": EDGE_CASES})
    got = backend.to_pyarrow(cells.select("i", x=_as_text(cells.x)).order_by("i")).column("x").to_pylist()
    assert got == [c.strip(" \t\n\r\x0b\x0c") or None for c in EDGE_CASES]


def test_duckdb_text_view_trims_like_python() -> None:
    import ibis

    assert_text_view_trims_like_python(ibis.duckdb.connect())


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.text(alphabet=" \t\n\r\x0b\x0c\x01\x1f!vfé\u00a0€", max_size=6), min_size=1, max_size=30))
def test_text_view_trims_any_text_like_python(texts: list[str]) -> None:
    """The trimmed text view, on any text: exactly the six whitespace characters go from either end (not other
    control characters, not a no-break space, not the letters v and f), and empty text is null."""
    import ibis

    from collections_mi.sources.typed_views import as_text

    cells = ibis.memtable({"i": list(range(len(texts))), "x": texts})
    got = ibis.duckdb.connect().to_pyarrow(cells.select("i", x=as_text(cells.x)).order_by("i")).column("x")
    assert got.to_pylist() == [t.strip(" \t\n\r\x0b\x0c") or None for t in texts]


#: amounts as written, for the decimals check: significant decimals 0-3 and beyond, trailing zeros, no point, a point
#: at either end, not numbers at all
DECIMAL_CASES = [
    "1.5",
    "1.50",
    "1.500",
    "1.005",
    "-0.001",
    "100",
    "1.",
    ".5",
    "1e-5",
    "abc.def",
    "1.2.3",
    "0.000",
    "12345.678900",
    "7.0000000001",
    "-12.340",
    "",
    "5.10x",
]


def significant_decimals(text: str) -> int:
    """The oracle: decimals of a plain number written -?digits.digits, trailing zeros not counted; 0 otherwise."""
    whole, point, fraction = text.partition(".")
    digits = whole[1:] if whole.startswith("-") else whole
    if not (point and digits.isdigit() and fraction.isdigit()):
        return 0
    return len(fraction.rstrip("0"))


def assert_decimals_counted_like_python(backend) -> None:
    """``more_decimals_than`` (validation's money_decimals and precision checks) on ``backend``."""
    import ibis

    from collections_mi.validation.cross_table import more_decimals_than

    cells = ibis.memtable({"i": list(range(len(DECIMAL_CASES))), "x": DECIMAL_CASES})
    flags = {f"over{n}": more_decimals_than(cells.x, n) for n in range(4)}
    got = backend.to_pyarrow(cells.select("i", **flags).order_by("i")).to_pylist()
    assert [[row[f"over{n}"] for n in range(4)] for row in got] == [
        [significant_decimals(c) > n for n in range(4)] for c in DECIMAL_CASES
    ]


def test_duckdb_counts_decimals_like_python() -> None:
    import ibis

    assert_decimals_counted_like_python(ibis.duckdb.connect())


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.text(alphabet="0123456789.-e ", max_size=12), min_size=1, max_size=40), st.integers(0, 6))
def test_decimals_shortcut_agrees_with_the_regular_expression(texts: list[str], allowed: int) -> None:
    """The length shortcut settles a text only where no more decimals can be significant: on any text it agrees
    with the regular expression alone and with the oracle."""
    import ibis

    from collections_mi.validation.cross_table import _decimals, more_decimals_than

    cells = ibis.memtable({"i": list(range(len(texts))), "x": texts})
    got = (
        ibis.duckdb.connect()
        .to_pyarrow(
            cells.select(
                "i", fast=more_decimals_than(cells.x, allowed), regex=(_decimals(cells.x) > allowed).fill_null(False)
            ).order_by("i")
        )
        .to_pylist()
    )
    assert [(row["fast"], row["regex"]) for row in got] == [
        (significant_decimals(t) > allowed, significant_decimals(t) > allowed) for t in texts
    ]


# ------------------------------------------------------------------------------------------------------ Postgres


@pytest.fixture(scope="session")
def postgres(demo_ledger_parquet: Path):
    """A private Postgres server holding the demo ledger in schema ``ar``; stopped and deleted at the end."""
    if postgres_bindir() is None:
        engine_missing(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql package "
            "(`make test` does when run as root)"
        )
    import_engine("psycopg", "the Postgres driver is missing: pip install -e '.[warehouse]' (make test does)")
    import ibis

    server = start_postgres()
    try:
        backend = ibis.postgres.connect(
            host="127.0.0.1", port=server.port, user=PG_USER, password=server.password, database=PG_DATABASE
        )
        load_parquet_folder(backend, demo_ledger_parquet, schema="ar")
        backend.disconnect()
        yield server
    finally:
        server.stop()


@pytest.mark.xdist_group("postgres")
def test_postgres_is_identical_to_duckdb(postgres, duckdb_reference: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: F811 - the fixture imported from engines
    """`collections-mi metrics` on Postgres prints DuckDB's kpis.json; the tables are the same too. The password is
    only in PGPASSWORD, never in params or any output."""
    params = write_params(tmp_path, tmp_path, source={"kind": "ibis", "location": postgres.url(), "schema": "ar"})
    run = cli("metrics", "--params", str(params), env={"PGPASSWORD": postgres.password})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout == (duckdb_reference / "kpis.json").read_text(encoding="utf-8")
    assert postgres.password not in run.stdout + run.stderr + params.read_text(encoding="utf-8")
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    assert_same_results(duckdb_reference, compute_results(params, tmp_path / "out"))


#: bad-input cases (tests/bad_inputs) whose validation report a Postgres run must repeat: formats, ranges, sets,
#: duplicates, orphans, over-application, FX gaps — the ledger loaded as text columns, as a staging schema holds it
PARITY_CASES = [
    "01_duplicate_invoice_id",
    "04_orphan_payment",
    "05_orphan_adjustment",
    "07_over_application_by_payment",
    "09_negative_invoice_amount",
    "11_too_many_decimals_usd",
    "12_too_many_decimals_jpy",
    "13_due_date_before_invoice_date",
    "15_date_in_another_layout",
    "16_unknown_currency",
    "17_missing_fx_rate",
    "24_agency_fee_rate_as_percent",
]
IMPOSSIBLE_DATE = pytest.param(
    "14_impossible_date",
    marks=pytest.mark.xfail(
        strict=True,
        reason="known limit (README): Ibis casts without TRY_CAST on Postgres, so a text date that matches "
        "YYYY-MM-DD but does not exist stops validation with the database's error",
    ),
)


def failures_found(report) -> list[tuple]:
    """What a report says, without what only a file has (row numbers, the file's name in messages)."""
    return sorted(
        (
            f.table,
            f.column,
            f.check,
            f.failing_count,
            json.dumps([{k: v for k, v in row.items() if k != "row"} for row in f.sample], default=str),
        )
        for f in report.failures
    )


@pytest.mark.xdist_group("postgres")
@pytest.mark.parametrize("name", [*PARITY_CASES, IMPOSSIBLE_DATE])
def test_postgres_validation_reports_what_duckdb_reports(postgres, name: str, tmp_path: Path, monkeypatch) -> None:
    import ibis

    from collections_mi.sources.typed_views import NOT_IN_DIALECT
    from collections_mi.validation import validate
    from test_bad_inputs import CASES, lay_out

    _, params_path = lay_out(next(c for c in CASES if c.name == name), tmp_path / "files")
    params = load_params(params_path)
    files = open_ledger(params, params_path)
    expected = failures_found(validate(files, params))
    assert expected, "the case must fail validation"
    schema = f"case{name[:2]}"
    backend = ibis.postgres.connect(
        host="127.0.0.1", port=postgres.port, user=PG_USER, password=postgres.password, database=PG_DATABASE
    )
    try:
        backend.create_database(schema)
        for table, raw in files.raw.items():  # as written: a value marked as not in its layout loses the mark
            written = raw.mutate(**{c: raw[c].re_replace(f"{NOT_IN_DIALECT}$", "") for c in raw.columns})
            backend.create_table(table, written.to_pyarrow(), database=schema)
    finally:
        backend.disconnect()
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    pg_params = write_params(tmp_path, tmp_path, source={"kind": "ibis", "location": postgres.url(), "schema": schema})
    assert failures_found(validate(open_ledger(load_params(pg_params), pg_params), params)) == expected


@pytest.mark.xdist_group("postgres")
def test_postgres_wrong_password_names_the_url_not_the_secret(postgres, tmp_path: Path) -> None:
    location = postgres.url().replace(f"{PG_USER}@", f"{PG_USER}:not-the-password@")
    params = write_params(tmp_path, tmp_path, source={"kind": "ibis", "location": location, "schema": "ar"})
    run = cli("validate", "--params", str(params), env={"PGPASSWORD": ""})
    assert run.returncode == 2, run.stderr[-3000:]
    assert f"cannot connect to postgres://{PG_USER}:***@127.0.0.1:{postgres.port}/{PG_DATABASE}" in run.stderr
    assert "not-the-password" not in run.stderr + run.stdout


@pytest.mark.xdist_group("postgres")
def test_postgres_schema_that_is_not_there_is_named(postgres, tmp_path: Path, monkeypatch) -> None:
    """A misspelt source.schema names the schemas there, instead of reporting every table missing."""
    from collections_mi.core.errors import SourceError

    monkeypatch.setenv("PGPASSWORD", postgres.password)
    params = write_params(tmp_path, tmp_path, source={"kind": "ibis", "location": postgres.url(), "schema": "AR"})
    with pytest.raises(SourceError) as raised:
        open_ledger(load_params(params), params)
    message, listed = raised.value.message.split("; schemas there: ")
    assert message == (
        f"source.schema: the schema 'AR' is not in postgres://{PG_USER}@127.0.0.1:{postgres.port}/{PG_DATABASE}"
    )
    assert {"ar", "public"} <= set(listed.split(", "))  # and the other tests' schemas, if they ran first


# --------------------------------------------------------------------------------------------------------- Spark


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    import_engine("pyspark", "PySpark is missing: pip install -e '.[warehouse]' (make test does)")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        engine_missing("no Java runtime for Spark: install Debian's openjdk-17-jre-headless (`make test` does as root)")
    session = spark_session(tmp_path_factory.mktemp("spark") / "warehouse")
    yield session
    session.stop()


@pytest.mark.xdist_group("spark")
def test_spark_text_view_trims_like_python(spark) -> None:
    """Ibis' strip() would trim the letters v and f too on Spark (its TRIM list renders \\v and \\f escapes)."""
    import ibis

    assert_text_view_trims_like_python(ibis.pyspark.connect(spark))
    assert_decimals_counted_like_python(ibis.pyspark.connect(spark))


@pytest.mark.xdist_group("spark")
def test_spark_parquet_is_identical_to_duckdb(
    spark,
    demo_ledger_parquet: Path,
    duckdb_reference: Path,  # noqa: F811 - the fixture imported from engines
    tmp_path: Path,
) -> None:
    """``source.kind: spark`` on the Parquet folder: validated and computed in Spark, same bytes out."""
    params = write_params(tmp_path, demo_ledger_parquet, source={"kind": "spark", "location": str(demo_ledger_parquet)})
    assert_same_results(duckdb_reference, compute_results(params, tmp_path / "out"))


def table_fingerprints(tables) -> dict[str, dict]:
    """Per table: rows, and exact sums of its numbers and first/last of its dates (typed views)."""
    found = {}
    for name, table in sorted(tables.items()):
        measures = {"rows": table.count()}
        for column, dtype in table.schema().items():
            if dtype.is_decimal() or dtype.is_integer():
                measures[f"sum_{column}"] = table[column].sum()
            elif dtype.is_date():
                measures[f"min_{column}"] = table[column].min()
                measures[f"max_{column}"] = table[column].max()
        found[name] = {k: str(v) for k, v in table.aggregate(**measures).to_pyarrow().to_pylist()[0].items()}
    return found


@pytest.mark.xdist_group("spark")
def test_spark_catalog_through_an_ibis_url(spark, demo_ledger_parquet: Path, tmp_path: Path) -> None:
    """``source.kind: ibis`` with ``pyspark://`` and ``schema``: tables of a Spark catalog database (as on a cluster
    with a metastore) give the typed tables the files give — the metrics on them are the Parquet test's."""
    spark.sql("CREATE DATABASE IF NOT EXISTS ar")
    for path in sorted(demo_ledger_parquet.glob("*.parquet")):  # external tables: the catalog points at the files
        spark.sql(f"CREATE TABLE IF NOT EXISTS ar.{path.stem} USING parquet LOCATION '{path}'")
    catalog_params = write_params(tmp_path, tmp_path, source={"kind": "ibis", "location": "pyspark://", "schema": "ar"})
    catalog = open_ledger(load_params(catalog_params), catalog_params)
    assert catalog.description == "ibis:pyspark://"
    files_params = write_params(tmp_path, demo_ledger_parquet, name="files.yaml")
    files = open_ledger(load_params(files_params), files_params)
    assert table_fingerprints(catalog.typed) == table_fingerprints(files.typed)


def test_spark_source_folder_must_exist(tmp_path: Path) -> None:
    import_engine("pyspark", "PySpark is missing: pip install -e '.[warehouse]' (make test does)")
    from collections_mi.core.errors import SourceError

    params_path = write_params(tmp_path, tmp_path, source={"kind": "spark", "location": "no-such-ledger"})
    with pytest.raises(SourceError, match="source folder not found: .*no-such-ledger"):
        open_ledger(load_params(params_path), params_path)


def _audience_kpis(params_path: Path) -> dict[str, object]:
    """kpis.json of the audience ``emea`` (region EMEA) of ``params_path``'s ledger: its part of the ledger
    materialised in the engine, every section it can run computed on it."""
    from collections_mi.metrics.sections import available_sections, flat_kpis
    from collections_mi.metrics.shape import ledger_shape
    from collections_mi.runs.pack import compute_on_book
    from collections_mi.sources.audiences import audience_ledger, materialised

    params = load_params(params_path)
    ledger = open_ledger(params, params_path)
    part = audience_ledger(ledger.raw, ledger.typed, "emea", params.report.audiences["emea"])
    with materialised(part) as cached:
        shape = ledger_shape(cached.typed, params.as_of, cached.left_out)
        return flat_kpis(compute_on_book(cached.typed, params, available_sections(cached.typed, shape=shape), shape))


@pytest.mark.xdist_group("postgres")
def test_postgres_audience_is_identical_to_duckdb(
    postgres, demo_ledger_parquet: Path, tmp_path: Path, monkeypatch
) -> None:
    """An audience's part of the ledger (report.audiences) is filtered and materialised in the engine: on Postgres
    (temporary tables) its KPIs are DuckDB's, exactly."""
    report = {"audiences": {"emea": {"filter": {"region": "EMEA"}}}}
    reference = _audience_kpis(write_params(tmp_path, demo_ledger_parquet, name="duckdb.yaml", report=report))
    source = {"kind": "ibis", "location": postgres.url(), "schema": "ar"}
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    assert _audience_kpis(write_params(tmp_path, tmp_path, name="pg.yaml", source=source, report=report)) == reference
    assert reference["ar_total"] > 0 and "agency_placed" in reference and "total_reserve" not in reference
