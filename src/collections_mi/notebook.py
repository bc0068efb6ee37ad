"""What the pack's notebooks call. A notebook is thin: it loads a section, shows tables and charts, explains.

In a pack run the section's results were computed once and written to ``results_dir``; the notebook
reads them back exactly. Opened interactively (``results_dir=None``), the notebook computes the
section from the params file through the same library functions.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, overload

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from IPython.display import HTML, display
from plotly.offline import get_plotlyjs

from collections_mi.config.params import Params, load_params
from collections_mi.metrics.published import (
    AgencyResult,
    AgingResult,
    AllowanceResult,
    CashResult,
    DsoResult,
    WatchlistResult,
)
from collections_mi.metrics.result import SectionResult, SectionTables, Unavailable
from collections_mi.presentation import format as fmt
from collections_mi.presentation.display import LIST_ROWS
from collections_mi.presentation.format import Tile
from collections_mi.store import history
from collections_mi.store.results import read_results

_STATE: dict[str, bool] = {"plotly_loaded": False}

NOTEBOOK_CSS = Path(__file__).parent / "presentation" / "assets" / "pack.css"


def setup() -> None:
    """Load plotly.js (inline, offline) and the pack's table styles once per notebook."""
    pio.templates.default = "plotly_white"
    pd.set_option("display.max_columns", 50)
    if not _STATE["plotly_loaded"]:
        css = NOTEBOOK_CSS.read_text(encoding="utf-8") if NOTEBOOK_CSS.is_file() else ""
        display(HTML(f'<style>{css}</style><script type="text/javascript">{get_plotlyjs()}</script>'))
        _STATE["plotly_loaded"] = True


@overload
def load_section(
    section: Literal["aging"], params_path: str, results_dir: str | None = None
) -> tuple[Params, AgingResult]: ...
@overload
def load_section(
    section: Literal["dso"], params_path: str, results_dir: str | None = None
) -> tuple[Params, DsoResult]: ...
@overload
def load_section(
    section: Literal["allowance"], params_path: str, results_dir: str | None = None
) -> tuple[Params, AllowanceResult]: ...
@overload
def load_section(
    section: Literal["watchlist"], params_path: str, results_dir: str | None = None
) -> tuple[Params, WatchlistResult]: ...
@overload
def load_section(
    section: Literal["agency"], params_path: str, results_dir: str | None = None
) -> tuple[Params, AgencyResult]: ...
@overload
def load_section(
    section: Literal["cash"], params_path: str, results_dir: str | None = None
) -> tuple[Params, CashResult]: ...
def load_section(
    section: str, params_path: str, results_dir: str | None = None
) -> tuple[Params, SectionResult[Any, Any]]:
    """The params and the computed results of one section, typed (``aging.tables.by_segment``) — read from a pack
    run, or computed now (e.g. when the notebook is opened in JupyterLab, where relative paths are taken from the
    project root). Read from a pack run, each table is read the first time the page uses it."""
    if not results_dir:
        params_path = work_from_project(params_path)
    params = load_params(params_path)
    if results_dir:
        results = read_results(Path(results_dir), only=[section], when_used=True)
        return params, results[section]
    # computing imports Ibis and the metrics (0.3 s): not in a pack's notebooks, which read the results
    from collections_mi.metrics.book import open_book
    from collections_mi.metrics.sections import SECTIONS, compute_sections
    from collections_mi.sources.ledger import open_ledger

    ledger = open_ledger(params, params_path)
    with open_book(ledger, params) as book:
        return params, compute_sections(book, params, [SECTIONS[section]])[section]


def show(fig: go.Figure) -> None:
    """Display a plotly figure: interactive in JupyterLab, inline HTML (no CDN) in the exported pack."""
    setup()
    fragment = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        config={"displaylogo": False, "responsive": True},
    )
    display({"text/html": f'<div class="mi-chart">{fragment}</div>'}, raw=True)


def table(frame: pd.DataFrame | Unavailable, currency: str = "USD", **options: Any) -> None:
    """A table, or — for one the ledger cannot give — "Not available: <reason>" where it would stand."""
    if isinstance(frame, Unavailable):
        unavailable(frame)
        return
    display(HTML(fmt.html_table(frame, currency=currency, **options)))


def list_table(
    tables: SectionTables,
    name: str,
    currency: str,
    view: Callable[..., pd.DataFrame | Unavailable] | None = None,
    *view_args: Any,
    **options: Any,
) -> None:
    """The first rows (``display.LIST_ROWS``) of the long list ``name`` of ``tables`` — through ``view(frame,
    *view_args)`` when given: a view of each row (its columns, its words), never one that filters or orders rows —
    and how many more are in tables/<published name>.csv and tables.xlsx. Read from a pack run, only the first rows
    are read: a 10M-invoice book's cash page shows ten of 750,000 forecast items without holding them."""
    first = tables.first_rows(name, fmt.COLUMN_SAMPLE_ROWS)
    if isinstance(first, Unavailable):
        unavailable(first)
        return
    shown = first.frame if view is None else view(first.frame, *view_args)
    source = tables.files()[name]
    table(shown, currency, max_rows=LIST_ROWS, total_rows=first.rows, source=source, **options)


def tables(frames: Sequence[pd.DataFrame | Unavailable], currency: str = "USD", **options: Any) -> None:
    """Tables of one view (e.g. disputes by reason, owner and age): each shown; when none is available, "Not
    available: <reason>" once, not once per table."""
    shown = [frame for frame in frames if not isinstance(frame, Unavailable)]
    if not shown and frames:
        first = frames[0]
        assert isinstance(first, Unavailable)
        unavailable(first)
        return
    for frame in frames:
        table(frame, currency, **options)


def chart(make: Callable[..., go.Figure], frame: pd.DataFrame | Unavailable, *args: Any, **kwargs: Any) -> None:
    """``make(frame, *args, **kwargs)`` shown as a chart; nothing for a table the ledger cannot give (its
    :func:`table` says why)."""
    if not isinstance(frame, Unavailable):
        show(make(frame, *args, **kwargs))


def unavailable(missing: Unavailable) -> None:
    """ "Not available: <reason>." in the page, where the table or chart would stand."""
    display(HTML(f'<p class="mi-unavailable">{html.escape(str(missing))}</p>'))


def tiles(items: Sequence[Tile]) -> None:
    display(HTML(fmt.kpi_tiles(items)))


def conventions(result: SectionResult[Any, Any]) -> None:
    display(HTML("<h4>Conventions in force</h4>" + fmt.definition_list(result.conventions)))


def note(text: str) -> None:
    """A line of explanation generated from data (escaped)."""
    display(HTML(f'<p class="mi-note">{html.escape(text)}</p>'))


def heading(text: str) -> None:
    """A section heading generated from data (escaped: never Markdown, whose links and images would be live)."""
    display(HTML(f'<h3 class="mi-heading">{html.escape(text)}</h3>'))


def context_line(params: Params, currency: str, **more: str) -> None:
    """The line under a page's title: company (when set), as of, currency and e.g. method="aging_rates" — escaped,
    since the company name is text from the params."""
    facts = [("as of", str(params.as_of)), ("amounts in", currency), *more.items()]
    parts = [f"<b>{html.escape(params.report.company)}</b>"] if params.report.company.strip() else []
    parts += [f"{html.escape(label)} <b>{html.escape(value)}</b>" for label, value in facts]
    display(HTML(f'<p class="mi-context">{" · ".join(parts)}</p>'))


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


# --- Exploration notebooks (notebooks/explore/, issue 11) ---------------------------------------------------------
# They read the month-end history (collections_mi.store.history) and, for a month not stored yet, the ledger.


def work_from_project(params_path: str) -> str:
    """``params_path`` made absolute. JupyterLab starts a kernel in the notebook's folder (notebooks/…), but relative
    paths — the params file, the params' ``source.location``, reports/ — are meant from the project root, as on the
    command line: when the path is not found here, work from the nearest parent folder that holds it."""
    if not Path(params_path).is_absolute() and not Path(params_path).exists():
        root = next((p for p in Path.cwd().parents if (p / params_path).is_file()), None)
        if root is not None:
            os.chdir(root)
    return str(Path(params_path).resolve())


def explore_paths(params_path: str, history_dir: str) -> tuple[str, str]:
    """Absolute paths for the exploration notebooks' parameters (see :func:`work_from_project`)."""
    return work_from_project(params_path), str(Path(history_dir).resolve())


def explore_open_items(params_path: str, history_dir: str) -> tuple[Params, pd.DataFrame]:
    """The params and the open items at their month-end: from the history when that month is stored (the ledger is
    not read), otherwise computed from the ledger now (and not stored)."""
    params = load_params(params_path)
    if history.has_period(history_dir, params.period):
        items = history.load_table(history_dir, history.OPEN_ITEMS, [params.period])
        stored = history.snapshot_manifest(history_dir, params.period)
        note(
            f"Open items of {params.period} read from the history ({history_dir}), stored "
            f"{stored.get('stored_utc', '?')} by {stored.get('origin', '?')} {stored.get('run_id', '')}."
        )
        return params, items
    # Ibis and the metrics (0.3 s): only when the month is not in the history
    from collections_mi.metrics.book import book_of
    from collections_mi.metrics.open_items import open_items_snapshot
    from collections_mi.sources.ledger import open_ledger

    ledger = open_ledger(params, params_path)
    items = open_items_snapshot(book_of(ledger, params), params.aging)
    note(f"{params.period} is not in the history yet: open items computed now from {ledger.description}.")
    return params, items


def explore_history(params_path: str, history_dir: str, fill_missing: bool = False) -> tuple[Params, pd.DataFrame]:
    """The params and every stored period's KPIs. With ``fill_missing``, months of the last ``report.trend_months``
    up to the params' period that the history lacks are back-filled first (validated, no notebooks)."""
    params = load_params(params_path)
    filled = ""
    if fill_missing:
        from collections_mi.runs.backfill import backfill  # Ibis, the metrics, GX on use: only to fill months

        outcome = backfill(params_path, history_dir=history_dir, missing_only=True, progress=print)
        if outcome.stored:
            filled = f" ({len(outcome.stored)} missing month(s) back-filled first in {outcome.seconds:.0f} s)"
    kpis = history.load_kpis(history_dir)
    stored = list(kpis["period"])
    note(
        f"{len(stored)} month-end(s) in the history ({stored[0]} … {stored[-1]}), read from {history_dir}{filled}; "
        "the views below read only the history, not the ledger."
    )
    if len(stored) < 2:
        note("Trends need at least two month-ends: run `collections-mi backfill --params <params file>`.")
    return params, kpis
