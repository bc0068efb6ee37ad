"""Exception types. Each message names the culprit (file, table, column, key, rows) and the fix.

The CLI maps every subclass of :class:`CollectionsMIError` to a clean message and an exit code;
nothing else is caught, so a bug still shows its traceback.
"""

from __future__ import annotations

import errno
import os


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


class OutputNotWritable(CollectionsMIError):
    """The machine refused a write: the output folder is a file, on a read-only file system, not writable for this
    user, or its disk is full. Nothing was published and the previous pack is unchanged."""

    exit_code = 6


def first_line(exc: BaseException, *, named: bool = True) -> str:
    """``exc`` in one line for a summary: its type's name and the first line of its message (``ValueError: bad
    date``; a :class:`CollectionsMIError`'s fix, on the lines after, is left out). ``named=False``: the line alone.
    The type's name alone when the message is empty."""
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    return f"{type(exc).__name__}: {lines[0]}" if named else lines[0]


#: errors of the machine, not of collections_mi or of the data: what each means in a message
MACHINE_ERRNOS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for the file system",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "not a folder",
    errno.EEXIST: "already exists",
    errno.EISDIR: "is a folder",
    errno.EIO: "input/output error",
}
#: these come only from writing, whatever the file
WRITE_ONLY_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def machine_fault_reason(exc: OSError) -> str:
    """What an OSError of the machine means, e.g. "disk full (errno 28)"; for a path that is a file where a folder is
    needed, names that file."""
    number = exc.errno or 0
    for name in (exc.filename, exc.filename2):
        path = os.fsdecode(name) if number in (errno.EEXIST, errno.ENOTDIR) and name is not None else ""
        while path and not os.path.isfile(path) and os.path.dirname(path) != path:
            path = os.path.dirname(path)  # --out a/b/c where a is a file: the culprit is a
        if path and os.path.isfile(path):
            return f"{path} is a file, not a folder (errno {number})"
    return f"{MACHINE_ERRNOS.get(number, exc.strerror or 'error')} (errno {number})"


def machine_fault_hint(exc: OSError, folder: str | os.PathLike[str]) -> str:
    """The fix for an OSError of the machine that a write under ``folder`` met."""
    number = exc.errno or 0
    if number in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"free space on the disk that holds {os.fsdecode(folder)} (or choose another --out), then run again"
    if number == errno.EROFS:
        return f"{os.fsdecode(folder)} is on a read-only file system: remount it read-write or choose another --out"
    if number in (errno.EACCES, errno.EPERM):
        return (
            f"make {os.fsdecode(folder)} writable for this user (as root: clear an immutable attribute with "
            "chattr -i), or choose another --out"
        )
    if number in (errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
        return "pass a folder (existing or new) as --out, not a file"
    return f"check {os.fsdecode(folder)} and the disk it is on, then run again"


class BackfillFailed(CollectionsMIError):
    """Some months of a backfill could not be computed (the others are stored)."""

    exit_code = 1


class DeliveryError(CollectionsMIError):
    """The email could not be sent."""

    exit_code = 5


class EngineOutOfMemory(CollectionsMIError):
    """The engine needed more memory than its limit allows for a step it cannot spill to disk (DuckDB's
    ``OutOfMemoryException``): a fault of the machine's settings, not of the data. Nothing was published."""

    exit_code = 7
