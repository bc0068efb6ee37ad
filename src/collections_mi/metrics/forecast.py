"""The cash-collection forecast over the 13 weeks from D and its back-test (shared/metrics.md v1.1 § Cash-collection
forecast). A pure module: :func:`cash_forecast` and :func:`forecast_backtest` read one Book as of D.

Week k = D + 7(k−1) + 1 … D + 7k, k = 1..13. Every open item at D (data-contract.md §3) lands, in reporting currency
at D's closing rate, in exactly one of: a week 1–13, ``later`` or ``not forecast`` — so the rows of
``tables/cash_forecast.csv`` add up to ``ar_total`` exactly (money is exact Decimal throughout).

1. **Not forecast**: items in the last aging bucket (``aging.basis`` and ``aging.buckets`` as the aging) and the
   allowance section's write-off candidates.
2. **promise**: a customer's pending promises (due_by > D) are applied to its open items oldest due date first; the
   covered amount is expected on the promise's due_by.
3. Any other amount is expected on due_date + the customer's ``dbt_weighted`` over the 12 months to D, rounded half
   up to whole days (**customer**); a customer with fewer than 3 settled invoices there takes its segment's figure,
   else the whole book's (**segment_or_book**). A **disputed** item adds the mean days to resolve of the disputes
   resolved in those 12 months (0 without a disputes table).
4. An expected date ≤ D moves to D + 1 (week 1); one after week 13 is ``later``.

Choices where metrics.md is silent (the pack's conventions text should repeat them):

* **Write-off candidates** are the allowance section's rule (:func:`~collections_mi.metrics.allowance.
  with_write_off_rules`, params ``allowance.write_off_candidates``): past ``min_days_past_due``, or past due with no
  payment from the customer for ``no_payment_days``, or disputed and past due ≥ ``disputed_days``. An item both in
  the last bucket and a candidate is counted once (reason: last bucket).
* **Rule 1 comes first**: promises are applied only to the items that are forecast; a promise does not bring an item
  of the last bucket or a write-off candidate back into the forecast.
* **Promise amount**: what is still owed on a pending promise — its amount − the customer's payments already dated
  in [promised_on, D] (``paid_in_window`` of :func:`~collections_mi.metrics.promises.promise_status`, whose
  pending/kept/broken status is reused as is): that cash has already reduced the open items. A customer's promises
  are applied earliest due_by first (then promise_id), each to the items with the oldest due_date first (then
  invoice_date, invoice_id), all in reporting currency at D's closing rate.
* **Partly covered item**: the covered part is expected on the promise's due_by (column promise), the rest by rule 3.
* **Promise larger than the customer's forecast items**: capped at them — the excess is forecast nowhere (this is a
  forecast of the open balances at D; a promise on cash not yet invoiced is not in it).
* **dbt_weighted "over the 12 months to D"**: the payment-behaviour band's window (``behaviour_window``: the 1st of the
  month 11 months before D's month .. D) and the DSO family's settled invoices and settlement sums
  (:class:`~collections_mi.metrics.dso_inputs.SettlementSums`, ``SettlementTotals.kpis()["dbt_weighted"]``:
  amount-weighted at each invoice date's rate, not clipped). The segment's figure (``customers.segment``) is used when
  the segment has at least 3 settled invoices in the window as well; a customer without a segment, or whose segment
  has fewer, takes the book's figure; a book with no settled invoice in the window forecasts on due dates (0 days).
* **Rule columns partition the amount**: promise + customer + segment_or_book + disputed = amount. A disputed item's
  amount not covered by a promise is in ``disputed`` (whichever dbt it used); a promise wins over a dispute (a
  covered amount is expected on due_by, not shifted).
* **Disputed** = disputed at D as the aging reads it (the disputes table when present, else ``invoices.disputed``);
  the whole uncovered balance of a disputed item is shifted, not only the disputed amount. Mean days to resolve =
  mean (resolved_on − opened_on) over the disputes resolved in the same 12-month window (as
  ``dispute_days_to_resolve``, over 12 months instead of W), rounded half up; 0 when none was resolved there. The
  dbt and the dispute days are each rounded to whole days, then added to the due date.
* **Back-test**: the month-ends m are the last 6 with m + 28 days ≤ D. The forecast as of m is computed from the same
  Book with only rows dated ≤ m (open balances, payments, promises made and paid, disputes open and resolved,
  settlements and fx rates ≤ m — the way the DSO trend and the allowance back-test recompute earlier month-ends),
  except ``invoices.disputed``, a flag of the export's day when the ledger has no disputes table. Actual = payments
  dated in each week on the invoices open at m (including those not forecast: the spec's "items open at m"; the part
  on not-forecast items is shown apart), converted at **m's closing rate**, the rate of the forecast, so a currency
  move after m is not counted as a forecast error.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from collections_mi.config.params import Params
from collections_mi.core.money import MONEY_CONTEXT, ZERO, dsum, percent_of, ratio
from collections_mi.core.periods import closed_month_ends_up_to
from collections_mi.metrics.aging import aged_items
from collections_mi.metrics.allowance import with_write_off_rules
from collections_mi.metrics.behaviour import behaviour_window, rounded_days
from collections_mi.metrics.book import Book, held_once
from collections_mi.metrics.dso_inputs import SettlementSums
from collections_mi.metrics.fx import FxRates, convert_column
from collections_mi.metrics.promises import each_promise_status
from collections_mi.metrics.published import LATER, NOT_FORECAST
from collections_mi.sources.ledger import fetch

FORECAST_WEEKS = 13
#: the back-test: month-ends, and weeks of each month-end's forecast compared with the cash received
BACKTEST_MONTHS = 6
BACKTEST_WEEKS = 4
#: a customer with fewer settled invoices in the 12 months takes its segment's figure (or the book's)
MIN_SETTLED_INVOICES = 3
RULES = ("promise", "customer", "segment_or_book", "disputed")
#: why an item is not forecast
LAST_BUCKET = "last bucket"
WRITE_OFF_CANDIDATE = "write-off candidate"

WEEK_COLUMNS = ["week", "week_start", "week_end", "amount", *RULES]
CUSTOMER_COLUMNS = ["customer_id", "name", "amount", *RULES, "later", "not_forecast", "dbt_days", "dbt_basis"]
LINE_COLUMNS = [
    "invoice_id",
    "customer_id",
    "currency",
    "due_date",
    "disputed",
    "rule",
    "promise_id",
    "expected_on",
    "week",
    "amount",
    "reason",
]
BACKTEST_COLUMNS = [
    "month_end",
    "week",
    "week_start",
    "week_end",
    "forecast",
    "actual",
    "error",
    "actual_not_forecast",
]
BACKTEST_MONTH_COLUMNS = ["month_end", "forecast", "actual", "error", "abs_error", "wape_pct", "bias_pct"]


# ---------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CashForecast:
    """The forecast as of ``as_of``: ``weeks`` is ``tables/cash_forecast.csv`` (weeks 1–13, ``later``,
    ``not forecast``); ``customers`` the expected receipts per customer (largest in weeks 1–13 first); ``lines`` one
    row per item and rule (the drill-down)."""

    as_of: dt.date
    weeks: pd.DataFrame
    customers: pd.DataFrame
    lines: pd.DataFrame
    #: Σ weeks 1–13 (the KPI)
    forecast_13w_total: Decimal
    later_total: Decimal
    not_forecast_total: Decimal
    #: not forecast, by reason (``last bucket``, ``write-off candidate``)
    not_forecast_by_reason: Mapping[str, Decimal]
    #: the book's dbt_weighted over the 12 months (exact; None without a settled invoice) and the days it gives
    book_dbt_weighted: Decimal | None
    book_dbt_days: int
    #: mean days to resolve of the 12 months (exact; None: no disputes table or none resolved) and the days added
    dispute_days_to_resolve: Decimal | None
    dispute_days: int
    #: the 12 months the dbt and the days to resolve are read from
    window_start: dt.date


@dataclass(frozen=True)
class Backtest:
    """Each back-test month-end's forecast of its weeks 1–4 against the cash received in them on its open items."""

    month_ends: tuple[dt.date, ...]
    #: one row per month-end and week (BACKTEST_COLUMNS); error = forecast − actual
    weeks: pd.DataFrame
    #: one row per month-end: the four weeks together
    months: pd.DataFrame
    #: Σ|forecast − actual| / Σ actual × 100 and Σ(forecast − actual) / Σ actual × 100 (None when Σ actual = 0)
    forecast_wape_pct: Decimal | None
    forecast_bias_pct: Decimal | None


# ---------------------------------------------------------------------------------------------- pure definitions


def week_bounds(as_of: dt.date, week: int) -> tuple[dt.date, dt.date]:
    """Week k from as_of: D + 7(k−1) + 1 … D + 7k."""
    return as_of + dt.timedelta(days=7 * (week - 1) + 1), as_of + dt.timedelta(days=7 * week)


def placed(as_of: dt.date, expected: dt.date) -> tuple[dt.date, int | str]:
    """The date an amount is expected on and its week: an expected date ≤ D moves to D + 1 (week 1); one after week
    13 is ``later``."""
    if expected <= as_of:
        expected = as_of + dt.timedelta(days=1)
    week = ((expected - as_of).days - 1) // 7 + 1
    return expected, week if week <= FORECAST_WEEKS else LATER


def backtest_month_ends(as_of: dt.date) -> list[dt.date]:
    """The last 6 month-ends m at least 4 weeks before D (m + 28 days ≤ D), oldest first."""
    return closed_month_ends_up_to(as_of - dt.timedelta(days=7 * BACKTEST_WEEKS), BACKTEST_MONTHS)


@dataclass(frozen=True)
class PaymentDays:
    """Whole days beyond terms per customer (its own figure), per segment and for the whole book, at one date."""

    customer_days: Mapping[object, int]
    segment_days: Mapping[object, int]
    segment_of: Mapping[object, object]
    book_dbt_weighted: Decimal | None

    @property
    def book_days(self) -> int:
        return 0 if self.book_dbt_weighted is None else rounded_days(self.book_dbt_weighted)

    def days_of(self, customer: object) -> tuple[int, str]:
        """The customer's whole days beyond terms and whose figure it is: ``customer``, ``segment`` or ``book``."""
        if customer in self.customer_days:
            return self.customer_days[customer], "customer"
        segment = self.segment_of.get(customer)
        if segment is not None and segment in self.segment_days:
            return self.segment_days[segment], "segment"
        return self.book_days, "book"


#: what the dbt figures are read from (:func:`payment_days`)
_DBT_SUMS = ("invoices", "amount", "amount_days_beyond_terms")


def payment_days(settled: SettlementSums, segment_of: Mapping[object, object], as_of: dt.date) -> PaymentDays:
    """The dbt figures at ``as_of`` from the settlement sums per (settlement month, customer): the months of the 12
    months to as_of; a customer's (or segment's) own figure needs at least 3 settled invoices. dbt_weighted is
    Σ amount × (settlement − due date) / Σ amount (``SettlementTotals.kpis()``)."""
    window = behaviour_window(as_of)
    book = settled.money_totals(window.start, window.end, ("amount", "amount_days_beyond_terms"))
    customer_days, segment_days = settled.whole_days(
        window.start, window.end, "amount_days_beyond_terms", MIN_SETTLED_INVOICES, (None, segment_of)
    )
    return PaymentDays(customer_days, segment_days, segment_of, ratio(book["amount_days_beyond_terms"], book["amount"]))


def mean_days_to_resolve(resolved: Iterable[tuple[dt.date, dt.date]], as_of: dt.date) -> Decimal | None:
    """Mean (resolved_on − opened_on) over the disputes (opened_on, resolved_on) resolved in the 12 months to as_of."""
    start = behaviour_window(as_of).start
    days = [(resolved_on - opened_on).days for opened_on, resolved_on in resolved if start <= resolved_on <= as_of]
    return ratio(Decimal(sum(days)), Decimal(len(days))) if days else None


@dataclass
class _Open:
    """An item of a customer with a pending promise being forecast: its position among the items and what is left
    of it (reporting currency) once promises took their part."""

    position: int
    left: Decimal


@dataclass(frozen=True)
class Promise:
    """A pending promise: what is still owed on it (reporting currency) and when."""

    promise_id: object
    customer_id: object
    due_by: dt.date
    owed: Decimal


def pending_promises(status: pd.DataFrame, as_of: dt.date) -> list[Promise]:
    """The pending promises with due_by > as_of (from :func:`promise_status` as of that date), each with amount −
    paid_in_window still owed, earliest due_by first (then promise_id)."""
    if not len(status):
        return []
    rows = [
        Promise(promise_id, customer, due_by, amount - paid)
        for promise_id, customer, due_by, amount, paid, state in zip(
            *(status[c].tolist() for c in ("promise_id", "customer_id", "due_by", "amount", "paid_in_window", "status"))
        )
        if state == "pending" and due_by > as_of and amount > paid
    ]
    return sorted(rows, key=lambda p: (p.due_by, str(p.promise_id)))


def forecast_lines(
    as_of: dt.date,
    items: pd.DataFrame,
    promises: Sequence[Promise],
    days: PaymentDays,
    dispute_days: int,
    last_bucket: str,
    fx: FxRates,
) -> pd.DataFrame:
    """Every open item at as_of split into lines by the four rules: one row per line (:data:`LINE_COLUMNS`; the
    items table). ``items``: the open items at as_of with invoice_id, customer_id, currency, invoice_date,
    due_date, open_balance, bucket, disputed, candidate.

    The lines come in this order: the items not forecast (rule 1), in the items' order (due_date, invoice_date,
    invoice_id); the promise lines, in the promises' order (rule 2); the rest of every forecast item (rule 3), the
    customers in the order of their first forecast item, each customer's items in the items' order. Only the items
    of customers with a pending promise go through promises one by one; the dates and weeks of rule 3 are computed
    for all the items at once."""
    ordered = items.sort_values(["due_date", "invoice_date", "invoice_id"], kind="stable")
    invoice_ids, customers, currencies, due_dates = (
        ordered[c].tolist() for c in ("invoice_id", "customer_id", "currency", "due_date")
    )
    amounts = convert_column(ordered, fx, "open_balance", "currency", as_of).tolist()
    disputed = [bool(flag) for flag in ordered["disputed"].tolist()]
    buckets = ordered["bucket"].tolist()
    last = [bucket == last_bucket for bucket in buckets]
    excluded = [is_last or bool(candidate) for is_last, candidate in zip(last, ordered["candidate"].tolist())]
    # 1. not forecast: the last bucket and the write-off candidates
    dropped = [row for row, out in enumerate(excluded) if out]
    columns: dict[str, list[object]] = {column: [] for column in LINE_COLUMNS}
    _add_rows(columns, dropped, invoice_ids, customers, currencies, due_dates, disputed)
    columns["rule"] += [NOT_FORECAST] * len(dropped)
    columns["promise_id"] += [None] * len(dropped)
    columns["expected_on"] += [None] * len(dropped)
    columns["week"] += [NOT_FORECAST] * len(dropped)
    columns["amount"] += [amounts[row] for row in dropped]
    columns["reason"] += [LAST_BUCKET if last[row] else WRITE_OFF_CANDIDATE for row in dropped]
    # 2. promises, earliest due_by first, each on the customer's oldest due items first; the excess is capped
    forecast = [row for row, out in enumerate(excluded) if not out]
    left = [amounts[row] for row in forecast]
    promised = {promise.customer_id for promise in promises}
    queues: dict[object, list[_Open]] = defaultdict(list)
    for index, row in enumerate(forecast):
        if customers[row] in promised:
            queues[customers[row]].append(_Open(index, amounts[row]))
    position: dict[object, int] = defaultdict(int)
    promise_rows: list[int] = []
    for promise in promises:
        queue = queues.get(promise.customer_id, [])
        owed = promise.owed
        expected, week = placed(as_of, promise.due_by)
        while owed > 0 and position[promise.customer_id] < len(queue):
            item = queue[position[promise.customer_id]]
            take = min(owed, item.left)
            promise_rows.append(forecast[item.position])
            columns["promise_id"].append(promise.promise_id)
            columns["expected_on"].append(expected)
            columns["week"].append(week)
            columns["amount"].append(take)
            item.left -= take
            owed -= take
            if item.left == 0:
                position[promise.customer_id] += 1
    for queue in queues.values():
        for item in queue:
            left[item.position] = item.left
    _add_rows(columns, promise_rows, invoice_ids, customers, currencies, due_dates, disputed)
    columns["rule"] += ["promise"] * len(promise_rows)
    columns["reason"] += [None] * len(promise_rows)
    # 3. the rest by payment behaviour (+ the days to resolve when disputed): customers in the order of their first
    # forecast item, then the items' order
    first: dict[object, int] = {}
    for index, row in enumerate(forecast):
        first.setdefault(customers[row], index)
    shift_of = {customer: days.days_of(customer) for customer in first}
    rest = [index for index in range(len(forecast)) if left[index] != 0]
    rest.sort(key=lambda index: first[customers[forecast[index]]])  # stable: the items' order within a customer
    rows = [forecast[index] for index in rest]
    shifts = np.array(
        [shift_of[customers[row]][0] + (dispute_days if disputed[row] else 0) for row in rows], dtype=np.int64
    )
    # expected = due date + shift, moved to D + 1 when on or before D: as day numbers (date.toordinal)
    day = as_of.toordinal()
    due_days = np.fromiter((due_dates[row].toordinal() for row in rows), dtype=np.int64, count=len(rows))
    expected_days = np.maximum(due_days + shifts, day + 1)
    _add_rows(columns, rows, invoice_ids, customers, currencies, due_dates, disputed)
    columns["rule"] += [
        "disputed"
        if disputed[row]
        else ("customer" if shift_of[customers[row]][1] == "customer" else "segment_or_book")
        for row in rows
    ]
    columns["promise_id"] += [None] * len(rows)
    weeks = (expected_days - day - 1) // 7 + 1
    columns["expected_on"] += [dt.date.fromordinal(expected) for expected in expected_days.tolist()]
    columns["week"] += [week if week <= FORECAST_WEEKS else LATER for week in weeks.tolist()]
    columns["amount"] += [left[index] for index in rest]
    columns["reason"] += [None] * len(rows)
    frame = pd.DataFrame(columns, columns=LINE_COLUMNS)
    for column in ("promise_id", "expected_on", "week", "reason"):  # None stays None, not NaN
        frame[column] = pd.Series(columns[column], index=frame.index, dtype=object)
    return frame


def _add_rows(
    columns: dict[str, list[object]],
    rows: list[int],
    invoice_ids: list[object],
    customers: list[object],
    currencies: list[object],
    due_dates: list[object],
    disputed: list[bool],
) -> None:
    """The item columns of ``rows`` (positions among the items) appended to the lines' columns."""
    columns["invoice_id"] += [invoice_ids[row] for row in rows]
    columns["customer_id"] += [customers[row] for row in rows]
    columns["currency"] += [currencies[row] for row in rows]
    columns["due_date"] += [due_dates[row] for row in rows]
    columns["disputed"] += [disputed[row] for row in rows]


def _sums(amounts: Iterable[Decimal], rules: Iterable[str]) -> dict[str, Decimal]:
    parts: dict[str, list[Decimal]] = defaultdict(list)
    for amount, rule in zip(amounts, rules):
        parts["amount"].append(amount)
        if rule in RULES:
            parts[rule].append(amount)
    return {key: dsum(parts[key]) for key in ("amount", *RULES)}


def weeks_table(as_of: dt.date, lines: pd.DataFrame) -> pd.DataFrame:
    """``tables/cash_forecast.csv``: weeks 1–13, ``later`` (from the day after week 13) and ``not forecast`` (no
    dates, no rule)."""
    by_week: dict[int | str, tuple[list[Decimal], list[str]]] = defaultdict(lambda: ([], []))
    for week, rule, amount in zip(*(lines[c].tolist() for c in ("week", "rule", "amount"))):
        amounts, rules = by_week[week]
        amounts.append(amount)
        rules.append(rule)
    rows: list[dict[str, object]] = []
    for week in range(1, FORECAST_WEEKS + 1):
        start, end = week_bounds(as_of, week)
        rows.append({"week": week, "week_start": start, "week_end": end, **_sums(*by_week[week])})
    later_start = week_bounds(as_of, FORECAST_WEEKS)[1] + dt.timedelta(days=1)
    rows.append({"week": LATER, "week_start": later_start, "week_end": None, **_sums(*by_week[LATER])})
    rows.append(
        {
            "week": NOT_FORECAST,
            "week_start": None,
            "week_end": None,
            "amount": dsum(by_week[NOT_FORECAST][0]),
            **dict.fromkeys(RULES),
        }
    )
    return pd.DataFrame(rows, columns=WEEK_COLUMNS)


def customers_table(lines: pd.DataFrame, names: Mapping[object, str], days: PaymentDays) -> pd.DataFrame:
    """Expected receipts per customer with an open item: weeks 1–13 in total and by rule, later, not forecast, and
    the whole days beyond terms it was forecast with; largest in weeks 1–13 first, then customer_id."""
    # running sums from zero in line order per customer: the Decimals dsum() of each part's amounts gives
    sums: dict[object, dict[str, Decimal]] = {}
    parts = ("amount", *RULES, "later", "not_forecast")
    with decimal.localcontext(MONEY_CONTEXT):
        for customer, week, rule, amount in zip(
            *(lines[c].tolist() for c in ("customer_id", "week", "rule", "amount"))
        ):
            own = sums.get(customer)
            if own is None:
                own = sums[customer] = dict.fromkeys(parts, ZERO)
            if isinstance(week, int):
                own["amount"] += amount
                if rule in RULES:
                    own[rule] += amount
            elif week == LATER:
                own["later"] += amount
            elif week == NOT_FORECAST:
                own["not_forecast"] += amount
    rows: list[tuple[Decimal, str, dict[str, object]]] = []
    for customer, own in sums.items():
        dbt_days, basis = days.days_of(customer)
        rows.append(
            (
                -own["amount"],
                str(customer),
                {
                    "customer_id": customer,
                    "name": names.get(customer) or customer,
                    **own,
                    "dbt_days": dbt_days,
                    "dbt_basis": basis,
                },
            )
        )
    rows.sort(key=lambda row: row[:2])
    return pd.DataFrame([row for _, _, row in rows], columns=CUSTOMER_COLUMNS)


# ---------------------------------------------------------------------------------------------- from the Book


@dataclass(frozen=True)
class ForecastInputs:
    """What the forecasts at ``dates`` are made from, gathered in a handful of engine queries whatever their number
    (:func:`forecast_inputs`)."""

    dates: tuple[dt.date, ...]
    #: the open items at every date, column ``as_of`` (:func:`_open_items`): an engine expression, or (``held``) a
    #: table of the engine holding them, computed once for the forecast at D and the back-test's month-ends
    items: ir.Table
    settled: SettlementSums
    segment_of: Mapping[object, object]
    names: Mapping[object, str]
    resolved: list[tuple[dt.date, dt.date]] | None
    promises: Mapping[dt.date, list[Promise]] = field(default_factory=dict)
    #: whether ``items`` is a table of the engine holding the open items at every date (:func:`holding_items`): a
    #: forecast reads its date's rows from it instead of computing them
    held: bool = False


@contextmanager
def holding_items(inputs: ForecastInputs) -> Iterator[ForecastInputs]:
    """``inputs`` with the open items at all their dates computed once into a temporary table of the engine (dropped
    on exit): the forecast at D and the back-test's month-ends then read it, instead of each computing the
    write-off rules (every payment joined to its invoice, each customer's last payment) for its own dates."""
    if inputs.held:
        yield inputs
        return
    with held_once(inputs.items) as table:
        yield replace(inputs, items=table, held=True)


def _open_items(book: Book, params: Params, days: Sequence[dt.date]) -> ir.Table:
    """The open items at each of ``days`` (column ``as_of``) with what the forecast reads: bucket, dispute flag and
    the write-off ``candidate`` flag (:func:`~collections_mi.metrics.allowance.with_write_off_rules`)."""
    items = with_write_off_rules(
        book, aged_items(book, params.aging, list(days)), params.allowance.write_off_candidates
    )
    return items.select(
        "as_of",
        "invoice_id",
        "customer_id",
        "currency",
        "invoice_date",
        "due_date",
        "days_past_due",
        "open_balance",
        "bucket",
        "disputed",
        candidate=items.over_age_limit | items.no_recent_payment | items.long_dispute,
    )


def forecast_inputs(book: Book, params: Params, dates: Sequence[dt.date] | None = None) -> ForecastInputs:
    """The inputs of the forecasts as of each of ``dates`` (default: D and the back-test month-ends — what the cash
    section needs, in one pass)."""
    dates = [book.as_of, *backtest_month_ends(book.as_of)] if dates is None else list(dates)
    # the open items stay in the engine (the seven dates fetched at once would be ~5M Python rows at 10M invoices):
    # the forecast at D fetches its own date's, the back-test reads its month-ends' (holding_items)
    items = _open_items(book, params, dates)
    since = behaviour_window(min(dates)).start
    settled = SettlementSums.gather(book, since, by="customer_id", columns=_DBT_SUMS)
    customers = fetch(book.customers.select("customer_id", "name", "segment"))
    segment_of = {
        c: s
        for c, s in zip(customers["customer_id"].tolist(), customers["segment"].tolist())
        if isinstance(s, str) and s
    }
    names = {
        c: n for c, n in zip(customers["customer_id"].tolist(), customers["name"].tolist()) if isinstance(n, str) and n
    }
    resolved = None
    if book.disputes is not None:
        disputes = book.disputes
        done = fetch(
            disputes.filter(
                disputes.resolved_on.notnull()
                & (disputes.resolved_on >= since)
                & (disputes.resolved_on <= max(dates))
                & (disputes.opened_on <= disputes.resolved_on)
            ).select("opened_on", "resolved_on")
        )
        resolved = list(zip(done["opened_on"].tolist(), done["resolved_on"].tolist()))
    promises = (
        {day: pending_promises(status, day) for day, status in each_promise_status(book, dates)}
        if book.promises is not None
        else {}
    )
    return ForecastInputs(tuple(dates), items, settled, segment_of, names, resolved, promises)


def _forecast_at(
    book: Book, params: Params, inputs: ForecastInputs, as_of: dt.date
) -> tuple[pd.DataFrame, PaymentDays, Decimal | None]:
    """The lines of the forecast as of ``as_of``, the dbt figures and the exact mean days to resolve it used."""
    if as_of not in inputs.dates:
        raise ValueError(f"the forecast inputs were gathered for {list(inputs.dates)}, not {as_of}")
    days = payment_days(inputs.settled, inputs.segment_of, as_of)
    resolve = None if inputs.resolved is None else mean_days_to_resolve(inputs.resolved, as_of)
    every = inputs.items
    items = fetch(every.filter(every.as_of == as_of).order_by(["due_date", "invoice_date", "invoice_id"]))
    lines = forecast_lines(
        as_of,
        items,
        inputs.promises.get(as_of, []),
        days,
        0 if resolve is None else rounded_days(resolve),
        params.aging.labels[-1],
        book.fx,
    )
    return lines, days, resolve


def cash_forecast(book: Book, params: Params, inputs: ForecastInputs | None = None) -> CashForecast:
    """The 13-week cash-collection forecast as of ``book.as_of`` (metrics.md v1.1; the choices in this module's
    docstring). ``inputs``: gathered by :func:`forecast_inputs` for dates including D (default: for D alone)."""
    as_of = book.as_of
    inputs = forecast_inputs(book, params, [as_of]) if inputs is None else inputs
    lines, days, resolve = _forecast_at(book, params, inputs, as_of)
    weeks = weeks_table(as_of, lines)
    in_weeks = weeks[weeks["week"].map(lambda w: isinstance(w, int))]
    reasons: dict[str, list[Decimal]] = defaultdict(list)
    for reason, amount in zip(lines["reason"].tolist(), lines["amount"].tolist()):
        if reason is not None:
            reasons[reason].append(amount)
    return CashForecast(
        as_of=as_of,
        weeks=weeks,
        customers=customers_table(lines, inputs.names, days),
        lines=lines,
        forecast_13w_total=dsum(in_weeks["amount"]),
        later_total=weeks.loc[weeks["week"] == LATER, "amount"].iloc[0],
        not_forecast_total=weeks.loc[weeks["week"] == NOT_FORECAST, "amount"].iloc[0],
        not_forecast_by_reason={reason: dsum(reasons[reason]) for reason in (LAST_BUCKET, WRITE_OFF_CANDIDATE)},
        book_dbt_weighted=days.book_dbt_weighted,
        book_dbt_days=days.book_days,
        dispute_days_to_resolve=resolve,
        dispute_days=0 if resolve is None else rounded_days(resolve),
        window_start=behaviour_window(as_of).start,
    )


def _not_forecast(items: ir.Table, last_bucket: str) -> ir.BooleanValue:
    """Rule 1 in the engine, as :func:`forecast_lines` reads it: the last bucket or a write-off candidate."""
    return (items.bucket.fill_null("") == last_bucket) | items.candidate.fill_null(False)


def _backtest_month(
    book: Book, params: Params, inputs: ForecastInputs, month_end: dt.date, items: ir.Table
) -> tuple[dict[int, Decimal], dict[int, Decimal], dict[int, Decimal]]:
    """The forecast as of ``month_end`` for its weeks 1–4 and the cash received in them on the items open then —
    forecast, actual and the actual on not-forecast items per week — without a line per item: the sums of the lines
    :func:`forecast_lines` would make. The items of customers with a pending promise go through it; every other
    forecast item lands whole on due date + its days (rule 3), so the engine sums those per week and currency, and the
    payments per week, currency and rule 1; the sums are converted at month_end's rate afterwards (conversion is
    linear, so the Decimals equal converting each item). ``items``: the open items at month_end (:func:`_open_items`,
    held by the caller with the other dates')."""
    days = payment_days(inputs.settled, inputs.segment_of, month_end)
    resolve = None if inputs.resolved is None else mean_days_to_resolve(inputs.resolved, month_end)
    dispute_days = 0 if resolve is None else rounded_days(resolve)
    promises = inputs.promises.get(month_end, [])
    promised = {promise.customer_id for promise in promises}
    last_bucket = params.aging.labels[-1]
    customers = [*dict.fromkeys([*days.customer_days, *days.segment_of, *promised])]
    shifts = ibis.memtable(
        pd.DataFrame(
            {
                "shift_customer_id": customers,
                "shift": [days.days_of(customer)[0] for customer in customers],
                "promised": [customer in promised for customer in customers],
            }
        ),
        schema={"shift_customer_id": items.customer_id.type(), "shift": "int64", "promised": "boolean"},
    )
    forecast_items = items.filter(~_not_forecast(items, last_bucket))
    joined = forecast_items.left_join(shifts, forecast_items.customer_id == shifts.shift_customer_id)
    promised_customer = joined.promised.fill_null(False)
    # expected − month_end in days: due date + days beyond terms (+ the days to resolve when disputed)
    ahead = (
        joined.shift.fill_null(days.book_days)
        + ibis.ifelse(joined.disputed.fill_null(False), dispute_days, 0)
        - joined.days_past_due
    )
    rest = joined.filter(~promised_customer).mutate(week=ibis.greatest(ahead - 1, 0) // 7 + 1)
    rest = rest.filter(rest.week <= BACKTEST_WEEKS)
    forecast: dict[int, list[Decimal]] = defaultdict(list)
    for week, currency, amount in _week_sums(
        rest.group_by(["week", "currency"]).aggregate(amount=rest.open_balance.sum())
    ):
        forecast[week].append(book.fx.convert(amount, currency, month_end))
    with_promises = fetch(
        joined.filter(promised_customer).select(*items.columns).order_by(["due_date", "invoice_date", "invoice_id"])
    )
    lines = forecast_lines(month_end, with_promises, promises, days, dispute_days, last_bucket, book.fx)
    for week, amount in zip(lines["week"].tolist(), lines["amount"].tolist()):
        if isinstance(week, int) and week <= BACKTEST_WEEKS:
            forecast[week].append(amount)
    # the cash received in the four weeks on every item open at month_end (rule 1 kept apart)
    keys = items.select(
        open_invoice_id="invoice_id", open_currency="currency", not_forecast=_not_forecast(items, last_bucket)
    )
    payments = book.payments
    received = keys.join(
        payments,
        [
            keys.open_invoice_id == payments.invoice_id,
            payments.payment_date > ibis.date(month_end),
            payments.payment_date <= ibis.date(month_end + dt.timedelta(days=7 * BACKTEST_WEEKS)),
        ],
    )
    received = received.mutate(week=(received.payment_date.delta(ibis.date(month_end), unit="day") - 1) // 7 + 1)
    actual: dict[int, list[Decimal]] = defaultdict(list)
    actual_not_forecast: dict[int, list[Decimal]] = defaultdict(list)
    grouped = received.group_by(["week", "open_currency", "not_forecast"]).aggregate(amount=received.amount.sum())
    frame = fetch(grouped)
    for week, currency, excluded, amount in zip(
        *(frame[c].tolist() for c in ("week", "open_currency", "not_forecast", "amount"))
    ):
        converted = book.fx.convert(amount, currency, month_end)
        actual[week].append(converted)
        if excluded:
            actual_not_forecast[week].append(converted)
    weeks = range(1, BACKTEST_WEEKS + 1)
    return (
        {week: dsum(forecast[week]) for week in weeks},
        {week: dsum(actual[week]) for week in weeks},
        {week: dsum(actual_not_forecast[week]) for week in weeks},
    )


def _week_sums(expression: ir.Table) -> list[tuple[int, str, Decimal]]:
    frame = fetch(expression)
    return list(zip(*(frame[c].tolist() for c in ("week", "currency", "amount"))))


def forecast_backtest(book: Book, params: Params, inputs: ForecastInputs | None = None) -> Backtest:
    """The forecast made as of each of the last 6 month-ends m at least 4 weeks before D (only rows dated ≤ m) for
    its weeks 1–4, against the cash received in those weeks on the items open at m (at m's closing rate).
    ``inputs``: gathered by :func:`forecast_inputs` for dates including those month-ends (default: for them alone)."""
    month_ends = backtest_month_ends(book.as_of)
    inputs = forecast_inputs(book, params, month_ends) if inputs is None else inputs
    week_rows: list[dict[str, object]] = []
    month_rows: list[dict[str, object]] = []
    errors: list[Decimal] = []
    received_all: list[Decimal] = []
    # the open items at every date computed together, once (already, when the cash section holds them)
    with holding_items(inputs) as held:
        every = held.items
        results = [
            _backtest_month(book, params, held, month_end, every.filter(every.as_of == month_end))
            for month_end in month_ends
        ]
    for month_end, (forecast, actual, actual_excluded) in zip(month_ends, results):
        rows = []
        for week in range(1, BACKTEST_WEEKS + 1):
            start, end = week_bounds(month_end, week)
            predicted, received = forecast[week], actual[week]
            errors.append(predicted - received)
            received_all.append(received)
            rows.append(
                {
                    "month_end": month_end,
                    "week": week,
                    "week_start": start,
                    "week_end": end,
                    "forecast": predicted,
                    "actual": received,
                    "error": predicted - received,
                    "actual_not_forecast": actual_excluded[week],
                }
            )
        week_rows.extend(rows)
        month_errors = errors[-BACKTEST_WEEKS:]
        received = dsum(received_all[-BACKTEST_WEEKS:])
        abs_error = dsum(abs(error) for error in month_errors)
        error = dsum(month_errors)
        month_rows.append(
            {
                "month_end": month_end,
                "forecast": received + error,
                "actual": received,
                "error": error,
                "abs_error": abs_error,
                "wape_pct": percent_of(abs_error, received),
                "bias_pct": percent_of(error, received),
            }
        )
    actual_total = dsum(received_all)
    return Backtest(
        month_ends=tuple(month_ends),
        weeks=pd.DataFrame(week_rows, columns=BACKTEST_COLUMNS),
        months=pd.DataFrame(month_rows, columns=BACKTEST_MONTH_COLUMNS),
        forecast_wape_pct=percent_of(dsum(abs(error) for error in errors), actual_total),
        forecast_bias_pct=percent_of(dsum(errors), actual_total),
    )
