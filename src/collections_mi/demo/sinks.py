"""Writing the demo's tables, chunk by chunk, as CSV or Parquet files.

Each table is written under a temporary name (``.<table>.<fmt>.partial``) and renamed into place only on
``commit``, once every table is complete, so a half-written ledger never appears under the contract names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from collections_mi.demo.schemas import SCHEMAS


class TableSink(Protocol):
    """Where one table's rows go: written chunk by chunk, then closed, then committed (or discarded)."""

    rows: int

    def write(self, table: pa.Table) -> None: ...
    def close(self) -> None: ...
    def commit(self) -> None: ...
    def discard(self) -> None: ...


def open_sink(out_dir: Path, table: str, fmt: str) -> TableSink:
    """A sink for ``table`` in ``out_dir``, as ``fmt`` (``"csv"`` or ``"parquet"``)."""
    if fmt == "csv":
        return _CsvSink(out_dir, table, SCHEMAS[table])
    return _ParquetSink(out_dir, table, SCHEMAS[table])


class _FileSink:
    """Common temp-file handling: write to ``.<table>.<fmt>.partial``, rename on commit."""

    def __init__(self, out_dir: Path, table: str, suffix: str) -> None:
        self.final_path = out_dir / f"{table}.{suffix}"
        self.temp_path = out_dir / f".{table}.{suffix}.partial"
        self.rows = 0

    def commit(self) -> None:
        os.replace(self.temp_path, self.final_path)

    def discard(self) -> None:
        try:
            self.close()
        finally:
            self.temp_path.unlink(missing_ok=True)

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class _CsvSink(_FileSink):
    """CSV as the contract reads it: quotes only where needed, null = empty cell, ``\\n`` line ends."""

    def __init__(self, out_dir: Path, table: str, schema: pa.Schema) -> None:
        super().__init__(out_dir, table, "csv")
        self._file = open(self.temp_path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write((",".join(schema.names) + "\n").encode("utf-8"))

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if table.num_rows == 0:
            return
        cells = [_csv_cells(column.combine_chunks()) for column in table.columns]
        lines = pc.binary_join_element_wise(*cells, ",", null_handling="replace", null_replacement="")
        lines = pc.binary_join_element_wise(lines, "\n", "")
        self._file.write(_string_array_bytes(lines))

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def _csv_cells(column: pa.Array) -> pa.Array:
    if not pa.types.is_string(column.type):
        return pc.cast(column, pa.string())  # dates ISO, decimals with their scale, bools true/false
    needs_quotes = pc.match_substring_regex(column, r'^$|[",\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return pc.if_else(needs_quotes, quoted, column)


def _string_array_bytes(strings: pa.Array) -> memoryview:
    _, offsets_buffer, data_buffer = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[strings.offset : strings.offset + len(strings) + 1]
    return memoryview(data_buffer)[int(offsets[0]) : int(offsets[-1])]


class _ParquetSink(_FileSink):
    def __init__(self, out_dir: Path, table: str, schema: pa.Schema) -> None:
        super().__init__(out_dir, table, "parquet")
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self.temp_path, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        assert self._writer is not None
        if table.num_rows:
            self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
