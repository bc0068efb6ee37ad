"""Shared fixtures: the tiny hand-checked ledger, a small generated demo ledger, params writers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY = FIXTURES / "tiny_ledger"


def write_params(folder: Path, ledger: Path, as_of: str = "2026-10-31", name: str | None = None, **sections) -> Path:
    """A params file for ``ledger``; extra keyword sections are merged in (aging={...}, report={...})."""
    data = {"as_of": as_of, "source": {"kind": "files", "location": str(ledger)}}
    data.update(sections)
    path = folder / (name or f"{as_of[:7]}.yaml")
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def tiny_ledger(tmp_path: Path) -> Path:
    """A private copy of the tiny ledger that a test may edit."""
    target = tmp_path / "ledger"
    shutil.copytree(TINY, target)
    return target


@pytest.fixture(scope="session")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated demo ledger (CSV), shared by the session; tests must not edit it."""
    from collections_mi.demo import generate_demo

    folder = tmp_path_factory.mktemp("demo") / "ledger"
    generate_demo(folder, invoices=3_000, seed=11)
    return folder


@pytest.fixture(scope="session")
def demo_ledger_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from collections_mi.demo import generate_demo

    folder = tmp_path_factory.mktemp("demo_parquet") / "ledger"
    generate_demo(folder, invoices=3_000, seed=11, fmt="parquet")
    return folder


def cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the public command line as a user would."""
    environment = {**os.environ, "GX_ANALYTICS_ENABLED": "False", **(env or {})}
    return subprocess.run([sys.executable, "-m", "collections_mi", *args], cwd=cwd, capture_output=True, text=True,
                          env=environment, timeout=900)


@pytest.fixture(scope="session")
def published(demo_ledger: Path, tmp_path_factory: pytest.TempPathFactory):
    """The small demo ledger published once through `collections-mi pack`: (params, out dir, completed run)."""
    work = tmp_path_factory.mktemp("pack")
    params = write_params(work, demo_ledger)
    out = work / "reports"
    run = cli("pack", "--params", str(params), "--out", str(out))
    assert run.returncode == 0, run.stderr
    return params, out, run
