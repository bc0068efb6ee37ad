"""Settlement sums over months per group (``SettlementSums.grouped``): Arrow's sums of the engine's decimal columns
(one scale each) equal the Decimal sums of the general path (``summed_by``) — the same groups, the same values and the
same Decimal exponents — for any rows, window and regrouping (hypothesis). The whole days per group
(``SettlementSums.whole_days``: integer arithmetic on Arrow's sums, :func:`rounded_ratio`) equal the Decimal
definition — the 28-digit ratio rounded half up — on both paths, and so do the money totals."""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from decimal import Decimal

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from collections_mi.core.money import rounded_ratio
from collections_mi.metrics.dso_inputs import SETTLEMENT_MONEY, SETTLEMENT_SUMS, SettlementSums, unscaled_integers

MONTHS = [dt.date(2026, month, 1) for month in range(1, 13)]
SCALE = 10
MONEY = st.integers(min_value=-(10**22), max_value=10**22).map(lambda units: Decimal(units).scaleb(-SCALE))

rows = st.lists(
    st.tuples(
        st.sampled_from(MONTHS),
        st.sampled_from(["C1", "C2", "C3", "C4", "C5", "é<&>"]),
        st.integers(min_value=0, max_value=50),
        st.integers(min_value=-500, max_value=5000),
        st.integers(min_value=0, max_value=5000),
        *(MONEY for _ in SETTLEMENT_MONEY),
    ),
    max_size=40,
)


def _sums(records: list[tuple[object, ...]]) -> tuple[SettlementSums, SettlementSums]:
    """The same rows as the general path reads them (pandas, Decimals) and with their Arrow table."""
    columns = ["month", "customer_id", *SETTLEMENT_SUMS]
    table = pa.table(
        {
            "month": pa.array([r[0] for r in records], pa.date32()),
            "customer_id": pa.array([r[1] for r in records], pa.string()),
            **{c: pa.array([r[2 + i] for r in records], pa.int64()) for i, c in enumerate(SETTLEMENT_SUMS[:3])},
            **{
                c: pa.array([r[5 + i] for r in records], pa.decimal128(38, SCALE))
                for i, c in enumerate(SETTLEMENT_MONEY)
            },
        }
    )
    frame = table.to_pandas()
    assert list(frame.columns) == columns
    since = MONTHS[0]
    return SettlementSums(since, "customer_id", frame), SettlementSums(since, "customer_id", None, table)


def _cells(frame: pd.DataFrame) -> dict[object, tuple[str, ...]]:
    """Each group's sums as text (so the Decimal exponent counts too)."""
    return {key: tuple(str(v) for v in values) for key, *values in frame.itertuples(name=None)}


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    rows,
    st.integers(min_value=0, max_value=11),
    st.integers(min_value=0, max_value=11),
    st.sampled_from(
        [None, {"C1": "north", "C2": "north", "C3": "south", "é<&>": "south"}, {"C5": "x", "C1": float("nan")}, {}]
    ),
    st.booleans(),
)
def test_arrow_sums_equal_the_decimal_sums(
    records: list[tuple[object, ...]], first: int, last: int, group_of: dict[object, object] | None, dbt_only: bool
) -> None:
    general, arrow = _sums(records)
    start, end = MONTHS[min(first, last)], MONTHS[max(first, last)]
    columns = ("invoices", "amount", "amount_days_beyond_terms") if dbt_only else SETTLEMENT_SUMS
    expected = general.grouped(start, end, columns, group_of)
    got = arrow.grouped(start, end, columns, group_of)
    assert list(got.columns) == list(expected.columns) == list(columns)
    assert _cells(got) == _cells(expected)
    assert got.index.dtype == object
    for min_invoices in (0, 3, 40):
        days = _whole_days(records, start, end, "amount_days_late", min_invoices, group_of)
        own = _whole_days(records, start, end, "amount_days_late", min_invoices, None)
        for sums in (arrow, general):
            assert sums.whole_days(start, end, "amount_days_late", min_invoices, (group_of,)) == [days]
            assert sums.whole_days(start, end, "amount_days_late", min_invoices, (None, group_of)) == [own, days]
    money = ("amount", "amount_days_beyond_terms")
    totals = arrow.money_totals(start, end, money)
    assert {c: str(v) for c, v in totals.items()} == {
        c: str(v) for c, v in general.money_totals(start, end, money).items()
    }
    assert totals == {c: _total(records, start, end, c) for c in money}
    # a later start keeps only its months, in both
    later = MONTHS[max(first, last)]
    assert _cells(arrow.within(later).grouped(later, end, columns)) == _cells(
        general.within(later).grouped(later, end, columns)
    )


def _whole_days(
    records: list[tuple[object, ...]],
    start: dt.date,
    end: dt.date,
    days_column: str,
    min_invoices: int,
    group_of: dict[object, object] | None,
) -> dict[object, int]:
    """The definition from the rows themselves: per group, Σ amount × days / Σ amount to 28 digits, half up."""
    invoices: dict[object, int] = defaultdict(int)
    amounts: dict[object, Decimal] = defaultdict(Decimal)
    weighted: dict[object, Decimal] = defaultdict(Decimal)
    days_at = 5 + SETTLEMENT_MONEY.index(days_column)
    for record in records:
        month, customer = record[0], record[1]
        assert isinstance(month, dt.date)
        group = customer if group_of is None else group_of.get(customer)
        if not start <= month <= end or group is None or group != group:  # left out: not listed, or NaN
            continue
        invoices[group] += int(record[2])  # type: ignore[call-overload]
        amounts[group] += record[5]  # type: ignore[operator]
        weighted[group] += record[days_at]  # type: ignore[operator]
    context = decimal.Context(prec=28)
    return {
        group: int(context.divide(weighted[group], amounts[group]).quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))
        for group in invoices
        if invoices[group] >= min_invoices and amounts[group] != 0
    }


def _total(records: list[tuple[object, ...]], start: dt.date, end: dt.date, column: str) -> Decimal:
    at = 5 + SETTLEMENT_MONEY.index(column)
    return sum((r[at] for r in records if start <= r[0] <= end), Decimal(0))  # type: ignore[operator, misc]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.integers(min_value=-(10**40), max_value=10**40).filter(bool),
    st.integers(min_value=-3, max_value=3),
)
def test_rounded_ratio_is_the_28_digit_ratio_rounded_half_up(numerator: int, denominator: int, nudge: int) -> None:
    """Integers near a half too: numerator = (k + 1/2) × denominator + a nudge."""
    context = decimal.Context(prec=28)

    def definition(n: int, d: int) -> int:
        return int(context.divide(Decimal(n), Decimal(d)).quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))

    assert rounded_ratio(numerator, denominator) == definition(numerator, denominator)
    near_half = (2 * (numerator % 1000) + 1) * denominator + nudge
    assert rounded_ratio(near_half, 2 * denominator) == definition(near_half, 2 * denominator)


def test_rounded_ratio_follows_the_28_digit_rounding_at_a_half() -> None:
    """2.4999…9 with 30 nines is 2 exactly, but its 28-digit ratio is 2.5, which rounds half up to 3 — as the Decimal
    path reads it; an exact half rounds away from zero."""
    assert rounded_ratio(25 * 10**30 - 1, 10**31) == 3
    assert rounded_ratio(25 * 10**20 - 1, 10**21) == 2
    assert rounded_ratio(5, 2) == 3 and rounded_ratio(-5, 2) == -3 and rounded_ratio(5, -2) == -3
    assert rounded_ratio(-7, 2) == -4 and rounded_ratio(1, 3) == 0 and rounded_ratio(0, 9) == 0


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.lists(st.integers(min_value=-(10**37) + 1, max_value=10**37 - 1), max_size=30), st.integers(0, 5))
def test_unscaled_integers_are_the_decimal_values_times_ten_to_the_scale(values: list[int], skip: int) -> None:
    """Either side of 64 bits, and a slice of a column (an offset into its buffer)."""
    scale = 7
    column = pa.array([Decimal(v).scaleb(-scale) for v in values], pa.decimal128(38, scale))
    assert unscaled_integers(column) == (values, scale)
    assert unscaled_integers(pa.chunked_array([column.slice(skip)], column.type)) == (values[skip:], scale)
    wide = pa.array([Decimal(v).scaleb(-scale) for v in values], pa.decimal256(50, scale))  # another engine's type
    assert unscaled_integers(wide) == (values, scale)


def test_whole_days_of_columns_at_two_scales() -> None:
    """Σ amount at scale 2 and Σ amount × days at scale 4 (an engine's product of two decimals): one scale first."""
    table = pa.table(
        {
            "month": pa.array([MONTHS[0]] * 3, pa.date32()),
            "customer_id": ["C1", "C1", "C2"],
            "invoices": pa.array([1, 2, 3], pa.int64()),
            "amount": pa.array([Decimal("100.00"), Decimal("50.00"), Decimal("10.00")], pa.decimal128(20, 2)),
            "amount_days_late": pa.array(
                [Decimal("1000.0000"), Decimal("275.0000"), Decimal("-25.0000")], pa.decimal128(24, 4)
            ),
        }
    )
    arrow = SettlementSums(MONTHS[0], "customer_id", None, table)
    # C1: 1275 / 150 = 8.5 → 9; C2: −25 / 10 = −2.5 → −3 (half away from zero)
    assert arrow.whole_days(MONTHS[0], MONTHS[0], "amount_days_late", 0) == [{"C1": 9, "C2": -3}]
    assert arrow.whole_days(MONTHS[0], MONTHS[0], "amount_days_late", 3) == [{"C1": 9, "C2": -3}]
    assert arrow.whole_days(MONTHS[0], MONTHS[0], "amount_days_late", 4) == [{}]
    # one group of both customers: (1275 − 25) / 160 = 7.8125 → 8
    both = {"C1": "g", "C2": "g"}
    assert arrow.whole_days(MONTHS[0], MONTHS[0], "amount_days_late", 0, (both, None)) == [
        {"g": 8},
        {"C1": 9, "C2": -3},
    ]
    assert arrow.money_totals(MONTHS[0], MONTHS[1], ["amount"]) == {"amount": Decimal("160.00")}
    assert str(arrow.money_totals(MONTHS[1], MONTHS[2], ["amount"])["amount"]) == "0"


def _rows(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """The rows as text (the Decimal exponent counts too), in a fixed order."""
    return sorted(tuple(str(v) for v in row) for row in frame.itertuples(index=False, name=None))


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(rows, st.integers(min_value=0, max_value=11))
def test_rows_built_from_the_arrow_table_when_read_are_the_rows_of_the_general_path(
    records: list[tuple[object, ...]], first: int
) -> None:
    """Sums kept as an Arrow table build their Python rows only when read (``frame``), and then the same rows —
    months as dates, the same Decimals — also for the months from a later first (``within``)."""
    general, arrow = _sums(records)
    assert "frame" not in vars(arrow)  # not built until read
    assert _rows(arrow.frame) == _rows(general.frame)
    assert all(type(month) is dt.date for month in arrow.frame["month"])
    since = MONTHS[first]
    later = arrow.within(since)
    assert later.table is not None and "frame" not in vars(later)
    assert _rows(later.frame) == _rows(general.within(since).frame)
