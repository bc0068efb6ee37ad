"""The 13-week cash-collection forecast and its back-test (shared/metrics.md v1.1 § Cash-collection forecast;
collections_mi.metrics.forecast): a hand-checked ledger for every rule, an independent as-of rebuild of the forecast
and the back-test in plain Python over the CSV rows, and a property on random ledgers (every row adds up to
ar_total exactly, and the library equals the plain-Python rebuild)."""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import shutil
import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from hypothesis import given

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
        with open_book(source, params) as book:
            return cash_forecast(book, params), forecast_backtest(book, params), compute_aging(book, params)
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
    expected = rebuild_backtest(tmp_path / "ledger", AS_OF)
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


# ------------------------------------------------------------------ the forecast rebuilt from the CSV rows

LAST_BUCKET_DAYS, CANDIDATE_DAYS, SILENT_DAYS, DISPUTE_DAYS = 120, 180, 120, 90  # params defaults


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    path = folder / f"{name}.csv"
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))


class Rebuilt:
    """The forecast as of any date, from the CSV rows in plain Python (only rows dated ≤ that date count)."""

    def __init__(self, folder: Path) -> None:
        self.invoices = {r["invoice_id"]: r for r in _rows(folder, "invoices")}
        self.customers = {r["customer_id"]: r for r in _rows(folder, "customers")}
        self.payments = _rows(folder, "payments")
        self.adjustments = _rows(folder, "adjustments")
        self.promises = _rows(folder, "promises")
        self.disputes = _rows(folder, "disputes") if (folder / "disputes.csv").is_file() else None
        self.rates: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
        for r in _rows(folder, "fx_rates"):
            self.rates[r["currency"]].append((_day(r["rate_date"]), D(r["rate"])))

    def currency(self, invoice: dict[str, str]) -> str:
        return (invoice.get("currency") or "USD").upper()

    def rate(self, currency: str, on: dt.date) -> Decimal:
        if currency == "USD":
            return D(1)
        return max((d, r) for d, r in self.rates[currency] if d <= on)[1]

    def reductions(self, invoice_id: str, kinds=("payment", "credit_note", "discount", "write_off")):
        events = [
            (_day(p["payment_date"]), "payment", D(p["amount"])) for p in self.payments if p["invoice_id"] == invoice_id
        ]
        events += [
            (_day(a["adjustment_date"]), a["kind"], D(a["amount"]))
            for a in self.adjustments
            if a["invoice_id"] == invoice_id and a["kind"] in kinds
        ]
        return sorted(events)

    def balance(self, invoice_id: str, on: dt.date) -> Decimal:
        invoice = self.invoices[invoice_id]
        return D(invoice["amount"]) - sum((a for d, _, a in self.reductions(invoice_id) if d <= on), D(0))

    def open_at(self, on: dt.date) -> list[str]:
        return [i for i, r in self.invoices.items() if _day(r["invoice_date"]) <= on and self.balance(i, on) > 0]

    def disputed(self, invoice_id: str, on: dt.date) -> bool:
        if self.disputes is None:
            return self.invoices[invoice_id].get("disputed", "").lower() == "true"
        return any(
            d["invoice_id"] == invoice_id
            and _day(d["opened_on"]) <= on
            and (not d["resolved_on"] or _day(d["resolved_on"]) > on)
            for d in self.disputes
        )

    def last_payment(self, customer: str, on: dt.date) -> dt.date | None:
        days = [
            _day(p["payment_date"])
            for p in self.payments
            if self.invoices[p["invoice_id"]]["customer_id"] == customer and _day(p["payment_date"]) <= on
        ]
        return max(days) if days else None

    def window_start(self, on: dt.date) -> dt.date:
        index = on.year * 12 + on.month - 1 - 11
        return dt.date(index // 12, index % 12 + 1, 1)

    def settled(self, on: dt.date) -> list[tuple[str, Decimal, int]]:
        """(customer, amount at the invoice date's rate, settlement − due) of invoices settled in the 12 months."""
        out = []
        for invoice_id, invoice in self.invoices.items():
            amount, running, closed = D(invoice["amount"]), D(0), None
            events = self.reductions(invoice_id, ("payment", "credit_note", "discount"))
            for day in sorted({d for d, _, _ in events}):
                running += sum((a for d, _, a in events if d == day), D(0))
                if running >= amount:
                    closed = day
                    break
            if closed is None or closed > on:
                continue
            write_offs = [d for d, kind, _ in self.reductions(invoice_id) if kind == "write_off"]
            if write_offs and min(write_offs) <= closed:
                continue
            settled_on = max(closed, _day(invoice["invoice_date"]))
            if self.window_start(on) <= settled_on <= on:
                rate = self.rate(self.currency(invoice), _day(invoice["invoice_date"]))
                out.append((invoice["customer_id"], amount * rate, (settled_on - _day(invoice["due_date"])).days))
        return out

    def dbt_days(self, on: dt.date) -> dict[str, tuple[int, str]]:
        settled = self.settled(on)

        def figure(rows) -> int | None:
            if len(rows) < 3:
                return None
            return _half_up(sum(a * d for _, a, d in rows) / sum(a for _, a, _ in rows))

        book = _half_up(sum(a * d for _, a, d in settled) / sum(a for _, a, _ in settled)) if settled else 0
        days = {}
        for customer in {r["customer_id"] for r in self.invoices.values()}:
            own = figure([r for r in settled if r[0] == customer])
            segment = (self.customers.get(customer) or {}).get("segment") or None
            seg = (
                None
                if segment is None
                else figure([r for r in settled if (self.customers.get(r[0]) or {}).get("segment") == segment])
            )
            days[customer] = (
                (own, "customer") if own is not None else (seg, "segment") if seg is not None else (book, "book")
            )
        return days

    def resolve_days(self, on: dt.date) -> int:
        if self.disputes is None:
            return 0
        days = [
            (_day(d["resolved_on"]) - _day(d["opened_on"])).days
            for d in self.disputes
            if d["resolved_on"] and self.window_start(on) <= _day(d["resolved_on"]) <= on
        ]
        return _half_up(D(sum(days)) / len(days)) if days else 0

    def forecast(self, on: dt.date) -> dict[object, Decimal]:
        """Amount per week 1–13, 'later' and 'not forecast'."""
        weeks: dict[object, Decimal] = defaultdict(Decimal)
        days, resolve = self.dbt_days(on), self.resolve_days(on)

        def place(expected: dt.date, amount: Decimal) -> None:
            expected = max(expected, on + dt.timedelta(days=1))
            week = ((expected - on).days - 1) // 7 + 1
            weeks[week if week <= 13 else "later"] += amount

        left: dict[str, list[list]] = defaultdict(list)  # customer → [due, invoice_id, amount left, disputed]
        for invoice_id in sorted(
            self.open_at(on), key=lambda i: (self.invoices[i]["due_date"], self.invoices[i]["invoice_date"], i)
        ):
            invoice = self.invoices[invoice_id]
            customer, due = invoice["customer_id"], _day(invoice["due_date"])
            amount = self.balance(invoice_id, on) * self.rate(self.currency(invoice), on)
            late, disputed, last = (on - due).days, self.disputed(invoice_id, on), self.last_payment(customer, on)
            silent = last is None or last < on - dt.timedelta(days=SILENT_DAYS)
            candidate = late >= CANDIDATE_DAYS or (silent and late > 0) or (disputed and late >= DISPUTE_DAYS)
            if late > LAST_BUCKET_DAYS or candidate:
                weeks["not forecast"] += amount
            else:
                left[customer].append([due, invoice_id, amount, disputed])
        pending = []
        for p in self.promises:
            made, due_by = _day(p["promised_on"]), _day(p["due_by"])
            if made > on or due_by <= on:
                continue
            paid = sum(
                (
                    D(q["amount"]) * self.rate(self.currency(self.invoices[q["invoice_id"]]), _day(q["payment_date"]))
                    for q in self.payments
                    if self.invoices[q["invoice_id"]]["customer_id"] == p["customer_id"]
                    and made <= _day(q["payment_date"]) <= min(due_by, on)
                ),
                D(0),
            )
            if paid < D(p["amount"]):
                pending.append((due_by, p["promise_id"], p["customer_id"], D(p["amount"]) - paid))
        for due_by, _, customer, owed in sorted(pending):
            for item in left[customer]:
                take = min(owed, item[2])
                if take > 0:
                    place(due_by, take)
                    item[2] -= take
                    owed -= take
        for customer, items in left.items():
            shift = days[customer][0]
            for due, _, amount, disputed in items:
                if amount > 0:
                    place(due + dt.timedelta(days=shift + (resolve if disputed else 0)), amount)
        return weeks

    def received(self, month_end: dt.date) -> dict[int, Decimal]:
        """Payments in weeks 1–4 after month_end on the invoices open then, at month_end's rate."""
        open_then = set(self.open_at(month_end))
        weeks: dict[int, Decimal] = defaultdict(Decimal)
        for p in self.payments:
            day = _day(p["payment_date"])
            if p["invoice_id"] in open_then and month_end < day <= month_end + dt.timedelta(days=28):
                rate = self.rate(self.currency(self.invoices[p["invoice_id"]]), month_end)
                weeks[((day - month_end).days - 1) // 7 + 1] += D(p["amount"]) * rate
        return weeks


def rebuild_backtest(folder: Path, as_of: dt.date) -> dict[tuple[dt.date, int], tuple[Decimal, Decimal]]:
    rebuilt = Rebuilt(folder)
    cells = {}
    for month_end in backtest_month_ends(as_of):
        forecast, received = rebuilt.forecast(month_end), rebuilt.received(month_end)
        for week in range(1, 5):
            cells[(month_end, week)] = (forecast.get(week, D(0)), received.get(week, D(0)))
    return cells


def test_hand_ledger_equals_the_rebuild(tmp_path: Path) -> None:
    forecast, _, _ = _compute(tmp_path, hand_ledger(tmp_path / "ledger"))
    rebuilt = Rebuilt(tmp_path / "ledger").forecast(AS_OF)
    assert {k: v for k, v in _weeks(forecast).items() if v} == {k: v for k, v in rebuilt.items() if v}


@profile(8)
@given(tiny_ledgers())
def test_rows_add_up_to_ar_total_and_equal_the_rebuild(tiny: Tiny) -> None:
    """On random ledgers (a second currency at times): weeks 1–13 + later + not forecast = ar_total exactly; the
    forecast and the back-test equal the plain-Python rebuild."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ledger = tiny.write(root / "ledger")
        forecast, backtest, aging = _compute(root, ledger)
        assert sum(forecast.weeks["amount"]) == aging.kpis.ar_total
        assert forecast.forecast_13w_total == sum(forecast.weeks["amount"].iloc[:13])
        rebuilt = Rebuilt(ledger)
        assert {k: v for k, v in _weeks(forecast).items() if v} == {
            k: v for k, v in rebuilt.forecast(AS_OF).items() if v
        }
        assert _backtest_cells(backtest) == rebuild_backtest(ledger, AS_OF)
