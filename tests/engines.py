"""Throwaway engines for the cross-engine tests: a private Postgres server and a local Spark session.

Postgres: ``initdb`` into a fresh folder and ``pg_ctl start`` on a free TCP port of 127.0.0.1 (and a unix socket in
the same folder), run as the ``postgres`` user when the tests run as root (initdb refuses root). Password
authentication on TCP, so the pack connects exactly as it would to a warehouse: user in the URL, password from
``PGPASSWORD``. Spark: a ``local[1]`` session without UI, one shuffle partition.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
            raise RuntimeError(f"{' '.join(argv)} failed ({completed.returncode}):\n{completed.stdout}\n"
                               f"{completed.stderr}\n{tail}")

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
    server._run(str(bindir / "initdb"), "-D", str(server.data), "-U", PG_USER, f"--pwfile={folder / 'pwfile'}",
                "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
    options = (f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c shared_buffers=32MB -c max_connections=20")
    server._run(str(bindir / "pg_ctl"), "-D", str(server.data), "-o", options, "-l", str(folder / "server.log"),
                "-w", "-t", "60", "start")
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
    session = (builder.master("local[1]").appName("collections_mi-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "1")
               .config("spark.default.parallelism", "1")
               .config("spark.sql.warehouse.dir", str(warehouse))
               .config("spark.driver.memory", "1g")
               # thousands of rows: interpreting each query's expressions beats compiling them (~30% faster here)
               .config("spark.sql.codegen.wholeStage", "false")
               .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session
