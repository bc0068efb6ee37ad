"""benchmarks/profile_metrics.py, the tool RESULTS.md's profiles come from, runs on a small ledger: the way
`metrics` computes (each section's tables let go) and, with --hold, the way the pack's compute stage does (tables
held at rest, the history's open items taken)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, write_params


def _profile(params: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "profile_metrics.py"), "--params", str(params), "--json", str(out)]
        + list(extra),
        capture_output=True,
        text=True,
        env={**os.environ, "GX_ANALYTICS_ENABLED": "False"},
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    return run, json.loads(out.read_text(encoding="utf-8"))


def test_profile_metrics_times_the_pack_compute_stage_with_hold(tiny_ledger: Path, tmp_path: Path) -> None:
    params = write_params(tmp_path, tiny_ledger)
    plain, as_metrics = _profile(params, tmp_path / "metrics.json", "--skip-validation")
    held, as_pack = _profile(params, tmp_path / "pack.json", "--skip-validation", "--hold")
    sections = {"compute:aging", "compute:dso", "compute:allowance", "compute:cash"}
    assert sections <= set(as_metrics["phases"]) and sections <= set(as_pack["phases"])
    # only the pack's way takes the history's open items, and lists the tables it put at rest
    assert "compute:open_items" not in as_metrics["phases"] and "tables held at rest" not in plain.stdout
    assert {"compute:open_items", "compute:open_items_table"} <= set(as_pack["phases"])
    listed = held.stdout.split("tables held at rest (--hold):", 1)[1]
    assert "aging_by_customer" in listed and "(memory given back after aging)" in listed
    assert as_pack["queries_total"] > as_metrics["queries_total"]  # the open items' own queries
    # the cores the engine kept busy: CPU seconds while it ran, per phase and in all
    phases_cpu = sum(p["engine_cpu"] for p in as_metrics["phases"].values())
    assert as_metrics["engine_cpu_total"] > 0 and phases_cpu == pytest.approx(as_metrics["engine_cpu_total"])
    assert "cores busy on average" in plain.stdout and " cores " in plain.stdout.splitlines()[0]
