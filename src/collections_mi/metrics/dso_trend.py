"""The DSO family over time: every KPI at each month-end of the trend (one pass over each table), the changes on a
month and a year ago, and the bridge of what moved DSO in the month.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from decimal import Decimal

import pandas as pd

from collections_mi.config.params import Params
from collections_mi.core.money import ZERO
from collections_mi.core.periods import month_ends_up_to, previous_month_end, shift_month_end
from collections_mi.metrics.book import Book
from collections_mi.metrics.dso_formulas import KPI_IDS, RATIO_CONTEXT, SalesLedger, dso_kpis, dso_window
from collections_mi.metrics.dso_inputs import (
    daily_sales,
    receivables_at,
    settlement_totals_by_month,
    terms_totals_by_month,
)


def receivable_dates(month_ends: Sequence[dt.date], window_months: int) -> list[dt.date]:
    """The month-ends and, for each, the day before its window (CEI's opening AR)."""
    dates = set(month_ends)
    for end in month_ends:
        dates.add(dso_window(end, window_months).start - dt.timedelta(days=1))
    return sorted(dates)


def dso_trend(book: Book, params: Params, months: int = 24) -> pd.DataFrame:
    """Every DSO-family KPI and payment-behaviour KPI at each of the last ``months`` month-ends, from one pass over
    each table."""
    month_ends = month_ends_up_to(params.as_of, months)
    window_months = params.dso.window_months
    receivables = {d: v for (d, _), v in receivables_at(book, receivable_dates(month_ends, window_months)).items()}
    sales = daily_sales(book).get(None, SalesLedger((), ()))
    since = dso_window(month_ends[0], window_months).start
    settlement = settlement_totals_by_month(book, since)
    terms = terms_totals_by_month(book, since)
    rows = []
    for end in month_ends:
        window = dso_window(end, window_months)
        ar, current = receivables.get(end, (ZERO, ZERO))
        row: dict[str, object] = {
            "month_end": end,
            "ar_total": ar,
            "current_ar": current,
            "past_due_ar": ar - current,
            "sales_window": sales.total(window.start, window.end),
            "window_days": window.days,
        }
        row.update(
            dso_kpis(
                as_of=end,
                dso_config=params.dso,
                cei_config=params.cei,
                sales=sales,
                receivables=receivables,
                settlement=settlement,
                terms=terms,
            )
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _row_at(trend: pd.DataFrame, day: dt.date) -> pd.Series | None:
    """The trend's row at month-end ``day``, or None when the trend does not reach back that far."""
    rows = trend.loc[trend["month_end"] == day]
    return None if rows.empty else rows.iloc[0]


def changes(trend: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Each KPI at ``as_of``, at the month-end before it and at its month's end a year earlier, with the changes (in
    the KPI's own unit)."""
    latest = _row_at(trend, as_of)
    if latest is None:
        raise ValueError(f"the DSO trend has no row at {as_of}")
    month_ago = _row_at(trend, previous_month_end(as_of))
    year_ago = _row_at(trend, shift_month_end(as_of, -12))
    rows = []
    for kpi in KPI_IDS:
        now = latest[kpi]
        before = None if month_ago is None else month_ago[kpi]
        last_year = None if year_ago is None else year_ago[kpi]
        rows.append(
            {
                "kpi": kpi,
                "value": now,
                "previous_month": before,
                "mom_change": None if now is None or before is None else now - before,
                "year_ago": last_year,
                "yoy_change": None if now is None or last_year is None else now - last_year,
            }
        )
    return pd.DataFrame(rows)


def bridge(trend: pd.DataFrame, rollforward: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """What moved DSO from the previous month-end to as_of: sales volume, then each AR movement of the month.

    DSO = AR / S × d. Holding last month's AR, the change in window sales (and days) moves DSO by
    AR₀/S₁×d₁ − AR₀/S₀×d₀; each AR movement m of the month (new invoices, cash, credits, write-offs, FX) moves it
    by m/S₁×d₁. The lines add up exactly to the change in DSO."""
    before, now = _row_at(trend, previous_month_end(as_of)), _row_at(trend, as_of)
    if before is None or now is None or before["dso"] is None or now["dso"] is None:
        return pd.DataFrame(columns=["step", "days"])
    with decimal.localcontext(RATIO_CONTEXT):
        scale = Decimal(int(now["window_days"])) / now["sales_window"]
        volume = before["ar_total"] * scale - before["dso"]
        steps = [(f"DSO at {before['month_end']}", before["dso"]), ("Change in credit sales of the window", volume)]
        for line, amount in zip(rollforward["line"][1:-1], rollforward["amount"][1:-1]):
            steps.append((line.lstrip("+−± ").capitalize(), amount * scale))
    steps.append((f"DSO at {now['month_end']}", now["dso"]))
    return pd.DataFrame(steps, columns=["step", "days"])
