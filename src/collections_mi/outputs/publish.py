"""Publishing a period in one atomic step, and repairing what a killed run left behind.

The output folder ``DIR`` holds::

    DIR/<period>                       a relative symlink to the current version: .versions/<period>/<run_id>
    DIR/.versions/<period>/<run_id>/   the published version (complete: its run.json is written last)
    DIR/.history/<period>/<run_id>/    versions that a re-run superseded
    DIR/.staging/<period>-<run_id>/    the run being built
    DIR/_failed/<period>-<run_id>/     failed runs, kept for diagnosis
    DIR/.<period>.lock                 stops two packs of one period interleaving

Publishing moves the complete staging folder into ``.versions`` (nobody looks there), creates a temporary symlink
to it and ``os.replace()``-s that onto ``DIR/<period>``: a single ``rename(2)``. Whoever opens ``DIR/<period>/``
gets the previous pack or the new one, whole, and a process killed at any step leaves one of the two in place;
:func:`recover`, run by the next pack of the period, tidies the rest (stale staging, a version left unlinked, a
missing or broken link). ``DIR/<period>`` as a real folder (published before versions existed) is converted in one
step too, by exchanging it with a symlink (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two renames, and
:func:`recover` repairs the link if the process dies between them).

Test hook: ``COLLECTIONS_MI_TEST_KILL_AT=<step>`` makes the process SIGKILL itself when publishing reaches that step
(see :data:`KILL_STEPS`), so the fault tests kill at a known point instead of racing a timer.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from collections_mi.core.errors import (
    MACHINE_ERRNOS,
    WRITE_ONLY_ERRNOS,
    OutputNotWritable,
    PackError,
    PackLocked,
    machine_fault_hint,
    machine_fault_reason,
)

VERSIONS = ".versions"
HISTORY = ".history"
STAGING = ".staging"
FAILED = "_failed"
KILL_AT_ENV = "COLLECTIONS_MI_TEST_KILL_AT"
#: the publishing steps the test hook can kill at, in the order they are reached
KILL_STEPS = (
    "staged",
    "version_placed",
    "link_created",
    "link_swapped",
    "old_archived",
    "legacy_link_created",
    "legacy_converted",
)


@contextlib.contextmanager
def period_lock(out_dir: Path, period: str) -> Iterator[None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir / f".{period}.lock"
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PackLocked(
                f"another pack for {period} is running (lock {lock_path})",
                hint="wait for it to finish; nothing was changed",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def staging_dir(out_dir: Path, period: str, run_id: str) -> Path:
    path = out_dir / STAGING / f"{period}-{run_id}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def keep_failed(out_dir: Path, period: str, run_id: str, staging: Path) -> Path:
    target = out_dir / FAILED / f"{period}-{run_id}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        discard(target)
    os.replace(staging, target)
    return target


def _run_id(folder: Path) -> str:
    try:
        return str(json.loads((folder / "run.json").read_text(encoding="utf-8"))["run_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"unknown-{int(folder.stat().st_mtime)}"


def _is_complete(folder: Path) -> bool:
    """A version is complete when its run.json exists: the runner writes it last, before publishing."""
    return folder.is_dir() and not folder.is_symlink() and (folder / "run.json").is_file()


def _age_key(folder: Path) -> tuple[str, str]:
    """Orders versions of one period by when their run started (runs of a period never overlap: the lock)."""
    try:
        started = str(json.loads((folder / "run.json").read_text(encoding="utf-8")).get("started_utc", ""))
    except (OSError, ValueError, AttributeError):
        started = ""
    return started, folder.name


def _complete_versions(folder: Path) -> list[Path]:
    """The complete versions in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if _is_complete(p)), key=_age_key)


def _is_real_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def current_version(out_dir: Path, period: str) -> Path | None:
    """The version folder that ``out_dir/period`` links to, when the link exists and points at one."""
    final = out_dir / period
    if not final.is_symlink():
        return None
    try:
        target = os.readlink(final)
    except OSError:
        return None
    versions = out_dir / VERSIONS / period
    version = versions / Path(target).name
    same = os.path.normpath(out_dir / target) == os.path.normpath(version)
    return version if same and version.is_dir() and not version.is_symlink() else None


def _reached(step: str) -> None:
    """The test hook: die here, as a power cut or the OOM killer would, when the tests ask for it."""
    if os.environ.get(KILL_AT_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _sync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (best effort: not every file system allows it)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _sync_tree(folder: Path) -> None:
    """Flush every file of the staged pack to disk before it becomes visible: after a power cut the link must not
    point at files that were never written."""
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and not path.is_symlink():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        elif path.is_dir():
            _sync_dir(path)
    _sync_dir(folder)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done (then they are delivered): publishing is not cut in half by
    an interrupt. Only the main thread can set signal handlers; elsewhere the block runs as is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    names = [signal.SIGINT, signal.SIGTERM]
    previous = {number: signal.signal(number, lambda signum, _frame: pending.append(signum)) for number in names}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if pending:
            signal.raise_signal(pending[0])


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two names in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    number = ctypes.get_errno()
    if number in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(number, os.strerror(number), str(first), None, str(second))


def _swap_link(out_dir: Path, period: str, version: Path, step: str | None) -> None:
    """Point ``out_dir/period`` at ``version`` with one rename: a new symlink under a temporary name, replaced onto
    the old link."""
    temp = out_dir / f".{period}.link-{version.name}"
    if temp.is_symlink():
        temp.unlink()
    os.symlink(os.path.relpath(version, out_dir), temp)
    try:
        if step is not None:
            _reached(step)
        os.replace(temp, out_dir / period)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _free_name(folder: Path, name: str) -> Path:
    candidate, number = folder / name, 1
    while candidate.exists() or candidate.is_symlink():
        number += 1
        candidate = folder / f"{name}-{number}"
    return candidate


def _convert_legacy(out_dir: Path, period: str) -> Path:
    """``out_dir/period`` is a real folder (published before versions existed): make it a version and the period a
    link to it, in one exchange of names where the system has one."""
    final = out_dir / period
    versions = out_dir / VERSIONS / period
    versions.mkdir(parents=True, exist_ok=True)
    version = _free_name(versions, _run_id(final))
    # a symlink in the version's place that points (read from out_dir, where it will stand) at the version itself
    os.symlink(os.path.relpath(version, out_dir), version)
    try:
        _reached("legacy_link_created")
        exchanged = _exchange(final, version)
    except BaseException:
        with contextlib.suppress(OSError):
            version.unlink()
        raise
    if not exchanged:
        version.unlink()
        os.rename(final, version)  # killed before the link is in place: recover() links the version again
        try:
            _swap_link(out_dir, period, version, None)
        except BaseException:
            with contextlib.suppress(OSError):
                os.rename(version, final)
            raise
    _sync_dir(versions)
    _sync_dir(out_dir)
    _reached("legacy_converted")
    return version


def _archive(out_dir: Path, period: str, version: Path) -> Path:
    """Move a superseded version to ``.history/<period>/<run_id>/``."""
    target = out_dir / HISTORY / period / version.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        discard(target)
    os.rename(version, target)
    return target


def publish(out_dir: Path, period: str, staging: Path) -> Path:
    """Make the complete pack in ``staging`` the period's pack in one step; the version it replaces goes to
    ``.history``. On an error the previous pack stays and ``staging`` is where it was."""
    final = out_dir / period
    versions = out_dir / VERSIONS / period
    _reached("staged")
    _sync_tree(staging)
    with _signals_deferred():
        versions.mkdir(parents=True, exist_ok=True)
        if _is_real_folder(final):
            _convert_legacy(out_dir, period)
        previous = current_version(out_dir, period)
        version = versions / _run_id(staging)
        if version.exists() or version.is_symlink():
            raise PackError(
                f"could not publish to {final}: {version} already exists",
                hint="this run id was published before; run the pack again",
            )
        os.rename(staging, version)
        try:
            _sync_dir(versions)
            _reached("version_placed")
            _swap_link(out_dir, period, version, "link_created")
        except BaseException:
            with contextlib.suppress(OSError):
                os.rename(version, staging)
            raise
        _sync_dir(out_dir)
        _reached("link_swapped")
        if previous is not None and previous != version:
            # the new pack is published: a failure to archive the old one is finished by the next run's recover()
            with contextlib.suppress(OSError):
                _archive(out_dir, period, previous)
        _reached("old_archived")
    return final


def recover(out_dir: Path, period: str) -> list[str]:
    """Repair what a killed run of ``period`` left behind; call with the period's lock held. Returns what was done
    (empty when nothing needed doing).

    - a staging folder of the period is stale (its run is gone): removed;
    - a temporary link, or the placeholder link of a legacy conversion that was cut short: removed;
    - ``out_dir/period`` missing or a broken link: linked to the newest complete version (restored from
      ``.history`` when ``.versions`` has none);
    - a complete version beside the current one: one older than it was superseded but not yet archived (moved to
      ``.history``); one newer was never published (moved to ``_failed``: the pack you had stays).
    """
    done: list[str] = []
    staging_root = out_dir / STAGING
    stale = sorted(staging_root.glob(f"{period}-*")) if staging_root.is_dir() else []
    for folder in stale:
        discard(folder)
    if stale:
        done.append(
            f"removed the staging folder of {len(stale)} run(s) that did not finish "
            f"({', '.join(p.name for p in stale)})"
        )
    for temp in out_dir.glob(f".{period}.link-*"):
        if temp.is_symlink():
            temp.unlink()
    versions = out_dir / VERSIONS / period
    if versions.is_dir():
        for entry in versions.iterdir():
            if entry.is_symlink():
                entry.unlink()
    final = out_dir / period
    if _is_real_folder(final):
        return done  # published before versions existed: converted when the period is next published
    current = current_version(out_dir, period)
    if current is None:
        state = "a broken link" if final.is_symlink() else "missing"
        candidates, restored = _complete_versions(versions), ""
        if not candidates:
            archived = _complete_versions(out_dir / HISTORY / period)
            if archived:
                versions.mkdir(parents=True, exist_ok=True)
                os.rename(archived[-1], versions / archived[-1].name)
                candidates, restored = [versions / archived[-1].name], " (restored from .history)"
        if candidates:
            current = candidates[-1]
            _swap_link(out_dir, period, current, None)
            _sync_dir(out_dir)
            done.append(
                f"repaired {final}: it was {state}, now it is the newest complete version, run {current.name}{restored}"
            )
    if current is not None:
        for other in _complete_versions(versions):
            if other == current:
                continue
            if _age_key(other) > _age_key(current):
                kept = keep_failed(out_dir, period, other.name, other)
                done.append(
                    f"run {other.name} was killed while publishing: the previous pack stays; the run is kept in {kept}"
                )
            else:
                _archive(out_dir, period, other)
                done.append(f"moved the superseded version {other.name} to {out_dir / HISTORY / period}")
    return done


def _concerns(name: str | bytes | None, out_dir: Path) -> bool:
    """Whether the path an OSError names is ``out_dir``, inside it, or a folder above it."""
    if name is None:
        return False
    path = os.fsdecode(name)
    for resolve in (os.path.abspath, os.path.realpath):
        named, out = resolve(path), resolve(out_dir)
        if named == out or named.startswith(out + os.sep) or out.startswith(named.rstrip(os.sep) + os.sep):
            return True
    return False


def output_fault(exc: OSError, out_dir: Path, period: str) -> OutputNotWritable | None:
    """The named error for an OSError that writing the pack met (disk full, read-only, not writable, not a folder),
    or None when it is not a fault of the output folder's machine."""
    number = exc.errno
    if number not in MACHINE_ERRNOS:
        return None
    if number not in WRITE_ONLY_ERRNOS and not (_concerns(exc.filename, out_dir) or _concerns(exc.filename2, out_dir)):
        return None
    final = out_dir / period
    try:
        previous = final.is_dir()
    except OSError:
        previous = False
    kept = "the previous pack is unchanged" if previous else "nothing was published"
    return OutputNotWritable(
        f"could not publish to {final}: {machine_fault_reason(exc)}; {kept}", hint=machine_fault_hint(exc, out_dir)
    )
