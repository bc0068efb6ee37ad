"""The DSO family per customer group (segment, region, collector, currency, customer, risk band) and the customers
whose payments are deteriorating.

Customer-level inputs are gathered once and rolled up into each attribute's groups: every input is a sum, so the
roll-up is exact.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collections_mi.config.params import Params
from collections_mi.core.money import MONEY_CONTEXT, ZERO, ratio
from collections_mi.core.periods import first_of_month_back
from collections_mi.metrics.book import Book
from collections_mi.metrics.dso_formulas import (
    KPI_IDS,
    Window,
    breakdown_kpis,
    days_sales_outstanding,
    dso_window,
)
from collections_mi.metrics.dso_inputs import (
    SETTLEMENT_MONEY,
    SETTLEMENT_SUMS,
    SettlementSums,
    receivables_at,
    receivables_table,
    summed_by,
    summed_over_months,
    summed_per_label,
    window_sales_by,
    window_sales_table,
)
from collections_mi.metrics.fx import EngineRates

#: what the DSO family is broken down by (``risk_band``: bands of ``customers.risk_score``)
BREAKDOWNS = ("segment", "region", "collector", "currency", "customer_id", "risk_band")
#: months before as_of's month whose settlements make a customer's own norm of days late
DETERIORATION_NORM_MONTHS = 6

#: what a breakdown row is computed from besides the settlement sums: every one a sum over the group's customers
_FLOW_SUMS = ("ar_total", "current_ar", "begin_ar", "sales_window")


@dataclass(frozen=True)
class GroupInputs:
    """Per group, what the DSO family at ``at`` is computed from, each a sum over the group's customers: AR and current
    AR at ``at`` (``ar_total``, ``current_ar``), AR the day before the window (``begin_ar``), credit sales in the
    window (``sales_window``) and the settlement sums of the window's months
    (:data:`~collections_mi.metrics.dso_inputs.SETTLEMENT_SUMS`) — so rolling customers up into the groups of any
    customer attribute is exact. One row per group with AR at either date or an invoice up to as_of.

    Held one of two ways: ``sums``, a frame of Python objects indexed by group (a group without an input holds
    ZERO); or, where the engine converts the amounts, ``keys`` and ``table``: the groups, and the inputs as Arrow
    columns in the same order, each money column one decimal type and a group without an input a null (read as
    ZERO) — a dozen decimals per customer, not a dozen Python objects (17.6 GB at 3.3M customers)."""

    at: dt.date
    window: Window
    sums: pd.DataFrame | None
    #: with ``sums``: AR at ``at`` of the groups with an open item then (:attr:`balances`)
    open_balances: Mapping[object, Decimal] | None = None
    keys: list[object] | None = None
    table: pa.Table | None = None

    @property
    def balances(self) -> Mapping[object, Decimal]:
        """AR at ``at`` of the groups with an open item then."""
        if self.open_balances is not None:
            return self.open_balances
        keys, ar_total = self._arrow("ar_total")
        return {group: ar for group, ar in zip(keys, ar_total.to_pylist()) if ar is not None}

    def _arrow(self, column: str) -> tuple[list[object], pa.ChunkedArray]:
        if self.keys is None or self.table is None:
            raise ValueError("group inputs without Arrow columns")
        return self.keys, self.table[column]

    def roll_up(self, group_of: Mapping[object, object]) -> GroupInputs:
        """Sum customer-level inputs into the groups of a customer attribute (additive, so exact)."""
        if self.keys is not None and self.table is not None:
            labels = [group_of.get(group, "(none)") for group in self.keys]
            keys, table = summed_per_label(self.table, labels, self.table.column_names)
            return GroupInputs(self.at, self.window, None, keys=keys, table=table)
        if self.sums is None:
            raise ValueError("group inputs without sums")
        keys = [group_of.get(group, "(none)") for group in self.sums.index.tolist()]
        balances: dict[object, Decimal] = defaultdict(lambda: ZERO)
        with decimal.localcontext(MONEY_CONTEXT):
            for group, ar in self.balances.items():
                balances[group_of.get(group, "(none)")] += ar
        sums = summed_by(self.sums, keys, (*_FLOW_SUMS, *SETTLEMENT_MONEY))
        return GroupInputs(self.at, self.window, sums, dict(balances))

    def column_parts(
        self, columns: Sequence[str], order: Sequence[int] | None = None
    ) -> Iterator[dict[str, list[Any]]]:
        """``columns`` (and ``group``: the groups) as Python values, ZERO where a group has none, in parts of at most
        :data:`PART_ROWS` rows — every row, in ``order`` (row positions) when given: a few parts' worth of Python
        objects at a time rather than a dozen per group at once."""
        if self.sums is not None:
            groups = self.sums.index.tolist()
            rows = range(len(groups)) if order is None else order
            values = {column: self.sums[column].tolist() for column in columns}
            for start in range(0, len(rows), PART_ROWS):
                part = rows[start : start + PART_ROWS]
                yield {"group": [groups[row] for row in part]} | {
                    column: [values[column][row] for row in part] for column in columns
                }
            return
        keys, table = self.keys, self.table
        if keys is None or table is None:
            raise ValueError("group inputs without sums")
        for start in range(0, len(keys), PART_ROWS):
            stop = min(start + PART_ROWS, len(keys))
            if order is None:
                part, groups = table.slice(start, stop - start), keys[start:stop]
            else:  # the part's rows only: not a copy of the whole table in ``order``
                part = table.take(pa.array(order[start:stop], pa.int64()))
                groups = [keys[row] for row in order[start:stop]]
            yield {"group": groups} | {
                column: [ZERO if value is None else value for value in part[column].to_pylist()] for column in columns
            }

    def largest_first(self) -> list[int]:
        """Row positions by AR at ``at`` (largest first), equal AR by the group's text (None as "")."""
        if self.sums is not None:
            groups = self.sums.index.tolist()
            by_label = sorted(range(len(groups)), key=lambda row: _label(groups[row]))
            ar = self.sums["ar_total"].tolist()
            return sorted(by_label, key=lambda row: ar[row], reverse=True)
        keys, ar_total = self._arrow("ar_total")
        ranked = pa.table(
            {
                "ar_total": pc.fill_null(ar_total, pa.scalar(0, ar_total.type)),
                "label": pa.array([_label(group) for group in keys], pa.string()),
            }
        )
        order: list[int] = pc.sort_indices(
            ranked, sort_keys=[("ar_total", "descending"), ("label", "ascending")]
        ).to_pylist()
        return order


#: rows of group inputs turned into Python values at a time (:meth:`GroupInputs.column_parts`)
PART_ROWS = 65_536


def _label(group: object) -> str:
    """A group's text for ordering groups of equal AR: its ``str``, None as ""."""
    return "" if group is None else str(group)


def group_inputs(
    book: Book, window_months: int, by: str, at: dt.date | None = None, sums: SettlementSums | None = None
) -> GroupInputs:
    """The inputs per value of ``by`` for the window of ``window_months`` ending at ``at`` (default as_of; e.g. the
    previous month-end) and AR the day before it. ``sums``: the settlement sums per ``by``, when already gathered
    from the window's start or earlier."""
    end = book.as_of if at is None else at
    window = dso_window(end, window_months)
    begin = window.start - dt.timedelta(days=1)
    settlement = SettlementSums.covering(book, window.start, by, sums)
    if book.fx_in_engine is not None and settlement.table is not None:
        arrow = _arrow_group_inputs(book, book.fx_in_engine, by, window, settlement.table)
        if arrow is not None:
            return arrow
    receivables = receivables_at(book, [begin, end], by=by)
    sales = window_sales_by(book, by, window.start, window.end)
    settled = settlement.grouped(window.start, window.end)
    groups = list(dict.fromkeys([*(group for _, group in receivables), *sales]))
    none = (ZERO, ZERO)
    at_end = [receivables.get((end, group), none) for group in groups]
    frame = pd.DataFrame(
        {
            "ar_total": [ar for ar, _ in at_end],
            "current_ar": [current for _, current in at_end],
            "begin_ar": [receivables.get((begin, group), none)[0] for group in groups],
            "sales_window": [sales.get(group, ZERO) for group in groups],
        },
        index=pd.Index(groups, dtype=object),
    )
    # each group's row of the settlement sums, -1 (the ZERO appended to each column) for a group without any
    position = {group: row for row, group in enumerate(settled.index.tolist())}
    rows = np.fromiter((position.get(group, -1) for group in groups), dtype=np.int64, count=len(groups))
    for column in SETTLEMENT_SUMS:
        values = np.empty(len(settled) + 1, dtype=object)
        values[:-1] = settled[column].tolist()
        values[-1] = ZERO
        frame[column] = values[rows]
    balances = {group: ar for (day, group), (ar, _) in receivables.items() if day == end}
    return GroupInputs(end, window, frame, balances)


def _arrow_group_inputs(
    book: Book, rates: EngineRates, by: str, window: Window, settlement: pa.Table
) -> GroupInputs | None:
    """:func:`group_inputs` as Arrow columns (the engine converts the amounts; ``settlement``: the settlement sums per
    ``by`` and month, as :class:`SettlementSums` holds them), joined per group by Arrow; None when a group is null
    (the Python objects' path reads it)."""
    begin = window.start - dt.timedelta(days=1)
    receivables = receivables_table(book, rates, [begin, window.end], by)
    sales = window_sales_table(book, rates, by, window.start, window.end)
    settled = summed_over_months(settlement, by, window.start, window.end, SETTLEMENT_SUMS)
    if any(table[by].null_count for table in (receivables, sales, settled)):
        return None

    def at(day: dt.date, names: Mapping[str, str]) -> pa.Table:
        rows = receivables.filter(pc.equal(receivables["as_of"], pa.scalar(day, pa.date32())))
        return rows.select([by, *names]).rename_columns([by, *names.values()])

    inputs = (
        at(window.end, {"balance": "ar_total", "current": "current_ar"})
        .join(at(begin, {"balance": "begin_ar"}), by, join_type="full outer")
        .join(sales.rename_columns([by, "sales_window"]), by, join_type="full outer")
        .join(settled, by, join_type="left outer")
    )
    columns = [*_FLOW_SUMS, *SETTLEMENT_SUMS]
    return GroupInputs(window.end, window, None, keys=inputs[by].to_pylist(), table=inputs.select(columns))


def breakdown_table(inputs: GroupInputs, params: Params, by: str) -> pd.DataFrame:
    """DSO family per group at the inputs' date from pre-aggregated inputs (:func:`group_inputs` at it), largest AR
    first."""
    read = (*_FLOW_SUMS, *SETTLEMENT_SUMS)
    out: dict[str, list[object]] = {
        column: [] for column in (by, "ar_total", "current_ar", "past_due_ar", "sales_window", *_BREAKDOWN_KPI_IDS)
    }
    for part in inputs.column_parts(read, inputs.largest_first()):
        ar, current, begin_ar, sales = (part[column] for column in _FLOW_SUMS)
        kpis = breakdown_kpis(
            window=inputs.window,
            dso_config=params.dso,
            cei_config=params.cei,
            receivables=ar,
            current=current,
            begin_receivables=begin_ar,
            window_sales=sales,
            settled={column: part[column] for column in SETTLEMENT_SUMS},
        )
        out[by].extend(part["group"])
        out["ar_total"].extend(ar)
        out["current_ar"].extend(current)
        out["past_due_ar"].extend(total - now for total, now in zip(ar, current))
        out["sales_window"].extend(sales)
        for kpi, values in kpis.items():
            out[kpi].extend(values)
    if not out[by]:
        return pd.DataFrame([], columns=list(out))  # no rows: object columns
    return pd.DataFrame(out)


#: the KPIs of a breakdown row (:func:`~collections_mi.metrics.dso_formulas.breakdown_kpis`)
_BREAKDOWN_KPI_IDS = tuple(kpi for kpi in KPI_IDS if kpi != "dso_countback")


def past_due_and_dso(inputs: GroupInputs, by: str) -> pd.DataFrame:
    """Per group: ``past_due_ar`` and ``dso`` only — the two columns of :func:`breakdown_table` that top movers
    compare at the previous month-end (the same values; the other KPIs per customer are not needed there)."""
    days = inputs.window.days
    groups: list[object] = []
    past_due: list[Decimal] = []
    dso: list[Decimal | None] = []
    for part in inputs.column_parts(("ar_total", "current_ar", "sales_window")):
        ar, current, sales = part["ar_total"], part["current_ar"], part["sales_window"]
        groups.extend(part["group"])
        past_due.extend(a - c for a, c in zip(ar, current))
        dso.extend(days_sales_outstanding(a, s, days) for a, s in zip(ar, sales))
    return pd.DataFrame(
        {
            by: pd.Series(groups, dtype=object),
            "past_due_ar": pd.Series(past_due, dtype=object),
            "dso": pd.Series(dso, dtype=object),
        }
    )


def breakdown(book: Book, params: Params, by: str) -> pd.DataFrame:
    """DSO family per value of ``by`` (segment, region, collector, currency, customer_id, risk_band) at as_of."""
    return breakdown_table(group_inputs(book, params.dso.window_months, by), params, by)


def deteriorating_customers(book: Book, top: int, sums: SettlementSums | None = None) -> pd.DataFrame:
    """Customers paying later this month than their own norm (weighted days late, previous 6 months). ``sums``: the
    settlement sums per customer, when already gathered from the norm's start or earlier."""
    month_start = book.as_of.replace(day=1)
    norm_start = first_of_month_back(book.as_of, DETERIORATION_NORM_MONTHS)
    sums = SettlementSums.covering(book, norm_start, "customer_id", sums)
    # days_late_weighted (SettlementTotals.kpis()) from the three sums it reads, not every sum of every customer
    now = sums.days_late_sums(month_start, book.as_of)
    norm = sums.days_late_sums(norm_start, month_start - dt.timedelta(days=1))
    rows = []
    for customer, (invoices, amount, amount_late) in now.items():
        if customer not in norm:
            continue
        norm_invoices, norm_amount, norm_late = norm[customer]
        late_now = ratio(amount_late, amount)
        late_norm = ratio(norm_late, norm_amount)
        if late_now is None or late_norm is None or late_now <= late_norm:
            continue
        rows.append(
            {
                "customer_id": customer,
                "days_late_now": late_now,
                "days_late_norm": late_norm,
                "days_worse": late_now - late_norm,
                "invoices_settled_now": invoices,
                "invoices_settled_norm": norm_invoices,
                "amount_settled_now": amount,
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
    customers = book.customers.select("customer_id", "name").to_pyarrow().to_pandas()
    return frame.merge(customers, on="customer_id", how="left")[
        ["customer_id", "name", *[c for c in frame.columns if c != "customer_id"]]
    ].reset_index(drop=True)
