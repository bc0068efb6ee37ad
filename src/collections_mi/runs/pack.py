"""One month-end pack run, end to end, written to a staging folder and published atomically."""

from __future__ import annotations

import ast
import datetime as dt
import json
import multiprocessing
import os
import platform
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collections_mi import __version__
from collections_mi.config.audiences import AUDIENCES_DIR
from collections_mi.config.params import Params, load_params, params_to_jsonable, redact_url, write_frozen_params
from collections_mi.core.errors import MACHINE_ERRNOS, PackError, first_line
from collections_mi.core.interrupts import raise_if_stopped
from collections_mi.core.memory import give_back_freed_memory
from collections_mi.delivery.email import EmailCharts, draw_email_charts, write_email
from collections_mi.metrics.book import Tables
from collections_mi.metrics.result import SectionResult
from collections_mi.metrics.sections import (
    SECTIONS,
    Section,
    available_sections,
    flat_kpis,
    unavailable_sections,
    with_dependencies,
)
from collections_mi.metrics.shape import LedgerShape, ledger_shape
from collections_mi.outputs import publish as publishing
from collections_mi.outputs.excel import write_excel
from collections_mi.outputs.restatement import compare_with_published
from collections_mi.presentation import headlines, what_changed
from collections_mi.presentation.format import Tile
from collections_mi.presentation.targets import RAG_RULE
from collections_mi.runs.backfill import compute_month_end, record_pack
from collections_mi.runs.notebook_worker import execute_notebook_file, exit_with_parent, kernel_sockets_root
from collections_mi.sources.audiences import AudienceLedger, audience_ledger, materialised
from collections_mi.sources.ledger import Ledger, open_ledger
from collections_mi.store.history import TablesAtRest
from collections_mi.store.results import write_results
from collections_mi.validation.gate import validate_ledger
from collections_mi.validation.report import ValidationReport

if TYPE_CHECKING:
    from collections_mi.outputs.pdf import PdfOutcome

Progress = Callable[[str], None]
#: how many moved KPIs the index page's restatement line names (restatement_kpis.csv lists them all)
RESTATED_KPIS_NAMED = 6
PACKAGES = (
    "collections_mi",
    "pandas",
    "numpy",
    "pyarrow",
    "ibis-framework",
    "duckdb",
    "great_expectations",
    "papermill",
    "nbconvert",
    "nbclient",
    "plotly",
    "pydantic",
)


def project_root() -> Path:
    """The checkout holding notebooks/ (the package is installed editable from src/)."""
    env = os.environ.get("COLLECTIONS_MI_HOME")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[3]
    if (here / "notebooks").is_dir():
        return here
    return Path.cwd()


@dataclass
class PackOutcome:
    period: str
    folder: Path
    kpis: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    #: the run from start to end (not the sum of ``timings``: the workbook and the email's charts are made beside
    #: the notebooks)
    seconds: float = 0.0

    @property
    def index_html(self) -> Path:
        return self.folder / "index.html"


class _Stopwatch:
    def __init__(self, progress: Progress) -> None:
        self.timings: dict[str, float] = {}
        self._shown = progress
        self._one_line_at_a_time = threading.Lock()
        self.started = time.perf_counter()

    def progress(self, message: str) -> None:
        """One progress line, whole: the workbook's thread reports beside the notebooks (a line printed in two
        writes, text then newline, would otherwise interleave with another thread's)."""
        with self._one_line_at_a_time:
            self._shown(message)

    def run(self, stage: str, message: str, work: Callable[[], Any]) -> Any:
        raise_if_stopped()  # a Ctrl-C a library swallowed still stops the run here (core/interrupts.py)
        self.progress(f"{message} …")
        begin = time.perf_counter()
        value = work()
        raise_if_stopped()
        self.timings[stage] = round(time.perf_counter() - begin, 3)
        self.progress(f"{message} done ({self.timings[stage]:.1f} s)")
        return value


def declared_parameters(notebook: Path) -> set[str]:
    """The names the notebook's cell tagged ``parameters`` assigns at its top level — what papermill's
    ``inspect_notebook`` reports for a Python notebook, read here from the notebook's JSON with :mod:`ast`, so the
    pack process does not import papermill (1.5 s) only to check its own notebooks."""
    try:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PackError(f"{notebook}: not a readable notebook ({first_line(exc)})", hint="restore it from git") from exc
    for cell in cells:
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            try:
                tree = ast.parse(source if isinstance(source, str) else "".join(source))
            except SyntaxError as exc:
                raise PackError(f"{notebook}: its parameters cell is not valid Python ({exc.msg})") from exc
            names: set[str] = set()
            for statement in tree.body:
                targets = statement.targets if isinstance(statement, ast.Assign) else []
                if isinstance(statement, ast.AnnAssign):
                    targets = [statement.target]
                names.update(target.id for target in targets if isinstance(target, ast.Name))
            return names
    return set()


def _check_declared_parameters(notebook: Path, passed: dict[str, str]) -> None:
    undeclared = sorted(set(passed) - declared_parameters(notebook))
    if undeclared:
        raise PackError(
            f"{notebook}: the parameters cell does not declare {', '.join(undeclared)}",
            hint="add them to the cell tagged `parameters`",
        )


@dataclass(frozen=True)
class NotebookRun:
    """The notebooks of one pack in the period folder — the main pack, or an audience's (``audiences/<name>/``):
    its sections, its folder (the results the notebooks read, where the executed copies go) and its frozen params."""

    sections: list[Section]
    folder: Path
    params_path: Path
    #: how progress lines and failures name it ("" for the main pack, "audience emea")
    label: str = ""


def execute_notebooks(runs: list[NotebookRun], progress: Progress) -> None:
    """Execute the notebooks of every run in one pool of worker processes (the main pack's and its audiences')."""
    notebooks_dir = project_root() / "notebooks"
    jobs: dict[str, tuple[str, str, dict[str, str], str]] = {}
    for run in runs:
        executed = run.folder / "executed"
        executed.mkdir()
        parameters = {"params_path": str(run.params_path.resolve()), "results_dir": str(run.folder.resolve())}
        for section in run.sections:
            source = notebooks_dir / f"{section.notebook}.ipynb"
            if not source.is_file():
                raise PackError(
                    f"notebook not found: {source}", hint="run from the project checkout or set COLLECTIONS_MI_HOME"
                )
            _check_declared_parameters(source, parameters)
            name = f"{run.label} {section.notebook}" if run.label else section.notebook
            jobs[name] = (str(source), str(executed / f"{section.notebook}.ipynb"), parameters, str(run.folder))
    sockets_root = kernel_sockets_root()
    try:
        failures = _run_notebook_jobs(jobs, progress, sockets_root)
    finally:
        if sockets_root is not None:  # every notebook has ended, or its worker was stopped
            shutil.rmtree(sockets_root, ignore_errors=True)
    for _, failure in failures:
        if isinstance(failure, OSError) and failure.errno in MACHINE_ERRNOS:
            # the disk filled up (or the folder went read-only) under a notebook: not the notebook's fault
            raise failure
    if failures:
        lines = [f"{name}: {_notebook_failure(exc)}" for name, exc in failures]
        raise PackError(
            "notebook(s) failed:\n  " + "\n  ".join(lines),
            hint="the executed copy, run up to the failing cell, is kept with this run",
        )


def _run_notebook_jobs(
    jobs: dict[str, tuple[str, str, dict[str, str], str]], progress: Progress, sockets_root: str | None
) -> list[tuple[str, Exception]]:
    """Run ``jobs`` (name → source, target, parameters, folder) in a pool of notebook workers; returns the failures."""
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    failures: list[tuple[str, Exception]] = []
    # fresh interpreters, not forks: a fork of this process would start with its whole address space (the
    # ledger's engine, every result table: 4 GB at 10M invoices), and Python's reference counting would copy it
    # page by page into each worker
    # each worker exits when this process dies, even by SIGKILL (its kernel follows: ipykernel exits when its parent
    # changes), so no notebook worker, kernel or multiprocessing resource tracker outlives the pack
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )
    try:
        futures = {
            pool.submit(execute_notebook_file, src, dst, parameters, cwd, sockets_root): name
            for name, (src, dst, parameters, cwd) in jobs.items()
        }
        for done, future in enumerate(as_completed(futures), start=1):
            name = futures[future]
            raise_if_stopped()
            try:
                future.result()
                progress(f"  [{done}/{len(jobs)}] {name} executed")
            except Exception as exc:  # papermill's execution error carries the cell and traceback
                failures.append((name, exc))
                progress(f"  [{done}/{len(jobs)}] {name} FAILED")
    except BaseException:
        # interrupted (Ctrl-C / SIGTERM): stop the notebook workers now rather than wait for them
        pool.shutdown(wait=False, cancel_futures=True)
        for child in multiprocessing.active_children():
            child.terminate()
        raise
    pool.shutdown(wait=True)
    return failures


def _notebook_failure(exc: Exception) -> str:
    """One line for a failed notebook: papermill's error names the exception raised in the cell and the cell;
    anything else (the kernel died, the notebook file is broken) is its first line."""
    ename = getattr(exc, "ename", None)
    if ename:
        return f"{ename}: {getattr(exc, 'evalue', None)} (cell {getattr(exc, 'exec_count', '?')})"
    notes = getattr(exc, "__notes__", [])
    return "; ".join([first_line(exc), *notes])


def export_html(sections: list[Section], folder: Path, params: Params, footer: str) -> None:
    # nbformat (1.3 s): not for `collections-mi metrics`
    from collections_mi.outputs.html import notebook_to_html, write_plotly_asset

    html_dir = folder / "html"
    html_dir.mkdir()
    write_plotly_asset(html_dir)  # one plotly.js for every page (issue 19), not 4.8 MB inline in each
    for section in sections:
        nav = [{"href": f"{s.notebook}.html", "title": s.title, "current": s is section} for s in sections]
        page = notebook_to_html(
            folder / "executed" / f"{section.notebook}.ipynb",
            title=section.title,
            nav=nav,
            company=params.report.company,
            period=params.period,
            footer=footer,
        )
        (html_dir / f"{section.notebook}.html").write_text(page, encoding="utf-8")


@dataclass(frozen=True)
class FrontPage:
    """What heads a pack — its index page and the PDF's cover — computed once for both: the headline tiles (with
    targets and sparklines), the summary sentences, "What changed" and its movers table (HTML, escaped)."""

    tiles: list[Tile]
    summary: list[str]
    changes: list[str]
    movers: str


def front_page(part: PackPart, restatement: dict[str, Any] | None = None) -> FrontPage:
    currency = part.params.reporting_currency
    return FrontPage(
        tiles=headlines.index_tiles(part.results, currency, part.params.report),
        summary=index_summary(part.results, currency, restatement, part.notes),
        changes=what_changed.what_changed(part.results, currency),
        movers=what_changed.movers_html(part.results, currency),
    )


def write_index(part: PackPart, front: FrontPage, validation: str) -> None:
    """``part.folder/index.html``: ``front``, the links to the sections' pages, what is not available and why, and
    (the main pack's) the links to the audience packs."""
    from collections_mi.outputs.html import index_page  # nbformat (1.3 s): not for `collections-mi metrics`

    params = part.params
    page = index_page(
        company=params.report.company,
        period=params.period,
        as_of=str(params.as_of),
        tiles=front.tiles,
        sections=[{"href": f"html/{s.notebook}.html", "title": s.title} for s in part.sections],
        summary=front.summary,
        footer=part.footer,
        validation=validation,
        unavailable=[(SECTIONS[name].title, reason) for name, reason in (part.unavailable or {}).items()],
        changes=front.changes,
        movers=front.movers,
        glossary=RAG_RULE if any(tile.get("target") for tile in front.tiles) else "",
        audiences=[(name, f"audiences/{name}/index.html", scope) for name, scope in part.audiences],
    )
    (part.folder / "index.html").write_text(page, encoding="utf-8")


def index_summary(
    results: dict[str, SectionResult[Any, Any]],
    currency: str,
    restatement: dict[str, Any] | None,
    notes: list[str] | None = None,
) -> list[str]:
    """The sentences under the index page's tiles (and on the PDF's cover): a restatement first, when there is one,
    then ``notes`` (an audience's scope)."""
    summary = [*(notes or []), *headlines.summary_sentences(results, currency)]
    if restatement and restatement.get("restated"):
        moved = ", ".join(
            f"{k['kpi']} {k['published']} → {k['restated']}" for k in restatement["kpis"][:RESTATED_KPIS_NAMED]
        )
        summary.insert(
            0,
            f"RESTATED: this period was published before (run {restatement['previous_run_id']}); "
            f"moved: {moved}. Details in tables/restatement_kpis.csv and restatement_rows.csv; the "
            "previous version is kept in .history/.",
        )
    return summary


def print_pdf(part: PackPart, front: FrontPage, validation: str) -> PdfOutcome:
    """``part.folder/pack.pdf`` (issue 19): the cover shows ``front`` as the index page does (tiles, sentences, "What
    changed"), then every exported page. Without a headless Chromium there is no PDF and the outcome's warning says
    so."""
    from collections_mi.outputs.pdf import Cover, PdfSection, write_pdf  # nbformat (1.3 s): see export_html

    params = part.params
    cover = Cover(
        company=params.report.company,
        period=params.period,
        as_of=str(params.as_of),
        tiles=front.tiles,
        summary=front.summary,
        validation=validation,
        footer=part.footer,
        changes=front.changes,
    )
    pages = [PdfSection(s.title, part.folder / "html" / f"{s.notebook}.html") for s in part.sections]
    return write_pdf(part.folder, cover, pages)


def pdf_manifest(outcome: PdfOutcome) -> dict[str, Any]:
    """run.json's ``pdf`` entry: the file, its pages and size, or why there is none."""
    if outcome.path is None:
        return {"file": None, "left_out": outcome.warning}
    return {"file": outcome.path.name, "pages": outcome.pages, "bytes": outcome.path.stat().st_size}


def shown_source(description: str, params_path: Path) -> str:
    """The source as the published footer names it: a local folder or file inside the project (or beside the params
    file) by its path relative to it — ``files:data/demo``, not the machine's ``files:/home/…/data/demo`` — and
    anything else as it is. run.json keeps the full location."""
    kind, separator, location = description.partition(":")
    if not separator or not Path(location).is_absolute():  # a URL (ibis:postgres://…, spark:s3a://…)
        return description
    path = Path(location)
    for base in (project_root(), params_path.resolve().parent):
        if path.is_relative_to(base.resolve()):
            return f"{kind}:{path.relative_to(base.resolve()).as_posix()}"
    return description


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def run_pack(
    params_path: str | Path, out_dir: str | Path = "reports", only: list[str] | None = None, progress: Progress = print
) -> PackOutcome:
    """Run the whole pack for one params file; returns where it was published."""
    params_path = Path(params_path)
    out_dir = Path(out_dir)
    params = load_params(params_path)
    run_id = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    started = dt.datetime.now(dt.UTC)
    clock = _Stopwatch(lambda m: progress(f"[{params.period}] {m}"))
    try:
        return _run_locked(params, params_path, out_dir, only, progress, run_id, started, clock)
    except OSError as exc:  # the machine refused a write (disk full, read-only, not a folder…): say so, by name
        fault = publishing.output_fault(exc, out_dir, params.period)
        if fault is None:
            raise
        raise fault from None


@dataclass
class PackPart:
    """One pack the period folder publishes — the main pack, or an audience's in ``audiences/<name>/`` — with what its
    output stages (pages, index, email) need. Both kinds run the same stages (:func:`write_outputs`)."""

    folder: Path
    #: the params its pages and email show (an audience's: the audience in the title, its recipients)
    params: Params
    #: the frozen params its notebooks read (``<folder>/params.yaml``)
    params_path: Path
    sections: list[Section]
    results: dict[str, SectionResult[Any, Any]]
    footer: str
    #: sections it cannot show → why (None: not listed, e.g. with --only)
    unavailable: dict[str, str] | None
    #: sentences heading its index and email (an audience's scope)
    notes: list[str] = field(default_factory=list)
    #: the main pack's: (name, what it filters) of each audience pack its index links to
    audiences: list[tuple[str, str]] = field(default_factory=list)
    #: "" for the main pack, else "audience <name>" (progress lines, timings)
    label: str = ""
    #: where it is in the report folder, as its email names it: None for the main pack (the period folder), an
    #: audience's "<period>/audiences/<name>"
    place: str | None = None
    #: the email's charts, drawn beside the notebooks (None: not drawn yet)
    charts: EmailCharts | None = None
    #: the results' tables as held from when tables/ is written until the history stores them (None: not yet)
    at_rest: TablesAtRest | None = None

    def notebooks(self) -> NotebookRun:
        return NotebookRun(self.sections, self.folder, self.params_path, self.label)

    def stage(self, name: str) -> str:
        """The timing key of stage ``name`` for this part ("html"; "audience emea html")."""
        return f"{self.label} {name}" if self.label else name


def write_results_stage(part: PackPart, clock: _Stopwatch, at_rest: TablesAtRest | None = None) -> TablesAtRest:
    """kpis.json and tables/ (store): what the notebooks read. The part's tables are held at rest
    (:class:`~collections_mi.store.history.TablesAtRest`) until the history stores them — ``at_rest`` when they were
    put there as they were computed, else from now: the workbook, the email and the front page get each table back
    as the same exact frame when they use it."""

    def write() -> TablesAtRest:
        held = at_rest
        if held is None:
            held = TablesAtRest(part.params.period, part.params.as_of)
            held.put(part.results)
        write_results(part.results, flat_kpis(part.results), part.folder, held)
        give_back_freed_memory()  # the frames just let go, before the notebook kernels start beside this process
        part.at_rest = held
        return held

    return clock.run(
        part.stage("tables"), f"{part.label + ': ' if part.label else ''}writing kpis.json and tables/", write
    )


def write_workbooks(parts: list[PackPart], clock: _Stopwatch) -> None:
    """tables.xlsx of every part (the pack's, then each audience's)."""
    for part in parts:
        clock.run(
            part.stage("excel"),
            f"{part.label + ': ' if part.label else ''}writing tables.xlsx",
            partial(write_excel, part.results, part.folder / "tables.xlsx", part.params, part.at_rest),
        )


def draw_charts(parts: list[PackPart], clock: _Stopwatch) -> None:
    """The email's charts of every part (PNGs through the headless Chromium), kept on the part for its email."""
    for part in parts:
        part.charts = clock.run(
            part.stage("email charts"),
            f"{part.label + ': ' if part.label else ''}drawing the email's charts",
            partial(draw_email_charts, part.results, part.params),
        )


def notebooks_and_workbooks(parts: list[PackPart], clock: _Stopwatch) -> None:
    """Execute every part's notebooks and, beside them in a thread of this process, write the workbooks and then
    draw the email's charts.

    The notebooks run in worker processes while this process only waits for them: side by side they share the
    machine's cores (a fifth of a 1M-invoice pack was the workbook, one core busy, before the notebooks started).
    Workbooks, then charts, in one thread: both are mostly Python (XlsxWriter, figures), so two threads would only
    take turns at the interpreter lock — at 1M invoices the workbook took 26 s beside the charts instead of 17. The
    workbooks first: the charts start the headless Chromium (~1 GB of processes), which beside the notebook
    kernels made the 10M pack's peak (main 2.35 GB + kernels 0.6 GB + Chromium 1.0 GB); after a large ledger's
    workbook the kernels are gone, and the thread takes as long either way. A stop asked for ends the workbook at
    its next sheet (:func:`~collections_mi.outputs.excel.write_excel` asks); a failed workbook fails the pack after
    the notebooks."""

    def workbooks_then_charts() -> None:
        write_workbooks(parts, clock)
        # the sheets' frames were converted from rest one at a time and let go: their pages back to the system
        # before the headless Chromium starts beside this process (the charts now, pack.pdf after the notebooks)
        give_back_freed_memory()
        draw_charts(parts, clock)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="beside-notebooks") as beside:
        done_beside = beside.submit(workbooks_then_charts)
        clock.run(
            "notebooks",
            f"executing {sum(len(p.sections) for p in parts)} notebook(s)"
            + (f" (the pack and {len(parts) - 1} audience(s))" if len(parts) > 1 else ""),
            lambda: execute_notebooks([p.notebooks() for p in parts], clock.progress),
        )
        done_beside.result()


def write_outputs(
    part: PackPart, clock: _Stopwatch, validation: str, restatement: dict[str, Any] | None = None
) -> tuple[list[str], PdfOutcome]:
    """The output stages after the notebooks, the same for the main pack and every audience: HTML pages, the index
    page, pack.pdf and email.eml. Returns the warnings (no PDF, parts left out of the email) and the PDF's outcome."""
    prefix = f"{part.label}: " if part.label else ""
    clock.run(
        part.stage("html"),
        f"{prefix}exporting HTML",
        lambda: export_html(part.sections, part.folder, part.params, part.footer),
    )
    front = front_page(part, restatement)
    write_index(part, front, validation)
    pdf = clock.run(part.stage("pdf"), f"{prefix}printing pack.pdf", lambda: print_pdf(part, front, validation))
    warnings = [pdf.warning] if pdf.warning else []
    warnings += clock.run(
        part.stage("email"),
        f"{prefix}writing email.eml",
        lambda: write_email(
            part.folder,
            part.results,
            part.params,
            validation,
            notes=part.notes,
            place=part.place,
            charts=part.charts,
        ),
    )
    return warnings, pdf


def audience_filter_text(audience: AudienceLedger) -> str:
    """An audience's filter as the index page lists it: "region = EMEA; segment in Enterprise, Public"."""
    return "; ".join(
        f"{column} = {values[0]}" if len(values) == 1 else f"{column} in {', '.join(values)}"
        for column, values in ((c, [str(v) for v in vs]) for c, vs in audience.config.filter.items())
    )


def audience_params(params: Params, audience: AudienceLedger) -> Params:
    """The params an audience's pack shows and its notebooks read: the audience named in the title line, its
    recipients as the email's To, and no audiences of its own."""
    company = params.report.company.strip()
    label = f"{company} · audience {audience.name}" if company else f"Audience {audience.name}"
    report = params.report.model_copy(update={"company": label[:200], "audiences": {}})
    email = params.email.model_copy(update={"recipients": list(audience.config.recipients)})
    return params.model_copy(update={"report": report, "email": email})


def prepare_audience(
    audience: AudienceLedger,
    params: Params,
    params_path: Path,
    staging: Path,
    only: list[str] | None,
    footer: str,
    clock: _Stopwatch,
) -> PackPart:
    """Compute an audience's sections on its part of the ledger (the same functions as the main pack's) and write
    its results and frozen params into ``staging/audiences/<name>/``."""
    label = f"audience {audience.name}"

    def compute() -> tuple[LedgerShape, list[Section], dict[str, SectionResult[Any, Any]]]:
        with materialised(audience) as part:
            shape = ledger_shape(part.typed, params.as_of, part.left_out)
            sections = available_sections(part.typed, only, shape)
            return shape, sections, compute_on_book(part.typed, params, with_dependencies(sections), shape)

    shape, sections, results = clock.run(
        f"{label} compute",
        f"{label} ({audience.customers:,} of {audience.customers_in_ledger:,} customers): computing",
        compute,
    )
    folder = staging / AUDIENCES_DIR / audience.name
    folder.mkdir(parents=True)
    shown = audience_params(params, audience)
    part = PackPart(
        folder=folder,
        params=shown,
        params_path=write_frozen_params(shown, params_path, folder),
        sections=sections,
        results=results,
        footer=f"{footer} · audience {audience.name}: {audience.config.describe()}",
        unavailable=unavailable_sections(audience.typed, shape) if only is None else None,
        notes=[audience.scope()],
        label=label,
        place=f"{params.period}/{AUDIENCES_DIR}/{audience.name}",
    )
    write_results_stage(part, clock)
    return part


def _run_locked(
    params: Params,
    params_path: Path,
    out_dir: Path,
    only: list[str] | None,
    progress: Progress,
    run_id: str,
    started: dt.datetime,
    clock: _Stopwatch,
) -> PackOutcome:
    with publishing.period_lock(out_dir, params.period):
        repaired = publishing.recover(out_dir, params.period)
        if repaired:
            progress(f"[{params.period}] recovered from an interrupted run: {'; '.join(repaired)}")
        staging = publishing.staging_dir(out_dir, params.period, run_id)
        keep = False
        try:
            ledger = _open_source(params, params_path, clock)
            failed_dir = lambda: publishing.keep_failed(out_dir, params.period, run_id, staging)  # noqa: E731
            report = clock.run("validate", VALIDATING, lambda: validate_ledger(ledger, params, failed_dir))
            # each audience's part of the ledger, before any work: a filter that matches no customer stops here
            audiences = [audience_ledger(ledger.raw, ledger.typed, n, a) for n, a in params.report.audiences.items()]
            shape = ledger_shape(ledger.typed, params.as_of)
            sections = available_sections(ledger.typed, only, shape)
            if not sections:
                raise PackError(
                    "no section can run: the source lacks the tables they need",
                    hint="check source.location and the table names against data-contract.md",
                )
            computed = with_dependencies(sections)
            # a complete run is the month-end's snapshot: its open items come from the same Book (issue 11); each
            # section's tables are held at rest from when it is computed until the history stores them
            at_rest = TablesAtRest(params.period, params.as_of)
            month_end = clock.run(
                "compute",
                f"computing {', '.join(s.name for s in computed)}",
                lambda: compute_month_end(
                    ledger,
                    params,
                    computed,
                    shape,
                    open_items=only is None,
                    at_rest=at_rest,
                    progress=_section_progress(shape, clock),
                ),
            )
            results = month_end.results
            kpis = flat_kpis(results)
            # the notebooks read the params as validated at the start (staging/params.yaml, kept in the pack), never
            # the live file, which may have changed since
            frozen_params_path = write_frozen_params(params, params_path, staging)
            footer = (
                f"collections_mi {__version__} · run {run_id} · as of {params.as_of} · params "
                f"{params_path.name} (aging {params.aging.basis}, allowance {params.allowance.method}, DSO window "
                f"{params.dso.window_months} months) · source {shown_source(ledger.description, params_path)} · "
                f"validation passed "
                f"({report.checks_run} checks)"
            )
            main = PackPart(
                staging,
                params,
                frozen_params_path,
                sections,
                results,
                footer,
                unavailable_sections(ledger.typed, shape) if only is None else None,
                audiences=[(a.name, audience_filter_text(a)) for a in audiences],
            )
            write_results_stage(main, clock, at_rest)
            parts = [main] + [
                prepare_audience(audience, params, params_path, staging, only, footer, clock) for audience in audiences
            ]
            try:
                notebooks_and_workbooks(parts, clock)
            except PackError:
                keep = True
                raise
            validation_text = f"passed ({report.checks_run} checks)"
            restatement = compare_with_published(out_dir / params.period, staging)
            warnings, pdf = write_outputs(main, clock, validation_text, restatement)
            for part in parts[1:]:
                warnings += [f"{part.label}: {w}" for w in write_outputs(part, clock, validation_text)[0]]
            for warning in warnings:
                progress(f"[{params.period}] warning: {warning}")
            manifest = {
                "run_id": run_id,
                "period": params.period,
                "as_of": str(params.as_of),
                "started_utc": started.isoformat(timespec="seconds"),
                "finished_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "params_file": str(params_path),
                "params": params_to_jsonable(params),
                "source": ledger.fingerprint(report.tables if set(report.tables) == set(ledger.raw) else None),
                "sections": [s.name for s in sections],
                "audiences": {
                    audience.name: {
                        "filter": audience.config.describe(),
                        "customers": audience.customers,
                        "sections": [s.name for s in part.sections],
                        "left_out": sorted(audience.left_out),
                    }
                    for audience, part in zip(audiences, parts[1:])
                },
                "validation": {"ok": True, "checks_run": report.checks_run, "seconds": report.seconds},
                "timings_seconds": clock.timings,
                "warnings": warnings,
                "pdf": pdf_manifest(pdf),
                "restatement": restatement,
                "packages": package_versions(),
                "python": platform.python_version(),
                "command": " ".join(sys.argv),
            }
            (staging / "run.json").write_text(json.dumps(manifest, indent=1, default=str), encoding="utf-8")
            raise_if_stopped()  # never publish after a stop was asked for
            final = publishing.publish(out_dir, params.period, staging)
            # issue 11: store this month-end's snapshot in <out>/history (a failure only warns: the pack is published)
            record_pack(
                out_dir,
                params,
                ledger.description,
                month_end if only is None else None,
                run_id=run_id,
                progress=clock.progress,
            )
        except BaseException:
            if keep and staging.exists():
                kept = publishing.keep_failed(out_dir, params.period, run_id, staging)
                progress(f"[{params.period}] the failed run is kept in {kept}")
            elif staging.exists():
                publishing.discard(staging)
            raise
    return PackOutcome(params.period, final, kpis, clock.timings, time.perf_counter() - clock.started)


#: the validation stage's progress line (pack, metrics, validate)
VALIDATING = "validating input data"


def _open_source(params: Params, params_path: str | Path, clock: _Stopwatch) -> Ledger:
    """The source of ``params`` opened, as the stage "open" of ``clock``."""
    where = f"{params.source.kind}:{redact_url(params.source.location)}"  # a URL's password never on the terminal
    return clock.run("open", f"opening source {where}", lambda: open_ledger(params, params_path))


#: invoices beyond which the compute stage shows a line as the Book opens and as each section starts: at a million
#: invoices compute takes ~15 s on two cores, at 100M about an hour; below, the stage's own two lines say enough
SECTION_PROGRESS_FROM = 1_000_000


def _section_progress(shape: LedgerShape, clock: _Stopwatch) -> Progress | None:
    """Where the compute stage shows its steps (:func:`compute_month_end`'s ``progress``): on a ledger of more than
    :data:`SECTION_PROGRESS_FROM` invoices."""
    return clock.progress if shape.all_rows.get("invoices", 0) > SECTION_PROGRESS_FROM else None


def _command_clock(params: Params, progress: Progress | None) -> _Stopwatch:
    """The stopwatch of a command without a pack (`metrics`, `validate`): its stages are shown as the pack's are
    when ``progress`` is given (a 100M-invoice ledger validates and computes for many minutes)."""
    return _Stopwatch(lambda m: progress(f"[{params.period}] {m}") if progress else None)


def validate_source(params_path: str | Path, progress: Progress | None = None) -> ValidationReport:
    """`collections-mi validate`: the source of ``params_path`` through the validation gate (raises when it fails)."""
    params = load_params(params_path)
    clock = _command_clock(params, progress)
    ledger = _open_source(params, params_path, clock)
    report: ValidationReport = clock.run("validate", VALIDATING, lambda: validate_ledger(ledger, params))
    return report


def compute_kpis(params_path: str | Path, *, validate: bool = True, progress: Progress | None = None) -> dict[str, Any]:
    """`collections-mi metrics`: the kpis.json object without notebooks (validated unless told otherwise)."""
    params = load_params(params_path)
    clock = _command_clock(params, progress)
    ledger = _open_source(params, params_path, clock)
    if validate:
        clock.run("validate", VALIDATING, lambda: validate_ledger(ledger, params))
    shape = ledger_shape(ledger.typed, params.as_of)
    sections = available_sections(ledger.typed, shape=shape)
    return flat_kpis(
        clock.run(
            "compute",
            f"computing {', '.join(s.name for s in sections)}",
            lambda: (
                compute_month_end(
                    ledger,
                    params,
                    sections,
                    shape,
                    open_items=False,
                    kpis_only=True,
                    progress=_section_progress(shape, clock),
                ).results
            ),
        )
    )


def compute_on_book(
    ledger: Ledger | Tables, params: Params, sections: list[Section], shape: LedgerShape
) -> dict[str, SectionResult]:
    """Open the Book of ``ledger`` (or of typed tables: an audience's part of it) as of ``params.as_of`` (``shape``
    measured for that date), compute ``sections`` on it, release it."""
    return compute_month_end(ledger, params, sections, shape, open_items=False).results
