"""The published pack in a real headless browser (Playwright driving Debian's chromium, offline): every page loads
without console errors, every plotly chart renders — from the report folder and from an unzipped copy of it, with
the one plotly.js the pages share — and screenshots are saved beside the run. The same pack's pack.pdf and email:
a PDF with a cover and every section (its pages rendered to PNG beside the run when poppler is installed), and an
email of at most 2 MB carrying it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from email import policy
from email.parser import BytesParser
from io import BytesIO
from pathlib import Path

import pytest

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
    assert len(pages) == 5
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
    try:
        from pypdf import PdfReader

        pages = len(PdfReader(BytesIO(pdf)).pages)
    except ImportError:
        from collections_mi.outputs.pdf import pdf_pages

        pages = pdf_pages(pdf)
    assert pages >= len(manifest["sections"]) + 1  # a cover, then every section from a new page
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
