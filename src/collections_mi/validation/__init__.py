"""Validation: the gate between a source and the metrics. Every problem is found in one run and reported
for a finance user (table, column, rule, failing rows, how to fix).

1. structural checks (tables, table groups, required columns, empty tables) — :mod:`.structure`
2. Great Expectations suites on the raw text, one per table, in ``expectations/<table>.json`` — :mod:`.suites`
3. cross-table and business checks in the engine (orphans, over-application, FX coverage…) — :mod:`.cross_table`

``validate`` returns a :class:`ValidationReport`; the caller raises
:class:`~collections_mi.core.errors.ValidationFailed` when ``not report.ok``. Importing this package is cheap:
Great Expectations is imported on first use.
"""

from collections_mi.validation.report import ValidationFailure, ValidationReport
from collections_mi.validation.runner import validate
from collections_mi.validation.suites import SuiteError, expectations_dir, load_suite, load_suites

__all__ = [
    "SuiteError",
    "ValidationFailure",
    "ValidationReport",
    "expectations_dir",
    "load_suite",
    "load_suites",
    "validate",
]
