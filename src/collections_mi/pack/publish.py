"""Publishing a period atomically: build in a staging folder, then rename into place.

``DIR/<period>/`` is either the previous complete pack or the new complete pack, never a mix. The
superseded version moves to ``DIR/.history/<period>/<run_id>/``; failed runs are kept under
``DIR/_failed/<period>-<run_id>/`` for diagnosis. A lock file stops two packs of one period interleaving.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from collections_mi.errors import PackError, PackLocked


@contextlib.contextmanager
def period_lock(out_dir: Path, period: str) -> Iterator[None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir / f".{period}.lock"
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PackLocked(f"another pack for {period} is running (lock {lock_path})",
                             hint="wait for it to finish; nothing was changed") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def staging_dir(out_dir: Path, period: str, run_id: str) -> Path:
    path = out_dir / ".staging" / f"{period}-{run_id}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def keep_failed(out_dir: Path, period: str, run_id: str, staging: Path) -> Path:
    target = out_dir / "_failed" / f"{period}-{run_id}"
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)
    return target


def _previous_run_id(folder: Path) -> str:
    try:
        return json.loads((folder / "run.json").read_text(encoding="utf-8"))["run_id"]
    except (OSError, ValueError, KeyError):
        return f"unknown-{int(folder.stat().st_mtime)}"


def publish(out_dir: Path, period: str, staging: Path) -> Path:
    """Move ``staging`` to ``out_dir/period``; the version it replaces goes to ``.history``."""
    final = out_dir / period
    superseded: Path | None = None
    if final.exists():
        superseded = out_dir / ".history" / period / _previous_run_id(final)
        superseded.parent.mkdir(parents=True, exist_ok=True)
        if superseded.exists():
            discard(superseded)
        os.replace(final, superseded)
    try:
        os.replace(staging, final)
    except OSError as exc:
        if superseded is not None:
            os.replace(superseded, final)
        raise PackError(f"could not publish {final}: {exc}") from None
    return final
