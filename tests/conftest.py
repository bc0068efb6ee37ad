"""Shared fixtures: the tiny hand-checked ledger, a small generated demo ledger, the packs published from them,
params writers; and how the suite is spread over pytest-xdist's workers.

What is expensive is built once per test run, not once per worker: :func:`built_once` builds it under a lock in the
folder every worker of the run shares, and a worker that comes second waits and reuses it. A test that writes into a
shared pack gets a private copy (:func:`private_copy`); the shared one is never edited.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# ------------------------------------------------------------------------------------------ built once per run


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary folder of this test run that every pytest-xdist worker shares (the parent of the workers' own
    folders); the session's own folder without xdist."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], dict[str, Any] | None]
) -> tuple[Path, dict[str, Any]]:
    """``build(folder)`` run once per test run, whichever worker asks first; the others wait for it and get the same
    folder and the JSON record ``build`` returned. A build that fails is not recorded: the next worker that asks
    builds again from an empty folder (and fails the same way, in its own test)."""
    root = run_folder(tmp_path_factory)
    folder, record = root / f"once-{name}", root / f"once-{name}.json"
    with (root / f"once-{name}.lock").open("a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not record.is_file():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                built = build(folder) or {}
                record.write_text(json.dumps(built), encoding="utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder, json.loads(record.read_text(encoding="utf-8"))


def private_copy(source: Path, target: Path) -> Path:
    """A copy of a shared folder (a published ``reports/``, a ledger) that a test may change; links stay links (the
    published period is a relative link onto ``.versions/``)."""
    shutil.copytree(source, target, symlinks=True)
    return target


def completed(record: dict[str, Any], args: list[str]) -> subprocess.CompletedProcess[str]:
    """The :class:`subprocess.CompletedProcess` of a command line run :func:`built_once`, from its record."""
    return subprocess.CompletedProcess(args, record["returncode"], record["stdout"], record["stderr"])


def cli_record(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return {"returncode": run.returncode, "stdout": run.stdout, "stderr": run.stderr}


# ------------------------------------------------------------------------------------------ ledgers


@pytest.fixture
def tiny_ledger(tmp_path: Path) -> Path:
    """A private copy of the tiny ledger that a test may edit."""
    target = tmp_path / "ledger"
    shutil.copytree(TINY, target)
    return target


def _demo(fmt: str) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        from collections_mi.demo import generate_demo

        generate_demo(folder / "ledger", invoices=3_000, seed=11, fmt=fmt)

    return build


@pytest.fixture(scope="session")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated demo ledger (CSV), one for the whole run; tests must not edit it."""
    return built_once(tmp_path_factory, "demo-ledger", _demo("csv"))[0] / "ledger"


@pytest.fixture(scope="session")
def demo_ledger_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same demo ledger as Parquet files, one for the whole run; tests must not edit it."""
    return built_once(tmp_path_factory, "demo-ledger-parquet", _demo("parquet"))[0] / "ledger"


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

#: held while a preloaded child starts and while its exit code is read. ``Process.start()`` polls every other live
#: child (``multiprocessing.process._cleanup``), and a forkserver child's exit code is 4 bytes on a pipe that only
#: one reader gets: a thread's ``start()`` racing another thread's ``join()`` left the loser with 255 instead of
#: the child's own code (CPython gh-130895; seen in CI once in ~1,500 runs: a case that exited 2 reported 255)
_CHILDREN = threading.Lock()


def cli_preloaded(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """Like :func:`cli`, a fresh process running the public command line, but forked from a server process that
    has imported collections_mi and Great Expectations once (multiprocessing's forkserver with preload): a case
    that fails validation then costs its validation, not ~6 s of imports. The exit code, stdout and stderr are the
    child's own. For the many bad-input cases; other tests use :func:`cli`."""
    import multiprocessing
    import multiprocessing.connection
    import tempfile

    if not _PRELOADED:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(
            [
                "collections_mi.cli",
                "collections_mi.runs.pack",
                "ibis.backends.duckdb",  # every case opens a ledger: ibis loads its DuckDB backend on first use
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
        with _CHILDREN:
            child.start()
        ended = multiprocessing.connection.wait([child.sentinel], timeout)  # not join(): it reads the code unlocked
        with _CHILDREN:
            if not ended:
                child.kill()
                child.join()
                raise TimeoutError(f"collections-mi {' '.join(args)} took longer than {timeout} s")
            code = child.exitcode
        read = lambda path: Path(path).read_text(encoding="utf-8", errors="replace") if os.path.exists(path) else ""  # noqa: E731
        return subprocess.CompletedProcess(["collections-mi", *args], code, read(out), read(err))


#: the environment of a pack whose test reads neither pack.pdf nor the email's charts: no headless Chromium, so
#: neither is drawn (~3–7 s of a browser per pack; tests/test_pdf.py and the shared packs keep them)
NO_BROWSER = {"COLLECTIONS_MI_CHROMIUM": ""}


#: a progress line of the command line on stderr (``HH:MM:SS [YYYY-MM] message``): group 1 the period, 2 the message
PROGRESS_LINE = re.compile(r"\d\d:\d\d:\d\d \[(\d{4}-\d\d)\] (.+)")


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


# ------------------------------------------------------------------------------------------ published packs


@dataclass(frozen=True)
class SharedPack:
    """A pack published once per run through `collections-mi pack`, read by many tests: never edit its folders
    (a test that publishes into ``out`` again works on a :func:`private_copy`)."""

    params: Path
    ledger: Path
    out: Path
    run: subprocess.CompletedProcess[str]

    def private(self, folder: Path, *, own_ledger: bool = False) -> tuple[Path, Path]:
        """(params, out dir): a copy of the published out dir under ``folder`` and the params file next to it, as
        the shared pack's own folder holds them, for a test that may publish into it again. ``own_ledger``: a copy
        of the ledger too (``folder/ledger``, which the test may edit), named by the params."""
        folder.mkdir(parents=True, exist_ok=True)
        params = folder / self.params.name
        if own_ledger:
            data = yaml.safe_load(self.params.read_text(encoding="utf-8"))
            data["source"]["location"] = str(shutil.copytree(self.ledger, folder / "ledger"))
            params.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        else:
            shutil.copyfile(self.params, params)
        return params, private_copy(self.out, folder / "reports")


def shared_pack(
    tmp_path_factory: pytest.TempPathFactory, name: str, ledger: Path | None = None, **sections: Any
) -> SharedPack:
    """``ledger`` (default: a copy of the tiny ledger) published once per run with the params ``sections``."""

    def build(folder: Path) -> dict[str, Any]:
        source = ledger
        if source is None:
            source = folder / "ledger"
            shutil.copytree(TINY, source)
        params = write_params(folder, source, **sections)
        run = cli("pack", "--params", str(params), "--out", str(folder / "reports"))
        assert run.returncode == 0, run.stderr
        return {**cli_record(run), "params": str(params), "ledger": str(source)}

    folder, record = built_once(tmp_path_factory, name, build)
    run = completed(record, ["collections-mi", "pack", "--params", record["params"], "--out", str(folder / "reports")])
    return SharedPack(Path(record["params"]), Path(record["ledger"]), folder / "reports", run)


def demo_targets() -> dict[str, Any]:
    """The demo's own targets (params/2026-10.yaml report.targets): the published demo pack shows them."""
    import yaml

    return dict(yaml.safe_load((ROOT / "params" / "2026-10.yaml").read_text(encoding="utf-8"))["report"]["targets"])


@pytest.fixture(scope="session")
def published(demo_ledger: Path, tmp_path_factory: pytest.TempPathFactory):
    """The small demo ledger published through `collections-mi pack`: (params, out dir, completed run). The pack is
    built once per run; each worker gets its own copy of the out dir, which its tests may publish into again."""
    pack = shared_pack(tmp_path_factory, "demo-pack", demo_ledger, report={"targets": demo_targets()})
    out = private_copy(pack.out, tmp_path_factory.mktemp("pack") / "reports")
    return pack.params, out, pack.run


@pytest.fixture(scope="session")
def tiny_published(tmp_path_factory: pytest.TempPathFactory) -> SharedPack:
    """The tiny ledger (as of 2026-10-31, default params) published once per run; read-only."""
    return shared_pack(tmp_path_factory, "tiny-pack")


# ------------------------------------------------------------------------------------------ spreading the suite


def _xdist_groups(item: pytest.Item) -> list[str]:
    """The groups of the item's ``xdist_group`` marks, named as pytest-xdist names them."""
    return sorted(
        {
            str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
            for mark in item.iter_markers("xdist_group")
        }
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long tests first, and the tests of one ``xdist_group`` on one worker.

    - Tests marked ``slow`` or ``engines`` run before the others, in their own order: the many short tests then fill
      the end of the run on both workers instead of one worker finishing a long test alone.
    - ``--dist loadgroup`` sends the tests of an ``xdist_group`` (one Postgres server, one Spark JVM) to one worker by
      suffixing their node ids with ``@<group>``; pytest-xdist 3.8 writes that suffix where pytest 9.2 no longer reads
      it (pytest-dev/pytest-xdist#1386), and the groups were silently spread over the workers. Until a release fixes
      it, the suffix is written here where pytest reads it (only when it is missing, so a fixed xdist is left alone);
      tests/test_suite.py checks that grouping works.
    """
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") or item.get_closest_marker("engines") else 1)
    if not getattr(config.option, "loadgroup", False):  # set on xdist's workers for --dist loadgroup
        return
    for item in items:
        groups = _xdist_groups(item)
        suffix = f"@{'_'.join(groups)}"
        if groups and not item.nodeid.endswith(suffix):
            _set_nodeid(item, item.nodeid + suffix)


def _set_nodeid(item: pytest.Item, nodeid: str) -> None:
    if hasattr(item, "_id"):  # pytest ≥ 9.2: a structured NodeId
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(nodeid)
    else:  # what pytest-xdist itself writes for older pytest
        item._nodeid = nodeid


#: COLLECTIONS_MI_TEST_TIMELINE=FILE appends "worker start end outcome nodeid" per test to FILE (seconds since the
#: epoch): when each worker was busy, to see how evenly the run is spread
_TIMELINE = os.environ.get("COLLECTIONS_MI_TEST_TIMELINE")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    started = time.time()
    try:
        return (yield)
    finally:
        if _TIMELINE:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            with open(_TIMELINE, "a", encoding="utf-8") as log:
                log.write(f"{worker} {started:.3f} {time.time():.3f} {item.nodeid}\n")


# ------------------------------------------------------------------------------------------ a mail server


def free_port() -> int:
    """A TCP port on localhost that nothing listens on (for a server a test starts, or a host that refuses)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on localhost (aiosmtpd): (port, received envelopes). It offers AUTH (user ``mi``, password
    ``s3cret``) without requiring it."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"mi" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    port = free_port()
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_require_tls=False
    )
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()
