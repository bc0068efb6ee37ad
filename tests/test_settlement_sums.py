"""Settlement sums over months per group (``SettlementSums.grouped``): Arrow's sums of the engine's decimal columns
(one scale each) equal the Decimal sums of the general path (``summed_by``) — the same groups, the same values and the
same Decimal exponents — for any rows, window and regrouping (hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from collections_mi.metrics.dso_inputs import SETTLEMENT_MONEY, SETTLEMENT_SUMS, SettlementSums

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
    assert arrow.per_group(start, end, group_of) == general.per_group(start, end, group_of)
    # a later start keeps only its months, in both
    later = MONTHS[max(first, last)]
    assert _cells(arrow.within(later).grouped(later, end, columns)) == _cells(
        general.within(later).grouped(later, end, columns)
    )


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
