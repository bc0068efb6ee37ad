"""An independent oracle: the contract's definitions computed naively in plain Python + Decimal.

Deliberately shares no code with collections_mi: it reads the ledger files with pandas as text,
walks invoices one by one and converts each item at its own closing rate. Slow, obvious, exact.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pandas as pd

REDUCING = {"credit_note", "discount", "write_off"}


class Row(dict):
    """A record with attribute access; missing columns read as None."""

    def __getattr__(self, name: str):
        return self.get(name)


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def read_table(folder: Path, name: str) -> list[Row] | None:
    """All rows of a table as records of text (None for empty)."""
    parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
    if parquet.exists():
        frame = pd.read_parquet(parquet)
    elif csv.exists():
        frame = pd.read_csv(csv, dtype=object, keep_default_na=False, encoding="utf-8-sig")
    else:
        return None
    return [Row({k: _text(v) for k, v in record.items()}) for record in frame.to_dict("records")]


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(str(text)[:10])


class Ledger:
    def __init__(self, folder: Path, reporting_currency: str = "USD") -> None:
        self.reporting = reporting_currency
        self.invoices = read_table(folder, "invoices")
        self.payments = read_table(folder, "payments")
        self.adjustments = read_table(folder, "adjustments")
        self.customers = read_table(folder, "customers")
        self.gl = read_table(folder, "gl_balances")
        fx = read_table(folder, "fx_rates")
        self.rates: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
        if fx is not None:
            for row in fx:
                self.rates[row.currency].append((day(row.rate_date), Decimal(row.rate)))
        for series in self.rates.values():
            series.sort()
        self.events: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
        for row in self.payments:
            self.events[row.invoice_id].append((day(row.payment_date), Decimal(row.amount)))
        if self.adjustments is not None:
            for row in self.adjustments:
                if row.kind in REDUCING:
                    self.events[row.invoice_id].append((day(row.adjustment_date), Decimal(row.amount)))

    def rate(self, currency: str, on: dt.date) -> Decimal:
        if currency == self.reporting:
            return Decimal(1)
        series = self.rates[currency]
        position = bisect.bisect_right([d for d, _ in series], on) - 1
        assert position >= 0, f"no {currency} rate on or before {on}"
        return series[position][1]

    def open_items(self, as_of: dt.date) -> list[dict]:
        """Every open invoice at as_of with its balance in original and reporting currency."""
        items = []
        for row in self.invoices:
            invoice_date = day(row.invoice_date)
            if invoice_date > as_of:
                continue
            balance = Decimal(row.amount) - sum((a for d, a in self.events[row.invoice_id] if d <= as_of), Decimal(0))
            if balance <= 0:
                continue
            currency = row.currency or self.reporting
            due = day(row.due_date)
            items.append({
                "invoice_id": row.invoice_id, "customer_id": row.customer_id, "currency": currency,
                "balance": balance, "reporting": balance * self.rate(currency, as_of),
                "days_past_due": (as_of - due).days, "days_since_invoice": (as_of - invoice_date).days,
                "disputed": (row.disputed or "").lower() in ("true", "t", "1", "yes", "y"),
            })
        return items


def bucket_of(age: int, bounds: list[int], basis: str) -> str:
    if basis == "due_date" and age <= 0:
        return "current"
    lower = 1 if basis == "due_date" else 0
    for bound in bounds:
        if age <= bound:
            return f"{lower}-{bound}"
        lower = bound + 1
    return f"{bounds[-1]}+"


def aging(ledger: Ledger, as_of: dt.date, bounds: list[int] = [30, 60, 90, 120], basis: str = "due_date") -> dict:
    items = ledger.open_items(as_of)
    buckets: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        age = item["days_past_due"] if basis == "due_date" else item["days_since_invoice"]
        label = bucket_of(age, bounds, basis)
        buckets[label] += item["reporting"]
        counts[label] += 1
    return {
        "ar_total": sum((i["reporting"] for i in items), Decimal(0)),
        "open_items": len(items),
        "past_due_total": sum((i["reporting"] for i in items if i["days_past_due"] > 0), Decimal(0)),
        "buckets": dict(buckets),
        "counts": dict(counts),
    }
