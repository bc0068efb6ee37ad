"""How the suite itself runs under pytest-xdist (tests/conftest.py): the tests of one ``xdist_group`` reach one worker
(one Postgres server, one Spark JVM), long tests are handed out first, and what :func:`conftest.built_once` builds is
built once per run, whichever worker asks. Checked on a probe suite run in a subprocess with two workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow  # a pytest run of its own, with two workers

PROBE = """
import os
import time
from pathlib import Path

import pytest

from conftest import built_once

LOG = Path(os.environ["PROBE_LOG"])


def record(what):
    with LOG.open("a") as log:
        log.write(f"{what} {os.environ.get('PYTEST_XDIST_WORKER', 'main')}\\n")


def build(folder):
    record("built")
    time.sleep(1.0)  # long enough for the other worker to ask meanwhile
    (folder / "thing").write_text("once")
    return {"answer": 42}


@pytest.fixture(scope="session")
def thing(tmp_path_factory):
    return built_once(tmp_path_factory, "thing", build)


@pytest.mark.parametrize("i", range(4))
def test_short(i, thing):
    folder, made = thing
    assert (folder / "thing").read_text() == "once" and made == {"answer": 42}
    time.sleep(0.3)
    record(f"short{i}")


@pytest.mark.xdist_group("engine")
@pytest.mark.parametrize("i", range(4))
def test_grouped(i):
    time.sleep(0.3)
    record(f"grouped{i}")


@pytest.mark.slow
def test_long():
    record("long")
"""


def test_groups_stay_on_one_worker_long_tests_go_first_and_built_once_builds_once(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE, encoding="utf-8")
    log = tmp_path / "log"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest", "-n", "2"]
        + ["--dist", "loadgroup", "-o", "markers=slow", str(tmp_path / "test_probe.py")],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tests"), "PROBE_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    events = [line.split() for line in log.read_text().splitlines()]
    workers = dict(events)
    assert sorted(workers) == ["built", "grouped0", "grouped1", "grouped2", "grouped3", "long"] + [
        f"short{i}" for i in range(4)
    ]
    assert len({workers[f"grouped{i}"] for i in range(4)}) == 1, events  # one worker for the group
    assert [what for what, _ in events].count("built") == 1, events  # one build for both workers
    assert len({worker for _, worker in events}) == 2, events  # and both workers did work
    # the slow test is handed out before the short ones: it is done before any of them, though it comes last in the
    # file (xdist hands out the group first, then the collection order)
    order = [what for what, _ in events]
    assert order.index("long") < min(order.index(f"short{i}") for i in range(4)), events
