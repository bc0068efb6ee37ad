"""Exploration views: exact, pure functions over month-end history loaded by :mod:`collections_mi.store.history`.

The exploration notebooks (notebooks/explore/) call these: filter choices with their bucket amounts, drill-down
from a bucket to its customers and invoices, trends by segment, region, collector, currency, behaviour band and
dispute reason, invoice-month cohorts and period-to-period KPI comparisons. Inputs are the frames
``history.load_table`` / ``history.load_kpis`` return (money as ``Decimal``); outputs keep money exact (sums with
:func:`collections_mi.core.money.dsum`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd

from collections_mi.core.errors import HistoryError
from collections_mi.core.money import dsum, percent_of
from collections_mi.core.periods import periods_between

#: the customer attributes the exploration views filter and trend by
DIMENSIONS = ("segment", "region", "collector", "currency", "behaviour_band", "dispute_reason")
#: a dimension's value in a month stored before the snapshot carried that column (behaviour_band, dispute_reason)
NOT_STORED = "(not stored for this month)"
#: columns of a loaded history frame that are not KPIs
SNAPSHOT_COLUMNS = ("period", "as_of")


def is_missing(value: Any) -> bool:
    """None, NaN, NaT or NA: a cell with no value."""
    return value is None or value is pd.NaT or value is pd.NA or (isinstance(value, float) and value != value)


def _backfill_hint() -> str:
    return (
        "publish a pack (collections-mi pack) or fill past months with "
        "`collections-mi backfill --params params/<YYYY-MM>.yaml`"
    )


def _bucket_row(group: pd.DataFrame, labels: Sequence[str]) -> dict[str, Any]:
    row: dict[str, Any] = {"items": len(group)}
    for label in labels:
        row[label] = dsum(group.loc[group["bucket"] == label, "open_balance_reporting"])
    total = dsum(group["open_balance_reporting"])
    past_due = dsum(group.loc[group["past_due"].astype(bool), "open_balance_reporting"])
    row.update(total=total, past_due=past_due, past_due_pct=percent_of(past_due, total))
    return row


def filter_options(
    open_items: pd.DataFrame, labels: Sequence[str], dimensions: Sequence[str] = DIMENSIONS, top_customers: int = 25
) -> pd.DataFrame:
    """One row per filter choice — all items, each segment/region/collector/currency value, the largest customers —
    with items, the exact amount in every bucket, total, past due and past-due share (reporting currency)."""
    rows = [{"filter": "all", "value": "all open items", **_bucket_row(open_items, labels)}]
    for dimension in _stored(open_items, dimensions):
        choices = [
            {"filter": dimension, "value": str(value), **_bucket_row(group, labels)}
            for value, group in _with_values(open_items, dimension).groupby(dimension, sort=True, dropna=False)
        ]
        rows += sorted(choices, key=lambda r: r["total"], reverse=True)
    customers = [
        {"filter": "customer", "value": f"{group['name'].iloc[0]} ({customer})", **_bucket_row(group, labels)}
        for customer, group in open_items.groupby("customer_id", sort=True)
    ]
    rows += sorted(customers, key=lambda r: r["total"], reverse=True)[:top_customers]
    columns = ["filter", "value", "items", *labels, "total", "past_due", "past_due_pct"]
    return pd.DataFrame(rows, columns=columns)


def customers_in_bucket(open_items: pd.DataFrame, bucket: str) -> pd.DataFrame:
    """The customers behind one bucket, largest first: items, amount (exact), share of the bucket."""
    chosen = open_items[open_items["bucket"] == bucket]
    total = dsum(chosen["open_balance_reporting"])
    rows = []
    for (customer, name, segment, region, collector), group in chosen.groupby(
        ["customer_id", "name", "segment", "region", "collector"], sort=True, dropna=False
    ):
        amount = dsum(group["open_balance_reporting"])
        rows.append(
            {
                "customer_id": customer,
                "name": name,
                "segment": segment,
                "region": region,
                "collector": collector,
                "items": len(group),
                "amount": amount,
                "share_pct": percent_of(amount, total),
                "oldest_days_past_due": int(group["days_past_due"].max()),
            }
        )
    columns = [
        "customer_id",
        "name",
        "segment",
        "region",
        "collector",
        "items",
        "amount",
        "share_pct",
        "oldest_days_past_due",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("amount", ascending=False, kind="stable").reset_index(drop=True)


def pick_bucket(open_items: pd.DataFrame, labels: Sequence[str], bucket: str | None = None) -> str:
    """``bucket`` if given (it must be one of ``labels``), else the oldest bucket that holds open items."""
    if bucket is not None:
        if bucket not in labels:
            raise HistoryError(f"drill_bucket {bucket!r} is not an aging bucket", hint=f"use one of {list(labels)}")
        return bucket
    held = set(open_items["bucket"])
    return next((label for label in reversed(labels) if label in held), labels[-1])


def invoices_in_bucket(open_items: pd.DataFrame, bucket: str, customer_id: str | None = None) -> pd.DataFrame:
    """The open invoices of a bucket (of one customer, or of the bucket's largest customer when none is given)."""
    chosen = open_items[open_items["bucket"] == bucket]
    if customer_id is None:
        customers = customers_in_bucket(open_items, bucket)
        customer_id = customers["customer_id"].iloc[0] if len(customers) else None
    chosen = chosen[chosen["customer_id"] == customer_id]
    columns = [
        "invoice_id",
        "customer_id",
        "name",
        "currency",
        "invoice_date",
        "due_date",
        "amount",
        "open_balance",
        "open_balance_reporting",
        "days_past_due",
        "disputed",
    ]
    return (
        chosen[columns]
        .sort_values(["days_past_due", "invoice_id"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )


def drill_tree(open_items: pd.DataFrame, labels: Sequence[str], top_customers: int = 12) -> pd.DataFrame:
    """Bucket → customer → invoice nodes for a treemap: id, parent, label, amount (exact), items.

    The largest ``top_customers`` customers of each bucket get their own node (with their invoices beneath); the
    rest of the bucket is one "other customers" node. Parent nodes carry no amount of their own.
    """
    nodes: list[dict[str, Any]] = []
    for label in labels:
        chosen = open_items[open_items["bucket"] == label]
        if chosen.empty:
            continue
        nodes.append(
            {"id": label, "parent": "", "label": label, "amount": Decimal(0), "items": len(chosen), "level": "bucket"}
        )
        customers = customers_in_bucket(open_items, label)
        shown = customers.head(top_customers)
        for customer in shown.itertuples(index=False):
            node = f"{label}/{customer.customer_id}"
            nodes.append(
                {
                    "id": node,
                    "parent": label,
                    "label": f"{customer.name}",
                    "amount": Decimal(0),
                    "items": customer.items,
                    "level": "customer",
                }
            )
            invoices = chosen[chosen["customer_id"] == customer.customer_id]
            nodes += [
                {
                    "id": f"{node}/{inv.invoice_id}",
                    "parent": node,
                    "label": str(inv.invoice_id),
                    "amount": inv.open_balance_reporting,
                    "items": 1,
                    "level": "invoice",
                }
                for inv in invoices.itertuples(index=False)
            ]
        rest = customers.iloc[top_customers:]
        if len(rest):
            nodes.append(
                {
                    "id": f"{label}/other",
                    "parent": label,
                    "label": f"{len(rest)} other customers",
                    "amount": dsum(rest["amount"]),
                    "items": int(rest["items"].sum()),
                    "level": "customer",
                }
            )
    return pd.DataFrame(nodes, columns=["id", "parent", "label", "amount", "items", "level"])


def trend_by(open_items_history: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """Per period and ``dimension`` value: items, open balance, past due and past-due share (exact)."""
    rows = []
    stored = _with_values(open_items_history, dimension)
    for (period, value), group in stored.groupby(["period", dimension], sort=True, dropna=False):
        total = dsum(group["open_balance_reporting"])
        past_due = dsum(group.loc[group["past_due"].astype(bool), "open_balance_reporting"])
        rows.append(
            {
                "period": period,
                "dimension": dimension,
                "value": str(value),
                "items": len(group),
                "total": total,
                "past_due": past_due,
                "past_due_pct": percent_of(past_due, total),
            }
        )
    return pd.DataFrame(rows, columns=["period", "dimension", "value", "items", "total", "past_due", "past_due_pct"])


def trends_by(open_items_history: pd.DataFrame, dimensions: Sequence[str] = DIMENSIONS) -> pd.DataFrame:
    """:func:`trend_by` for several dimensions, stacked (a ``dimension`` column tells them apart)."""
    return pd.concat(
        [trend_by(open_items_history, d) for d in _stored(open_items_history, dimensions)], ignore_index=True
    )


def _stored(frame: pd.DataFrame, dimensions: Sequence[str]) -> list[str]:
    """The ``dimensions`` the frame has (a history stored by an older version lacks the newer ones)."""
    return [d for d in dimensions if d in frame.columns]


def _with_values(frame: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """``frame`` with the months stored before ``dimension`` existed labelled NOT_STORED instead of NaN."""
    if dimension not in frame.columns:
        return frame.assign(**{dimension: NOT_STORED})
    column = frame[dimension]
    if not column.isna().any():
        return frame
    return frame.assign(**{dimension: column.astype("object").where(column.notna(), NOT_STORED)})


def cohort_runoff(open_items_history: pd.DataFrame) -> pd.DataFrame:
    """How each invoice-month cohort runs off: its open balance at every later stored month-end.

    ``cohort`` is the invoice month; ``months_since`` counts month-ends after the cohort's own; ``remaining_pct`` is
    the open balance as a percentage of the balance at the cohort's own month-end (0 once all of it is settled).
    Only cohorts whose own month-end is in the history are shown (older cohorts have no starting point).
    """
    frame = open_items_history.assign(cohort=[f"{d:%Y-%m}" for d in open_items_history["invoice_date"].tolist()])
    sums = {key: dsum(group["open_balance_reporting"]) for key, group in frame.groupby(["cohort", "period"], sort=True)}
    counts = frame.groupby(["cohort", "period"], sort=True).size().to_dict()
    stored = sorted(set(frame["period"]))
    rows = []
    for cohort in sorted({c for c, _ in sums if c in stored}):
        start = sums.get((cohort, cohort), Decimal(0))
        for period in [p for p in stored if p >= cohort]:
            balance = sums.get((cohort, period), Decimal(0))
            months_since = periods_between(cohort, period)
            rows.append(
                {
                    "cohort": cohort,
                    "period": period,
                    "months_since": months_since,
                    "items": int(counts.get((cohort, period), 0)),
                    "open_balance": balance,
                    "remaining_pct": percent_of(balance, start),
                }
            )
    return pd.DataFrame(rows, columns=["cohort", "period", "months_since", "items", "open_balance", "remaining_pct"])


def cohort_matrix(runoff: pd.DataFrame) -> pd.DataFrame:
    """:func:`cohort_runoff` as a triangle: one row per cohort, its starting balance and one ``month_N_pct`` column
    per month-end after its own (the share still open)."""
    ages = sorted({int(a) for a in runoff["months_since"]})
    rows = []
    for cohort, group in runoff.groupby("cohort", sort=True):
        cells = dict(zip(group["months_since"].tolist(), group["remaining_pct"].tolist()))
        start = group.loc[group["months_since"] == 0, "open_balance"]
        rows.append(
            {
                "cohort": cohort,
                "open_at_month_end": start.iloc[0] if len(start) else None,
                **{f"month_{age}_pct": cells.get(age) for age in ages},
            }
        )
    return pd.DataFrame(rows, columns=["cohort", "open_at_month_end", *[f"month_{age}_pct" for age in ages]])


def open_by_invoice_month(open_items: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """The month-end's open balance by invoice month (the cohorts it comes from), split by bucket, exact."""
    frame = open_items.assign(cohort=[f"{d:%Y-%m}" for d in open_items["invoice_date"].tolist()])
    rows = [{"cohort": cohort, **_bucket_row(group, labels)} for cohort, group in frame.groupby("cohort", sort=True)]
    return pd.DataFrame(rows, columns=["cohort", "items", *labels, "total", "past_due", "past_due_pct"])


def bucket_history(aging_history: pd.DataFrame) -> pd.DataFrame:
    """The stored ``aging`` table over periods as one row per period and bucket (period, bucket, items, amount)."""
    return aging_history[["period", "as_of", "bucket", "items", "amount", "share_pct"]].reset_index(drop=True)


def compare_periods(kpis: pd.DataFrame, first: str | None = None, second: str | None = None) -> pd.DataFrame:
    """KPI by KPI: the value in ``first`` and ``second`` (defaults: the previous and the latest stored period),
    the change and the change in percent (exact)."""
    stored = list(kpis["period"])
    if not stored:
        raise HistoryError("no periods to compare", hint=_backfill_hint())
    second = second or stored[-1]
    first = first or (stored[-2] if len(stored) > 1 else stored[-1])
    missing = [p for p in (first, second) if p not in stored]
    if missing:
        raise HistoryError(f"period(s) {', '.join(missing)} not in the history", hint=f"stored: {', '.join(stored)}")
    a = kpis.loc[kpis["period"] == first].iloc[0]
    b = kpis.loc[kpis["period"] == second].iloc[0]
    later = second if second != first else f"{second} (same period)"
    rows = []
    for kpi in [c for c in kpis.columns if c not in SNAPSHOT_COLUMNS]:
        before, after = a[kpi], b[kpi]
        change = None if is_missing(before) or is_missing(after) else Decimal(after) - Decimal(before)
        rows.append(
            {
                "kpi": kpi,
                first: before,
                later: after,
                "change": change,
                "change_pct": None if change is None else percent_of(change, abs(Decimal(before))),
            }
        )
    return pd.DataFrame(rows, columns=["kpi", first, later, "change", "change_pct"])
