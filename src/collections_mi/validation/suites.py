"""Great Expectations suites (``expectations/<table>.json``) run on the raw text of each table.

The suites are data, reviewed like code: every expectation carries ``meta.check`` (the short id shown in
reports), ``meta.notes`` (the rule in plain English) and ``meta.hint`` (how to fix it; ``{file}`` names the
table's file). Great Expectations is imported lazily — it costs seconds — and runs in an ephemeral context
that writes nothing to disk; the context is built once per process.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from collections_mi.core.contract import TABLES
from collections_mi.core.errors import SuiteError, first_line
from collections_mi.validation.naming import FileNames, row_keys
from collections_mi.validation.report import ValidationFailure, examples, jsonable, plural

#: the shipped suites: <repo>/expectations (src layout); COLLECTIONS_MI_EXPECTATIONS overrides it
DEFAULT_EXPECTATIONS_DIR = Path(__file__).resolve().parents[3] / "expectations"

#: what a failed expectation means, by ``meta.check``; ``meta.problem`` in a suite overrides it
PROBLEMS: dict[str, str] = {
    "missing_column": "the required column {column} is missing",
    "not_null": "{rows} where {column} is empty",
    "unique": "{rows} where {column} repeats a value that must be unique",
    "compound_unique": "{rows} where the combination ({column}) repeats; it must be unique",
    "date_format": "{rows} where {column} is not a real date written YYYY-MM-DD",
    "money_format": "{rows} where {column} is not written as a plain number like 1234.56",
    "positive": "{rows} where {column} is zero",
    "decimal_format": "{rows} where {column} is not written as a plain number like 0.85",
    "range": "{rows} where {column} is outside its allowed range or not a plain number",
    "bool_format": "{rows} where {column} is not a yes/no value",
    "allowed_values": "{rows} where {column} is not one of the allowed values",
    "currency_format": "{rows} where {column} is not a 3-letter currency code in capitals",
}
#: checks whose failures already name every unparseable value of the column (no separate type error)
FORMAT_CHECKS = frozenset({"date_format", "money_format", "decimal_format", "range", "bool_format"})
#: the sample column that carries the row's position in the file (1 = first row under the header)
ROW = "row"
_ROW_COLUMN = "__collections_mi_row__"


def expectations_dir() -> Path:
    return Path(os.environ.get("COLLECTIONS_MI_EXPECTATIONS") or DEFAULT_EXPECTATIONS_DIR)


@dataclass(frozen=True)
class Suite:
    table: str
    path: Path
    #: the expectations as written in the file (dicts with type, kwargs, meta)
    items: tuple[dict[str, Any], ...]

    @cached_property
    def _built(self) -> tuple[tuple[Any, ...], Any]:
        return _build(self.table, self.path, self.items)

    @property
    def expectations(self) -> tuple[Any, ...]:
        """The expectations built by Great Expectations, in the file's order (GX is imported on first use)."""
        return self._built[0]

    @property
    def gx_suite(self) -> Any:
        """The Great Expectations suite holding all of them."""
        return self._built[1]

    def runnable_suite(self, runtime: _Runtime, expectations: list[Any]) -> Any:
        """A GX suite of some of the expectations (cached: building one costs time on every run)."""
        key = (self.table, tuple(id(exp) for exp in expectations))
        cached = _SUBSETS.get(key)
        if cached is None:
            cached = _SUBSETS[key] = runtime.gx.ExpectationSuite(name=self.table, expectations=expectations)
        return cached

    def columns_of(self, item: dict[str, Any]) -> list[str]:
        kwargs = item["kwargs"]
        if "column" in kwargs:
            return [kwargs["column"]]
        return list(kwargs.get("column_list", ())) + [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]


# ---------------------------------------------------------------------------------------------- GX runtime


class _Runtime:
    """The GX module, one ephemeral context and one pandas data source; created on first use."""

    _lock = threading.Lock()
    _instance: _Runtime | None = None

    def __init__(self) -> None:
        # Great Expectations takes ~6 s to import: once, in the first validation of the process, never for --help,
        # `metrics --skip-validation` or a notebook; and only after this line, so that no usage statistics are sent
        os.environ["GX_ANALYTICS_ENABLED"] = "False"
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        self.gx = gx
        self.ExpectationConfiguration = ExpectationConfiguration
        # in-memory stores and no data-docs site: nothing is written to disk (the default ephemeral
        # context still reserves a temporary folder for docs); no progress bars on the terminal
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            analytics_enabled=False,
        )
        self.context = gx.get_context(mode="ephemeral", project_config=config)
        self.source = self.context.data_sources.add_pandas("collections_mi")
        self.batch_definitions: dict[str, Any] = {}

    @classmethod
    def get(cls) -> _Runtime:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def batch_definition(self, table: str) -> Any:
        if table not in self.batch_definitions:
            asset = self.source.add_dataframe_asset(table)
            self.batch_definitions[table] = asset.add_batch_definition_whole_dataframe("whole_table")
        return self.batch_definitions[table]


# ------------------------------------------------------------------------------------------------ loading

_SUITES: dict[tuple[str, int], Suite] = {}
_SUBSETS: dict[tuple[str, tuple[int, ...]], Any] = {}
_REQUIRED_META = ("check", "notes", "hint")


def load_suite(path: str | Path) -> Suite:
    """Read one suite file; every expectation must name what it checks and Great Expectations must build every one
    of them, or :class:`SuiteError`.

    Building needs Great Expectations (~3 s to import), which a run whose tables all pass the engine screen never
    uses otherwise: so a suite file GX has built once — these bytes, this GX version — is remembered as verified
    (an empty marker file named by their digest in the user's cache, :func:`verified_marker`), and later runs build
    its expectations only when they run them. A file that changes, or a new GX, is built again at load."""
    path = Path(path)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise SuiteError(
            f"expectation suite not found: {path}",
            hint="restore it from version control; there is one suite per contract table",
        ) from None
    cached = _SUITES.get((str(path), stamp))
    if cached is not None:
        return cached
    try:
        raw = path.read_bytes()
        data = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise SuiteError(
            f"{path}: not a readable JSON expectation suite: {exc}",
            hint="fix the JSON syntax (a trailing comma or a missing quote?)",
        ) from None
    table = path.stem
    if not isinstance(data, dict) or not isinstance(data.get("expectations"), list):
        raise SuiteError(f"{path}: expected an object with a list under 'expectations'")
    if data.get("name") != table:
        raise SuiteError(f"{path}: the suite is named {data.get('name')!r}; it must be named {table!r} like its file")
    items: list[dict[str, Any]] = data["expectations"]
    for number, item in enumerate(items, start=1):
        where = f"{path}, expectation #{number} ({item.get('type', '?') if isinstance(item, dict) else '?'})"
        if not isinstance(item, dict) or not isinstance(item.get("kwargs"), dict) or "type" not in item:
            raise SuiteError(f"{where}: each expectation needs 'type', 'kwargs' and 'meta'")
        meta = item.get("meta") or {}
        missing = [key for key in _REQUIRED_META if not str(meta.get(key, "")).strip()]
        if missing:
            raise SuiteError(
                f"{where}: meta.{', meta.'.join(missing)} missing",
                hint="every expectation says what it checks (meta.check, a short id), why in plain "
                "English (meta.notes) and how to fix a failure (meta.hint)",
            )
    suite = Suite(table, path, tuple(items))
    marker = verified_marker(raw)
    if marker is None or not marker.exists():
        suite.expectations  # noqa: B018 - built now: a suite GX cannot build is an error at load, not mid-run
        _remember(marker)
    _SUITES[(str(path), stamp)] = suite
    return suite


def verified_marker(content: bytes) -> Path | None:
    """Where the marker of a suite file with ``content``, built by the installed Great Expectations, is kept:
    ``$XDG_CACHE_HOME`` (default ``~/.cache``)``/collections_mi/verified-suites/<sha256>``; None when GX's version
    cannot be read (then every load builds)."""
    try:
        version = metadata.version("great_expectations")
    except metadata.PackageNotFoundError:
        return None
    digest = hashlib.sha256(version.encode() + b"\0" + content).hexdigest()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "collections_mi" / "verified-suites" / digest


def _remember(marker: Path | None) -> None:
    if marker is None:
        return
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # a read-only cache: the next run builds again, nothing else changes


def _build(table: str, path: Path, items: tuple[dict[str, Any], ...]) -> tuple[tuple[Any, ...], Any]:
    """The expectations of a suite file built by Great Expectations, and the GX suite holding them."""
    runtime = _Runtime.get()
    built = []
    for number, item in enumerate(items, start=1):
        where = f"{path}, expectation #{number} ({item['type']})"
        try:
            config = runtime.ExpectationConfiguration(
                type=item["type"], kwargs=item["kwargs"], meta=item.get("meta") or {}
            )
            built.append(config.to_domain_obj())
        except Exception as exc:  # GX raises many types (not found, pydantic validation…): all mean "cannot build"
            raise SuiteError(
                f"{where}: Great Expectations cannot build it: {first_line(exc, named=False)}",
                hint="check the expectation type and its kwargs against the GX 1.x gallery",
            ) from None
    gx_suite = runtime.gx.ExpectationSuite(name=table, expectations=built)
    if len(gx_suite.expectations) != len(items):  # GX drops expectations it cannot add, with only a log line
        raise SuiteError(
            f"{path}: {len(items)} expectations written but {len(gx_suite.expectations)} loaded",
            hint="an expectation is invalid; load the file with collections_mi.validation.load_suite",
        )
    return tuple(built), gx_suite


def load_suites(directory: str | Path | None = None, tables: Iterable[str] | None = None) -> dict[str, Suite]:
    """The suites of ``tables`` (default: every contract table) from ``directory``."""
    directory = Path(directory) if directory is not None else expectations_dir()
    names = list(TABLES) if tables is None else list(tables)
    return {name: load_suite(directory / f"{name}.json") for name in names}


# ------------------------------------------------------------------------------------------------ running


def prepare_frame(frame: pd.DataFrame, *, row_numbers: bool) -> pd.DataFrame:
    """The raw text as GX sees it; with ``row_numbers``, plus each row's position in the file
    (1 = first row under the header) so that samples can say "row 7".

    (Date columns stay plain text on purpose: as categoricals GX would parse each distinct date once, but
    pandas then returns a categorical mask whenever the mapping happens to be one-to-one, and GX misreads it.)
    """
    if not row_numbers:
        return frame
    frame = frame.copy(deep=False)
    frame.insert(0, _ROW_COLUMN, range(1, len(frame) + 1))
    return frame


def applicable(suite: Suite, columns: Iterable[str]) -> tuple[list[dict[str, Any]], int]:
    """The expectations of ``suite`` to run on a table with ``columns``, and how many are settled without running.

    Expectations on optional columns the table does not have are not run. ``expect_column_to_exist`` is
    settled — and counted — without a GX round trip: the structural step read the column list, and a table
    missing a required column never gets this far.
    """
    present = set(columns)
    usable = [item for item in suite.items if all(c in present for c in suite.columns_of(item))]
    chosen = [item for item in usable if item["type"] != "expect_column_to_exist"]
    return chosen, len(usable) - len(chosen)


def run_suite(
    suite: Suite, frame: pd.DataFrame, files: FileNames, *, sample_rows: int, row_numbers: bool
) -> tuple[list[ValidationFailure], int]:
    """Validate ``frame`` (raw text of ``suite.table``); return failures and the number of expectations run.

    Expectations on optional columns that the table does not have are not run. Pass 1 only asks which
    expectations fail (about twice as fast as asking for details); pass 2 re-runs the failed ones for their
    counts and offending rows.
    """
    runtime = _Runtime.get()
    table = suite.table
    frame = prepare_frame(frame, row_numbers=row_numbers)
    columns = set(frame.columns)
    chosen_items, settled = applicable(suite, columns)
    built = {id(item): exp for item, exp in zip(suite.items, suite.expectations, strict=True)}
    chosen = [built[id(item)] for item in chosen_items]
    if not chosen:
        return [], settled
    batch = runtime.batch_definition(table).get_batch(batch_parameters={"dataframe": frame})
    with warnings.catch_warnings():
        # pandas notes that our regexes have groups (it would rather we call str.extract): harmless here
        warnings.filterwarnings("ignore", message="This pattern is interpreted as a regular expression")
        first = batch.validate(suite.runnable_suite(runtime, chosen), result_format="BOOLEAN_ONLY").results
        failed_keys = {_key(result.expectation_config) for result in first if not result.success}
        failed = [exp for exp in chosen if _key(exp.configuration) in failed_keys]
        if not failed:
            return [], settled + len(chosen)
        index_columns = ([_ROW_COLUMN] if row_numbers else []) + [k for k in row_keys(table) if k in columns]
        details = batch.validate(
            suite.runnable_suite(runtime, failed),
            result_format={
                "result_format": "SUMMARY",
                "unexpected_index_column_names": index_columns,
                "partial_unexpected_count": max(sample_rows, 20),
                "return_unexpected_index_query": False,
            },
        ).results
    hints = files.for_table(table)
    return [_failure(suite, result, hints, sample_rows) for result in details], settled + len(chosen)


def _key(config: Any) -> str:
    """Identifies an expectation in results (which GX may reorder, and whose kwargs gain a batch_id)."""
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return json.dumps([config.type, kwargs, config.meta], sort_keys=True, default=str)


def _failure(suite: Suite, result: Any, files: FileNames, sample_rows: int) -> ValidationFailure:
    config = result.expectation_config
    item = {"type": config.type, "kwargs": dict(config.kwargs), "meta": dict(config.meta or {})}
    meta = item["meta"]
    check = meta["check"]
    columns = suite.columns_of(item)
    column = ", ".join(columns) if columns else None
    hint = meta["hint"].format_map(files)
    info = result.exception_info or {}
    if info.get("raised_exception"):
        message = str(info.get("exception_message") or "unknown error").splitlines()[0]
        return ValidationFailure(
            table=suite.table,
            column=column,
            check="expectation_error",
            description=f"the expectation {item['type']} could not be run: {message}",
            failing_count=1,
            hint="this is a problem of the expectation suite, not of your data: report it with this message",
            expectation=meta["notes"],
        )
    data = result.result or {}
    count = int(data.get("unexpected_count") or (0 if data else 1))
    problem = str(meta.get("problem") or PROBLEMS.get(check, "{rows} breaking this rule"))
    description = problem.format(rows=plural(count, "row"), column=column)
    sample = [_sample_row(row, columns) for row in (data.get("partial_unexpected_index_list") or [])[:sample_rows]]
    if check != "not_null":
        values = [_value(v) for v in data.get("partial_unexpected_list") or []]
        if values:
            description += f" ({examples(values, complete=count <= len(values))})"
    return ValidationFailure(
        table=suite.table,
        column=column,
        check=check,
        description=description,
        failing_count=count,
        sample=sample,
        hint=hint,
        expectation=meta["notes"],
    )


def _value(value: Any) -> Any:
    if isinstance(value, Mapping):  # compound expectations report each value as {column: value}
        return "/".join(str(jsonable(v)) for v in value.values())
    if isinstance(value, tuple | list):
        return "/".join(str(jsonable(v)) for v in value)
    return value


def _sample_row(row: Mapping[str, Any], columns: list[str]) -> dict[str, Any]:
    """Row position first, then the key columns, then the offending value(s)."""
    out: dict[str, Any] = {}
    if _ROW_COLUMN in row:
        out[ROW] = jsonable(row[_ROW_COLUMN])
    for key, value in row.items():
        if key != _ROW_COLUMN and key not in columns:
            out[key] = jsonable(value)
    for column in columns:
        if column in row:
            out[column] = jsonable(row[column])
    return out
