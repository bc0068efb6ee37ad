"""The 13-week cash-collection forecast and its back-test (shared/metrics.md v1.1 § Cash-collection forecast;
collections_mi.metrics.forecast): a hand-checked ledger for every rule, the back-test by hand, and a property on random
ledgers (every row adds up to ar_total exactly, and the library equals the independent oracle, tests/oracle_cash.py,
which shares no code with the library). The library against the oracle on the demo ledger: tests/test_oracle_cash.py."""

from __future__ import annotations

import datetime as dt
import decimal
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import given

import oracle_cash
from collections_mi.config.params import load_params
from collections_mi.metrics.aging import compute_aging
from collections_mi.metrics.allowance import write_off_candidates
from collections_mi.metrics.book import open_book
from collections_mi.metrics.forecast import (
    Backtest,
    CashForecast,
    backtest_month_ends,
    cash_forecast,
    forecast_backtest,
    forecast_inputs,
    holding_items,
    placed,
)
from collections_mi.sources.ledger import open_ledger
from test_properties import Tiny, profile, tiny_ledgers

from conftest import FIXTURES, write_params

D = Decimal
AS_OF = dt.date(2026, 10, 31)


def _write(folder: Path, name: str, header: str, rows) -> None:
    lines = [header] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _compute(tmp_path: Path, ledger: Path, as_of: str = "2026-10-31", **sections):
    params_path = write_params(tmp_path, ledger, as_of=as_of, name="forecast.yaml", **sections)
    params = load_params(params_path)
    source = open_ledger(params, params_path)
    try:
        # as the cash section computes them: inputs gathered once for D and the back-test month-ends, their open items
        # held in the engine for both (the oracle tests on the demo, tests/test_oracle_cash.py, call each with its own
        # inputs, computed from the expressions)
        with open_book(source, params) as book, holding_items(forecast_inputs(book, params)) as inputs:
            assert inputs.held
            return (
                cash_forecast(book, params, inputs),
                forecast_backtest(book, params, inputs),
                compute_aging(book, params),
            )
    finally:
        disconnect = getattr(source.backend, "disconnect", None)
        if disconnect:
            disconnect()


def _weeks(forecast: CashForecast) -> dict[object, Decimal]:
    return dict(zip(forecast.weeks["week"], forecast.weeks["amount"]))


def _row(forecast: CashForecast, week: object) -> dict[str, object]:
    rows = forecast.weeks.loc[forecast.weeks["week"] == week]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


# ------------------------------------------------------------------ the hand-checked ledger

# D = 2026-10-31; the 12 months to D = 2025-11-01 .. 2026-10-31; week k = D+7(k−1)+1 .. D+7k: week 1 = 11-01..11-07,
# week 2 = 11-08..11-14, week 4 = 11-22..11-28, week 6 = 12-06..12-12, week 7 = 12-13..12-19, week 13 ends 2027-01-30.
# Write-off candidate rules (defaults): ≥ 180 days past due, or past due with no customer payment since D − 120 =
# 2026-07-03, or disputed and ≥ 90 days past due. Last bucket: 120+ days past due.
CUSTOMERS = [
    # customer_id, name, segment
    ("K1", "Kay One", "Ent"),
    ("K2", "Kay Two", "Ent"),
    ("K3", "Kay Three", "SMB"),
    ("K4", "Kay Four", ""),
    ("K5", "Kay Five", "Pub"),
    ("K7", "Kay Seven", ""),
    ("K8", "Kay Eight", ""),
]
INVOICES = [
    # invoice_id, customer_id, invoice_date, due_date, amount, currency
    # settled in the 12 months (amount × days beyond terms):
    #   K1: S1 +10 × 1,000, S2 +10 × 1,000, S3 +5 × 2,000 → 30,000 / 4,000 = 7.5 → rounded half up 8 days (3 invoices)
    #   K2: S4 +30 × 1,000 → 1 invoice → segment Ent: (30,000 + 30,000) / 5,000 = 12 days (4 invoices)
    #   K5: S5 −10 × 1,000, S6 −10 × 1,000 → 2 invoices; segment Pub has only those 2 → the book's figure:
    #       (30,000 + 30,000 − 10,000 − 10,000) / 7,000 = 5.714… → 6 days
    #   S0 settled 2025-09-15, before the 12 months: counts nowhere
    ("S0", "K1", "2025-08-01", "2025-08-31", "5000.00", "USD"),
    ("S1", "K1", "2026-07-01", "2026-07-31", "1000.00", "USD"),
    ("S2", "K1", "2026-08-01", "2026-08-31", "1000.00", "USD"),
    ("S3", "K1", "2026-09-01", "2026-09-30", "2000.00", "USD"),
    ("S4", "K2", "2026-06-01", "2026-06-30", "1000.00", "USD"),
    ("S5", "K5", "2026-05-01", "2026-05-31", "1000.00", "USD"),
    ("S6", "K5", "2026-06-01", "2026-06-30", "1000.00", "USD"),
    # K1 (own 8 days): A1 due 10-20 → 10-28 ≤ D → D+1 = 11-01, week 1; A2 due 11-30 → 12-08, week 6;
    #   A3 due 2027-01-25 → 02-02, after week 13 → later; A4 disputed: due 11-10 + 8 + 25 (days to resolve) = 12-13,
    #   week 7 (first day); A5 due 06-01 → 152 days past due → 120+ → not forecast (not a candidate: < 180 days,
    #   K1 paid on 10-05)
    ("A1", "K1", "2026-09-20", "2026-10-20", "600.00", "USD"),
    ("A2", "K1", "2026-10-31", "2026-11-30", "500.00", "USD"),
    ("A3", "K1", "2026-10-26", "2027-01-25", "700.00", "USD"),
    ("A4", "K1", "2026-10-01", "2026-11-10", "200.00", "USD"),
    ("A5", "K1", "2026-02-01", "2026-06-01", "900.00", "USD"),
    # K2 (segment Ent, 12 days): B1 due 11-15 → 11-27, week 4
    ("B1", "K2", "2026-10-16", "2026-11-15", "1000.00", "USD"),
    # K3 (segment SMB has nothing settled → book, 6 days): C1 EUR 400 × 1.25 (rate of 10-30) = 500, due 11-01 →
    #   11-07, week 1 (last day)
    ("C1", "K3", "2026-10-02", "2026-11-01", "400.00", "EUR"),
    # K4 (no segment → book, 6 days): F1 400 − 100 paid = 300 due 09-30, F2 600 due 10-15, F3 500 due 11-20
    ("F1", "K4", "2026-08-31", "2026-09-30", "400.00", "USD"),
    ("F2", "K4", "2026-09-15", "2026-10-15", "600.00", "USD"),
    ("F3", "K4", "2026-10-21", "2026-11-20", "500.00", "USD"),
    # K5 (Pub has 2 settled → book, 6 days): E1 due 11-02 → 11-08, week 2 (first day)
    ("E1", "K5", "2026-10-03", "2026-11-02", "300.00", "USD"),
    # K7: G1 250 due 11-30, promise PR4 of 1,000 due 11-03 → 250 on 11-03 (week 1), the 750 beyond its items capped
    ("G1", "K7", "2026-10-31", "2026-11-30", "250.00", "USD"),
    # K8: H1 due 09-01 (60 days past due, bucket 31-60), K8 never paid → write-off candidate → not forecast
    ("H1", "K8", "2026-08-02", "2026-09-01", "350.00", "USD"),
]
PAYMENTS = [
    ("P0", "S0", "2025-09-15", "5000.00"),
    ("P1", "S1", "2026-08-10", "1000.00"),
    ("P2", "S2", "2026-09-10", "1000.00"),
    ("P3", "S3", "2026-10-05", "2000.00"),
    ("P4", "S4", "2026-07-30", "1000.00"),
    ("P5", "S5", "2026-05-21", "1000.00"),
    ("P6", "S6", "2026-06-20", "1000.00"),
    ("P7", "F1", "2026-10-20", "100.00"),
    # after D: ignored by the forecast at D
    ("P8", "A1", "2026-11-03", "600.00"),
]
PROMISES = [
    # K4: PR1 500 made 10-15, due 11-12: K4 paid 100 on 10-20 inside [10-15, 11-12] → pending, 400 still owed →
    #   F1 (oldest due) 300 + F2 100 on 11-12 (week 2);
    # PR2 700 due 2027-03-01 → F2's other 500 + F3 200 → later; F3's last 300 by behaviour: 11-20 + 6 = 11-26 (week 4);
    # PR3 100 made 10-18, due 11-30: the 100 paid on 10-20 keeps it → not applied;
    # PR5 due 10-31 = D: not pending after D → not applied; PR6 made 11-02, after D → not applied
    ("PR1", "K4", "2026-10-15", "2026-11-12", "500.00"),
    ("PR2", "K4", "2026-10-28", "2027-03-01", "700.00"),
    ("PR3", "K4", "2026-10-18", "2026-11-30", "100.00"),
    ("PR4", "K7", "2026-10-30", "2026-11-03", "1000.00"),
    ("PR5", "K3", "2026-10-01", "2026-10-31", "400.00"),
    ("PR6", "K1", "2026-11-02", "2026-11-20", "600.00"),
    # PR7 150 made 09-20, due 10-12: nothing paid in [09-20, 10-12] → broken at D (not applied); pending at 09-30 (the
    # back-test): 150 of F1 on 10-12
    ("PR7", "K4", "2026-09-20", "2026-10-12", "150.00"),
]
DISPUTES = [
    # resolved in the 12 months: 20 and 30 days → mean 25; D4 resolved 2025-10-15, before them: not counted
    ("D1", "A4", "2026-10-01", "", "pricing"),
    ("D2", "A5", "2026-03-01", "2026-03-21", "quality"),
    ("D3", "A5", "2026-05-01", "2026-05-31", "quality"),
    ("D4", "S0", "2025-09-01", "2025-10-15", "pricing"),
]


def hand_ledger(folder: Path, disputes: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder, "customers", "customer_id,name,segment", CUSTOMERS)
    _write(folder, "invoices", "invoice_id,customer_id,invoice_date,due_date,amount,currency", INVOICES)
    _write(folder, "payments", "payment_id,invoice_id,payment_date,amount", PAYMENTS)
    _write(folder, "promises", "promise_id,customer_id,promised_on,due_by,amount", PROMISES)
    _write(
        folder, "fx_rates", "rate_date,currency,rate", [("2026-01-01", "EUR", "1.10"), ("2026-10-30", "EUR", "1.25")]
    )
    if disputes:
        _write(folder, "disputes", "dispute_id,invoice_id,opened_on,resolved_on,reason", DISPUTES)
    return folder


def test_every_rule_by_hand(tmp_path: Path) -> None:
    forecast, _, aging = _compute(tmp_path, hand_ledger(tmp_path / "ledger"))
    # week 1: A1 600 (customer) + C1 500 (book) + G1 250 (promise PR4) = 1,350
    assert _row(forecast, 1) == {
        "week": 1,
        "week_start": dt.date(2026, 11, 1),
        "week_end": dt.date(2026, 11, 7),
        "amount": D(1350),
        "promise": D(250),
        "customer": D(600),
        "segment_or_book": D(500),
        "disputed": D(0),
    }
    # week 2: PR1 400 (F1 300 + F2 100) + E1 300 (book)
    assert (_row(forecast, 2)["amount"], _row(forecast, 2)["promise"], _row(forecast, 2)["segment_or_book"]) == (
        D(700),
        D(400),
        D(300),
    )
    # week 4: B1 1,000 (segment Ent) + F3's 300 left after PR2 (book)
    assert (_row(forecast, 4)["amount"], _row(forecast, 4)["segment_or_book"]) == (D(1300), D(1300))
    assert (_row(forecast, 6)["amount"], _row(forecast, 6)["customer"]) == (D(500), D(500))  # A2
    assert (_row(forecast, 7)["amount"], _row(forecast, 7)["disputed"]) == (D(200), D(200))  # A4
    # later: A3 700 (customer) + PR2 700 (F2 500 + F3 200); not forecast: A5 900 (last bucket) + H1 350 (candidate)
    later = _row(forecast, "later")
    assert (later["week_start"], later["week_end"], later["amount"], later["promise"], later["customer"]) == (
        dt.date(2027, 1, 31),
        None,
        D(1400),
        D(700),
        D(700),
    )
    assert _row(forecast, "not forecast")["amount"] == D(1250)
    assert forecast.not_forecast_by_reason == {"last bucket": D(900), "write-off candidate": D(350)}
    weeks = _weeks(forecast)
    assert [weeks[k] for k in (3, 5, 8, 9, 10, 11, 12, 13)] == [D(0)] * 8
    assert list(forecast.weeks["week"]) == [*range(1, 14), "later", "not forecast"]
    # Σ weeks 1–13 = 1,350 + 700 + 1,300 + 500 + 200 = 4,050; with later and not forecast = AR 6,700
    assert forecast.forecast_13w_total == D(4050)
    assert sum(forecast.weeks["amount"]) == aging.kpis.ar_total == D(6700)
    # the columns of every row partition its amount
    for _, row in forecast.weeks.iloc[:-1].iterrows():
        assert row["amount"] == row["promise"] + row["customer"] + row["segment_or_book"] + row["disputed"]
    # the library divides to 28 significant digits (core.money.ratio)
    assert forecast.book_dbt_weighted == decimal.Context(prec=28).divide(D(40000), D(7000))
    assert forecast.book_dbt_days == 6
    assert (forecast.dispute_days_to_resolve, forecast.dispute_days) == (D(25), 25)
    # per customer, largest in weeks 1–13 first: K1 600 + 500 + 200; K2 1,000; K4 400 + 300; K3 500; K5 300; K7 250
    customers = forecast.customers
    assert list(customers["customer_id"]) == ["K1", "K2", "K4", "K3", "K5", "K7", "K8"]
    assert list(customers["amount"]) == [D(1300), D(1000), D(700), D(500), D(300), D(250), D(0)]
    assert list(customers["dbt_days"]) == [8, 12, 6, 6, 6, 6, 6]
    assert list(customers["dbt_basis"]) == ["customer", "segment", "book", "book", "book", "book", "book"]
    k1 = customers.iloc[0]
    assert (k1["name"], k1["customer"], k1["disputed"], k1["later"], k1["not_forecast"]) == (
        "Kay One",
        D(1100),
        D(200),
        D(700),
        D(900),
    )
    # the promise lines: oldest due first, the item split between two promises, the rest by behaviour
    lines = forecast.lines
    k4 = lines[lines["customer_id"] == "K4"]
    assert [(r.invoice_id, r.rule, r.promise_id, r.expected_on, r.amount) for r in k4.itertuples()] == [
        ("F1", "promise", "PR1", dt.date(2026, 11, 12), D(300)),
        ("F2", "promise", "PR1", dt.date(2026, 11, 12), D(100)),
        ("F2", "promise", "PR2", dt.date(2027, 3, 1), D(500)),
        ("F3", "promise", "PR2", dt.date(2027, 3, 1), D(200)),
        ("F3", "segment_or_book", None, dt.date(2026, 11, 26), D(300)),
    ]


def test_without_a_disputes_table_disputed_items_are_not_shifted(tmp_path: Path) -> None:
    # no disputes table: A4 is not disputed (no invoices.disputed column) → K1's 8 days: 11-10 + 8 = 11-18, week 3
    # (customer); nothing in the disputed column, and 0 days to resolve
    forecast, _, _ = _compute(tmp_path, hand_ledger(tmp_path / "ledger", disputes=False))
    assert (_row(forecast, 3)["amount"], _row(forecast, 3)["customer"]) == (D(200), D(200))
    assert _row(forecast, 7)["amount"] == D(0)
    assert sum(forecast.weeks["disputed"].iloc[:-1]) == D(0)
    assert (forecast.dispute_days_to_resolve, forecast.dispute_days) == (None, 0)


def test_a_disputed_flag_without_the_table_adds_zero_days(tmp_path: Path) -> None:
    # invoices.disputed true on A4 and no disputes table: disputed column, shift 0 → 11-18, week 3
    ledger = hand_ledger(tmp_path / "ledger", disputes=False)
    rows = [(*row, "true" if row[0] == "A4" else "false") for row in INVOICES]
    _write(ledger, "invoices", "invoice_id,customer_id,invoice_date,due_date,amount,currency,disputed", rows)
    forecast, _, _ = _compute(tmp_path, ledger)
    assert (_row(forecast, 3)["amount"], _row(forecast, 3)["disputed"]) == (D(200), D(200))


def test_tiny_ledger_with_disputes_by_hand(tiny_ledger: Path, tmp_path: Path) -> None:
    """tests/fixtures/tiny_ledger + tiny_disputes at 2026-10-31. Open: I1 600 (due 08-31), I2 500 (due 11-14), I3 250.50
    (153 days past due → 120+), I4 EUR 700 × 1.08 = 756 and I7 EUR 200 × 1.08 = 216 (C3 has no payment dated ≤ D and
    both are past due → write-off candidates, as the allowance's write-off candidate list says).
    Disputed at D: I1 (D1 open); I2's D3 resolved on 10-31 = D → not disputed. Settled in the 12 months: only I5 (paid
    10-10, due 10-01: +9) → everyone takes the book's 9 days. Resolved in the 12 months: D3 11, D4 44, D6 35 days →
    mean 30. I1: 08-31 + 9 + 30 = 10-09 ≤ D → 11-01, week 1 (disputed); I2: 11-14 + 9 = 11-23, week 4."""
    for table in ("disputes", "unapplied_cash"):
        shutil.copy(FIXTURES / "tiny_disputes" / f"{table}.csv", tiny_ledger / f"{table}.csv")
    params_path = write_params(tmp_path, tiny_ledger)
    params = load_params(params_path)
    with open_book(open_ledger(params, params_path), params) as book:
        forecast = cash_forecast(book, params)
        candidates = write_off_candidates(book, params.aging, params.allowance.write_off_candidates)
    assert (_row(forecast, 1)["amount"], _row(forecast, 1)["disputed"]) == (D(600), D(600))
    assert (_row(forecast, 4)["amount"], _row(forecast, 4)["segment_or_book"]) == (D(500), D(500))
    assert forecast.forecast_13w_total == D(1100) and forecast.later_total == D(0)
    assert forecast.not_forecast_by_reason == {"last bucket": D("250.50"), "write-off candidate": D(972)}
    assert (forecast.book_dbt_days, forecast.dispute_days_to_resolve, forecast.dispute_days) == (9, D(30), 30)
    lines = forecast.lines
    assert (
        sorted(lines.loc[lines["reason"] == "write-off candidate", "invoice_id"])
        == sorted(candidates.loc[candidates["bucket"] != "120+", "invoice_id"])
        == ["I4", "I7"]
    )


def test_placing_an_expected_date() -> None:
    assert placed(AS_OF, dt.date(2026, 10, 31)) == (dt.date(2026, 11, 1), 1)  # ≤ D → D + 1
    assert placed(AS_OF, dt.date(2026, 1, 1)) == (dt.date(2026, 11, 1), 1)
    assert placed(AS_OF, dt.date(2026, 11, 7)) == (dt.date(2026, 11, 7), 1)
    assert placed(AS_OF, dt.date(2026, 11, 8)) == (dt.date(2026, 11, 8), 2)
    assert placed(AS_OF, dt.date(2027, 1, 30)) == (dt.date(2027, 1, 30), 13)  # D + 91
    assert placed(AS_OF, dt.date(2027, 1, 31)) == (dt.date(2027, 1, 31), "later")


def test_backtest_month_ends() -> None:
    # m + 28 days ≤ D: at 10-31 September counts (10-28); at 10-27 it does not
    assert backtest_month_ends(AS_OF) == [
        dt.date(2026, m, d) for m, d in ((4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30))
    ]
    assert backtest_month_ends(dt.date(2026, 10, 27))[-1] == dt.date(2026, 8, 31)
    # the oracle's own month-ends agree, also across a year end and on a day that is not a month-end
    for as_of in (AS_OF, dt.date(2026, 10, 27), dt.date(2026, 1, 28), dt.date(2026, 1, 29), dt.date(2027, 3, 1)):
        assert oracle_cash.backtest_month_ends(as_of) == backtest_month_ends(as_of)
    assert oracle_cash.backtest_month_ends(dt.date(2026, 1, 28)) == [
        dt.date(2025, m, d) for m, d in ((7, 31), (8, 31), (9, 30), (10, 31), (11, 30), (12, 31))
    ]


def test_backtest_by_hand(tmp_path: Path) -> None:
    """The forecast as of 2026-09-30 on the hand ledger (only rows dated ≤ 09-30), weeks 1–4 = 10-01..10-07,
    10-08..10-14, 10-15..10-21, 10-22..10-28, against the payments dated then on the items open at 09-30.

    Open at 09-30: S3 2,000 (K1, due 09-30; paid 10-05), A5 900 (K1, 121 days past due → 120+, not forecast), A1 600
    (K1, due 10-20), F1 400 (K4, due 09-30; 100 paid 10-20), F2 600 (K4, due 10-15), H1 350 (K8, due 09-01; K8 never
    paid → write-off candidate). The 12 months to 09-30 (2025-10-01 .. 2026-09-30) hold S1 +10, S2 +10 (K1: only 2
    invoices), S4 +30 (K2), S5 −10, S6 −10 (K5); S0 (settled 2025-09-15) is outside. K1 → segment Ent (S1, S2, S4:
    (10,000 + 10,000 + 30,000) / 3,000 = 16.67 → 17 days); K4 (no segment) → book ((10,000 + 10,000 + 30,000 −
    10,000 − 10,000) / 5,000 = 6 days). No dispute open at 09-30 on an open item. Promises made by 09-30: PR7 only
    (pending then: due 10-12, nothing paid), 150 on K4's oldest due item F1.
      K1 (segment Ent, 17 days): S3 09-30 + 17 = 10-17 (week 3) 2,000; A1 10-20 + 17 = 11-06 (after week 4) 600
      K4 (book 6): F1 150 on PR7's 10-12 (week 2), its other 250 on 09-30 + 6 = 10-06 (week 1); F2 10-15 + 6 = 10-21
      (week 3) 600
    Forecast weeks 1–4: 250, 150, 2,600, 0. Actual: P3 2,000 on S3 10-05 (week 1), P7 100 on F1 10-20 (week 3) →
    2,000, 0, 100, 0. Errors 250 − 2,000 = −1,750, 150, 2,500, 0."""
    _, backtest, _ = _compute(tmp_path, hand_ledger(tmp_path / "ledger"))
    september = backtest.weeks[backtest.weeks["month_end"] == dt.date(2026, 9, 30)]
    assert list(september["forecast"]) == [D(250), D(150), D(2600), D(0)]
    assert list(september["actual"]) == [D(2000), D(0), D(100), D(0)]
    assert list(september["error"]) == [D(-1750), D(150), D(2500), D(0)]
    assert list(september["week_start"]) == [dt.date(2026, 10, d) for d in (1, 8, 15, 22)]
    assert backtest.month_ends == tuple(backtest_month_ends(AS_OF))
    expected = oracle_cash.backtest_cells(tmp_path / "ledger", AS_OF)
    assert _backtest_cells(backtest) == expected
    actual_total = sum(a for _, a in expected.values())
    errors = [f - a for f, a in expected.values()]
    # Σ|error| / Σ actual × 100 and Σ error / Σ actual × 100, divided to 28 digits as core.money.ratio does
    ratio = decimal.Context(prec=28).divide
    assert backtest.forecast_wape_pct == ratio(sum(abs(e) for e in errors), actual_total) * 100
    assert backtest.forecast_bias_pct == ratio(sum(errors), actual_total) * 100
    # by hand for September alone: |−1,750| + |150| + |2,500| = 4,400 over 2,100 received
    september_row = backtest.months[backtest.months["month_end"] == dt.date(2026, 9, 30)].iloc[0]
    assert (september_row["forecast"], september_row["actual"], september_row["abs_error"]) == (
        D(3000),
        D(2100),
        D(4400),
    )


def _backtest_cells(backtest: Backtest) -> dict[tuple[dt.date, int], tuple[Decimal, Decimal]]:
    return {
        (m, w): (f, a)
        for m, w, f, a in zip(
            backtest.weeks["month_end"], backtest.weeks["week"], backtest.weeks["forecast"], backtest.weeks["actual"]
        )
    }


# ------------------------------------------------------------------ the independent oracle (tests/oracle_cash.py)


def test_hand_ledger_equals_the_oracle(tmp_path: Path) -> None:
    forecast, _, _ = _compute(tmp_path, hand_ledger(tmp_path / "ledger"))
    assert _weeks(forecast) == oracle_cash.forecast_weeks(tmp_path / "ledger", AS_OF)


@profile(8)
@given(tiny_ledgers())
def test_rows_add_up_to_ar_total_and_equal_the_oracle(tiny: Tiny) -> None:
    """On random ledgers (a second currency at times): weeks 1–13 + later + not forecast = ar_total exactly; the
    forecast and the back-test equal the independent oracle (tests/oracle_cash.py)."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ledger = tiny.write(root / "ledger")
        forecast, backtest, aging = _compute(root, ledger)
        assert sum(forecast.weeks["amount"]) == aging.kpis.ar_total
        assert forecast.forecast_13w_total == sum(forecast.weeks["amount"].iloc[:13])
        assert _weeks(forecast) == oracle_cash.forecast_weeks(ledger, AS_OF)
        assert _backtest_cells(backtest) == oracle_cash.backtest_cells(ledger, AS_OF)
