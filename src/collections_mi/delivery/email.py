"""The leadership email: subject with the period, an inline-CSS HTML body with the headline KPIs (renders in mail
clients without <style> support), static PNG charts as inline images, a plain-text alternative and the board pack,
``pack.pdf``, attached. Every text that comes from data is escaped in the HTML body; headers hold only the params'
validated text (company, sender, recipients) and numbers, never a customer's name, and never a line break.

The whole message is at most :data:`EMAIL_LIMIT_BYTES` (2 MB, data contract v1.1 § 4), as written and sent. The
interactive HTML pack goes along as a zip only while the message stays within it; otherwise the body says where it
is in the report folder. Should the message still be too big, parts are left out in this order, each named in the
body: the HTML zip, then ``pack.pdf``, then the inline charts (the last first).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import io
import os
import shutil
import signal
import subprocess
import threading
import time
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from collections_mi.config.addresses import checked_addresses
from collections_mi.config.params import Params, ReportConfig
from collections_mi.core.errors import first_line
from collections_mi.core.interrupts import raise_if_stopped, stop_requested
from collections_mi.core.printable import character_problem
from collections_mi.metrics.published import AgingResult, AllowanceResult, DsoResult
from collections_mi.metrics.result import SectionResult, Unavailable
from collections_mi.outputs.pdf import NO_CHROMIUM_FIX, find_chromium
from collections_mi.presentation import charts, headlines, what_changed
from collections_mi.presentation import format as fmt
from collections_mi.presentation.targets import RAG_BACKGROUNDS, RAG_COLOURS, RAG_RULE

#: the largest email written (bytes as sent: attachments base64-encoded, CRLF line ends)
EMAIL_LIMIT_BYTES = 2_000_000
PDF_NAME = "pack.pdf"

#: inline styles only: many mail clients drop <style> blocks
FONT = "font-family:Segoe UI,Helvetica,Arial,sans-serif;"
CELL = "padding:6px 10px;border-bottom:1px solid #d9e2ec;"
NUMBER = CELL + "text-align:right;white-space:nowrap;"


@dataclass(frozen=True)
class KpiLine:
    label: str
    value: str
    change: str | None = None
    good: bool | None = None
    #: against report.targets: "green" / "amber" / "red", "▲ At risk", "target 45.0 days"
    rag: str | None = None
    status: str | None = None
    target: str | None = None

    @property
    def standing(self) -> str:
        """ "▲ At risk · target 45.0 days" (or the target alone when the KPI is not available); "" without one."""
        return " · ".join(part for part in (self.status, self.target) if part)


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    figure: go.Figure


def kpi_lines(
    results: Mapping[str, SectionResult[Any, Any]], currency: str, report: ReportConfig | None = None
) -> list[KpiLine]:
    """The headline KPIs of every section present (presentation/headlines.py), with their month-on-month change
    where known and, for a KPI with a target in ``report``, its RAG status and target."""
    return [
        KpiLine(
            tile["label"],
            tile["value"],
            tile.get("change"),
            tile.get("good"),
            tile.get("rag"),
            tile.get("status"),
            tile.get("target"),
        )
        for tile in headlines.email_tiles(results, currency, report)
    ]


def email_charts(results: Mapping[str, SectionResult[Any, Any]], params: Params) -> list[Chart]:
    """The 3–4 charts leadership looks at first."""
    currency = params.reporting_currency
    found = []
    if "aging" in results:
        aging: AgingResult = results["aging"]
        found.append(
            Chart("aging", "Open receivables by age", charts.aging_buckets_bar(aging.tables.buckets, currency))
        )
        found.append(
            Chart(
                "aging_trend",
                "Receivables by age, month-end trend",
                charts.trend_stacked_area(aging.tables.trend, params.aging.labels, currency),
            )
        )
    if "dso" in results:
        dso: DsoResult = results["dso"]
        trend = dso.tables.trend.tail(params.report.trend_months)
        found.append(
            Chart(
                "dso_trend",
                "DSO family by month-end",
                charts.kpi_trend(
                    trend,
                    ["dso", "bpdso", "add"],
                    ["DSO", "Best possible DSO", "Average days delinquent"],
                    "DSO by month-end",
                ),
            )
        )
    if "allowance" in results:
        allowance: AllowanceResult = results["allowance"]
        rollforward = allowance.tables.rollforward
        if not isinstance(rollforward, Unavailable):
            found.append(
                Chart(
                    "allowance",
                    "Allowance rollforward",
                    charts.waterfall(rollforward, currency, "Allowance rollforward"),
                )
            )
    return found


#: how many times the charts are drawn before the email goes without them
CHART_ATTEMPTS = 2


#: seconds the email's charts may take in all (the browser's start included) before the email goes without them
CHART_SECONDS = 120


def render_pngs(figures: Sequence[Chart], chromium: str, width: int = 640, height: int = 360) -> dict[str, bytes]:
    """Static PNGs through Kaleido, driving the headless Chromium at ``chromium`` (the one that prints pack.pdf): one
    browser for all charts, on an event loop of a thread of its own.

    Not Kaleido's "sync server" (``kaleido.start_sync_server`` + ``plotly.io.to_image``): when its browser fails to
    start, the server's thread dies and every later ``to_image`` waits on its queue for ever — a pack hung, beside
    its notebooks, on a machine where Chromium could not start (seen with a long $TMPDIR). Here a browser that
    cannot start, or charts that take longer than :data:`CHART_SECONDS`, raise; so does a stop asked for
    (``KeyboardInterrupt``, within 0.2 s)."""
    import asyncio

    import kaleido  # with plotly.io 0.1 s, and it drives a browser: only when charts are drawn

    async def draw() -> dict[str, bytes]:
        images: dict[str, bytes] = {}
        browser = kaleido.Kaleido(path=chromium)
        try:
            await browser.open()
        except BaseException:
            _abandon(browser)
            raise
        try:
            for chart in figures:
                figure = go.Figure(chart.figure)
                figure.update_layout(width=width, height=height, margin=dict(l=50, r=20, t=50, b=60))
                options = {"format": "png", "width": width, "height": height, "scale": 2}
                images[chart.name] = await browser.calc_fig(figure.to_dict(), opts=options)
        finally:
            await browser.close()
        return images

    async def draw_unless_stopped() -> dict[str, bytes]:
        # the pack draws the charts in a thread beside its notebooks, which Ctrl-C does not interrupt: a stop asked
        # for closes the browser within 0.2 s instead of letting the pack wait for the charts
        drawing = asyncio.ensure_future(asyncio.wait_for(draw(), CHART_SECONDS))
        while not drawing.done():
            await asyncio.wait({drawing}, timeout=0.2)
            if stop_requested() and not drawing.done():
                drawing.cancel()
                await asyncio.gather(drawing, return_exceptions=True)  # Kaleido closes its browser
                raise _ChartsStopped  # a plain exception inside the loop: KeyboardInterrupt is raised outside it
        return drawing.result()

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                outcome["images"] = asyncio.run(draw_unless_stopped())
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    # a thread of its own: the caller may be inside a running event loop (a notebook), where asyncio.run refuses
    thread = threading.Thread(target=run, name="email-charts", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        error = outcome["error"]
        if isinstance(error, _ChartsStopped):
            raise_if_stopped()
        if isinstance(error, TimeoutError):
            raise RuntimeError(f"timed out (the charts may take {CHART_SECONDS} s in all)")
        raise error
    return dict(outcome["images"])


class _ChartsStopped(Exception):
    """The email's charts ended because a stop was asked for (:func:`render_pngs` raises KeyboardInterrupt)."""


def _abandon(browser: Any) -> None:
    """End a browser that failed, timed out or was stopped while it started, which choreographer (under Kaleido) then
    leaves running: its process, Chromium's own folder in $TMPDIR (:func:`_remove_singleton_folder`), and the
    temporary profile and page folders of choreographer and Kaleido."""
    process = getattr(browser, "subprocess", None)
    if process is not None:
        _end(process)
    _remove_singleton_folder(browser)
    for part in (getattr(browser, "_browser_impl", None), getattr(browser, "_html_tmp_dir", None)):
        if part is not None:
            with contextlib.suppress(Exception):  # best effort: private parts of choreographer and Kaleido
                part.clean()


def _end(process: subprocess.Popen[Any]) -> None:
    """End Chromium started under choreographer's wrapper ``process``, in a process group of its own: asked first
    (SIGTERM to the group; it then removes what it can of its own), killed (SIGKILL) if still there after 5 s.
    Without process groups (Windows) the wrapper is terminated."""
    if os.name != "posix":
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        return
    for ending in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, ending)
        try:
            process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def _remove_singleton_folder(browser: Any) -> None:
    """Remove the ``org.chromium.Chromium.*`` folder a Chromium stopped while starting leaves in $TMPDIR: found through
    the ``SingletonSocket`` link in its profile (choreographer's temporary ``--user-data-dir``), so it is this
    browser's and never another's."""
    with contextlib.suppress(Exception):  # best effort: private parts of choreographer
        profile = Path(browser._browser_impl.tmp_dir.path)
        target = Path(os.readlink(profile / "SingletonSocket")).parent
        if target.name.startswith("org.chromium.Chromium."):
            shutil.rmtree(target, ignore_errors=True)


def zip_pack(folder: Path) -> bytes:
    """index.html and html/ (the pages and the plotly.js they share) as a zip that opens offline once unzipped."""
    buffer = io.BytesIO()
    shown = [p for p in sorted((folder / "html").iterdir()) if p.is_file() and not p.name.startswith(".")]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in [folder / "index.html", *shown]:
            info = zipfile.ZipInfo(str(path.relative_to(folder)), date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _standing_html(line: KpiLine) -> str:
    """The RAG badge of a KPI line and its target, inline-styled: colour, icon and word (reads in greyscale too)."""
    if not line.status:
        return html.escape(line.standing)
    rag = line.rag or "amber"
    return (
        f'<span style="color:{RAG_COLOURS[rag]};background:{RAG_BACKGROUNDS[rag]};font-weight:600;'
        f'padding:1px 6px;border-radius:4px;white-space:nowrap;">{html.escape(line.status)}</span>'
        + (f' <span style="color:#616e7c;white-space:nowrap;">{html.escape(line.target)}</span>' if line.target else "")
    )


def _kpi_rows_html(lines: Sequence[KpiLine]) -> str:
    """Two columns, so that a phone shows them without wrapping word by word: the KPI's name, then its value with
    its status and target, and its change, on small lines beneath."""
    rows = []
    for line in lines:
        colour = {True: "#2e7d32", False: "#c62828", None: "#616e7c"}[line.good]
        details = []
        standing = _standing_html(line)
        if standing:
            details.append(f'<div style="font-size:12px;margin-top:2px;">{standing}</div>')
        if line.change:
            details.append(f'<div style="font-size:12px;color:{colour};">{html.escape(line.change)}</div>')
        rows.append(
            f'<tr><td style="{CELL}">{html.escape(line.label)}</td>'
            f'<td style="{NUMBER}"><span style="font-weight:600;">{html.escape(line.value)}</span>'
            f"{''.join(details)}</td></tr>"
        )
    return "".join(rows)


def html_body(
    params: Params,
    lines: Sequence[KpiLine],
    sentences: Sequence[str],
    images: Mapping[str, str],
    titles: Mapping[str, str],
    validation: str,
    delivery: Sequence[str] = (),
    changes: Sequence[str] = (),
) -> str:
    """``delivery``: the lines saying what is attached, where the rest of the pack is and what was left out."""
    brand = html.escape(fmt.brand(params.report.company, params.period))
    figures = "".join(
        f'<p style="margin:18px 0 4px;{FONT}font-weight:600;">{html.escape(titles[name])}</p>'
        f'<img src="cid:{cid[1:-1]}" width="640" style="max-width:100%;height:auto;border:1px solid #d9e2ec;" '
        f'alt="{html.escape(titles[name])}">'
        for name, cid in images.items()
    )
    bullet_items = "".join(f'<li style="margin:4px 0;">{html.escape(s)}</li>' for s in sentences)
    notes = "".join(f'<p style="margin:12px 0 0;color:#616e7c;font-size:12px;">{html.escape(n)}</p>' for n in delivery)
    changed = ""
    if changes:
        changed = (
            '<p style="margin:14px 0 4px;font-weight:600;">What changed since the previous month-end</p>'
            '<ul style="margin:0 0 12px;padding-left:18px;">'
            + "".join(f'<li style="margin:4px 0;">{html.escape(s)}</li>' for s in changes)
            + "</ul>"
        )
    rag_note = (
        f'<p style="margin:6px 0 0;color:#616e7c;font-size:12px;">{html.escape(RAG_RULE)}</p>'
        if any(line.target for line in lines)
        else ""
    )
    return (
        f'<!DOCTYPE html><html><body style="margin:0;padding:0;background:#f5f7fa;">'
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f5f7fa;">'
        f'<tr><td align="center" style="padding:16px;">'
        f'<table role="presentation" width="680" cellpadding="0" cellspacing="0" '
        f'style="max-width:680px;width:100%;background:#ffffff;{FONT}color:#1f2933;">'
        f'<tr><td style="background:#0d2a4a;color:#ffffff;padding:14px 18px;font-size:18px;font-weight:700;">'
        f"{brand}</td></tr>"
        f'<tr><td style="padding:14px 18px;font-size:14px;">'
        f'<p style="margin:0 0 10px;">Month-end collections pack as of {html.escape(str(params.as_of))}.</p>'
        f'<ul style="margin:0 0 12px;padding-left:18px;">{bullet_items}</ul>'
        f'<table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;font-size:14px;">'
        f"{_kpi_rows_html(lines)}</table>{rag_note}{changed}{figures}"
        f'{notes}<p style="margin:12px 0 0;color:#616e7c;font-size:12px;">Validation: {html.escape(validation)}.</p>'
        f"</td></tr></table></td></tr></table></body></html>"
    )


def text_body(
    params: Params,
    lines: Sequence[KpiLine],
    sentences: Sequence[str],
    validation: str,
    delivery: Sequence[str] = (),
    changes: Sequence[str] = (),
) -> str:
    width = max((len(line.label) for line in lines), default=10)
    rows = [
        f"{line.label.ljust(width)}  {line.value}"
        + (f"  [{line.standing}]" if line.standing else "")
        + (f"  ({line.change})" if line.change else "")
        for line in lines
    ]
    return (
        "\n".join(
            [
                f"{fmt.brand(params.report.company, params.period)} (as of {params.as_of})",
                "",
                *[f"- {s}" for s in sentences],
                "",
                *rows,
                *(["", RAG_RULE] if any(line.target for line in lines) else []),
                "",
                *(["What changed since the previous month-end:", *[f"- {c}" for c in changes], ""] if changes else []),
                *delivery,
                f"Validation: {validation}.",
            ]
        )
        + "\n"
    )


#: the longest subject written (RFC 5322 advises lines of at most 78 characters; a header may be folded, but a
#: subject this long is cut rather than sent)
SUBJECT_LIMIT = 300


def header_text(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """``text`` as one header line: every line break, tab or control character becomes a space (runs of spaces
    collapse), at most ``limit`` characters. Params are validated at load; this keeps a header one line whatever
    a caller passes (``email.message`` refuses CR/LF in a header with an exception)."""
    flat = "".join(" " if character_problem(char) is not None else char for char in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def subject(params: Params, results: Mapping[str, SectionResult[Any, Any]]) -> str:
    """ "Acme Ltd · Collections MI · 2026-10 · AR $1.2m · DSO 41.3 days": the company (params), the period and
    numbers; one line."""
    parts = [fmt.brand(params.report.company, params.period)]
    if "aging" in results:
        aging: AgingResult = results["aging"]
        parts.append(f"AR {fmt.money_short(aging.kpis.ar_total, params.reporting_currency)}")
    if "dso" in results:
        dso: DsoResult = results["dso"]
        if dso.kpis.dso is not None:
            parts.append(f"DSO {fmt.decimal_places(dso.kpis.dso, 1)} days")
    return header_text(" · ".join(parts))


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def delivery_lines(
    period: str,
    *,
    pdf_size: int | None,
    attach_pdf: bool,
    zip_name: str | None,
    left_out: Sequence[str],
    limit: int = EMAIL_LIMIT_BYTES,
) -> list[str]:
    """What the email carries and where the rest is: the PDF, the interactive pack (attached as ``zip_name``, or
    its place in the report folder, relative to it) and what was left out to stay within ``limit``."""
    lines = []
    if attach_pdf and pdf_size is not None:
        lines.append(f"The board pack is attached: {PDF_NAME} ({megabytes(pdf_size)}, A4 landscape, printable).")
    elif pdf_size is None:
        lines.append(f"No {PDF_NAME} this month: it could not be printed (the warnings in run.json say why).")
    if zip_name:
        lines.append(f"The interactive pack is attached as {zip_name}: unzip it and open index.html.")
    else:
        lines.append(f"The interactive pack (charts to hover and zoom) is in the report folder: {period}/index.html.")
    if left_out:
        lines.append(
            f"Left out to keep this email under {megabytes(limit)}: {'; '.join(left_out)}. "
            f"Everything is in the report folder {period}/."
        )
    return lines


def build_email(
    folder: Path,
    results: Mapping[str, SectionResult[Any, Any]],
    params: Params,
    *,
    validation: str,
    images: Mapping[str, bytes],
    titles: Mapping[str, str],
    sender: str = "collections-mi@localhost",
    recipients: Sequence[str] = (),
    now: dt.datetime | None = None,
    limit: int = EMAIL_LIMIT_BYTES,
    notes: Sequence[str] = (),
    place: str | None = None,
) -> EmailMessage:
    """The email for the pack in ``folder``, at most ``limit`` bytes as written: with ``folder/pack.pdf`` attached
    when there is one, the HTML pack zipped while it fits, and — only if the message is still too big — without
    the PDF, then without charts (the last first), each named in the body. ``notes``: sentences heading the summary
    (an audience's scope: whose ledger, what it leaves out). ``place``: where the pack is in the report folder, as
    the body names it ("2026-10", the default; an audience's "2026-10/audiences/emea")."""
    place = place or params.period
    headers = {
        "Subject": subject(params, results),
        "From": checked_addresses([sender], "email.sender")[0],
        "To": ", ".join(checked_addresses(recipients, "email.recipients")) if recipients else None,
        "Date": format_datetime(now or dt.datetime.now(dt.UTC)),
        "Message-ID": make_msgid(domain="collections-mi.local"),
    }
    currency = params.reporting_currency
    lines = kpi_lines(results, currency, params.report)
    sentences = [*notes, *headlines.summary_sentences(results, currency)]
    changes = what_changed.what_changed(results, currency)
    cids = {name: make_msgid(domain="collections-mi.local") for name in images}
    pdf = (folder / PDF_NAME).read_bytes() if (folder / PDF_NAME).is_file() else None
    html_zip = zip_pack(folder)
    zip_name = f"collections-pack-{params.period}.zip"
    attach_zip, attach_pdf, charts = True, pdf is not None, list(images)
    left_out: list[str] = []
    while True:
        delivery = delivery_lines(
            place,
            pdf_size=None if pdf is None else len(pdf),
            attach_pdf=attach_pdf,
            zip_name=zip_name if attach_zip else None,
            left_out=left_out,
            limit=limit,
        )
        message = EmailMessage(policy=SMTP)
        for name, value in headers.items():
            if value is not None:
                message[name] = value
        message.set_content(text_body(params, lines, sentences, validation, delivery, changes))
        shown = {name: cids[name] for name in charts}
        message.add_alternative(
            html_body(params, lines, sentences, shown, titles, validation, delivery, changes), subtype="html"
        )
        html_part = list(message.iter_parts())[1]  # the alternative just added: text, then html
        for name in charts:
            html_part.add_related(
                images[name],
                maintype="image",
                subtype="png",
                cid=cids[name],
                filename=f"{name}.png",
                disposition="inline",
            )
        if attach_pdf and pdf is not None:
            message.add_attachment(pdf, maintype="application", subtype="pdf", filename=PDF_NAME)
        if attach_zip:
            message.add_attachment(html_zip, maintype="application", subtype="zip", filename=zip_name)
        size = len(bytes(message))
        if size <= limit:
            return message
        if attach_zip:  # not "left out": the body says where the interactive pack is
            attach_zip = False
        elif attach_pdf and pdf is not None:
            attach_pdf = False
            left_out.append(f"{PDF_NAME} ({megabytes(len(pdf))}; in the report folder as {place}/{PDF_NAME})")
        elif charts:
            left_out.append(f"the chart “{titles.get(charts[-1], charts[-1])}”")
            charts.pop()
        else:
            raise RuntimeError(f"the email without attachments is {megabytes(size)}, over {megabytes(limit)}")


@dataclass(frozen=True)
class EmailCharts:
    """The email's charts drawn as PNGs (chart name → bytes; none when they could not be drawn), their titles, and
    the warnings saying why charts were left out."""

    images: Mapping[str, bytes]
    titles: Mapping[str, str]
    warnings: tuple[str, ...] = ()


def draw_email_charts(results: Mapping[str, SectionResult[Any, Any]], params: Params) -> EmailCharts:
    """The charts the email shows (:func:`email_charts`) as PNGs, through the headless Chromium that prints the PDF.
    They need only the results, so the pack draws them beside its notebooks."""
    chosen = email_charts(results, params)
    titles = {c.name: c.title for c in chosen}
    chromium = find_chromium()
    if chromium is None:
        return EmailCharts(
            {}, titles, (f"email charts omitted: no headless Chromium for static images ({NO_CHROMIUM_FIX})",)
        )
    failure = ""
    for attempt in range(CHART_ATTEMPTS):
        try:
            return EmailCharts(render_pngs(chosen, chromium), titles)
        except Exception as exc:  # kaleido raises several types when the browser cannot be started
            failure = first_line(exc)
            if attempt + 1 < CHART_ATTEMPTS:  # a browser that starts too slowly on a busy machine: once more
                time.sleep(1)
    warning = (
        f"email charts omitted: the headless Chromium {chromium} could not draw them ({failure}); {NO_CHROMIUM_FIX}"
    )
    return EmailCharts({}, titles, (warning,))


def write_email(
    folder: Path,
    results: Mapping[str, SectionResult[Any, Any]],
    params: Params,
    validation: str,
    progress: Any = None,
    notes: Sequence[str] = (),
    place: str | None = None,
    charts: EmailCharts | None = None,
) -> list[str]:
    """Write ``folder/email.eml`` (``place``: as :func:`build_email`); returns warnings (e.g. charts omitted because
    no headless browser was found). ``charts``: already drawn (:func:`draw_email_charts`), else drawn now."""
    charts = draw_email_charts(results, params) if charts is None else charts
    message = build_email(
        folder,
        results,
        params,
        validation=validation,
        images=charts.images,
        titles=charts.titles,
        sender=params.email.sender,
        recipients=params.email.recipients,
        notes=notes,
        place=place,
    )
    (folder / "email.eml").write_bytes(bytes(message))
    return list(charts.warnings)
