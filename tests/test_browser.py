"""The published pack in a real headless browser (Playwright driving Debian's chromium, offline): every page loads
without console errors, every plotly chart renders, and screenshots are saved beside the run."""

from __future__ import annotations

import os
import shutil
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


def test_every_page_renders_offline_without_console_errors(published) -> None:
    from playwright.sync_api import sync_playwright

    _, out, _ = published
    folder = out / "2026-10"
    pages = [folder / "index.html", *sorted((folder / "html").glob("*.html"))]
    shots = folder / "screenshots"
    shots.mkdir(exist_ok=True)
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
            assert problems == [], f"{path.name}: {problems}"
            page.screenshot(path=str(shots / f"{path.stem}.png"), full_page=True)
            page.close()
        browser.close()
    assert len(list(shots.glob("*.png"))) == len(pages)
