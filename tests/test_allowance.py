"""Bad-debt allowance (shared/metrics.md § Bad-debt allowance): textbook and IFRS 9 worked examples, roll rates
rebuilt from a published cohort flow through the engine, and an independent oracle on the demo ledger."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collections_mi.config.params import Params, load_params
from collections_mi.metrics.allowance import Migration, aging_rate_allowance, compute_allowance, roll_rates, rollforward
from collections_mi.metrics.book import open_book
from collections_mi.metrics.result import SectionResult
from collections_mi.sources.ledger import open_ledger
from test_properties import Tiny, profile, tiny_ledgers

from conftest import write_params
from oracle import Ledger as OracleLedger
from oracle import allowance as oracle_allowance
from oracle import item_roll_sums as oracle_item_roll_sums
from oracle import vintage_allowance as oracle_vintage
from oracle import write_offs_in_month

D = Decimal
CENT = D("0.01")


def _matrix_total(balances: dict[str, str], rates: dict[str, str]) -> Decimal:
    labels = list(balances)
    matrix = aging_rate_allowance({k: D(v) for k, v in balances.items()}, {k: D(v) for k, v in rates.items()}, labels)
    return sum(matrix["allowance"])


def test_openstax_billies_watercraft_aging_method_and_adjusting_entry() -> None:
    """OpenStax, Principles of Accounting Vol. 1, §9.2 (Billie's Watercraft Warehouse): 0–30 days $145,740 at 10%,
    31–90 $102,100 at 20%, over 90 $77,010 at 30% → allowance $58,097. With a $20,000 debit balance carried over the
    adjusting entry is $78,097; the balance-sheet method example with a $23,000 credit balance:
    48,727.50 → 25,727.50."""
    total = _matrix_total(
        {"0-30": "145740", "31-90": "102100", "90+": "77010"}, {"0-30": "0.10", "31-90": "0.20", "90+": "0.30"}
    )
    assert total == D("58097")
    expense = rollforward(D("-20000"), D(0), D(0), total)["amount"].iloc[3]
    assert expense == D("78097")
    assert rollforward(D("23000"), D(0), D(0), D("48727.50"))["amount"].iloc[3] == D("25727.50")


def test_openstax_furniture_direct_and_growth_markets() -> None:
    """OpenStax Vol. 1, ch. 9 appendix (Furniture Direct): 485,000 at 5%, 180,000 at 10%, 80,000 at 20% → $58,250;
    §9.2 exercise Growth Markets LLC: 22,480 at 6%, 36,540 at 17%, 15,330 at 25% → $11,393.10."""
    assert _matrix_total({"a": "485000", "b": "180000", "c": "80000"}, {"a": "0.05", "b": "0.10", "c": "0.20"}) == D(
        "58250"
    )
    assert _matrix_total({"a": "22480", "b": "36540", "c": "15330"}, {"a": "0.06", "b": "0.17", "c": "0.25"}) == D(
        "11393.10"
    )


def test_ifrs9_illustrative_example_12_provision_matrix() -> None:
    """IFRS 9 Illustrative Examples, Example 12 "Provision matrix" (IE74–IE77): Company M, trade receivables
    CU30m: current 15,000,000 at 0.3%; 1–30 days past due 7,500,000 at 1.6%; 31–60 4,000,000 at 3.6%; 61–90
    2,500,000 at 6.6%; > 90 1,000,000 at 10.6% → lifetime ECL
    45,000 + 120,000 + 144,000 + 165,000 + 106,000 = 580,000."""
    labels = ["current", "1-30", "31-60", "61-90", "90+"]
    balances = dict(zip(labels, map(D, ["15000000", "7500000", "4000000", "2500000", "1000000"])))
    rates = dict(zip(labels, map(D, ["0.003", "0.016", "0.036", "0.066", "0.106"])))
    matrix = aging_rate_allowance(balances, rates, labels)
    assert list(matrix["allowance"]) == [D(45000), D(120000), D(144000), D(165000), D(106000)]
    assert sum(matrix["allowance"]) == D(580000)


def test_occ_roll_rate_loss_factors_applied() -> None:
    """OCC Comptroller's Handbook, Retail Lending Examination Procedures, App. G "Loss Forecasting Tools", step 3:
    outstandings 987.4 / 30.2 / 11.8 / 8.2 / 5.9 with loss factors .70% / 20.61% / 48.41% / 72.12% / 100% →
    forecasts 6.9 / 6.2 / 5.7 / 5.9 / 5.9 (published to 0.1), total 30.6 on 1,043.5 outstanding."""
    labels = ["current", "30", "60", "90", "120"]
    matrix = aging_rate_allowance(
        dict(zip(labels, map(D, ["987.4", "30.2", "11.8", "8.2", "5.9"]))),
        dict(zip(labels, map(D, ["0.0070", "0.2061", "0.4841", "0.7212", "1"]))),
        labels,
    )
    assert [a.quantize(D("0.1")) for a in matrix["allowance"]] == list(map(D, ["6.9", "6.2", "5.7", "5.9", "5.9"]))
    assert sum(matrix["balance"]) == D("1043.5")


# IFRScommunity.com, "IFRS 9 example: lifetime ECL for trade receivables using a provision matrix": of January's
# sales of 100,000, 50,000 are outstanding once 1–30 days overdue, 23,000 at 31–60, 8,000 at 61–90 and 2,000 at 91+
# (never paid) → loss rates 2.0%, 4.0%, 8.7% (2/23), 25.0%, 100%; applied to 300,000 / 140,000 / 60,000 / 23,000 /
# 5,000 → ECL 6,000 + 5,600 + 5,217 + 5,750 + 5,000 = 27,567.
IFRS_COMMUNITY_LOSS = [D("0.02"), D("0.04"), D(2) / D(23), D("0.25"), D(1)]


def test_roll_rates_reproduce_the_ifrscommunity_flow() -> None:
    labels = ["current", "1-30", "31-60", "61-90", "90+"]
    months = [dt.date(2026, m, d) for m, d in ((1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30))]
    flow = [D(100000), D(50000), D(23000), D(8000), D(2000)]
    # the cohort's migration: in bucket i at month-end i, rolled on to bucket i + 1 at month-end i + 1; the 2,000 left
    # in 90+ written off in June
    migration = Migration(
        balance_before={(months[i + 1], labels[i]): flow[i] for i in range(5)},
        rolled={(months[i + 1], labels[i]): flow[i + 1] for i in range(4)},
        written_off={(months[5], labels[4]): D(2000)},
    )
    rolls = roll_rates(migration, months[1:], labels, D(1))
    for label, expected in zip(labels, IFRS_COMMUNITY_LOSS):
        assert abs(rolls.loss_rates[label] - expected) < D("1e-25"), label
    at_year_end = dict(zip(labels, map(D, ["300000", "140000", "60000", "23000", "5000"])))
    total = sum(aging_rate_allowance(at_year_end, rolls.loss_rates, labels)["allowance"])
    assert total.quantize(D(1)) == D(27567)
    # the overlay scales every loss rate, capped at 100%
    stressed = roll_rates(migration, months[1:], labels, D("1.5"))
    assert stressed.loss_rates["61-90"] == D("0.375") and stressed.loss_rates["90+"] == D(1)


def _cohort_ledger(folder: Path) -> Path:
    """The IFRScommunity cohort as a ledger: one invoice of 100,000 due 2026-02-01, paid down month by month."""
    folder.mkdir(parents=True)
    (folder / "customers.csv").write_text("customer_id,name\nK1,Cohort Co\n", encoding="utf-8")
    (folder / "invoices.csv").write_text(
        "invoice_id,customer_id,invoice_date,due_date,amount\nJ1,K1,2026-01-02,2026-02-01,100000.00\n", encoding="utf-8"
    )
    (folder / "payments.csv").write_text(
        "payment_id,invoice_id,payment_date,amount\nP1,J1,2026-02-10,50000.00\nP2,J1,2026-03-10,27000.00\n"
        "P3,J1,2026-04-10,15000.00\nP4,J1,2026-05-10,6000.00\n",
        encoding="utf-8",
    )
    (folder / "adjustments.csv").write_text(
        "adjustment_id,invoice_id,adjustment_date,kind,amount\nW1,J1,2026-06-15,write_off,2000.00\n", encoding="utf-8"
    )
    return folder


def _allowance(params: Params, params_path: Path) -> SectionResult:
    with open_book(open_ledger(params, params_path), params) as book:
        return compute_allowance(book, params)


def test_roll_rate_method_through_the_engine(tmp_path: Path) -> None:
    # month-ends: Jan 31 current (dpd −1); Feb 28 dpd 27; Mar 31 dpd 58; Apr 30 dpd 88; May 31 dpd 119; Jun write-off
    ledger = _cohort_ledger(tmp_path / "l")
    params_path = write_params(
        tmp_path,
        ledger,
        as_of="2026-06-30",
        aging={"buckets": [30, 60, 90]},
        allowance={
            "method": "roll_rate",
            "lookback_months": 5,
            "rates": {"current": 0.01, "1-30": 0.02, "31-60": 0.1, "61-90": 0.3, "90+": 1},
        },
    )
    params = load_params(params_path)
    result = _allowance(params, params_path)
    loss = dict(zip(result.tables.loss_rates["bucket"], result.tables.loss_rates["loss_rate"]))
    for label, expected in zip(["current", "1-30", "31-60", "61-90", "90+"], IFRS_COMMUNITY_LOSS):
        assert abs(loss[label] - expected) < D("1e-25"), label
    assert result.kpis.write_offs == D(2000) and result.kpis.allowance_total == 0


@pytest.mark.parametrize("method", ["aging_rates", "roll_rate"])
@pytest.mark.parametrize("as_of", ["2026-10-31", "2026-04-30"])
def test_matches_oracle_and_rollforward_adds_up(demo_ledger: Path, tmp_path: Path, method: str, as_of: str) -> None:
    params_path = write_params(tmp_path, demo_ledger, as_of=as_of, name="p.yaml", allowance={"method": method})
    params = load_params(params_path)
    result = _allowance(params, params_path)
    oracle = _oracle(demo_ledger)
    day = dt.date.fromisoformat(as_of)
    expected = oracle_allowance(oracle, day, method, params.allowance_rates)
    assert result.kpis.allowance_total.quantize(CENT) == expected.quantize(CENT)
    assert result.kpis.write_offs == write_offs_in_month(oracle, day)
    assert result.kpis.recoveries == write_offs_in_month(oracle, day, "recovery")
    lines = list(result.tables.rollforward["amount"])
    with decimal.localcontext(decimal.Context(prec=100)):
        assert sum(lines[:-1]) == lines[-1] == result.kpis.allowance_total  # exact, not just to the cent
    assert result.kpis.allowance_total > 0
    # the methods compared: each method's allowance at D is the oracle's for that method, the booked one marked;
    # the booked method's back-test error is its own back-test table's over the 12 latest complete month-ends
    methods = result.tables.methods.set_index("allowance_method")
    assert list(methods.index) == ["aging_rates", "roll_rate", "vintage"]
    assert [m for m in methods.index if methods.loc[m, "booked"]] == [method]
    other = "roll_rate" if method == "aging_rates" else "aging_rates"
    other_expected = oracle_allowance(oracle, day, other, params.allowance_rates)
    assert methods.loc[other, "allowance"].quantize(CENT) == other_expected.quantize(CENT)
    assert methods.loc[method, "allowance"] == result.kpis.allowance_total  # no qualitative factors here
    complete = result.tables.backtest[result.tables.backtest["horizon_complete"]].tail(12)
    complete = complete[complete["allowance"].notna()]
    if len(complete):
        error = sum(abs(d) for d in complete["difference"]) / sum(complete["write_offs_next_12m"]) * 100
        assert abs(methods.loc[method, "backtest_error_pct"] - error) < D("1e-20")
        assert methods.loc[method, "backtest_months"] == len(complete)


def test_method_rates_and_overlay_move_the_allowance_as_expected(demo_ledger: Path, tmp_path: Path) -> None:
    def total(name: str, **allowance) -> Decimal:
        params_path = write_params(tmp_path, demo_ledger, name=name, allowance=allowance)
        params = load_params(params_path)
        return _allowance(params, params_path).kpis.allowance_total

    base = total("a.yaml")
    doubled = total(
        "b.yaml", rates={"current": 0.01, "1-30": 0.04, "31-60": 0.16, "61-90": 0.4, "91-120": 1, "120+": 1}
    )
    assert base < doubled < 2 * base  # 120+ and 91-120 cannot double past 100%
    roll = total("c.yaml", method="roll_rate")
    overlay = total("d.yaml", method="roll_rate", overlay=1.25)
    assert roll != base and roll < overlay
    assert overlay - roll * D("1.25") < D("1e-15")  # ≤ 25% more (less where a loss rate hits the 100% cap)


_ORACLES: dict[Path, OracleLedger] = {}


def _oracle(folder: Path) -> OracleLedger:
    if folder not in _ORACLES:
        _ORACLES[folder] = OracleLedger(folder)
    return _ORACLES[folder]


def _no_balance_in_a_bucket_ledger(folder: Path, *, with_new_invoice: bool) -> Path:
    """Buckets current, 1-30, 31-60, 60+; lookback 2026-08…2026-10 (rolling from 2026-07-31, 08-31, 09-30).
    X1 (1,000, due 2026-06-15) is in 31-60 at 07-31 and 60+ after, 100 of it written off in October: r̄(31-60 → 60+)
    = 1, r̄(60+ → write-off) = 100 / 2,000 = 5%. Nothing is current or 1-30 at those month-ends: both averages are
    0/0. X2 (500, due 2026-10-20, invoiced 2026-10-01) is 1-30 at D, so its loss rate chains an undefined average."""
    folder.mkdir(parents=True)
    (folder / "customers.csv").write_text("customer_id,name\nK1,Kappa Ltd\n", encoding="utf-8")
    invoices = "invoice_id,customer_id,invoice_date,due_date,amount\nX1,K1,2026-05-01,2026-06-15,1000.00\n"
    if with_new_invoice:
        invoices += "X2,K1,2026-10-01,2026-10-20,500.00\n"
    (folder / "invoices.csv").write_text(invoices, encoding="utf-8")
    (folder / "payments.csv").write_text("payment_id,invoice_id,payment_date,amount\n", encoding="utf-8")
    (folder / "adjustments.csv").write_text(
        "adjustment_id,invoice_id,adjustment_date,kind,amount\nW1,X1,2026-10-10,write_off,100.00\n", encoding="utf-8"
    )
    return folder


ROLL_RATE_3 = {
    "method": "roll_rate",
    "lookback_months": 3,
    "rates": {"current": 0.01, "1-30": 0.05, "31-60": 0.2, "60+": 1.0},
}
ROLL_1_30_UNDEFINED = (
    "the roll rate from 1-30 to 31-60 has nothing to divide by over 2026-08…2026-10: no balance in "
    "1-30 at any month-end of the lookback (2026-07-31…2026-09-30, the month-ends each month rolls "
    "from)"
)


def test_a_roll_rate_of_zero_over_zero_leaves_the_allowance_not_available(tmp_path: Path) -> None:
    """metrics.md § Bad-debt allowance: L_k chains the averages r̄_k…r̄_K; an average with nothing to divide by is
    undefined, not 0. 500 in 1-30 at D depends on r̄(1-30 → 31-60) = 0/0: the allowance (and the expense built on
    it) is not available, never the 45.00 that reading 0/0 as 0 gave (X1's 900 × 5% alone)."""
    from conftest import cli

    ledger = _no_balance_in_a_bucket_ledger(tmp_path / "l", with_new_invoice=True)
    params_path = write_params(tmp_path, ledger, aging={"buckets": [30, 60]}, allowance=ROLL_RATE_3)
    run = cli("metrics", "--params", str(params_path))
    assert run.returncode == 0, run.stderr
    kpis = json.loads(run.stdout)
    assert "allowance_total" not in kpis and "bad_debt_expense" not in kpis
    assert (kpis["allowance_opening"], kpis["write_offs"], kpis["recoveries"]) == (0, 100, 0)

    params = load_params(params_path)
    result = _allowance(params, params_path)
    reason = (
        f"the allowance at 2026-10-31 cannot be computed: {ROLL_1_30_UNDEFINED}; the loss rate of 1-30, which "
        "holds a balance at 2026-10-31, depends on it"
    )
    assert result.unavailable["allowance_total"] == reason
    assert result.unavailable["bad_debt_expense"] == reason
    assert str(result.tables.rollforward) == f"Not available: {reason}."
    assert "allowance_gl_reconciliation" not in result.tables.published()
    matrix = result.tables.matrix
    assert list(matrix["bucket"]) == ["current", "1-30", "31-60", "60+"]
    assert list(matrix["balance"]) == [D(0), D(500), D(0), D(900)]
    assert (matrix["loss_rate"][0], matrix["loss_rate"][1], matrix["loss_rate"][3]) == (None, None, D("0.05"))
    assert list(matrix["allowance"]) == [D(0), None, D(0), D(45)]


def test_a_roll_rate_of_zero_over_zero_no_balance_depends_on_is_shown_as_not_available(tmp_path: Path) -> None:
    """The same lookback without X2: nothing at D depends on the undefined averages, so the allowance is 900 × 5%
    = 45.00 exactly, and the matrix shows the loss rates of current and 1-30 as not available (None), not 0."""
    from conftest import cli

    ledger = _no_balance_in_a_bucket_ledger(tmp_path / "l", with_new_invoice=False)
    params_path = write_params(tmp_path, ledger, aging={"buckets": [30, 60]}, allowance=ROLL_RATE_3)
    run = cli("metrics", "--params", str(params_path))
    assert run.returncode == 0, run.stderr
    kpis = json.loads(run.stdout, parse_float=Decimal)
    assert (kpis["allowance_total"], kpis["allowance_opening"], kpis["bad_debt_expense"]) == (45, 0, 145)

    params = load_params(params_path)
    result = _allowance(params, params_path)
    assert result.kpis.allowance_total == D(45) and "allowance_total" not in result.unavailable
    loss_rates = list(result.tables.loss_rates["loss_rate"])
    assert (loss_rates[0], loss_rates[1], loss_rates[3]) == (None, None, D("0.05"))
    averages = list(result.tables.roll_rates_average["roll_rate_pct"])
    assert (averages[0], averages[1], averages[3]) == (None, None, D(5))
    assert list(result.tables.matrix["allowance"]) == [D(0), D(0), D(0), D(45)]


AS_OF_OCT = dt.date(2026, 10, 31)


def _migration_ledger(folder: Path) -> Path:
    """Buckets current, 1-30, 31-60, 60+ (due-date basis); D = 2026-10-31, the month before ends 2026-09-30.

    ======  ======  ==========  ===================  ====================  ==================================
    item    amount  due         at 09-30             at 10-31              in October
    ======  ======  ==========  ===================  ====================  ==================================
    A       1,000   2026-07-01  60+ (91 days)        60+ 700               written off 200, paid 100
    B         500   2026-08-15  31-60 (46)           60+ 500 (77)          —
    C         400   2026-09-01  1-30 (29)            31-60 250 (60)        paid 150
    E         300   2026-09-30  current (0)          31-60 300 (31)        — (skips 1-30 in a 31-day month)
    F         600   2026-10-15  current              closed                paid 600
    G         200   2026-11-15  current              current 200           —
    H         250   2026-09-20  1-30 (10)            closed                credit note 250
    ======  ======  ==========  ===================  ====================  ==================================
    """
    folder.mkdir(parents=True)
    (folder / "customers.csv").write_text("customer_id,name\nK1,Kappa Ltd\n", encoding="utf-8")
    rows = [
        ("A", "2026-05-01", "2026-07-01", "1000.00"),
        ("B", "2026-07-15", "2026-08-15", "500.00"),
        ("C", "2026-08-01", "2026-09-01", "400.00"),
        ("E", "2026-09-01", "2026-09-30", "300.00"),
        ("F", "2026-09-15", "2026-10-15", "600.00"),
        ("G", "2026-09-20", "2026-11-15", "200.00"),
        ("H", "2026-08-20", "2026-09-20", "250.00"),
    ]
    (folder / "invoices.csv").write_text(
        "invoice_id,customer_id,invoice_date,due_date,amount\n"
        + "".join(f"{i},K1,{d},{due},{a}\n" for i, d, due, a in rows),
        encoding="utf-8",
    )
    (folder / "payments.csv").write_text(
        "payment_id,invoice_id,payment_date,amount\nP1,A,2026-10-20,100.00\nP2,C,2026-10-05,150.00\n"
        "P3,F,2026-10-10,600.00\n",
        encoding="utf-8",
    )
    (folder / "adjustments.csv").write_text(
        "adjustment_id,invoice_id,adjustment_date,kind,amount\nW1,A,2026-10-15,write_off,200.00\n"
        "N1,H,2026-10-12,credit_note,250.00\n",
        encoding="utf-8",
    )
    return folder


def test_item_level_roll_rates_cure_rates_and_migration_by_hand(tmp_path: Path) -> None:
    """metrics.md v1.1: r(current) = E's 300 now in 31-60 / 1,100 (F closed, G still current — the aggregate formula
    read 1-30's 0 at 10-31 over 1,100); r(1-30) = C's 250 / 650; r(31-60) = B's 500 / 500 = 100 % (the aggregate
    formula counted A, already in 60+, too: 1,200 / 500 = 240 %); r(60+) = A's write-off 200 / 1,000 = 20 %.
    Loss rates chain them: 60+ 20 %, 31-60 20 %, 1-30 250/650 × 20 %, current 300/1,100 × 250/650 × 20 % = 3/143.
    Allowance = 200 × 3/143 + 0 + 550 × 20 % + 1,200 × 20 % = 350 + 600/143."""
    ledger = _migration_ledger(tmp_path / "l")
    params_path = write_params(
        tmp_path,
        ledger,
        aging={"buckets": [30, 60]},
        allowance={**ROLL_RATE_3, "lookback_months": 1},
    )
    params = load_params(params_path)
    result = _allowance(params, params_path)
    averages = result.tables.roll_rates_average
    assert list(averages["numerator"]) == [D(300), D(250), D(500), D(200)]
    assert list(averages["denominator"]) == [D(1100), D(650), D(500), D(1000)]
    assert all(rate <= 100 for rate in averages["roll_rate_pct"])
    loss = dict(zip(result.tables.loss_rates["bucket"], result.tables.loss_rates["loss_rate"]))
    assert loss["60+"] == loss["31-60"] == D("0.2")
    assert abs(loss["current"] - D(3) / D(143)) < D("1e-29")
    assert abs(result.kpis.allowance_total - (D(350) + D(600) / D(143))) < D("1e-25")
    # the same sums from the independent oracle
    numerators, denominators = oracle_item_roll_sums(OracleLedger(ledger), AS_OF_OCT, (30, 60), 1)
    assert (numerators, denominators) == (list(averages["numerator"]), list(averages["denominator"]))

    cures = result.tables.cure_rates.set_index("from_bucket")
    expected = {  # rolled on, still open, settled, of which written off
        "current": (300, 200, 600, 0),
        "1-30": (250, 0, 400, 0),
        "31-60": (500, 0, 0, 0),
        "60+": (0, 700, 300, 200),
    }
    for bucket, parts in expected.items():
        row = cures.loc[bucket]
        assert (row["rolled_on"], row["still_open"], row["settled"], row["written_off"]) == tuple(map(D, parts))
        assert row["rolled_on"] + row["still_open"] + row["settled"] == row["bucket_balance"]
    assert abs(cures.loc["current", "settled_pct"] - D(600) / D(1100) * 100) < D("1e-20")

    migration = result.tables.migration
    cells = {
        (f, t): (n, b, a)
        for f, t, n, b, a in zip(
            migration["from_bucket"],
            migration["to_bucket"],
            migration["items"],
            migration["balance_before"],
            migration["balance_now"],
        )
    }
    assert cells == {
        ("current", "current"): (1, D(200), D(200)),
        ("current", "31-60"): (1, D(300), D(300)),
        ("current", "closed"): (1, D(600), D(0)),
        ("1-30", "31-60"): (1, D(400), D(250)),
        ("1-30", "closed"): (1, D(250), D(0)),
        ("31-60", "60+"): (1, D(500), D(500)),
        ("60+", "60+"): (1, D(1000), D(700)),
    }


@profile(8)
@given(tiny_ledgers())
def test_item_level_roll_rates_stay_within_100_pct_and_equal_the_oracle(tiny: Tiny) -> None:
    """On random ledgers (a second currency at times, prepayments, partial payments, credits and write-offs): every
    average roll rate is ≤ 100 % (month-ends at the earlier month-end's rate), the numerators and denominators
    equal the independent oracle's, and where each bucket went adds up to its balance exactly."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        ledger = tiny.write(root / "ledger")
        params_path = write_params(root, ledger, allowance={"method": "roll_rate", "lookback_months": 12})
        params = load_params(params_path)
        result = _allowance(params, params_path)
        averages = result.tables.roll_rates_average
        assert all(rate is None or 0 <= rate <= 100 for rate in averages["roll_rate_pct"])
        numerators, denominators = oracle_item_roll_sums(OracleLedger(ledger), params.as_of)
        assert list(averages["numerator"]) == numerators
        assert list(averages["denominator"]) == denominators
        cures = result.tables.cure_rates
        for row in cures.itertuples():
            assert row.rolled_on + row.still_open + row.settled == row.bucket_balance
            assert row.still_open >= 0 and row.written_off <= row.settled + row.still_open


QUALITATIVE = [
    {"factor": "Recession", "scope": "all", "adjustment_pct": 10, "rationale": "GDP outlook", "approved_by": "CFO"},
    {
        "factor": "Old items",
        "scope": {"bucket": "60+"},
        "adjustment_pct": 25,
        "rationale": "court backlog slows recoveries",
        "approved_by": "Credit committee",
    },
    {
        "factor": "Retail relief",
        "scope": {"segment": ["Retail"]},
        "adjustment_pct": -5,
        "rationale": "government support scheme",
        "approved_by": "CFO",
    },
]


def test_qualitative_factors_by_hand(tmp_path: Path) -> None:
    """metrics.md v1.1 qualitative factors on the migration ledger (one Retail customer), aging rates 1 % / 5 % /
    20 % / 100 %. At 2026-10-31: current 200, 31-60 550, 60+ 1,200 → the method's allowance 2 + 110 + 1,200 =
    1,312. Recession +10 % on all: 0.2 + 11 + 120 = 131.2; Old items +25 % on 60+: 300; Retail relief −5 % on all
    (every item is Retail): −65.6. 60+ would be 1,200 × 1.30 = 1,560 > its balance: capped, −360. Booked: 2.1 +
    115.5 + 1,200 = 1,317.6 = 1,312 + 131.2 + 300 − 65.6 − 360. The recomputed opening (no GL) carries the same
    factors: at 09-30 current 1,100 → 11 × 1.05, 1-30 650 → 32.5 × 1.05, 31-60 500 → 100 × 1.05, 60+ 1,000 →
    capped at 1,000: 1,150.675; expense = 1,317.6 − 1,150.675 + 200 written off = 366.925."""
    ledger = _migration_ledger(tmp_path / "l")
    (ledger / "customers.csv").write_text("customer_id,name,segment\nK1,Kappa Ltd,Retail\n", encoding="utf-8")
    params_path = write_params(
        tmp_path,
        ledger,
        aging={"buckets": [30, 60]},
        allowance={"rates": ROLL_RATE_3["rates"], "qualitative": QUALITATIVE},
    )
    params = load_params(params_path)
    result = _allowance(params, params_path)
    waterfall = list(zip(result.tables.waterfall["line"], result.tables.waterfall["amount"]))
    assert waterfall == [
        ("Quantitative allowance (aging rates)", D("1312")),
        ("Recession", D("131.2")),
        ("Old items", D("300")),
        ("Retail relief", D("-65.6")),
        ("Capped at balance / floored at 0", D("-360")),
        ("Allowance booked", D("1317.6")),
    ]
    assert sum(a for _, a in waterfall[:-1]) == waterfall[-1][1]  # exact
    assert sum(result.tables.matrix["allowance"]) == D(1312)  # the provision matrix stays the method's
    kpis = result.kpis
    assert (kpis.allowance_total, kpis.allowance_opening, kpis.bad_debt_expense) == (
        D("1317.6"),
        D("1150.675"),
        D("366.925"),
    )
    register = result.tables.qualitative.set_index("factor")
    assert list(register.index) == ["Recession", "Old items", "Retail relief"]
    assert register.loc["Old items", "scope"] == "bucket 60+"
    assert register.loc["Old items", "balance_in_scope"] == D(1200)
    assert register.loc["Old items", "allowance_in_scope"] == D(1200)
    assert register.loc["Retail relief", "approved_by"] == "CFO"
    lines = list(result.tables.rollforward["amount"])
    assert lines[-1] == D("1317.6") and sum(lines[:-1]) == lines[-1]


def test_without_qualitative_factors_the_booked_allowance_is_the_methods(tmp_path: Path) -> None:
    ledger = _migration_ledger(tmp_path / "l")
    params_path = write_params(tmp_path, ledger, aging={"buckets": [30, 60]}, allowance={"rates": ROLL_RATE_3["rates"]})
    params = load_params(params_path)
    result = _allowance(params, params_path)
    assert result.kpis.allowance_total == D(1312) and result.tables.qualitative.empty
    assert list(result.tables.waterfall["amount"]) == [D(1312), D(1312)]


@pytest.mark.parametrize(
    ("factor", "expected"),
    [
        ({"scope": {"bucket": "90+"}}, "allowance.qualitative.0.scope.bucket: 90+ is not an aging bucket"),
        ({"scope": {"region": "EMEA"}}, "allowance.qualitative.0.scope: Value error, write `all`"),
        ({"rationale": " "}, "allowance.qualitative.0.rationale: Value error, must not be empty"),
        ({"approved_by": ""}, "allowance.qualitative.0.approved_by"),
        ({"owner": "me"}, "allowance.qualitative.0.owner: unknown key"),
        ({"adjustment_pct": -101}, "allowance.qualitative.0.adjustment_pct"),
    ],
)
def test_a_bad_qualitative_factor_exits_2_naming_the_key(tmp_path: Path, factor: dict, expected: str) -> None:
    from conftest import cli

    ledger = _migration_ledger(tmp_path / "l")
    entry = {**QUALITATIVE[0], **factor}
    params_path = write_params(
        tmp_path, ledger, aging={"buckets": [30, 60]}, allowance={"rates": ROLL_RATE_3["rates"], "qualitative": [entry]}
    )
    run = cli("metrics", "--params", str(params_path))
    assert run.returncode == 2 and expected in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


# ------------------------------------------------------------------------------------------ vintage (chain ladder)

#: the "RAA" triangle (RAA Historical Loss Development Study 1991; Mack 1994): cumulative losses of accident years
#: 1981–1990 by development year (chainladder-python's chainladder/utils/data/raa.csv; tests/worked_examples.md § 7)
RAA = [
    [5012, 8269, 10907, 11805, 13539, 16181, 18009, 18608, 18662, 18834],
    [106, 4285, 5396, 10666, 13782, 15599, 15496, 16169, 16704],
    [3410, 8992, 13873, 16141, 18735, 22214, 22863, 23466],
    [5655, 11555, 15766, 21266, 23425, 26083, 27067],
    [1092, 9565, 15836, 22169, 25955, 26180],
    [1513, 6445, 11702, 12935, 15852],
    [557, 4020, 10946, 12314],
    [1351, 6947, 13112],
    [3133, 5395],
    [2063],
]


def _raa_ledger(folder: Path) -> Path:
    """The RAA triangle as a ledger: accident year k → invoice month 2026-01 + k (one invoice of 10,000,000, so no
    cohort's allowance is capped), development year a → month a after it; each cell's increment is a write-off dated
    the 20th of that month (the one negative increment, 1982's 15,599 → 15,496, a recovery of 103). As of
    2026-10-31 cohort k is observed for 10 − k months: exactly the triangle."""
    folder.mkdir(parents=True)
    (folder / "customers.csv").write_text("customer_id,name\nK1,Raa Re\n", encoding="utf-8")
    invoices, adjustments = [], []
    for k, row in enumerate(RAA):
        month = dt.date(2026, 1 + k, 1)
        invoices.append(f"R{k},K1,{month},{month + dt.timedelta(days=30)},10000000.00")
        for age, value in enumerate(row):
            increment = value - (row[age - 1] if age else 0)
            when = dt.date(2026, 1 + k + age, 20)
            kind = "write_off" if increment >= 0 else "recovery"
            adjustments.append(f"A{k}-{age},R{k},{when},{kind},{abs(increment)}.00")
    (folder / "invoices.csv").write_text(
        "invoice_id,customer_id,invoice_date,due_date,amount\n" + "\n".join(invoices) + "\n", encoding="utf-8"
    )
    (folder / "payments.csv").write_text("payment_id,invoice_id,payment_date,amount\n", encoding="utf-8")
    (folder / "adjustments.csv").write_text(
        "adjustment_id,invoice_id,adjustment_date,kind,amount\n" + "\n".join(adjustments) + "\n", encoding="utf-8"
    )
    return folder


def test_the_raa_triangle_gives_the_chain_ladder_reserve(tmp_path: Path) -> None:
    """RAA (ChainLadder's MackChainLadder output): volume-weighted factors 2.999, 1.624, 1.271, 1.172, 1.113, 1.042,
    1.033, 1.017, 1.009, ultimates 18,834 … 18,402 and total IBNR 52,135.23 — here the vintage allowance (ultimate −
    losses to date per cohort, none capped)."""
    ledger = _raa_ledger(tmp_path / "l")
    params_path = write_params(tmp_path, ledger, allowance={"method": "vintage", "lookback_months": 12})
    params = load_params(params_path)
    result = _allowance(params, params_path)
    factors = [f.quantize(D("0.001")) for f in result.tables.vintage_factors["age_to_age_factor"]]
    expected = ["2.999", "1.624", "1.271", "1.172", "1.113", "1.042", "1.033", "1.017", "1.009"]
    assert factors == list(map(D, expected))
    assert result.kpis.allowance_total.quantize(CENT, rounding=decimal.ROUND_HALF_UP) == D("52135.23")
    assert abs(result.kpis.allowance_total - oracle_vintage(OracleLedger(ledger), AS_OF_OCT)) < D("1e-20")
    cohorts = result.tables.vintage_cohorts
    assert list(cohorts["losses"]) == [D(row[-1]) for row in RAA]
    ultimates = [18834, 16858, 24083, 28703, 28927, 19501, 17749, 24019, 16045, 18402]
    assert [u.quantize(D(1), rounding=decimal.ROUND_HALF_UP) for u in cohorts["ultimate_losses"]] == list(
        map(D, ultimates)
    )


@pytest.mark.parametrize("as_of", ["2026-08-31", "2026-04-30", "2026-01-31"])
def test_vintage_matches_the_oracle_on_the_demo(demo_ledger: Path, tmp_path: Path, as_of: str) -> None:
    """The small demo's write-offs: at 2026-08-31 and 2026-04-30 some cohorts are still developing; at 2026-01-31 a
    factor has losses appearing where the cohorts had lost nothing (Σ L(c, a) = 0) on a cohort with losses and an
    open balance: not available, for both."""
    params_path = write_params(tmp_path, demo_ledger, as_of=as_of, allowance={"method": "vintage"})
    params = load_params(params_path)
    result = _allowance(params, params_path)
    expected = oracle_vintage(_oracle(demo_ledger), dt.date.fromisoformat(as_of))
    if as_of == "2026-01-31":
        assert expected is None and result.kpis.allowance_total is None
        assert "cannot be developed by a ratio" in result.unavailable["allowance_total"]
        return
    assert expected is not None and expected > 0
    assert result.kpis.allowance_total.quantize(CENT) == expected.quantize(CENT)
    methods = result.tables.methods.set_index("allowance_method")
    assert bool(methods.loc["vintage", "booked"]) and methods.loc["vintage", "allowance"] == result.kpis.allowance_total
    lines = list(result.tables.rollforward["amount"])
    assert sum(lines[:-1]) == lines[-1] == result.kpis.allowance_total


def test_vintage_through_the_command_line_needs_write_offs(tiny_ledger: Path, tmp_path: Path) -> None:
    """`allowance.method: vintage` on the minimal ledger: with its adjustments table (a credit note, no write-off)
    no cohort has lost anything, so the allowance is 0 and the rollforward adds up; without the table the
    allowance is left out (never a 0 that stands for "no data"), as for roll rates."""
    from conftest import cli

    run = cli("metrics", "--params", str(write_params(tmp_path, tiny_ledger, allowance={"method": "vintage"})))
    assert run.returncode == 0, run.stderr
    kpis = json.loads(run.stdout, parse_float=Decimal)
    assert kpis["allowance_total"] == 0 and "bad_debt_expense" in kpis
    (tiny_ledger / "adjustments.csv").unlink()
    params = write_params(tmp_path, tiny_ledger, allowance={"method": "vintage"}, name="without.yaml")
    run = cli("metrics", "--params", str(params))
    assert run.returncode == 0, run.stderr
    kpis = json.loads(run.stdout, parse_float=Decimal)
    assert "allowance_total" not in kpis and "allowance_opening" not in kpis and "ar_total" in kpis


def test_qualitative_factors_apply_to_the_vintage_allowance(tmp_path: Path) -> None:
    """The RAA ledger booked on the vintage method with a factor of +10 % on everything and one of −100 % on the
    120+ bucket: each cohort's allowance follows its items into their bucket, so the cohorts invoiced 2026-01 …
    2026-06 (past 120 days at 2026-10-31) keep 1 + 10 % − 100 % = 10 % of theirs, the younger ones 110 %."""
    ledger = _raa_ledger(tmp_path / "l")
    factors = [
        {"factor": "Outlook", "scope": "all", "adjustment_pct": 10, "rationale": "r", "approved_by": "CFO"},
        {
            "factor": "Collected",
            "scope": {"bucket": "120+"},
            "adjustment_pct": -100,
            "rationale": "r",
            "approved_by": "CFO",
        },
    ]
    params_path = write_params(
        tmp_path, ledger, allowance={"method": "vintage", "lookback_months": 12, "qualitative": factors}
    )
    params = load_params(params_path)
    result = _allowance(params, params_path)
    cohorts = result.tables.vintage_cohorts
    by_cohort = dict(zip(cohorts["cohort"], cohorts["allowance"]))
    waterfall = dict(zip(result.tables.waterfall["line"], result.tables.waterfall["amount"]))
    assert abs(waterfall["Quantitative allowance (vintage)"] - sum(by_cohort.values())) < D("1e-20")
    young = sum(a for c, a in by_cohort.items() if c >= dt.date(2026, 7, 1))
    old = sum(a for c, a in by_cohort.items() if c < dt.date(2026, 7, 1))
    assert abs(result.kpis.allowance_total - (young * D("1.1") + old * D("0.1"))) < D("1e-20")
    assert sum(list(waterfall.values())[:-1]) == waterfall["Allowance booked"] == result.kpis.allowance_total


_DAYS = st.integers(min_value=0, max_value=20).map(lambda n: dt.date(2026, 1, 1) + dt.timedelta(days=n))


@settings(max_examples=60, deadline=None)
@given(
    payments=st.lists(st.tuples(st.sampled_from("abc"), _DAYS), max_size=30),
    keys=st.lists(st.tuples(st.sampled_from("abcd"), _DAYS), min_size=1, max_size=12, unique=True),
)
def test_last_payments_are_each_customers_latest_on_or_before_each_date(
    payments: list[tuple[str, dt.date]], keys: list[tuple[str, dt.date]]
) -> None:
    """last_payments (one pass over the payments, by intervals between the dates) gives, for every (customer, date),
    the customer's latest payment dated on or before it — what joining every payment of the customer to the date
    gives — and leaves out pairs without one."""
    import ibis
    import pandas as pd

    from collections_mi.metrics.allowance import last_payments

    paid = ibis.memtable(
        pd.DataFrame(payments, columns=["customer_id", "payment_date"]),
        schema=ibis.schema({"customer_id": "string", "payment_date": "date"}),
    )
    asked = ibis.memtable(
        pd.DataFrame(keys, columns=["key_customer_id", "key_as_of"]),
        schema=ibis.schema({"key_customer_id": "string", "key_as_of": "date"}),
    )
    frame = last_payments(paid, asked).to_pyarrow().to_pylist()
    got = {(row["key_customer_id"], row["key_as_of"]): row["last_payment"] for row in frame}
    expected = {}
    for customer, day in keys:
        dates = [paid_on for who, paid_on in payments if who == customer and paid_on <= day]
        if dates:
            expected[(customer, day)] = max(dates)
    assert len(got) == len(frame) and got == expected
