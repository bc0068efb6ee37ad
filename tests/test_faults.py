"""Faults of the machine and of the process, each leaving ``reports/`` consistent and the previous pack byte-identical.

- SIGKILL at every publishing step (through the test hook ``COLLECTIONS_MI_TEST_KILL_AT``, not a timer), for a period
  published by this version (a link onto ``.versions/``) and by an older one (a real folder): ``reports/<period>`` is
  the whole old pack or the whole new one, and a normal re-run exits 0 and leaves a consistent tree;
- SIGKILL during the notebooks: no worker, kernel or resource tracker outlives the pack; the re-run removes the stale
  staging folder;
- ``--out`` on a read-only file system (a tmpfs remounted read-only), not writable (``chattr +i`` as root, mode 0o555
  otherwise), a regular file, and a full disk (a small tmpfs, filled up to a few KB): a named error, exit 6, nothing
  left in staging.
- :func:`collections_mi.outputs.publish.recover` on the states a killed run can leave (fast, in-process).

The slow tests share one published baseline (the tiny ledger, ``--only aging`` to keep each run short); every case
works on its own copy of it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collections_mi.core.errors import EngineOutOfMemory, OutputNotWritable
from collections_mi.outputs import publish

from conftest import NO_BROWSER, ROOT, TINY, built_once, cli, cli_preloaded, write_params

PERIOD = "2026-10"
ONLY = ("--only", "aging")
TRACEBACK = "Traceback (most recent call last)"


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (through ``folder`` itself when it is a link) by relative path; links inside are
    recorded as links, not followed."""
    digest = {}
    for path in sorted(folder.rglob("*")):
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            digest[relative] = f"-> {os.readlink(path)}"
        elif path.is_file():
            digest[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


@dataclass(frozen=True)
class Baseline:
    params: Path
    out: Path
    run_id: str
    #: the published pack, file by file
    pack: dict[str, str]


def _publish_baseline(work: Path) -> None:
    ledger = work / "ledger"
    shutil.copytree(TINY, ledger)
    params = write_params(work, ledger)
    run = cli("pack", "--params", str(params), "--out", str(work / "reports"), *ONLY, env=NO_BROWSER)
    assert run.returncode == 0, run.stderr


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """Published once per run (every worker reads the same one; each case works on its own copy of ``out``)."""
    work, _ = built_once(tmp_path_factory, "faults-baseline", _publish_baseline)
    params, out = work / f"{PERIOD}.yaml", work / "reports"
    run_id = json.loads((out / PERIOD / "run.json").read_text(encoding="utf-8"))["run_id"]
    return Baseline(params, out, run_id, tree_digest(out / PERIOD))


def copy_out(baseline: Baseline, target: Path) -> Path:
    shutil.copytree(baseline.out, target, symlinks=True)
    return target


def as_legacy(out: Path, run_id: str) -> None:
    """The layout a version before the links left: ``out/<period>`` a real folder, no ``.versions``."""
    (out / PERIOD).unlink()
    os.rename(out / publish.VERSIONS / PERIOD / run_id, out / PERIOD)
    (out / publish.VERSIONS / PERIOD).rmdir()
    (out / publish.VERSIONS).rmdir()


def pack(
    baseline: Baseline, out: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The baseline's pack into ``out``, in a process of its own forked from the preloaded server (a SIGKILL of it is
    its exit code); publishing is what these tests look at, not the PDF or the email's charts."""
    return cli_preloaded(
        "pack", "--params", str(baseline.params), "--out", str(out), *extra, env={**NO_BROWSER, **(env or {})}
    )


def assert_consistent(out: Path, *, not_run: set[str]) -> str:
    """``out/<period>`` is a relative link to the only version in ``.versions``, complete, of a run not in
    ``not_run``; no staging, no temporary link. Returns the published run id."""
    final = out / PERIOD
    assert final.is_symlink(), f"{final} is not a link"
    target = os.readlink(final)
    assert not os.path.isabs(target) and target.startswith(f"{publish.VERSIONS}/{PERIOD}/"), target
    versions = sorted(p.name for p in (out / publish.VERSIONS / PERIOD).iterdir())
    run_id = json.loads((final / "run.json").read_text(encoding="utf-8"))["run_id"]
    assert versions == [run_id] == [Path(target).name]
    assert run_id not in not_run
    assert (final / "index.html").is_file() and (final / "kpis.json").is_file()
    assert list((out / publish.STAGING).iterdir()) == []
    assert list(out.glob(f".{PERIOD}.link-*")) == []
    return run_id


def the_killed_run(out: Path, old_run: str) -> Path:
    """The folder of the run that was killed while publishing: still in staging, or placed as a version."""
    found = [
        *(out / publish.STAGING).glob(f"{PERIOD}-*"),
        *(p for p in (out / publish.VERSIONS / PERIOD).iterdir() if p.name != old_run and not p.is_symlink()),
    ]
    assert len(found) == 1, found
    return found[0]


# --- SIGKILL at every publishing step --------------------------------------------------------------------------------

#: step → what reports/<period> shows right after the kill, and what the re-run reports having repaired
KILL_CASES = {
    "staged": ("old", "removed the staging folder of 1 run(s) that did not finish (2026-10-{killed})"),
    "version_placed": (
        "old",
        "run {killed} was killed while publishing: the previous pack stays; the run is kept in "
        "{out}/_failed/2026-10-{killed}",
    ),
    "link_created": (
        "old",
        "run {killed} was killed while publishing: the previous pack stays; the run is kept in "
        "{out}/_failed/2026-10-{killed}",
    ),
    "link_swapped": ("new", "moved the superseded version {old} to {out}/.history/2026-10"),
    "old_archived": ("new", None),
}


@pytest.mark.slow
@pytest.mark.parametrize("step", list(KILL_CASES))
def test_sigkill_at_a_publish_step_leaves_the_old_or_the_new_pack_whole(
    baseline: Baseline, tmp_path: Path, step: str
) -> None:
    out = copy_out(baseline, tmp_path / "reports")
    killed = pack(baseline, out, *ONLY, env={publish.KILL_AT_ENV: step})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    new_folder = the_killed_run(out, baseline.run_id)
    new_pack = tree_digest(new_folder)
    assert (new_folder / "run.json").is_file() and set(new_pack) == set(baseline.pack)  # a complete pack
    shows, repaired = KILL_CASES[step]
    assert tree_digest(out / PERIOD) == (baseline.pack if shows == "old" else new_pack)

    rerun = pack(baseline, out, *ONLY)
    assert rerun.returncode == 0, rerun.stderr
    killed_id = new_folder.name.removeprefix(f"{PERIOD}-")
    if repaired is None:
        assert "recovered from an interrupted run" not in rerun.stderr
    else:
        assert (
            f"[2026-10] recovered from an interrupted run: "
            f"{repaired.format(killed=killed_id, old=baseline.run_id, out=out)}" in rerun.stderr
        )
    assert_consistent(out, not_run={baseline.run_id, killed_id})
    history = out / publish.HISTORY / PERIOD
    assert tree_digest(history / baseline.run_id) == baseline.pack  # the old pack, byte-identical, in .history
    if shows == "new":  # published, then superseded by the re-run
        assert tree_digest(history / killed_id) == new_pack
    else:
        assert not (history / killed_id).exists()


#: publishing alone, in a process of its own: what the end of a pack run does with a staged pack
_PUBLISH_ONLY = """
import sys
from pathlib import Path
from collections_mi.outputs.publish import publish
publish(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
"""


def stage_a_copy(baseline: Baseline, out: Path, run_id: str, started: str) -> Path:
    """A complete staged pack: the baseline's files under another run id."""
    staging = out / publish.STAGING / f"{PERIOD}-{run_id}"
    shutil.copytree(baseline.out / PERIOD, staging)
    manifest = json.loads((staging / "run.json").read_text(encoding="utf-8"))
    (staging / "run.json").write_text(
        json.dumps({**manifest, "run_id": run_id, "started_utc": started}), encoding="utf-8"
    )
    return staging


@pytest.mark.slow
def test_sigkill_while_converting_a_folder_published_by_an_older_version(baseline: Baseline, tmp_path: Path) -> None:
    """Before versions, ``reports/<period>`` was a real folder: the first publish converts it in one exchange of
    names. Killed just before the exchange and just after it (publishing alone, in a process of its own), the
    period shows the old pack whole each time; a normal pack then publishes over it."""
    out = copy_out(baseline, tmp_path / "reports")
    as_legacy(out, baseline.run_id)
    for number, step in enumerate(["legacy_link_created", "legacy_converted"], start=1):
        staging = stage_a_copy(baseline, out, f"K{number}", f"2099-01-0{number}T00:00:00+00:00")
        killed = subprocess.run(
            [sys.executable, "-c", _PUBLISH_ONLY, str(out), PERIOD, str(staging)],
            capture_output=True,
            text=True,
            env={**os.environ, publish.KILL_AT_ENV: step},
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert (out / PERIOD).is_symlink() == (step == "legacy_converted")
        assert tree_digest(out / PERIOD) == baseline.pack
        if step == "legacy_link_created":  # the version's placeholder link is in place, the folder not yet moved
            assert (out / publish.VERSIONS / PERIOD / baseline.run_id).is_symlink()
            publish.recover(out, PERIOD)
            assert (
                not (out / publish.VERSIONS / PERIOD).exists()
                or list((out / publish.VERSIONS / PERIOD).iterdir()) == []
            )
            assert not (out / PERIOD).is_symlink() and tree_digest(out / PERIOD) == baseline.pack
        else:
            assert os.readlink(out / PERIOD) == f".versions/2026-10/{baseline.run_id}"

    rerun = pack(baseline, out, *ONLY)
    assert rerun.returncode == 0, rerun.stderr
    assert (
        "recovered from an interrupted run: removed the staging folder of 1 run(s) that did not finish "
        f"({PERIOD}-K2)" in rerun.stderr
    )
    assert_consistent(out, not_run={baseline.run_id, "K1", "K2"})
    assert tree_digest(out / publish.HISTORY / PERIOD / baseline.run_id) == baseline.pack


# --- SIGKILL during the notebooks ----------------------------------------------------------------------------------


def _cmdline(process) -> str:
    import psutil

    with contextlib.suppress(psutil.Error):
        return " ".join(process.cmdline())
    return ""


def _alive(processes: list) -> list:
    import psutil

    living = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                living.append(process)
    return living


@pytest.mark.slow
def test_sigkill_during_the_notebooks_leaves_no_process_behind_and_the_rerun_cleans_up(
    baseline: Baseline, tmp_path: Path
) -> None:
    psutil = pytest.importorskip("psutil")
    out = copy_out(baseline, tmp_path / "reports")
    # the killed pack cannot remove its folder of kernel sockets (the survivors' check below is about processes):
    # its temporary folder is one of the test's own, short enough for the sockets' paths, removed at the end
    scratch = Path(tempfile.mkdtemp(prefix="cmi-t-", dir="/tmp"))
    try:
        _sigkill_during_the_notebooks(baseline, out, scratch, psutil)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _sigkill_during_the_notebooks(baseline: Baseline, out: Path, scratch: Path, psutil) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "collections_mi", "pack", "--params", str(baseline.params), "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "False", "TMPDIR": str(scratch)},
    )
    try:
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + 180
        family: list = []
        while time.monotonic() < deadline and process.poll() is None:
            family = parent.children(recursive=True)
            kernels = [p for p in _alive(family) if "ipykernel" in _cmdline(p)]
            if kernels and list((out / publish.STAGING).glob("*/executed")):
                break  # a notebook is executing
            time.sleep(0.2)
        else:
            pytest.fail("the pack never reached the notebooks")
        time.sleep(1.0)
        family = parent.children(recursive=True)
        names = " | ".join(_cmdline(p) for p in _alive(family))
    finally:
        process.kill()
        process.wait()
    # what could be orphaned: the two notebook workers, their kernels, the multiprocessing resource tracker
    assert "resource_tracker" in names and names.count("--multiprocessing-fork") == 2 and "ipykernel" in names, names
    deadline = time.monotonic() + 20
    while _alive(family) and time.monotonic() < deadline:
        time.sleep(0.25)
    survivors = [(p.pid, _cmdline(p)[:100]) for p in _alive(family)]
    for survivor in _alive(family):  # do not leave them running when the assertion fails
        with contextlib.suppress(psutil.NoSuchProcess):
            survivor.kill()
    assert survivors == [], f"processes of the killed pack still running after 20 s: {survivors}"
    assert tree_digest(out / PERIOD) == baseline.pack
    stale = [p.name for p in (out / publish.STAGING).iterdir()]
    assert len(stale) == 1

    rerun = pack(baseline, out, *ONLY)
    assert rerun.returncode == 0, rerun.stderr
    assert (
        f"[2026-10] recovered from an interrupted run: removed the staging folder of 1 run(s) that did not "
        f"finish ({stale[0]})"
    ) in rerun.stderr
    assert_consistent(out, not_run={baseline.run_id})


# --- the output folder: read-only, not writable, a file, a full disk ------------------------------------------------


@contextlib.contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """A small tmpfs of our own (root in a sandbox that allows mount; skipped elsewhere)."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False, capture_output=True)
        subprocess.run(["umount", "-l", str(mountpoint)], check=False, capture_output=True)


def fill_up(disk: Path, leave_bytes: int) -> None:
    """Fill the file system of ``disk`` until ``leave_bytes`` remain free."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    with (disk / "filler").open("wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, max(0, free - leave_bytes))


def assert_failed_cleanly(
    run: subprocess.CompletedProcess[str],
    out: Path,
    before: dict[str, str],
    exit_code: int = OutputNotWritable.exit_code,
) -> None:
    """The run failed with ``exit_code`` (default 6: the output folder refused a write), a message and no traceback,
    and left ``out`` as it was (``before``) with nothing in staging or _failed."""
    assert run.returncode == exit_code, run.stderr[-3000:]
    assert TRACEBACK not in run.stderr and "internal error" not in run.stderr
    assert "Published" not in run.stdout
    assert tree_digest(out) == before  # the previous pack, .versions, .history: byte-identical
    assert not (out / publish.STAGING).exists() or list((out / publish.STAGING).iterdir()) == []
    assert not (out / publish.FAILED).exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("free", "reached"),
    [(0, "computing"), (400_000, "executing 1 notebook(s)")],
    ids=["while-writing-tables", "while-a-notebook-writes"],
)
def test_a_full_disk_is_a_named_error_and_the_previous_pack_stays(
    baseline: Baseline, tmp_path: Path, free: int, reached: str
) -> None:
    with tmpfs(tmp_path / "disk", "64m") as disk:
        out = copy_out(baseline, disk / "reports")
        fill_up(disk, free)
        before = tree_digest(out)
        run = pack(baseline, out, *ONLY)
        assert_failed_cleanly(run, out, before)
        assert reached in run.stderr
        assert (
            f"error: could not publish to {out}/2026-10: disk full (errno 28); the previous pack is unchanged\n"
            f"  fix: free space on the disk that holds {out} (or choose another --out), then run again" in run.stderr
        )


@pytest.mark.slow
def test_out_on_a_read_only_file_system_is_a_named_error(baseline: Baseline, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "64m") as disk:
        out = copy_out(baseline, disk / "reports")
        before = tree_digest(out)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        run = pack(baseline, out, *ONLY)
        assert_failed_cleanly(run, out, before)
        assert (
            f"error: could not publish to {out}/2026-10: read-only file system (errno 30); the previous pack is "
            f"unchanged\n  fix: {out} is on a read-only file system: remount it read-write or choose another "
            "--out"
        ) in run.stderr

        fresh = pack(baseline, disk / "new", *ONLY)
        assert fresh.returncode == 6 and TRACEBACK not in fresh.stderr
        assert (
            f"could not publish to {disk}/new/2026-10: read-only file system (errno 30); nothing was published"
            in fresh.stderr
        )

        demo = cli("demo", "--out", str(disk / "demo"), "--invoices", "20")  # the same fault, another command
        assert demo.returncode == 6 and TRACEBACK not in demo.stderr
        assert (
            f"error: {disk}/demo: read-only file system (errno 30)\n  fix: {disk}/demo is on a read-only" in demo.stderr
        )


@pytest.mark.slow
def test_an_engine_out_of_memory_is_a_named_error_and_the_previous_pack_stays(
    baseline: Baseline, tmp_path: Path
) -> None:
    out = copy_out(baseline, tmp_path / "reports")
    before = tree_digest(out)
    run = pack(baseline, out, *ONLY, env={"COLLECTIONS_MI_MEMORY_LIMIT": "1MB"})
    assert_failed_cleanly(run, out, before, exit_code=EngineOutOfMemory.exit_code)
    assert EngineOutOfMemory.exit_code == 7
    assert "error: the DuckDB engine ran out of memory" in run.stderr
    assert "its limit of 1MB (COLLECTIONS_MI_MEMORY_LIMIT)" in run.stderr
    assert "\n  fix: raise the limit, e.g. COLLECTIONS_MI_MEMORY_LIMIT=1GB" in run.stderr


@contextlib.contextmanager
def not_writable(folder: Path) -> Iterator[None]:
    """``folder`` refuses new entries: the immutable attribute for root (permission bits do not stop root), mode
    0o555 for anyone else."""
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not available here: {done.stderr.strip()}")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


@pytest.mark.slow
def test_out_that_is_not_writable_fails_at_publishing_and_leaves_the_previous_pack(
    baseline: Baseline, tmp_path: Path
) -> None:
    out = copy_out(baseline, tmp_path / "reports")
    before = tree_digest(out)
    with not_writable(out):
        run = pack(baseline, out, *ONLY)  # builds in .staging/, then may not link the new version into out/
    reason = "operation not permitted (errno 1)" if os.geteuid() == 0 else "permission denied (errno 13)"
    assert_failed_cleanly(run, out, before)
    assert "exporting HTML done" in run.stderr  # it failed at publishing, after the whole pack was built
    assert (
        f"error: could not publish to {out}/2026-10: {reason}; the previous pack is unchanged\n  fix: make {out} "
        "writable for this user"
    ) in run.stderr
    assert [p.name for p in (out / publish.VERSIONS / PERIOD).iterdir()] == [baseline.run_id]


@pytest.mark.slow
def test_out_that_is_a_file_is_a_named_error(baseline: Baseline, tmp_path: Path) -> None:
    regular = tmp_path / "reports.txt"
    regular.write_text("not a folder\n", encoding="utf-8")
    for out in (regular, regular / "sub"):
        run = pack(baseline, out, *ONLY)
        assert run.returncode == 6 and TRACEBACK not in run.stderr, run.stderr
        assert (
            f"error: could not publish to {out}/2026-10: {regular} is a file, not a folder (errno "
            f"{17 if out == regular else 20}); nothing was published\n"
            "  fix: pass a folder (existing or new) as --out, not a file"
        ) in run.stderr
    assert regular.read_text(encoding="utf-8") == "not a folder\n"


# --- the published link ----------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_period_is_a_relative_link_and_the_pack_works_moved_elsewhere(baseline: Baseline, tmp_path: Path) -> None:
    moved = copy_out(baseline, tmp_path / "elsewhere" / "reports")  # a relative link survives a move of reports/
    final = moved / PERIOD
    assert os.readlink(final) == f".versions/2026-10/{baseline.run_id}"
    assert tree_digest(final) == baseline.pack
    index = (final / "index.html").read_text(encoding="utf-8")
    links = set(re.findall(r'(?:href|src)="([^"#:]+)"', index))
    assert "html/01_aging.html" in links
    for link in links:  # every relative link of the index resolves inside the version, through the period's link
        assert (final / link).is_file(), link
        assert (final / link).resolve().is_relative_to((moved / publish.VERSIONS / PERIOD).resolve())


# --- recover(): the states a killed run can leave, repaired in-process ------------------------------------------------


def make_version(folder: Path, run_id: str, started: str, *, complete: bool = True) -> Path:
    folder.mkdir(parents=True)
    (folder / "index.html").write_text(f"<p>{run_id}</p>", encoding="utf-8")
    if complete:
        (folder / "run.json").write_text(json.dumps({"run_id": run_id, "started_utc": started}), encoding="utf-8")
    return folder


def link(out: Path, run_id: str) -> None:
    os.symlink(f".versions/{PERIOD}/{run_id}", out / PERIOD)


def test_recover_links_a_missing_period_to_the_newest_complete_version(tmp_path: Path) -> None:
    versions = tmp_path / publish.VERSIONS / PERIOD
    make_version(versions / "R1", "R1", "2026-11-01T08:00:00+00:00")
    make_version(versions / "R2", "R2", "2026-11-02T08:00:00+00:00")
    make_version(versions / "R3", "R3", "2026-11-03T08:00:00+00:00", complete=False)
    done = publish.recover(tmp_path, PERIOD)
    assert done == [
        f"repaired {tmp_path}/2026-10: it was missing, now it is the newest complete version, run R2",
        f"moved the superseded version R1 to {tmp_path}/.history/2026-10",
    ]
    assert os.readlink(tmp_path / PERIOD) == ".versions/2026-10/R2"
    assert (tmp_path / publish.HISTORY / PERIOD / "R1" / "run.json").is_file()
    assert (versions / "R3").is_dir()  # incomplete: not a version to show, left as found
    assert publish.recover(tmp_path, PERIOD) == []  # nothing left to do


def test_recover_restores_a_broken_link_from_history(tmp_path: Path) -> None:
    history = tmp_path / publish.HISTORY / PERIOD
    make_version(history / "R1", "R1", "2026-11-01T08:00:00+00:00")
    make_version(history / "R2", "R2", "2026-11-02T08:00:00+00:00")
    (tmp_path / publish.VERSIONS / PERIOD).mkdir(parents=True)
    link(tmp_path, "GONE")
    assert publish.recover(tmp_path, PERIOD) == [
        f"repaired {tmp_path}/2026-10: it was a broken link, now it is the newest complete version, run R2 (restored "
        "from .history)"
    ]
    assert (tmp_path / PERIOD / "index.html").read_text(encoding="utf-8") == "<p>R2</p>"
    assert sorted(p.name for p in history.iterdir()) == ["R1"]


def test_recover_tidies_after_a_run_killed_while_publishing(tmp_path: Path) -> None:
    versions = tmp_path / publish.VERSIONS / PERIOD
    make_version(versions / "OLD", "OLD", "2026-11-01T08:00:00+00:00")
    make_version(versions / "CUR", "CUR", "2026-11-02T08:00:00+00:00")
    make_version(versions / "NEW", "NEW", "2026-11-03T08:00:00+00:00")
    link(tmp_path, "CUR")
    os.symlink(".versions/2026-10/NEW", tmp_path / ".2026-10.link-NEW")  # the temporary link of the killed run
    os.symlink(".versions/2026-10/X", versions / "X")  # a legacy conversion's placeholder
    make_version(tmp_path / publish.STAGING / "2026-10-S1", "S1", "2026-11-04T08:00:00+00:00", complete=False)
    make_version(tmp_path / publish.STAGING / "2026-11-S2", "S2", "2026-11-04T08:00:00+00:00", complete=False)
    assert publish.recover(tmp_path, PERIOD) == [
        "removed the staging folder of 1 run(s) that did not finish (2026-10-S1)",
        f"moved the superseded version OLD to {tmp_path}/.history/2026-10",
        f"run NEW was killed while publishing: the previous pack stays; the run is kept in "
        f"{tmp_path}/_failed/2026-10-NEW",
    ]
    assert sorted(p.name for p in versions.iterdir()) == ["CUR"]
    assert os.readlink(tmp_path / PERIOD) == ".versions/2026-10/CUR"
    assert list(tmp_path.glob(".2026-10.link-*")) == []
    assert (tmp_path / publish.FAILED / "2026-10-NEW" / "run.json").is_file()
    assert (tmp_path / publish.HISTORY / PERIOD / "OLD" / "run.json").is_file()
    assert [p.name for p in (tmp_path / publish.STAGING).iterdir()] == ["2026-11-S2"]  # another period's: its lock


def test_recover_leaves_a_folder_published_by_an_older_version_as_it_is(tmp_path: Path) -> None:
    make_version(tmp_path / PERIOD, "LEGACY", "2026-11-01T08:00:00+00:00")
    before = tree_digest(tmp_path)
    assert publish.recover(tmp_path, PERIOD) == []
    assert tree_digest(tmp_path) == before and not (tmp_path / PERIOD).is_symlink()


def test_publish_converts_an_older_folder_and_keeps_it_in_history(tmp_path: Path) -> None:
    make_version(tmp_path / PERIOD, "LEGACY", "2026-11-01T08:00:00+00:00")
    staging = make_version(tmp_path / publish.STAGING / "2026-10-NEW", "NEW", "2026-11-02T08:00:00+00:00")
    assert publish.publish(tmp_path, PERIOD, staging) == tmp_path / PERIOD
    assert os.readlink(tmp_path / PERIOD) == ".versions/2026-10/NEW"
    assert (tmp_path / PERIOD / "index.html").read_text(encoding="utf-8") == "<p>NEW</p>"
    assert (tmp_path / publish.HISTORY / PERIOD / "LEGACY" / "index.html").read_text(
        encoding="utf-8"
    ) == "<p>LEGACY</p>"
    assert sorted(p.name for p in (tmp_path / publish.VERSIONS / PERIOD).iterdir()) == ["NEW"]
    assert not staging.exists()
