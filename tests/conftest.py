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


def _run_cli_in_child(argv: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str) -> None:
    """The body of a preloaded CLI process: what ``python -m collections_mi ARGV`` does, in a child forked from a
    server that has already imported the package and Great Expectations (see :func:`cli_preloaded`)."""
    import traceback

    os.environ.update(env)
    os.chdir(cwd)
    for fd, path in ((1, stdout), (2, stderr)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    from collections_mi.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # what the interpreter does with an uncaught exception
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


_PRELOADED: list = []


def cli_preloaded(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Like :func:`cli`, a fresh process running the public command line, but forked from a server process that
    has imported collections_mi and Great Expectations once (multiprocessing's forkserver with preload): a case
    that fails validation then costs its validation, not ~6 s of imports. The exit code, stdout and stderr are the
    child's own. For the many bad-input cases; other tests use :func:`cli`."""
    import multiprocessing
    import tempfile

    if not _PRELOADED:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            [
                "collections_mi.cli",
                "collections_mi.runs.pack",
                "collections_mi.validation",
                "great_expectations",
                "conftest",
            ]
        )
        _PRELOADED.append(context)
    context = _PRELOADED[0]
    with tempfile.TemporaryDirectory() as folder:
        out, err = os.path.join(folder, "stdout"), os.path.join(folder, "stderr")
        child = context.Process(target=_run_cli_in_child, args=(list(args), {**(env or {})}, str(cwd), out, err))
        child.start()
        child.join(timeout)
        if child.exitcode is None:
            child.kill()
            child.join()
            raise TimeoutError(f"collections-mi {' '.join(args)} took longer than {timeout} s")
        read = lambda path: Path(path).read_text(encoding="utf-8", errors="replace") if os.path.exists(path) else ""  # noqa: E731
        return subprocess.CompletedProcess(["collections-mi", *args], child.exitcode, read(out), read(err))


def cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the public command line as a user would."""
    environment = {**os.environ, "GX_ANALYTICS_ENABLED": "False", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "collections_mi", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=environment,
        timeout=900,
    )


@pytest.fixture(scope="session")
def published(demo_ledger: Path, tmp_path_factory: pytest.TempPathFactory):
    """The small demo ledger published once through `collections-mi pack`: (params, out dir, completed run)."""
    work = tmp_path_factory.mktemp("pack")
    params = write_params(work, demo_ledger)
    out = work / "reports"
    run = cli("pack", "--params", str(params), "--out", str(out))
    assert run.returncode == 0, run.stderr
    return params, out, run
