"""The leadership email: subject with the period, an inline-CSS HTML body with the headline KPIs (renders in mail
clients without <style> support), static PNG charts as inline images, a plain-text alternative and the HTML pack
attached as a zip. Every text that comes from data is escaped in the HTML body; headers hold only the params'
validated text (company, sender, recipients) and numbers, never a customer's name, and never a line break."""

from __future__ import annotations

import datetime as dt
import html
import io
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

from collections_mi.config.params import Params, checked_addresses
from collections_mi.core.errors import first_line
from collections_mi.core.printable import character_problem
from collections_mi.metrics.published import AgingResult, AllowanceResult, DsoResult
from collections_mi.metrics.result import SectionResult, Unavailable
from collections_mi.presentation import charts, headlines
from collections_mi.presentation import format as fmt

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


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    figure: go.Figure


def kpi_lines(results: Mapping[str, SectionResult[Any, Any]], currency: str) -> list[KpiLine]:
    """The headline KPIs of every section present (presentation/headlines.py), with their month-on-month change
    where known."""
    return [
        KpiLine(tile["label"], tile["value"], tile.get("change"), tile.get("good"))
        for tile in headlines.email_tiles(results, currency)
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


def render_pngs(figures: Sequence[Chart], width: int = 640, height: int = 360) -> dict[str, bytes]:
    """Static PNGs through Kaleido and a headless Chromium (Debian's `chromium`); {} when none is available."""
    import kaleido  # with plotly.io 0.1 s, and it drives a browser: only when charts are drawn
    import plotly.io as pio

    images: dict[str, bytes] = {}
    kaleido.start_sync_server(silence_warnings=True)  # one browser for all charts (uses chromium on PATH)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for chart in figures:
                figure = go.Figure(chart.figure)
                figure.update_layout(width=width, height=height, margin=dict(l=50, r=20, t=50, b=60))
                images[chart.name] = pio.to_image(figure, format="png", width=width, height=height, scale=2)
    finally:
        kaleido.stop_sync_server(silence_warnings=True)
    return images


def zip_pack(folder: Path) -> bytes:
    """index.html and html/*.html as a zip (the pages are self-contained, so the zip opens offline)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in [folder / "index.html", *sorted((folder / "html").glob("*.html"))]:
            info = zipfile.ZipInfo(str(path.relative_to(folder)), date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _kpi_rows_html(lines: Sequence[KpiLine]) -> str:
    rows = []
    for line in lines:
        colour = {True: "#2e7d32", False: "#c62828", None: "#616e7c"}[line.good]
        change = html.escape(line.change) if line.change else ""
        rows.append(
            f'<tr><td style="{CELL}">{html.escape(line.label)}</td>'
            f'<td style="{NUMBER}font-weight:600;">{html.escape(line.value)}</td>'
            f'<td style="{CELL}color:{colour};font-size:12px;">{change}</td></tr>'
        )
    return "".join(rows)


def html_body(
    params: Params,
    lines: Sequence[KpiLine],
    sentences: Sequence[str],
    images: Mapping[str, str],
    titles: Mapping[str, str],
    validation: str,
) -> str:
    brand = html.escape(fmt.brand(params.report.company, params.period))
    period = html.escape(params.period)
    figures = "".join(
        f'<p style="margin:18px 0 4px;{FONT}font-weight:600;">{html.escape(titles[name])}</p>'
        f'<img src="cid:{cid[1:-1]}" width="640" style="max-width:100%;height:auto;border:1px solid #d9e2ec;" '
        f'alt="{html.escape(titles[name])}">'
        for name, cid in images.items()
    )
    bullet_items = "".join(f'<li style="margin:4px 0;">{html.escape(s)}</li>' for s in sentences)
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
        f"{_kpi_rows_html(lines)}</table>{figures}"
        f'<p style="margin:18px 0 0;color:#616e7c;font-size:12px;">The full pack is attached '
        f"(collections-pack-{period}.zip; open index.html). Validation: {html.escape(validation)}.</p>"
        f"</td></tr></table></td></tr></table></body></html>"
    )


def text_body(params: Params, lines: Sequence[KpiLine], sentences: Sequence[str], validation: str) -> str:
    width = max((len(line.label) for line in lines), default=10)
    rows = [
        f"{line.label.ljust(width)}  {line.value}" + (f"  ({line.change})" if line.change else "") for line in lines
    ]
    return (
        "\n".join(
            [
                f"{fmt.brand(params.report.company, params.period)} (as of {params.as_of})",
                "",
                *[f"- {s}" for s in sentences],
                "",
                *rows,
                "",
                f"The full pack is attached (collections-pack-{params.period}.zip; open index.html).",
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
        parts.append(f"AR {fmt.money(aging.kpis.ar_total, params.reporting_currency, symbol=True)}")
    if "dso" in results:
        dso: DsoResult = results["dso"]
        if dso.kpis.dso is not None:
            parts.append(f"DSO {fmt.decimal_places(dso.kpis.dso, 1)} days")
    return header_text(" · ".join(parts))


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
    notes: Sequence[str] = (),
) -> EmailMessage:
    """``notes``: sentences heading the summary (an audience's scope: whose ledger, what it leaves out)."""
    message = EmailMessage(policy=SMTP)
    message["Subject"] = subject(params, results)
    message["From"] = checked_addresses([sender], "email.sender")[0]
    if recipients:
        message["To"] = ", ".join(checked_addresses(recipients, "email.recipients"))
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = make_msgid(domain="collections-mi.local")
    currency = params.reporting_currency
    lines = kpi_lines(results, currency)
    sentences = [*notes, *headlines.summary_sentences(results, currency)]
    message.set_content(text_body(params, lines, sentences, validation))
    cids = {name: make_msgid(domain="collections-mi.local") for name in images}
    message.add_alternative(html_body(params, lines, sentences, cids, titles, validation), subtype="html")
    html_part = list(message.iter_parts())[1]  # the alternative just added: text, then html
    for name, png in images.items():
        html_part.add_related(
            png, maintype="image", subtype="png", cid=cids[name], filename=f"{name}.png", disposition="inline"
        )
    message.add_attachment(
        zip_pack(folder), maintype="application", subtype="zip", filename=f"collections-pack-{params.period}.zip"
    )
    return message


def write_email(
    folder: Path,
    results: Mapping[str, SectionResult[Any, Any]],
    params: Params,
    validation: str,
    progress: Any = None,
    notes: Sequence[str] = (),
) -> list[str]:
    """Write ``folder/email.eml``; returns warnings (e.g. charts omitted because no headless browser was found)."""
    warnings: list[str] = []
    chosen = email_charts(results, params)
    try:
        images = render_pngs(chosen)
    except Exception as exc:  # kaleido raises several types when no browser can be started
        images = {}
        warnings.append(
            "email charts omitted: no headless Chromium for static images "
            f"({first_line(exc)}); "
            "install Debian's chromium package"
        )
    message = build_email(
        folder,
        results,
        params,
        validation=validation,
        images=images,
        titles={c.name: c.title for c in chosen},
        sender=params.email.sender,
        recipients=params.email.recipients,
        notes=notes,
    )
    (folder / "email.eml").write_bytes(bytes(message))
    return warnings
