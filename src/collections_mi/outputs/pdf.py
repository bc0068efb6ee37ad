"""The pack as a printable board pack, ``pack.pdf`` (data contract v1.1 § 4): A4 landscape, a cover with the
headline KPIs, then one section per page — the same exported HTML the pack publishes (so the same numbers), with
print styles: no navigation, tables that fit the page, charts drawn (plotly renders SVG before printing), and
"Page N of M" with the as-of date in every page's footer.

Printed by a headless Chromium (Debian's ``chromium``, the browser Kaleido and the browser tests use), from one
document that holds every section, so the page numbers run through the whole pack. Without a Chromium the PDF is
left out and the caller says so (:class:`PdfOutcome` ``.warning``); nothing else of the pack depends on it."""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from collections_mi.core.errors import MACHINE_ERRNOS, first_line
from collections_mi.outputs.html import CSS, PLOTLY_ASSET, check_offline
from collections_mi.presentation import format as fmt

PDF_NAME = "pack.pdf"
#: the browser: this variable (a path) first, then ``chromium`` / ``chromium-browser`` on PATH
CHROMIUM_ENV = "COLLECTIONS_MI_CHROMIUM"
#: what to do when there is none (pack.pdf and the email's charts need it)
NO_CHROMIUM_FIX = f"install Debian's chromium package, or set {CHROMIUM_ENV} to a Chromium's path"
#: a table with more columns prints its first PRINT_COLUMNS and says the rest are in Excel
PRINT_COLUMNS = 18
#: from this many columns a table prints in a smaller font, its headers wrapping
WIDE_COLUMNS = 9
#: A4 landscape (297 mm) less the page margins below, in CSS pixels (96 per inch): the width charts are drawn at
PRINT_WIDTH_PX = 1047
#: wall-clock limit for the browser; the pack goes on without a PDF when it is exceeded
RENDER_TIMEOUT_SECONDS = 240
#: the height of an A4 landscape page (210 mm) less the page margins below, in CSS pixels: what the cover must fit
PRINT_HEIGHT_PX = 695
#: after layout (the window is as wide as the printed page), a table still wider than the page (long names, many
#: columns) is scaled down to fit it, and so is a cover taller than its page (long names in "What changed", many
#: tiles with targets), with a little room to spare: the cover is always one page
FIT_SCRIPT = """
document.querySelectorAll("table.mi-table").forEach(function (table) {
  var room = table.parentElement.clientWidth;
  if (room > 0 && table.scrollWidth > room) { table.style.zoom = (room / table.scrollWidth).toFixed(3); }
});
var cover = document.querySelector("section.mi-cover"), height = PRINT_HEIGHT_PX * 0.97;
if (cover && cover.scrollHeight > height) { cover.style.zoom = (height / cover.scrollHeight).toFixed(3); }
""".replace("PRINT_HEIGHT_PX", str(PRINT_HEIGHT_PX))
#: tiles the cover holds (four rows of four) with its sentences, "What changed" and contents on one A4 landscape page;
#: with more (targets on many KPIs) the headlines stay on the cover and every KPI with a target is listed on a
#: scorecard page after it
COVER_TILES = 16
#: how long the page may run its scripts (plotly drawing every chart) before it is printed, in virtual time
SCRIPT_BUDGET_MS = 60_000

PRINT_CSS = """
@page { size: A4 landscape; margin: 12mm 10mm 14mm 10mm;
  @bottom-left { content: %(footer)s; font: 8pt system-ui, sans-serif; color: #616e7c; }
  @bottom-right { content: "Page " counter(page) " of " counter(pages); font: 8pt system-ui, sans-serif;
                  color: #616e7c; }
}
html, body { margin: 0; padding: 0; background: #fff; }
body.mi-print { font-size: 11px; }
body.mi-print .jp-Notebook, body.mi-print main { padding: 0; }
.mi-header, .mi-footer { display: none; }
.jp-OutputArea-output, .jp-RenderedHTMLCommon, .jp-Cell-outputArea { overflow: visible !important; }
section.mi-print-section { break-before: page; }
.mi-chart, .mi-tiles, .mi-tile { break-inside: avoid; }
h1, h2, h3, h4, .mi-heading, .jp-MarkdownCell { break-after: avoid; }
.modebar-container, .modebar { display: none !important; }
table.mi-table th.txt, table.mi-table td.txt { text-align: left; }
dl.mi-conventions dt { white-space: nowrap; }
table.mi-table thead { display: table-header-group; }
table.mi-table tr { break-inside: avoid; }
table.mi-table { font-size: 11px; }
table.mi-table.mi-print-wide { font-size: 8.5px; }
table.mi-table.mi-print-wide th { white-space: normal; vertical-align: bottom; padding: 3px 4px; }
table.mi-table.mi-print-wide td { padding: 2px 4px; white-space: nowrap; }
.mi-print-cut { color: #616e7c; font-size: 10px; margin: -10px 0 14px; }
.mi-cover h1 { font-size: 22px; margin: 8px 0 0; }
.mi-cover .mi-cover-brand { background: #0d2a4a; color: #fff; padding: 10px 16px; font-size: 15px; font-weight: 700; }
.mi-cover .mi-tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 5px; margin: 6px 0 4px; }
.mi-cover .mi-tile { min-width: 0; padding: 4px 10px; }
.mi-cover .mi-tile-label { font-size: 10px; }
.mi-cover .mi-tile-value { font-size: 18px; white-space: nowrap; }
.mi-cover .mi-tile-main { flex-direction: row; align-items: center; gap: 10px; }
.mi-cover .mi-change, .mi-cover .mi-tile-note { font-size: 10px; }
.mi-cover ul { font-size: 11px; margin: 4px 0; padding-left: 18px; }
.mi-cover h3 { margin: 8px 0 2px; font-size: 12px; }
.mi-cover .mi-contents { font-size: 11px; margin: 8px 0 0; }
.mi-cover .mi-run { margin-top: 6px; font-size: 9px; }
.mi-scorecard h2 { font-size: 18px; margin: 0 0 4px; }
.mi-scorecard td.mi-rag-cell { white-space: nowrap; font-weight: 600; }
"""


@dataclass(frozen=True)
class Cover:
    """What the cover shows: the same tiles and sentences as the index page (presentation/headlines.py)."""

    company: str
    period: str
    as_of: str
    tiles: Sequence[fmt.Tile]
    summary: Sequence[str]
    validation: str
    footer: str
    #: the "What changed" sentences of the index page
    changes: Sequence[str] = ()


@dataclass(frozen=True)
class PdfSection:
    """One section of the pack: its title and its exported page (html/NN_<topic>.html)."""

    title: str
    page: Path


@dataclass(frozen=True)
class PdfOutcome:
    """``path`` of the PDF written and its page count, or ``path`` None and ``warning`` saying why it was left out."""

    path: Path | None
    pages: int = 0
    warning: str | None = None


def find_chromium() -> str | None:
    """The Chromium to print with: ``$COLLECTIONS_MI_CHROMIUM`` when set (an empty value: none), else ``chromium``
    or ``chromium-browser`` on PATH, else Debian's ``/usr/bin/chromium``; None when there is none."""
    configured = os.environ.get(CHROMIUM_ENV)
    if configured is not None:
        return configured if configured and os.access(configured, os.X_OK) and Path(configured).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def css_string(text: str) -> str:
    """``text`` as a CSS string literal: every character but letters, digits, spaces and plain punctuation
    hex-escaped, so no quote, backslash, line break or ``</style>`` from a company name can end it."""
    safe = " .,:-/()·'"
    return '"' + "".join(ch if ch.isalnum() or ch in safe else f"\\{ord(ch):06x}" for ch in text) + '"'


_TABLE = re.compile(r'<table class="mi-table">(.*?)</table>', re.DOTALL)
_ROW = re.compile(r"(<tr\b[^>]*>)(.*?)</tr>", re.DOTALL)
_CELL = re.compile(r"<(t[hd])\b[^>]*>.*?</\1>", re.DOTALL)


def fit_tables(body: str, max_columns: int = PRINT_COLUMNS, wide: int = WIDE_COLUMNS) -> str:
    """The pack's tables (``table.mi-table``) made to fit a landscape page: from ``wide`` columns in a smaller font
    with wrapping headers; over ``max_columns``, only the first ``max_columns`` columns, with a line saying so (the
    full table is in tables.xlsx and tables/)."""

    def fit(match: re.Match[str]) -> str:
        inner = match.group(1)
        columns = max((len(_CELL.findall(row.group(2))) for row in _ROW.finditer(inner)), default=0)
        if columns < wide:
            return match.group(0)
        note = ""
        if columns > max_columns:
            inner = _ROW.sub(
                lambda row: (
                    row.group(1)
                    + "".join(cell.group(0) for cell in list(_CELL.finditer(row.group(2)))[:max_columns])
                    + "</tr>"
                ),
                inner,
            )
            note = (
                f'<p class="mi-print-cut">Showing the first {max_columns} of {columns} columns; '
                "full detail in Excel (tables.xlsx).</p>"
            )
        return f'<table class="mi-table mi-print-wide">{inner}</table>{note}'

    return _TABLE.sub(fit, body)


def page_main(page: str, name: str) -> str:
    """The content of an exported page's ``<main>`` (without the navigation header and the run footer)."""
    start, end = page.find("<main>"), page.rfind("</main>")
    if start < 0 or end < start:
        raise RuntimeError(f"{name}: the exported page has no <main> to print")
    return page[start + len("<main>") : end]


def page_styles(page: str) -> str:
    """The ``<style>`` blocks of an exported page's head (JupyterLab's styles for the notebook output and the pack's
    own)."""
    head = page[: page.find("</head>")]
    return "".join(re.findall(r"<style\b[^>]*>.*?</style>", head, flags=re.DOTALL))


def cover_layout(tiles: Sequence[fmt.Tile], room: int = COVER_TILES) -> tuple[list[fmt.Tile], list[fmt.Tile]]:
    """The tiles the cover shows and those of the scorecard page after it. Up to ``room`` tiles all go on the cover
    and there is no scorecard; beyond, the cover keeps every headline tile and fills what room is left with the
    first tiles shown for their target alone (in pack order), and the scorecard lists every tile with a target."""
    if len(tiles) <= room:
        return list(tiles), []
    headline = sum(1 for tile in tiles if tile.get("headline", True))
    extra = max(room - headline, 0)
    shown: list[fmt.Tile] = []
    for tile in tiles:
        if tile.get("headline", True):
            shown.append(tile)
        elif extra > 0:
            shown.append(tile)
            extra -= 1
    return shown, [tile for tile in tiles if tile.get("target")]


def scorecard_html(tiles: Sequence[fmt.Tile]) -> str:
    """The scorecard page: one row per KPI with a target — its value, status (icon and word, in its RAG colour),
    target and change. Every text escaped."""
    rows = "".join(
        f'<tr><td class="txt">{html.escape(str(tile["label"]))}</td>'
        f'<td class="num">{html.escape(str(tile["value"]))}</td>'
        f'<td class="txt mi-rag-cell mi-rag-{html.escape(str(tile.get("rag") or "none"))}">'
        f"{html.escape(str(tile.get('status') or 'Not available'))}</td>"
        f'<td class="txt">{html.escape(str(tile.get("target") or ""))}</td>'
        f'<td class="num">{html.escape(str(tile.get("change") or ""))}</td></tr>'
        for tile in tiles
    )
    return (
        f'<section class="mi-print-section mi-scorecard"><h2>Scorecard: the {len(tiles)} KPIs with a target</h2>'
        '<p class="mi-note">Targets from params (report.targets); the same values as the index page, the email and '
        'kpis.json.</p><table class="mi-table"><thead><tr><th class="txt">KPI</th><th class="num">Value</th>'
        '<th class="txt">Status</th><th class="txt">Target</th><th class="num">Change</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


def cover_html(cover: Cover, titles: Sequence[str]) -> str:
    """The first page: the brand, the period and as-of date, the headline tiles, the summary sentences and "What
    changed" of the index page, the contents and the run's provenance line — then, when the tiles do not fit the
    cover (:func:`cover_layout`), the scorecard page. Every text escaped."""
    brand = html.escape(fmt.brand(cover.company, cover.period))
    shown, scorecard = cover_layout(cover.tiles)
    sentences = "".join(f"<li>{html.escape(line)}</li>" for line in cover.summary)
    changes = "".join(f"<li>{html.escape(line)}</li>" for line in cover.changes)
    changed = f'<h3>What changed</h3><ul class="mi-changes">{changes}</ul>' if changes else ""
    entries = [f"{number}. {html.escape(title)}" for number, title in enumerate(titles, start=1)]
    more = ""
    if scorecard:
        entries.insert(0, "Scorecard (next page)")
        more = (
            f'<p class="mi-note">{len(cover.tiles) - len(shown)} more KPIs with a target are on the scorecard '
            "(next page).</p>"
        )
    return (
        f'<section class="mi-cover"><div class="mi-cover-brand">{brand}</div>'
        f"<h1>Month-end collections pack — {html.escape(fmt.period_label(cover.period))}</h1>"
        f'<p class="mi-note">As of {html.escape(cover.as_of)} · validation: {html.escape(cover.validation)}</p>'
        f"{fmt.kpi_tiles(shown)}{more}<ul>{sentences}</ul>{changed}"
        f'<p class="mi-contents"><b>Contents</b> {" · ".join(entries)}</p>'
        f'<p class="mi-note mi-run">{html.escape(cover.footer)}</p></section>'
        f"{scorecard_html(scorecard) if scorecard else ''}"
    )


def print_document(cover: Cover, sections: Sequence[PdfSection], plotly_src: str) -> str:
    """One HTML document for the whole pack: the cover, then each section's page content, loading plotly.js once
    from ``plotly_src`` (relative to where the document is written)."""
    pages = [(section, section.page.read_text(encoding="utf-8")) for section in sections]
    styles = page_styles(pages[0][1]) if pages else f"<style>{CSS}</style>"
    footer = css_string(f"{fmt.brand(cover.company, cover.period)} · as of {cover.as_of}")
    bodies = "".join(
        f'<section class="mi-print-section">{fit_tables(page_main(text, section.page.name))}</section>'
        for section, text in pages
    )
    document = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(fmt.brand(cover.company, cover.period))}</title>{styles}"
        f'<script src="{html.escape(plotly_src)}"></script>'
        f"<style>{PRINT_CSS % {'footer': footer}}</style></head>"
        '<body class="jp-Notebook mi-pack mi-print" data-jp-theme-light="true">'
        f"{cover_html(cover, [s.title for s, _ in pages])}{bodies}<script>{FIT_SCRIPT}</script></body></html>\n"
    )
    check_offline(document, "the print document")
    return document


def pdf_pages(pdf: bytes) -> int:
    """How many pages a PDF has (its page objects; Chromium writes them uncompressed)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def render_pdf(document: Path, target: Path, chromium: str, timeout: float = RENDER_TIMEOUT_SECONDS) -> None:
    """Print ``document`` (a local HTML file) to ``target`` with headless ``chromium``; raises RuntimeError with
    the browser's last words when no PDF comes out."""
    # absolute: Chromium runs in its profile folder, where a relative target (``--out reports``, the default) does
    # not exist — it then prints nothing and exits 0
    target = target.resolve()
    with tempfile.TemporaryDirectory(prefix="cmi-pdf-") as profile:
        command = [
            chromium,
            "--headless",
            "--no-sandbox",  # as root (containers, CI) Chromium refuses its sandbox; the page is our own file
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={PRINT_WIDTH_PX},900",
            "--run-all-compositor-stages-before-draw",
            f"--virtual-time-budget={SCRIPT_BUDGET_MS}",
            "--no-pdf-header-footer",
            "--disable-pdf-tagging",  # the tag tree is 70 % of the file (2 of 2.8 MB on the demo): the PDF is mailed
            "--generate-pdf-document-outline",  # bookmarks from the headings
            f"--print-to-pdf={target}",
            document.resolve().as_uri(),
        ]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, cwd=profile
        )
        try:
            _, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the browser and its helpers: the group we started
            process.communicate()
            raise RuntimeError(f"Chromium did not finish printing within {timeout:.0f} s") from None
    if not target.is_file() or target.stat().st_size == 0 or not target.read_bytes().startswith(b"%PDF"):
        last = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()][-1:]
        raise RuntimeError(f"Chromium wrote no PDF (exit {process.returncode}{': ' + last[0] if last else ''})")


def write_pdf(folder: Path, cover: Cover, sections: Sequence[PdfSection], chromium: str | None = None) -> PdfOutcome:
    """Write ``folder/pack.pdf`` from the exported pages in ``folder/html``; without a Chromium (or when it fails)
    no PDF and a warning. The print document is written beside the pages while printing, then removed."""
    chromium = chromium or find_chromium()
    if chromium is None:
        return PdfOutcome(
            None,
            warning=f"{PDF_NAME} left out: no headless Chromium to print it ({NO_CHROMIUM_FIX})",
        )
    document = folder / "html" / ".print.html"
    target = folder / PDF_NAME
    document.write_text(print_document(cover, sections, PLOTLY_ASSET), encoding="utf-8")
    try:
        render_pdf(document, target, chromium)
    except (RuntimeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno in MACHINE_ERRNOS:
            raise  # the disk is full or the folder went read-only: the pack's own fault handling says so
        target.unlink(missing_ok=True)
        return PdfOutcome(None, warning=f"{PDF_NAME} left out: {first_line(exc)}")
    finally:
        document.unlink(missing_ok=True)
    return PdfOutcome(target, pdf_pages(target.read_bytes()))
