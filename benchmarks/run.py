"""Benchmark `collections-mi metrics` and `pack` against the raw-engine floor, at several ledger sizes.

For each size (invoices): generate (or reuse) a Parquet demo ledger with the package's streamed generator,
write a params file (as_of 2026-10-31, source = that folder), then run, each as its own subprocess so that
peak RSS is per run:

  floor_full         benchmarks/floor_full.py — the same-work floor: plain DuckDB SQL computing every KPI of
                     kpis.json and the month-end trend tables (checked equal to the metrics run's output)
  floor              benchmarks/floor.py — plain DuckDB SQL of the aging + DSO aggregates (no ibis/pandas/Decimal)
  metrics            collections-mi metrics --params P                 (validation + every section)
  metrics-noval      collections-mi metrics --params P --skip-validation
  pack               collections-mi pack --params P --out W/reports-N  (stages from run.json timings_seconds)

and once per run of this script:

  papermill-fixed    benchmarks/papermill_fixed.py — 5 trivial notebooks, executed as the pack executes its own

Wall time is measured around each subprocess; peak RSS is the largest single process of the run's process
tree (``ru_maxrss`` from wait4, as ``/usr/bin/time -v`` reports) and, where psutil is available, the largest
sum of RSS over the tree sampled every 0.2 s (the pack's notebook kernels run beside each other), with the tree's
PSS at that peak (shared pages — a browser's processes map the same libraries — counted once instead of per process).
Results accumulate in benchmarks/results.json (keyed by size, so sizes can be run separately) and the
table is (re)written between the markers of benchmarks/RESULTS.md; the analysis outside them is kept.

Usage: python benchmarks/run.py [--sizes 100000,1000000,10000000] [--work DIR] [--skip-pack] [--keep]
       python benchmarks/run.py --quick   # `make bench`: 100k, both floors and metrics, ratios printed, nothing saved
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from collections_mi.demo import DEMO_TABLES  # the tables the demo writes, in its order

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_JSON = HERE / "results.json"
RESULTS_MD = HERE / "RESULTS.md"
BEGIN, END = "<!-- results:begin (written by benchmarks/run.py) -->", "<!-- results:end -->"
AS_OF = "2026-10-31"
PACK_STAGES = (
    "open",
    "validate",
    "compute",
    "tables",
    "excel",
    "email charts",
    "notebooks",
    "html",
    "pdf",
    "email",
    "history",
)

try:
    import psutil
except ImportError:  # the tree sampler is optional; ru_maxrss is always there
    psutil = None


def venv_bin(name: str) -> str:
    candidate = ROOT / ".venv" / "bin" / name
    return str(candidate) if candidate.exists() else (shutil.which(name) or name)


PYTHON = venv_bin("python")
CLI = venv_bin("collections-mi")


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ measuring


def _tree_rss(process) -> int:
    """The RSS summed over the tree's processes, but a child caught between fork and exec (:func:`_not_its_own`)."""
    try:
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                if not _not_its_own(child):
                    total += child.memory_info().rss
        return total
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def _not_its_own(child) -> bool:
    """Whether ``child`` is its parent caught between fork (or vfork) and exec — ``subprocess.Popen`` starting
    Chromium: the parent's command line and exactly its parent's virtual size and RSS. Its memory is its parent's
    (vfork shares the address space; a fresh fork shares every page until written), so adding its RSS counts the
    parent twice: the 10M pack's tree once read 3,021 MB as "1,510 MB collections-mi pack; 1,510 MB collections-mi
    pack" (PSS 1,443 MB)."""
    try:
        parent = child.parent()
        if parent is None or child.cmdline() != parent.cmdline():
            return False
        mine, theirs = child.memory_info(), parent.memory_info()
        return (mine.rss, mine.vms) == (theirs.rss, theirs.vms)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _tree_pss(process) -> int:
    """The tree's proportional set size: each shared page (a browser's or interpreter's libraries, mapped by each of
    its processes) counted once across the processes that share it, where the RSS sum counts it in each."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, AttributeError):
            total += member.memory_full_info().pss
    return total


def _tree_split(process) -> str:
    """The processes of the tree by RSS, largest first (e.g. ``4,812 MB collections-mi pack; 1,509 MB
    ipykernel_launcher``): which one made a new peak of the tree's sum; a child caught between fork and exec is left
    out, as :func:`_tree_rss` leaves it out."""
    parts = []
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if member is not process and _not_its_own(member):
                continue  # counted in its parent (as in _tree_rss)
            words = [Path(w).name for w in member.cmdline()[1:3] if not w.startswith("-")] or [member.name()]
            parts.append((member.memory_info().rss, " ".join(words)))
    return "; ".join(f"{rss / 2**20:,.0f} MB {what}" for rss, what in sorted(parts, reverse=True))


MAX_RSS_MB = 8192.0  # set from --max-rss-mb: a run whose process tree grows past it is stopped


def measure(
    cmd: list[str], *, stdout: Path, stderr: Path, timeout: float, cwd: Path, env: dict[str, str] | None = None
) -> dict[str, object]:
    """Run ``cmd``; wall seconds, peak RSS (largest process; largest tree sum), CPU seconds, exit status."""
    log("$ " + " ".join(cmd))
    with stdout.open("wb") as out, stderr.open("wb") as err:
        begin = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True)
        peak_tree = 0
        peak_split = ""
        pss_at_peak = 0  # the tree's PSS when its RSS sum made a peak (read at most once per 1 % of growth)
        pss_read_at = 0
        done = threading.Event()
        timed_out = threading.Event()
        too_big = threading.Event()

        def stop(reason: str) -> None:
            log(f"  {reason}: stopping process group {proc.pid}")
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                if not done.wait(20):
                    os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        def sample() -> None:
            nonlocal peak_tree, peak_split, pss_at_peak, pss_read_at
            handle = psutil.Process(proc.pid) if psutil else None
            while not done.wait(0.2):
                if handle is not None:
                    tree = _tree_rss(handle)
                    if tree > peak_tree:
                        peak_tree = tree
                        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                            peak_split = _tree_split(handle)  # who made the peak (sampled just after it)
                        if tree > pss_read_at * 1.01:
                            pss_read_at, pss_at_peak = tree, _tree_pss(handle)
                    if peak_tree > MAX_RSS_MB * 2**20 and not (too_big.is_set() or timed_out.is_set()):
                        too_big.set()
                        stop(f"process tree RSS {peak_tree / 2**20:,.0f} MB > --max-rss-mb {MAX_RSS_MB:,.0f}")
                if time.perf_counter() - begin > timeout and not (timed_out.is_set() or too_big.is_set()):
                    timed_out.set()
                    stop(f"timeout after {timeout:.0f} s")

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - begin
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    code = proc.returncode
    if timed_out.is_set():
        outcome = f"timeout (> {timeout:.0f} s), stopped"
    elif too_big.is_set():
        outcome = f"stopped at {peak_tree / 2**20:,.0f} MB RSS (> {MAX_RSS_MB:,.0f} MB limit)"
    elif code == -signal.SIGKILL:
        outcome = "killed by SIGKILL (out of memory?)"
    elif code != 0:
        outcome = f"failed (exit {code})"
    else:
        outcome = "ok"
    result = {
        "command": " ".join(cmd),
        "seconds": round(wall, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "peak_tree_rss_mb": round(peak_tree / 2**20, 1) if psutil else None,
        "peak_tree_split": peak_split or None,
        "tree_pss_at_peak_mb": round(pss_at_peak / 2**20, 1) if psutil and pss_at_peak else None,
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "exit": code,
        "status": outcome,
        "load_avg_1m_after": round(os.getloadavg()[0], 2),
    }
    log(
        f"  {outcome}: {wall:.1f} s wall, {result['cpu_seconds']} s CPU, peak RSS {result['peak_rss_mb']} MB"
        + (f" (tree {result['peak_tree_rss_mb']} MB)" if psutil else "")
        + (f"; tree PSS at that peak {result['tree_pss_at_peak_mb']} MB" if result["tree_pss_at_peak_mb"] else "")
    )
    if peak_split:
        log(f"  tree at its peak: {peak_split}")
    if outcome != "ok":
        tail = stderr.read_text(errors="replace").strip().splitlines()[-5:]
        result["stderr_tail"] = tail
        for line in tail:
            log(f"  | {line}")
    return result


# ------------------------------------------------------------------------------------------------ one size


def ledger_ready(folder: Path) -> bool:
    return all((folder / f"{t}.parquet").is_file() for t in DEMO_TABLES)


def prepare(size: int, work: Path, timeout: float) -> tuple[Path, Path, dict[str, object] | None]:
    ledger = work / f"ledger-{size}"
    generated = None
    if ledger_ready(ledger):
        log(f"reusing {ledger}")
    else:
        generated = measure(
            [CLI, "demo", "--out", str(ledger), "--invoices", str(size), "--format", "parquet"],
            stdout=work / f"demo-{size}.out",
            stderr=work / f"demo-{size}.err",
            timeout=timeout,
            cwd=work,
        )
        if generated["status"] != "ok":
            raise SystemExit(f"demo generation failed for {size}: see {work / f'demo-{size}.err'}")
    params = work / f"params-{size}.yaml"
    params.write_text(
        f"# benchmarks/run.py: {size:,} demo invoices\nas_of: {AS_OF}\nsource: {{kind: files, location: {ledger}}}\n",
        encoding="utf-8",
    )
    return ledger, params, generated


def row_counts(ledger: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    return {t: pq.ParquetFile(ledger / f"{t}.parquet").metadata.num_rows for t in DEMO_TABLES}


def git_commit() -> str:
    """The commit the package under test was at (the tree may have uncommitted changes: marked '+dirty')."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"], capture_output=True, text=True, check=False
        ).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except OSError:
        return "?"


def run_floor(
    size: int, ledger: Path, work: Path, args: argparse.Namespace, env: dict[str, str], script: str = "floor"
) -> dict[str, object]:
    """``benchmarks/<script>.py`` on the ledger, ``--floor-repeats`` times; the median run counts."""
    floors = []
    for _ in range(max(1, args.floor_repeats)):
        floors.append(
            measure(
                [PYTHON, str(HERE / f"{script}.py"), str(ledger), "--as-of", AS_OF, "--json"],
                stdout=work / f"{script}-{size}.json",
                stderr=work / f"{script}-{size}.err",
                timeout=args.timeout,
                cwd=work,
                env=env,
            )
        )
        if floors[-1]["status"] == "ok":
            output = json.loads((work / f"{script}-{size}.json").read_text())
            if script == "floor_full":  # keep the timings, not the values
                output = {"total_seconds": output["seconds_sql"], "seconds_by_step": output["seconds_by_step"]}
            floors[-1]["sql"] = output
    ok = sorted((f for f in floors if f["status"] == "ok"), key=lambda f: f["seconds"])
    chosen = ok[len(ok) // 2] if ok else floors[-1]  # the median run
    chosen["repeats"] = [f["seconds"] for f in floors]
    return chosen


def same_values(size: int, ledger: Path, work: Path, env: dict[str, str]) -> dict[str, object]:
    """Whether the same-work floor computes the metrics run's KPIs (floor_full.py --compare; not timed)."""
    done = subprocess.run(
        [
            PYTHON,
            str(HERE / "floor_full.py"),
            str(ledger),
            "--as-of",
            AS_OF,
            "--compare",
            str(work / f"metrics-{size}.json"),
        ],
        capture_output=True,
        text=True,
        cwd=work,
        env=env,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return {"equal": done.returncode == 0, "summary": lines[-1] if lines else done.stderr.strip()[-300:]}


def run_pack(size: int, params: Path, work: Path, args: argparse.Namespace, env: dict[str, str]) -> dict[str, object]:
    reports = work / f"reports-{size}"
    shutil.rmtree(reports, ignore_errors=True)
    result = measure(
        [CLI, "pack", "--params", str(params), "--out", str(reports)],
        stdout=work / f"pack-{size}.out",
        stderr=work / f"pack-{size}.err",
        timeout=args.timeout,
        cwd=work,
        env=env,
    )
    manifest = reports / AS_OF[:7] / "run.json"
    if result["status"] == "ok" and manifest.is_file():
        result["timings_seconds"] = json.loads(manifest.read_text())["timings_seconds"]
        # the month-end history is stored after run.json is written: its time is in the progress lines
        stored = re.search(r"history: stored .* \(([0-9.]+) s\)", (work / f"pack-{size}.err").read_text())
        if stored:
            result["timings_seconds"]["history"] = float(stored.group(1))
    if not args.keep:
        shutil.rmtree(reports, ignore_errors=True)
    return result


def run_size(size: int, work: Path, args: argparse.Namespace, env: dict[str, str]) -> dict[str, object]:
    log(f"=== {size:,} invoices")
    ledger, params, generated = prepare(size, work, args.timeout)
    entry: dict[str, object] = {
        "size": size,
        "measured": dt.datetime.now().isoformat(timespec="seconds"),
        "ledger": str(ledger),
        "rows": row_counts(ledger),
        "ledger_mb": round(sum(p.stat().st_size for p in ledger.glob("*.parquet")) / 2**20, 1),
        "generate": generated,
        "commit": git_commit(),
        "runs": {},
    }
    runs: dict[str, dict[str, object]] = entry["runs"]  # type: ignore[assignment]

    wanted = [r.strip() for r in args.runs.split(",") if r.strip()]
    if args.skip_pack and "pack" in wanted:
        wanted.remove("pack")
    for name in wanted:
        if name == "floor":
            runs["floor"] = run_floor(size, ledger, work, args, env)
        elif name == "floor_full":
            runs["floor_full"] = run_floor(size, ledger, work, args, env, script="floor_full")
        elif name == "metrics":
            runs["metrics"] = measure(
                [CLI, "metrics", "--params", str(params)],
                stdout=work / f"metrics-{size}.json",
                stderr=work / f"metrics-{size}.err",
                timeout=args.timeout,
                cwd=work,
                env=env,
            )
        elif name == "metrics_noval":
            runs["metrics_noval"] = measure(
                [CLI, "metrics", "--params", str(params), "--skip-validation"],
                stdout=work / f"metrics-noval-{size}.json",
                stderr=work / f"metrics-noval-{size}.err",
                timeout=args.timeout,
                cwd=work,
                env=env,
            )
        elif name == "pack":
            runs["pack"] = run_pack(size, params, work, args, env)
        else:
            raise SystemExit(f"--runs: unknown run {name!r} (floor_full, floor, metrics, metrics_noval, pack)")
    if "floor_full" in runs and runs.get("metrics", {}).get("status") == "ok":
        entry["same_values"] = same_values(size, ledger, work, env)
        log(f"same-work floor vs metrics: {entry['same_values']['summary']}")
    if not args.keep and generated is not None:
        shutil.rmtree(ledger, ignore_errors=True)
    return entry


# ------------------------------------------------------------------------------------------------ reporting


def machine_info() -> dict[str, object]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    versions = subprocess.run(
        [
            PYTHON,
            "-c",
            "import sys, duckdb, ibis, pandas, pyarrow, papermill; print(sys.version.split()[0], "
            "duckdb.__version__, ibis.__version__, pandas.__version__, pyarrow.__version__, "
            "papermill.__version__)",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    names = ("python", "duckdb", "ibis", "pandas", "pyarrow", "papermill")
    info = {"nproc": os.cpu_count(), "ram": ram, "cpu": cpu, "os": platform.platform(), **dict(zip(names, versions))}
    info["collections_mi_commit"] = git_commit()
    return info


def fmt_seconds(value: object) -> str:
    return "—" if value is None else f"{float(value):,.1f}"


def ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "—"
    return f"{value / base:.1f}×"


def table_rows(entry: dict[str, object], papermill: dict[str, object] | None) -> list[list[str]]:
    """One row per run and pack stage: seconds, peak RSS, ratio to the same-work floor (floor_full) and to the
    aging + DSO floor (floor), note."""
    size = f"{int(entry['size']):,}"
    runs: dict[str, dict[str, object]] = entry["runs"]  # type: ignore[assignment]
    rows: list[list[str]] = []

    def ok_seconds(run: dict[str, object] | None) -> float | None:
        return float(run["seconds"]) if run and run.get("status") == "ok" else None  # type: ignore[arg-type]

    full, floor = runs.get("floor_full", {}), runs.get("floor", {})
    full_s, floor_s = ok_seconds(full), ok_seconds(floor)

    def rss(run: dict[str, object]) -> str:
        if not run or run.get("peak_rss_mb") is None:
            return "—"
        text = f"{float(run['peak_rss_mb']):,.0f}"
        tree = run.get("peak_tree_rss_mb")
        if tree and float(tree) > float(run["peak_rss_mb"]) * 1.2:
            pss = run.get("tree_pss_at_peak_mb")
            text += f" (tree {float(tree):,.0f}" + (f"; PSS {float(pss):,.0f})" if pss else ")")
        return text

    def status(run: dict[str, object]) -> str:
        return "" if run.get("status") == "ok" else f" **{run.get('status')}**"

    def floor_note(run: dict[str, object]) -> str:
        sql = run.get("sql", {}).get("total_seconds") if run.get("status") == "ok" else None  # type: ignore[union-attr]
        repeats = ", ".join(str(x) for x in run.get("repeats", []))  # type: ignore[union-attr]
        return f"SQL {fmt_seconds(sql)} s; CPU {run.get('cpu_seconds', '—')} s; median of {repeats} s" + status(run)

    if full:
        same = entry.get("same_values")
        checked = ""
        if isinstance(same, dict):
            checked = (
                "; same KPIs as metrics" if same.get("equal") else f"; **differs from metrics: {same.get('summary')}**"
            )
        rows.append(
            [
                size,
                "same-work floor: plain DuckDB SQL, every KPI + trends",
                fmt_seconds(full_s),
                rss(full),
                "1.0×",
                ratio(full_s, floor_s),
                floor_note(full) + checked,
            ]
        )
    if floor:
        rows.append(
            [
                size,
                "aging + DSO floor: plain DuckDB SQL",
                fmt_seconds(floor_s),
                rss(floor),
                ratio(floor_s, full_s),
                "1.0×",
                floor_note(floor),
            ]
        )
    for key, label in (("metrics", "metrics (validate + compute)"), ("metrics_noval", "metrics --skip-validation")):
        run = runs.get(key)
        if not run:
            continue
        seconds = ok_seconds(run)
        rows.append(
            [
                size,
                label,
                fmt_seconds(run["seconds"]),
                rss(run),
                ratio(seconds, full_s),
                ratio(seconds, floor_s),
                f"CPU {run['cpu_seconds']} s; load {run.get('load_avg_1m_after')}" + status(run),
            ]
        )
    m, n = runs.get("metrics"), runs.get("metrics_noval")
    if m and n and m["status"] == n["status"] == "ok":
        rows.append(
            [
                size,
                "  ↳ validation (metrics − skip)",
                fmt_seconds(float(m["seconds"]) - float(n["seconds"])),
                "",
                "",
                "",
                "derived",
            ]
        )
    pack = runs.get("pack")
    if pack:
        fixed = papermill["empty"]["parallel_seconds"] if papermill else None
        full_floor = full_s + fixed if full_s is not None and fixed is not None else None
        pack_floor = floor_s + fixed if floor_s is not None and fixed is not None else None
        seconds = ok_seconds(pack)
        rows.append(
            [
                size,
                "pack (total)",
                fmt_seconds(pack["seconds"]),
                rss(pack),
                ratio(seconds, full_floor),
                ratio(seconds, floor_s),
                f"first ratio vs same-work floor + Papermill fixed = {fmt_seconds(full_floor)} s (aging + DSO floor + "
                f"fixed = {fmt_seconds(pack_floor)} s: {ratio(seconds, pack_floor)}); CPU {pack['cpu_seconds']} s; "
                f"load {pack.get('load_avg_1m_after')}" + status(pack),
            ]
        )
        timings = pack.get("timings_seconds") or {}
        labels = {
            "open": "read (open)",
            "validate": "validate",
            "compute": "compute",
            "tables": "kpis.json + tables/*.csv",
            "excel": "excel (tables.xlsx, beside the notebooks)",
            "email charts": "email charts (PNGs, in the workbook's thread beside the notebooks)",
            "notebooks": "notebooks",
            "html": "HTML",
            "pdf": "PDF",
            "email": "email",
            "history": "history snapshot",
        }
        for stage in [*PACK_STAGES, *(k for k in timings if k not in PACK_STAGES)]:
            if stage in timings:
                note, full_ratio, floor_ratio = "", "", ""
                share = f"{float(timings[stage]) / float(pack['seconds']) * 100:.0f} % of the pack"
                if stage == "compute":
                    full_ratio, floor_ratio = ratio(timings[stage], full_s), ratio(timings[stage], floor_s)
                elif stage == "notebooks" and fixed:
                    note = f"{ratio(timings[stage], fixed)} the Papermill fixed cost; "
                rows.append(
                    [
                        size,
                        f"  ↳ pack: {labels.get(stage, stage)}",
                        fmt_seconds(timings[stage]),
                        "",
                        full_ratio,
                        floor_ratio,
                        note + share,
                    ]
                )
        # tables.xlsx and the email's charts are made in one thread beside the notebooks: together they take the
        # longer one's time
        notebooks = float(timings.get("notebooks", 0))
        beside = float(timings.get("excel", 0)) + float(timings.get("email charts", 0))
        overlap = min(notebooks, beside)
        other = float(pack["seconds"]) - sum(float(v) for v in timings.values()) + overlap if timings else None
        if other is not None:
            rows.append(
                [
                    size,
                    "  ↳ pack: other (imports, shape, results for the notebooks, index, run.json, publish)",
                    fmt_seconds(other),
                    "",
                    "",
                    "",
                    f"{other / float(pack['seconds']) * 100:.0f} % of the pack",
                ]
            )
    return rows


def render(results: dict[str, object]) -> str:
    machine: dict[str, object] = results["machine"]  # type: ignore[assignment]
    papermill = results.get("papermill_fixed")
    lines = [
        BEGIN,
        "",
        f"Measured {results['date']} on: {machine.get('cpu')}, {machine.get('nproc')} cores, "
        f"{machine.get('ram')} RAM, {machine.get('os')}; Python {machine.get('python')}, DuckDB "
        f"{machine.get('duckdb')}, Ibis {machine.get('ibis')}, pandas {machine.get('pandas')}, pyarrow "
        f"{machine.get('pyarrow')}, Papermill {machine.get('papermill')}; collections_mi at "
        f"{machine.get('collections_mi_commit', '?')} (latest run; each size's commit is listed under the table).",
        "",
    ]
    if papermill:
        empty = papermill["empty"]
        lines += [
            f"Papermill fixed cost (trivial notebooks, `python3` kernel): one notebook "
            f"{empty['single_notebook_seconds']:.1f} s; {empty['notebooks']} notebooks on {empty['workers']} "
            f"workers (as the pack runs them) {empty['parallel_seconds']:.1f} s."
            + (
                f" With only the notebooks' imports: {papermill['imports']['single_notebook_seconds']:.1f} s / "
                f"{papermill['imports']['parallel_seconds']:.1f} s."
                if "imports" in papermill
                else ""
            ),
            "",
        ]
    own = {
        key: entry["papermill_fixed"]["empty"]["parallel_seconds"]
        for key, entry in sorted(results["sizes"].items(), key=lambda item: int(item[0]))  # type: ignore[attr-defined]
        if entry.get("papermill_fixed")
    }
    if own:
        lines += [
            "Each size's pack ratio uses the fixed cost (5 notebooks on 2 workers) measured in the run of its pack: "
            + "; ".join(f"{int(key):,}: {seconds:.1f} s" for key, seconds in own.items())
            + ".",
            "",
        ]
    lines += [
        "| invoices | stage | seconds | peak RSS MB | × same-work floor | × aging+DSO floor | note |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for key in sorted(results["sizes"], key=int):
        for row in table_rows(results["sizes"][key], results["sizes"][key].get("papermill_fixed") or papermill):
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Rows per table:", ""]
    for key in sorted(results["sizes"], key=int):
        entry = results["sizes"][key]
        counts = entry["rows"]
        lines.append(
            f"- {int(key):,}: "
            + ", ".join(f"{t} {counts[t]:,}" for t in ("customers", "invoices", "payments", "adjustments", "promises"))
            + f" (Parquet {entry['ledger_mb']} MB; "
            f"measured {entry['measured']}, collections_mi {entry.get('commit', '?')})"
        )
    lines += [
        "",
        "*load* is the machine's 1-minute load average when the run ended (2 cores: above 2 means other "
        "work competed for the CPU, and wall time stretches accordingly).",
        "",
        END,
    ]
    return "\n".join(lines)


def write_markdown(results: dict[str, object]) -> None:
    block = render(results)
    if RESULTS_MD.exists():
        text = RESULTS_MD.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            RESULTS_MD.write_text(head + block + tail, encoding="utf-8")
            return
    RESULTS_MD.write_text(
        "# Benchmark results\n\nRun `python benchmarks/run.py` (see README.md here).\n\n" + block + "\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark metrics and pack against the raw DuckDB floor.")
    parser.add_argument("--sizes", default="100000,1000000,10000000", help="comma-separated invoice counts")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/collections_mi_bench"),
        help="scratch folder for ledgers, params and reports (default /tmp/collections_mi_bench)",
    )
    parser.add_argument("--skip-pack", action="store_true", help="run metrics only (no notebooks)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep ledgers generated by this run and the packs (ledgers already there are always reused and kept)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a run is stopped (default 1800)")
    parser.add_argument(
        "--max-rss-mb",
        type=float,
        default=8192,
        help="stop a run whose process tree RSS exceeds this (protects a shared machine; "
        "default 8192, twice the 4 GB target)",
    )
    parser.add_argument("--floor-repeats", type=int, default=3, help="floor runs per size; the median counts")
    parser.add_argument(
        "--runs",
        default="floor_full,floor,metrics,metrics_noval,pack",
        help="which runs per size, in order (default: floor_full,floor,metrics,metrics_noval,pack)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the regression guard (`make bench`, under a minute): 100k invoices, floor_full,floor,metrics, one floor "
        "run each, nothing written; prints the ratios",
    )
    parser.add_argument("--threads", type=int, help="set COLLECTIONS_MI_THREADS for the package runs")
    parser.add_argument("--fresh", action="store_true", help="forget earlier sizes in results.json")
    parser.add_argument("--no-write", action="store_true", help="do not update results.json / RESULTS.md")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="only rewrite the table in RESULTS.md from results.json (runs nothing)",
    )
    args = parser.parse_args(argv)
    if args.quick:  # its own defaults; options given beside it still count
        defaults = {"sizes": "100000,1000000,10000000", "runs": "floor_full,floor,metrics,metrics_noval,pack"}
        quick = {"sizes": "100000", "runs": "floor_full,floor,metrics"}
        for option, value in quick.items():
            if getattr(args, option) == defaults[option]:
                setattr(args, option, value)
        args.floor_repeats = 1 if args.floor_repeats == 3 else args.floor_repeats
        args.no_write, args.keep = True, True  # the ledger is kept for the next check
    global MAX_RSS_MB
    MAX_RSS_MB = args.max_rss_mb
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, COLLECTIONS_MI_HOME=str(ROOT), GX_ANALYTICS_ENABLED="False")
    if args.threads:
        env["COLLECTIONS_MI_THREADS"] = str(args.threads)

    if args.render_only:
        write_markdown(json.loads(RESULTS_JSON.read_text(encoding="utf-8")))
        return 0
    results: dict[str, object] = {"sizes": {}}
    if RESULTS_JSON.exists() and not args.fresh and not args.no_write:
        results = json.loads(RESULTS_JSON.read_text(encoding="utf-8"))
    results["machine"] = machine_info()
    results["date"] = dt.date.today().isoformat()

    def save() -> None:
        if not args.no_write:
            RESULTS_JSON.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
            write_markdown(results)

    if not args.skip_pack and "pack" in args.runs:
        fixed = measure(
            [PYTHON, str(HERE / "papermill_fixed.py"), "--imports", "--json"],
            stdout=work / "papermill-fixed.json",
            stderr=work / "papermill-fixed.err",
            timeout=args.timeout,
            cwd=work,
            env=env,
        )
        if fixed["status"] == "ok":
            results["papermill_fixed"] = {**json.loads((work / "papermill-fixed.json").read_text()), "process": fixed}
    fixed_now = results.get("papermill_fixed") if not args.skip_pack and "pack" in args.runs else None
    for size in sizes:
        entry = run_size(size, work, args, env)
        if fixed_now:  # each size's pack ratio uses the fixed cost of its own run (it moves by seconds between runs)
            entry["papermill_fixed"] = fixed_now
        results["sizes"][str(size)] = entry  # type: ignore[index]
        save()
    save()
    print("invoices | stage | seconds | peak RSS MB | × same-work floor | × aging+DSO floor | note")
    for key in sorted(results["sizes"], key=int):  # type: ignore[arg-type]
        if str(key) not in {str(size) for size in sizes}:
            continue
        measured: dict[str, object] = results["sizes"][key]  # type: ignore[index]
        fixed_cost: dict[str, object] | None = measured.get("papermill_fixed") or results.get("papermill_fixed")  # type: ignore[assignment]
        for row in table_rows(measured, fixed_cost):
            print(" | ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
