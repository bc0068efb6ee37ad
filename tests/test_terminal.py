"""The terminal and the footer of a pack (issue 19 § 8): the pack prints its own progress lines and nothing from
third parties (ipykernel's "running over TCP without encryption" on every notebook); the published footer names a
source inside the project by its relative path, not by the machine's absolute one (run.json keeps that)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from collections_mi.runs import notebook_worker, pack
from collections_mi.runs.notebook_worker import execute_notebook_file
from collections_mi.runs.pack import shown_source

from conftest import ROOT, TINY, cli

#: a line of the pack's own progress on stderr: "16:02:14 [2026-10] …"
PROGRESS = re.compile(r"^\d\d:\d\d:\d\d \[\d{4}-\d\d\] ")


def _third_party(stderr: str) -> list[str]:
    """stderr lines that are not the pack's progress, and any warning from a library or the kernel."""
    return [
        line
        for line in stderr.splitlines()
        if not PROGRESS.match(line) or "without encryption" in line or re.search(r"Warning|WARNING", line)
    ]


def _tiny_notebook(folder: Path) -> Path:
    notebook = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
            "language_info": {"name": "python"},
        }
    )
    notebook.cells = [
        nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("print(x * 2)"),
    ]
    path = folder / "tiny.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize("transport", ["ipc", "tcp"])
def test_a_notebook_kernel_prints_nothing_on_the_terminal(
    transport: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """On Unix sockets (even with a $TMPDIR too long for one) and on TCP (Windows; forced here) the kernel says
    nothing on stderr — the output the notebook computes is still there."""
    long_tmp = tmp_path / ("t" * 90)
    long_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(long_tmp))  # too long for AF_UNIX: the sockets go to /tmp instead
    monkeypatch.setattr("tempfile.tempdir", None)
    if transport == "tcp":
        monkeypatch.setattr(
            notebook_worker, "_IPC_PATH_LIMIT", 0
        )  # no folder is short enough: the kernel listens on TCP
    else:
        folder = notebook_worker.kernel_socket_dir()
        assert folder is not None and folder.startswith("/tmp/") and len(folder) < notebook_worker._IPC_PATH_LIMIT
        shutil.rmtree(folder)
    source = _tiny_notebook(tmp_path)
    target = tmp_path / "out.ipynb"
    execute_notebook_file(str(source), str(target), {"x": 21}, str(tmp_path))
    _, err = capfd.readouterr()
    assert "without encryption" not in err and "WARNING" not in err, err
    outputs = nbformat.read(target, as_version=4).cells[-1].outputs
    assert outputs[0]["text"].strip() == "42"
    assert not any(long_tmp.iterdir())  # no socket folder left behind


def test_what_a_kernel_writes_to_its_own_stderr_stays_off_the_terminal_unless_it_dies(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The kernel's own log (ipykernel's "KeyboardInterrupt caught in kernel." when jupyter_client interrupts it at
    shutdown — seen in CI) goes to its process stderr, not to the notebook: it never reaches the terminal. A kernel
    that dies without an error of its own hands its last lines to the failure instead."""
    source = _tiny_notebook(tmp_path)
    notebook = nbformat.read(source, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import os\nos.write(2, b'[IPKernelApp] ERROR | noise\\n')"))
    nbformat.write(notebook, source)
    execute_notebook_file(str(source), str(tmp_path / "out.ipynb"), {"x": 21}, str(tmp_path))
    _, err = capfd.readouterr()
    assert "noise" not in err, err

    notebook.cells.append(nbformat.v4.new_code_cell("os.write(2, b'out of memory: the last words\\n')\nos._exit(9)"))
    nbformat.write(notebook, source)
    with pytest.raises(Exception) as failure:
        execute_notebook_file(str(source), str(tmp_path / "died.ipynb"), {"x": 21}, str(tmp_path))
    _, err = capfd.readouterr()
    assert "last words" not in err, err
    assert "out of memory: the last words" in pack._notebook_failure(failure.value)


def test_shown_source_is_relative_inside_the_project(tmp_path: Path) -> None:
    params = tmp_path / "params" / "2026-10.yaml"
    assert shown_source(f"files:{ROOT / 'data' / 'demo'}", params) == "files:data/demo"
    assert shown_source(f"duckdb:{tmp_path / 'params' / 'book.duckdb'}", params) == "duckdb:book.duckdb"
    elsewhere = tmp_path.parent / "elsewhere"
    assert shown_source(f"files:{elsewhere}", params) == f"files:{elsewhere}"  # outside both: as it is
    assert shown_source("ibis:postgres://mi@db/ledger", params) == "ibis:postgres://mi@db/ledger"


@pytest.mark.slow
def test_a_project_pack_is_quiet_and_its_footer_names_the_source_relatively(tmp_path: Path) -> None:
    """A project as a user lays it out — notebooks/, data/<ledger>, params/ — packed from its folder: stderr holds
    the pack's progress only, the footer of every page says ``files:data/ledger``, run.json the full path."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "notebooks").symlink_to(ROOT / "notebooks")
    shutil.copytree(TINY, project / "data" / "ledger")
    (project / "params").mkdir()
    params = project / "params" / "2026-10.yaml"
    params.write_text("as_of: 2026-10-31\nsource: {kind: files, location: data/ledger}\n", encoding="utf-8")
    # as a user types it in the project folder: relative params, the default --out (reports/, relative too)
    run = cli("pack", "--params", "params/2026-10.yaml", cwd=project, env={"COLLECTIONS_MI_HOME": str(project)})
    assert run.returncode == 0, run.stderr
    assert _third_party(run.stderr) == [], run.stderr
    assert "warning" not in run.stderr, run.stderr  # e.g. Chromium printing to a relative path from its own folder
    folder = project / "reports" / "2026-10"
    assert (folder / "pack.pdf").read_bytes().startswith(b"%PDF")
    pages = [folder / "index.html", *sorted((folder / "html").glob("*.html"))]
    assert len(pages) > 1
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "source files:data/ledger ·" in text, page.name
        assert str(project) not in text and str(tmp_path) not in text, page.name
    manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert manifest["source"]["description"] == f"files:{(project / 'data' / 'ledger').resolve()}"


def test_a_notebook_worker_and_the_metrics_command_import_only_what_they_use() -> None:
    """A spawned notebook worker imports the module of the function it runs: that module imports nothing heavy
    (the pack's module would cost each worker 1–2 s of Ibis, plotly and nbformat). A notebook's kernel reads the
    computed results and does not import Ibis (0.35 s per notebook). No process of ours compiles
    rfc3987_syntax's grammars (1.2 s), which jsonschema imports only to check formats no schema of ours uses."""
    code = (
        "import sys\n"
        "import collections_mi.runs.notebook_worker\n"
        "heavy = {'ibis', 'plotly', 'nbformat', 'pandas', 'papermill'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
        "from collections_mi import notebook\n"  # what every pack notebook imports: results are read, not computed
        "from collections_mi.presentation import (\n"
        "    agency, aging, allowance, cash, charts, display, dso, headlines, watchlist\n"
        ")\n"
        "assert 'ibis' not in sys.modules\n"
        "from collections_mi.core.imports import skip_unused_slow_imports\n"
        "skip_unused_slow_imports()\n"
        "import papermill, jsonschema\n"
        "assert jsonschema.FormatChecker().conforms('not an iri', 'iri')\n"
        "assert sys.modules['rfc3987_syntax'] is None\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
