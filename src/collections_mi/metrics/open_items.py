"""The open invoices at a month-end, one row each, for the history and the exploration notebooks.

Besides the customer's attributes, each item carries its customer's payment-behaviour band at the month-end
(metrics.md § Payment behaviour: Great/Good/Poor/Risk/No history) and, when it is disputed at the month-end, the reason
of its dispute — so the exploration notebooks can slice the book by how customers pay and what they dispute:

* ``dispute_reason``: "not disputed"; else the reason of the dispute open at the month-end (the latest opened when
  several are, "(none)" when it has no reason); with no disputes table, an item flagged ``invoices.disputed`` reads
  "disputed (flag, no reason)".
"""

from __future__ import annotations

import ibis
import pandas as pd

from collections_mi.config.params import AgingConfig
from collections_mi.core.values import UNASSIGNED
from collections_mi.metrics.aging import aged_items
from collections_mi.metrics.behaviour import NO_HISTORY, customer_behaviour
from collections_mi.metrics.book import Book
from collections_mi.metrics.fx import convert_column
from collections_mi.sources.ledger import fetch

NOT_DISPUTED = "not disputed"
FLAGGED_WITHOUT_REASON = "disputed (flag, no reason)"


def open_items_snapshot(book: Book, aging: AgingConfig, behaviour: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every open invoice at ``book.as_of`` with its bucket (per ``aging``), customer attributes, behaviour band,
    dispute reason and exact reporting amount. ``behaviour``: the DSO section's behaviour_by_customer table
    (customer_id, band) when already computed; otherwise the bands are computed here.

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
    if behaviour is None:
        behaviour = customer_behaviour(book, {})
    band_of = dict(zip(behaviour["customer_id"].tolist(), behaviour["band"].tolist()))
    frame["behaviour_band"] = [band_of.get(customer, NO_HISTORY) for customer in frame["customer_id"].tolist()]
    frame["dispute_reason"] = _dispute_reasons(book, frame)
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
        "dispute_reason",
        "behaviour_band",
    ]
    return frame[order].reset_index(drop=True)


def _dispute_reasons(book: Book, frame: pd.DataFrame) -> list[str]:
    """Per item of ``frame``: why it is disputed at ``book.as_of`` (module docstring)."""
    if book.disputes is None:
        return [FLAGGED_WITHOUT_REASON if flag else NOT_DISPUTED for flag in frame["disputed"].tolist()]
    disputes = book.disputes
    as_of = book.as_of
    open_then = fetch(
        disputes.filter(
            (disputes.opened_on <= as_of) & (disputes.resolved_on.isnull() | (disputes.resolved_on > as_of))
        ).select("invoice_id", "dispute_id", "opened_on", "reason")
    )
    reason_of: dict[object, str] = {}
    latest_first = open_then.sort_values(["opened_on", "dispute_id"], ascending=False, kind="stable")
    for invoice, reason in zip(latest_first["invoice_id"].tolist(), latest_first["reason"].tolist()):
        if invoice not in reason_of:
            reason_of[invoice] = reason if isinstance(reason, str) and reason else UNASSIGNED
    return [
        reason_of.get(invoice, UNASSIGNED) if flag else NOT_DISPUTED
        for invoice, flag in zip(frame["invoice_id"].tolist(), frame["disputed"].tolist())
    ]
