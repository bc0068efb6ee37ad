"""Watch-list reserves (shared/metrics.md § Watch-list reserves): published impaired-loan arithmetic and the
definitions, then an independent oracle on the demo loan book."""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal

from collections_mi.metrics.watchlist import (
    cash_flow_reserve,
    collateral_reserve,
    general_reserve,
    present_value,
)

D = Decimal
CENT = D("0.01")


def test_kieso_style_impairment_of_a_non_interest_bearing_note() -> None:
    """Kieso, Weygandt & Warfield, Intermediate Accounting, appendix "Impairments" pattern (as worked in "Accounting
    for Loan Impairments [Case Example]", centre-potential.ru, 2009): a $1,000,000 five-year non-interest-bearing note
    at a 10% yield; two years in, only $800,000 is expected at maturity, three years ahead.
    Exactly: carrying amount 1,000,000 / 1.1³ = 751,314.80; PV of 800,000 = 800,000 / 1.1³ = 601,051.84;
    impairment 150,262.96. (The source prints 751,312.20 − 601,056.00 = 150,256.20 using 5-digit table factors.)"""
    as_of = dt.date(2008, 12, 31)
    maturity = as_of + dt.timedelta(days=3 * 365)  # t = 1095 / 365 = 3 years exactly
    carrying = (D(1000000) / D("1.1") ** 3).quantize(CENT)
    assert carrying == D("751314.80")
    pv = present_value([(maturity, D(800000))], D("0.10"), as_of)
    assert pv.quantize(CENT) == D("601051.84")
    assert cash_flow_reserve(carrying, pv).quantize(CENT) == D("150262.96")
    # with the source's table factor 0.75132 the same arithmetic gives its printed figures
    assert D("751312.20") - D(800000) * D("0.75132") == D("150256.20")


def test_present_value_uses_fractional_years_of_365_days() -> None:
    as_of = dt.date(2026, 10, 31)
    flows = [(as_of + dt.timedelta(days=73), D(1000)), (as_of + dt.timedelta(days=438), D(1000))]
    expected = D(1000) / D("1.08") ** (D(73) / 365) + D(1000) / D("1.08") ** (D(438) / 365)
    assert abs(present_value(flows, D("0.08"), as_of) - expected) < D("1e-20")
    assert cash_flow_reserve(D(1500), D(1600)) == 0  # never negative


def test_collateral_dependent_reserve_is_fair_value_less_costs_to_sell() -> None:
    """Interagency Policy Statement on the ALLL (2006) / ASC 310-10-35-22: a collateral-dependent loan is measured at
    the collateral's fair value less estimated costs to sell. Balance 1,000,000; collateral 900,000; costs 8% →
    net 828,000 → reserve 172,000; well-secured loans carry none."""
    assert collateral_reserve(D(1000000), D(900000), D("0.08")) == D(172000)
    assert collateral_reserve(D(500000), D(900000), D("0.08")) == 0


def test_general_reserve_by_grade() -> None:
    rates = {"pass": D("0.01"), "substandard": D("0.15")}
    assert general_reserve(D("200000.00"), "substandard", rates) == D("30000.0000")
    assert general_reserve(D("200000.00"), "pass", rates) == D("2000.0000")


def test_demo_loan_book_matches_the_oracle(demo_ledger, tmp_path) -> None:
    from collections_mi.config.params import load_params
    from collections_mi.metrics.book import open_book
    from collections_mi.metrics.watchlist import compute_watchlist
    from collections_mi.sources.ledger import open_ledger

    from conftest import write_params
    from oracle import watchlist_reserves

    for as_of in ("2026-10-31", "2026-06-30"):
        params_path = write_params(tmp_path, demo_ledger, as_of=as_of, name=f"{as_of}.yaml")
        params = load_params(params_path)
        with open_book(open_ledger(params, params_path), params) as book:
            result = compute_watchlist(book, params)
        expected = watchlist_reserves(demo_ledger, params.as_of, dict(params.watchlist.general_rates))
        assert result.kpis.watchlist_loans == expected["watchlist_loans"] > 0
        for kpi in ("watchlist_balance", "specific_reserve", "general_reserve", "total_reserve"):
            assert result.kpis.value(kpi).quantize(CENT) == expected[kpi].quantize(CENT), (as_of, kpi)
        assert expected["specific_reserve"] > 0
        lines = list(result.tables.reserve_rollforward["amount"])
        with decimal.localcontext(decimal.Context(prec=100)):
            assert sum(lines[:-1]) == lines[-1] == result.kpis.total_reserve


def test_reserve_sensitivity_by_hand() -> None:
    """Three loans: L1 on collateral (balance 1,000, collateral 1,000, cost to sell 10 % → net 900, reserve 100);
    L2 on the general reserve, grade substandard (balance 2,000 × 15 % = 300); L3 closed (no reserve). Collateral
    10 % lower: 1,000 − 900 × 0.9 = 190 (+90); 20 % lower: 1,000 − 800 × 0.9 = 280 (+180). One grade worse: L2
    doubtful, 2,000 × 50 % = 1,000 (+700); L1's specific reserve does not move."""
    import pandas as pd

    from collections_mi.metrics.watchlist import reserve_sensitivity

    rates = {
        "pass": D("0.01"),
        "special_mention": D("0.05"),
        "substandard": D("0.15"),
        "doubtful": D("0.5"),
        "loss": D(1),
    }
    frame = pd.DataFrame(
        [
            ("L1", D(1000), "substandard", "performing", "collateral", D(1000), D("0.1"), D(100), "specific", False),
            ("L2", D(2000), "substandard", "performing", None, None, None, D(300), "general", True),
            ("L3", D(500), "loss", "closed", None, None, None, D(0), "none (closed)", False),
        ],
        columns=[
            "loan_id",
            "balance",
            "risk_grade",
            "status",
            "impairment_method",
            "collateral_value",
            "cost_to_sell_rate",
            "reserve",
            "reserve_kind",
            "on_watch_list",
        ],
    )
    table = reserve_sensitivity(frame, rates)
    rows = {r.scenario: (r.specific_reserve, r.general_reserve, r.total_reserve, r.change) for r in table.itertuples()}
    assert rows == {
        "Reserve booked": (D(100), D(300), D(400), D(0)),
        "Collateral values 10% lower": (D(190), D(300), D(490), D(90)),
        "Collateral values 20% lower": (D(280), D(300), D(580), D(180)),
        "Every loan one grade worse": (D(100), D(1000), D(1100), D(700)),
    }
    assert table["change_pct"].iloc[3] == D(175)
