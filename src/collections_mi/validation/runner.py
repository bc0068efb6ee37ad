"""validate(): structural checks, then the Great Expectations suites, then the cross-table checks.

Every failure is collected (beancount style); nothing stops at the first problem. ``validate`` returns the
report and never raises for bad data — the caller decides (``pack`` raises ValidationFailed).
"""

from __future__ import annotations

import time
from pathlib import Path

from collections_mi.config.params import Params
from collections_mi.core.contract import TABLES
from collections_mi.sources.ledger import Ledger
from collections_mi.validation.cross_table import (
    ROW_CHECKS,
    SET_CHECKS,
    Context,
    raw_row_counts,
    run_checks,
    type_error_checks,
)
from collections_mi.validation.naming import FileNames
from collections_mi.validation.report import ValidationReport
from collections_mi.validation.screen import Unscreenable, screen
from collections_mi.validation.structure import check_not_empty, check_structure
from collections_mi.validation.suites import FORMAT_CHECKS, applicable, load_suites, run_suite

_TABLE_ORDER = {name: i for i, name in enumerate(TABLES)}


def validate(
    ledger: Ledger,
    params: Params,
    *,
    sample_rows: int = 5,
    expectations_dir: str | Path | None = None,
    engine_screen: bool = True,
) -> ValidationReport:
    """Check ``ledger`` against the data contract; return every failure found (the report is ``ok`` if none).

    ``expectations_dir`` defaults to the project's ``expectations/`` (or $COLLECTIONS_MI_EXPECTATIONS).
    Raises :class:`~collections_mi.validation.suites.SuiteError` only if a suite file itself is broken.

    With ``engine_screen`` (the default) each table's suite is first evaluated in the engine
    (:mod:`~collections_mi.validation.screen`); only tables it flags are copied to pandas for Great Expectations.
    """
    started = time.perf_counter()
    files = FileNames(ledger)
    columns = {name: list(table.columns) for name, table in ledger.raw.items() if name in TABLES}
    structure = check_structure(columns, files)
    failures = list(structure.failures)
    checks_run = structure.checks_run
    skipped = list(structure.skipped)

    context = Context(
        raw={name: ledger.raw[name] for name in structure.usable},
        typed={name: ledger.typed[name] for name in structure.usable},
        reporting_currency=params.reporting_currency,
        as_of=params.as_of,
        present=frozenset(columns),
    )
    # the cross-table checks on one table's raw values are counted in the screen's scan of that table; a table the
    # screen flags has them counted again after Great Expectations (its format failures change which run)
    raw_row_checks = [c for c in ROW_CHECKS + type_error_checks() if c.view == "raw"]
    counted: dict[str, int] = {}
    suites = load_suites(expectations_dir)  # all of them: a broken suite is reported even if its table is absent
    row_numbers = ledger.description.startswith("files:")  # a row's position means something in a file
    row_counts: dict[str, int] = {}
    format_failed: set[tuple[str, str]] = set()
    for name in TABLES:
        if name not in columns:
            continue
        if name not in structure.usable:
            row_counts[name] = int(ledger.raw[name].count().to_pyarrow().as_py())
            continue
        wanted = [c.name for c in TABLES[name].columns if c.name in columns[name]]
        if engine_screen:
            chosen, settled = applicable(suites[name], wanted)
            table = ledger.raw[name].select(*wanted)
            try:
                screened = screen(table, chosen, raw_row_counts(context, name, table, raw_row_checks))
            except Unscreenable:
                screened = None
            if screened is not None and not screened.flagged:
                row_counts[name] = screened.rows
                counted.update(screened.extra)
                checks_run += settled + len(chosen)
                continue
        frame = ledger.raw[name].select(*wanted).to_pyarrow().to_pandas()
        row_counts[name] = len(frame)
        found, run = run_suite(suites[name], frame, files, sample_rows=sample_rows, row_numbers=row_numbers)
        del frame
        failures += found
        checks_run += run
        format_failed |= {(name, f.column) for f in found if f.check in FORMAT_CHECKS and f.column}
    empty, run = check_not_empty(row_counts, files)
    failures += empty
    checks_run += run

    outcome = run_checks(
        context,
        files,
        sample_rows=sample_rows,
        row_checks=ROW_CHECKS + type_error_checks(skip=format_failed),
        set_checks=SET_CHECKS,
        counted=counted,
    )
    failures += outcome.failures
    checks_run += outcome.checks_run
    skipped += outcome.skipped

    failures.sort(key=lambda f: _TABLE_ORDER.get(f.table, len(_TABLE_ORDER)))  # stable: stage order kept per table
    failures = [files.annotate(f) for f in failures]  # a mapped source's own names, every failure alike
    return ValidationReport(
        failures=failures,
        checks_run=checks_run,
        tables={name: row_counts[name] for name in TABLES if name in row_counts},
        seconds=time.perf_counter() - started,
        skipped=skipped,
        source=ledger.description,
        as_of=params.as_of,
    )
