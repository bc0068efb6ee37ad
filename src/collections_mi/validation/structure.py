"""Structural checks, run before anything else: tables present, table groups complete, required columns
present, required tables not empty. A table missing a required column gets no further checks."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from collections_mi.core.contract import TABLES
from collections_mi.validation.naming import FileNames
from collections_mi.validation.report import ValidationFailure

#: required tables that may legitimately hold no rows (data-contract.md: "payments (req, may have no rows)")
MAY_BE_EMPTY = frozenset({"payments"})


@dataclass
class Structure:
    failures: list[ValidationFailure] = field(default_factory=list)
    #: tables present with every required column: the only ones checked further
    usable: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    checks_run: int = 0


def _join(names: Collection[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_structure(columns: Mapping[str, Collection[str]], files: FileNames) -> Structure:
    """``columns``: table → its column names, for the tables the source has."""
    result = Structure()
    for name, spec in TABLES.items():
        if spec.required:
            result.checks_run += 1
            if name not in columns:
                result.failures.append(
                    ValidationFailure(
                        table=name,
                        column=None,
                        check="missing_table",
                        description=f"the required table {name} is missing from the source",
                        failing_count=1,
                        hint=f"add {files[name]} with at least the columns {', '.join(spec.required_columns)}",
                        expectation=f"{name} is required.",
                    )
                )
    groups: dict[str, list[str]] = {}
    for name, spec in TABLES.items():
        if spec.group:
            groups.setdefault(spec.group, []).append(name)
    for members in groups.values():
        result.checks_run += 1
        present = [m for m in members if m in columns]
        missing = [m for m in members if m not in columns]
        if present and missing:
            for name in missing:
                result.failures.append(
                    ValidationFailure(
                        table=name,
                        column=None,
                        check="incomplete_group",
                        description=(
                            f"{name} is missing, but {_join(present)} {'is' if len(present) == 1 else 'are'} "
                            f"present: {_join(members)} come together"
                        ),
                        failing_count=1,
                        hint=(
                            f"add {files[name]} (a header row alone is fine when it has no rows yet), or remove "
                            f"{_join([files[m] for m in present])}"
                        ),
                        expectation=f"The tables {_join(members)} are supplied together or not at all.",
                    )
                )
    for name, spec in TABLES.items():
        if name not in columns:
            continue
        result.checks_run += 1
        have = set(columns[name])
        missing_columns = [c for c in spec.required_columns if c not in have]
        for column in missing_columns:
            result.failures.append(
                ValidationFailure(
                    table=name,
                    column=column,
                    check="missing_column",
                    description=(
                        f"the required column {column} is missing, so the other checks of {name} were skipped"
                    ),
                    failing_count=1,
                    sample=[{"columns_found": ", ".join(columns[name])}],
                    hint=f"add the column {column} (header spelled exactly so) to {files[name]}",
                    expectation=f"The column {column} is required in {name}.",
                )
            )
        if missing_columns:
            result.skipped.append(f"{name}: all checks skipped (missing column {_join(missing_columns)})")
        else:
            result.usable.append(name)
    return result


def check_not_empty(row_counts: Mapping[str, int], files: FileNames) -> tuple[list[ValidationFailure], int]:
    """A required table with no rows is an error (except payments, which may be empty)."""
    failures: list[ValidationFailure] = []
    run = 0
    for name, rows in row_counts.items():
        spec = TABLES[name]
        if not spec.required or name in MAY_BE_EMPTY:
            continue
        run += 1
        if rows == 0:
            failures.append(
                ValidationFailure(
                    table=name,
                    column=None,
                    check="empty_table",
                    description=f"{name} has no rows; the pack cannot be built without any",
                    failing_count=1,
                    hint=f"export {files[name]} again: it holds only a header row (or the query returned nothing)",
                    expectation=f"{name} has at least one row.",
                )
            )
    return failures, run
