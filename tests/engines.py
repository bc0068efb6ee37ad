"""Throwaway engines for the cross-engine tests: a private Postgres server and a local Spark session.

Postgres: ``initdb`` into a fresh folder and ``pg_ctl start`` on a free TCP port of 127.0.0.1 (and a unix socket in
the same folder), run as the ``postgres`` user when the tests run as root (initdb refuses root). Password
authentication on TCP, so the pack connects exactly as it would to a warehouse: user in the URL, password from
``PGPASSWORD``. Spark: a ``local[1]`` session without UI, one shuffle partition.

An engine that is missing (no PostgreSQL server binaries, no Java, no PySpark or psycopg) skips its tests, saying
what to install — except in CI (``CI`` set to true, as CI runs ``make test``), where a missing engine fails them:
every ``source.kind`` must be tested there, never skipped silently.

The cross-engine comparisons: :func:`compute_results` (what ``collections-mi metrics`` computes, written as the pack
writes kpis.json and tables/) and :func:`assert_same_results`.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest


def in_ci() -> bool:
    """Whether this run is CI's (``CI=true``, ``1`` or ``yes``, as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def engine_missing(reason: str) -> NoReturn:
    """An engine this test needs is not installed: skip, saying what to install — or fail, in CI."""
    if in_ci():
        pytest.fail(f"{reason} — CI=true: the engine tests must run in CI, not skip", pytrace=False)
    pytest.skip(reason)


def import_engine(module: str, reason: str) -> Any:
    """``module`` imported, or :func:`engine_missing` with ``reason``."""
    try:
        return __import__(module)
    except ImportError:
        engine_missing(reason)


PG_USER = "mi"
PG_DATABASE = "ledger"


def postgres_bindir() -> Path | None:
    """The folder holding initdb/pg_ctl: PATH first, then Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    bindir: Path
    folder: Path
    port: int
    password: str
    run_as: str | None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = PG_DATABASE) -> str:
        """The connection URL without the password (it comes from PGPASSWORD)."""
        return f"postgres://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        prefix = ["runuser", "-u", self.run_as, "--"] if self.run_as else []
        completed = subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=timeout)
        if completed.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(argv)} failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}\n{tail}"
            )

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """initdb + pg_ctl start in a new folder under the system temp dir (short: the unix socket lives there)."""
    bindir = postgres_bindir()
    if bindir is None:
        raise FileNotFoundError("initdb not found (install Debian's postgresql package: `make test` does)")
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres"
        pwd.getpwnam(run_as)  # KeyError: the package creates this user
    folder = Path(tempfile.mkdtemp(prefix="cmi-pg-"))
    password = secrets.token_hex(16)
    (folder / "pwfile").write_text(password + "\n", encoding="utf-8")
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        os.chown(folder / "pwfile", entry.pw_uid, entry.pw_gid)
    server = PostgresServer(bindir, folder, _free_port(), password, run_as)
    server._run(
        str(bindir / "initdb"),
        "-D",
        str(server.data),
        "-U",
        PG_USER,
        f"--pwfile={folder / 'pwfile'}",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    )
    options = (
        f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c shared_buffers=32MB -c max_connections=20"
    )
    server._run(
        str(bindir / "pg_ctl"),
        "-D",
        str(server.data),
        "-o",
        options,
        "-l",
        str(folder / "server.log"),
        "-w",
        "-t",
        "60",
        "start",
    )
    try:
        server._run(str(bindir / "createdb"), "-h", str(folder), "-p", str(server.port), "-U", PG_USER, PG_DATABASE)
    except BaseException:
        server.stop()
        raise
    return server


def load_parquet_folder(backend: Any, folder: Path, schema: str | None = None) -> list[str]:
    """Create one table per ``<table>.parquet`` of ``folder`` in ``backend`` (in ``schema``), column types as
    stored (dates, decimal(18, 2) money, booleans): what a warehouse holding the ledger looks like."""
    import pyarrow.parquet as pq

    if schema:
        backend.create_database(schema, force=True)
    names = []
    for path in sorted(folder.glob("*.parquet")):
        backend.create_table(path.stem, pq.read_table(path), database=schema)
        names.append(path.stem)
    return names


def spark_session(warehouse: Path, **conf: str) -> Any:
    """A local Spark session tuned for tiny data: one core, one shuffle partition, no code generation, no UI."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = (
        builder.master("local[1]")
        .appName("collections_mi-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.driver.memory", "1g")
        # thousands of rows: interpreting each query's expressions beats compiling them (~30% faster here)
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def compute_results(params_path: Path, out: Path) -> Path:
    """What `collections-mi metrics` does (open, validate, compute every section), and the kpis.json and tables/
    that `pack` writes from it."""
    from collections_mi.config.params import load_params
    from collections_mi.metrics.book import open_book
    from collections_mi.metrics.sections import available_sections, compute_sections, flat_kpis
    from collections_mi.sources.ledger import open_ledger
    from collections_mi.store.results import write_results
    from collections_mi.validation.gate import validate_ledger

    params = load_params(params_path)
    ledger = open_ledger(params, params_path)
    validate_ledger(ledger, params)
    with open_book(ledger, params) as book:
        results = compute_sections(book, params, available_sections(ledger.typed))
    write_results(results, flat_kpis(results), out)
    return out


def assert_same_results(reference: Path, other: Path) -> None:
    """kpis.json and every file of tables/ byte-identical to the reference run's."""
    assert (other / "kpis.json").read_text(encoding="utf-8") == (reference / "kpis.json").read_text(encoding="utf-8")
    expected = sorted(p.name for p in (reference / "tables").iterdir())
    assert sorted(p.name for p in (other / "tables").iterdir()) == expected
    for name in expected:
        want = (reference / "tables" / name).read_text(encoding="utf-8").splitlines()
        got = (other / "tables" / name).read_text(encoding="utf-8").splitlines()
        if got != want:
            line = next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))
            pytest.fail(
                f"tables/{name} differs from the reference's at line {line + 1}:\n"
                f"  reference: {want[line] if line < len(want) else '(end)'}\n"
                f"  other:     {got[line] if line < len(got) else '(end)'}"
            )


@pytest.fixture(scope="session")
def duckdb_reference(demo_ledger_parquet: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference every source kind is compared with: the small demo ledger as Parquet files on DuckDB
    (``source.kind: files``), computed once per run. A test module imports this fixture to use it."""
    from conftest import built_once, write_params

    work, _ = built_once(
        tmp_path_factory,
        "engine-duckdb-reference",
        lambda work: compute_results(write_params(work, demo_ledger_parquet), work / "out") and None,
    )
    reference = work / "out"
    # every section ran and the ledger is not trivial: the comparisons cover every KPI
    kpis = json.loads((reference / "kpis.json").read_text(encoding="utf-8"))
    assert {
        "ar_total",
        "dso",
        "allowance_total",
        "total_reserve",
        "agency_net_back",
        "disputes_open",
        "unapplied_cash_total",
        "forecast_13w_total",
        "forecast_wape_pct",
    } <= set(kpis)
    assert kpis["open_items"] > 100
    return reference
