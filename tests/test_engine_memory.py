"""The engine's memory limit ($COLLECTIONS_MI_MEMORY_LIMIT) and what a user sees when DuckDB needs more than it.

DuckDB spills most work to disk, but a step it cannot spill raises its ``OutOfMemoryException``: that is the
machine's settings, not a fault in collections_mi ("internal error") nor a CSV that "cannot be read" (what a user
was told before). It is a named error, exit 7, saying which limit was in force and how to raise it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from collections_mi.core.errors import EngineOutOfMemory, SourceError
from collections_mi.sources import engine_memory
from collections_mi.sources.engine_memory import is_out_of_memory, memory_limit, out_of_memory

from conftest import PROGRESS_LINE, cli, write_params

TRACEBACK = "Traceback (most recent call last)"


def duckdb_out_of_memory() -> BaseException:
    """A real OutOfMemoryException from DuckDB: a 1 MB limit and a query that must hold more than that at once."""
    connection = duckdb.connect()
    connection.execute("SET memory_limit = '1MB'")
    connection.execute("SET threads = 1")
    try:
        connection.execute("SELECT list(range::VARCHAR) FROM range(1000000)").fetchall()
    except Exception as exc:  # the exception itself is what the tests look at
        return exc
    finally:
        connection.close()
    raise AssertionError("DuckDB held a million strings in 1 MB")


def error_after_progress(stderr: str) -> str:
    """What follows the stages' progress lines (``HH:MM:SS [period] …``) in ``stderr``: the error."""
    lines = stderr.splitlines(keepends=True)
    while lines and PROGRESS_LINE.fullmatch(lines[0].rstrip("\n")):
        lines.pop(0)
    return "".join(lines)


def test_out_of_memory_names_the_limit_what_was_done_and_a_larger_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLECTIONS_MI_MEMORY_LIMIT", "3GB")
    monkeypatch.setattr(engine_memory, "_machine_memory", lambda: 32 * 10**9)
    error = out_of_memory(duckdb_out_of_memory(), "reading invoices.csv")
    assert isinstance(error, EngineOutOfMemory) and error.exit_code == 7
    assert error.message.startswith(
        "the DuckDB engine ran out of memory reading invoices.csv: a step needed more than its limit of 3GB "
        "(COLLECTIONS_MI_MEMORY_LIMIT) and could not spill to disk: Out of Memory Error: "
    )
    assert "\n" not in error.message  # DuckDB's own advice (several lines, SQL settings) is not the user's fix
    assert error.hint == (
        "raise the limit, e.g. COLLECTIONS_MI_MEMORY_LIMIT=6GB (this machine has 32GB of memory), or use fewer "
        "threads (COLLECTIONS_MI_THREADS=1), which gives each query more of the limit; nothing was published"
    )


def test_out_of_memory_suggests_at_most_three_quarters_of_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_memory, "_machine_memory", lambda: 8 * 10**9)
    monkeypatch.setenv("COLLECTIONS_MI_MEMORY_LIMIT", "4GB")
    error = out_of_memory(duckdb_out_of_memory())
    assert error is not None and error.hint is not None
    assert error.message.startswith("the DuckDB engine ran out of memory: a step needed more than its limit of 4GB ")
    assert error.hint.startswith("raise the limit, e.g. COLLECTIONS_MI_MEMORY_LIMIT=6GB (this machine has 8GB")
    monkeypatch.setenv("COLLECTIONS_MI_MEMORY_LIMIT", "6GB")  # already three quarters: no larger limit to suggest
    error = out_of_memory(duckdb_out_of_memory())
    assert error is not None
    assert error.hint == (
        "use fewer threads (COLLECTIONS_MI_THREADS=1), which gives each query more of the limit, or a machine with "
        "more memory (this machine has 8GB of memory); nothing was published"
    )
    monkeypatch.delenv("COLLECTIONS_MI_MEMORY_LIMIT")  # the default is in force
    error = out_of_memory(duckdb_out_of_memory())
    assert error is not None and "its limit of 1GB (COLLECTIONS_MI_MEMORY_LIMIT)" in error.message
    assert error.hint is not None and "COLLECTIONS_MI_MEMORY_LIMIT=2GB" in error.hint


def test_only_duckdb_running_out_of_memory_is_recognised_also_when_wrapped() -> None:
    oom = duckdb_out_of_memory()
    assert is_out_of_memory(oom)
    try:
        try:
            raise oom
        except Exception as inner:
            raise RuntimeError("a query failed") from inner
    except RuntimeError as wrapped:
        assert is_out_of_memory(wrapped)
    assert not is_out_of_memory(MemoryError("Python's own"))
    assert not is_out_of_memory(duckdb.IOException("No files found"))
    assert out_of_memory(ValueError("Out of Memory Error: a message is not a type")) is None


def test_a_memory_limit_that_is_not_a_size_is_a_named_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLLECTIONS_MI_MEMORY_LIMIT", "lots")
    with pytest.raises(SourceError) as raised:
        memory_limit()
    assert raised.value.message == "COLLECTIONS_MI_MEMORY_LIMIT='lots' is not a memory size"
    assert raised.value.hint == "set it like 2GB, 8GB or 500MB, or unset it for the default (1GB)"
    for size in ("500MB", "8GB", "1.5GiB", " 2 gb "):
        monkeypatch.setenv("COLLECTIONS_MI_MEMORY_LIMIT", size)
        assert memory_limit() == size.strip()


def test_reading_csv_exports_beyond_the_limit_names_the_file_not_a_csv_fault(demo_ledger: Path, tmp_path: Path) -> None:
    params = write_params(tmp_path, demo_ledger)
    run = cli("validate", "--params", str(params), env={"COLLECTIONS_MI_MEMORY_LIMIT": "1MB"})
    assert run.returncode == 7, run.stderr
    assert TRACEBACK not in run.stderr and "internal error" not in run.stderr
    assert "cannot be read as" not in run.stderr  # not blamed on the file
    assert error_after_progress(run.stderr).startswith("error: the DuckDB engine ran out of memory reading ")
    assert ".csv: a step needed more than its limit of 1MB (COLLECTIONS_MI_MEMORY_LIMIT)" in run.stderr
    assert "\n  fix: raise the limit, e.g. COLLECTIONS_MI_MEMORY_LIMIT=1GB" in run.stderr


def test_computing_beyond_the_limit_is_a_named_error_not_an_internal_error(tiny_ledger: Path, tmp_path: Path) -> None:
    params = write_params(tmp_path, tiny_ledger)
    run = cli("metrics", "--params", str(params), "--skip-validation", env={"COLLECTIONS_MI_MEMORY_LIMIT": "1MB"})
    assert run.returncode == 7, run.stderr
    assert TRACEBACK not in run.stderr and "internal error" not in run.stderr
    assert run.stdout == ""
    assert error_after_progress(run.stderr).startswith("error: the DuckDB engine ran out of memory")
    assert "its limit of 1MB (COLLECTIONS_MI_MEMORY_LIMIT)" in run.stderr
    assert "COLLECTIONS_MI_THREADS=1" in run.stderr


def test_the_validation_screen_does_not_hand_an_engine_out_of_memory_to_great_expectations() -> None:
    """The screen's aggregate query running out of memory is not "an engine the screen cannot use" (Unscreenable,
    after which Great Expectations would read the whole table into pandas): it is the named error."""
    import ibis

    from collections_mi.validation.screen import screen

    backend = ibis.duckdb.connect()
    backend.raw_sql("SET threads = 1")
    backend.raw_sql(
        "CREATE TABLE raw_invoices AS "
        "SELECT range::VARCHAR || ' padding to fill memory' AS invoice_id FROM range(300000)"
    )
    table = backend.table("raw_invoices")
    backend.raw_sql("SET memory_limit = '1MB'")
    items = [{"type": "expect_column_values_to_be_unique", "kwargs": {"column": "invoice_id"}}]
    with pytest.raises(EngineOutOfMemory) as raised:
        screen(table, items)
    assert raised.value.message.startswith("the DuckDB engine ran out of memory validating the ledger: ")


def test_a_ledger_opens_on_duckdb_with_the_documented_engine_settings(
    tiny_ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection a ledger is read through carries the limit, the spill folder and the threads the README
    documents, and gives freed memory back (``allocator_background_threads``: after compute a 10M-invoice pack
    otherwise held ~400 MB the engine no longer used, through the notebooks and the workbook)."""
    from collections_mi.config.params import load_params
    from collections_mi.sources.ledger import open_ledger

    monkeypatch.setenv("COLLECTIONS_MI_MEMORY_LIMIT", "700MB")
    monkeypatch.setenv("COLLECTIONS_MI_TEMP_DIR", str(tmp_path / "spill"))
    monkeypatch.setenv("COLLECTIONS_MI_THREADS", "1")
    params = write_params(tmp_path, tiny_ledger)
    backend = open_ledger(load_params(params), params).backend
    settings = dict(
        backend.con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('memory_limit', 'temp_directory', 'threads', 'allocator_background_threads')"
        ).fetchall()
    )
    assert settings == {
        "memory_limit": "667.5 MiB",  # 700 MB as DuckDB shows it
        "temp_directory": str(tmp_path / "spill"),
        "threads": "1",
        "allocator_background_threads": "true",
    }


def test_the_book_is_built_with_rows_in_any_order_and_the_ledger_read_in_file_order(
    tiny_ledger: Path, tmp_path: Path
) -> None:
    """The Book's tables are built with ``preserve_insertion_order = false`` (DuckDB's advice against running out of
    memory on large tables); afterwards, and for validation before, the connection keeps insertion order — the
    rows validation names are positions in the ledger's files."""
    from collections_mi.config.params import load_params
    from collections_mi.metrics.book import open_book
    from collections_mi.sources.ledger import open_ledger, rows_in_any_order

    params_path = write_params(tmp_path, tiny_ledger)
    params = load_params(params_path)
    ledger = open_ledger(params, params_path)

    def insertion_order() -> str:
        found = ledger.backend.con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
        return str(found[0][0]).lower()

    assert insertion_order() == "true"
    with rows_in_any_order(ledger.typed):
        assert insertion_order() == "false"
    assert insertion_order() == "true"
    with pytest.raises(RuntimeError), rows_in_any_order(ledger.typed):
        raise RuntimeError("a failed build")
    assert insertion_order() == "true"
    with open_book(ledger, params) as book:
        assert insertion_order() == "true"
        assert book.spans.count().to_pyarrow().as_py() > 0
