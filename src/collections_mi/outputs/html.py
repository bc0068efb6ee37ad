"""Executed notebooks → self-contained offline HTML pages (no code cells, no CDN), and the index page."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat

from collections_mi.presentation import format as fmt

TEMPLATES = Path(__file__).resolve().parent.parent / "presentation" / "templates"
CSS = (Path(__file__).resolve().parent.parent / "presentation" / "assets" / "pack.css").read_text(encoding="utf-8")
#: any external script/style reference: the published pack must open offline
EXTERNAL_ASSET = re.compile(r"<(script|link)[^>]+(src|href)=[\"']?(https?:)?//", re.IGNORECASE)
#: the pack's one copy of plotly.js, beside the pages in html/ (copied from the installed plotly package)
PLOTLY_ASSET = "plotly.min.js"


def notebook_to_html(
    notebook_path: Path,
    *,
    title: str,
    nav: Sequence[Mapping[str, Any]],
    company: str,
    period: str,
    footer: str,
    index_href: str = "../index.html",
) -> str:
    from nbconvert import HTMLExporter  # 0.35 s more than nbformat, which index_page needs alone

    exporter = HTMLExporter(template_name="collections_mi", extra_template_basedirs=[str(TEMPLATES)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    notebook = nbformat.read(notebook_path, as_version=4)
    notebook.metadata["title"] = f"{title} · {fmt.period_label(period)}"
    resources = {
        "mi": {
            "css": CSS,
            "nav": list(nav),
            "brand": fmt.brand(company, period),
            "period": period,
            "footer": footer,
            "index_href": index_href,
        }
    }
    body, _ = exporter.from_notebook_node(notebook, resources=resources)
    body = share_plotlyjs(body)
    check_offline(body, str(notebook_path))
    return body


def _inline_plotlyjs() -> str:
    """The ``<script>`` block holding the whole plotly.js that a pack notebook embeds once (``notebook.setup``)."""
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def share_plotlyjs(page: str, src: str = PLOTLY_ASSET) -> str:
    """``page`` with its inline copies of plotly.js (4.8 MB each) replaced by one ``<script src>`` in the head that
    loads the pack's shared copy (:func:`write_plotly_asset`), a relative path: the page still opens offline, from
    the folder or from an unzipped copy of it. A page without plotly.js is returned unchanged."""
    inline = _inline_plotlyjs()
    if inline not in page:
        return page
    page = page.replace(inline, "")
    head_end = page.find("</head>")
    if head_end < 0:
        raise RuntimeError("the exported page has no </head> to load plotly.js from")
    return f'{page[:head_end]}<script src="{html.escape(src)}"></script>\n{page[head_end:]}'


def write_plotly_asset(html_dir: Path) -> Path:
    """The installed plotly package's plotly.min.js, written once into ``html_dir`` for every page to share."""
    from plotly.offline import get_plotlyjs

    target = html_dir / PLOTLY_ASSET
    target.write_text(get_plotlyjs(), encoding="utf-8")
    return target


def check_offline(page: str, name: str) -> None:
    match = EXTERNAL_ASSET.search(page)
    if match:
        raise RuntimeError(
            f"{name}: the HTML references an external asset ({match.group(0)}); the pack must be self-contained"
        )


def index_page(
    *,
    company: str,
    period: str,
    as_of: str,
    tiles: Sequence[fmt.Tile],
    sections: Sequence[Mapping[str, Any]],
    summary: Sequence[str],
    footer: str,
    validation: str,
    unavailable: Sequence[tuple[str, str]] = (),
    changes: Sequence[str] = (),
    movers: str = "",
    glossary: str = "",
    audiences: Sequence[tuple[str, str, str]] = (),
) -> str:
    """The pack's front page; ``unavailable`` lists (section title, reason) of sections the ledger cannot feed;
    ``changes`` are the "What changed" sentences and ``movers`` its table (HTML, already escaped); ``glossary``
    says how the tiles' RAG status reads (shown when a tile has a target); ``audiences`` lists (name, href, filter)
    of the audience packs published with it."""
    audience_links = (
        '<h2>Packs per audience</h2><div class="mi-index-sections">'
        + "".join(
            f'<a href="{html.escape(href)}">{html.escape(name)}</a><p class="mi-note">{html.escape(scope)}</p>'
            for name, href, scope in audiences
        )
        + "</div>"
        if audiences
        else ""
    )
    links = "".join(
        f'<a href="{html.escape(s["href"])}">{html.escape(s["title"])}</a>'
        f'<p class="mi-note">{html.escape(s.get("blurb", ""))}</p>'
        for s in sections
    )
    links += "".join(
        f'<span class="mi-unavailable">{html.escape(title)}</span>'
        f'<p class="mi-note">Not available: {html.escape(reason)}.</p>'
        for title, reason in unavailable
    )
    nav = "".join(f'<a href="{html.escape(s["href"])}">{html.escape(s["title"])}</a>' for s in sections)
    sentences = "".join(f"<li>{html.escape(line)}</li>" for line in summary)
    changed = ""
    if changes or movers:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in changes)
        changed = f"<h2>What changed since the previous month-end</h2><ul>{items}</ul>{movers}"
    rag_note = f'<p class="mi-note">{html.escape(glossary)}</p>' if glossary else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(fmt.brand(company, period))}</title>
<style>{CSS} main {{ padding: 8px 28px; max-width: 1100px; }}</style></head>
<body class="mi-pack">
<header class="mi-header"><span class="mi-brand">{html.escape(fmt.brand(company, period))}</span>
<nav><a class="current" href="index.html">Overview</a>{nav}</nav></header>
<main>
<h1>Month-end collections pack — {html.escape(fmt.period_label(period))}</h1>
<p class="mi-note">As of {html.escape(as_of)} · validation: {html.escape(validation)}</p>
{fmt.kpi_tiles(tiles)}
{rag_note}
<ul>{sentences}</ul>
{changed}
<h2>Sections</h2>
<div class="mi-index-sections">{links}</div>
{audience_links}</main>
<footer class="mi-footer">{html.escape(footer)}</footer>
</body></html>
"""
