"""Plotly figures for the pack. Inputs are result tables (exact Decimals); floats appear only as plot coordinates."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from collections_mi.presentation.cash import week_rows
from collections_mi.presentation.format import money, money_short
from collections_mi.presentation.labels import enum_label

#: one colour per aging bucket, from calm (current) to alarming (oldest)
BUCKET_COLOURS = ["#2e7d32", "#9ccc65", "#fdd835", "#fb8c00", "#e53935", "#8e24aa", "#4a148c", "#212121"]
#: one colour per metric, the same in every chart of the pack and the email
METRIC_COLOURS = {
    "dso": "#1565c0",
    "dso_countback": "#6a1b9a",
    "bpdso": "#2e7d32",
    "add": "#c62828",
    "cei_pct": "#ef6c00",
    "days_late_simple": "#00838f",
    "days_late_weighted": "#00838f",
    "days_to_pay_simple": "#5d4037",
    "days_to_pay_weighted": "#5d4037",
    "kept_rate_pct": "#455a64",
    "net_back_pct": "#00695c",
    "reserve": "#ad1457",
    "allowance": "#1565c0",
    "write_offs_next_12m": "#c62828",
}
#: series that are not highlighted (earlier cohorts) and the number of latest cohorts drawn in colour
MUTED = "#c5ccd3"
HIGHLIGHTED_COHORTS = 3
FALLBACK_COLOURS = ["#1565c0", "#6a1b9a", "#2e7d32", "#c62828", "#ef6c00", "#00838f"]
LAYOUT = dict(
    template="plotly_white",
    font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=13),
    margin=dict(l=60, r=20, t=60, b=50),
    legend=dict(orientation="h", y=-0.18),
    height=420,
)


def _floats(values: Sequence[Any]) -> list[float]:
    return [0.0 if v is None else float(v) for v in values]


def aging_buckets_bar(aging: pd.DataFrame, currency: str, title: str = "Open receivables by age") -> go.Figure:
    """One bar per bucket, coloured by severity, labelled with rounded amount and share."""
    colours = BUCKET_COLOURS[: len(aging)] if len(aging) <= len(BUCKET_COLOURS) else None
    text = [f"{money_short(a, '')}<br>{float(s or 0):.1f}%" for a, s in zip(aging["amount"], aging["share_pct"])]
    fig = go.Figure(
        go.Bar(
            x=list(aging["bucket"]),
            y=_floats(aging["amount"]),
            marker_color=colours,
            text=text,
            textposition="outside",
            hovertemplate="%{x}: %{y:,.2f}<extra></extra>",
        )
    )
    fig.update_layout(title=title, yaxis_title=currency, showlegend=False, **LAYOUT)
    return fig


def stacked_by_bucket(
    frame: pd.DataFrame,
    category: str,
    labels: Sequence[str],
    currency: str,
    title: str,
    horizontal: bool = True,
    top: int | None = None,
) -> go.Figure:
    """Stacked bars: one bar per category (segment, collector, customer…), stacked by bucket."""
    shown = frame.head(top) if top else frame
    fig = go.Figure()
    for colour, label in zip(BUCKET_COLOURS * 2, labels):
        values = _floats(shown[label])
        names = [str(v) for v in shown[category]]
        if horizontal:
            fig.add_bar(
                y=names,
                x=values,
                name=label,
                orientation="h",
                marker_color=colour,
                hovertemplate=f"%{{y}} · {label}: %{{x:,.2f}}<extra></extra>",
            )
        else:
            fig.add_bar(
                x=names,
                y=values,
                name=label,
                marker_color=colour,
                hovertemplate=f"%{{x}} · {label}: %{{y:,.2f}}<extra></extra>",
            )
    fig.update_layout(barmode="stack", title=title, **LAYOUT)
    if horizontal:
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(title=currency)
        fig.update_layout(height=max(360, 28 * len(shown) + 140))
    else:
        fig.update_yaxes(title=currency)
    return fig


def trend_stacked_area(
    trend: pd.DataFrame, labels: Sequence[str], currency: str, title: str = "Receivables by age, month-end trend"
) -> go.Figure:
    """Stacked bars per month-end by bucket, with the past-due share as a line on a second axis."""
    months = [f"{m:%Y-%m}" for m in trend["month_end"]]
    fig = go.Figure()
    for colour, label in zip(BUCKET_COLOURS * 2, labels):
        fig.add_bar(
            x=months,
            y=_floats(trend[label]),
            name=label,
            marker_color=colour,
            hovertemplate=f"%{{x}} · {label}: %{{y:,.2f}}<extra></extra>",
        )
    fig.add_scatter(
        x=months,
        y=_floats(trend["past_due_pct"]),
        name="past due %",
        yaxis="y2",
        mode="lines+markers",
        line=dict(color="#263238", width=3),
        hovertemplate="%{x}: %{y:.1f}% past due<extra></extra>",
    )
    fig.update_layout(
        barmode="stack",
        title=title,
        yaxis=dict(title=currency),
        yaxis2=dict(
            title="past due %",
            overlaying="y",
            side="right",
            showgrid=False,
            **round_axis(_floats(trend["past_due_pct"])),
        ),
        **LAYOUT,
    )
    return fig


def round_axis(values: Sequence[float], steps: int = 5) -> dict[str, Any]:
    """A 0-based axis range with a round step (1, 2, 2.5 or 5 × a power of ten) over ``values``: ticks at 0, 10,
    20… instead of 7.8, 15.6 (a second axis does not share the first's ticks)."""
    top = max([v for v in values if v is not None] + [0.0])
    if top <= 0:
        return dict(range=[0, 1], dtick=0.2)
    raw = top / steps
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return dict(range=[0, math.ceil(top / step) * step], dtick=step)


def waterfall(lines: pd.DataFrame, currency: str, title: str) -> go.Figure:
    """A rollforward (first line opening, last line closing) as a waterfall."""
    measures = ["absolute"] + ["relative"] * (len(lines) - 2) + ["total"]
    fig = go.Figure(
        go.Waterfall(
            x=list(lines["line"]),
            y=_floats(lines["amount"]),
            measure=measures,
            text=[money_short(a, "") for a in lines["amount"]],
            textposition="outside",
            connector=dict(line=dict(color="#90a4ae")),
        )
    )
    fig.update_layout(title=title, yaxis_title=currency, showlegend=False, **LAYOUT)
    return fig


def kpi_trend(
    trend: pd.DataFrame, columns: Sequence[str], labels: Sequence[str], title: str, unit: str = "days"
) -> go.Figure:
    """Lines of several KPIs over month-ends."""
    months = [f"{m:%Y-%m}" for m in trend["month_end"]]
    fig = go.Figure()
    for index, (column, label) in enumerate(zip(columns, labels)):
        colour = METRIC_COLOURS.get(column, FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)])
        fig.add_scatter(
            x=months,
            y=[None if v is None else float(v) for v in trend[column]],
            name=label,
            mode="lines+markers",
            line=dict(color=colour, width=2.5),
            hovertemplate=f"%{{x}} · {label}: %{{y:.1f}} {unit}<extra></extra>",
        )
    fig.update_layout(title=title, yaxis_title=unit, **LAYOUT)
    return fig


def horizontal_bars(
    frame: pd.DataFrame, category: str, value: str, title: str, unit: str = "days", top: int | None = None
) -> go.Figure:
    shown = frame.head(top) if top else frame
    fig = go.Figure(
        go.Bar(
            y=[enum_label(str(v)) for v in shown[category]],
            x=_floats(shown[value]),
            orientation="h",
            marker_color=METRIC_COLOURS.get(value, "#1565c0"),
            hovertemplate=f"%{{y}}: %{{x:.1f}} {unit}<extra></extra>",
        )
    )
    fig.update_layout(title=title, xaxis_title=unit, showlegend=False, **LAYOUT)
    fig.update_layout(height=max(320, 28 * len(shown) + 140))
    fig.update_yaxes(autorange="reversed")
    return fig


def bridge_waterfall(bridge: pd.DataFrame, title: str = "What moved DSO this month") -> go.Figure:
    measures = ["absolute"] + ["relative"] * (len(bridge) - 2) + ["total"]
    fig = go.Figure(
        go.Waterfall(
            x=list(bridge["step"]),
            y=_floats(bridge["days"]),
            measure=measures,
            text=[
                f"{float(v):+.1f}" if i not in (0, len(bridge) - 1) else f"{float(v):.1f}"
                for i, v in enumerate(bridge["days"])
            ],
            textposition="outside",
            connector=dict(line=dict(color="#90a4ae")),
        )
    )
    fig.update_layout(title=title, yaxis_title="days", showlegend=False, **LAYOUT)
    return fig


def cohort_curves(
    curves: pd.DataFrame, value: str, title: str, xaxis_title: str, yaxis_title: str, digits: int = 1
) -> go.Figure:
    """One line per cohort (a month), over months since the cohort started: the latest
    :data:`HIGHLIGHTED_COHORTS` in colour and named in the legend, the earlier ones thin and grey (one legend entry),
    so 15–24 cohorts stay readable; every line still names its cohort on hover."""
    fig = go.Figure()
    cohorts = sorted(set(curves["cohort"]))
    latest = cohorts[-HIGHLIGHTED_COHORTS:]
    groups = dict(list(curves.groupby("cohort", sort=True)))
    for cohort in cohorts:
        group = groups[cohort]
        highlighted = cohort in latest
        first_muted = not highlighted and cohort == cohorts[0]
        fig.add_scatter(
            x=list(group["months_since"]),
            y=_floats(group[value]),
            name=f"{cohort:%Y-%m}" if highlighted else "earlier cohorts",
            legendgroup=None if highlighted else "earlier",
            showlegend=highlighted or first_muted,
            mode="lines",
            line=dict(
                color=FALLBACK_COLOURS[latest.index(cohort)] if highlighted else MUTED,
                width=3 if highlighted else 1.2,
            ),
            hovertemplate=f"{cohort:%Y-%m} · month %{{x}}: %{{y:.{digits}f}}%<extra></extra>",
        )
    fig.update_layout(title=title, xaxis_title=xaxis_title, yaxis_title=yaxis_title, **LAYOUT)
    fig.update_layout(legend=dict(orientation="v", x=1.02, y=1, traceorder="reversed"))
    return fig


def vintage_lines(
    vintages: pd.DataFrame, title: str = "Static pools: cumulative net write-offs by invoice month"
) -> go.Figure:
    return cohort_curves(vintages, "loss_pct", title, "months since invoice month", "% of cohort sales", digits=2)


def vintage_development(
    triangle: pd.DataFrame, title: str = "Loss development by invoice month: observed, then projected"
) -> go.Figure:
    """The vintage method's triangle: each cohort's cumulative net write-offs (% of its sales) by age, solid where
    observed and dotted where the chain ladder projects it; the latest cohorts in colour, the others grey."""
    fig = go.Figure()
    if triangle.empty:
        fig.update_layout(title=title, **LAYOUT)
        return fig
    cohorts = sorted(set(triangle["cohort"]))
    latest = cohorts[-HIGHLIGHTED_COHORTS:]
    for cohort, group in triangle.groupby("cohort", sort=True):
        highlighted = cohort in latest
        colour = FALLBACK_COLOURS[latest.index(cohort)] if highlighted else MUTED
        observed = group[~group["projected"].astype(bool)]
        projected = group[group["projected"].astype(bool)]
        if len(projected) and len(observed):  # the dotted part starts where the observed one ends
            projected = pd.concat([observed.tail(1), projected])
        for part, dash, suffix in ((observed, "solid", ""), (projected, "dot", " (projected)")):
            if part.empty:
                continue
            fig.add_scatter(
                x=list(part["age_months"]),
                y=[_maybe_float(v) for v in part["loss_pct"]],
                name=f"{cohort:%Y-%m}{suffix}" if highlighted else "earlier cohorts",
                legendgroup=f"{cohort:%Y-%m}" if highlighted else "earlier",
                showlegend=(highlighted and not suffix) or (not highlighted and cohort == cohorts[0] and not suffix),
                mode="lines",
                line=dict(color=colour, width=3 if highlighted else 1.2, dash=dash),
                hovertemplate=f"{cohort:%Y-%m}{suffix} · month %{{x}}: %{{y:.2f}}%<extra></extra>",
            )
    fig.update_layout(title=title, xaxis_title="months since invoice month", yaxis_title="% of cohort sales", **LAYOUT)
    fig.update_layout(legend=dict(orientation="v", x=1.02, y=1, traceorder="reversed"))
    return fig


def backtest_bars(backtest: pd.DataFrame, currency: str) -> go.Figure:
    months = [f"{m:%Y-%m}" for m in backtest["month_end"]]
    fig = go.Figure()
    fig.add_bar(
        x=months,
        y=_floats(backtest["allowance"]),
        name="Allowance (predicted)",
        marker_color=METRIC_COLOURS["allowance"],
    )
    fig.add_bar(
        x=months,
        y=_floats(backtest["write_offs_next_12m"]),
        name="Write-offs in the next 12 months",
        marker_color=METRIC_COLOURS["write_offs_next_12m"],
    )
    fig.update_layout(
        barmode="group", title="Back-test: allowance against the losses that followed", yaxis_title=currency, **LAYOUT
    )
    return fig


#: how the cash forecast estimated an amount → its colour (promises surest, disputes least sure)
RULE_COLOURS = {
    "promise": "#2e7d32",
    "customer": "#1565c0",
    "segment_or_book": "#90caf9",
    "disputed": "#ef6c00",
}


def forecast_weeks(weeks: pd.DataFrame, currency: str, title: str = "Cash expected by week") -> go.Figure:
    """Weeks 1–13 of tables/cash_forecast.csv stacked by how each amount was estimated, with the cumulative total
    on a second axis (later and not forecast are left to the table: they have no week)."""
    rows = week_rows(weeks)
    labels = [f"W{w} · {start:%d %b}" for w, start in zip(rows["week"], rows["week_start"])]
    fig = go.Figure()
    for rule, colour in RULE_COLOURS.items():
        fig.add_bar(
            x=labels,
            y=_floats(rows[rule]),
            name=enum_label(rule),
            marker_color=colour,
            hovertemplate=f"%{{x}} · {enum_label(rule)}: %{{y:,.2f}}<extra></extra>",
        )
    running = list(itertools.accumulate(_floats(rows["amount"])))
    fig.add_scatter(
        x=labels,
        y=running,
        name="Cumulative",
        yaxis="y2",
        mode="lines+markers",
        line=dict(color="#37474f", width=2),
        hovertemplate="%{x} · cumulative: %{y:,.2f}<extra></extra>",
    )
    fig.update_layout(
        barmode="stack",
        title=title,
        yaxis=dict(title=currency),
        yaxis2=dict(title=f"cumulative ({currency})", overlaying="y", side="right", showgrid=False, rangemode="tozero"),
        **{**LAYOUT, "margin": dict(l=60, r=70, t=60, b=50)},
    )
    return fig


def forecast_backtest(months: pd.DataFrame, currency: str) -> go.Figure:
    """Each back-test month-end's forecast of its first 4 weeks beside the cash that came in, its WAPE above."""
    labels = [f"{m:%Y-%m}" for m in months["month_end"]]
    fig = go.Figure()
    fig.add_bar(x=labels, y=_floats(months["forecast"]), name="Forecast (weeks 1–4)", marker_color="#90caf9")
    fig.add_bar(
        x=labels,
        y=_floats(months["actual"]),
        name="Cash received",
        marker_color="#1565c0",
        text=["" if w is None else f"WAPE {float(w):.1f}%" for w in months["wape_pct"]],
        textposition="outside",
    )
    fig.update_layout(
        barmode="group", title="Back-test: forecast against the cash received", yaxis_title=currency, **LAYOUT
    )
    return fig


def roll_rate_heatmap(monthly: pd.DataFrame, title: str = "Monthly roll rates (%)") -> go.Figure:
    columns = [c for c in monthly.columns if c != "month_end"]
    z = [[None if v is None else float(v) for v in monthly[c]] for c in columns]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[f"{m:%Y-%m}" for m in monthly["month_end"]],
            y=[c.rstrip(" %") for c in columns],
            colorscale="YlOrRd",
            texttemplate="%{z:.0f}",
            hovertemplate="%{y} %{x}: %{z:.1f}%<extra></extra>",
        )
    )
    fig.update_layout(title=title, **LAYOUT)
    fig.update_yaxes(autorange="reversed")
    return fig


#: the parts of a bucket's balance a month later (metrics.allowance.cure_rates), worst outcome last
OUTCOME_PARTS = (
    ("settled_pct", "Paid, credited or written off", "#2e7d32"),
    ("still_open_pct", "Still open (same or earlier bucket)", "#90a4ae"),
    ("rolled_on_pct", "Rolled to a later bucket", "#e53935"),
)


def bucket_outcomes(
    cure_rates: pd.DataFrame, title: str = "Where each bucket's balance was a month later"
) -> go.Figure:
    """One 100 % bar per bucket: the share settled (paid, credited or written off), still open, and rolled on."""
    fig = go.Figure()
    buckets = [str(b) for b in cure_rates["from_bucket"]]
    for column, name, colour in OUTCOME_PARTS:
        values = [_maybe_float(v) for v in cure_rates[column]]
        fig.add_bar(
            y=buckets,
            x=values,
            name=name,
            orientation="h",
            marker_color=colour,
            text=[None if v is None else f"{v:.0f}%" for v in values],
            textposition="inside",
            hovertemplate="%{y}: %{x:.1f}%<extra>" + name + "</extra>",
        )
    fig.update_layout(title=title, barmode="stack", **LAYOUT)
    fig.update_xaxes(range=[0, 100], ticksuffix="%")
    fig.update_yaxes(autorange="reversed")
    return fig


def liquidation_curves(curves: pd.DataFrame, title: str = "Liquidation curves by placement month") -> go.Figure:
    return cohort_curves(curves, "liquidation_pct", title, "months since placement", "% of placed collected")


def stacked_monthly(frame: pd.DataFrame, series: str, value: str, currency: str, title: str) -> go.Figure:
    fig = go.Figure()
    for colour, (name, group) in zip(SERIES_COLOURS * 3, frame.groupby(series, sort=True)):
        fig.add_bar(
            x=[f"{m:%Y-%m}" for m in group["month"]],
            y=_floats(group[value]),
            name=enum_label(str(name)),
            marker_color=colour,
        )
    fig.update_layout(barmode="stack", title=title, yaxis_title=currency, **LAYOUT)
    return fig


# --- Exploration charts (issue 11): history trends and interactive views for notebooks/explore/ -------------------
# Interactivity uses plotly's own dropdowns (layout.updatemenus) and treemap drill-down, so it works in JupyterLab,
# in an exported HTML file and offline, without ipywidgets or a running kernel.

SERIES_COLOURS = [
    "#1565c0",
    "#6a1b9a",
    "#2e7d32",
    "#c62828",
    "#ef6c00",
    "#00838f",
    "#5d4037",
    "#455a64",
    "#ad1457",
    "#9e9d24",
    "#283593",
    "#00695c",
]


def _maybe_float(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


def _dropdown(buttons: list[dict[str, Any]], x: float = 0.0, y: float = 1.16) -> dict[str, Any]:
    return dict(
        type="dropdown",
        buttons=buttons,
        direction="down",
        showactive=True,
        x=x,
        xanchor="left",
        y=y,
        yanchor="top",
        bgcolor="#ffffff",
        bordercolor="#90a4ae",
        font=dict(size=12),
    )


def history_kpi_lines(
    kpis: pd.DataFrame, columns: Sequence[str], labels: Sequence[str], title: str, unit: str = "days"
) -> go.Figure:
    """KPIs over the stored month-ends (``history.load_kpis``); KPIs absent from the history are left out."""
    periods = [str(p) for p in kpis["period"]]
    fig = go.Figure()
    for colour, column, label in zip(SERIES_COLOURS * 2, columns, labels):
        if column not in kpis.columns:
            continue
        fig.add_scatter(
            x=periods,
            y=[_maybe_float(v) for v in kpis[column]],
            name=label,
            mode="lines+markers",
            line=dict(color=colour, width=2.5),
            hovertemplate=f"%{{x}} · {label}: %{{y:,.2f}} {unit}<extra></extra>",
        )
    fig.update_layout(title=title, yaxis_title=unit, **LAYOUT)
    fig.update_xaxes(type="category")
    return fig


def history_bucket_bars(
    buckets: pd.DataFrame,
    labels: Sequence[str],
    currency: str,
    title: str = "Open receivables by age at each stored month-end",
) -> go.Figure:
    """Stacked bars per period by bucket, from the stored ``aging`` tables (``explore.bucket_history``)."""
    fig = go.Figure()
    for colour, label in zip(BUCKET_COLOURS * 2, labels):
        rows = buckets[buckets["bucket"] == label]
        fig.add_bar(
            x=[str(p) for p in rows["period"]],
            y=_floats(rows["amount"]),
            name=label,
            marker_color=colour,
            hovertemplate=f"%{{x}} · {label}: %{{y:,.2f}}<extra></extra>",
        )
    fig.update_layout(barmode="stack", title=title, yaxis_title=currency, **LAYOUT)
    fig.update_xaxes(type="category")
    return fig


def _bucket_bars(row: pd.Series, labels: Sequence[str], currency: str) -> tuple[list[float], list[str]]:
    values = [row[label] for label in labels]
    return _floats(values), [money(v, currency) for v in values]


def filter_dropdown(
    options: pd.DataFrame, labels: Sequence[str], currency: str, title: str = "Open receivables by age"
) -> go.Figure:
    """Bucket bars with a dropdown choosing the slice: all items, a segment, region, collector, currency or one of
    the largest customers (rows of ``explore.filter_options``)."""
    y, text = _bucket_bars(options.iloc[0], labels, currency)
    fig = go.Figure(
        go.Bar(
            x=list(labels),
            y=y,
            text=text,
            textposition="outside",
            marker_color=BUCKET_COLOURS[: len(labels)] if len(labels) <= len(BUCKET_COLOURS) else None,
            hovertemplate="%{x}: %{y:,.2f}<extra></extra>",
        )
    )
    buttons: list[dict[str, Any]] = []
    for _, row in options.iterrows():
        y, text = _bucket_bars(row, labels, currency)
        name = "all open items" if row["filter"] == "all" else f"{str(row['filter']).replace('_', ' ')}: {row['value']}"
        heading = (
            f"{title} — {name}<br><sup>{money(row['total'], currency, symbol=True)} in {int(row['items']):,} "
            f"items, {float(row['past_due_pct'] or 0):.1f}% past due</sup>"
        )
        buttons.append(
            dict(label=name[:60], method="update", args=[{"y": [y], "text": [text]}, {"title.text": heading}])
        )
    heading = buttons[0]["args"][1]["title.text"] if buttons else title
    fig.update_layout(
        title=dict(text=heading, y=0.97),
        yaxis_title=currency,
        showlegend=False,
        updatemenus=[_dropdown(buttons)],
        **{**LAYOUT, "margin": dict(l=60, r=20, t=110, b=50)},
    )
    return fig


def drill_treemap(
    tree: pd.DataFrame, currency: str, title: str = "Drill down: bucket → customer → invoice (click a box to open it)"
) -> go.Figure:
    """A treemap of ``explore.drill_tree`` nodes; clicking a bucket shows its customers, a customer its invoices."""
    colours = dict(zip(tree.loc[tree["level"] == "bucket", "id"], BUCKET_COLOURS * 2))
    fig = go.Figure(
        go.Treemap(
            ids=list(tree["id"]),
            parents=list(tree["parent"]),
            labels=list(tree["label"]),
            values=_floats(tree["amount"]),
            branchvalues="remainder",
            maxdepth=2,
            marker=dict(colors=[colours.get(str(i).split("/")[0], "#b0bec5") for i in tree["id"]]),
            customdata=list(tree["items"]),
            hovertemplate=f"%{{label}}<br>%{{value:,.2f}} {currency}<br>%{{customdata}} item(s)<extra></extra>",
        )
    )
    fig.update_layout(title=title, **{**LAYOUT, "height": 560, "margin": dict(l=10, r=10, t=60, b=10)})
    return fig


def dimension_trend_dropdown(
    trends: pd.DataFrame, currency: str, title: str = "Open receivables by dimension over the stored month-ends"
) -> go.Figure:
    """Lines per segment / region / collector / currency value over periods (``explore.trends_by``); a dropdown
    chooses the dimension and the measure (open balance, past due, past-due share)."""
    measures = [
        ("total", f"open balance ({currency})"),
        ("past_due", f"past due ({currency})"),
        ("past_due_pct", "past-due share (%)"),
    ]
    dimensions = list(dict.fromkeys(trends["dimension"]))
    fig = go.Figure()
    owners: list[tuple[str, str]] = []
    for dimension in dimensions:
        rows = trends[trends["dimension"] == dimension]
        values = list(dict.fromkeys(rows["value"]))
        for measure, _ in measures:
            for colour, value in zip(SERIES_COLOURS * 4, values):
                series = rows[rows["value"] == value]
                fig.add_scatter(
                    x=[str(p) for p in series["period"]],
                    y=[_maybe_float(v) for v in series[measure]],
                    name=str(value),
                    mode="lines+markers",
                    line=dict(color=colour, width=2),
                    visible=False,
                    legendgroup=str(value),
                )
                owners.append((dimension, measure))
    buttons: list[dict[str, Any]] = []
    for dimension in dimensions:
        for measure, label in measures:
            visible = [owner == (dimension, measure) for owner in owners]
            buttons.append(
                dict(
                    label=f"{dimension.replace('_', ' ')} · {label}",
                    method="update",
                    args=[
                        {"visible": visible},
                        {"title.text": f"{title}: {dimension.replace('_', ' ')}", "yaxis.title.text": label},
                    ],
                )
            )
    if buttons:
        for trace, show in zip(fig.data, buttons[0]["args"][0]["visible"]):
            trace.visible = show
    fig.update_layout(
        title=dict(text=f"{title}: {dimensions[0]}" if dimensions else title, y=0.97),
        yaxis_title=measures[0][1],
        updatemenus=[_dropdown(buttons)] if buttons else [],
        **{**LAYOUT, "margin": dict(l=60, r=20, t=110, b=50)},
    )
    fig.update_xaxes(type="category")
    return fig


def cohort_heatmap(
    runoff: pd.DataFrame, title: str = "Cohort run-off: % of each invoice month's month-end balance still open"
) -> go.Figure:
    """Invoice-month cohorts (rows) × months after their own month-end (columns), from ``explore.cohort_runoff``."""
    cohorts = sorted(set(runoff["cohort"]))
    ages = sorted({int(a) for a in runoff["months_since"]})
    cells = {
        (c, int(a)): _maybe_float(v)
        for c, a, v in zip(runoff["cohort"], runoff["months_since"], runoff["remaining_pct"])
    }
    z = [[cells.get((cohort, age)) for age in ages] for cohort in cohorts]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(a) for a in ages],
            y=cohorts,
            colorscale="YlOrRd",
            zmin=0,
            zmax=100,
            texttemplate="%{z:.0f}",
            colorbar=dict(title="% open"),
            hovertemplate="cohort %{y}, %{x} month(s) later: %{z:.1f}% still open<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="month-ends after the invoice month",
        yaxis_title="invoice month",
        **{**LAYOUT, "height": max(360, 26 * len(cohorts) + 160)},
    )
    fig.update_yaxes(autorange="reversed", type="category")
    return fig


def open_by_cohort_bars(
    cohorts: pd.DataFrame,
    labels: Sequence[str],
    currency: str,
    title: str = "Where the open balance comes from: by invoice month",
) -> go.Figure:
    """The month-end's open balance stacked by bucket for each invoice month (``explore.open_by_invoice_month``)."""
    fig = go.Figure()
    for colour, label in zip(BUCKET_COLOURS * 2, labels):
        fig.add_bar(
            x=list(cohorts["cohort"]),
            y=_floats(cohorts[label]),
            name=label,
            marker_color=colour,
            hovertemplate=f"invoiced %{{x}} · {label}: %{{y:,.2f}}<extra></extra>",
        )
    fig.update_layout(barmode="stack", title=title, xaxis_title="invoice month", yaxis_title=currency, **LAYOUT)
    fig.update_xaxes(type="category")
    return fig
