"""The open invoices at a month-end, one row each, for the history and the exploration notebooks."""

from __future__ import annotations

import ibis
import pandas as pd

from collections_mi.config.params import AgingConfig
from collections_mi.core.values import UNASSIGNED
from collections_mi.metrics.aging import aged_items
from collections_mi.metrics.book import Book
from collections_mi.metrics.fx import convert_column


def open_items_snapshot(book: Book, aging: AgingConfig) -> pd.DataFrame:
    """Every open invoice at ``book.as_of`` with its bucket (per ``aging``), customer attributes and exact reporting
    amount.

    The reporting amounts add up, exactly, to the aging section's ``ar_total`` (closing-rate conversion is linear).
    """
    items = aged_items(book, aging, book.as_of)
    customers = book.customers
    wanted = [c for c in ("name", "segment", "region", "collector") if c in customers.columns]
    items = items.left_join(customers.select("customer_id", *wanted), "customer_id").drop("customer_id_right")
    frame = (
        items.select(
            "invoice_id",
            "customer_id",
            *wanted,
            "currency",
            "invoice_date",
            "due_date",
            "amount",
            "open_balance",
            "days_past_due",
            "bucket",
            "past_due",
            "disputed",
        )
        .order_by([ibis.desc("days_past_due"), "invoice_id"])
        .to_pyarrow()
        .to_pandas()
    )
    for column in ("name", "segment", "region", "collector"):
        if column not in frame.columns:
            frame[column] = None
    for column in ("segment", "region", "collector"):
        frame[column] = frame[column].astype("object").where(frame[column].notna(), UNASSIGNED)
    frame["name"] = frame["name"].astype("object").where(frame["name"].notna(), frame["customer_id"])
    frame["open_balance_reporting"] = convert_column(frame, book.fx, "open_balance", "currency", book.as_of)
    order = [
        "invoice_id",
        "customer_id",
        "name",
        "segment",
        "region",
        "collector",
        "currency",
        "invoice_date",
        "due_date",
        "amount",
        "open_balance",
        "open_balance_reporting",
        "days_past_due",
        "bucket",
        "past_due",
        "disputed",
    ]
    return frame[order].reset_index(drop=True)
