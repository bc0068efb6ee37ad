"""The last line of defence: a fault inside collections_mi (not in the user's data) never shows a Python
traceback. The user reads "internal error", where the details were saved, that nothing was published; exit 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ROOT, write_params

# a bug planted in one library function, in a child process of its own (the CLI entry point is the unit here)
_PLANTED = """
import sys
import collections_mi.metrics.sections as sections
def broken(*args, **kwargs):
    raise RuntimeError("planted fault")
sections.compute_sections = broken
import collections_mi.runs.pack as runner
runner.compute_sections = broken
from collections_mi.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_an_unexpected_exception_is_an_internal_error_with_saved_details(tiny_ledger: Path, tmp_path: Path) -> None:
    params = write_params(tmp_path, tiny_ledger, as_of="2026-10-31", name="2026-10.yaml")
    out = tmp_path / "reports"
    done = subprocess.run(
        [sys.executable, "-c", _PLANTED, "pack", "--params", str(params), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={"GX_ANALYTICS_ENABLED": "False", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert "internal error: RuntimeError: planted fault" in done.stderr
    assert "nothing was published" in done.stderr
    saved = list((out / "_failed").glob("internal-error-*.txt"))
    assert len(saved) == 1 and str(saved[0]) in done.stderr
    details = saved[0].read_text(encoding="utf-8")
    assert "Traceback" in details and "planted fault" in details
    assert not (out / "2026-10").exists()
    leftovers = [p for p in out.rglob("*") if p.is_file() and "_failed" not in p.parts and not p.name.endswith(".lock")]
    assert leftovers == []  # the run's staging folder is gone
