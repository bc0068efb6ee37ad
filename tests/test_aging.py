"""Aging (shared/metrics.md § Aging): hand-checked ledger, bucket boundaries, a published example, and an
independent oracle (tests/oracle.py) on generated ledgers for many as-of dates, both bases, CSV and Parquet."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from collections_mi.config.params import load_params
from collections_mi.metrics.aging import compute_aging
from collections_mi.metrics.book import open_book
from collections_mi.sources.ledger import open_ledger

from conftest import write_params
from oracle import Ledger as OracleLedger
from oracle import aging as oracle_aging


def compute(params_path: Path):
    params = load_params(params_path)
    ledger = open_ledger(params, params_path)
    with open_book(ledger, params) as book:
        return compute_aging(book, params)


def buckets(result) -> dict[str, Decimal]:
    return dict(zip(result.tables.buckets["bucket"], result.tables.buckets["amount"]))


def test_tiny_ledger_by_hand(tiny_ledger: Path, tmp_path: Path) -> None:
    # Open at 2026-10-31 (fx EUR 1.08 dated Fri 2026-10-30; 31st is a Saturday):
    #   I1 1000 − 400 paid = 600 USD, due 08-31 → 61 dpd;  I2 500 (blank currency = USD), due 11-14 → current
    #   I3 250.50 USD disputed, due 05-31 → 153 dpd;       I4 800 − 100 credit note = 700 EUR = 756.00, 11 dpd
    #   I5 fully paid → closed;  I6 dated 11-05 → after as_of, ignored;
    #   I7 200 EUR (paid 11-02, after as_of) = 216.00, 83 dpd
    result = compute(write_params(tmp_path, tiny_ledger))
    kpis = dict(result.kpis.items())
    hhi = kpis.pop("hhi")
    assert kpis == {
        "ar_total": Decimal("2322.50"),
        "open_items": 5,
        "past_due_total": Decimal("1822.50"),
        "top10_share_pct": Decimal(100),  # three customers
        # no disputes / unapplied_cash tables: not available (kpis.json omits them)
        "unapplied_cash_total": None,
        "ar_net": None,
        "disputes_open": None,
        "disputed_open_total": None,
        "dispute_days_to_resolve": None,
    }
    # C1 1,100 (I1 600 + I2 500), C2 250.50, C3 972 (EUR 900 × 1.08): (1,100² + 250.5² + 972²) / 2,322.5² × 10,000
    assert hhi.quantize(Decimal("1e-20")) == (Decimal("2217534.25") / Decimal("5394006.25") * 10000).quantize(
        Decimal("1e-20")
    )
    assert buckets(result) == {
        "current": Decimal("500"),
        "1-30": Decimal("756"),
        "31-60": Decimal("0"),
        "61-90": Decimal("816"),
        "91-120": Decimal("0"),
        "120+": Decimal("250.50"),
    }
    assert list(result.tables.buckets["items"]) == [1, 1, 0, 2, 0, 1]
    assert sum(result.tables.buckets["share_pct"]) == Decimal("100")
    by_currency = result.tables.by_currency.set_index("currency")
    assert by_currency.loc["EUR", "amount_original"] == Decimal("900") and by_currency.loc["EUR", "rate"] == Decimal(
        "1.08"
    )
    assert list(result.tables.over_credit_limit["customer_id"]) == ["C1"]  # 1,100 open vs 1,000 limit
    assert result.tables.over_credit_limit["over_limit"].iloc[0] == Decimal("100")
    assert list(result.tables.disputed_items["invoice_id"]) == ["I3"]
    recon = result.tables.reconciliation.set_index("check")
    assert recon.loc["GL ar_control", "status"] == "ok" and recon.loc["GL ar_control", "difference"] == 0


def test_back_dated_pack_ignores_later_rows(tiny_ledger: Path, tmp_path: Path) -> None:
    # At 2026-09-30: I1 600 (30 dpd), I3 250.50, I4 800 EUR × 1.10 = 880 (not due), I5 300 (not due), I7 200 EUR = 220
    result = compute(write_params(tmp_path, tiny_ledger, as_of="2026-09-30"))
    kpis = dict(result.kpis.items())
    hhi = kpis.pop("hhi")
    assert kpis == {
        "ar_total": Decimal("2250.50"),
        "open_items": 5,
        "past_due_total": Decimal("1070.50"),
        "top10_share_pct": Decimal(100),
        "unapplied_cash_total": None,
        "ar_net": None,
        "disputes_open": None,
        "disputed_open_total": None,
        "dispute_days_to_resolve": None,
    }
    # C1 600, C2 550.50 (I3 250.50 + I5 300), C3 1,100 (EUR 1,000 × 1.10): (600² + 550.5² + 1,100²) / 2,250.5² × 10,000
    assert hhi.quantize(Decimal("1e-20")) == (Decimal("1873050.25") / Decimal("5064750.25") * 10000).quantize(
        Decimal("1e-20")
    )
    assert buckets(result)["1-30"] == Decimal("600")  # exactly 30 days past due is still 1-30


def test_rollforward_adds_up_and_fx_revaluation_is_explained(tiny_ledger: Path, tmp_path: Path) -> None:
    result = compute(write_params(tmp_path, tiny_ledger))
    lines = dict(zip(result.tables.rollforward["line"], result.tables.rollforward["amount"]))
    assert lines["Opening AR (2026-09-30)"] == Decimal("2250.50")
    assert lines["+ Credit sales"] == Decimal("500")  # I2 (I6 is dated after as_of)
    assert lines["− Cash applied"] == Decimal("-300")  # P2 on I5
    assert lines["− Credit notes"] == Decimal("-110")  # 100 EUR at the 10-05 rate 1.10
    assert lines["± FX revaluation"] == Decimal("-18")  # 900 EUR re-measured 1.10 → 1.08
    values = list(lines.values())
    assert sum(values[:-1]) == values[-1] == Decimal("2322.50")


def _ledger_with_ages(folder: Path, as_of: dt.date, days_past_due: list[int], amount: str = "100.00") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "customers.csv").write_text("customer_id,name\nK1,Boundary Ltd\n", encoding="utf-8")
    lines = ["invoice_id,customer_id,invoice_date,due_date,amount"]
    for number, age in enumerate(days_past_due):
        due = as_of - dt.timedelta(days=age)
        lines.append(f"B{number},K1,{due - dt.timedelta(days=30)},{due},{amount}")
    (folder / "invoices.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "payments.csv").write_text("payment_id,invoice_id,payment_date,amount\n", encoding="utf-8")
    return folder


def test_bucket_boundaries(tmp_path: Path) -> None:
    as_of = dt.date(2026, 10, 31)
    ledger = _ledger_with_ages(tmp_path / "l", as_of, [-5, 0, 1, 30, 31, 60, 61, 90, 91, 120, 121, 400])
    counts = dict(zip(*(compute(write_params(tmp_path, ledger)).tables.buckets[c] for c in ("bucket", "items"))))
    assert counts == {"current": 2, "1-30": 2, "31-60": 2, "61-90": 2, "91-120": 2, "120+": 2}


def test_invoice_date_basis_has_no_current_bucket(tmp_path: Path) -> None:
    as_of = dt.date(2026, 10, 31)
    # invoice dated 30 days before due: days since invoice = days past due + 30
    ledger = _ledger_with_ages(tmp_path / "l", as_of, [-30, -1, 0, 1, 30, 91])
    rates = {"0-30": 0.01, "31-60": 0.05, "61-90": 0.1, "91-120": 0.5, "120+": 1}
    result = compute(write_params(tmp_path, ledger, aging={"basis": "invoice_date"}, allowance={"rates": rates}))
    counts = dict(zip(result.tables.buckets["bucket"], result.tables.buckets["items"]))
    # days since invoice 0, 29, 30 | 31, 60 | 121
    assert counts == {"0-30": 3, "31-60": 2, "61-90": 0, "91-120": 0, "120+": 1}
    assert result.kpis.past_due_total == Decimal("300.00")  # dpd > 0 regardless of basis: 1, 30, 91


def test_openstax_billies_watercraft_aging_buckets(tmp_path: Path) -> None:
    """OpenStax, Principles of Accounting Vol. 1 (Rice University, CC BY-NC-SA), ch. 9 §9.2, Billie's Watercraft
    Warehouse aging schedule: 0–30 days past due $145,740; 31–90 days $102,100; over 90 days $77,010;
    AR $324,850 (the book then applies 10/20/30% → allowance $58,097)."""
    as_of = dt.date(2018, 12, 31)
    folder = tmp_path / "bww"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id,name\nA,Alpha Marine\nB,Bravo Boats\n", encoding="utf-8")
    rows = [
        ("0", "A", 0, "45740.00"),
        ("1", "B", 30, "100000.00"),  # 0–30 days past due: 145,740
        ("2", "A", 31, "2100.00"),
        ("3", "B", 90, "100000.00"),  # 31–90: 102,100
        ("4", "A", 91, "77010.00"),
    ]  # over 90: 77,010
    lines = ["invoice_id,customer_id,invoice_date,due_date,amount"]
    for invoice, customer, age, amount in rows:
        due = as_of - dt.timedelta(days=age)
        lines.append(f"{invoice},{customer},{due - dt.timedelta(days=30)},{due},{amount}")
    (folder / "invoices.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "payments.csv").write_text("payment_id,invoice_id,payment_date,amount\n", encoding="utf-8")
    params = write_params(
        tmp_path,
        folder,
        as_of=str(as_of),
        aging={"buckets": [30, 90]},
        allowance={"rates": {"current": 0.1, "1-30": 0.1, "31-90": 0.2, "90+": 0.3}},
    )
    result = compute(params)
    amounts = buckets(result)
    assert amounts["current"] + amounts["1-30"] == Decimal("145740")
    assert amounts["31-90"] == Decimal("102100")
    assert amounts["90+"] == Decimal("77010")
    assert result.kpis.ar_total == Decimal("324850")


AS_OF_DATES = ["2026-10-31", "2026-09-30", "2026-06-15", "2025-12-31", "2025-02-28"]


@pytest.mark.parametrize("as_of", AS_OF_DATES)
@pytest.mark.parametrize("basis", ["due_date", "invoice_date"])
def test_matches_independent_oracle_on_demo_ledger(demo_ledger: Path, tmp_path: Path, as_of: str, basis: str) -> None:
    sections = (
        {}
        if basis == "due_date"
        else {
            "aging": {"basis": basis},
            "allowance": {"rates": {"0-30": 0.01, "31-60": 0.05, "61-90": 0.1, "91-120": 0.5, "120+": 1}},
        }
    )
    params = write_params(tmp_path, demo_ledger, as_of=as_of, name="p.yaml", **sections)
    result = compute(params)
    expected = oracle_aging(_oracle(demo_ledger), dt.date.fromisoformat(as_of), basis=basis)
    assert result.kpis.ar_total == expected["ar_total"]
    assert result.kpis.open_items == expected["open_items"]
    assert result.kpis.past_due_total == expected["past_due_total"]
    table = result.tables.buckets
    for bucket, amount, items in zip(table["bucket"], table["amount"], table["items"]):
        assert amount == expected["buckets"].get(bucket, Decimal(0)), bucket
        assert items == expected["counts"].get(bucket, 0), bucket
    assert expected["ar_total"] > 0 and expected["past_due_total"] > 0


def test_parquet_and_csv_sources_agree(demo_ledger: Path, demo_ledger_parquet: Path, tmp_path: Path) -> None:
    from_csv = compute(write_params(tmp_path, demo_ledger, name="csv.yaml"))
    from_parquet = compute(write_params(tmp_path, demo_ledger_parquet, name="pq.yaml"))
    assert from_csv.kpis == from_parquet.kpis
    assert list(from_csv.tables.buckets["amount"]) == list(from_parquet.tables.buckets["amount"])


def test_demo_gl_reconciles_and_trend_matches_oracle(demo_ledger: Path, tmp_path: Path) -> None:
    result = compute(write_params(tmp_path, demo_ledger, name="p.yaml"))
    recon = result.tables.reconciliation.set_index("check")
    assert recon.loc["GL ar_control", "status"] == "ok"
    oracle = _oracle(demo_ledger)
    trend = result.tables.trend
    assert len(trend) == 13
    for month_end, ar_total, past_due in zip(trend["month_end"], trend["ar_total"], trend["past_due_total"]):
        expected = oracle_aging(oracle, month_end)
        assert (ar_total, past_due) == (expected["ar_total"], expected["past_due_total"]), month_end


def test_gl_difference_is_shown_with_candidate_items(tiny_ledger: Path, tmp_path: Path) -> None:
    (tiny_ledger / "gl_balances.csv").write_text(
        "period_end,account,amount\n2026-10-31,ar_control,2072.00\n", encoding="utf-8"
    )
    recon = compute(write_params(tmp_path, tiny_ledger)).tables.reconciliation.set_index("check")
    assert recon.loc["GL ar_control", "status"] == "DIFFERENCE"
    assert recon.loc["GL ar_control", "difference"] == Decimal("-250.50")
    assert "I3" in recon.loc["GL ar_control", "explanation"]  # the 250.50 disputed item


_ORACLES: dict[Path, OracleLedger] = {}


def _oracle(folder: Path) -> OracleLedger:
    if folder not in _ORACLES:
        _ORACLES[folder] = OracleLedger(folder)
    return _ORACLES[folder]


def test_open_items_at_many_dates_match_the_oracle_inline_and_materialised(demo_ledger: Path, tmp_path: Path) -> None:
    """open_items builds only the (invoice, date) pairs inside each invoice's open span [invoice_date, closed_on).
    At 14 dates (month-ends and mid-month days, including the day invoices close), every open item and balance
    equals the oracle's invoice-by-invoice computation — with the spans inline and materialised once per run."""
    from collections_mi.metrics.balances import open_items
    from collections_mi.metrics.book import book_of
    from collections_mi.sources.ledger import fetch

    params = load_params(write_params(tmp_path, demo_ledger, as_of="2026-10-31"))
    ledger = open_ledger(params)
    dates = [dt.date(2025, m, 28) for m in range(1, 13)] + [dt.date(2026, 6, 15), dt.date(2026, 10, 31)]
    oracle = _oracle(demo_ledger)
    expected = {(item["invoice_id"], day): item["balance"] for day in dates for item in oracle.open_items(day)}
    with open_book(ledger, params) as materialised:
        for book in (book_of(ledger, params), materialised):
            frame = fetch(open_items(book, dates).select("invoice_id", "as_of", "open_balance"))
            got = dict(zip(zip(frame["invoice_id"], frame["as_of"]), frame["open_balance"]))
            assert len(got) == len(frame)  # one row per open (invoice, date)
            assert got == expected
    assert len(expected) > 2_000
