"""The published pack in a real headless browser (Playwright driving Debian's chromium, offline): every page loads
without console errors, every plotly chart renders — from the report folder and from an unzipped copy of it, with
the one plotly.js the pages share — and screenshots are saved beside the run. The same pack's pack.pdf and email:
a PDF with a cover and every section (its pages rendered to PNG beside the run when poppler is installed), and an
email of at most 2 MB carrying it."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import unicodedata
import zipfile
from email import policy
from email.parser import BytesParser
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from collections_mi.metrics.sections import SECTIONS

from conftest import demo_targets

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium for the browser tests: `make` installs it")
    pytest.skip("no chromium on this machine (make installs Debian's chromium)", allow_module_level=True)

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _render_offline(pages: list[Path], shots: Path | None = None) -> None:
    """Open each page from its file URL, offline; every chart drawn, no console error, no failed request."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        for path in pages:
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m, problems=problems: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e, problems=problems: problems.append(str(e)))
            page.on("requestfailed", lambda r, problems=problems: problems.append(f"request failed: {r.url}"))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            charts = page.evaluate("document.querySelectorAll('.plotly-graph-div').length")
            drawn = page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.plotly-graph-div'))"
                ".every(d => d.querySelector('.main-svg'))",
                timeout=20_000,
            )
            assert drawn, path.name
            if path.name != "index.html":
                assert charts >= 1, f"{path.name}: no chart"
                assert page.evaluate("typeof window.Plotly") == "object", f"{path.name}: plotly.js not loaded"
            assert problems == [], f"{path.name}: {problems}"
            if shots is not None:
                page.screenshot(path=str(shots / f"{path.stem}.png"), full_page=True)
            page.close()
        browser.close()


def test_every_page_renders_offline_without_console_errors(published) -> None:
    _, out, _ = published
    folder = out / "2026-10"
    pages = [folder / "index.html", *sorted((folder / "html").glob("*.html"))]
    shots = folder / "screenshots"
    shots.mkdir(exist_ok=True)
    _render_offline(pages, shots)
    assert len(list(shots.glob("*.png"))) == len(pages)


def test_pages_share_one_plotly_js_and_open_from_an_unzipped_copy(published, tmp_path: Path) -> None:
    from collections_mi.delivery.email import zip_pack
    from collections_mi.outputs.html import PLOTLY_ASSET, check_offline

    _, out, _ = published
    folder = out / "2026-10"
    pages = sorted((folder / "html").glob("*.html"))
    assert len(pages) == 6  # the six sections of the demo
    for page in pages:
        text = page.read_text(encoding="utf-8")
        check_offline(text, page.name)
        assert "plotly.js v" not in text and text.count(f'<script src="{PLOTLY_ASSET}"></script>') == 1
    assert (folder / "html" / PLOTLY_ASSET).stat().st_size > 1_000_000  # the one copy, from the plotly package
    total = sum(p.stat().st_size for p in (folder / "html").iterdir()) + (folder / "index.html").stat().st_size
    assert total < 15_000_000, f"the HTML pack is {total / 1e6:.1f} MB"
    zipfile.ZipFile(BytesIO(zip_pack(folder))).extractall(tmp_path / "unzipped")
    copy = tmp_path / "unzipped"
    # every page loads plotly.js by the same relative path: the index and the first section page prove the copy
    # opens (the previous test renders every page of the folder)
    _render_offline([copy / "index.html", sorted((copy / "html").glob("*.html"))[0]])


def test_the_pdf_has_a_cover_and_every_section_and_the_email_carries_it_under_2_mb(published) -> None:
    _, out, _ = published
    folder = out / "2026-10"
    manifest = json.loads((folder / "run.json").read_text())
    pdf = (folder / "pack.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"%%EOF" in pdf[-64:]
    texts = [unicodedata.normalize("NFKC", page.extract_text()) for page in PdfReader(BytesIO(pdf)).pages]
    pages = len(texts)
    assert pages >= len(manifest["sections"]) + 1  # a cover, then every section from a new page
    # the cover is page 1 alone — its contents and run line on it — and shows each target's status as the index does
    titles = [SECTIONS[name].title for name in manifest["sections"]]
    contents = " · ".join(f"{number}. {title}" for number, title in enumerate(titles, start=1))
    assert f"Contents {contents}" in texts[0] and f"run {manifest['run_id']}" in texts[0]
    assert texts[1].split("\n")[1] == titles[0]  # page 2 opens the first section (after the running head)
    index = (folder / "index.html").read_text(encoding="utf-8")
    badges = [
        html.unescape(b) for b in re.findall(r'<div class="mi-rag mi-rag-(?:green|amber|red)">([^<]+)</div>', index)
    ]
    assert len(badges) == len(demo_targets()) and "■ Off target · target 45.0 days" in badges
    for badge in badges:
        assert badge in texts[0], badge
    assert manifest["pdf"] == {"file": "pack.pdf", "pages": pages, "bytes": len(pdf)}
    assert "pdf" in manifest["timings_seconds"]
    raw = (folder / "email.eml").read_bytes()
    assert len(raw) <= 2_000_000, f"email.eml is {len(raw) / 1e6:.2f} MB"
    message = BytesParser(policy=policy.default).parsebytes(raw)
    attached = {p.get_filename(): p.get_content() for p in message.iter_attachments()}
    assert attached["pack.pdf"] == pdf
    assert len([p for p in message.walk() if p.get_content_type() == "image/png"]) >= 3
    if shutil.which("pdftoppm"):  # the pages as a reader sees them, beside the run (poppler-utils)
        shots = folder / "screenshots"
        shots.mkdir(exist_ok=True)
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(folder / "pack.pdf"), str(shots / "pdf")], check=True)
        assert len(list(shots.glob("pdf-*.png"))) == pages
