"""The raw-engine floor: the minimum SQL work the aging + DSO metrics need, in plain DuckDB.

Standalone on purpose — it imports only duckdb (and the standard library), never collections_mi, ibis or
pandas — so it measures what the engine itself needs over the same Parquet files:

* aging at as_of: open balance per invoice (amount − payments ≤ D − credit_note/discount/write_off ≤ D),
  open items only (invoice_date ≤ D, balance > 0), bucketed by days past due, summed by currency;
* the DSO inputs: AR and current AR by currency at every month-end of the 24-month trend and at each
  window's start − 1 (window_months further month-ends back), and credit sales per day by currency.

No FX conversion, no Decimal post-processing: the result sets are fetched (as Python tuples) and counted.

Two formulations of the multi-date AR query (``--method``):

* ``interval`` (default, the floor): each invoice is open from its invoice date until the day its
  cumulative reductions reach its amount; only (invoice, date) pairs inside that interval are built, and
  Σ balance = Σ amount − Σ reductions dated ≤ the date over those pairs. Work ∝ open (invoice, date) pairs.
* ``join``: the textbook formulation the package uses (every invoice × every date ≥ its invoice date,
  reductions × dates, grouped). Work ∝ invoices × dates.

Usage: python floor.py LEDGER_DIR [--as-of 2026-10-31] [--method interval|join] [--threads N]
                        [--memory-limit 3GB] [--json]
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import json
import os
import sys
import time

import duckdb

REDUCING = ("credit_note", "discount", "write_off")


def month_ends_back(as_of: dt.date, count: int) -> list[dt.date]:
    """as_of (if not a month-end) and the month-ends before it: ``count`` dates, oldest first."""
    ends: list[dt.date] = []
    last = calendar.monthrange(as_of.year, as_of.month)[1]
    cursor = as_of if as_of.day == last else as_of.replace(day=1) - dt.timedelta(days=1)
    if cursor != as_of:
        ends.append(as_of)
    while len(ends) < count:
        ends.append(cursor)
        cursor = cursor.replace(day=1) - dt.timedelta(days=1)
    return sorted(ends)


def bucket_case(column: str, bounds: list[int]) -> str:
    parts = [f"WHEN {column} <= 0 THEN 'current'"]
    lower = 1
    for bound in bounds:
        parts.append(f"WHEN {column} <= {bound} THEN '{lower}-{bound}'")
        lower = bound + 1
    return "CASE " + " ".join(parts) + f" ELSE '{bounds[-1]}+' END"


def sources(folder: str, reporting_currency: str) -> str:
    def path(table: str) -> str:
        return os.path.join(folder, f"{table}.parquet").replace("'", "''")

    has_adjustments = os.path.isfile(os.path.join(folder, "adjustments.parquet"))
    adjustments = (
        f"""
        UNION ALL
        SELECT invoice_id, adjustment_date AS event_date, amount FROM read_parquet('{path("adjustments")}')
        WHERE kind IN {REDUCING!r}"""
        if has_adjustments
        else ""
    )
    return f"""
    inv AS (
        SELECT invoice_id, invoice_date, due_date, amount,
               coalesce(upper(currency), '{reporting_currency}') AS currency
        FROM read_parquet('{path("invoices")}')),
    events AS (
        SELECT invoice_id, payment_date AS event_date, amount FROM read_parquet('{path("payments")}')
        {adjustments})"""


def aging_sql(folder: str, as_of: dt.date, bounds: list[int], currency: str) -> str:
    return f"""
    WITH {sources(folder, currency)},
    reduced AS (SELECT invoice_id, sum(amount) AS reduced FROM events
                WHERE event_date <= DATE '{as_of}' GROUP BY invoice_id),
    items AS (
        SELECT inv.currency, DATE '{as_of}' - inv.due_date AS dpd,
               inv.amount - coalesce(reduced.reduced, 0) AS balance
        FROM inv LEFT JOIN reduced USING (invoice_id)
        WHERE inv.invoice_date <= DATE '{as_of}')
    SELECT currency, {bucket_case("dpd", bounds)} AS bucket, count(*) AS items, sum(balance) AS balance
    FROM items WHERE balance > 0 GROUP BY ALL ORDER BY ALL"""


def dates_cte(dates: list[dt.date]) -> str:
    values = ", ".join(f"(DATE '{d}')" for d in dates)
    return f"dates(d) AS (VALUES {values})"


def ar_sql_join(folder: str, dates: list[dt.date], currency: str) -> str:
    return f"""
    WITH {sources(folder, currency)}, {dates_cte(dates)},
    reduced AS (SELECT e.invoice_id, dates.d, sum(e.amount) AS reduced
                FROM events e JOIN dates ON e.event_date <= dates.d GROUP BY ALL),
    items AS (
        SELECT dates.d, inv.currency, inv.due_date >= dates.d AS current,
               inv.amount - coalesce(r.reduced, 0) AS balance
        FROM inv JOIN dates ON inv.invoice_date <= dates.d
        LEFT JOIN reduced r ON r.invoice_id = inv.invoice_id AND r.d = dates.d)
    SELECT d, currency, current, count(*) AS items, sum(balance) AS balance
    FROM items WHERE balance > 0 GROUP BY ALL ORDER BY ALL"""


def ar_sql_interval(folder: str, dates: list[dt.date], currency: str) -> str:
    # An invoice is open exactly on [invoice_date, closed_on), closed_on = the first day its running total of
    # reductions reaches its amount (reductions are > 0, so the running total only grows). Over the open
    # (invoice, date) pairs, Σ balance = Σ amount − Σ reductions dated ≤ date: two group-bys, no per-pair lookup.
    last = max(dates)
    return f"""
    WITH {sources(folder, currency)}, {dates_cte(dates)},
    daily AS (SELECT invoice_id, event_date, sum(amount) AS amount FROM events
              WHERE event_date <= DATE '{last}' GROUP BY ALL),
    running AS (SELECT invoice_id, event_date,
                       sum(amount) OVER (PARTITION BY invoice_id ORDER BY event_date) AS applied FROM daily),
    closed AS (SELECT r.invoice_id, min(r.event_date) AS closed_on
               FROM running r JOIN inv USING (invoice_id) WHERE r.applied >= inv.amount GROUP BY ALL),
    spans AS (SELECT inv.*, closed.closed_on FROM inv LEFT JOIN closed USING (invoice_id)
              WHERE inv.invoice_date <= DATE '{last}'),
    pairs AS MATERIALIZED (
        SELECT spans.invoice_id, spans.currency, spans.amount, spans.due_date >= dates.d AS current, dates.d
        FROM spans JOIN dates ON dates.d >= spans.invoice_date
                             AND (spans.closed_on IS NULL OR dates.d < spans.closed_on)),
    gross AS (SELECT d, currency, current, count(*) AS items, sum(amount) AS amount FROM pairs GROUP BY ALL),
    reduced AS (SELECT p.d, p.currency, p.current, sum(e.amount) AS reduced
                FROM pairs p JOIN daily e ON e.invoice_id = p.invoice_id AND e.event_date <= p.d GROUP BY ALL)
    SELECT g.d, g.currency, g.current, g.items, g.amount - coalesce(reduced.reduced, 0) AS balance
    FROM gross g LEFT JOIN reduced USING (d, currency, current) ORDER BY ALL"""


def sales_sql(folder: str, as_of: dt.date, currency: str) -> str:
    return f"""
    WITH {sources(folder, currency)}
    SELECT currency, invoice_date, sum(amount) AS amount FROM inv
    WHERE invoice_date <= DATE '{as_of}' GROUP BY ALL ORDER BY ALL"""


def dso_dates(as_of: dt.date, trend_months: int, window_months: int) -> list[dt.date]:
    """The trend's month-ends plus each window's start − 1 (``window_months`` month-ends further back)."""
    return month_ends_back(as_of, trend_months + window_months)


def run(
    folder: str,
    as_of: dt.date,
    *,
    method: str = "interval",
    bounds: list[int] | None = None,
    trend_months: int = 24,
    window_months: int = 3,
    reporting_currency: str = "USD",
    threads: int | None = None,
    memory_limit: str | None = None,
) -> dict[str, object]:
    bounds = bounds or [30, 60, 90, 120]
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:  # DuckDB spills to its temp directory beyond this (default: 80 % of RAM)
        con.execute(f"SET memory_limit = '{memory_limit}'")
    dates = dso_dates(as_of, trend_months, window_months)
    ar_sql = ar_sql_interval if method == "interval" else ar_sql_join
    queries = {
        "aging": aging_sql(folder, as_of, bounds, reporting_currency),
        "ar_at_dates": ar_sql(folder, dates, reporting_currency),
        "sales_per_day": sales_sql(folder, as_of, reporting_currency),
    }
    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    results: dict[str, list[tuple]] = {}
    for name, sql in queries.items():
        begin = time.perf_counter()
        result = con.execute(sql).fetchall()
        timings[name] = round(time.perf_counter() - begin, 3)
        rows[name] = len(result)
        results[name] = result
    ar_total = sum(r[3] for r in results["aging"])
    open_items = sum(r[2] for r in results["aging"])
    return {
        "method": method,
        "dates": len(dates),
        "seconds": timings,
        "total_seconds": round(sum(timings.values()), 3),
        "result_rows": rows,
        "open_items": open_items,
        "ar_total_original_currency": str(ar_total),
        "duckdb": duckdb.__version__,
        "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
        "memory_limit": con.execute("SELECT current_setting('memory_limit')").fetchone()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", help="folder holding invoices/payments/adjustments .parquet")
    parser.add_argument("--as-of", default="2026-10-31", type=dt.date.fromisoformat)
    parser.add_argument("--method", choices=("interval", "join"), default="interval")
    parser.add_argument("--buckets", default="30,60,90,120")
    parser.add_argument("--trend-months", type=int, default=24)
    parser.add_argument("--window-months", type=int, default=3)
    parser.add_argument("--reporting-currency", default="USD")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 3GB (default: DuckDB's, 80%% of RAM)")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    result = run(
        args.ledger,
        args.as_of,
        method=args.method,
        bounds=[int(b) for b in args.buckets.split(",")],
        trend_months=args.trend_months,
        window_months=args.window_months,
        reporting_currency=args.reporting_currency,
        threads=args.threads,
        memory_limit=args.memory_limit,
    )
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
