"""pack.pdf (issue 19): the print document built from the exported pages — tables fitted to a landscape page, every
text escaped, plotly.js loaded once — and the pack going on without a PDF when there is no Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
from pathlib import Path

import pytest

from collections_mi.outputs.html import PLOTLY_ASSET, share_plotlyjs
from collections_mi.outputs.pdf import (
    CHROMIUM_ENV,
    COVER_TILES,
    PRINT_COLUMNS,
    WIDE_COLUMNS,
    Cover,
    PdfSection,
    cover_layout,
    css_string,
    find_chromium,
    fit_tables,
    pdf_pages,
    print_document,
    scorecard_html,
    write_pdf,
)
from collections_mi.presentation import format as fmt

from conftest import ROOT, cli, write_params

HOSTILE = 'Evil "Co" </style><script>alert(1)</script> \\ \n'


def _table(columns: int, rows: int = 2) -> str:
    head = "".join(f'<th class="num">c{i}</th>' for i in range(columns))
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{r}.{i}</td>' for i in range(columns)) + "</tr>" for r in range(rows)
    )
    return f'<table class="mi-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def test_narrow_tables_print_as_they_are() -> None:
    narrow = _table(WIDE_COLUMNS - 1)
    assert fit_tables(narrow) == narrow


def test_wide_tables_print_smaller_and_very_wide_ones_keep_the_stated_number_of_columns() -> None:
    wide = fit_tables(_table(WIDE_COLUMNS))
    assert 'class="mi-table mi-print-wide"' in wide and "Showing the first" not in wide
    assert wide.count("<th ") == WIDE_COLUMNS
    cut = fit_tables(_table(PRINT_COLUMNS + 4, rows=3))
    assert cut.count("<th ") == PRINT_COLUMNS  # the header row
    assert cut.count("<td ") == 3 * PRINT_COLUMNS  # every body row cut the same
    assert f"c{PRINT_COLUMNS - 1}<" in cut and f"c{PRINT_COLUMNS}<" not in cut
    assert f"Showing the first {PRINT_COLUMNS} of {PRINT_COLUMNS + 4} columns; full detail in Excel" in cut


def test_css_string_cannot_end_the_footer_or_the_style_block() -> None:
    quoted = css_string(HOSTILE)
    inner = quoted[1:-1]
    assert quoted.startswith('"') and quoted.endswith('"')
    for bad in ('"', "<", ">", "\n", "\\ "):
        assert bad not in inner
    assert "\\00003c" in inner  # "<" hex-escaped


def _page(tmp_path: Path, body: str) -> Path:
    from plotly.offline import get_plotlyjs

    page = (
        '<!DOCTYPE html><html><head><style type="text/css">.x{}</style></head><body><header class="mi-header">nav'
        f'</header><main><script type="text/javascript">{get_plotlyjs()}</script>{body}</main>'
        '<footer class="mi-footer">run</footer></body></html>'
    )
    path = tmp_path / "html" / "01_aging.html"
    path.parent.mkdir(exist_ok=True)
    path.write_text(share_plotlyjs(page), encoding="utf-8")
    return path


def _cover(company: str = HOSTILE) -> Cover:
    tile: fmt.Tile = {"label": "AR <total>", "value": "USD 1,234.50", "change": "+1.00", "good": False}
    changes = ["Customer <i>Acme</i> past due +USD 1.2k."]
    return Cover(
        company, "2026-10", "2026-10-31", [tile], ["Sentence <b>one</b>."], "passed (3 checks)", "run x", changes
    )


def test_the_print_document_escapes_every_text_and_loads_plotly_once(tmp_path: Path) -> None:
    page = _page(tmp_path, "<h1>Receivables aging</h1>" + _table(4))
    assert "plotly.js v" not in page.read_text(encoding="utf-8")  # the page itself shares html/plotly.min.js
    document = print_document(_cover(), [PdfSection("Receivables <aging>", page)], PLOTLY_ASSET)
    assert document.count("<script src=") == 1 and f'<script src="{PLOTLY_ASSET}">' in document
    assert "<script>alert(1)</script>" not in document and "</style><script>" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document  # the cover's brand line, as text
    assert "AR &lt;total&gt;" in document and "Sentence &lt;b&gt;one&lt;/b&gt;." in document
    assert "<h3>What changed</h3>" in document and "Customer &lt;i&gt;Acme&lt;/i&gt; past due" in document
    assert "Receivables &lt;aging&gt;" in document  # the contents
    assert "<h1>Receivables aging</h1>" in document and ">nav</header>" not in document  # main only, no nav
    assert re.search(r'@bottom-right \{ content: "Page " counter\(page\) " of " counter\(pages\)', document)
    assert "as of 2026-10-31" in document and "size: A4 landscape" in document


def _tiles(headlines: int, extras: int) -> list[fmt.Tile]:
    """``headlines`` headline tiles (every third with a target), then ``extras`` tiles shown for their target."""
    tiles: list[fmt.Tile] = []
    for number in range(headlines + extras):
        tile: fmt.Tile = {"label": f"KPI {number}", "value": f"{number}.0 days", "headline": number < headlines}
        if number >= headlines or number % 3 == 0:
            tile |= {"rag": "amber", "status": "△ Watch", "target": f"target {number}.5 days"}
        tile |= {"change": "+1.0 days vs previous month-end", "good": False, "trend": [1.0, 3.0, 2.0, 4.0]}
        tiles.append(tile)
    return tiles


def test_the_cover_keeps_its_headlines_and_lists_every_target_on_a_scorecard_when_the_tiles_do_not_fit() -> None:
    few = _tiles(10, COVER_TILES - 10)
    assert cover_layout(few) == (few, [])  # all on the cover, no scorecard
    many = _tiles(14, 9)
    shown, scorecard = cover_layout(many)
    # every headline, then the first extras in pack order up to the cover's room
    assert [t["label"] for t in shown] == [f"KPI {n}" for n in range(COVER_TILES)]
    assert [t["label"] for t in scorecard] == [t["label"] for t in many if t.get("target")]  # every target, once
    assert len(scorecard) == 5 + 9  # KPI 0, 3, 6, 9, 12 and the nine extras
    crowded = _tiles(COVER_TILES + 2, 3)  # more headlines than room: headlines are never dropped for extras
    shown, _ = cover_layout(crowded)
    assert [t["label"] for t in shown] == [f"KPI {n}" for n in range(COVER_TILES + 2)]
    hostile: fmt.Tile = {"label": HOSTILE, "value": "<b>1</b>", "rag": "red", "status": "■ Off target", "target": "t"}
    page = scorecard_html([hostile])
    assert "<script>" not in page and "&lt;b&gt;1&lt;/b&gt;" in page and "mi-rag-red" in page


def test_without_chromium_no_pdf_and_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = _page(tmp_path, "<p>x</p>")
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "no-such-browser"))
    assert find_chromium() is None
    outcome = write_pdf(tmp_path, _cover("Demo Co"), [PdfSection("Aging", page)])
    assert outcome.path is None and "no headless Chromium" in str(outcome.warning)
    assert not (tmp_path / "pack.pdf").exists() and not list((tmp_path / "html").glob(".*"))


@pytest.mark.skipif(not find_chromium(), reason="no chromium (make installs Debian's chromium)")
def test_a_pdf_with_a_cover_and_a_page_per_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    page = _page(tmp_path, "<h1>Aging</h1>" + _table(PRINT_COLUMNS + 2, rows=5))
    other = page.with_name("02_dso.html")
    shutil.copy(page, other)
    outcome = write_pdf(tmp_path, _cover("Demo Co"), [PdfSection("Aging", page), PdfSection("DSO", other)])
    assert outcome.warning is None and outcome.path == tmp_path / "pack.pdf"
    pdf = outcome.path.read_bytes()
    assert pdf.startswith(b"%PDF") and outcome.pages == pdf_pages(pdf) == 3  # cover + one page per section
    assert not list((tmp_path / "html").glob(".*"))  # the print document is gone


def _page_texts(pdf: Path) -> list[str]:
    from pypdf import PdfReader

    return [unicodedata.normalize("NFKC", page.extract_text()) for page in PdfReader(pdf).pages]


@pytest.mark.skipif(not find_chromium(), reason="no chromium (make installs Debian's chromium)")
def test_a_crowded_cover_still_fits_one_page_and_the_scorecard_follows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Targets on many KPIs (the cover's room taken, the rest on the scorecard) and long "What changed" lines: the
    cover is still page 1 alone — its contents line and run line on it — and the scorecard starts page 2."""
    monkeypatch.delenv(CHROMIUM_ENV, raising=False)
    page = _page(tmp_path, "<h1>Aging</h1>" + _table(4, rows=3))
    long_name = "Very Long Customer Name Holdings International Limited Partnership " * 2
    changes = [f"Customers whose past due moved most: {long_name} +USD 1.2m (DSO 50.0 → 61.0 days)."] * 6
    tiles = _tiles(14, 12)
    cover = Cover(
        "Demo Co",
        "2026-10",
        "2026-10-31",
        tiles,
        ["A summary sentence of some length. " * 6] * 5,
        "passed (3 checks)",
        "collections_mi run line",
        changes,
    )
    outcome = write_pdf(tmp_path, cover, [PdfSection("Aging", page)])
    assert outcome.path is not None, outcome.warning
    texts = _page_texts(outcome.path)
    assert "Contents Scorecard (next page) · 1. Aging" in texts[0] and "collections_mi run line" in texts[0]
    assert "10 more KPIs with a target are on the scorecard (next page)." in texts[0]
    assert "Scorecard: the 17 KPIs with a target" in texts[1] and "Contents" not in texts[1]
    assert "KPI 25" in texts[1] + texts[2] and "KPI 25" not in texts[0]


@pytest.mark.slow
def test_a_pack_without_chromium_is_published_without_pdf_and_says_so_once(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    shutil.copytree(ROOT / "tests" / "fixtures" / "tiny_ledger", ledger)
    params = write_params(tmp_path, ledger)
    # one section is enough: what is looked at is the PDF and the email's charts, which every pack has
    run = cli(
        "pack", "--params", str(params), "--out", str(tmp_path / "reports"), "--only", "aging", env={CHROMIUM_ENV: ""}
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "reports" / "2026-10"
    assert not (folder / "pack.pdf").exists() and (folder / "email.eml").is_file()
    assert (run.stdout + run.stderr).count("pack.pdf left out: no headless Chromium") == 1  # the progress lines
    manifest = json.loads((folder / "run.json").read_text())
    assert manifest["pdf"]["file"] is None and "no headless Chromium" in manifest["pdf"]["left_out"]
    assert sum("pack.pdf left out" in w for w in manifest["warnings"]) == 1
    # the same setting governs the email's charts (Kaleido drives the same Chromium): left out, said once
    assert (run.stdout + run.stderr).count("email charts omitted: no headless Chromium") == 1
    assert sum("email charts omitted" in w for w in manifest["warnings"]) == 1
    assert "Content-Type: image/png" not in (folder / "email.eml").read_text(encoding="utf-8", errors="replace")
    assert "No pack.pdf this month" in (folder / "email.eml").read_text(encoding="utf-8", errors="replace")
    assert os.path.getsize(folder / "email.eml") <= 2_000_000
    # a run of some sections is not the month-end's snapshot: the history is left as it was, and that is said
    assert not (tmp_path / "reports" / "history").exists()
    assert "history not updated: a run with --only is not a complete month-end snapshot" in run.stdout + run.stderr
