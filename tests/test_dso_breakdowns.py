"""The DSO family per customer group: where the engine converts the amounts, the per-customer inputs are Arrow
columns joined and rolled up by Arrow (metrics.dso_breakdowns.GroupInputs ``keys``/``table``), else Python objects
(``sums``). Both ways give the same tables cell for cell — the same Decimal, exponent included (tables/*.csv shows
"0" for a customer without AR and "0.00" for one whose AR summed to zero) — and the same order."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute

from collections_mi.config.params import Params, load_params
from collections_mi.core.periods import previous_month_end
from collections_mi.metrics.book import Book, open_book
from collections_mi.metrics.customer_groups import customer_attributes
from collections_mi.metrics.dso_breakdowns import (
    PART_ROWS,
    GroupInputs,
    breakdown_table,
    group_inputs,
    past_due_and_dso,
)
from collections_mi.metrics.dso_formulas import dso_window
from collections_mi.metrics.dso_inputs import SettlementSums, exact_total, summed_per
from collections_mi.sources.ledger import open_ledger

from conftest import write_params


def _exact(frame: pd.DataFrame) -> list[list[tuple[str, str]]]:
    """Every row's cells as (type, text): equal Decimals of another exponent differ."""
    return [[(type(cell).__name__, str(cell)) for cell in row] for row in frame.itertuples(index=False)]


def _both_ways(book: Book, params: Params, at: dt.date) -> tuple[GroupInputs, GroupInputs]:
    """The per-customer inputs at ``at`` from the same engine sums, as Arrow columns and as Python objects."""
    since = dt.date(at.year - 1, 1, 1)
    sums = SettlementSums.gather(book, since, "customer_id")
    assert sums.table is not None
    arrow = group_inputs(book, params.dso.window_months, "customer_id", at=at, sums=sums)
    python = group_inputs(
        book, params.dso.window_months, "customer_id", at=at, sums=SettlementSums(since, "customer_id", sums.frame)
    )
    assert (arrow.sums, arrow.table is not None) == (None, True)
    assert (python.sums is not None, python.table) == (True, None)
    return arrow, python


def _assert_same_tables(
    book: Book, params: Params, at: dt.date, attributes: list[str]
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The breakdowns per customer and per each of ``attributes`` at ``at``, checked equal both ways."""
    arrow, python = _both_ways(book, params, at)
    by_customer = breakdown_table(arrow, params, "customer_id")
    assert _exact(by_customer) == _exact(breakdown_table(python, params, "customer_id"))
    assert list(by_customer.columns) == list(breakdown_table(python, params, "customer_id").columns)
    assert _exact(_by_key(past_due_and_dso(arrow, "customer_id"))) == _exact(
        _by_key(past_due_and_dso(python, "customer_id"))
    )
    assert sorted((k, type(v).__name__, str(v)) for k, v in arrow.balances.items()) == sorted(
        (k, type(v).__name__, str(v)) for k, v in python.balances.items()
    )
    frame = customer_attributes(book.customers, attributes)
    rolled_up = {}
    for attribute in attributes:
        group_of = dict(zip(frame["customer_id"].tolist(), frame[attribute].tolist()))
        rolled = breakdown_table(arrow.roll_up(group_of), params, attribute)
        assert _exact(rolled) == _exact(breakdown_table(python.roll_up(group_of), params, attribute)), attribute
        assert sum(rolled["ar_total"]) == sum(by_customer["ar_total"])
        rolled_up[attribute] = rolled
    # a customer the attribute does not list (an orphan, were validation skipped) is in the group "(none)"
    unlisted = dict.fromkeys(frame["customer_id"].tolist()[1:], "listed")
    rolled = breakdown_table(arrow.roll_up(unlisted), params, "attribute")
    assert _exact(rolled) == _exact(breakdown_table(python.roll_up(unlisted), params, "attribute"))
    assert set(rolled["attribute"]) <= {"listed", "(none)"} and len(by_customer) > 1
    return by_customer, rolled_up


def _by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(frame.columns[0], kind="stable").reset_index(drop=True)


def test_demo_breakdowns_are_the_same_either_way(demo_ledger: Path, tmp_path: Path) -> None:
    params_path = write_params(tmp_path, demo_ledger)
    params = load_params(params_path)
    with open_book(open_ledger(params, params_path), params) as book:
        assert book.fx_in_engine is not None
        for at in (params.as_of, previous_month_end(params.as_of)):
            by_customer, _ = _assert_same_tables(book, params, at, ["segment", "region", "collector", "risk_band"])
            assert len(by_customer) > 100 and by_customer["ar_total"].iloc[0] > 0


def _ledger(folder: Path) -> Path:
    """Seven customers around the window Aug–Oct 2026 (as_of 2026-10-31, 3 months):

    - K1 owed 300.00 before the window and paid it in it: AR at the window's eve, none at as_of, a settlement;
    - K2 (no segment) invoiced 50.00 in the window, open: AR at as_of only;
    - K3 invoiced and paid before the window: no AR at either date, no sales in it (a row of zeros);
    - K4 and K5 owe 100.00 each at as_of (equal AR: ordered by customer_id), K5 listed first in the files;
    - K6 never invoiced and K7 invoiced after as_of only: no row;
    - K8 owes 20.00, all past due: its current AR is the engine's zero, of the engine's scale (not "no AR")."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text(
        "customer_id,name,segment\nK5,Five,B\nK1,One,A\nK2,Two,\nK3,Three,B\nK4,Four,B\nK6,Six,B\nK7,Seven,B\n"
        "K8,Eight,A\n",
        encoding="utf-8",
    )
    (folder / "invoices.csv").write_text(
        "invoice_id,customer_id,invoice_date,due_date,amount\n"
        "I1,K1,2026-06-10,2026-07-10,300.00\n"
        "I2,K2,2026-09-15,2026-12-15,50.00\n"
        "I3,K3,2026-03-01,2026-04-01,80.00\n"
        "I5,K5,2026-10-01,2026-10-15,100.00\n"
        "I4,K4,2026-10-02,2026-10-16,100.00\n"
        "I7,K7,2026-11-02,2026-12-02,70.00\n"
        "I8,K8,2026-09-01,2026-09-30,20.00\n",
        encoding="utf-8",
    )
    (folder / "payments.csv").write_text(
        "payment_id,invoice_id,payment_date,amount\nP1,I1,2026-09-05,300.00\nP3,I3,2026-03-20,80.00\n",
        encoding="utf-8",
    )
    return folder


def test_a_small_ledger_is_the_same_either_way_with_each_kind_of_missing_input(tmp_path: Path) -> None:
    params_path = write_params(tmp_path, _ledger(tmp_path / "ledger"))
    params = load_params(params_path)
    with open_book(open_ledger(params, params_path), params) as book:
        assert book.fx_in_engine is not None
        by_customer, rolled_up = _assert_same_tables(book, params, params.as_of, ["segment"])
    segments = rolled_up["segment"]
    rows = {row.customer_id: row for row in by_customer.itertuples(index=False)}
    assert list(by_customer["customer_id"]) == ["K4", "K5", "K2", "K8", "K1", "K3"]
    # no AR at as_of is the ZERO the Python path holds ("0"); a zero the engine summed keeps its scale
    assert [str(rows[k].ar_total) for k in ("K1", "K3")] == ["0", "0"]
    assert rows["K8"].current_ar == 0 and str(rows["K8"].current_ar) != "0"
    assert (rows["K1"].sales_window, rows["K2"].sales_window, rows["K4"].ar_total) == (0, Decimal(50), Decimal(100))
    assert rows["K1"].days_to_pay_simple == Decimal(87)  # 2026-06-10 → 2026-09-05
    assert rows["K1"].dso is None and rows["K3"].dso is None  # no sales in the window: DSO undefined
    assert rows["K2"].dso == Decimal(92)  # AR 50.00 / sales 50.00 × 92 days (Aug–Oct)
    assert list(segments["segment"]) == ["B", "(none)", "A"]
    assert list(segments["ar_total"]) == [Decimal(200), Decimal(50), Decimal(20)]


def test_more_customers_than_one_part_keep_their_order_and_values(tmp_path: Path) -> None:
    """Inputs are turned into Python values a part at a time: a book of more customers than a part gives every
    customer once, in the order of their AR (equal AR by id), as the Python objects' path does."""
    folder = tmp_path / "ledger"
    folder.mkdir()
    customers = PART_ROWS + 7
    ids = [f"C{number:06d}" for number in range(customers)]
    (folder / "customers.csv").write_text("customer_id,name\n" + "".join(f"{c},{c}\n" for c in ids), encoding="utf-8")
    # three amounts only: many equal balances, ordered by customer_id among themselves
    (folder / "invoices.csv").write_text(
        "invoice_id,customer_id,invoice_date,due_date,amount\n"
        + "".join(f"I{c},{c},2026-10-01,2026-10-20,{(number % 3) + 1}.50\n" for number, c in enumerate(ids)),
        encoding="utf-8",
    )
    (folder / "payments.csv").write_text("payment_id,invoice_id,payment_date,amount\n", encoding="utf-8")
    params_path = write_params(tmp_path, folder)
    params = load_params(params_path)
    with open_book(open_ledger(params, params_path), params) as book:
        by_customer, _ = _assert_same_tables(book, params, params.as_of, [])
    assert len(by_customer) == customers
    expected = sorted(ids, key=lambda c: (-(int(c[1:]) % 3), c))
    assert list(by_customer["customer_id"]) == expected


#: the largest value of decimal128(38, 14): two of them overflow Arrow's decimal128 sum
_BIG = Decimal("9" * 24 + "." + "9" * 14)


def test_arrow_sums_past_38_digits_are_exact_not_wrapped_around() -> None:
    """Arrow's decimal128 sum wraps around past 38 digits without an error (2 × 9.99e23 at 14 decimals gave
    −1.4e24, found by a review): summed_per adds decimals as decimal256 and narrows back only what fits."""
    table = pa.table(
        {
            "group": ["a", "a", "b", "b"],
            "amount": pa.array([_BIG, _BIG, Decimal("1.5"), Decimal("-0.25")], pa.decimal128(38, 14)),
            "count": pa.array([1, 2, 3, 4], pa.int64()),
        }
    )
    summed = {row["group"]: row for row in summed_per(table, "group", ["amount", "count"]).to_pylist()}
    assert summed["a"]["amount"] == 2 * _BIG and summed["b"]["amount"] == Decimal("1.25")
    assert str(summed["b"]["amount"]) == "1.25000000000000"  # the column's scale, as Decimal sums keep it
    assert (summed["a"]["count"], summed["b"]["count"]) == (3, 7)
    small = summed_per(table.filter(pa.compute.equal(table["group"], "b")), "group", ["amount"])
    assert small.schema.field("amount").type == pa.decimal128(38, 14)  # fits: Arrow's own sum type
    assert exact_total(table["amount"]) == 2 * _BIG + Decimal("1.25")
    # added up wide (they could pass 38 digits), they did not: given back as Arrow's own sum type
    cancelling = pa.table({"group": ["c", "c"], "amount": pa.array([_BIG, -_BIG], pa.decimal128(38, 14))})
    narrowed = summed_per(cancelling, "group", ["amount"])
    assert narrowed.schema.field("amount").type == pa.decimal128(38, 14) and narrowed["amount"].to_pylist() == [0]


def test_rolled_up_customers_beyond_38_digits_are_summed_exactly() -> None:
    """Two customers of one segment with the largest decimal128 AR and settlement amounts: the segment's sums on
    Arrow are exact, not wrapped around (a review found a segment's days_to_pay_weighted of −17.9 instead of 28)."""
    keys = ["K1", "K2"]
    money = pa.decimal128(38, 14)
    columns = {
        "ar_total": pa.array([_BIG, _BIG], money),
        "current_ar": pa.array([_BIG, _BIG], money),
        "begin_ar": pa.array([None, None], money),
        "sales_window": pa.array([_BIG, _BIG], money),
        "invoices": pa.array([3, 3], pa.int64()),
        "days_late": pa.array([0, 0], pa.int64()),
        "days_to_pay": pa.array([84, 84], pa.int64()),
        "amount": pa.array([_BIG, _BIG], money),
        "amount_days_late": pa.array([Decimal(0), Decimal(0)], money),
        "amount_days_to_pay": pa.array([_BIG, _BIG], money),
        "amount_days_beyond_terms": pa.array([Decimal(0), Decimal(0)], money),
        "amount_on_time": pa.array([Decimal(0), Decimal(0)], money),
    }
    window = dso_window(dt.date(2026, 10, 31), 3)
    arrow = GroupInputs(window.end, window, None, keys=keys, table=pa.table(columns))
    rolled = arrow.roll_up({"K1": "A", "K2": "A"})
    sums = rolled.column_parts(["ar_total", "amount", "amount_days_to_pay"])
    (part,) = list(sums)
    assert part["group"] == ["A"] and part["ar_total"] == [2 * _BIG] and part["amount"] == [2 * _BIG]
    assert part["amount_days_to_pay"] == [2 * _BIG]
