"""The cash section (notebook 06_cash): the 13-week cash-collection forecast as of D and its back-test
(shared/metrics.md v1.1 § Cash-collection forecast), computed by :mod:`collections_mi.metrics.forecast` and
published as KPIs ``forecast_13w_total``, ``forecast_wape_pct``, ``forecast_bias_pct`` and the tables
``cash_forecast`` (weeks 1–13, later, not forecast), by customer, by item, and the back-test by week and by month."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from collections_mi.config.params import Params
from collections_mi.core.money import dsum
from collections_mi.metrics.book import Book
from collections_mi.metrics.forecast import (
    BACKTEST_MONTHS,
    BACKTEST_WEEKS,
    FORECAST_WEEKS,
    LAST_BUCKET,
    MIN_SETTLED_INVOICES,
    WRITE_OFF_CANDIDATE,
    Backtest,
    CashForecast,
    backtest_month_ends,
    cash_forecast,
    forecast_backtest,
    forecast_inputs,
    holding_items,
)
from collections_mi.metrics.published import NOT_FORECAST, CashKpis, CashResult, CashTables


def _conventions(book: Book, params: Params, forecast: CashForecast, backtest: Backtest) -> dict[str, str]:
    """What the forecast assumed, in words (the pack shows them beside the numbers)."""
    rules = params.allowance.write_off_candidates
    last = params.aging.labels[-1]
    book_dbt = (
        "no settled invoice in the 12 months, so items are expected on their due dates"
        if forecast.book_dbt_weighted is None
        else f"{forecast.book_dbt_days} days for the whole book"
    )
    dispute = (
        "no disputes table: disputed items are not shifted"
        if book.disputes is None
        else f"disputed items add {forecast.dispute_days} days (mean days to resolve of the disputes resolved in the "
        "12 months; 0 when none was)"
    )
    months = ", ".join(str(m) for m in backtest.month_ends) or "none (the ledger is too short)"
    return {
        "weeks": f"week k = D + 7(k−1) + 1 … D + 7k, k = 1..{FORECAST_WEEKS}; an expected date on or before D moves "
        f"to week 1, one after week {FORECAST_WEEKS} is 'later'; amounts in {params.reporting_currency} at D's "
        "closing rate, so weeks + later + not forecast = the open receivables (ar_total)",
        "not forecast": f"items in the last aging bucket ({last}) and the write-off candidates (past "
        f"{rules.min_days_past_due} days, or past due with no payment from the customer for {rules.no_payment_days} "
        f"days, or disputed and past {rules.disputed_days} days); an item both is counted once, as last bucket",
        "promises": "what is still owed on each pending promise (due_by after D) is applied to the customer's "
        "forecast items oldest due date first and expected on due_by; a promise larger than the customer's "
        "forecast items is capped at them; a promise does not bring a not-forecast item back",
        "behaviour": f"any other amount is expected on due date + the customer's amount-weighted days beyond terms "
        f"over the 12 months to D ({forecast.window_start} … {params.as_of}), rounded half up; a customer with fewer "
        f"than {MIN_SETTLED_INVOICES} settled invoices there takes its segment's figure, else the book's ({book_dbt})",
        "disputes": dispute,
        "back-test": f"the forecast made as of each of the last {BACKTEST_MONTHS} month-ends at least "
        f"{BACKTEST_WEEKS} weeks before D ({months}), with only rows dated on or before it, for its weeks 1–"
        f"{BACKTEST_WEEKS}, against the cash received in those weeks on the items open then (converted at that "
        "month-end's rate; cash on items not forecast counts as actual and is shown apart); "
        "WAPE = Σ|forecast − actual| / Σ actual × 100, bias = Σ(forecast − actual) / Σ actual × 100 over those "
        "weeks — a negative bias means the forecast expected less than came in",
    }


def not_forecast_table(forecast: CashForecast) -> pd.DataFrame:
    """The not-forecast line by reason (last bucket, write-off candidate): items and amount."""
    lines = forecast.lines[forecast.lines["week"] == NOT_FORECAST]
    rows = []
    for reason in (LAST_BUCKET, WRITE_OFF_CANDIDATE):
        mine = lines[lines["reason"] == reason]
        rows.append({"reason": reason, "items": int(mine["invoice_id"].nunique()), "amount": dsum(mine["amount"])})
    return pd.DataFrame(rows, columns=["reason", "items", "amount"])


def cash_item_dates(params: Params) -> list[dt.date]:
    """Every date :func:`compute_cash` reads open items at under ``params``: D and the back-test month-ends."""
    return sorted({params.as_of, *backtest_month_ends(params.as_of)})


def compute_cash(book: Book, params: Params) -> CashResult:
    """Everything the cash section shows: the forecast as of D, its back-test and their KPIs."""
    # D and the back-test month-ends: one pass over the engine, their open items computed once for both
    with holding_items(forecast_inputs(book, params)) as inputs:
        forecast = cash_forecast(book, params, inputs)
        backtest = forecast_backtest(book, params, inputs)
    result = CashResult(
        section="cash",
        kpis=CashKpis(
            forecast_13w_total=forecast.forecast_13w_total,
            forecast_wape_pct=backtest.forecast_wape_pct,
            forecast_bias_pct=backtest.forecast_bias_pct,
        ),
        tables=CashTables(
            weeks=forecast.weeks,
            by_customer=forecast.customers,
            not_forecast=not_forecast_table(forecast),
            items=forecast.lines,
            backtest=backtest.weeks,
            backtest_months=backtest.months,
        ),
        conventions=_conventions(book, params, forecast, backtest),
    )
    if backtest.forecast_wape_pct is None:
        reason = (
            f"no back-test month-end at least {BACKTEST_WEEKS} weeks before {params.as_of} has cash received on its "
            "open items in the weeks after it (the ledger is too short, or nothing was collected)"
        )
        result.unavailable["forecast_wape_pct"] = reason
        result.unavailable["forecast_bias_pct"] = reason
    return result
