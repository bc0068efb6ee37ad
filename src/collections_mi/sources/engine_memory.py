"""How much memory the DuckDB engine may use, and what to tell the user when a step needs more.

DuckDB spills most work to disk beyond ``memory_limit``, but not every step (a window over a very large table, a
string-heavy hash table): such a step raises ``OutOfMemoryException``. That is neither a fault in collections_mi nor
in the user's data, and it is not a CSV that "cannot be read": :func:`out_of_memory` turns it into an
:class:`~collections_mi.core.errors.EngineOutOfMemory` that names the limit and how to raise it.
"""

from __future__ import annotations

import os
import re

from collections_mi.core.errors import EngineOutOfMemory, SourceError, first_line

#: DuckDB's memory ceiling unless $COLLECTIONS_MI_MEMORY_LIMIT says otherwise: beyond it the engine spills to
#: disk instead of growing (its own default, 80 % of RAM, let a 10M-invoice run reach 8 GB). 1GB rather than 2GB:
#: `metrics` on 10M invoices then peaks at 3.4 GB instead of 5.4 GB for 13 % more time (benchmarks/RESULTS.md, eighth
#: round); at 1M invoices the same time and peak (30.6 vs 30.9 s, 1.25 vs 1.32 GB)
DEFAULT_MEMORY_LIMIT = "1GB"
MEMORY_LIMIT_VARIABLE = "COLLECTIONS_MI_MEMORY_LIMIT"

_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", flags=re.IGNORECASE)
_BYTES = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_BYTES.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})


def memory_limit() -> str:
    """The engine's memory limit: $COLLECTIONS_MI_MEMORY_LIMIT (e.g. 8GB, 500MB), else :data:`DEFAULT_MEMORY_LIMIT`."""
    limit = os.environ.get(MEMORY_LIMIT_VARIABLE, DEFAULT_MEMORY_LIMIT).strip()
    if not _SIZE.fullmatch(limit):
        raise SourceError(
            f"{MEMORY_LIMIT_VARIABLE}={limit!r} is not a memory size",
            hint=f"set it like 2GB, 8GB or 500MB, or unset it for the default ({DEFAULT_MEMORY_LIMIT})",
        )
    return limit


def _bytes(size: str) -> int:
    """``size`` (as :func:`memory_limit` gives it) in bytes."""
    match = _SIZE.fullmatch(size)
    if match is None:
        raise ValueError(f"not a memory size: {size!r}")
    return int(float(match.group(1)) * _BYTES[match.group(2).lower()])


def _machine_memory() -> int | None:
    """Physical memory of this machine in bytes (None where the platform does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def _gigabytes(size: int) -> str:
    return f"{max(1, round(size / 10**9))}GB"


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc``, or an exception it was raised from, is DuckDB's out-of-memory error."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = type(current)
        if kind.__name__ == "OutOfMemoryException" and kind.__module__.split(".")[0] in ("duckdb", "_duckdb"):
            return True
        current = current.__cause__ or current.__context__
    return False


def out_of_memory(exc: BaseException, doing: str | None = None) -> EngineOutOfMemory | None:
    """The error to show for ``exc`` when it is DuckDB running out of memory (else None): the limit in force, what
    was being done (``doing``, e.g. "reading invoices.csv") and how to give the engine more room."""
    if not is_out_of_memory(exc):
        return None
    try:
        limit = memory_limit()
    except SourceError:  # the connection would have refused it: the default was in force
        limit = DEFAULT_MEMORY_LIMIT
    current = _bytes(limit)
    wanted, room = 2 * current, ""
    machine = _machine_memory()
    if machine is not None:
        wanted = min(wanted, machine * 3 // 4)  # leave the rest of the machine to Python and the notebooks
        room = f" (this machine has {_gigabytes(machine)} of memory)"
    threads = "fewer threads (COLLECTIONS_MI_THREADS=1), which gives each query more of the limit"
    if wanted > current:
        hint = f"raise the limit, e.g. {MEMORY_LIMIT_VARIABLE}={_gigabytes(wanted)}{room}, or use {threads}"
    else:
        hint = f"use {threads}, or a machine with more memory{room}"
    return EngineOutOfMemory(
        f"the DuckDB engine ran out of memory{' ' + doing if doing else ''}: a step needed more than its limit of "
        f"{limit} ({MEMORY_LIMIT_VARIABLE}) and could not spill to disk: {first_line(exc, named=False)}",
        hint=f"{hint}; nothing was published",
    )
