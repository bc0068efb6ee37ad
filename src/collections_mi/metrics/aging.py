"""Aging of open receivables (shared/metrics.md § Aging), breakdowns, trend and reconciliation."""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import pandas as pd

from collections_mi.config.params import AgingConfig, Params
from collections_mi.core.money import MONEY_CONTEXT, ZERO, dsum, percent_of, round_money
from collections_mi.core.periods import first_of_month_back, month_ends_up_to, previous_month_end
from collections_mi.core.values import UNASSIGNED
from collections_mi.metrics.balances import bucket_expr, open_items
from collections_mi.metrics.book import Book
from collections_mi.metrics.concentration import (
    concentration_table,
    concentration_trend,
    credit_utilisation,
    hhi,
    top_share_pct,
)
from collections_mi.metrics.derived import reductions
from collections_mi.metrics.disputes import dispute_view, unapplied_view
from collections_mi.metrics.fx import FxRates, convert_column
from collections_mi.metrics.published import AgingKpis, AgingResult, AgingTables
from collections_mi.metrics.result import Unavailable
from collections_mi.sources.ledger import fetch

CUSTOMER_ATTRIBUTES = ("name", "segment", "region", "collector", "credit_limit")


def aged_items(
    book: Book, aging: AgingConfig, as_of: dt.date | Sequence[dt.date], *, within: ir.Table | None = None
) -> ibis.Table:
    """Open items with their ``bucket`` (per ``aging``) and ``past_due`` flag (days past due > 0). ``within``: these
    aged items at the dates and others, computed once (e.g. materialised for a whole section): its rows at the dates
    are read instead of computing them again."""
    if within is not None:
        return within.filter(within.as_of.isin([as_of] if isinstance(as_of, dt.date) else list(as_of)))
    items = open_items(book, as_of)
    age = items.days_past_due if aging.basis == "due_date" else items.days_since_invoice
    return items.mutate(
        bucket=bucket_expr(age, aging.labels, aging.buckets, aging.basis),
        past_due=items.days_past_due > 0,
    )


def _customer_cells(book: Book, aging: AgingConfig) -> pd.DataFrame:
    """Open balances at as_of grouped by customer × currency × bucket × past-due × disputed, with customer fields."""
    items = aged_items(book, aging, book.as_of)
    cells = items.group_by(["customer_id", "currency", "bucket", "past_due", "disputed"]).aggregate(
        items=items.count(), balance=items.open_balance.sum()
    )
    customers = book.customers
    cells = cells.left_join(customers.select("customer_id", *CUSTOMER_ATTRIBUTES), "customer_id").drop(
        "customer_id_right"
    )
    frame = fetch(cells.order_by(["customer_id", "currency", "bucket", "past_due", "disputed"]))
    for column in ("segment", "region", "collector"):
        frame[column] = frame[column].fillna(UNASSIGNED)
    frame["name"] = frame["name"].fillna(frame["customer_id"])
    return frame


def bucket_table(rows: Iterable[tuple[str, int, Decimal]], labels: Sequence[str]) -> pd.DataFrame:
    """tables/aging.csv: bucket, items, amount, share_pct — every configured bucket, in order."""
    items: dict[str, int] = defaultdict(int)
    amounts: dict[str, list[Decimal]] = defaultdict(list)
    for bucket, count, amount in rows:
        items[bucket] += int(count)
        amounts[bucket].append(amount)
    sums = {b: dsum(amounts[b]) for b in labels}
    total = dsum(sums.values())
    return pd.DataFrame(
        {
            "bucket": list(labels),
            "items": [items[b] for b in labels],
            "amount": [sums[b] for b in labels],
            "share_pct": [percent_of(sums[b], total) for b in labels],
        }
    )


def breakdown(cells: pd.DataFrame, by: str | list[str], labels: Sequence[str]) -> pd.DataFrame:
    """Wide breakdown: one row per ``by`` value with items, each bucket's amount, total, past-due and shares."""
    keys = [by] if isinstance(by, str) else list(by)
    # running sums from zero in row order: the Decimals dsum() of each list of amounts gives
    acc: dict[tuple, dict[str, Decimal]] = defaultdict(dict)
    counts: dict[tuple, int] = defaultdict(int)
    with decimal.localcontext(MONEY_CONTEXT):
        for record in zip(*(cells[c].tolist() for c in [*keys, "bucket", "amount", "items", "past_due"])):
            key = tuple(record[: len(keys)])
            bucket, amount, count, past_due = record[len(keys) :]
            sums = acc[key]
            counts[key] += int(count)
            if amount is None or amount != amount:  # as dsum: nothing to add
                continue
            sums[bucket] = sums.get(bucket, ZERO) + amount
            sums["__total"] = sums.get("__total", ZERO) + amount
            if past_due:
                sums["__past_due"] = sums.get("__past_due", ZERO) + amount
    grand_total = dsum(cells["amount"])
    rows = []
    for key in sorted(acc, key=lambda k: tuple("" if v is None else str(v) for v in k)):
        row = dict(zip(keys, key))
        row["items"] = counts[key]
        for label in labels:
            row[label] = acc[key].get(label, ZERO)
        total = acc[key].get("__total", ZERO)
        past_due = acc[key].get("__past_due", ZERO)
        row.update(
            total=total,
            past_due=past_due,
            past_due_pct=percent_of(past_due, total),
            share_pct=percent_of(total, grand_total),
        )
        rows.append(row)
    columns = keys + ["items", *labels, "total", "past_due", "past_due_pct", "share_pct"]
    return (
        pd.DataFrame(rows, columns=columns).sort_values("total", ascending=False, kind="stable").reset_index(drop=True)
    )


def currency_breakdown(cells: pd.DataFrame, fx: FxRates, as_of: dt.date) -> pd.DataFrame:
    """Open AR by currency: original-currency amount, closing rate, reporting amount and share."""
    total = dsum(cells["amount"])
    rows = []
    for currency, group in cells.groupby("currency", sort=True):
        original = dsum(group["balance"])
        amount = dsum(group["amount"])
        rows.append(
            {
                "currency": currency,
                "items": int(group["items"].sum()),
                "amount_original": original,
                "rate": fx.rate(currency, as_of),
                "amount": amount,
                "share_pct": percent_of(amount, total),
            }
        )
    return pd.DataFrame(rows, columns=["currency", "items", "amount_original", "rate", "amount", "share_pct"])


def aging_trend(book: Book, aging: AgingConfig, months: int) -> pd.DataFrame:
    """AR by bucket at each of the last ``months`` month-ends (one engine pass for all dates)."""
    dates = month_ends_up_to(book.as_of, months)
    items = aged_items(book, aging, dates)
    grouped = items.group_by(["as_of", "currency", "bucket", "past_due"]).aggregate(
        items=items.count(), balance=items.open_balance.sum()
    )
    frame = fetch(grouped)
    frame["amount"] = convert_column(frame, book.fx, "balance", "currency", "as_of")
    labels = aging.labels
    rows = []
    for month in dates:
        month_rows = frame[frame["as_of"] == month]
        row: dict[str, object] = {"month_end": month}
        for label in labels:
            row[label] = dsum(month_rows.loc[month_rows["bucket"] == label, "amount"])
        total = dsum(month_rows["amount"])
        past_due = dsum(month_rows.loc[month_rows["past_due"], "amount"])
        row.update(
            open_items=int(month_rows["items"].sum()),
            ar_total=total,
            past_due_total=past_due,
            past_due_pct=percent_of(past_due, total),
        )
        rows.append(row)
    return pd.DataFrame(
        rows, columns=["month_end", *labels, "open_items", "ar_total", "past_due_total", "past_due_pct"]
    )


def ar_rollforward(book: Book, opening: Decimal, closing: Decimal) -> pd.DataFrame:
    """Opening AR + credit sales − cash − credits − write-offs ± FX revaluation = closing AR, for as_of's month.

    Each movement is converted at the closing rate of the day it changed the balance (the later of its own
    date and the invoice date); with one currency the FX line is exactly zero.
    """
    as_of, fx = book.as_of, book.fx
    start = previous_month_end(as_of)
    inv = book.invoices
    sales = inv.filter((inv.invoice_date > start) & (inv.invoice_date <= as_of))
    sales = fetch(sales.group_by(["currency", "invoice_date"]).aggregate(amount=sales.amount.sum()))
    sales_total = dsum(convert_column(sales, fx, "amount", "currency", "invoice_date"))
    events = reductions(book.payments, book.adjustments).join(
        inv.select("invoice_id", "currency", "invoice_date"), "invoice_id"
    )
    events = events.mutate(effective=ibis.greatest(events.event_date, events.invoice_date))
    events = events.filter((events.effective > start) & (events.effective <= as_of) & (events.event_date <= as_of))
    moved = fetch(events.group_by(["kind", "currency", "effective"]).aggregate(amount=events.amount.sum()))
    moved["converted"] = convert_column(moved, fx, "amount", "currency", "effective")
    by_kind = {
        kind: dsum(moved.loc[moved["kind"] == kind, "converted"])
        for kind in ("payment", "credit_note", "discount", "write_off")
    }
    movements = sales_total - by_kind["payment"] - by_kind["credit_note"] - by_kind["discount"] - by_kind["write_off"]
    revaluation = closing - opening - movements
    lines = [
        (f"Opening AR ({start})", opening),
        ("+ Credit sales", sales_total),
        ("− Cash applied", -by_kind["payment"]),
        ("− Credit notes", -by_kind["credit_note"]),
        ("− Discounts", -by_kind["discount"]),
        ("− Write-offs", -by_kind["write_off"]),
        ("± FX revaluation", revaluation),
        (f"Closing AR ({as_of})", closing),
    ]
    return pd.DataFrame(lines, columns=["line", "amount"])


def gl_reconciliation(
    gl_balances: ir.Table | None,
    as_of: dt.date,
    reporting_currency: str,
    ar_total: Decimal,
    open_items_count: int,
    bucket_sum: Decimal,
    open_items_list: Callable[[], pd.DataFrame],
    absent: str = "no gl_balances table in the source",
    unapplied: Decimal | None = None,
) -> pd.DataFrame:
    """Aging total = Σ open items = gl_balances.ar_control at as_of; differences shown, never hidden. ``absent``:
    why the GL line is empty when there is no ``gl_balances`` (an audience's book leaves it out). ``unapplied``: cash
    received but not applied at as_of (the ledger's unapplied_cash), shown as a reconciling item — a GL ar_control
    net of it reconciles."""
    lines: list[dict[str, object]] = [
        {
            "check": "Aging buckets total",
            "amount": bucket_sum,
            "difference": None,
            "status": "",
            "explanation": f"{open_items_count} open items",
        },
        {
            "check": "Σ open items (subledger)",
            "amount": ar_total,
            "difference": bucket_sum - ar_total,
            "status": "ok" if bucket_sum == ar_total else "DIFFERENCE",
            "explanation": "",
        },
    ]
    if unapplied is not None:
        lines.append(
            {
                "check": "Unapplied cash (reconciling item)",
                "amount": -unapplied,
                "difference": None,
                "status": "",
                "explanation": "receipts not yet applied to invoices; AR net of them "
                f"{round_money(ar_total - unapplied, reporting_currency):f}",
            }
        )
    if gl_balances is None:
        lines.append(
            {
                "check": "GL ar_control",
                "amount": None,
                "difference": None,
                "status": "not provided",
                "explanation": absent,
            }
        )
        return pd.DataFrame(lines)
    gl = gl_balances.filter((gl_balances.account == "ar_control") & (gl_balances.period_end == as_of))
    gl_amounts = fetch(gl.select("amount"))["amount"]
    if gl_amounts.empty:
        lines.append(
            {
                "check": "GL ar_control",
                "amount": None,
                "difference": None,
                "status": "not provided",
                "explanation": f"gl_balances has no ar_control row for {as_of}",
            }
        )
        return pd.DataFrame(lines)
    gl_total = dsum(gl_amounts)
    difference = gl_total - ar_total
    shown_difference = round_money(difference, reporting_currency)
    net_difference = None if unapplied is None else round_money(gl_total - (ar_total - unapplied), reporting_currency)
    if shown_difference == 0:
        status = "ok"
        explanation = "" if difference == 0 else f"sub-cent FX rounding of {difference:f}"
    elif net_difference == 0 and unapplied:
        status = "ok"
        explanation = "GL ar_control is net of unapplied cash: the difference is the reconciling item above"
    else:
        status = "DIFFERENCE"
        explanation = _explain_difference(shown_difference, open_items_list(), reporting_currency)
    lines.append(
        {
            "check": "GL ar_control",
            "amount": gl_total,
            "difference": difference,
            "status": status,
            "explanation": explanation,
        }
    )
    return pd.DataFrame(lines)


def _explain_difference(difference: Decimal, items: pd.DataFrame, currency: str) -> str:
    """Open items whose amount equals the difference: the usual culprits (posted in one ledger only)."""
    target = abs(difference)
    matches = items[[round_money(a, currency) == target for a in items["amount"].tolist()]] if len(items) else items
    if len(matches):
        ids = ", ".join(matches["invoice_id"].astype(str).head(5))
        return f"GL − subledger = {difference}; open items of exactly that amount: {ids}"
    return (
        f"GL − subledger = {difference}; no single open item matches — check postings to the control account "
        "outside the subledger (manual journals, unapplied cash, timing)"
    )


def open_item_list(book: Book, aging: AgingConfig, *, disputed_only: bool = False) -> pd.DataFrame:
    """Invoice-level open items at as_of (all, or only disputed ones) with customer and reporting amount."""
    items = aged_items(book, aging, book.as_of)
    if disputed_only:
        items = items.filter(items.disputed)
    customers = book.customers
    items = items.left_join(customers.select("customer_id", "name"), "customer_id").drop("customer_id_right")
    frame = fetch(
        items.select(
            "invoice_id",
            "customer_id",
            "name",
            "invoice_date",
            "due_date",
            "currency",
            "amount",
            "open_balance",
            "days_past_due",
            "bucket",
            "disputed",
        ).order_by([ibis.desc("days_past_due"), "invoice_id"])
    )
    frame["open_balance_reporting"] = convert_column(frame, book.fx, "open_balance", "currency", book.as_of)
    return frame


def aging_item_dates(params: Params) -> list[dt.date]:
    """Every date :func:`compute_aging` reads open items at under ``params``: as_of and the trend's month-ends (the
    aging trend, disputes and concentration)."""
    return sorted({params.as_of, *month_ends_up_to(params.as_of, params.report.trend_months)})


def compute_aging(book: Book, params: Params) -> AgingResult:
    """Everything the aging section shows: KPIs ar_total, open_items, past_due_total and its tables."""
    labels = params.aging.labels
    fx = book.fx
    cells = _customer_cells(book, params.aging)
    cells["amount"] = convert_column(cells, fx, "balance", "currency", params.as_of)
    buckets = bucket_table(zip(cells["bucket"].tolist(), cells["items"].tolist(), cells["amount"].tolist()), labels)
    ar_total = dsum(cells["amount"])
    past_due_total = dsum(cells.loc[cells["past_due"].astype(bool), "amount"])
    open_items_count = int(cells["items"].sum())

    by_customer = breakdown(cells, ["customer_id", "name", "segment", "collector"], labels)
    limits = cells.drop_duplicates("customer_id").set_index("customer_id")["credit_limit"]
    by_customer["credit_limit"] = [limits.get(c) for c in by_customer["customer_id"].tolist()]
    by_customer["over_limit"] = [
        (total - limit) if limit is not None and limit == limit and total > limit else None
        for total, limit in zip(by_customer["total"].tolist(), by_customer["credit_limit"].tolist())
    ]
    over_limit = (
        by_customer[by_customer["over_limit"].notna()]
        .sort_values("over_limit", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    disputed = open_item_list(book, params.aging, disputed_only=True)
    disputed_cells = cells[cells["disputed"].astype(bool)]
    disputed_buckets = bucket_table(
        zip(disputed_cells["bucket"].tolist(), disputed_cells["items"].tolist(), disputed_cells["amount"].tolist()),
        labels,
    )

    trend = aging_trend(book, params.aging, params.report.trend_months)
    # the trend's month-ends are its rows' labels: opening AR is the previous month-end's (none in a 1-month trend)
    opening = dict(zip(trend["month_end"].tolist(), trend["ar_total"].tolist())).get(
        previous_month_end(params.as_of), ZERO
    )
    # disputes and unapplied cash (metrics.md v1.1), when the ledger has the tables
    trend_dates = list(trend["month_end"])
    window_start = first_of_month_back(params.as_of, params.dso.window_months - 1)
    disputes = None if book.disputes is None else dispute_view(book, book.disputes, window_start, trend_dates)
    unapplied = (
        None if book.unapplied_cash is None else unapplied_view(book, book.unapplied_cash, ar_total, trend_dates)
    )
    absent = Unavailable("the ledger has no disputes / unapplied_cash table")
    gl = gl_reconciliation(
        book.gl_balances,
        params.as_of,
        params.reporting_currency,
        ar_total,
        open_items_count,
        dsum(buckets["amount"]),
        lambda: _items_for_explanations(book, params.aging),
        book.shape.left_out.get("gl_balances", "no gl_balances table in the source"),
        unapplied=None if unapplied is None else unapplied.unapplied_cash_total,
    )
    rollforward = ar_rollforward(book, opening, ar_total)

    # concentration and credit (metrics.md v1.1): the same converted balances as ar_total, per customer
    per_customer: dict[str, Decimal] = {}
    with decimal.localcontext(MONEY_CONTEXT):  # cells come ordered by customer_id
        for customer, amount in zip(cells["customer_id"].tolist(), cells["amount"].tolist()):
            so_far = per_customer.get(customer, ZERO)
            per_customer[customer] = so_far if amount is None or amount != amount else so_far + amount
    names = dict(zip(cells["customer_id"].tolist(), cells["name"].tolist()))

    basis = (
        "days past due (as_of − due_date); current = not yet due"
        if params.aging.basis == "due_date"
        else "days since invoice (as_of − invoice_date)"
    )
    return AgingResult(
        section="aging",
        kpis=AgingKpis(
            ar_total=ar_total,
            open_items=open_items_count,
            past_due_total=past_due_total,
            top10_share_pct=top_share_pct(per_customer.values(), 10),
            hhi=hhi(per_customer.values()),
            unapplied_cash_total=None if unapplied is None else unapplied.unapplied_cash_total,
            ar_net=None if unapplied is None else unapplied.ar_net,
            disputes_open=None if disputes is None else disputes.disputes_open,
            disputed_open_total=None if disputes is None else disputes.disputed_open_total,
            dispute_days_to_resolve=None if disputes is None else disputes.dispute_days_to_resolve,
        ),
        tables=AgingTables(
            buckets=buckets,
            by_segment=breakdown(cells, "segment", labels),
            by_region=breakdown(cells, "region", labels),
            by_collector=breakdown(cells, "collector", labels),
            by_currency=currency_breakdown(cells, fx, params.as_of),
            by_customer=by_customer,
            over_credit_limit=over_limit,
            disputed_buckets=disputed_buckets,
            disputed_items=disputed,
            trend=trend,
            reconciliation=gl,
            rollforward=rollforward,
            concentration=concentration_table(per_customer, names),
            concentration_trend=concentration_trend(book, list(trend["month_end"])),
            credit_utilisation=credit_utilisation(book, per_customer),
            disputes=absent if disputes is None else disputes.open_disputes,
            disputes_by_reason=absent if disputes is None else disputes.by_reason,
            disputes_by_owner=absent if disputes is None else disputes.by_owner,
            disputes_by_age=absent if disputes is None else disputes.by_age,
            disputes_resolved=absent if disputes is None else disputes.resolved,
            disputes_trend=absent if disputes is None else disputes.trend,
            unapplied_cash=absent if unapplied is None else unapplied.by_customer,
            unapplied_cash_trend=absent if unapplied is None else unapplied.trend,
        ),
        conventions={
            "aging.basis": basis,
            "aging.buckets": ", ".join(labels),
            "fx": f"balances in other currencies converted to {params.reporting_currency} at the closing rate "
            f"(latest rate dated on or before {params.as_of})",
            "as_of": f"only rows dated on or before {params.as_of} are used",
            "concentration": "customers ranked by open balance at the closing rate, largest first, ties by "
            "customer_id; top-10 share and HHI (Σ of squared % shares, 0–10,000) over customers with an open balance",
            "credit utilisation": "open balance / credit_limit × 100 for customers with a credit_limit > 0, "
            "bands 0–50, 50–80, 80–100, > 100 (upper bound inclusive)",
            **(
                {}
                if book.disputes is None
                else {
                    "disputes": "an invoice is disputed at a date when one of its disputes is open then (opened_on ≤ "
                    "date < resolved_on); invoices.disputed is ignored. Disputed amount: the dispute's amount, or the "
                    "invoice's open balance when it has none; dispute age = as_of − opened_on; days to resolve: mean "
                    f"over disputes resolved {window_start} to {params.as_of}"
                }
            ),
            **(
                {}
                if book.unapplied_cash is None
                else {
                    "unapplied cash": "receipts dated on or before as_of and not applied by then, at the closing "
                    "rate; shown apart from the aging buckets (ar_total stays the gross open invoices); "
                    "AR net = ar_total − unapplied cash"
                }
            ),
        },
    )


def _items_for_explanations(book: Book, aging: AgingConfig) -> pd.DataFrame:
    frame = open_item_list(book, aging)
    return frame.rename(columns={"open_balance_reporting": "amount", "amount": "invoice_amount"})
