"""What the pack's notebooks call. A notebook is thin: it loads a section, shows tables and charts, explains.

In a pack run the section's results were computed once and written to ``results_dir``; the notebook
reads them back exactly. Opened interactively (``results_dir=None``), the notebook computes the
section from the params file through the same library functions.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from IPython.display import HTML, Markdown, display

from collections_mi.config import Params, load_params
from collections_mi.metrics.result import SectionResult
from collections_mi.pack.results import read_results
from collections_mi.presentation import format as fmt

_STATE: dict[str, bool] = {"plotly_loaded": False}

NOTEBOOK_CSS = (Path(__file__).parent / "presentation" / "assets" / "pack.css")


def setup() -> None:
    """Load plotly.js (inline, offline) and the pack's table styles once per notebook."""
    pio.templates.default = "plotly_white"
    pd.set_option("display.max_columns", 50)
    if not _STATE["plotly_loaded"]:
        from plotly.offline import get_plotlyjs

        css = NOTEBOOK_CSS.read_text(encoding="utf-8") if NOTEBOOK_CSS.is_file() else ""
        display(HTML(f'<style>{css}</style><script type="text/javascript">{get_plotlyjs()}</script>'))
        _STATE["plotly_loaded"] = True


def load_section(section: str, params_path: str, results_dir: str | None = None) -> tuple[Params, SectionResult]:
    """The params and the computed results of one section (read from a pack run, or computed now)."""
    params = load_params(params_path)
    if results_dir:
        results = read_results(Path(results_dir))
        return params, results[section]
    from collections_mi.metrics.sections import SECTIONS, compute_sections
    from collections_mi.sources import open_ledger

    ledger = open_ledger(params, params_path)
    return params, compute_sections(ledger.typed, params, [SECTIONS[section]])[section]


def show(fig: go.Figure) -> None:
    """Display a plotly figure: interactive in JupyterLab, inline HTML (no CDN) in the exported pack."""
    setup()
    fragment = fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False,
                           config={"displaylogo": False, "responsive": True})
    display({"text/html": f'<div class="mi-chart">{fragment}</div>'}, raw=True)


def table(frame: pd.DataFrame, currency: str = "USD", **options: Any) -> None:
    display(HTML(fmt.html_table(frame, currency=currency, **options)))


def tiles(items: list[dict[str, Any]]) -> None:
    display(HTML(fmt.kpi_tiles(items)))


def conventions(result: SectionResult) -> None:
    display(HTML("<h4>Conventions in force</h4>" + fmt.definition_list(result.conventions)))


def note(text: str) -> None:
    """A line of explanation generated from data (escaped)."""
    display(HTML(f'<p class="mi-note">{html.escape(text)}</p>'))


def markdown(text: str) -> None:
    display(Markdown(text))


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")
