"""The DSO family's definitions (shared/metrics.md § Days sales outstanding family): pure functions of numbers.

Testable against published worked examples; :mod:`collections_mi.metrics.dso_inputs` gathers the numbers from the
ledger and :func:`dso_kpis` turns them into every KPI of the family at one date.
"""

from __future__ import annotations

import bisect
import datetime as dt
import decimal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from collections_mi.config.params import CeiConfig, DsoConfig
from collections_mi.core.money import HUNDRED, MONEY_CONTEXT, ZERO, percent_of, ratio
from collections_mi.core.periods import first_of_month_back, is_month_end

RATIO_CONTEXT = decimal.Context(prec=28)

#: the DSO family's KPI ids, in the order the section lists them
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
#: payment behaviour (shared/metrics.md § Payment behaviour): the section's KPIs after the family, in the trend too
BEHAVIOUR_KPI_IDS = ("terms_weighted", "dbt_weighted", "on_time_pct")
#: every KPI of the DSO section, in kpis.json's order
SECTION_KPI_IDS = KPI_IDS + BEHAVIOUR_KPI_IDS


@dataclass(frozen=True)
class Window:
    """W = 1st day of the month (window_months − 1) before D's month .. D, both inclusive."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def dso_window(as_of: dt.date, window_months: int) -> Window:
    return Window(first_of_month_back(as_of, window_months - 1), as_of)


def days_sales_outstanding(receivables: Decimal, sales: Decimal, days: int) -> Decimal | None:
    """AR / sales × days; None when there were no sales (undefined, not zero)."""
    if sales == 0:
        return None
    # AR × days / sales at 28 digits (each step rounded in RATIO_CONTEXT, as the operators inside it would be)
    return RATIO_CONTEXT.divide(RATIO_CONTEXT.multiply(Decimal(receivables), days), Decimal(sales))


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
    begin, sales = Decimal(receivables_begin), Decimal(sales)
    denominator = begin + sales - Decimal(current_end)
    if denominator == 0:
        return None
    # each step rounded in RATIO_CONTEXT, as the operators inside it would be
    collected = RATIO_CONTEXT.subtract(RATIO_CONTEXT.add(begin, sales), Decimal(receivables_end))
    return RATIO_CONTEXT.divide(RATIO_CONTEXT.multiply(collected, HUNDRED), denominator)


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
            full_month = is_month_end(end)
            days = 30 if full_month else min(actual, 30)
        yield start, end, days
        end = start - dt.timedelta(days=1)


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


@dataclass(frozen=True)
class SettlementTotals:
    """Sums over settled invoices, from which the four settlement-speed KPIs and the two payment-behaviour KPIs of
    settled invoices follow. Amounts in reporting currency; ``amount_days_beyond_terms`` = Σ amount × (settlement −
    due_date), not clipped; ``amount_on_time`` = Σ amount of those settled on or before their due date."""

    invoices: int = 0
    days_late: int = 0
    days_to_pay: int = 0
    amount: Decimal = ZERO
    amount_days_late: Decimal = ZERO
    amount_days_to_pay: Decimal = ZERO
    amount_days_beyond_terms: Decimal = ZERO
    amount_on_time: Decimal = ZERO

    def __add__(self, other: SettlementTotals) -> SettlementTotals:
        return SettlementTotals(
            self.invoices + other.invoices,
            self.days_late + other.days_late,
            self.days_to_pay + other.days_to_pay,
            self.amount + other.amount,
            self.amount_days_late + other.amount_days_late,
            self.amount_days_to_pay + other.amount_days_to_pay,
            self.amount_days_beyond_terms + other.amount_days_beyond_terms,
            self.amount_on_time + other.amount_on_time,
        )

    def kpis(self) -> dict[str, Decimal | None]:
        """The settlement-speed KPIs, then ``dbt_weighted`` and ``on_time_pct`` (None without settled invoices)."""
        speed = settlement_speed(
            self.invoices, self.days_late, self.days_to_pay, self.amount, self.amount_days_late, self.amount_days_to_pay
        )
        return {
            **dict(zip(SPEED_KPI_IDS, speed)),
            "dbt_weighted": ratio(self.amount_days_beyond_terms, self.amount),
            "on_time_pct": percent_of(self.amount_on_time, self.amount),
        }


#: the settlement-speed KPIs (:func:`settlement_speed`), in the family's order
SPEED_KPI_IDS = ("days_late_simple", "days_late_weighted", "days_to_pay_simple", "days_to_pay_weighted")
#: the KPIs of the window's flows (:func:`flow_kpis`), in the family's order
FLOW_KPI_IDS = ("dso", "bpdso", "add", "cei_pct")


def settlement_speed(
    invoices: int,
    days_late: int,
    days_to_pay: int,
    amount: Decimal,
    amount_days_late: Decimal,
    amount_days_to_pay: Decimal,
) -> tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]:
    """days_late_simple, days_late_weighted, days_to_pay_simple, days_to_pay_weighted of invoices settled in a
    window from its settlement sums (None without settled invoices)."""
    count = Decimal(invoices)
    return (
        ratio(Decimal(days_late), count),
        ratio(amount_days_late, amount),
        ratio(Decimal(days_to_pay), count),
        ratio(amount_days_to_pay, amount),
    )


def in_window(
    totals: Mapping[tuple[dt.date, object], SettlementTotals], window: Window, group: object = None
) -> SettlementTotals:
    """The settlement sums of ``group`` over the months of ``window`` (keys: first day of the settlement month)."""
    combined = SettlementTotals()
    for (month, key), part in totals.items():
        if key == group and window.start <= month <= window.end:
            combined = combined + part
    return combined


@dataclass(frozen=True)
class TermsTotals:
    """Σ amount and Σ amount × terms (due_date − invoice_date, days) of invoices raised, in reporting currency."""

    amount: Decimal = ZERO
    amount_terms: Decimal = ZERO

    def __add__(self, other: TermsTotals) -> TermsTotals:
        return TermsTotals(self.amount + other.amount, self.amount_terms + other.amount_terms)


def terms_weighted(terms: Mapping[dt.date, TermsTotals], window: Window) -> Decimal | None:
    """Amount-weighted mean terms of the invoices raised in the window (``terms`` per first day of the invoice
    month); None when none was raised."""
    combined = TermsTotals()
    for month, part in terms.items():
        if window.start <= month <= window.end:
            combined = combined + part
    return ratio(combined.amount_terms, combined.amount)


def dso_kpis(
    *,
    as_of: dt.date,
    dso_config: DsoConfig,
    cei_config: CeiConfig,
    sales: SalesLedger,
    receivables: Mapping[dt.date, tuple[Decimal, Decimal]],
    settlement: Mapping[tuple[dt.date, object], SettlementTotals],
    terms: Mapping[dt.date, TermsTotals] | None = None,
    group: object = None,
    countback: bool = True,
) -> dict[str, Decimal | None]:
    """Every DSO-family KPI at ``as_of`` from pre-aggregated inputs (so trends reuse one pass over the data), then
    the payment-behaviour KPIs (:data:`BEHAVIOUR_KPI_IDS`).

    ``countback=False`` leaves ``dso_countback`` out (None): it walks back through the whole sales history, and the
    breakdowns, which do not show it, only keep the window's sales. Without ``terms`` (the invoices' terms per
    month, :func:`~collections_mi.metrics.dso_inputs.terms_totals_by_month`) ``terms_weighted`` is None."""
    window = dso_window(as_of, dso_config.window_months)
    ar, current = receivables.get(as_of, (ZERO, ZERO))
    window_sales = sales.total(window.start, window.end)
    months = []
    first_day = sales.first_day
    for start, end, days in countback_months(as_of, dso_config.countback_month_days) if countback else ():
        if first_day is None or end < first_day:
            break
        months.append((sales.total(start, end), days))
    begin_ar, _ = receivables.get(window.start - dt.timedelta(days=1), (ZERO, ZERO))
    flow = dict(zip(FLOW_KPI_IDS, flow_kpis(window, dso_config, cei_config, ar, current, begin_ar, window_sales)))
    kpis: dict[str, Decimal | None] = {
        "dso": flow["dso"],
        "dso_countback": countback_dso(ar, months) if countback else None,
        **{kpi: flow[kpi] for kpi in ("bpdso", "add", "cei_pct")},
    }
    settled = in_window(settlement, window, group).kpis()
    kpis.update({kpi: settled[kpi] for kpi in KPI_IDS if kpi in settled})
    kpis["terms_weighted"] = None if terms is None else terms_weighted(terms, window)
    kpis["dbt_weighted"] = settled["dbt_weighted"]
    kpis["on_time_pct"] = settled["on_time_pct"]
    return kpis


def flow_kpis(
    window: Window,
    dso_config: DsoConfig,
    cei_config: CeiConfig,
    ar: Decimal,
    current: Decimal,
    begin_ar: Decimal,
    window_sales: Decimal,
) -> tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]:
    """dso, bpdso, add and cei_pct over the window from AR and current AR at its end, AR the day before it and the
    window's credit sales."""
    dso = days_sales_outstanding(ar, window_sales, window.days)
    bpdso = days_sales_outstanding(current, window_sales, window.days)
    cei_sales = (
        window_sales
        if cei_config.sales == "window_total"
        else (window_sales / dso_config.window_months if window_sales else ZERO)
    )
    return (
        dso,
        bpdso,
        None if dso is None or bpdso is None else dso - bpdso,
        collection_effectiveness(begin_ar, cei_sales, ar, current),
    )


def breakdown_kpis(
    *,
    window: Window,
    dso_config: DsoConfig,
    cei_config: CeiConfig,
    receivables: Sequence[Decimal],
    current: Sequence[Decimal],
    begin_receivables: Sequence[Decimal],
    window_sales: Sequence[Decimal],
    settled: Mapping[str, Sequence[Decimal | int]],
) -> dict[str, list[Decimal | None]]:
    """The KPIs of breakdown rows (:data:`KPI_IDS` without ``dso_countback``), one per group, from the groups' sums
    over the window (``settled``: each of :class:`SettlementTotals`' fields) — :func:`flow_kpis` and
    :func:`settlement_speed` of each row, as :func:`dso_kpis` reads them, column by column (a customer breakdown has
    a row per customer, hundreds of thousands in a large book)."""
    rows = zip(
        receivables,
        current,
        begin_receivables,
        window_sales,
        *(settled[name] for name in ("invoices", "days_late", "days_to_pay")),
        *(settled[name] for name in ("amount", "amount_days_late", "amount_days_to_pay")),
    )
    flows: list[tuple[Decimal | None, ...]] = []
    speeds: list[tuple[Decimal | None, ...]] = []
    for ar, now_current, begin, sales, invoices, late, to_pay, amount, amount_late, amount_to_pay in rows:
        flows.append(flow_kpis(window, dso_config, cei_config, ar, now_current, begin, sales))
        speeds.append(
            settlement_speed(
                int(invoices),
                int(late),
                int(to_pay),
                Decimal(amount),
                Decimal(amount_late),
                Decimal(amount_to_pay),
            )
        )
    flow_columns = dict(zip(FLOW_KPI_IDS, (list(column) for column in zip(*flows))))
    speed_columns = dict(zip(SPEED_KPI_IDS, (list(column) for column in zip(*speeds))))
    both = flow_columns | speed_columns
    return {kpi: both.get(kpi, []) for kpi in KPI_IDS if kpi != "dso_countback"}
