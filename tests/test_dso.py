"""DSO family (shared/metrics.md § Days sales outstanding family): published worked examples, small ledgers built to
reproduce them through the whole engine, and an independent oracle (tests/oracle.py) on a generated ledger."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from collections_mi.config.params import load_params
from collections_mi.metrics.book import open_book
from collections_mi.metrics.dso import compute_dso
from collections_mi.metrics.dso_formulas import (
    KPI_IDS,
    SECTION_KPI_IDS,
    collection_effectiveness,
    countback_dso,
    days_sales_outstanding,
    dso_window,
)
from collections_mi.sources.ledger import open_ledger

from conftest import write_params
from oracle import Ledger as OracleLedger
from oracle import credit_sales as oracle_credit_sales
from oracle import day as oracle_day
from oracle import dso_family

D = Decimal
Q = Decimal("1e-12")


def close(a: Decimal | None, b: Decimal | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.quantize(Q) == b.quantize(Q)


# ------------------------------------------------------------------ published worked examples, pure definitions


def test_creditguru_dso_bpdso_add() -> None:
    """CreditGuru, "Ratio – Average Days Delinquent (ADD)" (creditguru.com, collection metrics): total AR $15,000,
    current $4,000, credit sales $10,000 in a 30-day period → DSO 45, BPDSO 12, ADD 33."""
    dso = days_sales_outstanding(D(15000), D(10000), 30)
    bpdso = days_sales_outstanding(D(4000), D(10000), 30)
    assert (dso, bpdso, dso - bpdso) == (D(45), D(12), D(33))


def test_yaypay_add_example() -> None:
    """YayPay blog, "What is Average Days Delinquent?": AR $25,000, current $6,000, 30-day sales $15,000 →
    DSO 50, best DSO 12, ADD 38."""
    assert days_sales_outstanding(D(25000), D(15000), 30) == D(50)
    assert days_sales_outstanding(D(6000), D(15000), 30) == D(12)


def test_countback_anaplan_community_example() -> None:
    """Anaplan Community, "Count back for turnover" (Dec 2019): AR at end of Jan 2,000; revenue Jan 200, Dec 400,
    Nov 600, Oct 700, Sep 500 → 31 + 31 + 30 + 31 + 6 = 129 days (actual calendar days)."""
    months = [(D(200), 31), (D(400), 31), (D(600), 30), (D(700), 31), (D(500), 30)]
    assert countback_dso(D(2000), months) == D(129)


def test_countback_thirty_day_months_benji_pays_example() -> None:
    """Benji Pays, "Mastering DSO Calculation: The Count-Back Method Explained" (also trymesha.com): months of
    $100,000, $80,000, $70,000 (newest first), AR $212,000, 30-day months → 60 + 32,000/70,000 × 30 = 73.7 days."""
    result = countback_dso(D(212000), [(D(100000), 30), (D(80000), 30), (D(70000), 30)])
    assert result.quantize(D("0.1")) == D("73.7")


def test_countback_oracle_hfm_table_corrected() -> None:
    """Oracle Hyperion FM Administrator's Guide 11.2, "DSO – Days Sales Outstanding" (exhaustion method): debtors
    12,000; sales Sep 2,500 (30), Aug 1,750 (31), Jul 2,250 (31), Jun 2,500 (30), May 2,000 (31), Apr 2,250 (30).
    The guide prints 179.7, which its own table does not support (it implies debtors of 13,000): the sales
    through May total 11,000, leaving 1,000 → 153 + 1,000/2,250 × 30 = 166.33 days. With 13,000 → 179.67."""
    months = [(D(2500), 30), (D(1750), 31), (D(2250), 31), (D(2500), 30), (D(2000), 31), (D(2250), 30)]
    assert countback_dso(D(12000), months).quantize(D("0.01")) == D("166.33")
    assert countback_dso(D(13000), months).quantize(D("0.1")) == D("179.7")


def test_countback_runs_out_of_history() -> None:
    assert countback_dso(D(5000), [(D(100), 31), (D(200), 30)]) is None
    assert countback_dso(D(0), [(D(100), 31)]) == D(0)


def test_cei_credit_research_foundation_example() -> None:
    """Credit Research Foundation, "Directions, Formulas and Definitions for completion of the NSDTR": beginning AR
    12,327,157; quarterly credit sales 47,881,064 (CEI uses sales / 3); ending AR 13,663,598; ending current AR
    7,846,547 → CEI 71.54."""
    cei = collection_effectiveness(D(12327157), D(47881064) / 3, D(13663598), D(7846547))
    assert cei.quantize(D("0.01")) == D("71.54")


def test_cei_creditguru_monthly_average_versus_total_sales() -> None:
    """CreditGuru, "Ratio – Collection Effectiveness Index": beginning 6,200, sales 10,890 over 3 months, ending
    6,340, ending current 3,590 → 55.9% with monthly-average sales; the same data with total sales gives 79.63%
    (wizedu Q&A 116374) — the reason `cei.sales` is a parameter."""
    assert collection_effectiveness(D(6200), D(10890) / 3, D(6340), D(3590)).quantize(D("0.1")) == D("55.9")
    assert collection_effectiveness(D(6200), D(10890), D(6340), D(3590)).quantize(D("0.01")) == D("79.63")


def test_window_is_whole_months_to_as_of() -> None:
    window = dso_window(dt.date(2026, 10, 31), 3)
    assert (window.start, window.days) == (dt.date(2026, 8, 1), 92)
    assert dso_window(dt.date(2026, 3, 15), 1).days == 15


# ------------------------------------------------------------------ the same examples through the whole engine


def _write(folder: Path, invoices: list[tuple], payments: list[tuple] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text("customer_id,name\nK1,Example Customer\n", encoding="utf-8")
    lines = ["invoice_id,customer_id,invoice_date,due_date,amount"] + [",".join(map(str, i)) for i in invoices]
    (folder / "invoices.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = ["payment_id,invoice_id,payment_date,amount"] + [",".join(map(str, p)) for p in payments]
    (folder / "payments.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _compute(params_path: Path):
    params = load_params(params_path)
    ledger = open_ledger(params, params_path)
    with open_book(ledger, params) as book:
        return compute_dso(book, params)


def test_creditguru_example_through_the_engine(tmp_path: Path) -> None:
    # September 2026 (30 days): sales 10,000, of which 4,000 not yet due at 09-30 and 6,000 paid;
    # 11,000 invoiced in August is past due → AR 15,000, current 4,000.
    ledger = _write(
        tmp_path / "l",
        [
            ("A1", "K1", "2026-08-05", "2026-08-20", "11000.00"),
            ("S1", "K1", "2026-09-10", "2026-09-25", "6000.00"),
            ("S2", "K1", "2026-09-20", "2026-10-20", "4000.00"),
        ],
        [("P1", "S1", "2026-09-24", "6000.00")],
    )
    result = _compute(write_params(tmp_path, ledger, as_of="2026-09-30", dso={"window_months": 1}))
    assert (result.kpis.dso, result.kpis.bpdso, result.kpis.add) == (D(45), D(12), D(33))


def test_anaplan_countback_through_the_engine(tmp_path: Path) -> None:
    # Sales Sep 500, Oct 700, Nov 600, Dec 400, Jan 200; 400 of September's invoice paid → AR at Jan 31 = 2,000.
    ledger = _write(
        tmp_path / "l",
        [
            ("S9", "K1", "2025-09-15", "2025-10-15", "500.00"),
            ("S10", "K1", "2025-10-15", "2025-11-15", "700.00"),
            ("S11", "K1", "2025-11-15", "2025-12-15", "600.00"),
            ("S12", "K1", "2025-12-15", "2026-01-15", "400.00"),
            ("S1", "K1", "2026-01-15", "2026-02-15", "200.00"),
        ],
        [("P1", "S9", "2025-10-10", "400.00")],
    )
    result = _compute(write_params(tmp_path, ledger, as_of="2026-01-31"))
    assert result.kpis.dso_countback == D(129)
    thirty = _compute(
        write_params(tmp_path, ledger, as_of="2026-01-31", name="thirty.yaml", dso={"countback_month_days": 30})
    )
    assert thirty.kpis.dso_countback == D(126)  # 30 + 30 + 30 + 30 + 100/500 × 30
    assert {k: v for k, v in thirty.kpis.items() if k != "dso_countback"} == {
        k: v for k, v in result.kpis.items() if k != "dso_countback"
    }


def test_crf_cei_through_the_engine(tmp_path: Path) -> None:
    # AR at 2026-06-30 12,327,157; Q3 sales 47,881,064; at 09-30 AR 13,663,598 of which current 7,846,547.
    ledger = _write(
        tmp_path / "l",
        [
            ("A", "K1", "2026-06-15", "2026-07-15", "12327157.00"),
            ("B", "K1", "2026-09-15", "2026-10-15", "7846547.00"),
            ("C", "K1", "2026-07-10", "2026-08-09", "40034517.00"),
        ],
        [("P1", "A", "2026-07-20", "12327157.00"), ("P2", "C", "2026-08-20", "34217466.00")],
    )
    monthly = _compute(write_params(tmp_path, ledger, as_of="2026-09-30", cei={"sales": "monthly_average"}))
    assert monthly.kpis.cei_pct.quantize(D("0.01")) == D("71.54")
    total = _compute(write_params(tmp_path, ledger, as_of="2026-09-30", name="t.yaml"))
    assert close(
        total.kpis.cei_pct,
        (D(12327157) + D(47881064) - D(13663598)) * 100 / (D(12327157) + D(47881064) - D(7846547)),
    )
    assert {k for k in KPI_IDS if monthly.kpis.value(k) != total.kpis.value(k)} == {"cei_pct"}


def test_softrak_weighted_days_to_pay(tmp_path: Path) -> None:
    """Softrak forum (topic 27866): $100 paid in 10 days and $1,000 paid in 20 days → weighted days to pay
    (1,000 + 20,000) / 1,100 = 19.1 days; simple 15."""
    ledger = _write(
        tmp_path / "l",
        [
            ("I1", "K1", "2026-10-01", "2026-10-31", "100.00"),
            ("I2", "K1", "2026-10-01", "2026-10-31", "1000.00"),
        ],
        [("P1", "I1", "2026-10-11", "100.00"), ("P2", "I2", "2026-10-21", "1000.00")],
    )
    kpis = _compute(write_params(tmp_path, ledger, dso={"window_months": 1})).kpis
    assert kpis.days_to_pay_simple == D(15)
    assert kpis.days_to_pay_weighted.quantize(D("0.1")) == D("19.1")
    assert kpis.days_late_simple == D(0)  # both paid before the due date


# ------------------------------------------------------------------ independent oracle on a generated ledger


@pytest.mark.parametrize(
    ("as_of", "window", "countback", "cei_sales"),
    [
        ("2026-10-31", 3, "actual", "window_total"),
        ("2026-06-30", 1, 30, "monthly_average"),
        ("2026-02-28", 6, "actual", "monthly_average"),
        ("2026-07-15", 3, 30, "window_total"),
    ],
)
def test_matches_oracle_on_demo_ledger(
    demo_ledger: Path, tmp_path: Path, as_of: str, window: int, countback, cei_sales: str
) -> None:
    params = write_params(
        tmp_path,
        demo_ledger,
        as_of=as_of,
        name="p.yaml",
        dso={"window_months": window, "countback_month_days": countback},
        cei={"sales": cei_sales},
    )
    kpis = _compute(params).kpis
    expected = dso_family(_oracle(demo_ledger), dt.date.fromisoformat(as_of), window, countback, cei_sales)
    for kpi in KPI_IDS:
        assert close(kpis.value(kpi), expected[kpi]), (kpi, kpis.value(kpi), expected[kpi])
    assert kpis.dso > 0 and kpis.days_late_weighted > 0


def test_trend_rows_equal_a_pack_run_as_of_each_month_end(demo_ledger: Path, tmp_path: Path) -> None:
    """The 24-month trend is computed in one pass; each row must equal computing that month-end on its own."""
    trend = _compute(write_params(tmp_path, demo_ledger, name="p.yaml")).tables.trend
    assert len(trend) == 24
    for index in (0, 11, 22):
        month_end = trend["month_end"].iloc[index]
        alone = _compute(write_params(tmp_path, demo_ledger, as_of=str(month_end), name=f"m{index}.yaml")).kpis
        for kpi in SECTION_KPI_IDS:
            assert trend[kpi].iloc[index] == alone.value(kpi), (month_end, kpi)


def test_bridge_adds_up_to_the_change_in_dso(demo_ledger: Path, tmp_path: Path) -> None:
    result = _compute(write_params(tmp_path, demo_ledger, name="p.yaml"))
    steps = list(result.tables.bridge["days"])
    assert (sum(steps[:-1]) - steps[-1]).copy_abs() < D("1e-20")
    assert steps[-1] == result.kpis.dso


def test_breakdowns_add_up(demo_ledger: Path, tmp_path: Path) -> None:
    result = _compute(write_params(tmp_path, demo_ledger, name="p.yaml"))
    total_ar = result.tables.trend["ar_total"].iloc[-1]
    tables = result.tables
    for name, table in (
        ("segment", tables.by_segment),
        ("region", tables.by_region),
        ("collector", tables.by_collector),
        ("currency", tables.by_currency),
        ("customer", tables.by_customer),
    ):
        assert sum(table["ar_total"]) == total_ar, name


def test_customer_breakdown_sales_in_the_window_per_customer(demo_ledger: Path, tmp_path: Path) -> None:
    """The per-customer table lists every customer invoiced on or before as_of (those whose invoices all predate the
    window with zero sales in it) and their credit sales in the window add up to the oracle's for the book."""
    result = _compute(write_params(tmp_path, demo_ledger, name="p.yaml"))
    table = result.tables.by_customer
    ledger = _oracle(demo_ledger)
    as_of = dt.date(2026, 10, 31)
    invoiced = {row.customer_id for row in ledger.invoices if oracle_day(row.invoice_date) <= as_of}
    assert set(table["customer_id"]) == invoiced
    start = dt.date(2026, 8, 1)  # the 3-month window ending 2026-10-31
    assert sum(table["sales_window"]) == oracle_credit_sales(ledger, start, as_of) > 0
    before = {row.customer_id for row in ledger.invoices if oracle_day(row.invoice_date) < start}
    before -= {row.customer_id for row in ledger.invoices if start <= oracle_day(row.invoice_date) <= as_of}
    quiet = table[table["customer_id"].isin(before)]
    assert len(quiet) and (quiet["sales_window"] == 0).all()


_ORACLES: dict[Path, OracleLedger] = {}


def _oracle(folder: Path) -> OracleLedger:
    if folder not in _ORACLES:
        _ORACLES[folder] = OracleLedger(folder)
    return _ORACLES[folder]


def test_dynamics_weighted_days_to_pay_and_days_late_on_receipt_terms(tmp_path: Path) -> None:
    """Microsoft Dynamics 365 ideas portal, weighted days-to-pay request (idea 4191bf6f): $10 paid in 5 days and $100
    paid in 10 days → unweighted 7.5 days, weighted (10/110 × 5) + (100/110 × 10) = 9.55 days. With the invoices
    due on receipt (due_date = invoice_date) every day to pay is a day late, so days late equal days to pay; with
    net-7 terms only the days beyond the 7th count (0 and 3 → simple 1.5, weighted 300/110 = 2.73)."""
    ledger = _write(
        tmp_path / "l",
        [
            ("I1", "K1", "2026-10-01", "2026-10-01", "10.00"),
            ("I2", "K1", "2026-10-01", "2026-10-01", "100.00"),
        ],
        [("P1", "I1", "2026-10-06", "10.00"), ("P2", "I2", "2026-10-11", "100.00")],
    )
    kpis = _compute(write_params(tmp_path, ledger, dso={"window_months": 1})).kpis
    assert kpis.days_to_pay_simple == kpis.days_late_simple == D("7.5")
    assert kpis.days_to_pay_weighted.quantize(D("0.01")) == kpis.days_late_weighted.quantize(D("0.01")) == D("9.55")
    net7 = _write(
        tmp_path / "n",
        [
            ("I1", "K1", "2026-10-01", "2026-10-08", "10.00"),
            ("I2", "K1", "2026-10-01", "2026-10-08", "100.00"),
        ],
        [("P1", "I1", "2026-10-06", "10.00"), ("P2", "I2", "2026-10-11", "100.00")],
    )
    kpis = _compute(write_params(tmp_path, net7, dso={"window_months": 1}, name="n.yaml")).kpis
    assert kpis.days_late_simple == D("1.5")
    assert kpis.days_late_weighted.quantize(D("0.01")) == D("2.73")


def test_partial_payments_prepayments_and_write_offs_in_settlement(tmp_path: Path) -> None:
    # I1 settled by its second partial payment; I2 fully prepaid (settles on its invoice date, 0 days);
    # I3 closed by a write-off → excluded; I4 still open → excluded.
    ledger = _write(
        tmp_path / "l",
        [
            ("I1", "K1", "2026-10-01", "2026-10-11", "100.00"),
            ("I2", "K1", "2026-10-05", "2026-10-20", "50.00"),
            ("I3", "K1", "2026-10-02", "2026-10-12", "70.00"),
            ("I4", "K1", "2026-10-03", "2026-10-13", "30.00"),
        ],
        [
            ("P1", "I1", "2026-10-05", "40.00"),
            ("P2", "I1", "2026-10-21", "60.00"),
            ("P3", "I2", "2026-09-28", "50.00"),
            ("P4", "I3", "2026-10-15", "20.00"),
        ],
    )
    (ledger / "adjustments.csv").write_text(
        "adjustment_id,invoice_id,adjustment_date,kind,amount\nW1,I3,2026-10-30,write_off,50.00\n", encoding="utf-8"
    )
    kpis = _compute(write_params(tmp_path, ledger, dso={"window_months": 1})).kpis
    assert kpis.days_to_pay_simple == D(10)  # I1: 20 days, I2: 0 days
    assert kpis.days_late_simple == D(5)  # I1: 10 days late, I2: 0
    assert kpis.days_to_pay_weighted.quantize(D("1e-20")) == (D(2000) / D(150)).quantize(D("1e-20"))
