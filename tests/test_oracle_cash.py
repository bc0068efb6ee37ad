"""The library's cash-collection forecast and back-test (collections_mi.metrics.forecast) against the independent
oracle (tests/oracle_cash.py, which shares no code with the library) on the small demo ledger (3,000 invoices, three
currencies, a disputes table, promises) at two month-ends, and on the tiny ledger with its disputes: the 13-week
total and every row (weeks 1–13, later, not forecast) to the cent, every rule column, not forecast by reason, every
back-test cell (forecast, actual, actual on items not forecast) exactly, and forecast_wape_pct / forecast_bias_pct
to 0.01.

On the demo with the default params every customer with a pending promise at 2026-10-31 and 2026-06-30 has paid
nothing for 120 days, so its past-due items are write-off candidates and the promise column is empty there (promises
do reach the back-test months 2025-12-31 and 2026-04-30); the third demo case lifts ``no_payment_days`` so promises
are forecast at D as well.
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

import oracle_cash
from collections_mi.config.params import load_params
from collections_mi.metrics.book import open_book
from collections_mi.metrics.forecast import Backtest, CashForecast, cash_forecast, forecast_backtest
from collections_mi.sources.ledger import open_ledger

from conftest import FIXTURES, write_params

ZERO = Decimal(0)
CENT = Decimal("0.01")


def _library(tmp_path: Path, ledger: Path, as_of: dt.date, **sections) -> tuple[CashForecast, Backtest]:
    params_path = write_params(tmp_path, ledger, as_of=as_of.isoformat(), name="forecast.yaml", **sections)
    params = load_params(params_path)
    source = open_ledger(params, params_path)
    try:
        with open_book(source, params) as book:
            return cash_forecast(book, params), forecast_backtest(book, params)
    finally:
        disconnect = getattr(source.backend, "disconnect", None)
        if disconnect:
            disconnect()


def _same_as_the_oracle(
    forecast: CashForecast, backtest: Backtest, ledger: Path, as_of: dt.date, rules: oracle_cash.Rules
) -> oracle_cash.Forecast:
    """Every figure of the library's forecast and back-test equals the oracle's; returns the oracle's forecast."""
    oracle = oracle_cash.CashOracle(ledger, rules)
    expected = oracle.forecast(as_of)
    # every row, and its rule columns, to the cent (exactly: both are exact sums)
    weeks = [*range(1, oracle_cash.WEEKS + 1), oracle_cash.LATER, oracle_cash.NOT_FORECAST]
    assert list(forecast.weeks["week"]) == weeks
    assert dict(zip(forecast.weeks["week"], forecast.weeks["amount"])) == {w: expected.amounts[w] for w in weeks}
    for rule in oracle_cash.RULES:
        library = dict(zip(forecast.weeks["week"].iloc[:-1], forecast.weeks[rule].iloc[:-1]))
        assert library == {w: expected.by_rule[w][rule] for w in weeks[:-1]}, rule
    assert forecast.forecast_13w_total == expected.total_13w
    assert dict(forecast.not_forecast_by_reason) == {
        reason: expected.by_reason[reason] for reason in ("last bucket", "write-off candidate")
    }
    # the back-test: the oracle's own month-ends, every cell
    cells = oracle.backtest(as_of)
    assert list(backtest.month_ends) == oracle_cash.backtest_month_ends(as_of)
    library_cells = {
        (m, w): (f, a, x)
        for m, w, f, a, x in zip(
            backtest.weeks["month_end"],
            backtest.weeks["week"],
            backtest.weeks["forecast"],
            backtest.weeks["actual"],
            backtest.weeks["actual_not_forecast"],
        )
    }
    assert library_cells == cells
    kpis = oracle_cash.forecast_kpis(ledger, as_of, rules)
    assert kpis["forecast_13w_total"] == forecast.forecast_13w_total
    for name, library_value in (
        ("forecast_wape_pct", backtest.forecast_wape_pct),
        ("forecast_bias_pct", backtest.forecast_bias_pct),
    ):
        oracle_value = kpis[name]
        assert (library_value is None) == (oracle_value is None), name
        if library_value is not None and oracle_value is not None:
            assert abs(library_value - oracle_value) < CENT, (name, library_value, oracle_value)
    return expected


def _rule_total(forecast: oracle_cash.Forecast, rule: str) -> Decimal:
    return sum((columns[rule] for columns in forecast.by_rule.values()), ZERO)


DEMO_CASES = {
    "2026-10-31": (dt.date(2026, 10, 31), {}, oracle_cash.Rules()),
    "2026-06-30": (dt.date(2026, 6, 30), {}, oracle_cash.Rules()),
    "2026-10-31, promises forecast": (
        dt.date(2026, 10, 31),
        {"allowance": {"write_off_candidates": {"no_payment_days": 3650}}},
        oracle_cash.Rules(no_payment_days=3650),
    ),
}


@pytest.mark.parametrize("case", list(DEMO_CASES))
def test_demo_ledger_equals_the_oracle(case: str, demo_ledger: Path, tmp_path: Path) -> None:
    as_of, sections, rules = DEMO_CASES[case]
    forecast, backtest = _library(tmp_path, demo_ledger, as_of, **sections)
    expected = _same_as_the_oracle(forecast, backtest, demo_ledger, as_of, rules)
    # the comparison is not vacuous: every column and both reasons hold money, and cash came in
    assert forecast.forecast_13w_total > 0 and forecast.later_total > 0
    for rule in ("customer", "segment_or_book", "disputed"):
        assert _rule_total(expected, rule) > 0, rule
    assert all(expected.by_reason[reason] > 0 for reason in ("last bucket", "write-off candidate"))
    assert sum(backtest.weeks["actual"]) > 0 and sum(backtest.weeks["actual_not_forecast"]) > 0
    # promises: forecast at D only when no_payment_days is lifted; in the back-test months either way
    assert (_rule_total(expected, "promise") > 0) == bool(sections)
    if as_of == dt.date(2026, 10, 31):
        april = oracle_cash.CashOracle(demo_ledger, rules).forecast(dt.date(2026, 4, 30))
        assert _rule_total(april, "promise") == Decimal(1538)


def test_tiny_ledger_with_disputes_equals_the_oracle(tiny_ledger: Path, tmp_path: Path) -> None:
    """The tiny ledger + tiny_disputes at 2026-10-31 (figures by hand in tests/test_forecast.py): I1 600 disputed in
    week 1, I2 500 in week 4 (the book's 9 days), I3 250.50 in the last bucket, I4 756 + I7 216 write-off candidates;
    the oracle gives them, and the library equals the oracle everywhere."""
    for table in ("disputes", "unapplied_cash"):
        shutil.copy(FIXTURES / "tiny_disputes" / f"{table}.csv", tiny_ledger / f"{table}.csv")
    as_of = dt.date(2026, 10, 31)
    expected = oracle_cash.CashOracle(tiny_ledger).forecast(as_of)
    assert (expected.amounts[1], expected.by_rule[1]["disputed"]) == (Decimal(600), Decimal(600))
    assert (expected.amounts[4], expected.by_rule[4]["segment_or_book"]) == (Decimal(500), Decimal(500))
    assert expected.total_13w == Decimal(1100)
    assert dict(expected.by_reason) == {"last bucket": Decimal("250.50"), "write-off candidate": Decimal(972)}
    assert expected.not_forecast == {"I3", "I4", "I7"}
    forecast, backtest = _library(tmp_path, tiny_ledger, as_of)
    _same_as_the_oracle(forecast, backtest, tiny_ledger, as_of, oracle_cash.Rules())


def _csv(folder: Path, name: str, rows: list[str]) -> None:
    (folder / f"{name}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_promise_order_and_item_order_by_hand(tmp_path: Path) -> None:
    """Where the order of promises and of items shows in the weeks (D = 2026-10-31; nothing settled → the book's 0
    days; nothing past due → no write-off candidate).
    K1: X1 300 (due 10-31), X2 200 (due 11-09); Q2 250 due 11-05 (week 1), Q1 400 due 11-20 (week 3). Earliest due_by
    first: Q2 250 on X1 (week 1), Q1 on X1's 50 + X2 200 (week 3), its other 150 beyond K1's items is forecast nowhere.
    (Latest first would give week 3 400, week 1 100.)
    K2: Y1 100 (due 10-31), Y2 100 (due 12-20, week 8); Q3 150 due 11-12 (week 2) on Y1 100 + Y2 50; Y2's other 50 on
    12-20 (week 8). (Newest due first would leave Y1's 50, expected 10-31 ≤ D → week 1.)"""
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    _csv(ledger, "customers", ["customer_id,name", "K1,Kay One", "K2,Kay Two"])
    _csv(
        ledger,
        "invoices",
        [
            "invoice_id,customer_id,invoice_date,due_date,amount",
            "X1,K1,2026-10-01,2026-10-31,300.00",
            "X2,K1,2026-10-10,2026-11-09,200.00",
            "Y1,K2,2026-10-01,2026-10-31,100.00",
            "Y2,K2,2026-10-20,2026-12-20,100.00",
        ],
    )
    _csv(ledger, "payments", ["payment_id,invoice_id,payment_date,amount"])
    _csv(
        ledger,
        "promises",
        [
            "promise_id,customer_id,promised_on,due_by,amount",
            "Q1,K1,2026-10-20,2026-11-20,400.00",
            "Q2,K1,2026-10-25,2026-11-05,250.00",
            "Q3,K2,2026-10-26,2026-11-12,150.00",
        ],
    )
    as_of = dt.date(2026, 10, 31)
    expected = dict.fromkeys([*range(1, 14), "later", "not forecast"], ZERO)
    expected.update({1: Decimal(250), 2: Decimal(150), 3: Decimal(250), 8: Decimal(50)})
    assert oracle_cash.forecast_weeks(ledger, as_of) == expected
    forecast, backtest = _library(tmp_path, ledger, as_of)
    assert dict(zip(forecast.weeks["week"], forecast.weeks["amount"])) == expected
    oracle = _same_as_the_oracle(forecast, backtest, ledger, as_of, oracle_cash.Rules())
    assert (_rule_total(oracle, "promise"), _rule_total(oracle, "segment_or_book")) == (Decimal(650), Decimal(50))


@pytest.mark.parametrize("disputes", [True, False])
def test_hand_ledger_equals_the_oracle_everywhere(disputes: bool, tmp_path: Path) -> None:
    """The hand-checked ledger of tests/test_forecast.py (every rule, a promise pending at a back-test month-end), with
    and without its disputes table: rule columns, reasons and back-test cells too."""
    from test_forecast import hand_ledger

    ledger = hand_ledger(tmp_path / "ledger", disputes=disputes)
    as_of = dt.date(2026, 10, 31)
    forecast, backtest = _library(tmp_path, ledger, as_of)
    oracle = _same_as_the_oracle(forecast, backtest, ledger, as_of, oracle_cash.Rules())
    assert _rule_total(oracle, "promise") == Decimal(1350)  # PR4 250 + PR1 400 + PR2 700
    assert _rule_total(oracle, "disputed") == (Decimal(200) if disputes else ZERO)
