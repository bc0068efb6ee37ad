"""Publishing is atomic and honest: an interrupted run leaves reports/ exactly as before, a second pack of the same
period is refused while one runs, and a re-run whose numbers changed says what was restated."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from collections_mi.core.errors import PackLocked
from collections_mi.outputs.publish import period_lock

from conftest import NO_BROWSER, TINY, SharedPack, cli, write_params

pytestmark = pytest.mark.slow


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def published_tiny(tiny_published: SharedPack, tmp_path: Path) -> tuple[Path, Path]:
    """The tiny ledger published through `collections-mi pack` (the run's shared tiny pack): a private copy of its
    ledger (``tmp_path/ledger``), params and out dir, which the test may change."""
    return tiny_published.private(tmp_path, own_ledger=True)


def test_sigint_during_a_pack_leaves_reports_exactly_as_before(published_tiny, request: pytest.FixtureRequest) -> None:
    """… and the kernels' socket folders of the stopped notebook workers go with the pack (each stopped pack used to
    leave two in /tmp)."""
    params, out = published_tiny
    before = tree_digest(out)
    # a short one: Chromium (the email's charts, beside the notebooks) cannot start under a $TMPDIR as long as pytest's
    temporary = Path(tempfile.mkdtemp(prefix="cmi-test-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(temporary, ignore_errors=True))
    process = subprocess.Popen(
        [sys.executable, "-m", "collections_mi", "pack", "--params", str(params), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "False", "TMPDIR": str(temporary)},
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((out / ".staging").glob("*/executed")):
        time.sleep(0.1)  # wait until the notebooks are running: the middle of the run
    assert list((out / ".staging").glob("*/executed")), "the pack never reached the notebooks"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "nothing was published" in stderr
    assert tree_digest(out) == before
    assert not any((out / ".staging").iterdir())
    # the kernels' folders are the pack's to remove (a Chromium stopped while starting may leave its own folder:
    # test_delivery's test_a_stop_while_chromium_starts_leaves_nothing_in_the_temporary_folder covers that)
    assert sorted(p.name for p in temporary.iterdir() if p.name.startswith("cmi-kernel-")) == []


def test_a_second_pack_of_the_same_period_is_refused_while_one_runs(tmp_path: Path) -> None:
    params, out = write_params(tmp_path, TINY), tmp_path / "reports"
    with period_lock(out, "2026-10"):
        run = cli("pack", "--params", str(params), "--out", str(out), env=NO_BROWSER)
        assert run.returncode == PackLocked.exit_code
        assert "another pack for 2026-10 is running" in run.stderr
        with pytest.raises(PackLocked), period_lock(out, "2026-10"):
            pass


def test_restatement_names_the_kpis_and_rows_that_moved(published_tiny, tmp_path: Path) -> None:
    params, out = published_tiny
    first_run = json.loads((out / "2026-10" / "run.json").read_text())["run_id"]
    ledger = tmp_path / "ledger"
    with (ledger / "payments.csv").open("a", encoding="utf-8") as handle:
        handle.write("P9,I1,2026-10-28,100.00\n")  # posted late: October's AR falls by 100
    run = cli("pack", "--params", str(params), "--out", str(out), env=NO_BROWSER)
    assert run.returncode == 0, run.stderr
    folder = out / "2026-10"
    restatement = json.loads((folder / "restatement.json").read_text())
    assert restatement["restated"] is True and restatement["previous_run_id"] == first_run
    moved = {k["kpi"]: k for k in restatement["kpis"]}
    assert moved["ar_total"]["published"] == "2322.5" and moved["ar_total"]["restated"] == "2222.5"
    assert moved["past_due_total"]["change"] == "-100"
    rows = (folder / "tables" / "restatement_rows.csv").read_text()
    assert "aging_by_customer,C1,total,1100,1000,-100" in rows
    assert "RESTATED" in (folder / "index.html").read_text()
    assert (out / ".history" / "2026-10" / first_run / "kpis.json").is_file()


def _folder(path: Path, kpis: dict[str, str], computed: list[str]) -> Path:
    (path / "tables").mkdir(parents=True)
    (path / "kpis.json").write_text(json.dumps(kpis), encoding="utf-8")
    section = {"kpis": computed, "tables": [], "conventions": {}, "unavailable": {}}
    (path / "tables" / "_sections.json").write_text(json.dumps({"aging": section}), encoding="utf-8")
    (path / "tables" / "_types.json").write_text("{}", encoding="utf-8")
    return path


def test_a_kpi_a_newer_version_adds_is_not_a_restatement(tmp_path: Path) -> None:
    from collections_mi.outputs.restatement import compare_with_published

    # October published by a version without the HHI, re-run by one with it: same data, nothing restated
    published = _folder(tmp_path / "published", {"ar_total": 100.5}, ["ar_total"])
    staging = _folder(tmp_path / "staging", {"ar_total": 100.5, "hhi": 2500}, ["ar_total", "hhi"])
    assert compare_with_published(published, staging) == {"restated": False, "previous_run_id": "unknown"}
    # a KPI both versions compute that disappears (the ledger lost what it needs) is a restatement
    staging = _folder(tmp_path / "staging-2", {"hhi": 2500}, ["ar_total", "hhi"])
    summary = compare_with_published(published, staging)
    assert summary is not None and summary["restated"] is True
    assert summary["kpis"] == [{"kpi": "ar_total", "published": "100.5", "restated": None, "change": None}]


_SWALLOWED = """
import os, signal, sys
from collections_mi.core.interrupts import raise_if_stopped, stop_on
signal.signal(signal.SIGINT, stop_on)
try:  # a library that catches everything, as one did under load during a pack's notebooks
    os.kill(os.getpid(), signal.SIGINT)
    signal.pause() if hasattr(signal, "pause") else None
except BaseException:
    pass
try:
    raise_if_stopped()
except KeyboardInterrupt as exc:
    sys.exit(f"stopped: {exc}")
"""


def test_a_ctrl_c_a_library_swallows_still_stops_the_run() -> None:
    run = subprocess.run([sys.executable, "-c", _SWALLOWED], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and run.stderr.strip() == f"stopped: signal {int(signal.SIGINT)}", run.stderr
