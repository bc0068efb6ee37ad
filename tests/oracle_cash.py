"""An independent oracle for the 13-week cash-collection forecast and its back-test (shared/metrics.md v1.1
§ Cash-collection forecast), in plain Python + Decimal over the ledger's rows.

It shares no code with the library (nothing from ``collections_mi`` is imported): it reads the files through
tests/oracle.py (``read_table``, ``Ledger``, ``bucket_of``, ``disputed_at``, ``settled_invoices``) and walks the
open items one by one. Only rows dated on or before the forecast's date count, so the same code gives the forecast
as of D and as of each back-test month-end.

What it computes, as of a date m (week k = m + 7(k−1) + 1 … m + 7k, k = 1..13), every open item at m in reporting
currency at m's closing rate landing in exactly one of weeks 1–13, ``later`` or ``not forecast``:

1. **not forecast**: items in the last aging bucket (reason ``last bucket``), else write-off candidates (reason
   ``write-off candidate``): days past due ≥ ``min_days_past_due``; or past due with no payment from the customer
   dated in [m − ``no_payment_days``, m]; or disputed and days past due ≥ ``disputed_days``.
2. **promise**: the promises made on or before m that are pending with due_by > m — what is still owed on each
   (amount − the customer's payments dated in [promised_on, min(due_by, m)], each at its payment date's rate) —
   earliest due_by first (then promise_id), each on the customer's forecast items oldest due_date first (then
   invoice_date, invoice_id); the covered part is expected on due_by; what a customer's items cannot absorb is
   forecast nowhere. Items not forecast (rule 1) take no promise.
3. the rest on due_date + whole days beyond terms: the customer's dbt_weighted (amount at the invoice date's rate ×
   (settlement − due) / Σ amount, not clipped) over the invoices settled in the 12 calendar months to m (1st of the
   month 11 months before m's month .. m), rounded half up (Decimal ROUND_HALF_UP: half away from zero) — column
   ``customer`` when it has ≥ 3 settled invoices there; else its segment's figure when the segment has ≥ 3; else the
   book's (0 days when nothing settled) — both column ``segment_or_book``. A disputed item (disputed at m: the
   disputes table when the file exists, else invoices.disputed) adds the mean (resolved_on − opened_on) of the
   disputes resolved in the same 12 months, rounded half up (0 when none, or no disputes table); its uncovered part
   is in column ``disputed`` whichever dbt it used.
4. an expected date ≤ m moves to m + 1 (week 1); one after week 13 is ``later``.

Back-test: the last 6 month-ends m with m + 28 days ≤ D, oldest first; for each, the forecast as of m for its weeks
1–4 against the payments dated in those weeks on the invoices open at m (forecast or not), converted at m's closing
rate. forecast_wape_pct = Σ|forecast − actual| / Σ actual × 100 and forecast_bias_pct = Σ(forecast − actual) /
Σ actual × 100 over the 24 cells (None when nothing was received).
"""

from __future__ import annotations

import bisect
import datetime as dt
import decimal
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from oracle import Ledger, bucket_of, day, disputed_at, read_table, settled_invoices

WEEKS = 13
BACKTEST_MONTHS, BACKTEST_WEEKS = 6, 4
MIN_SETTLED = 3
RULES = ("promise", "customer", "segment_or_book", "disputed")
LATER, NOT_FORECAST = "later", "not forecast"
ZERO = Decimal(0)


@dataclass(frozen=True)
class Rules:
    """The params the forecast reads (the library's defaults): aging bounds and basis, write-off candidate rules."""

    bounds: tuple[int, ...] = (30, 60, 90, 120)
    basis: str = "due_date"
    min_days_past_due: int = 180
    no_payment_days: int = 120
    disputed_days: int = 90


@dataclass
class Forecast:
    """The forecast as of ``as_of``: per week (1..13, ``later``, ``not forecast``) the amount and, for weeks 1–13 and
    later, the amount per rule; not forecast by reason; the invoices not forecast."""

    as_of: dt.date
    amounts: dict[object, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    by_rule: dict[object, dict[str, Decimal]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(Decimal)))
    by_reason: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    not_forecast: set[str] = field(default_factory=set)

    def add(self, week: object, rule: str, amount: Decimal) -> None:
        self.amounts[week] += amount
        self.by_rule[week][rule] += amount

    @property
    def total_13w(self) -> Decimal:
        return sum((self.amounts[week] for week in range(1, WEEKS + 1)), ZERO)


def half_up(value: Decimal) -> int:
    """Whole days, halves away from zero (7.5 → 8, −2.5 → −3)."""
    return int(value.quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))


def twelve_months_start(on: dt.date) -> dt.date:
    index = on.year * 12 + on.month - 1 - 11
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(on: dt.date) -> dt.date:
    return (on.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def backtest_month_ends(as_of: dt.date) -> list[dt.date]:
    """The last 6 month-ends m with m + 28 days ≤ as_of, oldest first."""
    latest = as_of - dt.timedelta(days=7 * BACKTEST_WEEKS)
    cursor = latest if month_end(latest) == latest else latest.replace(day=1) - dt.timedelta(days=1)
    ends = []
    while len(ends) < BACKTEST_MONTHS:
        ends.append(cursor)
        cursor = cursor.replace(day=1) - dt.timedelta(days=1)
    return ends[::-1]


def week_of(as_of: dt.date, expected: dt.date) -> int | str:
    """The week an expected date falls in (≤ as_of → week 1; after week 13 → later)."""
    week = max((expected - as_of).days - 1, 0) // 7 + 1
    return week if week <= WEEKS else LATER


class CashOracle:
    """The forecast and back-test of one ledger folder; payments are indexed by invoice and customer once."""

    def __init__(self, folder: Path, rules: Rules = Rules(), reporting_currency: str = "USD") -> None:
        self.rules = rules
        self.ledger = Ledger(folder, reporting_currency)
        self.promises = read_table(folder, "promises") or []
        self.invoice = {row.invoice_id: row for row in self.ledger.invoices}
        self.segment = {row.customer_id: row.segment for row in self.ledger.customers if row.segment}
        self._rates: dict[tuple[str, dt.date], Decimal] = {}
        # customer → sorted (payment_date, amount in the invoice's currency, currency)
        self.paid_by_customer: dict[str, list[tuple[dt.date, Decimal, str]]] = defaultdict(list)
        # invoice → (payment_date, amount)
        self.paid_on_invoice: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
        for row in self.ledger.payments:
            invoice = self.invoice[row.invoice_id]
            when, amount = day(row.payment_date), Decimal(row.amount)
            self.paid_by_customer[invoice.customer_id].append((when, amount, self.currency(invoice.invoice_id)))
            self.paid_on_invoice[row.invoice_id].append((when, amount))
        for rows in self.paid_by_customer.values():
            rows.sort()

    def currency(self, invoice_id: str) -> str:
        return self.invoice[invoice_id].currency or self.ledger.reporting

    def rate(self, currency: str, on: dt.date) -> Decimal:
        key = (currency, on)
        if key not in self._rates:
            self._rates[key] = self.ledger.rate(currency, on)
        return self._rates[key]

    # ------------------------------------------------------------------ the inputs at a date

    def whole_days(self, on: dt.date) -> dict[str, tuple[int, str]]:
        """Per customer with an invoice: (days beyond terms, column) — ``customer`` or ``segment_or_book``."""
        own: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])  # invoices, Σ weight, Σ weight × days
        for row, settled, weight in settled_invoices(self.ledger, twelve_months_start(on), on):
            figures = own[row.customer_id]
            figures[0] += 1
            figures[1] += weight
            figures[2] += weight * (settled - day(row.due_date)).days
        per_segment: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
        book = [ZERO, ZERO, ZERO]
        for customer, figures in own.items():
            targets = [book] + ([per_segment[self.segment[customer]]] if customer in self.segment else [])
            for target in targets:
                for k in range(3):
                    target[k] += figures[k]

        def figure(figures: list[Decimal] | None) -> int | None:
            if figures is None or figures[0] < MIN_SETTLED:
                return None
            return half_up(figures[2] / figures[1])

        book_days = half_up(book[2] / book[1]) if book[0] else 0
        days = {}
        for customer in {row.customer_id for row in self.ledger.invoices}:
            mine = figure(own.get(customer))
            segment = self.segment.get(customer)
            theirs = figure(per_segment.get(segment)) if segment is not None else None
            days[customer] = (
                (mine, "customer")
                if mine is not None
                else (theirs, "segment_or_book")
                if theirs is not None
                else (book_days, "segment_or_book")
            )
        return days

    def resolve_days(self, on: dt.date) -> int:
        if self.ledger.disputes is None:
            return 0
        start = twelve_months_start(on)
        spans = [
            (day(r.resolved_on) - day(r.opened_on)).days
            for r in self.ledger.disputes
            if r.resolved_on is not None and start <= day(r.resolved_on) <= on
        ]
        return half_up(Decimal(sum(spans)) / len(spans)) if spans else 0

    def silent(self, customer: str, on: dt.date) -> bool:
        """No payment from the customer dated in [on − no_payment_days, on]."""
        dates = [when for when, _, _ in self.paid_by_customer.get(customer, [])]
        last = bisect.bisect_right(dates, on) - 1
        return last < 0 or dates[last] < on - dt.timedelta(days=self.rules.no_payment_days)

    def pending(self, on: dt.date) -> list[tuple[dt.date, str, str, Decimal]]:
        """(due_by, promise_id, customer, still owed) of the promises pending at ``on`` with due_by > on."""
        found = []
        for row in self.promises:
            made, due_by = day(row.promised_on), day(row.due_by)
            if made > on or due_by <= on:
                continue
            paid = sum(
                (
                    amount * self.rate(currency, when)
                    for when, amount, currency in self.paid_by_customer.get(row.customer_id, [])
                    if made <= when <= min(due_by, on)
                ),
                ZERO,
            )
            if paid < Decimal(row.amount):
                found.append((due_by, row.promise_id, row.customer_id, Decimal(row.amount) - paid))
        return sorted(found)

    # ------------------------------------------------------------------ the forecast

    def forecast(self, on: dt.date) -> Forecast:
        result = Forecast(on)
        days, resolve = self.whole_days(on), self.resolve_days(on)
        rules = self.rules
        queues: dict[str, list[list]] = defaultdict(list)  # customer → [due, amount left, disputed]

        def oldest_due_first(item: dict) -> tuple[dt.date, dt.date, str]:
            invoice = self.invoice[item["invoice_id"]]
            return day(invoice.due_date), day(invoice.invoice_date), item["invoice_id"]

        for item in sorted(self.ledger.open_items(on), key=oldest_due_first):
            invoice_id, customer = item["invoice_id"], item["customer_id"]
            late = item["days_past_due"]
            age = late if rules.basis == "due_date" else item["days_since_invoice"]
            disputed = disputed_at(self.ledger, invoice_id, on)
            amount = item["balance"] * self.rate(item["currency"], on)
            reason = None
            if bucket_of(age, rules.bounds, rules.basis) == f"{rules.bounds[-1]}+":
                reason = "last bucket"
            elif (
                late >= rules.min_days_past_due
                or (late > 0 and self.silent(customer, on))
                or (disputed and late >= rules.disputed_days)
            ):
                reason = "write-off candidate"
            if reason is not None:
                result.amounts[NOT_FORECAST] += amount
                result.by_reason[reason] += amount
                result.not_forecast.add(invoice_id)
            else:
                queues[customer].append([day(self.invoice[invoice_id].due_date), amount, disputed])
        for due_by, _, customer, owed in self.pending(on):
            for entry in queues.get(customer, []):
                take = min(owed, entry[1])
                if take > 0:
                    result.add(week_of(on, due_by), "promise", take)
                    entry[1] -= take
                    owed -= take
        for customer, queue in queues.items():
            shift, column = days[customer]
            for due, left, disputed in queue:
                if left > 0:
                    expected = due + dt.timedelta(days=shift + (resolve if disputed else 0))
                    result.add(week_of(on, expected), "disputed" if disputed else column, left)
        return result

    def received(self, on: dt.date, not_forecast: set[str]) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
        """Payments dated in weeks 1–4 after ``on`` on the invoices open at ``on``, at on's closing rate: all, and the
        part on the invoices not forecast."""
        actual: dict[int, Decimal] = defaultdict(Decimal)
        apart: dict[int, Decimal] = defaultdict(Decimal)
        for item in self.ledger.open_items(on):
            invoice_id = item["invoice_id"]
            rate = self.rate(item["currency"], on)
            for when, amount in self.paid_on_invoice.get(invoice_id, []):
                if on < when <= on + dt.timedelta(days=7 * BACKTEST_WEEKS):
                    week = ((when - on).days - 1) // 7 + 1
                    actual[week] += amount * rate
                    if invoice_id in not_forecast:
                        apart[week] += amount * rate
        return actual, apart

    def backtest(self, as_of: dt.date) -> dict[tuple[dt.date, int], tuple[Decimal, Decimal, Decimal]]:
        """(month_end, week) → (forecast, actual, actual on not-forecast items)."""
        cells = {}
        for end in backtest_month_ends(as_of):
            forecast = self.forecast(end)
            actual, apart = self.received(end, forecast.not_forecast)
            for week in range(1, BACKTEST_WEEKS + 1):
                cells[(end, week)] = (forecast.amounts.get(week, ZERO), actual.get(week, ZERO), apart.get(week, ZERO))
        return cells


# ---------------------------------------------------------------------- entry points


def forecast_weeks(folder: Path, as_of: dt.date, rules: Rules = Rules()) -> dict[object, Decimal]:
    """Amount per week 1..13, ``later`` and ``not forecast`` (every key present)."""
    forecast = CashOracle(folder, rules).forecast(as_of)
    return {week: forecast.amounts.get(week, ZERO) for week in [*range(1, WEEKS + 1), LATER, NOT_FORECAST]}


def backtest_cells(
    folder: Path, as_of: dt.date, rules: Rules = Rules()
) -> dict[tuple[dt.date, int], tuple[Decimal, Decimal]]:
    """(month_end, week) → (forecast, actual) for the back-test's 6 × 4 cells."""
    return {key: (f, a) for key, (f, a, _) in CashOracle(folder, rules).backtest(as_of).items()}


def accuracy(cells: dict[tuple[dt.date, int], tuple[Decimal, Decimal]]) -> tuple[Decimal | None, Decimal | None]:
    """(wape %, bias %) over the cells; None when nothing was received."""
    received = sum((a for _, a in cells.values()), ZERO)
    if received == 0:
        return None, None
    errors = [f - a for f, a in cells.values()]
    return sum((abs(e) for e in errors), ZERO) / received * 100, sum(errors, ZERO) / received * 100


def forecast_kpis(folder: Path, as_of: dt.date, rules: Rules = Rules()) -> dict[str, Decimal | None]:
    oracle = CashOracle(folder, rules)
    wape, bias = accuracy({k: (f, a) for k, (f, a, _) in oracle.backtest(as_of).items()})
    return {
        "forecast_13w_total": oracle.forecast(as_of).total_13w,
        "forecast_wape_pct": wape,
        "forecast_bias_pct": bias,
    }
