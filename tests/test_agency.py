"""Agency performance (shared/metrics.md § Agency performance): the CCAA net-back comparison rebuilt as a ledger,
recalls and future rows, liquidation curves, and the champion/challenger test against scipy's Welch t-test."""

from __future__ import annotations

import math
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collections_mi.config.params import load_params
from collections_mi.metrics.agency import champion_challenger, compute_agency
from collections_mi.metrics.book import open_book
from collections_mi.sources.ledger import open_ledger

from conftest import write_params

D = Decimal


def _ledger(folder: Path, placements: list[str], collections: list[str]) -> Path:
    folder.mkdir(parents=True)
    (folder / "customers.csv").write_text("customer_id,name\nK1,One\nK2,Two\nK3,Three\n", encoding="utf-8")
    (folder / "invoices.csv").write_text(
        "invoice_id,customer_id,invoice_date,due_date,amount\nI1,K1,2025-01-01,2025-01-31,10.00\n", encoding="utf-8"
    )
    (folder / "payments.csv").write_text("payment_id,invoice_id,payment_date,amount\n", encoding="utf-8")
    (folder / "agencies.csv").write_text(
        "agency_id,name,strategy\nA,Agency A,champion\nB,Agency B,challenger\n", encoding="utf-8"
    )
    (folder / "agency_placements.csv").write_text(
        "placement_id,agency_id,customer_id,placed_date,placed_amount,fee_rate,recalled_date\n"
        + "\n".join(placements)
        + "\n",
        encoding="utf-8",
    )
    (folder / "agency_collections.csv").write_text(
        "collection_id,placement_id,collection_date,amount\n" + "\n".join(collections) + "\n", encoding="utf-8"
    )
    return folder


def _compute(params_path: Path):
    params = load_params(params_path)
    with open_book(open_ledger(params, params_path), params) as book:
        return compute_agency(book, params)


def test_ccaa_net_back_comparison(tmp_path: Path) -> None:
    """Commercial Collection Agency Association article, as republished by IRGUS ("Contingency Rates and Rate of
    Return – How To Choose a Collection Agency"): $200,000 placed with each agency; A at 15% collects $20,000 (fees
    $3,000, net back $17,000); B at 25% collects $60,000 (fees $15,000, net back $45,000) — "Agency B returned
    $28,000 more". Liquidation 10% and 30%."""
    ledger = _ledger(
        tmp_path / "l",
        ["PA,A,K1,2026-01-15,200000.00,0.15,", "PB,B,K2,2026-01-15,200000.00,0.25,"],
        [
            "CA1,PA,2026-02-10,12000.00",
            "CA2,PA,2026-04-10,8000.00",
            "CB1,PB,2026-02-10,35000.00",
            "CB2,PB,2026-05-10,25000.00",
        ],
    )
    result = _compute(write_params(tmp_path, ledger, as_of="2026-10-31"))
    league = result.tables.league.set_index("agency_id")
    assert (league.loc["A", "collected"], league.loc["A", "fees"], league.loc["A", "net_back"]) == (
        D(20000),
        D(3000),
        D(17000),
    )
    assert (league.loc["B", "collected"], league.loc["B", "fees"], league.loc["B", "net_back"]) == (
        D(60000),
        D(15000),
        D(45000),
    )
    assert league.loc["B", "net_back"] - league.loc["A", "net_back"] == D(28000)
    assert (league.loc["A", "liquidation_pct"], league.loc["B", "liquidation_pct"]) == (D(10), D(30))
    assert dict(result.kpis.items()) == {
        "agency_placed": D(400000),
        "agency_collected": D(80000),
        "agency_fees": D(18000),
        "agency_net_back": D(62000),
        "agency_liquidation_pct": D(20),
    }
    assert list(result.tables.league["agency_id"]) == ["B", "A"]  # ranked by net-back


def test_rows_after_as_of_are_ignored_and_curves_stop_at_recall(tmp_path: Path) -> None:
    ledger = _ledger(
        tmp_path / "l",
        [
            "P1,A,K1,2026-01-10,1000.00,0.2,2026-03-20",
            "P2,B,K2,2026-01-20,1000.00,0.3,",
            "P3,B,K3,2026-11-05,500.00,0.3,",
        ],  # placed after as_of: ignored
        [
            "C1,P1,2026-02-01,100.00",
            "C2,P1,2026-03-25,50.00",  # after recall: not in the curve
            "C3,P2,2026-01-25,200.00",
            "C4,P2,2026-11-02,300.00",
        ],
    )  # after as_of: ignored
    result = _compute(write_params(tmp_path, ledger, as_of="2026-10-31"))
    assert result.kpis.agency_placed == D(2000)
    assert result.kpis.agency_collected == D(350)
    curve = result.tables.liquidation_curves
    january = curve[curve["cohort"].astype(str) == "2026-01-01"].set_index("months_since")
    assert january.loc[0, "collected_cumulative"] == D(200)  # P2 in January
    assert january.loc[1, "collected_cumulative"] == D(300)  # + P1 in February
    assert january.loc[9, "collected_cumulative"] == D(300)  # P1's post-recall 50 never accrues
    assert january.loc[9, "liquidation_pct"] == D(15)
    league = result.tables.league.set_index("agency_id")
    assert league.loc["A", "recall_rate_pct"] == D(100) and league.loc["B", "avg_days_to_first_collection"] == D(5)


def test_champion_challenger_matches_scipy_welch() -> None:
    from scipy import stats

    champion = [10.0, 12.5, 8.0, 15.0, 11.0, 9.5, 13.0]
    challenger = [14.0, 16.5, 12.0, 19.0, 13.5, 17.0]
    sample = pd.DataFrame(
        {"strategy": ["champion"] * 7 + ["challenger"] * 6, "horizon_pct": [D(str(v)) for v in champion + challenger]}
    )
    result = champion_challenger(sample, 6)
    expected = stats.ttest_ind(challenger, champion, equal_var=False)
    assert result.t_statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    ci = expected.confidence_interval(0.95)
    assert (result.ci_low, result.ci_high) == (pytest.approx(ci.low, rel=1e-9), pytest.approx(ci.high, rel=1e-9))
    assert result.p_value < 0.05 and "significant" in result.verdict and "challenger" in result.verdict


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 10_000), min_size=2, max_size=30),
    st.lists(st.integers(0, 10_000), min_size=2, max_size=30),
)
def test_champion_challenger_is_scipy_stats_bit_for_bit(champion: list[int], challenger: list[int]) -> None:
    """The p-value, the interval and the placements needed are scipy.stats's own (t.sf, t.ppf, norm.ppf), to the
    last bit, though computed through scipy.special (0.6 s less to import on every run with agency data)."""
    from scipy import stats

    horizon = [D(v) / 100 for v in champion + challenger]
    sample = pd.DataFrame({"strategy": ["champion"] * len(champion) + ["challenger"] * len(challenger)})
    result = champion_challenger(sample.assign(horizon_pct=horizon), 6)
    first, second = [float(v) / 100 for v in champion], [float(v) / 100 for v in challenger]
    n1, n2 = len(first), len(second)
    m1, m2 = sum(first) / n1, sum(second) / n2
    v1 = sum((x - m1) ** 2 for x in first) / (n1 - 1)
    v2 = sum((x - m2) ** 2 for x in second) / (n2 - 1)
    if v1 == v2 == 0:
        assert result.p_value is None and "undefined" in result.verdict
        return
    se = math.sqrt(v1 / n1 + v2 / n2)
    df = (v1 / n1 + v2 / n2) ** 2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    assert result.p_value == float(2 * stats.t.sf(abs((m2 - m1) / se), df))
    margin = float(stats.t.ppf(0.975, df)) * se
    assert (result.ci_low, result.ci_high) == (m2 - m1 - margin, m2 - m1 + margin)
    pooled = math.sqrt(((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2))
    z = float(stats.norm.ppf(0.975) + stats.norm.ppf(0.8))
    assert result.needed_per_group == (math.ceil(2 * (z * pooled / (m2 - m1)) ** 2) if m2 != m1 else None)


def test_the_agency_section_does_not_import_scipy_stats() -> None:
    """scipy.stats costs ~0.6 s to import: the champion/challenger test needs only scipy.special."""
    code = (
        "import sys, pandas as pd; from decimal import Decimal as D\n"
        "from collections_mi.metrics.agency import champion_challenger\n"
        "sample = pd.DataFrame({'strategy': ['champion'] * 3 + ['challenger'] * 3,"
        " 'horizon_pct': [D(10), D(20), D(15), D(12), D(22), D(17)]})\n"
        "assert champion_challenger(sample, 6).p_value is not None\n"
        "print('scipy.stats' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_champion_challenger_not_yet_significant_says_how_many_are_needed() -> None:
    sample = pd.DataFrame(
        {"strategy": ["champion"] * 3 + ["challenger"] * 3, "horizon_pct": [D(10), D(20), D(15), D(12), D(22), D(17)]}
    )
    result = champion_challenger(sample, 6)
    assert result.p_value > 0.05 and result.verdict.startswith("Not yet significant")
    assert result.needed_per_group is not None and result.needed_per_group > 3


@pytest.mark.parametrize("as_of", ["2026-10-31", "2025-12-31"])
def test_demo_agencies_match_the_oracle(demo_ledger: Path, tmp_path: Path, as_of: str) -> None:
    from oracle import agency_totals

    result = _compute(write_params(tmp_path, demo_ledger, as_of=as_of, name="p.yaml"))
    expected = agency_totals(demo_ledger, __import__("datetime").date.fromisoformat(as_of))
    for kpi, value in expected.items():
        assert result.kpis.value(kpi).quantize(D("1e-10")) == value.quantize(D("1e-10")), kpi
    league = result.tables.league
    assert sum(league["net_back"]) == result.kpis.agency_net_back
    assert expected["agency_collected"] > 0
