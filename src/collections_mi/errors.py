"""Exception types. Each message names the culprit (file, table, column, key, rows) and the fix.

The CLI maps every subclass of :class:`CollectionsMIError` to a clean message and an exit code;
nothing else is caught, so a bug still shows its traceback.
"""

from __future__ import annotations


class CollectionsMIError(Exception):
    """Base class. ``exit_code`` is what the CLI returns."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  fix: {hint}")


class ConfigError(CollectionsMIError):
    """The params file is missing, malformed, or holds an unknown key / wrong type / impossible value."""

    exit_code = 2


class SourceError(CollectionsMIError):
    """A source cannot be opened or a required table/column is missing."""

    exit_code = 2


class ValidationFailed(CollectionsMIError):
    """Input data failed the validation gate; ``report`` holds every failure found."""

    exit_code = 2

    def __init__(self, message: str, report: object, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


class SuiteError(CollectionsMIError):
    """An expectation suite file is unreadable or holds an expectation Great Expectations cannot build."""

    exit_code = 2


class MissingFxRate(CollectionsMIError):
    """A foreign-currency amount needs a rate that the fx_rates table does not have."""

    exit_code = 2


class PackError(CollectionsMIError):
    """A notebook failed, or publishing the pack failed."""

    exit_code = 3


class PackLocked(CollectionsMIError):
    """Another pack for the same period is running."""

    exit_code = 4


class HistoryError(CollectionsMIError):
    """The history folder, a period or a table asked for is missing, or a backfill range is invalid."""

    exit_code = 2
