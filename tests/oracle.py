"""An independent oracle: the contract's definitions computed naively in plain Python + Decimal.

Deliberately shares no code with collections_mi: it reads the ledger files with pandas as text,
walks invoices one by one and converts each item at its own closing rate. Slow, obvious, exact.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
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
        self.folder = folder
        self.reporting = reporting_currency
        self.invoices = read_table(folder, "invoices")
        self.payments = read_table(folder, "payments")
        self.adjustments = read_table(folder, "adjustments")
        self.customers = read_table(folder, "customers")
        self.gl = read_table(folder, "gl_balances")
        self.disputes = read_table(folder, "disputes")  # optional (v1.1): None when the file is absent
        self.unapplied_cash = read_table(folder, "unapplied_cash")  # optional (v1.1)
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
            items.append(
                {
                    "invoice_id": row.invoice_id,
                    "customer_id": row.customer_id,
                    "currency": currency,
                    "balance": balance,
                    "reporting": balance * self.rate(currency, as_of),
                    "days_past_due": (as_of - due).days,
                    "days_since_invoice": (as_of - invoice_date).days,
                    "disputed": (row.disputed or "").lower() in ("true", "t", "1", "yes", "y"),
                }
            )
        return items


def bucket_of(age: int, bounds: Sequence[int], basis: str) -> str:
    if basis == "due_date" and age <= 0:
        return "current"
    lower = 1 if basis == "due_date" else 0
    for bound in bounds:
        if age <= bound:
            return f"{lower}-{bound}"
        lower = bound + 1
    return f"{bounds[-1]}+"


def aging(ledger: Ledger, as_of: dt.date, bounds: Sequence[int] = (30, 60, 90, 120), basis: str = "due_date") -> dict:
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


# ------------------------------------------------------------------------------------------ disputes, unapplied cash

AGE_BANDS = ("0–30", "31–60", "61–90", "90+")  # D − opened_on; upper bound inclusive: 30 → 0–30, 90 → 61–90


def open_balance(ledger: Ledger, invoice_id: str, as_of: dt.date) -> Decimal:
    """The invoice's open balance at as_of in its own currency: amount − payments/credits/write-offs dated ≤ as_of
    (0 before its invoice_date, never below 0)."""
    row = next(r for r in ledger.invoices if r.invoice_id == invoice_id)
    if day(row.invoice_date) > as_of:
        return Decimal(0)
    balance = Decimal(row.amount) - sum((a for d, a in ledger.events[invoice_id] if d <= as_of), Decimal(0))
    return max(balance, Decimal(0))


def dispute_open(row: Row, as_of: dt.date) -> bool:
    """opened_on ≤ D and (resolved_on null or resolved_on > D)."""
    return day(row.opened_on) <= as_of and (row.resolved_on is None or day(row.resolved_on) > as_of)


def _flag(text: str | None) -> bool:
    value = (text or "").lower()
    if value not in ("", "true", "false"):
        raise ValueError(f"invoices.disputed is not a bool: {text!r}")
    return value == "true"


def disputed_at(ledger: Ledger, invoice_id: str, as_of: dt.date) -> bool:
    """With a disputes table: one of the invoice's disputes is open at as_of (invoices.disputed is ignored).
    Without it: invoices.disputed (true/false in any capitalisation; empty = false)."""
    if ledger.disputes is not None:
        return any(r.invoice_id == invoice_id and dispute_open(r, as_of) for r in ledger.disputes)
    row = next(r for r in ledger.invoices if r.invoice_id == invoice_id)
    return _flag(row.disputed)


def disputed_aging(
    ledger: Ledger, as_of: dt.date, bounds: Sequence[int] = (30, 60, 90, 120), basis: str = "due_date"
) -> dict:
    """The open items disputed at as_of (disputed_at) by aging bucket: their whole open balance in reporting currency.
    {"disputed_total", "disputed_items", "buckets": {label: amount}, "counts": {label: items}} (buckets with no
    disputed item are absent, as in aging)."""
    buckets: dict[str, Decimal] = defaultdict(Decimal)
    counts: dict[str, int] = defaultdict(int)
    for item in ledger.open_items(as_of):
        if not disputed_at(ledger, item["invoice_id"], as_of):
            continue
        age = item["days_past_due"] if basis == "due_date" else item["days_since_invoice"]
        label = bucket_of(age, bounds, basis)
        buckets[label] += item["reporting"]
        counts[label] += 1
    return {
        "disputed_total": sum(buckets.values(), Decimal(0)),
        "disputed_items": sum(counts.values()),
        "buckets": dict(buckets),
        "counts": dict(counts),
    }


def _age_band(days: int) -> str:
    if days <= 30:
        return "0–30"
    if days <= 60:
        return "31–60"
    if days <= 90:
        return "61–90"
    return "90+"


def disputes(ledger: Ledger, as_of: dt.date, window_months: int = 3) -> dict | None:
    """Disputes at as_of; None without a disputes table. Each open dispute's amount (null = the invoice's open balance
    at as_of) is in the invoice's currency, converted at as_of's closing rate. Breakdowns are {key: (count, amount)};
    by_age always has the four bands, by_reason ("(none)" for a null reason) and by_owner ("(unassigned)" for a null
    owner) only the keys that occur. dispute_days_to_resolve = mean (resolved_on − opened_on) in days over disputes
    with resolved_on in W = [1st of the month window_months−1 before as_of's month, as_of]; None when there is none."""
    if ledger.disputes is None:
        return None
    invoices = {r.invoice_id: r for r in ledger.invoices}
    count, total = 0, Decimal(0)
    by_reason: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    by_owner: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    by_age: dict[str, list] = {band: [0, Decimal(0)] for band in AGE_BANDS}
    for row in ledger.disputes:
        if not dispute_open(row, as_of):
            continue
        invoice = invoices[row.invoice_id]
        original = Decimal(row.amount) if row.amount is not None else open_balance(ledger, row.invoice_id, as_of)
        amount = original * ledger.rate(invoice.currency or ledger.reporting, as_of)
        count += 1
        total += amount
        for table, key in (
            (by_reason, row.reason or "(none)"),
            (by_owner, row.owner or "(unassigned)"),
            (by_age, _age_band((as_of - day(row.opened_on)).days)),
        ):
            table[key][0] += 1
            table[key][1] += amount
    start = _window_start(as_of, window_months)
    durations = [
        (day(r.resolved_on) - day(r.opened_on)).days
        for r in ledger.disputes
        if r.resolved_on is not None and start <= day(r.resolved_on) <= as_of
    ]
    return {
        "disputes_open": count,
        "disputed_open_total": total,
        "by_reason": {k: (n, a) for k, (n, a) in by_reason.items()},
        "by_owner": {k: (n, a) for k, (n, a) in by_owner.items()},
        "by_age": {k: (n, a) for k, (n, a) in by_age.items()},
        "dispute_days_to_resolve": Decimal(sum(durations)) / len(durations) if durations else None,
    }


def unapplied(ledger: Ledger, as_of: dt.date) -> dict | None:
    """Receipts unapplied at as_of (receipt_date ≤ D and (applied_on null or > D)), each at as_of's closing rate of its
    currency (null/absent = reporting); None without an unapplied_cash table. by_customer holds identified receipts
    only (customers with none are absent); unidentified (null customer_id) is apart; both are in the total."""
    if ledger.unapplied_cash is None:
        return None
    total, unidentified = Decimal(0), Decimal(0)
    by_customer: dict[str, Decimal] = defaultdict(Decimal)
    for row in ledger.unapplied_cash:
        if day(row.receipt_date) > as_of or (row.applied_on is not None and day(row.applied_on) <= as_of):
            continue
        amount = Decimal(row.amount) * ledger.rate(row.currency or ledger.reporting, as_of)
        total += amount
        if row.customer_id is None:
            unidentified += amount
        else:
            by_customer[row.customer_id] += amount
    return {
        "unapplied_cash_total": total,
        "ar_net": aging(ledger, as_of)["ar_total"] - total,
        "by_customer": dict(by_customer),
        "unidentified": unidentified,
    }


# ------------------------------------------------------------------------------------------ DSO family


def _window_start(as_of: dt.date, months: int) -> dt.date:
    index = as_of.year * 12 + as_of.month - 1 - (months - 1)
    return dt.date(index // 12, index % 12 + 1, 1)


def credit_sales(ledger: Ledger, start: dt.date, end: dt.date) -> Decimal:
    total = Decimal(0)
    for row in ledger.invoices:
        day_ = day(row.invoice_date)
        if start <= day_ <= end:
            total += Decimal(row.amount) * ledger.rate(row.currency or ledger.reporting, day_)
    return total


def dso_family(
    ledger: Ledger,
    as_of: dt.date,
    window_months: int = 3,
    countback_days: str | int = "actual",
    cei_sales: str = "window_total",
) -> dict:
    start = _window_start(as_of, window_months)
    days = (as_of - start).days + 1
    items = ledger.open_items(as_of)
    ar = sum((i["reporting"] for i in items), Decimal(0))
    current = sum((i["reporting"] for i in items if i["days_past_due"] <= 0), Decimal(0))
    sales = credit_sales(ledger, start, as_of)
    result: dict = {"ar": ar, "current": current, "sales": sales}
    result["dso"] = ar / sales * days if sales else None
    result["bpdso"] = current / sales * days if sales else None
    result["add"] = None if sales == 0 else result["dso"] - result["bpdso"]
    # countback, month by month
    remaining, total, end = ar, Decimal(0), as_of
    first_invoice = min(day(r.invoice_date) for r in ledger.invoices)
    countback = None
    while end >= first_invoice:
        month_start = end.replace(day=1)
        actual = (end - month_start).days + 1
        if countback_days == "actual":
            month_days = actual
        else:
            next_day = end + dt.timedelta(days=1)
            month_days = 30 if next_day.day == 1 else min(actual, 30)
        month_sales = credit_sales(ledger, month_start, end)
        if remaining == 0:
            countback = total
            break
        if remaining >= month_sales:
            remaining -= month_sales
            total += month_days
        else:
            countback = total + remaining / month_sales * month_days
            break
        end = month_start - dt.timedelta(days=1)
    result["dso_countback"] = countback if countback is not None else (total if remaining == 0 else None)
    begin_items = ledger.open_items(start - dt.timedelta(days=1))
    begin = sum((i["reporting"] for i in begin_items), Decimal(0))
    cei_s = sales if cei_sales == "window_total" else sales / window_months
    denominator = begin + cei_s - current
    result["cei_pct"] = (begin + cei_s - ar) / denominator * 100 if denominator else None
    result.update(settlement_speed(ledger, start, as_of))
    return result


def settled_invoices(ledger: Ledger, start: dt.date, end: dt.date) -> list[tuple[Row, dt.date, Decimal]]:
    """(invoice, settlement date, amount in reporting currency at its invoice date's rate) of every invoice settled
    by payments/credits (no write-off on or before it) with settlement date in [start, end], naively."""
    credits: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    write_offs: dict[str, list[dt.date]] = defaultdict(list)
    for row in ledger.payments:
        credits[row.invoice_id].append((day(row.payment_date), Decimal(row.amount)))
    for row in ledger.adjustments or []:
        if row.kind in ("credit_note", "discount"):
            credits[row.invoice_id].append((day(row.adjustment_date), Decimal(row.amount)))
        elif row.kind == "write_off":
            write_offs[row.invoice_id].append(day(row.adjustment_date))
    found = []
    for row in ledger.invoices:
        amount = Decimal(row.amount)
        applied = Decimal(0)
        closed = None
        for date_, value in sorted(credits[row.invoice_id]):
            if date_ > end:
                break
            applied += value
            if applied >= amount:
                closed = date_
                break
        if closed is None or any(w <= closed for w in write_offs[row.invoice_id]):
            continue
        settled = max(closed, day(row.invoice_date))
        if not (start <= settled <= end) or day(row.invoice_date) > end:
            continue
        found.append((row, settled, amount * ledger.rate(row.currency or ledger.reporting, day(row.invoice_date))))
    return found


def settlement_speed(ledger: Ledger, start: dt.date, end: dt.date) -> dict:
    """Invoices settled (payments/credits, no write-off) with settlement date in [start, end], naively."""
    late, to_pay, weights, weighted_late, weighted_pay, count = 0, 0, Decimal(0), Decimal(0), Decimal(0), 0
    for row, settled, weight in settled_invoices(ledger, start, end):
        days_late = max(0, (settled - day(row.due_date)).days)
        days_to_pay = (settled - day(row.invoice_date)).days
        count += 1
        late += days_late
        to_pay += days_to_pay
        weights += weight
        weighted_late += weight * days_late
        weighted_pay += weight * days_to_pay
    return {
        "days_late_simple": Decimal(late) / count if count else None,
        "days_late_weighted": weighted_late / weights if weights else None,
        "days_to_pay_simple": Decimal(to_pay) / count if count else None,
        "days_to_pay_weighted": weighted_pay / weights if weights else None,
    }


# ------------------------------------------------------------------------------------------ payment behaviour


def payment_behaviour(ledger: Ledger, as_of: dt.date, window_months: int = 3) -> dict:
    """terms_weighted over invoices raised in W; dbt_weighted (not clipped) and on_time_pct over invoices settled in
    W; each invoice weighted by its amount at its invoice date's rate."""
    start = _window_start(as_of, window_months)
    raised, raised_terms = Decimal(0), Decimal(0)
    for row in ledger.invoices:
        invoice_date = day(row.invoice_date)
        if start <= invoice_date <= as_of:
            weight = Decimal(row.amount) * ledger.rate(row.currency or ledger.reporting, invoice_date)
            raised += weight
            raised_terms += weight * (day(row.due_date) - invoice_date).days
    settled, beyond, on_time = Decimal(0), Decimal(0), Decimal(0)
    for row, settled_on, weight in settled_invoices(ledger, start, as_of):
        difference = (settled_on - day(row.due_date)).days
        settled += weight
        beyond += weight * difference
        if difference <= 0:
            on_time += weight
    return {
        "terms_weighted": raised_terms / raised if raised else None,
        "dbt_weighted": beyond / settled if settled else None,
        "on_time_pct": on_time / settled * 100 if settled else None,
    }


def _half_up(value: Decimal) -> int:
    whole = int(value)  # value ≥ 0
    return whole + 1 if value - whole >= Decimal("0.5") else whole


def _band(days: int | None) -> str:
    if days is None:
        return "No history"
    if days <= 15:
        return "Great"
    if days <= 45:
        return "Good"
    if days <= 90:
        return "Poor"
    return "Risk"


def _balances(ledger: Ledger, as_of: dt.date) -> dict[str, Decimal]:
    balances: dict[str, Decimal] = defaultdict(Decimal)
    for item in ledger.open_items(as_of):
        balances[item["customer_id"]] += item["reporting"]
    return dict(balances)


def behaviour_bands(ledger: Ledger, as_of: dt.date) -> dict:
    """Per customer: band, weighted days late (clipped per invoice, over the 12 calendar months to D), open balance;
    and per band: customers and open balance."""
    start = _window_start(as_of, 12)
    weights: dict[str, Decimal] = defaultdict(Decimal)
    weighted: dict[str, Decimal] = defaultdict(Decimal)
    for row, settled_on, weight in settled_invoices(ledger, start, as_of):
        weights[row.customer_id] += weight
        weighted[row.customer_id] += weight * max(0, (settled_on - day(row.due_date)).days)
    balances = _balances(ledger, as_of)
    customers = {}
    for customer in {r.customer_id for r in ledger.customers} | set(balances) | set(weights):
        late = weighted[customer] / weights[customer] if weights.get(customer) else None
        customers[customer] = {
            "band": _band(None if late is None else _half_up(late)),
            "days_late_weighted": late,
            "open_balance": balances.get(customer, Decimal(0)),
        }
    bands: dict[str, dict] = {
        b: {"customers": 0, "open_balance": Decimal(0)} for b in ("Great", "Good", "Poor", "Risk", "No history")
    }
    for figures in customers.values():
        bands[figures["band"]]["customers"] += 1
        bands[figures["band"]]["open_balance"] += figures["open_balance"]
    return {"customers": customers, "bands": bands}


def risk_band(score: str | None) -> str:
    if score is None:
        return "no score"
    value = Decimal(score)
    for upper, label in ((580, "< 580"), (670, "580–669"), (740, "670–739"), (800, "740–799")):
        if value < upper:
            return label
    return "800+"


# ------------------------------------------------------------------------------------------ concentration, credit


def concentration(ledger: Ledger, as_of: dt.date) -> dict:
    """Shares of AR by customer at as_of: the 20 largest (ties by customer_id), top-10/top-20 shares, HHI."""
    balances = {c: b for c, b in _balances(ledger, as_of).items() if b > 0}
    total = sum(balances.values(), Decimal(0))
    order = sorted(balances, key=lambda c: (-balances[c], c))
    if not total:
        return {"top10_share_pct": None, "top20_share_pct": None, "hhi": None, "top": []}
    return {
        "top10_share_pct": sum((balances[c] for c in order[:10]), Decimal(0)) / total * 100,
        "top20_share_pct": sum((balances[c] for c in order[:20]), Decimal(0)) / total * 100,
        "hhi": sum(((balances[c] / total * 100) ** 2 for c in order), Decimal(0)),
        "top": [(c, balances[c]) for c in order[:20]],
    }


def credit_utilisation(ledger: Ledger, as_of: dt.date) -> dict[str, dict]:
    """Customers with credit_limit > 0 by open balance / limit × 100: 0–50, 50–80, 80–100, > 100 (upper inclusive)."""
    balances = _balances(ledger, as_of)
    bands = {b: {"customers": 0, "balance": Decimal(0)} for b in ("0–50", "50–80", "80–100", "> 100")}
    for row in ledger.customers:
        if row.credit_limit is None or Decimal(row.credit_limit) <= 0:
            continue
        balance = balances.get(row.customer_id, Decimal(0))
        used = balance / Decimal(row.credit_limit) * 100
        band = "0–50" if used <= 50 else "50–80" if used <= 80 else "80–100" if used <= 100 else "> 100"
        bands[band]["customers"] += 1
        bands[band]["balance"] += balance
    return bands


# ------------------------------------------------------------------------------------------ allowance


def month_end_of(day_: dt.date) -> dt.date:
    following = (day_.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def write_offs_in_month(ledger: Ledger, month_end: dt.date, kind: str = "write_off") -> Decimal:
    total = Decimal(0)
    invoices = {r.invoice_id: r for r in ledger.invoices}
    for row in ledger.adjustments or []:
        when = day(row.adjustment_date)
        if row.kind == kind and month_end.replace(day=1) <= when <= month_end:
            currency = invoices[row.invoice_id].currency or ledger.reporting
            total += Decimal(row.amount) * ledger.rate(currency, when)
    return total


def lookback_month_ends(as_of: dt.date, lookback: int) -> list[dt.date]:
    """The last ``lookback`` month-ends up to as_of (as_of itself when it is one)."""
    ends = []
    cursor = as_of if month_end_of(as_of) == as_of else as_of.replace(day=1) - dt.timedelta(days=1)
    while len(ends) < lookback:
        ends.append(cursor)
        cursor = cursor.replace(day=1) - dt.timedelta(days=1)
    return ends


def item_roll_sums(
    ledger: Ledger, as_of: dt.date, bounds: Sequence[int] = (30, 60, 90, 120), lookback: int = 12
) -> tuple[list[Decimal], list[Decimal]]:
    """Item-level roll-rate numerators and denominators per bucket, summed over the lookback (metrics.md v1.1):
    for each month-end m and the month-end b before it, every invoice open at b in bucket k counts its balance at b
    in the denominator of k; in the numerator of k < K, its balance at m if it is then in a later bucket; in the
    numerator of K (the last bucket), the write-offs dated in (b, m]. All at b's closing rate."""
    labels = (
        ["current"] + [f"{lo}-{hi}" for lo, hi in zip([1] + [b + 1 for b in bounds[:-1]], bounds)] + [f"{bounds[-1]}+"]
    )
    last = len(labels) - 1
    numerators = [Decimal(0)] * len(labels)
    denominators = [Decimal(0)] * len(labels)
    write_offs: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for row in ledger.adjustments or []:
        if row.kind == "write_off":
            write_offs[row.invoice_id].append((day(row.adjustment_date), Decimal(row.amount)))
    for month in lookback_month_ends(as_of, lookback):
        before = month.replace(day=1) - dt.timedelta(days=1)
        now = {item["invoice_id"]: item for item in ledger.open_items(month)}
        for item in ledger.open_items(before):
            k = labels.index(bucket_of(item["days_past_due"], bounds, "due_date"))
            rate = ledger.rate(item["currency"], before)
            denominators[k] += item["balance"] * rate
            if k == last:
                numerators[k] += (
                    sum((a for d, a in write_offs[item["invoice_id"]] if before < d <= month), Decimal(0)) * rate
                )
                continue
            later = now.get(item["invoice_id"])
            if later is not None and labels.index(bucket_of(later["days_past_due"], bounds, "due_date")) > k:
                numerators[k] += later["balance"] * rate
    return numerators, denominators


def allowance(
    ledger: Ledger,
    as_of: dt.date,
    method: str,
    rates: dict[str, Decimal] | None = None,
    bounds: Sequence[int] = (30, 60, 90, 120),
    lookback: int = 12,
    overlay: Decimal = Decimal(1),
) -> Decimal:
    labels = (
        ["current"] + [f"{lo}-{hi}" for lo, hi in zip([1] + [b + 1 for b in bounds[:-1]], bounds)] + [f"{bounds[-1]}+"]
    )
    at = aging(ledger, as_of, bounds)["buckets"]
    if method == "aging_rates":
        return sum((at.get(b, Decimal(0)) * rates[b] for b in labels), Decimal(0))
    numerators, denominators = item_roll_sums(ledger, as_of, bounds, lookback)
    average = [n / d if d else Decimal(0) for n, d in zip(numerators, denominators)]
    total = Decimal(0)
    for k, label in enumerate(labels):
        loss = overlay
        for j in range(k, len(labels)):
            loss *= average[j]
        total += at.get(label, Decimal(0)) * min(loss, Decimal(1))
    return total


# ------------------------------------------------------------------------------------------ watch list, agencies


def watchlist_reserves(folder: Path, as_of: dt.date, general_rates: dict[str, Decimal]) -> dict:
    import decimal

    loans = read_table(folder, "loans")
    snapshot = max(day(r.as_of_date) for r in loans if day(r.as_of_date) <= as_of)
    flows: dict[str, list] = defaultdict(list)
    for row in read_table(folder, "loan_cash_flows"):
        if day(row.as_of_date) == snapshot:
            flows[row.loan_id].append((day(row.flow_date), Decimal(row.amount)))
    specific = general = watch_balance = Decimal(0)
    watch_count = 0
    with decimal.localcontext(decimal.Context(prec=60)):
        for loan in (r for r in loans if day(r.as_of_date) == snapshot):
            balance = Decimal(loan.balance)
            if (loan.on_watch_list or "").lower() in ("true", "t", "1", "yes", "y"):
                watch_count += 1
                watch_balance += balance
            if loan.status in ("reo", "closed"):
                continue
            if loan.impairment_method == "cash_flows":
                rate = Decimal(1) + Decimal(loan.effective_rate)
                pv = sum(
                    (a / rate ** (Decimal((d - as_of).days) / Decimal(365)) for d, a in flows[loan.loan_id]), Decimal(0)
                )
                specific += max(Decimal(0), balance - pv)
            elif loan.impairment_method == "collateral":
                net = Decimal(loan.collateral_value or 0) * (1 - Decimal(loan.cost_to_sell_rate or 0))
                specific += max(Decimal(0), balance - net)
            else:
                general += balance * general_rates[loan.risk_grade]
    return {
        "watchlist_loans": watch_count,
        "watchlist_balance": watch_balance,
        "specific_reserve": specific,
        "general_reserve": general,
        "total_reserve": specific + general,
    }


def agency_totals(folder: Path, as_of: dt.date) -> dict:
    placements = {r.placement_id: r for r in read_table(folder, "agency_placements") if day(r.placed_date) <= as_of}
    placed = sum((Decimal(r.placed_amount) for r in placements.values()), Decimal(0))
    collected = fees = Decimal(0)
    for row in read_table(folder, "agency_collections"):
        if row.placement_id in placements and day(row.collection_date) <= as_of:
            amount = Decimal(row.amount)
            collected += amount
            fees += amount * Decimal(placements[row.placement_id].fee_rate)
    return {
        "agency_placed": placed,
        "agency_collected": collected,
        "agency_fees": fees,
        "agency_net_back": collected - fees,
        "agency_liquidation_pct": collected / placed * 100,
    }


# ------------------------------------------------------------------------------------------ vintage (chain ladder)


def _month_index(day_: dt.date) -> int:
    return day_.year * 12 + day_.month - 1


def vintage_allowance(
    ledger: Ledger,
    as_of: dt.date,
    lookback: int = 12,
    overlay: Decimal = Decimal(1),
    triangle_months: int = 36,
) -> Decimal | None:
    """metrics.md v1.1 vintage: cohorts = invoice months of the last ``triangle_months`` months to as_of; L(c, a) =
    cumulative write-offs − recoveries (each at its date's rate) by age a (months since the invoice month);
    f_a = Σ L(c, a+1) / Σ L(c, a) over the latest ``lookback`` cohorts with both ages (1 when both sums are 0, None
    when only the first is); allowance = Σ_c min(open(c), max(0, L(c) × Π f − L(c))) × overlay, a cohort with
    nothing lost developing to nothing. None when a cohort with losses and an open balance needs a None factor."""
    first = _month_index(as_of) - (triangle_months - 1)
    invoices = {r.invoice_id: r for r in ledger.invoices}
    cohort_of = {
        r.invoice_id: _month_index(day(r.invoice_date))
        for r in ledger.invoices
        if first <= _month_index(day(r.invoice_date)) and day(r.invoice_date) <= as_of
    }
    cohorts = sorted(set(cohort_of.values()))
    increments: dict[int, dict[int, Decimal]] = {c: defaultdict(Decimal) for c in cohorts}
    for row in ledger.adjustments or []:
        if row.kind not in ("write_off", "recovery") or row.invoice_id not in cohort_of:
            continue
        when = day(row.adjustment_date)
        if when > as_of:
            continue
        invoice = invoices[row.invoice_id]
        value = Decimal(row.amount) * ledger.rate(invoice.currency or ledger.reporting, when)
        cohort = cohort_of[row.invoice_id]
        increments[cohort][_month_index(when) - cohort] += value if row.kind == "write_off" else -value
    series: dict[int, list[Decimal]] = {}
    for cohort in cohorts:
        running, values = Decimal(0), []
        for age in range(_month_index(as_of) - cohort + 1):
            running += increments[cohort][age]
            values.append(running)
        series[cohort] = values
    longest = max((len(v) for v in series.values()), default=0)
    factors: list[Decimal | None] = []
    for age in range(max(longest - 1, 0)):
        both = [c for c in cohorts if len(series[c]) > age + 1][-lookback:]
        before = sum((series[c][age] for c in both), Decimal(0))
        after = sum((series[c][age + 1] for c in both), Decimal(0))
        factors.append(
            Decimal(1) if not both or (before == 0 and after == 0) else None if before == 0 else after / before
        )
    open_by_cohort: dict[int, Decimal] = defaultdict(Decimal)
    for item in ledger.open_items(as_of):
        if item["invoice_id"] in cohort_of:
            open_by_cohort[cohort_of[item["invoice_id"]]] += item["reporting"]
    total = Decimal(0)
    for cohort in cohorts:
        losses = series[cohort][-1]
        if losses == 0:
            continue
        development = Decimal(1)
        for factor in factors[len(series[cohort]) - 1 :]:
            if factor is None:
                if open_by_cohort[cohort] != 0:
                    return None
                development = Decimal(0)
                break
            development *= factor
        total += min(open_by_cohort[cohort], max(Decimal(0), losses * development - losses)) * overlay
    return total


def promise_statuses(ledger: Ledger, as_of: dt.date) -> dict[str, tuple[Decimal, str]]:
    """Per promise made on or before as_of (data-contract.md § promises): what the customer paid in its window
    [promised_on, due_by] up to as_of, each payment at its own date's closing rate, and its status — kept when that
    reaches the amount, broken when due_by has passed, else pending."""
    promises = read_table(ledger.folder, "promises") or []
    customer_of = {
        row.invoice_id: (row.customer_id, (row.currency or ledger.reporting).upper()) for row in ledger.invoices
    }
    paid_by_customer: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for row in ledger.payments:
        customer, currency = customer_of[row.invoice_id]
        on = day(row.payment_date)
        paid_by_customer[customer].append((on, Decimal(row.amount) * ledger.rate(currency, on)))
    statuses = {}
    for row in promises:
        promised_on, due_by = day(row.promised_on), day(row.due_by)
        if promised_on > as_of:
            continue
        paid = sum(
            (amount for on, amount in paid_by_customer[row.customer_id] if promised_on <= on <= min(due_by, as_of)),
            Decimal(0),
        )
        status = "kept" if paid >= Decimal(row.amount) else ("broken" if due_by < as_of else "pending")
        statuses[row.promise_id] = (paid, status)
    return statuses
