"""What the DSO family is computed from, gathered in the engine: credit sales per day, receivables at dates and
settlement sums per month — for the whole book or per customer group, each for many dates in one pass.

Amounts are in reporting currency, exact: converted at each row's closing rate in the engine, or summed per
currency and day there and converted afterwards (:func:`collections_mi.metrics.fx.reporting_sums`).
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collections_mi.core.money import MONEY_CONTEXT, ZERO, dsum, ratio, rounded_ratio
from collections_mi.metrics.balances import open_items
from collections_mi.metrics.book import Book
from collections_mi.metrics.customer_groups import with_customer_attribute
from collections_mi.metrics.dso_formulas import SalesLedger, SettlementTotals, TermsTotals
from collections_mi.metrics.fx import EngineRates, engine_reporting_sums, reporting_sums


def daily_sales_by(book: Book, by: str | None = None) -> dict[object, dict[dt.date, Decimal]]:
    """Credit sales per day in reporting currency up to as_of, for the whole book (key None) or per group."""
    inv = book.invoices
    inv = inv.filter(inv.invoice_date <= book.as_of)
    if by is not None:
        inv = with_customer_attribute(book.customers, inv, by)
    per_group: dict[object, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    keys = ["invoice_date"] if by is None else [by, "invoice_date"]
    frame = book.summed_in_reporting_currency(inv, "invoice_date", keys, "amount")
    group_values = frame[by].tolist() if by is not None else [None] * len(frame)
    with decimal.localcontext(MONEY_CONTEXT):
        for group, day, amount in zip(group_values, frame["invoice_date"].tolist(), frame["amount"].tolist()):
            per_group[group][day] += amount
    return per_group


def window_sales_by(book: Book, by: str, start: dt.date, end: dt.date) -> dict[object, Decimal]:
    """Credit sales from ``start`` to ``end`` in reporting currency per value of ``by``, for every group with an
    invoice dated on or before as_of (zero when none falls in the window): one engine query, summed per group."""
    frame = reporting_sums(
        _invoiced_by(book, by), book.fx, book.fx_in_engine, "invoice_date", [by], _window_sales(start, end), ("amount",)
    )
    return {group: ZERO + amount for group, amount in zip(frame[by].tolist(), frame["amount"].tolist())}


def window_sales_table(book: Book, rates: EngineRates, by: str, start: dt.date, end: dt.date) -> pa.Table:
    """:func:`window_sales_by` as Arrow, converted in the engine at ``rates``: ``by`` and ``amount`` (one decimal
    type)."""
    invoiced = _invoiced_by(book, by)
    return engine_reporting_sums(invoiced, book.fx, rates, "invoice_date", [by], _window_sales(start, end))


def _invoiced_by(book: Book, by: str) -> ir.Table:
    """The invoices dated on or before as_of with their customer's ``by``."""
    inv = book.invoices
    return with_customer_attribute(book.customers, inv.filter(inv.invoice_date <= book.as_of), by)


def _window_sales(start: dt.date, end: dt.date) -> Callable[[ir.Table], dict[str, ir.Value]]:
    """The credit sales from ``start`` to ``end`` (0 when none) of a group of invoices."""
    return lambda t: {
        "amount": ibis.coalesce(t.amount.sum(where=(t.invoice_date >= start) & (t.invoice_date <= end)), 0)
    }


def daily_sales(book: Book, by: str | None = None) -> dict[object, SalesLedger]:
    """Sales ledgers up to as_of: one for the whole book (key None) or one per value of a customer attribute."""
    return {group: SalesLedger.from_daily(daily) for group, daily in daily_sales_by(book, by).items()}


def receivables_at(
    book: Book, dates: Sequence[dt.date], by: str | None = None
) -> dict[tuple[dt.date, object], tuple[Decimal, Decimal]]:
    """(AR, current AR) in reporting currency at each date (and per group): one engine pass for all dates."""
    items, keys = _open_items_by(book, dates, by)
    frame = reporting_sums(items, book.fx, book.fx_in_engine, "as_of", keys, _receivables, ("balance", "current"))
    group_values = frame[by].tolist() if by is not None else [None] * len(frame)
    return {
        (as_of, group): (ZERO + balance, ZERO + current)
        for group, as_of, balance, current in zip(
            group_values, frame["as_of"].tolist(), frame["balance"].tolist(), frame["current"].tolist()
        )
    }


def receivables_table(book: Book, rates: EngineRates, dates: Sequence[dt.date], by: str) -> pa.Table:
    """:func:`receivables_at` per group as Arrow, converted in the engine at ``rates``: ``by``, ``as_of`` (a date32),
    ``balance`` and ``current`` (each one decimal type)."""
    items, keys = _open_items_by(book, dates, by)
    return _with_date32(engine_reporting_sums(items, book.fx, rates, "as_of", keys, _receivables), "as_of")


def _with_date32(table: pa.Table, column: str) -> pa.Table:
    """``table`` with its date ``column`` as a date32 (an engine may give a timestamp)."""
    if table.schema.field(column).type == pa.date32():
        return table
    return table.set_column(table.schema.get_field_index(column), column, pc.cast(table[column], pa.date32()))


def _open_items_by(book: Book, dates: Sequence[dt.date], by: str | None) -> tuple[ir.Table, list[str]]:
    """The open items at ``dates`` (their open balance as ``amount``; with their customer's ``by``) and the keys
    receivables are summed by."""
    items = open_items(book, list(dates))
    keys = ["as_of"]
    if by is not None:
        items = with_customer_attribute(book.customers, items, by)
        keys = [by, *keys]
    return items.mutate(amount=items.open_balance), keys


def _receivables(t: ir.Table) -> dict[str, ir.Value]:
    """AR and current AR (not yet past due) of a group of open items."""
    return {"balance": t.amount.sum(), "current": ibis.coalesce(t.amount.sum(where=t.days_past_due <= 0), 0)}


SETTLEMENT_SUMS = (
    "invoices",
    "days_late",
    "days_to_pay",
    "amount",
    "amount_days_late",
    "amount_days_to_pay",
    "amount_days_beyond_terms",
    "amount_on_time",
)
SETTLEMENT_MONEY = ("amount", "amount_days_late", "amount_days_to_pay", "amount_days_beyond_terms", "amount_on_time")


def _settlement_measures(t: ir.Table) -> dict[str, ir.Value]:
    """Every settlement sum over the settled invoices ``t``, amounts in each invoice's own currency."""
    return {
        "invoices": t.count(),
        "days_late": t.days_late.sum(),
        "days_to_pay": t.days_to_pay.sum(),
        "amount": t.amount.sum(),
        "amount_days_late": (t.amount * t.days_late).sum(),
        "amount_days_to_pay": (t.amount * t.days_to_pay).sum(),
        # days beyond terms are not clipped: paying early counts as negative (metrics.md § Payment behaviour)
        "amount_days_beyond_terms": (t.amount * t.settled_on.delta(t.due_date, unit="day")).sum(),
        "amount_on_time": (t.amount * ibis.ifelse(t.settled_on <= t.due_date, 1, 0)).sum(),
    }


def _settled_since(book: Book, since: dt.date, by: str | None) -> tuple[ir.Table, list[str]]:
    """The settlements from ``since`` with their settlement ``month`` (and ``by``), and the keys they are summed by."""
    settled = book.settlements
    settled = settled.filter(settled.settled_on >= since)
    settled = settled.mutate(month=settled.settled_on.truncate("M"))
    if by is not None:
        settled = with_customer_attribute(book.customers, settled, by)
    return settled, _summed_by(by)


def _summed_by(by: str | None) -> list[str]:
    """The keys settlement sums are summed by: the settlement ``month``, then ``by`` when given."""
    return ["month"] if by is None else ["month", by]


def _with_date_months(frame: pd.DataFrame, group_keys: list[str]) -> pd.DataFrame:
    frame["month"] = [m if type(m) is dt.date else m.date() for m in frame["month"].tolist()]
    return frame.sort_values(group_keys, ignore_index=True)


@dataclass(frozen=True)
class SettlementSums:
    """Settlement sums per (settlement month, group) from ``since`` (a first of month) to as_of, in reporting
    currency, exact (:meth:`gather`): gathered in one engine query, then summed over any months and any
    grouping of the groups here. Decimal sums run at the 60-digit money precision, so they do not depend on the
    order of the additions."""

    since: dt.date
    #: the group column (e.g. ``customer_id``); None: the whole book
    by: str | None
    #: the rows as Python objects (:attr:`frame`) when they were gathered so; None when ``table`` holds them
    rows: pd.DataFrame | None
    #: the same rows as Arrow columns (``month`` a date32) when the engine converted them, so that each money column
    #: has one decimal scale and no null: sums over months per group are then Arrow's, exact integer sums at that
    #: scale, equal to the Decimal sums (and with the same exponent) without a Python addition per row
    table: pa.Table | None = None

    @functools.cached_property
    def frame(self) -> pd.DataFrame:
        """``month`` (first day), ``by`` (when given) and the settlement sums as date, int and ``Decimal`` objects.
        Built from ``table`` only when read: the DSO section and the forecast sum per customer by Arrow, and never
        read these objects — 9 per (month, customer), millions in a 10M-invoice book, converted for nothing."""
        if self.rows is not None:
            return self.rows
        if self.table is None:
            raise ValueError("settlement sums without rows")
        return _with_date_months(self.table.to_pandas(), _summed_by(self.by))

    @classmethod
    def gather(
        cls, book: Book, since: dt.date, by: str | None = None, columns: Sequence[str] | None = None
    ) -> SettlementSums:
        """The sums from ``since``; ``columns``: only these (e.g. the three the cash forecast reads)."""
        wanted = list(SETTLEMENT_SUMS if columns is None else columns)
        settled, group_keys = _settled_since(book, since, by)

        def measures(t: ir.Table) -> dict[str, ir.Value]:
            return {name: value for name, value in _settlement_measures(t).items() if name in wanted}

        if book.fx_in_engine is None:
            frame = reporting_sums(settled, book.fx, None, "invoice_date", group_keys, measures, SETTLEMENT_MONEY)
            return cls(since, by, _with_date_months(frame, group_keys))
        table = engine_reporting_sums(settled, book.fx, book.fx_in_engine, "invoice_date", group_keys, measures)
        table = _with_date32(table, "month")
        if by is None or any(table.column(name).null_count for name in [by, *wanted]):
            # sums by Decimal (a null key or sum: as the general path reads it)
            return cls(since, by, _with_date_months(table.to_pandas(), group_keys))
        return cls(since, by, None, table)

    @classmethod
    def covering(cls, book: Book, since: dt.date, by: str, sums: SettlementSums | None) -> SettlementSums:
        """``sums`` when they are per ``by`` and start on or before ``since`` (gathered once by the caller for
        several uses), else the sums per ``by`` from ``since``, gathered now."""
        if sums is not None and sums.by == by and sums.since <= since:
            return sums
        return cls.gather(book, since, by)

    def by_month(self) -> dict[tuple[dt.date, object], SettlementTotals]:
        """(settlement month, group) → sums; the group is None without ``by``."""
        frame = self.frame
        group_values = frame[self.by].tolist() if self.by is not None else [None] * len(frame)
        return {
            (month, group): SettlementTotals(int(invoices), int(late), int(to_pay), *money)
            for month, group, invoices, late, to_pay, *money in zip(
                frame["month"], group_values, *(frame[c] for c in SETTLEMENT_SUMS)
            )
        }

    def within(self, since: dt.date) -> SettlementSums:
        """The sums of the months from ``since`` (a first of month on or after this one's ``since``)."""
        if since < self.since or since.day != 1:
            raise ValueError(f"settlement sums gathered from {self.since} cannot give the months from {since}")
        table = self.table
        if table is not None:
            return SettlementSums(
                since, self.by, None, table.filter(pc.greater_equal(table["month"], pa.scalar(since, pa.date32())))
            )
        return SettlementSums(since, self.by, self.frame[self.frame["month"] >= since].reset_index(drop=True))

    def grouped(
        self,
        start: dt.date,
        end: dt.date,
        columns: Sequence[str] = SETTLEMENT_SUMS,
        group_of: Mapping[object, object] | None = None,
    ) -> pd.DataFrame:
        """``columns`` of the sums summed over the settlement months from ``start`` to ``end`` per group (the index),
        or per ``group_of[group]`` (a group ``group_of`` does not list is left out), in no particular order."""
        if self.by is None:
            raise ValueError("settlement sums of the whole book have no groups")
        if self.table is not None:
            return _arrow_grouped(self.table, self.by, start, end, columns, group_of)
        frame = self.frame
        rows = frame.loc[(frame["month"] >= start) & (frame["month"] <= end), [self.by, *columns]]
        return regrouped(rows.set_index(self.by), group_of)

    def days_late_sums(self, start: dt.date, end: dt.date) -> dict[object, tuple[int, Decimal, Decimal]]:
        """Per group: settled invoices, Σ amount and Σ amount × days late over the settlement months from ``start``
        to ``end`` — what days_late_weighted (:meth:`SettlementTotals.kpis`) is read from, without the other sums."""
        read = ("invoices", "amount", "amount_days_late")
        grouped = self.grouped(start, end, read)
        return {
            group: (int(invoices), amount, amount_late)
            for group, invoices, amount, amount_late in zip(
                grouped.index.tolist(), *(grouped[c].tolist() for c in read)
            )
        }

    def whole_days(
        self,
        start: dt.date,
        end: dt.date,
        amount_days: str,
        min_invoices: int,
        groupings: Sequence[Mapping[object, object] | None] = (None,),
    ) -> list[dict[object, int]]:
        """For each of ``groupings`` — None: per group; a mapping: per ``group_of[group]`` (a group it does not list
        is left out) —, per group with at least ``min_invoices`` settled invoices in the settlement months from
        ``start`` to ``end`` and a non-zero Σ amount: Σ ``amount_days`` / Σ amount (``ratio``) rounded half up to
        whole days. From Arrow sums (grouped once for all the groupings) by integer arithmetic
        (:func:`~collections_mi.core.money.rounded_ratio`: the same integers, without a Decimal per group)."""
        columns = ("invoices", "amount", amount_days)
        if self.table is None:
            days: list[dict[object, int]] = []
            for group_of in groupings:
                grouped = self.grouped(start, end, columns, group_of)
                days.append(
                    {
                        key: int(weighted.quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))
                        for key, invoices, amount, summed in zip(grouped.index, *(grouped[c] for c in columns))
                        if invoices >= min_invoices and (weighted := ratio(summed, amount)) is not None
                    }
                )
            return days
        if self.by is None:
            raise ValueError("settlement sums of the whole book have no groups")
        keys, sums = _arrow_group_sums(self.table, self.by, start, end, columns)
        return [
            _whole_days(*_arrow_regrouped(keys, sums, columns, group_of), amount_days, min_invoices)
            for group_of in groupings
        ]

    def money_totals(self, start: dt.date, end: dt.date, columns: Sequence[str]) -> dict[str, Decimal]:
        """The money ``columns`` summed over every group and the settlement months from ``start`` to ``end`` — exact,
        the Decimals (value and exponent) :func:`~collections_mi.core.money.dsum` gives (0 for no month)."""
        if any(column not in SETTLEMENT_MONEY for column in columns):
            raise ValueError(f"money_totals sums money columns ({', '.join(SETTLEMENT_MONEY)}), not {list(columns)}")
        table = self.table
        if table is None:
            frame = self.frame
            return {c: dsum(frame.loc[(frame["month"] >= start) & (frame["month"] <= end), c]) for c in columns}
        rows = _months(table, start, end)
        sums = {column: exact_total(rows[column]) for column in columns}
        return {column: ZERO if value is None else ZERO + value for column, value in sums.items()}


def summed_per(table: pa.Table, key: str, columns: Sequence[str]) -> pa.Table:
    """``columns`` of ``table`` summed per ``key`` by Arrow: ``key`` then the sums, named as ``columns``, in no
    particular order. Exact: Arrow's decimal128 sum wraps around past 38 digits without an error (found by a
    review: 2 × 9.99e23 at 14 decimals summed to −1.4e24), so a decimal column whose sums could reach that
    (:func:`_could_overflow`) is added up as decimal256 and given back as decimal128(38, its scale) — the type
    Arrow's own sum gives — when every sum fits it."""
    chosen = table.select([key, *columns])
    wide = [name for name in columns if _could_overflow(chosen[name])]
    if wide:
        chosen = chosen.cast(
            pa.schema(
                [
                    pa.field(field.name, pa.decimal256(76, field.type.scale)) if field.name in wide else field
                    for field in chosen.schema
                ]
            )
        )
    summed = chosen.group_by(key, use_threads=False).aggregate([(column, "sum") for column in columns])
    summed = summed.select([key, *(f"{column}_sum" for column in columns)]).rename_columns([key, *columns])
    return _narrowed(summed) if wide else summed


def exact_total(column: pa.ChunkedArray | pa.Array) -> Decimal | int | None:
    """The sum of a column (None without a value), a decimal one that could pass 38 digits added up as decimal256
    (:func:`summed_per`)."""
    if _could_overflow(column):
        column = pc.cast(column, pa.decimal256(76, column.type.scale))
    total: Decimal | int | None = pc.sum(column).as_py()
    return total


def _could_overflow(column: pa.ChunkedArray | pa.Array) -> bool:
    """Whether a sum of some of the values of a decimal128 column could pass 38 digits: rows × the largest value
    (both bounds of every partial sum) reaches 10**38 at the column's scale. Reading the bounds costs a scan; adding
    up as decimal256 doubles the cost of a sum, which real ledgers (sums ten orders of magnitude below) never need."""
    if not pa.types.is_decimal128(column.type) or len(column) == 0:
        return False
    bounds = pc.min_max(column).as_py()
    if bounds["min"] is None:
        return False
    largest = max(abs(bounds["min"]), abs(bounds["max"])).scaleb(column.type.scale)
    return bool(len(column) * largest >= Decimal(10) ** 38)


def _narrowed(table: pa.Table) -> pa.Table:
    """Each decimal256 column of ``table`` as decimal128(38, its scale) when every value fits it."""
    for position, field in enumerate(table.schema):
        if not pa.types.is_decimal256(field.type):
            continue
        narrow = pa.decimal128(38, field.type.scale)
        try:
            column = pc.cast(table.column(position), narrow)
        except pa.ArrowInvalid:  # a sum beyond 38 digits: kept wide (exact either way)
            continue
        table = table.set_column(position, pa.field(field.name, narrow), column)
    return table


def _arrow_grouped(
    table: pa.Table,
    by: str,
    start: dt.date,
    end: dt.date,
    columns: Sequence[str],
    group_of: Mapping[object, object] | None,
) -> pd.DataFrame:
    """:meth:`SettlementSums.grouped` summed by Arrow: per ``by``, then (with ``group_of``) per ``group_of[group]``,
    each a sum of decimals of one scale — exact, and the same Decimals (value and exponent) as :func:`summed_by`."""
    keys, sums = _arrow_regrouped(*_arrow_group_sums(table, by, start, end, columns), columns, group_of)
    frame = sums.to_pandas()
    frame.index = pd.Index(keys, dtype=object)
    return frame


def _months(table: pa.Table, start: dt.date, end: dt.date) -> pa.Table:
    """The rows of settlement months from ``start`` to ``end`` (both first days of a month)."""
    month = table["month"]
    return table.filter(
        pc.and_(
            pc.greater_equal(month, pa.scalar(start, pa.date32())), pc.less_equal(month, pa.scalar(end, pa.date32()))
        )
    )


def summed_over_months(table: pa.Table, by: str, start: dt.date, end: dt.date, columns: Sequence[str]) -> pa.Table:
    """``columns`` of settlement sums per (``month``, ``by``) (:attr:`SettlementSums.table`) summed per ``by`` over
    the months from ``start`` to ``end`` (:func:`summed_per`): ``by`` then the sums."""
    return summed_per(_months(table, start, end), by, columns)


def _arrow_group_sums(
    table: pa.Table, by: str, start: dt.date, end: dt.date, columns: Sequence[str]
) -> tuple[list[object], pa.Table]:
    """``columns`` summed per ``by`` over the months from ``start`` to ``end``: the keys and the sums (named as
    ``columns``)."""
    sums = summed_over_months(table, by, start, end, columns)
    keys: list[object] = sums[by].to_pylist()
    return keys, sums.drop_columns([by])


def _arrow_regrouped(
    keys: list[object], sums: pa.Table, columns: Sequence[str], group_of: Mapping[object, object] | None
) -> tuple[list[object], pa.Table]:
    """Sums per group (:func:`_arrow_group_sums`) summed per ``group_of[group]``, a group ``group_of`` does not list
    left out, as regrouped() reads them; unchanged without ``group_of``."""
    if group_of is None:
        return keys, sums
    mapped = np.array([group_of.get(key) for key in keys], dtype=object)
    listed = ~pd.isna(mapped)
    return summed_per_label(sums.filter(pa.array(listed, pa.bool_())), mapped[listed], columns)


def summed_per_label(
    table: pa.Table, labels: Sequence[object], columns: Sequence[str]
) -> tuple[list[object], pa.Table]:
    """``columns`` of ``table`` summed per label — ``labels`` gives one per row, None a label like any other — by
    :func:`summed_per`: the labels, in no particular order, and their sums (named as ``columns``)."""
    codes, uniques = pd.factorize(np.asarray(labels, dtype=object), use_na_sentinel=False)
    summed = summed_per(table.append_column("group_code", pa.array(codes, pa.int64())), "group_code", columns)
    return [uniques[code] for code in summed["group_code"].to_pylist()], summed.drop_columns(["group_code"])


def _whole_days(keys: list[object], sums: pa.Table, amount_days: str, min_invoices: int) -> dict[object, int]:
    """:meth:`SettlementSums.whole_days` of Arrow sums per group."""
    amounts, amount_scale = unscaled_integers(sums["amount"])
    numerators, days_scale = unscaled_integers(sums[amount_days])
    # one scale for both (the scale then cancels in the ratio)
    amount_factor, days_factor = 10 ** max(days_scale - amount_scale, 0), 10 ** max(amount_scale - days_scale, 0)
    return {
        key: rounded_ratio(numerator * days_factor, amount * amount_factor)
        for key, invoices, amount, numerator in zip(keys, sums["invoices"].to_pylist(), amounts, numerators)
        if invoices >= min_invoices and amount
    }


def unscaled_integers(column: pa.Array | pa.ChunkedArray) -> tuple[list[int], int]:
    """The values of a decimal column without nulls as exact integers at its scale (value × 10**scale), and the
    scale — a decimal128 column read from its 16-byte two's-complement words, without a Decimal per value (a wider
    one, as another engine may give, through its Decimals)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_decimal(array.type) or array.null_count:
        raise TypeError(f"unscaled_integers reads a decimal column without nulls, not {array.type}")
    if not pa.types.is_decimal128(array.type):
        return [int(value.scaleb(array.type.scale)) for value in array.to_pylist()], array.type.scale
    words = np.frombuffer(array.buffers()[1], dtype="<u8", count=2 * (array.offset + len(array)))
    words = words[2 * array.offset :]
    low, high = words[0::2], words[1::2].view("<i8")
    signed_low = low.view("<i8")
    if bool(np.all(high == (signed_low >> 63))):  # every value fits 64 bits
        return signed_low.tolist(), array.type.scale
    return [(upper << 64) | lower for upper, lower in zip(high.tolist(), low.tolist())], array.type.scale


def regrouped(sums: pd.DataFrame, group_of: Mapping[object, object] | None = None) -> pd.DataFrame:
    """``sums`` (settlement sums, indexed by group; a group may repeat) summed per group, or per ``group_of[group]``
    (a group ``group_of`` does not list is left out), exactly (:func:`summed_by`)."""
    keys = sums.index.to_series() if group_of is None else sums.index.to_series().map(group_of)
    listed = keys.notna().to_numpy()
    if not listed.any():
        return sums.iloc[0:0]
    return summed_by(sums[listed], keys[listed].tolist(), SETTLEMENT_MONEY)


def summed_by(frame: pd.DataFrame, keys: Sequence[object], money: Collection[str]) -> pd.DataFrame:
    """The columns of ``frame`` summed per key (one per row; None is a key like any other), in first-seen order.
    Money stays exact: Decimal sums at the money precision, and each ``money`` column plus zero, as a sum started
    from zero would be (the same Decimal exponent whatever the additions)."""
    codes, uniques = pd.factorize(np.asarray(list(keys), dtype=object), use_na_sentinel=False)
    with decimal.localcontext(MONEY_CONTEXT):
        grouped = frame.groupby(codes, sort=True).sum()
        for column in grouped.columns:
            if column in money:
                grouped[column] = [ZERO + amount for amount in grouped[column]]
    grouped.index = pd.Index([uniques[code] for code in grouped.index], dtype=object)
    return grouped


def settlement_totals_by_month(
    book: Book, since: dt.date, by: str | None = None
) -> dict[tuple[dt.date, object], SettlementTotals]:
    """Settlement sums per (settlement month, group); the group is None without ``by``."""
    return SettlementSums.gather(book, since, by).by_month()


def terms_totals_by_month(book: Book, since: dt.date) -> dict[dt.date, TermsTotals]:
    """Σ amount and Σ amount × terms (due_date − invoice_date) of the invoices raised from ``since`` to as_of, per
    invoice month (its first day), in reporting currency at each invoice date's rate (as credit sales)."""
    inv = book.invoices
    inv = inv.filter((inv.invoice_date >= since) & (inv.invoice_date <= book.as_of))
    inv = inv.mutate(month=inv.invoice_date.truncate("M"))
    frame = reporting_sums(
        inv,
        book.fx,
        book.fx_in_engine,
        "invoice_date",
        ["month"],
        lambda t: {
            "amount": t.amount.sum(),
            "amount_terms": (t.amount * t.due_date.delta(t.invoice_date, unit="day")).sum(),
        },
        ("amount", "amount_terms"),
    )
    totals: dict[dt.date, TermsTotals] = defaultdict(TermsTotals)
    with decimal.localcontext(MONEY_CONTEXT):
        for month, amount, amount_terms in zip(
            frame["month"].tolist(), frame["amount"].tolist(), frame["amount_terms"].tolist()
        ):
            day = month if type(month) is dt.date else month.date()
            totals[day] = totals[day] + TermsTotals(amount, amount_terms)
    return dict(totals)
