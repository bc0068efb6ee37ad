"""Days sales outstanding family and collection KPIs (shared/metrics.md § Days sales outstanding family).

Pure numeric definitions first (testable against published worked examples), then the functions that
gather AR, credit sales and settlements from the ledger — for one as-of date or for every month-end of a
trend in one pass over the data.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import ibis
import pandas as pd

from collections_mi.config.params import Params
from collections_mi.core.money import HUNDRED, MONEY_CONTEXT, ZERO, dsum, ratio
from collections_mi.metrics.balances import (
    Tables,
    convert_column,
    invoices_with_currency,
    month_ends_up_to,
    open_items,
    previous_month_end,
)
from collections_mi.metrics.fx import FxRates
from collections_mi.metrics.published import DsoKpis, DsoResult, DsoTables
from collections_mi.metrics.result import Table, Unavailable

RATIO_CONTEXT = decimal.Context(prec=28)

# ---------------------------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class Window:
    """W = 1st day of the month (window_months − 1) before D's month .. D, both inclusive."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def first_of_month_back(day: dt.date, months_back: int) -> dt.date:
    month_index = day.year * 12 + (day.month - 1) - months_back
    return dt.date(month_index // 12, month_index % 12 + 1, 1)


def dso_window(as_of: dt.date, window_months: int) -> Window:
    return Window(first_of_month_back(as_of, window_months - 1), as_of)


def days_sales_outstanding(receivables: Decimal, sales: Decimal, days: int) -> Decimal | None:
    """AR / sales × days; None when there were no sales (undefined, not zero)."""
    if sales == 0:
        return None
    with decimal.localcontext(RATIO_CONTEXT):
        return Decimal(receivables) * days / Decimal(sales)


def countback_dso(receivables: Decimal, months_newest_first: Iterable[tuple[Decimal, int]]) -> Decimal | None:
    """Countback (exhaustion) DSO: R = AR; for each month back, while R ≥ the month's sales subtract them and add
    the month's days; then add R / sales × days and stop. None when the history runs out before R is used up."""
    remaining = Decimal(receivables)
    total = Decimal(0)
    with decimal.localcontext(RATIO_CONTEXT):
        for sales, days in months_newest_first:
            if remaining == 0:
                return total
            sales = Decimal(sales)
            if remaining >= sales:
                remaining -= sales
                total += days
                continue
            return total + remaining * days / sales
    return total if remaining == 0 else None


def collection_effectiveness(
    receivables_begin: Decimal, sales: Decimal, receivables_end: Decimal, current_end: Decimal
) -> Decimal | None:
    """CEI % = (AR(start−1) + S − AR(D)) / (AR(start−1) + S − current AR(D)) × 100."""
    denominator = Decimal(receivables_begin) + Decimal(sales) - Decimal(current_end)
    if denominator == 0:
        return None
    with decimal.localcontext(RATIO_CONTEXT):
        return (Decimal(receivables_begin) + Decimal(sales) - Decimal(receivables_end)) * HUNDRED / denominator


def countback_months(as_of: dt.date, convention: str | int) -> Iterable[tuple[dt.date, dt.date, int]]:
    """Calendar months walking back from D's month: (first day, last day counted, days). D's month counts up to D.

    With the 30-day convention every full month counts 30 days and D's month counts min(D's day, 30)."""
    end = as_of
    while True:
        start = end.replace(day=1)
        actual = (end - start).days + 1
        if convention == "actual":
            days = actual
        else:
            full_month = end.day == calendar.monthrange(end.year, end.month)[1]
            days = 30 if full_month else min(actual, 30)
        yield start, end, days
        end = start - dt.timedelta(days=1)


# ---------------------------------------------------------------------------------------------- sales


@dataclass(frozen=True)
class SalesLedger:
    """Credit sales per day in reporting currency (each invoice at its invoice_date rate), with prefix sums."""

    days: tuple[dt.date, ...]
    cumulative: tuple[Decimal, ...]

    @classmethod
    def from_daily(cls, daily: Mapping[dt.date, Decimal]) -> SalesLedger:
        days = tuple(sorted(daily))
        running = Decimal(0)
        cumulative = []
        with decimal.localcontext(MONEY_CONTEXT):
            for day in days:
                running += daily[day]
                cumulative.append(running)
        return cls(days, tuple(cumulative))

    def _through(self, day: dt.date) -> Decimal:
        position = bisect.bisect_right(self.days, day)
        return self.cumulative[position - 1] if position else ZERO

    def total(self, start: dt.date, end: dt.date) -> Decimal:
        """S(start..end), both inclusive."""
        return self._through(end) - self._through(start - dt.timedelta(days=1))

    @property
    def first_day(self) -> dt.date | None:
        return self.days[0] if self.days else None


def by_conversion_day(
    table: ibis.Table,
    reporting_currency: str,
    day: str,
    keys: list[str],
    measures: Callable[[ibis.Table], dict[str, ibis.Value]],
    keep_day: bool = False,
) -> pd.DataFrame:
    """Sums per ``keys`` that can be converted exactly afterwards: rows in a foreign currency are kept apart per
    ``currency`` and ``day`` (each day has its own closing rate), rows in the reporting currency (rate 1) only per
    ``keys`` — or per ``keys`` and ``day`` with ``keep_day`` — with ``currency`` set to the reporting currency and
    ``day`` null. Fewer rows leave the engine: most of a book is usually in its reporting currency."""
    local = table.filter(table.currency == reporting_currency)
    foreign = table.filter(table.currency != reporting_currency)
    local_keys = [*keys, day] if keep_day else keys
    local_sums = (
        local.group_by(local_keys)
        .aggregate(**measures(local))
        .mutate(currency=ibis.literal(reporting_currency, "string"))
    )
    if not keep_day:
        local_sums = local_sums.mutate(**{day: ibis.null("date")})
    foreign_sums = foreign.group_by(list(dict.fromkeys([*keys, "currency", day]))).aggregate(**measures(foreign))
    columns = list(dict.fromkeys([*keys, "currency", day, *measures(foreign)]))
    return local_sums.select(*columns).union(foreign_sums.select(*columns)).to_pyarrow().to_pandas()


def daily_sales_by(
    tables: Tables, params: Params, fx: FxRates, by: str | None = None, since: dt.date | None = None
) -> dict[object, dict[dt.date, Decimal]]:
    """Credit sales per day in reporting currency up to as_of, for the whole book (key None) or per group.

    With ``since``, only days from ``since`` on are listed; groups whose sales all fall before it are still
    present, with no days (a breakdown lists them, and their sales in the window are zero)."""
    inv = invoices_with_currency(tables, params.reporting_currency)
    inv = inv.filter(inv.invoice_date <= params.as_of)
    if by is not None:
        inv = _with_customer_attribute(tables, inv, by)
    per_group: dict[object, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    if since is not None:
        if by is not None:
            for group in inv.filter(inv.invoice_date < since).select(by).distinct().to_pyarrow().column(0).to_pylist():
                per_group[group]
        inv = inv.filter(inv.invoice_date >= since)
    frame = by_conversion_day(
        inv,
        params.reporting_currency,
        "invoice_date",
        [by] if by is not None else [],
        lambda t: {"amount": t.amount.sum()},
        keep_day=True,
    )
    converted = convert_column(frame, fx, "amount", "currency", "invoice_date")
    group_values = frame[by].tolist() if by is not None else [None] * len(frame)
    with decimal.localcontext(MONEY_CONTEXT):
        for group, day, amount in zip(group_values, frame["invoice_date"], converted):
            per_group[group][day] += amount
    return per_group


def daily_sales(tables: Tables, params: Params, fx: FxRates, by: str | None = None) -> dict[object, SalesLedger]:
    """Sales ledgers up to as_of: one for the whole book (key None) or one per value of a customer attribute."""
    return {group: SalesLedger.from_daily(daily) for group, daily in daily_sales_by(tables, params, fx, by).items()}


def risk_band_expr(score: ibis.Value) -> ibis.StringValue:
    """The risk-score band of a score, in the engine (bands as :func:`risk_band`)."""
    bounds = RISK_SCORE_BANDS
    cases = [(score.isnull(), "no score"), (score < bounds[0], f"< {bounds[0]}")]
    cases += [(score < upper, f"{lower}–{upper - 1}") for lower, upper in zip(bounds, bounds[1:])]
    return ibis.cases(*cases, else_=f"{bounds[-1]}+")


def _with_customer_attribute(tables: Tables, items: ibis.Table, attribute: str) -> ibis.Table:
    if attribute in ("customer_id", "currency"):
        return items
    customers = tables["customers"]
    if attribute == "risk_band":
        values = risk_band_expr(customers.risk_score)
    else:
        values = customers[attribute].fill_null("(none)")
    lookup = customers.select(customer_id=customers.customer_id, **{attribute: values})
    return items.left_join(lookup, "customer_id").drop("customer_id_right")


# ---------------------------------------------------------------------------------------------- receivables


def receivables_at(
    tables: Tables, params: Params, fx: FxRates, dates: Sequence[dt.date], by: str | None = None
) -> dict[tuple[dt.date, object], tuple[Decimal, Decimal]]:
    """(AR, current AR) in reporting currency at each date (and per group): one engine pass for all dates."""
    items = open_items(tables, list(dates), params.reporting_currency)
    items = items.mutate(current=items.days_past_due <= 0)
    keys = ["as_of", "currency", "current"]
    if by is not None:
        items = _with_customer_attribute(tables, items, by)
        keys = [by, *keys]
    frame = (
        items.group_by(list(dict.fromkeys(keys))).aggregate(balance=items.open_balance.sum()).to_pyarrow().to_pandas()
    )
    totals: dict[tuple[dt.date, object], list[list[Decimal]]] = defaultdict(lambda: [[], []])
    group_values = frame[by] if by is not None else [None] * len(frame)
    for group, as_of, currency, current, balance in zip(
        group_values, frame["as_of"], frame["currency"], frame["current"], frame["balance"]
    ):
        amount = fx.convert(balance, currency, as_of)
        totals[(as_of, group)][0].append(amount)
        if current:
            totals[(as_of, group)][1].append(amount)
    return {key: (dsum(parts[0]), dsum(parts[1])) for key, parts in totals.items()}


# ---------------------------------------------------------------------------------------------- settlement speed


@dataclass(frozen=True)
class SettlementTotals:
    """Sums over settled invoices, from which the four settlement-speed KPIs follow."""

    invoices: int = 0
    days_late: int = 0
    days_to_pay: int = 0
    amount: Decimal = ZERO
    amount_days_late: Decimal = ZERO
    amount_days_to_pay: Decimal = ZERO

    def __add__(self, other: SettlementTotals) -> SettlementTotals:
        return SettlementTotals(
            self.invoices + other.invoices,
            self.days_late + other.days_late,
            self.days_to_pay + other.days_to_pay,
            self.amount + other.amount,
            self.amount_days_late + other.amount_days_late,
            self.amount_days_to_pay + other.amount_days_to_pay,
        )

    def kpis(self) -> dict[str, Decimal | None]:
        count = Decimal(self.invoices)
        return {
            "days_late_simple": ratio(Decimal(self.days_late), count),
            "days_late_weighted": ratio(self.amount_days_late, self.amount),
            "days_to_pay_simple": ratio(Decimal(self.days_to_pay), count),
            "days_to_pay_weighted": ratio(self.amount_days_to_pay, self.amount),
        }


#: key under which compute_dso keeps the settled invoices, materialised once for its several uses
SETTLEMENTS = "_settlements"


def settlements(tables: Tables, params: Params) -> ibis.Table:
    """Invoices whose open balance reached 0 on or before as_of through payments and credits (not write-offs).

    Settlement date = the date of the last payment/credit that closed the invoice, or the invoice date when it
    was fully prepaid (its balance is only open from its invoice date). Invoices with a write-off dated on or
    before that date are excluded: they were not settled by the customer."""
    if SETTLEMENTS in tables:
        return tables[SETTLEMENTS]
    inv = invoices_with_currency(tables, params.reporting_currency)
    inv = inv.filter(inv.invoice_date <= params.as_of)
    pay = tables["payments"]
    events = pay.select(invoice_id=pay.invoice_id, event_date=pay.payment_date, amount=pay.amount)
    write_offs = None
    if "adjustments" in tables:
        adj = tables["adjustments"]
        credits = adj.filter(adj.kind.isin(("credit_note", "discount")))
        events = events.union(
            credits.select(invoice_id=credits.invoice_id, event_date=credits.adjustment_date, amount=credits.amount)
        )
        write_offs = (
            adj.filter(adj.kind == "write_off")
            .group_by("invoice_id")
            .aggregate(first_write_off=lambda t: t.adjustment_date.min())
        )
    events = events.filter(events.event_date <= params.as_of)
    daily = events.group_by(["invoice_id", "event_date"]).aggregate(amount=events.amount.sum())
    running = daily.mutate(
        applied=daily.amount.sum().over(ibis.window(group_by="invoice_id", order_by="event_date", rows=(None, 0)))
    )
    running = running.join(inv.select("invoice_id", invoice_amount=inv.amount), "invoice_id")
    closed = (
        running.filter(running.applied >= running.invoice_amount)
        .group_by("invoice_id")
        .aggregate(closed_on=lambda t: t.event_date.min())
    )
    settled = inv.join(closed, "invoice_id")
    if write_offs is not None:
        settled = settled.left_join(write_offs, "invoice_id").drop("invoice_id_right")
        settled = settled.filter(settled.first_write_off.isnull() | (settled.first_write_off > settled.closed_on))
    settled = settled.mutate(settled_on=ibis.greatest(settled.closed_on, settled.invoice_date))
    days_to_pay = settled.settled_on.delta(settled.invoice_date, unit="day")
    days_late = ibis.greatest(settled.settled_on.delta(settled.due_date, unit="day"), 0)
    return settled.mutate(days_to_pay=days_to_pay, days_late=days_late)


_SETTLEMENT_SUMS = ("invoices", "days_late", "days_to_pay", "amount", "amount_days_late", "amount_days_to_pay")


def settlement_sums(tables: Tables, params: Params, fx: FxRates, since: dt.date, by: str | None = None) -> pd.DataFrame:
    """Settlement sums per settlement month (first day, ``month``) and group (column ``by``, when given), amounts in
    reporting currency at each invoice date's rate: exact Decimals, converted row by row before summing."""
    settled = settlements(tables, params)
    settled = settled.filter(settled.settled_on >= since)
    settled = settled.mutate(month=settled.settled_on.truncate("M"))
    if by is not None:
        settled = _with_customer_attribute(tables, settled, by)
    group_keys = ["month"] if by is None else ["month", by]
    frame = by_conversion_day(
        settled,
        params.reporting_currency,
        "invoice_date",
        group_keys,
        lambda t: {
            "invoices": t.count(),
            "days_late": t.days_late.sum(),
            "days_to_pay": t.days_to_pay.sum(),
            "amount": t.amount.sum(),
            "amount_days_late": (t.amount * t.days_late).sum(),
            "amount_days_to_pay": (t.amount * t.days_to_pay).sum(),
        },
    )
    if not len(frame):
        return pd.DataFrame(columns=[*group_keys, *_SETTLEMENT_SUMS])
    rates = fx.rates_for(frame["currency"], frame["invoice_date"])
    with decimal.localcontext(MONEY_CONTEXT):
        for column in ("amount", "amount_days_late", "amount_days_to_pay"):
            frame[column] = frame[column].to_numpy(dtype=object) * rates
        frame["month"] = [m if type(m) is dt.date else m.date() for m in frame["month"]]
        grouped = frame.groupby(group_keys, sort=True, dropna=False)[list(_SETTLEMENT_SUMS)].sum()
    return grouped.reset_index()


def settlement_totals_by_month(
    tables: Tables, params: Params, fx: FxRates, since: dt.date, by: str | None = None
) -> dict[tuple[dt.date, object], SettlementTotals]:
    """Settlement sums per (settlement month, group); the group is None without ``by``."""
    frame = settlement_sums(tables, params, fx, since, by)
    group_values = frame[by].tolist() if by is not None else [None] * len(frame)
    return {
        (month, group): SettlementTotals(int(invoices), int(late), int(to_pay), amount, amount_late, amount_to_pay)
        for month, group, invoices, late, to_pay, amount, amount_late, amount_to_pay in zip(
            frame["month"], group_values, *(frame[c] for c in _SETTLEMENT_SUMS)
        )
    }


def settlement_kpis(
    totals: Mapping[tuple[dt.date, object], SettlementTotals], window: Window, group: object = None
) -> dict[str, Decimal | None]:
    """The four settlement-speed KPIs over settlements inside the window (whole months of the window)."""
    combined = SettlementTotals()
    for (month, key), part in totals.items():
        if key == group and window.start <= month <= window.end:
            combined = combined + part
    return combined.kpis()


def split_by_group(
    values: Mapping[tuple[dt.date, object], object],
) -> dict[object, dict[tuple[dt.date, object], object]]:
    """{(date, group): v} → {group: {(date, group): v}} so per-group lookups do not rescan everything."""
    grouped: dict[object, dict[tuple[dt.date, object], object]] = defaultdict(dict)
    for key, value in values.items():
        grouped[key[1]][key] = value
    return grouped


# ---------------------------------------------------------------------------------------------- one as-of date


def dso_kpis(
    *,
    as_of: dt.date,
    params: Params,
    sales: SalesLedger,
    receivables: Mapping[dt.date, tuple[Decimal, Decimal]],
    settlement: Mapping[tuple[dt.date, object], SettlementTotals],
    group: object = None,
    countback: bool = True,
) -> dict[str, object]:
    """Every DSO-family KPI at ``as_of`` from pre-aggregated inputs (so trends reuse one pass over the data).

    ``countback=False`` leaves ``dso_countback`` out (None): it walks back through the whole sales history, and the
    breakdowns, which do not show it, only keep the window's sales."""
    window = dso_window(as_of, params.dso.window_months)
    ar, current = receivables.get(as_of, (ZERO, ZERO))
    window_sales = sales.total(window.start, window.end)
    dso = days_sales_outstanding(ar, window_sales, window.days)
    bpdso = days_sales_outstanding(current, window_sales, window.days)
    months = []
    first_day = sales.first_day
    for start, end, days in countback_months(as_of, params.dso.countback_month_days) if countback else ():
        if first_day is None or end < first_day:
            break
        months.append((sales.total(start, end), days))
    begin_ar, _ = receivables.get(window.start - dt.timedelta(days=1), (ZERO, ZERO))
    cei_sales = (
        window_sales
        if params.cei.sales == "window_total"
        else (window_sales / params.dso.window_months if window_sales else ZERO)
    )
    kpis: dict[str, object] = {
        "dso": dso,
        "dso_countback": countback_dso(ar, months) if countback else None,
        "bpdso": bpdso,
        "add": None if dso is None or bpdso is None else dso - bpdso,
        "cei_pct": collection_effectiveness(begin_ar, cei_sales, ar, current),
    }
    kpis.update(settlement_kpis(settlement, window, group))
    return kpis


# ---------------------------------------------------------------------------------------------- the section

KPI_IDS = (
    "dso",
    "dso_countback",
    "bpdso",
    "add",
    "cei_pct",
    "days_late_simple",
    "days_late_weighted",
    "days_to_pay_simple",
    "days_to_pay_weighted",
)
BREAKDOWNS = ("segment", "region", "collector", "currency", "customer_id", "risk_band")
#: risk-score bands (upper bounds, exclusive) in the style of bureau score bands
RISK_SCORE_BANDS = (580, 670, 740, 800)
DETERIORATION_NORM_MONTHS = 6


def trend_month_ends(as_of: dt.date, count: int) -> list[dt.date]:
    return month_ends_up_to(as_of, count)


def _needed_dates(month_ends: Sequence[dt.date], window_months: int) -> list[dt.date]:
    dates = set(month_ends)
    for month_end in month_ends:
        dates.add(dso_window(month_end, window_months).start - dt.timedelta(days=1))
    return sorted(dates)


def dso_trend(tables: Tables, params: Params, fx: FxRates, months: int = 24) -> pd.DataFrame:
    """Every DSO-family KPI at each of the last ``months`` month-ends, from one pass over each table."""
    month_ends = trend_month_ends(params.as_of, months)
    receivables = {
        d: v
        for (d, _), v in receivables_at(tables, params, fx, _needed_dates(month_ends, params.dso.window_months)).items()
    }
    sales = daily_sales(tables, params, fx).get(None, SalesLedger((), ()))
    since = dso_window(month_ends[0], params.dso.window_months).start
    settlement = settlement_totals_by_month(tables, params, fx, since)
    rows = []
    for month_end in month_ends:
        window = dso_window(month_end, params.dso.window_months)
        ar, current = receivables.get(month_end, (ZERO, ZERO))
        row: dict[str, object] = {
            "month_end": month_end,
            "ar_total": ar,
            "current_ar": current,
            "past_due_ar": ar - current,
            "sales_window": sales.total(window.start, window.end),
            "window_days": window.days,
        }
        row.update(
            dso_kpis(as_of=month_end, params=params, sales=sales, receivables=receivables, settlement=settlement)
        )
        rows.append(row)
    return pd.DataFrame(rows)


def changes(trend: pd.DataFrame) -> pd.DataFrame:
    """Each KPI now, a month ago and a year ago, with the changes (in the KPI's own unit)."""
    latest = trend.iloc[-1]
    month_ago = trend.iloc[-2] if len(trend) >= 2 else None
    year_ago = trend.iloc[-13] if len(trend) >= 13 else None
    rows = []
    for kpi in KPI_IDS:
        now = latest[kpi]
        before = None if month_ago is None else month_ago[kpi]
        last_year = None if year_ago is None else year_ago[kpi]
        rows.append(
            {
                "kpi": kpi,
                "value": now,
                "previous_month": before,
                "mom_change": None if now is None or before is None else now - before,
                "year_ago": last_year,
                "yoy_change": None if now is None or last_year is None else now - last_year,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class GroupInputs:
    """Receivables, daily sales and settlement sums per group: everything a breakdown needs."""

    receivables: dict[tuple[dt.date, object], tuple[Decimal, Decimal]]
    sales: dict[object, dict[dt.date, Decimal]]
    settlement: dict[tuple[dt.date, object], SettlementTotals]

    def roll_up(self, group_of: Mapping[object, object]) -> GroupInputs:
        """Sum customer-level inputs into the groups of a customer attribute (additive, so exact)."""
        receivables: dict[tuple[dt.date, object], tuple[Decimal, Decimal]] = {}
        for (day, customer), (ar, current) in self.receivables.items():
            key = (day, group_of.get(customer, "(none)"))
            before = receivables.get(key, (ZERO, ZERO))
            receivables[key] = (before[0] + ar, before[1] + current)
        sales: dict[object, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        with decimal.localcontext(MONEY_CONTEXT):
            for customer, daily in self.sales.items():
                target = sales[group_of.get(customer, "(none)")]
                for day, amount in daily.items():
                    target[day] += amount
        settlement: dict[tuple[dt.date, object], SettlementTotals] = defaultdict(SettlementTotals)
        for (month, customer), part in self.settlement.items():
            key = (month, group_of.get(customer, "(none)"))
            settlement[key] = settlement[key] + part
        return GroupInputs(receivables, dict(sales), dict(settlement))


def group_inputs(tables: Tables, params: Params, fx: FxRates, by: str) -> GroupInputs:
    window = dso_window(params.as_of, params.dso.window_months)
    begin = window.start - dt.timedelta(days=1)
    return GroupInputs(
        receivables_at(tables, params, fx, [begin, params.as_of], by=by),
        daily_sales_by(tables, params, fx, by=by, since=window.start),
        settlement_totals_by_month(tables, params, fx, window.start, by=by),
    )


def breakdown_table(inputs: GroupInputs, params: Params, by: str) -> pd.DataFrame:
    """DSO family per group at as_of from pre-aggregated inputs."""
    window = dso_window(params.as_of, params.dso.window_months)
    groups = sorted({g for (_, g) in inputs.receivables} | set(inputs.sales), key=lambda g: "" if g is None else str(g))
    receivables_by_group = split_by_group(inputs.receivables)
    settlement_by_group = split_by_group(inputs.settlement)
    rows = []
    for group in groups:
        group_receivables = {d: v for (d, _), v in receivables_by_group.get(group, {}).items()}
        group_sales = SalesLedger.from_daily(inputs.sales.get(group, {}))
        ar, current = group_receivables.get(params.as_of, (ZERO, ZERO))
        row: dict[str, object] = {
            by: group,
            "ar_total": ar,
            "current_ar": current,
            "past_due_ar": ar - current,
            "sales_window": group_sales.total(window.start, window.end),
        }
        kpis = dso_kpis(
            as_of=params.as_of,
            params=params,
            sales=group_sales,
            receivables=group_receivables,
            settlement=settlement_by_group.get(group, {}),
            group=group,
            countback=False,
        )
        row.update({k: kpis[k] for k in KPI_IDS if k != "dso_countback"})
        rows.append(row)
    columns = [
        by,
        "ar_total",
        "current_ar",
        "past_due_ar",
        "sales_window",
        *(k for k in KPI_IDS if k != "dso_countback"),
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("ar_total", ascending=False, kind="stable").reset_index(drop=True)


def breakdown(tables: Tables, params: Params, fx: FxRates, by: str) -> pd.DataFrame:
    """DSO family per value of ``by`` (segment, region, collector, currency, customer_id, risk_band) at as_of."""
    return breakdown_table(group_inputs(tables, params, fx, by), params, by)


def customer_attributes(tables: Tables, attributes: Sequence[str]) -> pd.DataFrame:
    """customer_id and each attribute (risk_band derived from risk_score), nulls as '(none)'."""
    customers = tables["customers"]
    columns = {"customer_id": customers.customer_id}
    for attribute in attributes:
        if attribute == "risk_band":
            columns[attribute] = risk_band_expr(customers.risk_score)
        else:
            columns[attribute] = customers[attribute].fill_null("(none)")
    return customers.select(**columns).to_pyarrow().to_pandas()


def bridge(trend: pd.DataFrame, rollforward: pd.DataFrame) -> pd.DataFrame:
    """What moved DSO from the previous month-end to as_of: sales volume, then each AR movement of the month.

    DSO = AR / S × d. Holding last month's AR, the change in window sales (and days) moves DSO by
    AR₀/S₁×d₁ − AR₀/S₀×d₀; each AR movement m of the month (new invoices, cash, credits, write-offs, FX) moves it
    by m/S₁×d₁. The lines add up exactly to the change in DSO."""
    if len(trend) < 2:
        return pd.DataFrame(columns=["step", "days"])
    before, now = trend.iloc[-2], trend.iloc[-1]
    if before["dso"] is None or now["dso"] is None:
        return pd.DataFrame(columns=["step", "days"])
    with decimal.localcontext(RATIO_CONTEXT):
        scale = Decimal(int(now["window_days"])) / now["sales_window"]
        volume = before["ar_total"] * scale - before["dso"]
        steps = [(f"DSO at {before['month_end']}", before["dso"]), ("Change in credit sales of the window", volume)]
        for line, amount in zip(rollforward["line"][1:-1], rollforward["amount"][1:-1]):
            steps.append((line.lstrip("+−± ").capitalize(), amount * scale))
    steps.append((f"DSO at {now['month_end']}", now["dso"]))
    return pd.DataFrame(steps, columns=["step", "days"])


def risk_band_labels() -> list[str]:
    bounds = RISK_SCORE_BANDS
    return (
        [f"< {bounds[0]}"]
        + [f"{lower}–{upper - 1}" for lower, upper in zip(bounds, bounds[1:])]
        + [f"{bounds[-1]}+", "no score"]
    )


def risk_band(score: Decimal | None) -> str:
    if score is None:
        return "no score"
    bounds = RISK_SCORE_BANDS
    if score < bounds[0]:
        return f"< {bounds[0]}"
    for lower, upper in zip(bounds, bounds[1:]):
        if score < upper:
            return f"{lower}–{upper - 1}"
    return f"{bounds[-1]}+"


def deteriorating_customers(tables: Tables, params: Params, fx: FxRates, top: int) -> pd.DataFrame:
    """Customers paying later this month than their own norm (weighted days late, previous 6 months)."""
    month_start = params.as_of.replace(day=1)
    norm_start = first_of_month_back(params.as_of, DETERIORATION_NORM_MONTHS)
    totals = settlement_totals_by_month(tables, params, fx, norm_start, by="customer_id")
    now: dict[object, SettlementTotals] = defaultdict(SettlementTotals)
    norm: dict[object, SettlementTotals] = defaultdict(SettlementTotals)
    for (month, customer), part in totals.items():
        if month >= month_start:
            now[customer] = now[customer] + part
        else:
            norm[customer] = norm[customer] + part
    rows = []
    for customer, current in now.items():
        if customer not in norm:
            continue
        late_now = current.kpis()["days_late_weighted"]
        late_norm = norm[customer].kpis()["days_late_weighted"]
        if late_now is None or late_norm is None or late_now <= late_norm:
            continue
        rows.append(
            {
                "customer_id": customer,
                "days_late_now": late_now,
                "days_late_norm": late_norm,
                "days_worse": late_now - late_norm,
                "invoices_settled_now": current.invoices,
                "invoices_settled_norm": norm[customer].invoices,
                "amount_settled_now": current.amount,
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "days_late_now",
            "days_late_norm",
            "days_worse",
            "invoices_settled_now",
            "invoices_settled_norm",
            "amount_settled_now",
        ],
    )
    frame = frame.sort_values(["days_worse", "customer_id"], ascending=[False, True], kind="stable").head(top)
    customers = tables["customers"].select("customer_id", "name").to_pyarrow().to_pandas()
    return frame.merge(customers, on="customer_id", how="left")[
        ["customer_id", "name", *[c for c in frame.columns if c != "customer_id"]]
    ].reset_index(drop=True)


def glossary(params: Params) -> pd.DataFrame:
    """Definition, formula and the convention in force for every KPI — printed beside the numbers."""
    window = dso_window(params.as_of, params.dso.window_months)
    months = params.dso.window_months
    days_rule = (
        "actual calendar days"
        if params.dso.countback_month_days == "actual"
        else "30 days per month (D's month: its days up to D, at most 30)"
    )
    cei_sales = (
        "S = credit sales of the whole window"
        if params.cei.sales == "window_total"
        else f"S = credit sales of the window / {months} (monthly average)"
    )
    rows = [
        (
            "dso",
            "Days sales outstanding: how many days of recent credit sales are still unpaid.",
            "AR(D) / S(W) × days(W)",
            f"W = {window.start} .. {window.end} ({window.days} days, {months} months)",
        ),
        (
            "dso_countback",
            "Countback DSO: AR exhausted against the most recent months' sales.",
            "walk back months from D; subtract whole months' sales while AR ≥ sales, then the fraction",
            days_rule,
        ),
        (
            "bpdso",
            "Best possible DSO: DSO if every past-due item were collected.",
            "current AR(D) / S(W) × days(W)",
            "current = not yet past due (days past due ≤ 0)",
        ),
        ("add", "Average days delinquent: the part of DSO caused by late payment.", "DSO − BPDSO", ""),
        (
            "cei_pct",
            "Collection effectiveness index: share of collectible receivables actually collected.",
            "(AR(start−1) + S − AR(D)) / (AR(start−1) + S − current AR(D)) × 100",
            cei_sales,
        ),
        (
            "days_late_simple",
            "Average days late of invoices settled in the window.",
            "mean of max(0, settlement − due_date)",
            "settled by payments/credits; written-off invoices excluded",
        ),
        (
            "days_late_weighted",
            "Days late weighted by invoice amount.",
            "Σ amount × days late / Σ amount",
            "amounts at each invoice date's closing rate",
        ),
        (
            "days_to_pay_simple",
            "Average days from invoice to settlement.",
            "mean of settlement − invoice_date",
            "settlement = last payment/credit that closed the invoice (not before its invoice date)",
        ),
        (
            "days_to_pay_weighted",
            "Days to pay weighted by invoice amount.",
            "Σ amount × days to pay / Σ amount",
            "amounts at each invoice date's closing rate",
        ),
    ]
    return pd.DataFrame(rows, columns=["kpi", "definition", "formula", "convention"])


def compute_dso(tables: Tables, params: Params, fx: FxRates) -> DsoResult:
    """Everything the DSO & collection KPIs section shows."""
    settled = settlements(tables, params).cache()  # the trend, the breakdowns and the deterioration list share it
    try:
        return _compute_dso({**tables, SETTLEMENTS: settled}, params, fx)
    finally:
        settled.release()


def _compute_dso(tables: Tables, params: Params, fx: FxRates) -> DsoResult:
    from collections_mi.metrics.aging import ar_rollforward
    from collections_mi.metrics.promises import collector_view, kept_rate_trend, promise_status

    trend = dso_trend(tables, params, fx, months=24)
    # the trend's rows are labelled by month-end: the KPIs are as_of's, the opening AR the previous month-end's
    by_month = trend.set_index("month_end", drop=False)
    latest = by_month.loc[params.as_of]
    kpis = DsoKpis.from_values(latest.to_dict())
    previous = previous_month_end(params.as_of)
    opening = by_month.at[previous, "ar_total"] if previous in by_month.index else ZERO
    rollforward = ar_rollforward(tables, params, fx, opening, latest["ar_total"])
    deteriorating = deteriorating_customers(tables, params, fx, params.report.top_customers)
    # customer-level inputs once; segment, region, collector and risk band are sums of customers
    per_customer = group_inputs(tables, params, fx, "customer_id")
    attributes = [
        b
        for b in BREAKDOWNS
        if b not in ("customer_id", "currency") and (b != "risk_band" or "risk_score" in tables["customers"].columns)
    ]
    attribute_frame = customer_attributes(tables, attributes)
    by_attribute: dict[str, pd.DataFrame] = {}
    for by in attributes:
        group_of = dict(zip(attribute_frame["customer_id"], attribute_frame[by]))
        by_attribute[by] = breakdown_table(per_customer.roll_up(group_of), params, by)
    by_currency = breakdown(tables, params, fx, "currency")
    by_risk_band: Table = Unavailable("the customers table has no risk_score column")
    if "risk_band" in by_attribute:
        order = {band: position for position, band in enumerate(risk_band_labels())}
        by_risk_band = (
            by_attribute["risk_band"]
            .sort_values("risk_band", key=lambda column: column.map(order), kind="stable")
            .reset_index(drop=True)
        )
    status = promise_status(tables, params, fx)
    result_tables = DsoTables(
        trend=trend,
        changes=changes(trend),
        bridge=bridge(trend, rollforward),
        glossary=glossary(params),
        deteriorating_customers=deteriorating,
        by_customer=breakdown_table(per_customer, params, "customer_id"),
        by_segment=by_attribute["segment"],
        by_region=by_attribute["region"],
        by_collector=by_attribute["collector"],
        by_risk_band=by_risk_band,
        by_currency=by_currency,
        promises=status,
        promises_kept_rate_trend=kept_rate_trend(status, params.as_of, params.report.trend_months),
        collectors=collector_view(tables, params, fx, by_attribute["collector"], status),
    )
    window = dso_window(params.as_of, params.dso.window_months)
    return DsoResult(
        section="dso",
        kpis=kpis,
        tables=result_tables,
        conventions={
            "dso.window_months": f"{params.dso.window_months} → W = {window.start} .. {window.end} "
            f"({window.days} days)",
            "dso.countback_month_days": str(params.dso.countback_month_days),
            "cei.sales": params.cei.sales,
            "fx": "AR at each date's closing rate; credit sales at each invoice date's rate "
            f"({params.reporting_currency})",
        },
    )
