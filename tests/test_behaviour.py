"""Payment behaviour and concentration (shared/metrics.md v1.1 § Payment behaviour, § Concentration and credit):
small ledgers checked by hand through the whole engine, the independent oracle (tests/oracle.py) on the demo ledger
at two as-of dates and on the tiny ledger, and invariants (hypothesis) of the definitions and of the library.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collections_mi.config.params import load_params
from collections_mi.metrics.behaviour import BANDS, behaviour_band, rounded_days
from collections_mi.metrics.book import open_book
from collections_mi.metrics.concentration import UTILISATION_BANDS, hhi, top_share_pct, utilisation_band
from collections_mi.metrics.result import Unavailable
from collections_mi.metrics.sections import SECTIONS, compute_sections
from collections_mi.sources.ledger import open_ledger
from test_properties import Tiny, compute, profile, tiny_ledgers

import oracle
from conftest import TINY, write_params

D = Decimal
Q = Decimal("1e-12")


def close(a: Decimal | None, b: Decimal | None) -> bool:
    if a is None or b is None:
        return a is b
    return Decimal(a).quantize(Q) == Decimal(b).quantize(Q)


def _csv(path: Path, header: str, rows) -> None:
    lines = [header] + [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _ledger(folder: Path, customers, invoices, payments=(), adjustments=(), customer_columns="credit_limit,risk_score"):
    """customers: (customer_id, *customer_columns); invoices: (invoice_id, customer_id, invoice_date, due_date,
    amount); payments: (payment_id, invoice_id, payment_date, amount); adjustments: (id, invoice_id, date, kind,
    amount)."""
    folder.mkdir(parents=True, exist_ok=True)
    header = "customer_id,name" + (f",{customer_columns}" if customer_columns else "")
    _csv(folder / "customers.csv", header, [(c[0], f"Customer {c[0]}", *c[1:]) for c in customers])
    _csv(folder / "invoices.csv", "invoice_id,customer_id,invoice_date,due_date,amount", invoices)
    _csv(folder / "payments.csv", "payment_id,invoice_id,payment_date,amount", payments)
    _csv(folder / "adjustments.csv", "adjustment_id,invoice_id,adjustment_date,kind,amount", adjustments)
    return folder


def _results(tmp_path: Path, ledger: Path, as_of: str = "2026-10-31", name: str = "p.yaml", **sections):
    params_path = write_params(tmp_path, ledger, as_of=as_of, name=name, **sections)
    params = load_params(params_path)
    source = open_ledger(params, params_path)
    with open_book(source, params) as book:
        return compute_sections(book, params, [SECTIONS["aging"], SECTIONS["dso"]])


def _row(table: pd.DataFrame, column: str, value: object) -> pd.Series:
    rows = table.loc[table[column] == value]
    assert len(rows) == 1, (column, value)
    return rows.iloc[0]


# ------------------------------------------------------------------ hand-checked: payment behaviour KPIs


def test_terms_days_beyond_terms_and_on_time_by_hand(tmp_path: Path) -> None:
    """W = October 2026 (window_months 1). Raised in W: I1 1,000 on 30-day terms, I2 3,000 on 10-day terms, I3 2,000
    on 60-day terms → terms_weighted (30,000 + 30,000 + 120,000) / 6,000 = 30.
    Settled in W: I1 5 days early (−5), I2 20 days late (+20) → dbt_weighted (−5,000 + 60,000) / 4,000 = 13.75, while
    days_late_weighted clips the early payment at 0: 60,000 / 4,000 = 15; on_time_pct = 1,000 / 4,000 × 100 = 25.
    I4 (raised in August, settled 30 days late on 30 September) is outside W; the trend's September row (W =
    September) holds it alone: no invoice raised → terms undefined, dbt 30, on time 0 %."""
    ledger = _ledger(
        tmp_path / "l",
        [("K1", "", "")],
        [
            ("I1", "K1", "2026-10-01", "2026-10-31", "1000.00"),
            ("I2", "K1", "2026-10-01", "2026-10-11", "3000.00"),
            ("I3", "K1", "2026-10-15", "2026-12-14", "2000.00"),
            ("I4", "K1", "2026-08-01", "2026-08-31", "500.00"),
        ],
        [
            ("P1", "I1", "2026-10-26", "1000.00"),
            ("P2", "I2", "2026-10-31", "3000.00"),
            ("P3", "I4", "2026-09-30", "500.00"),
        ],
    )
    dso = _results(tmp_path, ledger, dso={"window_months": 1})["dso"]
    assert dso.kpis.terms_weighted == D(30)
    assert dso.kpis.dbt_weighted == D("13.75")
    assert dso.kpis.days_late_weighted == D(15)
    assert dso.kpis.on_time_pct == D(25)
    september = _row(dso.tables.trend, "month_end", dt.date(2026, 9, 30))
    assert september["terms_weighted"] is None
    assert (september["dbt_weighted"], september["on_time_pct"]) == (D(30), D(0))


# ------------------------------------------------------------------ hand-checked: behaviour bands

BANDS_CUSTOMERS = [
    ("K1", "", "600"),
    ("K2", "", "700"),
    ("K3", "", ""),
    ("K4", "", "590"),
    ("K5", "", "810"),
    ("K6", "", "550"),
    ("K7", "", ""),
]
BANDS_INVOICES = [
    # K1: 15 and 16 days late on equal amounts → 15.5 → rounded half up 16 → Good; J3 open 400
    ("J1", "K1", "2026-06-01", "2026-06-30", "1000.00"),
    ("J2", "K1", "2026-06-01", "2026-06-30", "1000.00"),
    ("J3", "K1", "2026-10-01", "2026-10-31", "400.00"),
    # K2: 5,100 at 15 days and 4,900 at 16 → 154,900 / 10,000 = 15.49 → 15 → Great
    ("J4", "K2", "2026-06-01", "2026-06-30", "5100.00"),
    ("J5", "K2", "2026-06-01", "2026-06-30", "4900.00"),
    # K3: 90 days late (30 + 31 + 29) → Poor; J7 open 250
    ("J6", "K3", "2026-03-01", "2026-03-31", "800.00"),
    ("J7", "K3", "2026-10-10", "2026-11-09", "250.00"),
    # K4: 91 days late → Risk; J9 open 1,000 (past due)
    ("J8", "K4", "2026-03-01", "2026-03-31", "800.00"),
    ("J9", "K4", "2026-05-01", "2026-05-31", "1000.00"),
    # K5: paid 30 days early → days late clipped at 0 → Great
    ("J10", "K5", "2026-08-01", "2026-09-30", "600.00"),
    # K6: settled 2025-10-31, before the 12 months (2025-11-01 .. 2026-10-31) → No history; J12 open 700
    ("J11", "K6", "2025-09-01", "2025-09-30", "900.00"),
    ("J12", "K6", "2026-09-15", "2026-10-15", "700.00"),
    # K7: closed by a write-off, never settled → No history, nothing open
    ("J13", "K7", "2026-01-01", "2026-01-31", "300.00"),
]
BANDS_PAYMENTS = [
    ("Q1", "J1", "2026-07-15", "1000.00"),
    ("Q2", "J2", "2026-07-16", "1000.00"),
    ("Q4", "J4", "2026-07-15", "5100.00"),
    ("Q5", "J5", "2026-07-16", "4900.00"),
    ("Q6", "J6", "2026-06-29", "800.00"),
    ("Q8", "J8", "2026-06-30", "800.00"),
    ("Q10", "J10", "2026-08-31", "600.00"),
    ("Q11", "J11", "2025-10-31", "900.00"),
]
BANDS_ADJUSTMENTS = [("W1", "J13", "2026-06-30", "write_off", "300.00")]


def test_behaviour_bands_by_hand(tmp_path: Path) -> None:
    """Bands over the 12 months 2025-11-01 .. 2026-10-31; open balances at D: K1 400, K3 250, K4 1,000, K6 700 (AR
    2,350) → Great 0 (K2, K5), Good 400 (K1), Poor 250 (K3), Risk 1,000 (K4), No history 700 (K6, K7): 2,350.
    In W (August–October) only J10 settled, 30 days early: dbt_weighted −30 (not clipped), days late 0, on time
    100 %; raised in W: J10 (60-day terms, 600) and J3, J7, J12 (30 days; 400 + 250 + 700) →
    (36,000 + 40,500) / 1,950 = 39.23…"""
    ledger = _ledger(tmp_path / "l", BANDS_CUSTOMERS, BANDS_INVOICES, BANDS_PAYMENTS, BANDS_ADJUSTMENTS)
    results = _results(tmp_path, ledger)
    dso, aging = results["dso"], results["aging"]
    customers = dso.tables.behaviour_customers
    expected = {
        "K1": ("Good", D("15.5"), 16, D(400)),
        "K2": ("Great", D("15.49"), 15, D(0)),
        "K3": ("Poor", D(90), 90, D(250)),
        "K4": ("Risk", D(91), 91, D(1000)),
        "K5": ("Great", D(0), 0, D(0)),
        "K6": ("No history", None, None, D(700)),
        "K7": ("No history", None, None, D(0)),
    }
    got = {
        row.customer_id: (row.band, row.days_late_weighted, row.days_late_rounded, row.open_balance)
        for row in customers.itertuples()
    }
    assert got == expected
    # best band first, then the larger balance, then customer_id
    assert list(customers["customer_id"]) == ["K2", "K5", "K1", "K3", "K4", "K6", "K7"]
    bands = dso.tables.behaviour_bands
    assert list(bands["band"]) == list(BANDS)
    assert list(bands["customers"]) == [2, 1, 1, 1, 2]
    assert list(bands["open_balance"]) == [D(0), D(400), D(250), D(1000), D(700)]
    assert sum(bands["open_balance"]) == aging.kpis.ar_total == D(2350)
    assert close(_row(bands, "band", "Risk")["share_pct"], D(1000) / D(2350) * 100)

    by_risk = dso.tables.behaviour_by_risk_band
    assert len(by_risk) == len(BANDS) * 6
    filled = {
        (row.behaviour_band, row.risk_band): (row.customers, row.open_balance)
        for row in by_risk.itertuples()
        if row.customers
    }
    assert filled == {
        ("Great", "670–739"): (1, D(0)),  # K2 (700)
        ("Great", "800+"): (1, D(0)),  # K5 (810)
        ("Good", "580–669"): (1, D(400)),  # K1 (600)
        ("Poor", "no score"): (1, D(250)),  # K3
        ("Risk", "580–669"): (1, D(1000)),  # K4 (590)
        ("No history", "< 580"): (1, D(700)),  # K6 (550)
        ("No history", "no score"): (1, D(0)),  # K7
    }

    assert dso.kpis.dbt_weighted == D(-30)
    assert dso.kpis.days_late_weighted == D(0)
    assert dso.kpis.on_time_pct == D(100)
    assert close(dso.kpis.terms_weighted, D(76500) / D(1950))


def test_band_edges_round_half_up() -> None:
    assert [rounded_days(D(x)) for x in ("15.49", "15.5", "45.5", "90.49", "90.5", "0")] == [15, 16, 46, 90, 91, 0]
    assert [behaviour_band(d) for d in (0, 15, 16, 45, 46, 90, 91, None)] == [
        "Great",
        "Great",
        "Good",
        "Good",
        "Poor",
        "Poor",
        "Risk",
        "No history",
    ]


def test_without_risk_scores_the_band_by_risk_table_says_why(tmp_path: Path) -> None:
    customers = [(c[0], c[1]) for c in BANDS_CUSTOMERS]
    ledger = _ledger(
        tmp_path / "l", customers, BANDS_INVOICES, BANDS_PAYMENTS, BANDS_ADJUSTMENTS, customer_columns="credit_limit"
    )
    dso = _results(tmp_path, ledger)["dso"]
    assert dso.tables.behaviour_by_risk_band == Unavailable("the ledger has no customers.risk_score")
    assert dso.unavailable["behaviour_by_risk_band"] == "the ledger has no customers.risk_score"
    assert list(dso.tables.behaviour_bands["customers"]) == [2, 1, 1, 1, 2]


# ------------------------------------------------------------------ hand-checked: concentration and credit


def _open_balances_ledger(folder: Path, balances: dict[str, tuple[str, str]], **kwargs) -> Path:
    """One open invoice per customer (not yet due): customer → (balance, credit_limit)."""
    return _ledger(
        folder,
        [(c, limit, "") for c, (_, limit) in balances.items()],
        [(f"I-{c}", c, "2026-10-20", "2026-11-19", amount) for c, (amount, _) in balances.items() if amount != "0"],
        **kwargs,
    )


def test_concentration_by_hand(tmp_path: Path) -> None:
    """Balances 500, 300, 200 → shares 50 %, 30 %, 20 %: top-10 share 100 %, HHI 50² + 30² + 20² = 3,800."""
    ledger = _open_balances_ledger(tmp_path / "l", {"K3": ("200.00", ""), "K1": ("500.00", ""), "K2": ("300.00", "")})
    aging = _results(tmp_path, ledger)["aging"]
    assert aging.kpis.top10_share_pct == D(100)
    assert aging.kpis.hhi == D(3800)
    table = aging.tables.concentration
    assert list(table["customer_id"]) == ["K1", "K2", "K3"]
    assert list(table["share_pct"]) == [D(50), D(30), D(20)]
    assert list(table["cumulative_share_pct"]) == [D(50), D(80), D(100)]
    last = aging.tables.concentration_trend.iloc[-1]
    assert (last["month_end"], last["top10_share_pct"], last["hhi"], last["customers"]) == (
        dt.date(2026, 10, 31),
        D(100),
        D(3800),
        3,
    )
    assert aging.tables.concentration_trend.iloc[0]["hhi"] is None  # nothing open a year earlier


def test_concentration_ties_by_customer_id(tmp_path: Path) -> None:
    """Eleven customers of 100 each: the top 10 by balance are C01..C10 (ties by customer_id), holding
    1,000 / 1,100 = 90.909… %; HHI = 11 × (100 / 11)² = 10,000 / 11; the top 20 hold everything."""
    ledger = _open_balances_ledger(tmp_path / "l", {f"C{i:02d}": ("100.00", "") for i in range(11, 0, -1)})
    aging = _results(tmp_path, ledger)["aging"]
    assert close(aging.kpis.top10_share_pct, D(1000) / D(1100) * 100)
    assert close(aging.kpis.hhi, D(10000) / D(11))
    table = aging.tables.concentration
    assert list(table["customer_id"]) == [f"C{i:02d}" for i in range(1, 12)]
    assert table["cumulative_share_pct"].iloc[9] == aging.kpis.top10_share_pct
    assert table["cumulative_share_pct"].iloc[-1] == D(100)
    assert aging.tables.concentration_trend.iloc[-1]["top20_share_pct"] == D(100)


def test_one_customer_is_all_the_concentration(tmp_path: Path) -> None:
    ledger = _open_balances_ledger(tmp_path / "l", {"K1": ("123.45", ""), "K2": ("0", "")})
    aging = _results(tmp_path, ledger)["aging"]
    assert (aging.kpis.top10_share_pct, aging.kpis.hhi) == (D(100), D(10000))


def test_credit_utilisation_by_hand(tmp_path: Path) -> None:
    """Limits of 1,000: 500 is exactly 50 % (0–50, upper bound inclusive), 500.01 → 50–80, 800 → 50–80, 1,000 exactly
    100 % → 80–100, 1,000.01 → > 100; a 2,000 limit with nothing open → 0–50. A zero limit and no limit are left out."""
    balances = {
        "K1": ("500.00", "1000"),
        "K2": ("500.01", "1000"),
        "K3": ("800.00", "1000.00"),
        "K4": ("1000.00", "1000"),
        "K5": ("1000.01", "1000"),
        "K6": ("300.00", "0"),
        "K7": ("100.00", ""),
        "K8": ("0", "2000"),
    }
    aging = _results(tmp_path, _open_balances_ledger(tmp_path / "l", balances))["aging"]
    table = aging.tables.credit_utilisation
    assert list(table["band"]) == list(UTILISATION_BANDS) == ["0–50", "50–80", "80–100", "> 100"]
    assert list(table["customers"]) == [2, 2, 1, 1]
    assert list(table["balance"]) == [D("500"), D("1300.01"), D("1000"), D("1000.01")]
    assert list(table["credit_limit"]) == [D(3000), D(2000), D(1000), D(1000)]
    assert table["utilisation_pct"].iloc[1] == D("1300.01") / D(2000) * 100


def test_without_credit_limits_utilisation_says_why(tmp_path: Path) -> None:
    ledger = _ledger(
        tmp_path / "l",
        [("K1", ""), ("K2", "")],
        [("I1", "K1", "2026-10-01", "2026-10-31", "10.00")],
        customer_columns="risk_score",
    )
    aging = _results(tmp_path, ledger)["aging"]
    assert aging.tables.credit_utilisation == Unavailable("the ledger has no customers.credit_limit")
    assert aging.kpis.hhi == D(10000)


# ------------------------------------------------------------------ the independent oracle


def _assert_matches_oracle(results, folder: Path, as_of: dt.date, window_months: int) -> None:
    book = oracle.Ledger(folder)
    dso, aging = results["dso"], results["aging"]
    behaviour = oracle.payment_behaviour(book, as_of, window_months)
    for kpi in ("terms_weighted", "dbt_weighted", "on_time_pct"):
        assert close(dso.kpis.value(kpi), behaviour[kpi]), (kpi, dso.kpis.value(kpi), behaviour[kpi])

    bands = oracle.behaviour_bands(book, as_of)
    customers = dso.tables.behaviour_customers
    assert len(customers) == len(bands["customers"])
    for row in customers.itertuples():
        truth = bands["customers"][row.customer_id]
        assert row.band == truth["band"], row.customer_id
        assert close(row.days_late_weighted, truth["days_late_weighted"]), row.customer_id
        assert row.open_balance == truth["open_balance"], row.customer_id
    for row in dso.tables.behaviour_bands.itertuples():
        assert row.customers == bands["bands"][row.band]["customers"], row.band
        assert row.open_balance == bands["bands"][row.band]["open_balance"], row.band
    scores = {r.customer_id: oracle.risk_band(r.risk_score) for r in book.customers}
    cross: dict[tuple[str, str], list] = {}
    for customer, figures in bands["customers"].items():
        cell = cross.setdefault((figures["band"], scores.get(customer, "no score")), [0, D(0)])
        cell[0] += 1
        cell[1] += figures["open_balance"]
    assert {
        (r.behaviour_band, r.risk_band): [r.customers, r.open_balance]
        for r in dso.tables.behaviour_by_risk_band.itertuples()
        if r.customers
    } == cross

    shares = oracle.concentration(book, as_of)
    assert close(aging.kpis.top10_share_pct, shares["top10_share_pct"])
    assert close(aging.kpis.hhi, shares["hhi"])
    table = aging.tables.concentration
    assert list(zip(table["customer_id"], table["balance"])) == shares["top"]
    assert close(table["cumulative_share_pct"].iloc[-1], shares["top20_share_pct"])

    utilisation = oracle.credit_utilisation(book, as_of)
    for row in aging.tables.credit_utilisation.itertuples():
        assert (row.customers, row.balance) == (utilisation[row.band]["customers"], utilisation[row.band]["balance"])


@pytest.mark.parametrize(("as_of", "window"), [("2026-10-31", 3), ("2026-06-30", 1)])
def test_matches_oracle_on_demo_ledger(demo_ledger: Path, tmp_path: Path, as_of: str, window: int) -> None:
    results = _results(tmp_path, demo_ledger, as_of=as_of, dso={"window_months": window})
    day = dt.date.fromisoformat(as_of)
    _assert_matches_oracle(results, demo_ledger, day, window)
    dso, aging = results["dso"], results["aging"]
    # the demo has something in every behaviour band, customers below and above their limits, early and late payers
    assert all(dso.tables.behaviour_bands["customers"] > 0)
    utilisation = aging.tables.credit_utilisation.set_index("band")["customers"]
    assert utilisation["0–50"] > 0 and utilisation["> 100"] > 0
    assert 0 < dso.kpis.on_time_pct < 100 and dso.kpis.dbt_weighted < dso.kpis.days_late_weighted
    # the trends: a past month-end's row is that month-end's oracle
    book = oracle.Ledger(demo_ledger)
    trend_row = dso.tables.trend.iloc[-5]
    past = trend_row["month_end"]
    truth = oracle.payment_behaviour(book, past, window)
    for kpi in ("terms_weighted", "dbt_weighted", "on_time_pct"):
        assert close(trend_row[kpi], truth[kpi]), (past, kpi)
    concentration_row = aging.tables.concentration_trend.iloc[-4]
    truth = oracle.concentration(book, concentration_row["month_end"])
    assert close(concentration_row["hhi"], truth["hhi"])
    assert close(concentration_row["top10_share_pct"], truth["top10_share_pct"])
    assert close(concentration_row["top20_share_pct"], truth["top20_share_pct"])
    last = aging.tables.concentration_trend.iloc[-1]
    assert (last["month_end"], last["top10_share_pct"], last["hhi"]) == (
        day,
        aging.kpis.top10_share_pct,
        aging.kpis.hhi,
    )
    assert list(aging.tables.concentration_trend["ar_total"]) == list(aging.tables.trend["ar_total"])


@pytest.mark.parametrize("as_of", ["2026-10-31", "2026-09-30"])
def test_matches_oracle_on_tiny_ledger(tmp_path: Path, as_of: str) -> None:
    """The tiny ledger: one invoice settled (I5, 9 days late) — C2 Great, C1 and C3 No history; EUR balances at the
    closing rate; C1's credit limit of 1,000 against 1,100 open (> 100), C3's 5,000 against EUR 900 × 1.08."""
    ledger = shutil.copytree(TINY, tmp_path / "tiny")
    results = _results(tmp_path, ledger, as_of=as_of)
    _assert_matches_oracle(results, ledger, dt.date.fromisoformat(as_of), 3)
    if as_of == "2026-10-31":
        customers = results["dso"].tables.behaviour_customers
        bands = dict(zip(customers["customer_id"], customers["band"]))
        assert bands == {"C1": "No history", "C2": "Great", "C3": "No history"}
        utilisation = results["aging"].tables.credit_utilisation
        assert list(utilisation["customers"]) == [1, 0, 0, 1]


# ------------------------------------------------------------------ invariants

cents = st.integers(1, 10**12).map(lambda c: Decimal(c) / 100)


@profile(200)
@given(st.lists(cents, min_size=1, max_size=40))
def test_hhi_and_top_shares_bounds(balances: list[Decimal]) -> None:
    n = len(balances)
    index = hhi(balances)
    assert 0 <= index <= 10000
    assert index >= Decimal(10000) / n - Decimal("1e-18")  # equal shares are the least concentrated
    if n == 1:
        assert index == 10000
    shares = [top_share_pct(balances, k) for k in range(1, n + 1)]
    assert shares == sorted(shares) and shares[-1] == 100
    if n <= 10:
        assert top_share_pct(balances, 10) == 100
    assert top_share_pct(balances, 10) >= Decimal(min(10, n)) / n * 100 - Decimal("1e-18")
    # customers with nothing open change nothing
    assert hhi([*balances, Decimal(0)]) == index


@profile(200)
@given(st.integers(0, 10**9).map(lambda c: Decimal(c) / 100), st.integers(1, 10**8).map(lambda c: Decimal(c) / 100))
def test_utilisation_band_is_the_ratio_band(balance: Decimal, limit: Decimal) -> None:
    used = balance / limit * 100
    expected = "0–50" if used <= 50 else "50–80" if used <= 80 else "80–100" if used <= 100 else "> 100"
    assert utilisation_band(balance, limit) == expected


@profile(12)
@given(tiny_ledgers())
def test_library_invariants_and_oracle_on_random_ledgers(tiny: Tiny) -> None:
    """0 ≤ on_time_pct ≤ 100; dbt_weighted ≤ days_late_weighted (clipping only raises); band balances add up to
    ar_total; the concentration trend ends at the KPIs; and the new KPIs equal the oracle's."""
    kpis, results, _ = compute(tiny, sections=("aging", "dso"))
    dso, aging = results["dso"], results["aging"]
    if "on_time_pct" in kpis:
        assert 0 <= kpis["on_time_pct"] <= 100
        assert kpis["dbt_weighted"] <= kpis["days_late_weighted"]
    assert ("on_time_pct" in kpis) == ("dbt_weighted" in kpis) == ("days_late_weighted" in kpis)
    bands = dso.tables.behaviour_bands
    assert sum(bands["open_balance"]) == kpis["ar_total"]
    assert sum(bands["customers"]) == len(dso.tables.behaviour_customers)
    if kpis["ar_total"]:
        assert 0 < kpis["hhi"] <= 10000 and 0 < kpis["top10_share_pct"] <= 100
        last = aging.tables.concentration_trend.iloc[-1]
        assert (last["top10_share_pct"], last["hhi"]) == (kpis["top10_share_pct"], kpis["hhi"])
    else:
        assert "hhi" not in kpis and "top10_share_pct" not in kpis
    with tempfile.TemporaryDirectory() as folder:
        book = oracle.Ledger(tiny.write(Path(folder) / "ledger"))
        as_of = dt.date(2026, 10, 31)
        truth = {**oracle.payment_behaviour(book, as_of), **oracle.concentration(book, as_of)}
    for kpi in ("terms_weighted", "dbt_weighted", "on_time_pct", "top10_share_pct", "hhi"):
        assert close(kpis.get(kpi), truth[kpi]), (kpi, kpis.get(kpi), truth[kpi])


@profile(200)
@given(st.lists(st.integers(-(10**15), 10**15), max_size=40), st.integers(0, 6))
def test_the_trend_figures_from_exact_integers_are_those_from_decimals(unscaled: list[int], scale: int) -> None:
    """The concentration trend's figures from balances held as exact integers at one scale (the engine's sums) are
    the same Decimals — value and exponent, so tables/*.csv spells them alike — as from the balances as Decimals:
    none, all negative or zero, one customer, ties, more than 20."""
    from collections_mi.core.money import dsum
    from collections_mi.metrics.concentration import UnscaledBalances

    balances = [Decimal(f"{u}E-{scale}") for u in unscaled]
    from_decimals = (
        sum(1 for b in balances if b > 0),
        dsum(balances),
        top_share_pct(balances, 10),
        top_share_pct(balances, 20),
        hhi(balances),
    )
    from_integers = UnscaledBalances(unscaled, scale).trend_figures()
    assert [str(v) for v in from_integers] == [str(v) for v in from_decimals]
