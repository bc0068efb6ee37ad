"""Giving memory a large run no longer uses back to the system."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc


def give_back_freed_memory() -> None:
    """Collect unreachable objects, then ask glibc's allocator to return its free pages (``malloc_trim``): freed
    Python objects otherwise leave their pages with the process, which a pack then carries through its notebooks
    and workbook. A no-op where the C library has no ``malloc_trim`` (macOS, musl)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
    if trim is not None:
        trim(0)
