"""The same-work floor: every KPI of ``collections-mi metrics`` (kpis.json) and the month-end trend tables, as
plain DuckDB SQL over the same Parquet ledger.

Standalone on purpose: it imports only ``duckdb`` and the standard library (no collections_mi, ibis or pandas),
so it measures how fast an engine can do the same work. Python only orchestrates and does the last arithmetic on
a handful of already-aggregated numbers (ratios of exact sums, the countback walk over ~26 monthly sales figures).

How it is built (few scans, set-based):

* ``fx`` — a daily closing-rate table per currency (ASOF join: the latest rate dated ≤ the day), so every
  conversion "at date d" is an equi-join on (currency, d);
* ``items`` — every invoice open at every month-end the trends need (27 dates for a 24-month DSO trend with a
  3-month window): only the (invoice, date) pairs inside the interval the invoice is open are built, and the
  balance comes from an ASOF join on the invoice's running total of reductions (payments, credit notes,
  discounts, write-offs). Aging, concentration, disputes, unapplied cash, allowance and the forecast's inputs at
  D and at the back-test month-ends are all group-bys over this one table;
* ``settled`` — one row per invoice settled by payments/credits (no write-off on or before), with its settlement
  date, aggregated per DSO window by a range join;
* the cash forecast as of D and as of the 6 back-test month-ends in one pass: write-off candidates, promises
  (the sequential "oldest item first" allocation is an overlap of running sums), days-beyond-terms per customer /
  segment / book rounded half up with exact integer arithmetic, weeks, and the cash actually received.

Money stays DECIMAL (exact) in SQL and Decimal in Python. Defaults of params.py are used (aging buckets 30/60/90/
120 by due date, 3-month DSO window, actual-days countback, window-total CEI sales, aging-rates allowance, the
default watch-list general rates, write-off candidates 180/120/90 days, trend_months 13, DSO trend 24).

Computed: all 40 KPIs of kpis.json, and the nine month-end trend tables of the pack (compared to its
tables/*.csv with ``--tables``): aging_trend, concentration_trend, disputes_trend, unapplied_cash_trend and
promises_kept_rate_trend (13 month-ends), dso_trend (24), allowance_backtest (24 month-ends before D: aging-rates
allowance against the next 12 months' write-offs of the items then open), roll_rates_monthly (12, item-level
migration) and cash_forecast_backtest_months (6). All equal to the product's at 100k and 1M invoices.

Left out: the pack's other tables (breakdowns by segment/collector/customer/currency, the item lists, roll-rate
averages and loss rates, vintage triangle, agency league and curves, watch-list movements, …), validation, and the
allowance methods the params do not book (roll_rate and vintage estimates at D: only the default ``aging_rates``
reaches kpis.json). Params are the defaults of params.py (below); other params are not read. The watch-list's
cash-flow present values use DOUBLE ``pow`` (the product uses 60-digit Decimal): equal to well within 1e-9.

Usage: python floor_full.py LEDGER_DIR --as-of 2026-10-31 [--json] [--memory-limit 3GB] [--threads N]
                           [--compare KPIS_JSON [--tables DIR]]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import json
import os
import sys
import time
from decimal import Decimal

import duckdb

REPORTING = "USD"
BOUNDS = (30, 60, 90, 120)
LABELS = ("current", "1-30", "31-60", "61-90", "91-120", "120+")
ALLOWANCE_RATES = {"current": "0.005", "1-30": "0.02", "31-60": "0.08", "61-90": "0.2", "91-120": "0.5", "120+": "1.0"}
GENERAL_RATES = {"pass": "0.01", "special_mention": "0.05", "substandard": "0.15", "doubtful": "0.5", "loss": "1.0"}
WINDOW_MONTHS = 3
TREND_MONTHS = 13  # report.trend_months: aging, concentration, disputes and unapplied-cash trends
DSO_TREND_MONTHS = 24
WRITE_OFF_MIN_DPD, NO_PAYMENT_DAYS, DISPUTED_DAYS = 180, 120, 90
WEEKS, BACKTEST_MONTHS, BACKTEST_WEEKS, MIN_SETTLED = 13, 6, 4, 3
ALLOWANCE_BACKTEST_MONTHS, BACKTEST_HORIZON = 24, 12  # allowance back-test: month-ends, horizon in months
RATIO = decimal.Context(prec=28)
ZERO = Decimal(0)

MONEY_KPIS = {
    "ar_total",
    "past_due_total",
    "unapplied_cash_total",
    "ar_net",
    "disputed_open_total",
    "allowance_total",
    "allowance_opening",
    "bad_debt_expense",
    "write_offs",
    "recoveries",
    "watchlist_balance",
    "specific_reserve",
    "general_reserve",
    "total_reserve",
    "agency_placed",
    "agency_collected",
    "agency_fees",
    "agency_net_back",
    "forecast_13w_total",
}


# ---------------------------------------------------------------------------------------------------- dates


def month_end(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def month_ends_up_to(as_of: dt.date, count: int) -> list[dt.date]:
    """as_of (when it is not a month-end, as the last) and the month-ends before it: ``count`` dates, oldest first."""
    ends = [as_of]
    cursor = as_of.replace(day=1) - dt.timedelta(days=1)
    while len(ends) < count:
        ends.append(cursor)
        cursor = cursor.replace(day=1) - dt.timedelta(days=1)
    return sorted(ends)


def window_start(end: dt.date, months: int = WINDOW_MONTHS) -> dt.date:
    index = end.year * 12 + end.month - 1 - (months - 1)
    return dt.date(index // 12, index % 12 + 1, 1)


def backtest_month_ends(as_of: dt.date) -> list[dt.date]:
    latest = as_of - dt.timedelta(days=7 * BACKTEST_WEEKS)
    cursor = latest if month_end(latest) == latest else latest.replace(day=1) - dt.timedelta(days=1)
    ends = []
    while len(ends) < BACKTEST_MONTHS:
        ends.append(cursor)
        cursor = cursor.replace(day=1) - dt.timedelta(days=1)
    return ends[::-1]


def values(rows: list[tuple], names: str) -> str:
    """A VALUES list as a sub-query with column names."""
    body = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
    return f"(SELECT * FROM (VALUES {body}) AS t({names}))"


def _literal(value: object) -> str:
    if isinstance(value, dt.date):
        return f"DATE '{value}'"
    if isinstance(value, Decimal):
        return f"{value}::DECIMAL(18, 6)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def bucket_case(dpd: str) -> str:
    parts = [f"WHEN {dpd} <= 0 THEN 0"] + [f"WHEN {dpd} <= {b} THEN {k + 1}" for k, b in enumerate(BOUNDS)]
    return "CASE " + " ".join(parts) + f" ELSE {len(BOUNDS) + 1} END"


def half_up_sql(numerator: str, denominator: str) -> str:
    """round(n / d) half away from zero, exactly (n, d DECIMAL with scale ≤ 8, d > 0), as an integer."""
    n, d = f"CAST(({numerator}) * 100000000 AS HUGEINT)", f"CAST(({denominator}) * 100000000 AS HUGEINT)"
    return f"(sign({n}) * ((2 * abs({n}) + {d}) // (2 * {d})))"


# ---------------------------------------------------------------------------------------------------- SQL


def setup(con: duckdb.DuckDBPyConnection, folder: str, as_of: dt.date, dates: list[dt.date]) -> None:
    """The shared tables: inv, events, fx (daily), items (open invoices at each date), settled."""

    def path(table: str) -> str:
        return "'" + os.path.join(folder, f"{table}.parquet").replace("'", "''") + "'"

    for table in (
        "invoices",
        "payments",
        "adjustments",
        "customers",
        "promises",
        "disputes",
        "unapplied_cash",
        "fx_rates",
        "gl_balances",
        "agency_placements",
        "agency_collections",
        "loans",
        "loan_cash_flows",
    ):
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({path(table)})")
    con.execute(f"""
    CREATE TABLE inv AS
    SELECT invoice_id, customer_id, invoice_date, due_date, amount,
           coalesce(upper(currency), '{REPORTING}') AS currency
    FROM invoices WHERE invoice_date <= DATE '{as_of}';

    CREATE TABLE events AS
    SELECT invoice_id, payment_date AS d, amount, 'payment' AS kind FROM payments WHERE payment_date <= DATE '{as_of}'
    UNION ALL
    SELECT invoice_id, adjustment_date, amount, kind FROM adjustments WHERE adjustment_date <= DATE '{as_of}';

    -- closing rate of every currency on every day (the latest rate dated on or before it), reporting = 1
    CREATE TABLE fx AS
    WITH days AS (
        SELECT unnest(generate_series(least((SELECT min(invoice_date) FROM inv), (SELECT min(rate_date) FROM fx_rates),
                                            (SELECT min(receipt_date) FROM unapplied_cash)),
                                      DATE '{as_of}' + 100, INTERVAL 1 DAY))::DATE AS d),
    currencies AS (SELECT DISTINCT upper(currency) AS currency FROM fx_rates WHERE upper(currency) <> '{REPORTING}'),
    rates AS (SELECT upper(currency) AS currency, rate_date, rate FROM fx_rates)
    SELECT c.currency, days.d, r.rate::DECIMAL(18, 6) AS rate
    FROM days CROSS JOIN currencies c ASOF LEFT JOIN rates r ON r.currency = c.currency AND r.rate_date <= days.d
    UNION ALL SELECT '{REPORTING}', d, 1::DECIMAL(18, 6) FROM days;

    CREATE TABLE dates AS SELECT * FROM {values([(d,) for d in dates], "d")};

    -- each invoice's running total of reductions, and the day it is closed (running total ≥ amount)
    CREATE TABLE running AS
    WITH daily AS (SELECT invoice_id, d, sum(amount) AS amount FROM events
                   WHERE kind IN ('payment', 'credit_note', 'discount', 'write_off') GROUP BY ALL)
    SELECT invoice_id, d, sum(amount) OVER (PARTITION BY invoice_id ORDER BY d) AS reduced FROM daily;

    CREATE TABLE items AS
    WITH closed AS (SELECT r.invoice_id, min(r.d) AS closed_on FROM running r JOIN inv USING (invoice_id)
                    WHERE r.reduced >= inv.amount GROUP BY ALL),
    pairs AS (SELECT dates.d AS me, inv.* FROM inv LEFT JOIN closed USING (invoice_id)
              JOIN dates ON dates.d >= inv.invoice_date AND (closed.closed_on IS NULL OR dates.d < closed.closed_on))
    SELECT p.me, p.invoice_id, p.customer_id, p.currency, p.invoice_date, p.due_date,
           p.me - p.due_date AS dpd, {bucket_case("p.me - p.due_date")} AS bucket,
           p.amount - coalesce(r.reduced, 0) AS balance, fx.rate,
           (p.amount - coalesce(r.reduced, 0)) * fx.rate AS amount_rep
    FROM pairs p ASOF LEFT JOIN running r ON r.invoice_id = p.invoice_id AND r.d <= p.me
    JOIN fx ON fx.currency = p.currency AND fx.d = p.me
    WHERE p.amount - coalesce(r.reduced, 0) > 0;

    -- invoices settled by payments/credits (no write-off on or before the day): settlement date and weight
    CREATE TABLE settled AS
    WITH daily AS (SELECT invoice_id, d, sum(amount) AS amount FROM events
                   WHERE kind IN ('payment', 'credit_note', 'discount') GROUP BY ALL),
    run AS (SELECT invoice_id, d, sum(amount) OVER (PARTITION BY invoice_id ORDER BY d) AS credited FROM daily),
    closed AS (SELECT run.invoice_id, min(run.d) AS closed_on FROM run JOIN inv USING (invoice_id)
               WHERE run.credited >= inv.amount GROUP BY ALL),
    written AS (SELECT invoice_id, min(d) AS first_write_off FROM events WHERE kind = 'write_off' GROUP BY ALL)
    SELECT inv.invoice_id, inv.customer_id, inv.invoice_date, inv.due_date,
           greatest(closed.closed_on, inv.invoice_date) AS settled_on, inv.amount * fx.rate AS weight
    FROM inv JOIN closed USING (invoice_id) LEFT JOIN written USING (invoice_id)
    JOIN fx ON fx.currency = inv.currency AND fx.d = inv.invoice_date
    WHERE written.first_write_off IS NULL OR written.first_write_off > closed.closed_on;
    """)


def sql_aging(con: duckdb.DuckDBPyConnection, trend: list[dt.date]) -> list[tuple]:
    """Per month-end of the aging trend: Σ amount per bucket, items, AR, past due."""
    cells = ", ".join(f"sum(amount_rep) FILTER (WHERE bucket = {k})" for k in range(len(LABELS)))
    return con.execute(f"""
    SELECT me, {cells}, count(*), sum(amount_rep), sum(amount_rep) FILTER (WHERE dpd > 0)
    FROM items WHERE me IN (SELECT * FROM {values([(d,) for d in trend], "d")}) GROUP BY me ORDER BY me""").fetchall()


def sql_concentration(con: duckdb.DuckDBPyConnection, trend: list[dt.date]) -> list[tuple]:
    """Per month-end: customers, AR, top-10 and top-20 balances, Σ balance² (ties by customer_id)."""
    return con.execute(f"""
    WITH per AS (SELECT me, customer_id, sum(amount_rep) AS balance FROM items
                 WHERE me IN (SELECT * FROM {values([(d,) for d in trend], "d")}) GROUP BY ALL),
    ranked AS (SELECT *, row_number() OVER (PARTITION BY me ORDER BY balance DESC, customer_id) AS rank
               FROM per WHERE balance > 0)
    SELECT me, count(*), sum(balance), sum(balance) FILTER (WHERE rank <= 10), sum(balance) FILTER (WHERE rank <= 20),
           sum(balance * balance)
    FROM ranked GROUP BY me ORDER BY me""").fetchall()


def sql_dso(con: duckdb.DuckDBPyConnection, as_of: dt.date, ends: list[dt.date]) -> dict[str, list[tuple]]:
    """The DSO-family inputs per trend month-end: AR, current AR, AR at the window's start − 1, window sales,
    settlement and terms sums; and monthly credit sales for the countback."""
    windows = values([(e, window_start(e), window_start(e) - dt.timedelta(days=1)) for e in ends], "me, ws, before")
    ar = con.execute(f"""
    WITH ar AS (SELECT me, sum(amount_rep) AS ar, coalesce(sum(amount_rep) FILTER (WHERE dpd <= 0), 0) AS current
                FROM items GROUP BY me),
    w AS {windows},
    sales AS (SELECT w.me, sum(inv.amount * fx.rate) AS sales FROM w
              JOIN inv ON inv.invoice_date BETWEEN w.ws AND w.me
              JOIN fx ON fx.currency = inv.currency AND fx.d = inv.invoice_date GROUP BY w.me),
    terms AS (SELECT w.me, sum(inv.amount * fx.rate) AS raised,
                     sum(inv.amount * fx.rate * (inv.due_date - inv.invoice_date)) AS raised_terms FROM w
              JOIN inv ON inv.invoice_date BETWEEN w.ws AND w.me
              JOIN fx ON fx.currency = inv.currency AND fx.d = inv.invoice_date GROUP BY w.me),
    speed AS (SELECT w.me, count(*) AS n, sum(greatest(0, s.settled_on - s.due_date)) AS late,
                     sum(s.settled_on - s.invoice_date) AS to_pay, sum(s.weight) AS weight,
                     sum(s.weight * greatest(0, s.settled_on - s.due_date)) AS w_late,
                     sum(s.weight * (s.settled_on - s.invoice_date)) AS w_to_pay,
                     sum(s.weight * (s.settled_on - s.due_date)) AS w_beyond,
                     coalesce(sum(s.weight) FILTER (WHERE s.settled_on <= s.due_date), 0) AS on_time
              FROM w JOIN settled s ON s.settled_on BETWEEN w.ws AND w.me GROUP BY w.me)
    SELECT w.me, w.ws, coalesce(ar.ar, 0), coalesce(ar.current, 0), coalesce(before.ar, 0), coalesce(sales.sales, 0),
           speed.n, speed.late, speed.to_pay, speed.weight, speed.w_late, speed.w_to_pay, speed.w_beyond, speed.on_time,
           terms.raised, terms.raised_terms
    FROM w LEFT JOIN ar USING (me) LEFT JOIN ar AS before ON before.me = w.before LEFT JOIN sales USING (me)
    LEFT JOIN speed USING (me) LEFT JOIN terms USING (me) ORDER BY w.me""").fetchall()
    monthly = con.execute("""
    SELECT date_trunc('month', inv.invoice_date)::DATE, sum(inv.amount * fx.rate), min(inv.invoice_date)
    FROM inv JOIN fx ON fx.currency = inv.currency AND fx.d = inv.invoice_date GROUP BY 1 ORDER BY 1""").fetchall()
    return {"windows": ar, "monthly": monthly}


def sql_disputes(con: duckdb.DuckDBPyConnection, as_of: dt.date, trend: list[dt.date]) -> dict[str, list[tuple]]:
    """Disputes open at each trend month-end (count, Σ amount; a null amount = the invoice's open balance), and the
    days to resolve of the disputes resolved in D's window."""
    opened = con.execute(f"""
    WITH t AS {values([(d,) for d in trend], "me")},
    open AS (SELECT t.me, x.invoice_id, x.amount FROM t JOIN disputes x
             ON x.opened_on <= t.me AND (x.resolved_on IS NULL OR x.resolved_on > t.me))
    SELECT open.me, count(*), sum(coalesce(open.amount, items.balance, 0) * fx.rate)
    FROM open JOIN inv USING (invoice_id) JOIN fx ON fx.currency = inv.currency AND fx.d = open.me
    LEFT JOIN items ON items.me = open.me AND items.invoice_id = open.invoice_id
    GROUP BY open.me ORDER BY open.me""").fetchall()
    resolved = con.execute(f"""
    SELECT count(*), sum(resolved_on - opened_on) FROM disputes
    WHERE resolved_on BETWEEN DATE '{window_start(as_of)}' AND DATE '{as_of}'""").fetchall()
    return {"open": opened, "resolved": resolved}


def sql_unapplied(con: duckdb.DuckDBPyConnection, trend: list[dt.date]) -> list[tuple]:
    return con.execute(f"""
    WITH t AS {values([(d,) for d in trend], "me")}
    SELECT t.me, coalesce(sum(u.amount * fx.rate) FILTER (WHERE u.customer_id IS NOT NULL), 0),
           coalesce(sum(u.amount * fx.rate) FILTER (WHERE u.customer_id IS NULL), 0)
    FROM t JOIN unapplied_cash u ON u.receipt_date <= t.me AND (u.applied_on IS NULL OR u.applied_on > t.me)
    JOIN fx ON fx.currency = coalesce(upper(u.currency), '{REPORTING}') AND fx.d = t.me
    GROUP BY t.me ORDER BY t.me""").fetchall()


def sql_allowance(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, object]:
    """Aging-rates allowance at D and at the previous month-end, the GL's opening allowance, the month's write-offs
    and recoveries (each at its date's rate)."""
    previous = as_of.replace(day=1) - dt.timedelta(days=1)
    rates = values([(k, Decimal(ALLOWANCE_RATES[label])) for k, label in enumerate(LABELS)], "bucket, rate")
    allowance = con.execute(f"""
    SELECT me, sum(amount_rep * r.rate) FROM items JOIN {rates} r USING (bucket)
    WHERE me IN (DATE '{as_of}', DATE '{previous}') GROUP BY me""").fetchall()
    gl = con.execute(f"""
    SELECT sum(amount) FROM gl_balances WHERE period_end = DATE '{previous}' AND account = 'allowance'""").fetchall()
    moves = con.execute(f"""
    SELECT coalesce(sum(e.amount * fx.rate) FILTER (WHERE e.kind = 'write_off'), 0),
           coalesce(sum(e.amount * fx.rate) FILTER (WHERE e.kind = 'recovery'), 0)
    FROM events e JOIN inv USING (invoice_id) JOIN fx ON fx.currency = inv.currency AND fx.d = e.d
    WHERE e.d BETWEEN DATE '{as_of.replace(day=1)}' AND DATE '{as_of}'""").fetchall()
    return {"allowance": dict(allowance), "gl_opening": gl[0][0], "moves": moves[0], "previous": previous}


def sql_allowance_backtest(con: duckdb.DuckDBPyConnection, as_of: dt.date, ends: list[dt.date]) -> list[tuple]:
    """Per past month-end: the aging-rates allowance and the write-offs, over the next 12 months (up to D, each at its
    date's rate), of the items open then."""
    rates = values([(k, Decimal(ALLOWANCE_RATES[label])) for k, label in enumerate(LABELS)], "bucket, rate")
    return con.execute(f"""
    WITH e AS {values([(d,) for d in ends], "me")},
    allowance AS (SELECT me, sum(amount_rep * r.rate) AS allowance FROM items JOIN {rates} r USING (bucket)
                  WHERE me IN (SELECT me FROM e) GROUP BY me),
    realised AS (SELECT i.me, sum(w.amount * fx.rate) AS amount
                 FROM items i JOIN events w ON w.invoice_id = i.invoice_id AND w.kind = 'write_off'
                  AND w.d > i.me AND w.d <= i.me + INTERVAL {BACKTEST_HORIZON} MONTH
                 JOIN fx ON fx.currency = i.currency AND fx.d = w.d
                 WHERE i.me IN (SELECT me FROM e) GROUP BY i.me)
    SELECT e.me, coalesce(allowance.allowance, 0), coalesce(realised.amount, 0),
           (e.me + INTERVAL {BACKTEST_HORIZON} MONTH)::DATE <= DATE '{as_of}'
    FROM e LEFT JOIN allowance USING (me) LEFT JOIN realised USING (me) ORDER BY e.me""").fetchall()


def sql_roll_rates(con: duckdb.DuckDBPyConnection, ends: list[dt.date]) -> list[tuple]:
    """Item-level roll rates per month-end m (metrics.md v1.1): per bucket k at the month-end b before m, the balance
    at b (denominator); the balance at m of the items then in a later bucket, or for the last bucket the write-offs
    dated in (b, m] (numerator); all at b's closing rate."""
    pairs = values([(m, m.replace(day=1) - dt.timedelta(days=1)) for m in ends], "m, b")
    last = len(LABELS) - 1
    return con.execute(f"""
    WITH p AS {pairs},
    was AS (SELECT p.m, i.* FROM p JOIN items i ON i.me = p.b),
    written AS (SELECT was.m, was.invoice_id, sum(w.amount) AS amount FROM was
                JOIN events w ON w.invoice_id = was.invoice_id AND w.kind = 'write_off'
                 AND w.d > was.me AND w.d <= was.m
                WHERE was.bucket = {last} GROUP BY ALL)
    SELECT was.m, was.bucket, sum(was.balance * was.rate),
           coalesce(sum(CASE WHEN was.bucket = {last} THEN written.amount * was.rate
                             WHEN now.bucket > was.bucket THEN now.balance * was.rate END), 0)
    FROM was LEFT JOIN items now ON now.me = was.m AND now.invoice_id = was.invoice_id
    LEFT JOIN written ON written.m = was.m AND written.invoice_id = was.invoice_id
    GROUP BY ALL ORDER BY ALL""").fetchall()


def sql_promises(con: duckdb.DuckDBPyConnection, as_of: dt.date, trend: list[dt.date]) -> list[tuple]:
    """Promises falling due in each trend month, by their status at D: kept (the customer's payments dated in
    [promised_on, due_by], up to D, at their dates' rates, reach the amount), else broken (due before D) or pending."""
    return con.execute(f"""
    WITH t AS {values([(d,) for d in trend], "me")},
    paid AS (SELECT inv.customer_id, e.d, e.amount * fx.rate AS amount FROM events e JOIN inv USING (invoice_id)
             JOIN fx ON fx.currency = inv.currency AND fx.d = e.d WHERE e.kind = 'payment'),
    status AS (
        SELECT p.promise_id, p.due_by, p.amount,
               CASE WHEN coalesce(sum(paid.amount), 0) >= p.amount THEN 'kept'
                    WHEN p.due_by < DATE '{as_of}' THEN 'broken' ELSE 'pending' END AS status
        FROM promises p LEFT JOIN paid ON paid.customer_id = p.customer_id AND paid.d BETWEEN p.promised_on AND p.due_by
        WHERE p.promised_on <= DATE '{as_of}' GROUP BY p.promise_id, p.due_by, p.amount)
    SELECT t.me, count(s.promise_id), count(*) FILTER (WHERE s.status = 'kept'),
           count(*) FILTER (WHERE s.status = 'broken'), count(*) FILTER (WHERE s.status = 'pending'),
           coalesce(sum(s.amount), 0)
    FROM t LEFT JOIN status s ON s.due_by BETWEEN date_trunc('month', t.me) AND t.me
    GROUP BY t.me ORDER BY t.me""").fetchall()


def sql_watchlist(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> tuple:
    grades = values([(g, Decimal(r)) for g, r in GENERAL_RATES.items()], "risk_grade, rate")
    return con.execute(f"""
    WITH snap AS (SELECT max(as_of_date) AS d FROM loans WHERE as_of_date <= DATE '{as_of}'),
    loan AS (SELECT l.* FROM loans l JOIN snap ON l.as_of_date = snap.d),
    pv AS (SELECT f.loan_id, sum(f.amount::DOUBLE / pow(1 + l.effective_rate::DOUBLE,
                                                          (f.flow_date - DATE '{as_of}') / 365.0)) AS pv
           FROM loan_cash_flows f JOIN snap ON f.as_of_date = snap.d JOIN loan l USING (loan_id) GROUP BY ALL),
    reserved AS (
        SELECT loan.*, g.rate AS general_rate, coalesce(pv.pv, 0) AS pv FROM loan
        LEFT JOIN pv USING (loan_id) LEFT JOIN {grades} g USING (risk_grade)
        WHERE loan.status IS NULL OR loan.status NOT IN ('reo', 'closed'))
    SELECT (SELECT count(*) FILTER (WHERE on_watch_list) FROM loan),
           (SELECT coalesce(sum(balance) FILTER (WHERE on_watch_list), 0) FROM loan),
           coalesce(sum(greatest(0, balance - coalesce(collateral_value, 0) * (1 - coalesce(cost_to_sell_rate, 0))))
                    FILTER (WHERE impairment_method = 'collateral'), 0),
           coalesce(sum(greatest(0, balance::DOUBLE - pv)) FILTER (WHERE impairment_method = 'cash_flows'), 0),
           coalesce(sum(balance * general_rate) FILTER (WHERE impairment_method IS NULL), 0)
    FROM reserved""").fetchall()[0]


def sql_agency(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> tuple:
    return con.execute(f"""
    WITH placed AS (SELECT * FROM agency_placements WHERE placed_date <= DATE '{as_of}'),
    collected AS (SELECT c.amount, p.fee_rate FROM agency_collections c JOIN placed p USING (placement_id)
                  WHERE c.collection_date <= DATE '{as_of}')
    SELECT (SELECT sum(placed_amount) FROM placed), coalesce(sum(amount), 0), coalesce(sum(amount * fee_rate), 0)
    FROM collected""").fetchall()[0]


def sql_forecast(con: duckdb.DuckDBPyConnection, as_of: dt.date, ends: list[dt.date]) -> dict[str, list[tuple]]:
    """The 13-week forecast as of D and as of each back-test month-end, and the cash received in the back-test
    weeks (shared/metrics.md § Cash-collection forecast; tests/oracle_cash.py)."""
    fd = values([(d, window_start(d, 12)) for d in [*ends, as_of]], "m, since")
    last_bucket = len(LABELS) - 1
    con.execute(f"""
    CREATE TABLE forecast_items AS
    WITH fd AS {fd},
    paid AS (SELECT inv.customer_id, e.d, e.amount, inv.currency FROM events e JOIN inv USING (invoice_id)
             WHERE e.kind = 'payment'),
    paying AS (SELECT DISTINCT fd.m, paid.customer_id FROM fd
               JOIN paid ON paid.d BETWEEN fd.m - {NO_PAYMENT_DAYS} AND fd.m),
    disputed AS (SELECT DISTINCT fd.m, x.invoice_id FROM fd JOIN disputes x
                 ON x.opened_on <= fd.m AND (x.resolved_on IS NULL OR x.resolved_on > fd.m)),
    open AS (
        SELECT i.me AS m, i.invoice_id, i.customer_id, i.invoice_date, i.due_date, i.dpd, i.bucket, i.amount_rep,
               disputed.invoice_id IS NOT NULL AS disputed, paying.customer_id IS NULL AS silent
        FROM items i JOIN fd ON fd.m = i.me
        LEFT JOIN disputed ON disputed.m = i.me AND disputed.invoice_id = i.invoice_id
        LEFT JOIN paying ON paying.m = i.me AND paying.customer_id = i.customer_id)
    SELECT *, CASE WHEN bucket = {last_bucket} THEN 'last bucket'
                   WHEN dpd >= {WRITE_OFF_MIN_DPD} OR (dpd > 0 AND silent) OR (disputed AND dpd >= {DISPUTED_DAYS})
                   THEN 'write-off candidate' END AS reason
    FROM open;

    -- promises pending at m (made ≤ m < due_by) with what is still owed: amount − the customer's payments since
    CREATE TABLE pending AS
    WITH fd AS {fd},
    paid AS (SELECT inv.customer_id, e.d, e.amount * fx.rate AS amount FROM events e JOIN inv USING (invoice_id)
             JOIN fx ON fx.currency = inv.currency AND fx.d = e.d WHERE e.kind = 'payment'),
    p AS (SELECT fd.m, pr.* FROM fd JOIN promises pr ON pr.promised_on <= fd.m AND pr.due_by > fd.m),
    owed AS (SELECT p.m, p.promise_id, p.customer_id, p.due_by,
                    p.amount - coalesce(sum(paid.amount), 0) AS owed
             FROM p LEFT JOIN paid ON paid.customer_id = p.customer_id
                                  AND paid.d BETWEEN p.promised_on AND least(p.due_by, p.m)
             GROUP BY p.m, p.promise_id, p.customer_id, p.due_by, p.amount)
    SELECT *, sum(owed) OVER (PARTITION BY m, customer_id ORDER BY due_by, promise_id) AS upto FROM owed
    WHERE owed > 0;
    """)
    return con.execute(f"""
    WITH fd AS {fd},
    queue AS (
        SELECT *, sum(amount_rep) OVER (PARTITION BY m, customer_id ORDER BY due_date, invoice_date, invoice_id)
                  AS upto
        FROM forecast_items WHERE reason IS NULL),
    -- the promise allocation, oldest item first: the overlap of the two running sums
    covered AS (
        SELECT q.m, q.invoice_id, p.due_by,
               least(q.upto, p.upto) - greatest(q.upto - q.amount_rep, p.upto - p.owed) AS amount
        FROM queue q JOIN pending p ON p.m = q.m AND p.customer_id = q.customer_id
         AND p.upto - p.owed < q.upto AND q.upto - q.amount_rep < p.upto),
    by_item AS (SELECT m, invoice_id, sum(amount) AS amount FROM covered GROUP BY ALL),
    -- days beyond terms over the invoices settled in the 12 months to m: per customer, segment, book
    speed AS (SELECT fd.m, s.customer_id, count(*) AS n, sum(s.weight) AS weight,
                     sum(s.weight * (s.settled_on - s.due_date)) AS beyond
              FROM fd JOIN settled s ON s.settled_on BETWEEN fd.since AND fd.m GROUP BY ALL),
    seg AS (SELECT speed.m, c.segment, sum(n) AS n, sum(weight) AS weight, sum(beyond) AS beyond
            FROM speed JOIN customers c USING (customer_id) WHERE c.segment IS NOT NULL GROUP BY ALL),
    book AS (SELECT m, sum(n) AS n, sum(weight) AS weight, sum(beyond) AS beyond FROM speed GROUP BY ALL),
    resolve AS (SELECT fd.m, count(x.dispute_id) AS n, coalesce(sum(x.resolved_on - x.opened_on), 0) AS days
                FROM fd LEFT JOIN disputes x ON x.resolved_on BETWEEN fd.since AND fd.m GROUP BY ALL),
    -- whole days per (date, customer) once, not per item
    dbt AS (
        SELECT k.m, k.customer_id,
               CASE WHEN own.n >= {MIN_SETTLED} THEN {half_up_sql("own.beyond", "own.weight")}
                    WHEN seg.n >= {MIN_SETTLED} THEN {half_up_sql("seg.beyond", "seg.weight")}
                    WHEN book.n > 0 THEN {half_up_sql("book.beyond", "book.weight")} ELSE 0 END AS days
        FROM (SELECT DISTINCT m, customer_id FROM queue) k
        LEFT JOIN speed own ON own.m = k.m AND own.customer_id = k.customer_id
        LEFT JOIN customers c ON c.customer_id = k.customer_id
        LEFT JOIN seg ON seg.m = k.m AND seg.segment = c.segment LEFT JOIN book ON book.m = k.m),
    resolve_days AS (SELECT m, CASE WHEN n > 0 THEN {half_up_sql("days", "n")} ELSE 0 END AS days FROM resolve),
    shift AS (
        SELECT q.m, q.invoice_id, q.due_date, q.disputed, q.amount_rep - coalesce(b.amount, 0) AS amount,
               dbt.days + CASE WHEN q.disputed THEN r.days ELSE 0 END AS days
        FROM queue q LEFT JOIN by_item b USING (m, invoice_id) JOIN dbt USING (m, customer_id)
        JOIN resolve_days r USING (m)),
    expected AS (SELECT m, due_by AS expected, amount FROM covered
                 UNION ALL SELECT m, (due_date + days::INTEGER)::DATE, amount FROM shift WHERE amount > 0),
    weeks AS (SELECT m, greatest(expected - m - 1, 0) // 7 + 1 AS week, sum(amount) AS amount
              FROM expected GROUP BY ALL),
    actual AS (SELECT f.m, (e.d - f.m - 1) // 7 + 1 AS week, sum(e.amount * fx.rate) AS amount
               FROM forecast_items f JOIN events e ON e.invoice_id = f.invoice_id AND e.kind = 'payment'
                AND e.d > f.m AND e.d <= f.m + {7 * BACKTEST_WEEKS}
               JOIN inv ON inv.invoice_id = f.invoice_id JOIN fx ON fx.currency = inv.currency AND fx.d = f.m
               GROUP BY ALL)
    SELECT m, week, coalesce(weeks.amount, 0), coalesce(actual.amount, 0)
    FROM weeks FULL JOIN actual USING (m, week) WHERE week <= {WEEKS} ORDER BY m, week""").fetchall()


# ---------------------------------------------------------------------------------------------------- Python


def ratio(numerator: Decimal | int | None, denominator: Decimal | int | None, scale: int = 1) -> Decimal | None:
    if numerator is None or not denominator:
        return None
    with decimal.localcontext(RATIO):
        return Decimal(numerator) * scale / Decimal(denominator)


def countback(ar: Decimal, end: dt.date, monthly: dict[dt.date, Decimal], first_day: dt.date) -> Decimal | None:
    remaining, total = ar, ZERO
    with decimal.localcontext(RATIO):
        while end >= first_day:
            start = end.replace(day=1)
            days = (end - start).days + 1
            sales = monthly.get(start, ZERO)
            if remaining == 0:
                return total
            if remaining >= sales:
                remaining -= sales
                total += days
            else:
                return total + remaining * days / sales
            end = start - dt.timedelta(days=1)
    return total if remaining == 0 else None


def dso_rows(raw: dict[str, list[tuple]]) -> list[list[object]]:
    monthly = {row[0]: row[1] for row in raw["monthly"]}
    first_day = min(row[2] for row in raw["monthly"])
    rows = []
    for me, ws, ar, current, before, sales, n, late, to_pay, weight, w_late, w_to_pay, w_beyond, on_time, *terms in raw[
        "windows"
    ]:
        days = (me - ws).days + 1
        dso, bpdso = ratio(ar * days, sales), ratio(current * days, sales)
        denominator = before + sales - current
        rows.append(
            [
                me,
                ar,
                current,
                ar - current,
                sales,
                days,
                dso,
                countback(ar, me, monthly, first_day),
                bpdso,
                None if dso is None else dso - bpdso,
                ratio(before + sales - ar, denominator, 100),
                ratio(late, n),
                ratio(w_late, weight),
                ratio(to_pay, n),
                ratio(w_to_pay, weight),
                ratio(terms[1], terms[0]),
                ratio(w_beyond, weight),
                ratio(on_time, weight, 100),
            ]
        )
    return rows


def compute(folder: str, as_of: dt.date, threads: int | None, memory_limit: str | None) -> dict[str, object]:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    dso_ends = month_ends_up_to(as_of, DSO_TREND_MONTHS)
    trend = dso_ends[-TREND_MONTHS:]
    backtest = backtest_month_ends(as_of)
    previous = as_of.replace(day=1) - dt.timedelta(days=1)
    allowance_ends = month_ends_up_to(previous, ALLOWANCE_BACKTEST_MONTHS)
    roll_ends = month_ends_up_to(as_of, 12)  # allowance.lookback_months
    # every date an open-item balance is needed at: one pass builds them all
    dates = sorted(
        set(dso_ends)
        | {window_start(e) - dt.timedelta(days=1) for e in dso_ends}
        | set(backtest)
        | set(allowance_ends)
        | {m.replace(day=1) - dt.timedelta(days=1) for m in roll_ends}
        | {as_of}
    )
    steps = {
        "setup (fx, items at every date, settled)": lambda: setup(con, folder, as_of, dates),
        "aging": lambda: sql_aging(con, trend),
        "concentration": lambda: sql_concentration(con, trend),
        "dso": lambda: sql_dso(con, as_of, dso_ends),
        "disputes": lambda: sql_disputes(con, as_of, trend),
        "unapplied": lambda: sql_unapplied(con, trend),
        "allowance": lambda: sql_allowance(con, as_of),
        "allowance_backtest": lambda: sql_allowance_backtest(con, as_of, allowance_ends),
        "roll_rates": lambda: sql_roll_rates(con, roll_ends),
        "promises": lambda: sql_promises(con, as_of, trend),
        "watchlist": lambda: sql_watchlist(con, as_of),
        "agency": lambda: sql_agency(con, as_of),
        "forecast": lambda: sql_forecast(con, as_of, backtest),
    }
    raw: dict[str, object] = {}
    timings: dict[str, float] = {}
    for name, step in steps.items():
        begin = time.perf_counter()
        raw[name] = step()
        timings[name] = round(time.perf_counter() - begin, 3)
    aging, concentration, dso = raw["aging"], raw["concentration"], raw["dso"]
    disputes, unapplied, allowance = raw["disputes"], raw["unapplied"], raw["allowance"]
    watch, agency, forecast = raw["watchlist"], raw["agency"], raw["forecast"]

    kpis: dict[str, object] = {}
    # aging and concentration at D
    aging_trend = [
        [me, *(c or ZERO for c in cells), n, total, past, ratio(past, total, 100)]
        for me, *cells, n, total, past in aging
    ]
    at_d = aging_trend[-1]
    kpis.update(ar_total=at_d[8], open_items=at_d[7], past_due_total=at_d[9])
    concentration_trend = [
        [me, n, total, ratio(top10, total, 100), ratio(top20, total, 100), ratio(squares * 10000, total * total)]
        for me, n, total, top10, top20, squares in concentration
    ]
    kpis.update(top10_share_pct=concentration_trend[-1][3], hhi=concentration_trend[-1][5])
    unapplied_trend = [
        [me, identified, unidentified, identified + unidentified] for me, identified, unidentified in unapplied
    ]
    unapplied_total = unapplied_trend[-1][3] if unapplied_trend and unapplied_trend[-1][0] == as_of else ZERO
    kpis.update(unapplied_cash_total=unapplied_total, ar_net=kpis["ar_total"] - unapplied_total)
    disputes_trend = [[me, n, amount] for me, n, amount in disputes["open"]]
    resolved_n, resolved_days = disputes["resolved"][0]
    kpis.update(
        disputes_open=disputes_trend[-1][1],
        disputed_open_total=disputes_trend[-1][2],
        dispute_days_to_resolve=ratio(resolved_days, resolved_n),
    )
    # DSO family
    dso_trend = dso_rows(dso)
    names = [
        "dso",
        "dso_countback",
        "bpdso",
        "add",
        "cei_pct",
        "days_late_simple",
        "days_late_weighted",
        "days_to_pay_simple",
        "days_to_pay_weighted",
        "terms_weighted",
        "dbt_weighted",
        "on_time_pct",
    ]
    kpis.update(zip(names, dso_trend[-1][6:]))
    # allowance
    closing = allowance["allowance"].get(as_of, ZERO)
    opening = allowance["gl_opening"]
    if opening is None:
        opening = allowance["allowance"].get(allowance["previous"], ZERO)
    write_offs, recoveries = allowance["moves"]
    kpis.update(
        allowance_total=closing,
        allowance_opening=opening,
        bad_debt_expense=closing - opening + write_offs - recoveries,
        write_offs=write_offs,
        recoveries=recoveries,
    )
    # watch list
    loans, balance, collateral, cash_flows, general = watch
    specific = collateral + Decimal(repr(cash_flows))
    kpis.update(
        watchlist_loans=loans,
        watchlist_balance=balance,
        specific_reserve=specific,
        general_reserve=general,
        total_reserve=specific + general,
    )
    placed, collected, fees = agency
    kpis.update(
        agency_placed=placed,
        agency_collected=collected,
        agency_fees=fees,
        agency_net_back=collected - fees,
        agency_liquidation_pct=ratio(collected, placed, 100),
    )
    # forecast and back-test
    kpis["forecast_13w_total"] = sum((f for m, _, f, _ in forecast if m == as_of), ZERO)
    cells = [(f, a) for m, week, f, a in forecast if m != as_of and week <= BACKTEST_WEEKS]
    received = sum((a for _, a in cells), ZERO)
    kpis["forecast_wape_pct"] = ratio(sum((abs(f - a) for f, a in cells), ZERO), received, 100)
    kpis["forecast_bias_pct"] = ratio(sum((f - a for f, a in cells), ZERO), received, 100)
    forecast_months = []
    for m in backtest:
        month = [(f, a) for end, week, f, a in forecast if end == m and week <= BACKTEST_WEEKS]
        f, a = sum((c[0] for c in month), ZERO), sum((c[1] for c in month), ZERO)
        wrong = sum((abs(c[0] - c[1]) for c in month), ZERO)
        forecast_months.append([m, f, a, f - a, wrong, ratio(wrong, a, 100), ratio(f - a, a, 100)])
    allowance_backtest = [
        [me, predicted, actual, predicted - actual, ratio(predicted, actual, 100), "true" if complete else "false"]
        for me, predicted, actual, complete in raw["allowance_backtest"]
    ]
    rolls: dict[dt.date, list[object]] = {m: [None] * len(LABELS) for m in roll_ends}
    for m, bucket, denominator, numerator in raw["roll_rates"]:
        rolls[m][bucket] = ratio(numerator, denominator, 100)
    promises_trend = [
        [me, due, kept, broken, pending, ratio(kept, kept + broken, 100), amount]
        for me, due, kept, broken, pending, amount in raw["promises"]
    ]
    trends = {
        "aging_trend": aging_trend,
        "dso_trend": dso_trend,
        "concentration_trend": concentration_trend,
        "disputes_trend": disputes_trend,
        "unapplied_cash_trend": unapplied_trend,
        "promises_kept_rate_trend": promises_trend,
        "allowance_backtest": allowance_backtest,
        "roll_rates_monthly": [[m, *rates] for m, rates in rolls.items()],
        "cash_forecast_backtest_months": forecast_months,
    }
    return {"seconds_sql": round(sum(timings.values()), 3), "seconds_by_step": timings, "kpis": kpis, "trends": trends}


# ---------------------------------------------------------------------------------------------------- compare


def _number(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except decimal.InvalidOperation:
        return None


def close(mine: object, theirs: object, money: bool) -> bool:
    a, b = _number(mine), _number(theirs)
    if a is None or b is None:
        return (mine in (None, "")) == (theirs in (None, "")) and (a is None and b is None) and str(mine) == str(theirs)
    return abs(a - b) <= max(abs(b) * Decimal("1e-9"), Decimal("0.005") if money else ZERO)


def compare(result: dict[str, object], kpis_json: str, tables: str | None) -> list[str]:
    with open(kpis_json) as handle:
        theirs = json.load(handle, parse_float=Decimal)
    mine = result["kpis"]
    problems: list[str] = []
    checked: list[str] = []
    for name, value in theirs.items():
        if name not in mine:
            problems.append(f"kpi {name}: not computed (product {value})")
        elif not close(mine[name], value, name in MONEY_KPIS):
            problems.append(f"kpi {name}: floor {mine[name]} != product {value}")
    for name in sorted(set(mine) - set(theirs)):
        problems.append(f"kpi {name}: not in {kpis_json}")
    if tables:
        for table, rows in result["trends"].items():
            path = os.path.join(tables, f"{table}.csv")
            if not os.path.exists(path):
                problems.append(f"table {table}: no {path}")
                continue
            with open(path, newline="") as handle:
                header, *expected = list(csv.reader(handle))
            checked.append(f"{table} ({len(rows)} rows)")
            if len(expected) != len(rows):
                problems.append(f"table {table}: {len(rows)} rows, the pack has {len(expected)}")
            for row, want in zip(rows, expected):
                if len(row) != len(want):
                    problems.append(f"table {table} {want[0]}: {len(row)} columns, the pack has {len(want)}")
                for column, a, b in zip(header, row, want):
                    a_text = a.isoformat() if isinstance(a, dt.date) else ("" if a is None else str(a))
                    if a_text != b and not close(a_text, b, True):
                        problems.append(f"table {table} {want[0]} {column}: floor {a_text} != pack {b}")
    print(f"compared {len(theirs)} KPIs" + (f" and the tables {', '.join(checked)}" if checked else ""))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger")
    parser.add_argument("--as-of", default="2026-10-31", type=dt.date.fromisoformat)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--memory-limit")
    parser.add_argument("--compare", metavar="KPIS_JSON")
    parser.add_argument("--tables", metavar="DIR")
    args = parser.parse_args(argv)
    result = compute(args.ledger, args.as_of, args.threads, args.memory_limit)
    if args.json:

        def plain(value: object) -> object:
            if isinstance(value, Decimal):
                return float(value)
            if isinstance(value, dt.date):
                return value.isoformat()
            raise TypeError(type(value))

        print(json.dumps(result, default=plain))
    else:
        print(f"seconds_sql: {result['seconds_sql']}")
        for name, seconds in result["seconds_by_step"].items():
            print(f"  {name:40} {seconds:8.3f} s")
        for name, value in result["kpis"].items():
            print(f"  {name:26} {value}")
        for name, rows in result["trends"].items():
            print(f"  {name}: {len(rows)} month-ends")
    if args.compare:
        problems = compare(result, args.compare, args.tables)
        for problem in problems:
            print(problem)
        print(f"compare: {len(problems)} mismatch(es)")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
