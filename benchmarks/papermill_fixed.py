"""Papermill's fixed per-notebook cost, measured the way the pack runs its notebooks.

Writes ``--count`` trivial notebooks (a ``parameters`` cell with the pack's two parameters and one ``pass``
cell) and executes them with Papermill on the ``python3`` kernel in a ProcessPoolExecutor of
min(count, nproc) workers — as ``collections_mi.runs.pack.execute_notebooks`` does — so the wall time is
what the pack's notebooks stage would cost if the notebooks did no work at all. Also times one notebook
alone (the per-notebook cost) and, with ``--imports``, a variant whose second cell does only the imports
the pack's notebooks start with (data-independent, but part of the notebooks' own work).

Usage: python benchmarks/papermill_fixed.py [--count 5] [--work DIR] [--imports] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

IMPORTS = (
    "from collections_mi import notebook as mi\n"
    "from collections_mi.presentation import aging, dso, allowance, watchlist, agency, charts\n"
    "mi.setup()"
)


def write_notebook(path: Path, body: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    params = nbformat.v4.new_code_cell('params_path = "params.yaml"\nresults_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, str(path))


def execute(source: str, target: str, cwd: str) -> None:
    import papermill

    papermill.execute_notebook(
        source,
        target,
        parameters={"params_path": "p.yaml", "results_dir": cwd},
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
        cwd=cwd,
        report_mode=False,
    )


def measure(folder: Path, body: str, count: int) -> dict[str, float]:
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "source.ipynb"
    write_notebook(source, body)
    begin = time.perf_counter()
    execute(str(source), str(folder / "single.ipynb"), str(folder))
    single = time.perf_counter() - begin
    workers = max(1, min(count, os.cpu_count() or 1))
    begin = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(execute, str(source), str(folder / f"out_{i}.ipynb"), str(folder)) for i in range(count)]
        for future in futures:
            future.result()
    parallel = time.perf_counter() - begin
    return {
        "single_notebook_seconds": round(single, 3),
        "notebooks": count,
        "workers": workers,
        "parallel_seconds": round(parallel, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Papermill's fixed per-notebook cost")
    parser.add_argument("--count", type=int, default=5, help="notebooks, as many as the pack runs (default 5)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--imports", action="store_true", help="also measure notebooks doing only the imports")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        base = args.work or Path(scratch)
        result = {"empty": measure(base / "empty", "pass", args.count)}
        if args.imports:
            result["imports"] = measure(base / "imports", IMPORTS, args.count)
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
