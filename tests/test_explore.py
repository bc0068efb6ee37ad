"""The exploration notebooks (notebooks/explore/) run through Papermill on the small demo ledger — the trends
notebook from an empty history (back-filling the months it needs), the receivables notebook from the history alone
with the ledger gone — and `make lab`'s JupyterLab command starts headless and answers HTTP 200 on loopback."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from collections_mi.runs.notebook_worker import execute_notebook_file
from collections_mi.store import history

from conftest import ROOT, write_params

pytestmark = pytest.mark.slow

EXPLORE = ROOT / "notebooks" / "explore"
NOTEBOOKS = sorted(EXPLORE.glob("*.ipynb"))


def execute(name: str, target: Path, **parameters: object) -> nbformat.NotebookNode:
    execute_notebook_file(str(EXPLORE / f"{name}.ipynb"), str(target), parameters, cwd=str(ROOT))
    return nbformat.read(target, as_version=4)


def outputs(notebook: nbformat.NotebookNode) -> str:
    """Every output of every code cell as text; fails on an error or anything written to stderr."""
    texts = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            assert output.output_type != "error", f"cell {index}: {output.get('ename')}: {output.get('evalue')}"
            assert output.get("name") != "stderr", f"cell {index} wrote to stderr: {output.get('text')}"
            data = output.get("data", {})
            texts += [str(output.get("text", "")), str(data.get("text/html", "")), str(data.get("text/markdown", ""))]
    return "\n".join(texts)


def test_there_are_exploration_notebooks() -> None:
    assert {p.name for p in NOTEBOOKS} >= {"explore_receivables.ipynb", "explore_trends.ipynb"}


def test_exploration_notebooks_run_on_the_demo_ledger(demo_ledger: Path, tmp_path: Path) -> None:
    """One test, so that one worker runs the whole sequence: empty history → back-filled → ledger gone."""
    from collections_mi import notebook as mi
    from collections_mi.core.money import dsum

    ledger = tmp_path / "ledger"
    shutil.copytree(demo_ledger, ledger)
    params = write_params(tmp_path, ledger, report={"trend_months": 2})
    history_dir = tmp_path / "reports" / "history"

    # 1. a month not in the history: the receivables notebook's open items are computed from the ledger, not stored
    _, computed = mi.explore_open_items(str(params), str(history_dir))
    assert len(computed) > 0 and dsum(computed["open_balance_reporting"]) > 0
    assert history.periods(history_dir) == []

    # 2. out of the box, the trends notebook back-fills the missing months of its window, then charts them
    filled = outputs(
        execute(
            "explore_trends",
            tmp_path / "trends.ipynb",
            params_path=str(params),
            history_dir=str(history_dir),
            fill_missing=True,
        )
    )
    assert history.periods(history_dir) == ["2026-09", "2026-10"]
    assert "2 missing month(s) back-filled first" in filled
    assert filled.count('class="mi-chart"') >= 6
    assert "Cohort run-off" in filled and "updatemenus" in filled
    assert re.search(r"<th[^>]*>2026-09</th>", filled) and re.search(r"<th[^>]*>2026-10</th>", filled)

    # 3. with the ledger gone, the receivables notebook runs from the history alone: filters and drill-down
    shutil.move(str(ledger), str(tmp_path / "ledger-moved-away"))
    receivables = outputs(
        execute(
            "explore_receivables",
            tmp_path / "receivables.ipynb",
            params_path=str(params),
            history_dir=str(history_dir),
            drill_bucket="1-30",
        )
    )
    assert "read from the history" in receivables and "Customers in bucket 1-30: " in receivables
    assert "updatemenus" in receivables
    for choice in ("all open items", "segment: ", "region: ", "collector: ", "currency: ", "customer: "):
        assert f'"label":"{choice}' in receivables.replace('": "', '":"'), choice
    assert '"type":"treemap"' in receivables.replace(" ", "")
    assert "Open invoices of" in receivables
    stored = history.load_table(history_dir, "open_items", ["2026-10"]).drop(columns=["period", "as_of"])
    assert dsum(stored["open_balance_reporting"]) == dsum(computed["open_balance_reporting"])
    assert list(stored["invoice_id"]) == list(computed["invoice_id"])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _lab_command(port: int) -> list[str]:
    """The `jupyter lab` line of the Makefile's lab target, with the venv's bin and headless test options."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "the Makefile has no lab target"
    line = next(line.strip() for line in recipe.group(1).splitlines() if "jupyter lab" in line)
    line = line.replace("$(BIN)", str(Path(sys.executable).parent)).replace("$(LAB_ARGS)", "")
    assert "--allow-root" in line
    return line.split() + [
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.port_retries=0",
    ]


def test_make_lab_serves_jupyterlab(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws"),
    }
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(
        _lab_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    status = None
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=5) as response:
                    status = response.status
                    page = response.read().decode("utf-8", "replace")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        assert status == 200, (tmp_path / "lab.log").read_text()
        assert "JupyterLab" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernelspecs", timeout=5) as response:
            assert '"python3"' in response.read().decode()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
        log.close()


def test_a_pack_notebook_opened_in_jupyterlab_finds_the_project_files(demo_ledger: Path, tmp_path: Path) -> None:
    """JupyterLab starts the kernel in notebooks/; the pack notebooks' default ``params_path`` (and the params'
    relative ``source.location``) are meant from the project root — opened there, the notebook still computes."""
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    shutil.copy(ROOT / "notebooks" / "01_aging.ipynb", project / "notebooks")
    shutil.copytree(demo_ledger, project / "data" / "demo")
    (project / "params").mkdir()
    write_params(project / "params", Path("data/demo"))  # relative, as in params/2026-10.yaml
    target = tmp_path / "aging.ipynb"
    execute_notebook_file(
        str(project / "notebooks" / "01_aging.ipynb"),
        str(target),
        {"params_path": "params/2026-10.yaml"},
        cwd=str(project / "notebooks"),
    )
    shown = outputs(nbformat.read(target, as_version=4))
    assert "as of <b>2026-10-31</b>" in shown and shown.count('class="mi-chart"') >= 3
