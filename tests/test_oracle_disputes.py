"""The independent oracle's disputes and unapplied cash (shared/metrics.md § Unapplied cash and disputes, v1.1) on the
tiny ledger plus tests/fixtures/tiny_disputes, against numbers computed by hand.

The tiny ledger's open items (reporting USD; EUR closing rate 1.10 dated 07-01, 1.08 dated 10-30):
  at 2026-10-31: I1 1000 − 400 (P1 09-15) = 600.00 USD, 61 dpd; I2 500.00 USD current; I3 250.50 USD, 153 dpd;
                 I4 800 − 100 (A1 10-05) = 700 EUR × 1.08 = 756.00, 11 dpd; I5 paid 10-10 → closed;
                 I6 dated 11-05 → not yet; I7 200 EUR × 1.08 = 216.00, 83 dpd.  ar_total = 2322.50
  at 2026-09-30: I1 600.00, 30 dpd; I3 250.50, 122 dpd; I4 800 EUR × 1.10 = 880.00 current (due 10-20);
                 I5 300.00, −1 dpd (current); I7 200 EUR × 1.10 = 220.00, 52 dpd.  ar_total = 2250.50
  at 2026-10-10: I1 600.00; I3 250.50; I4 700 EUR × 1.10 = 770.00; I5 paid that day → closed; I7 220.00;
                 I2 dated 10-15 → not yet.  ar_total = 1840.50

disputes.csv (opened → resolved, reason, amount, owner):
  D1 I1 09-01 → open       pricing       null  Ann           null amount on the partly paid I1
  D2 I4 10-01 → open       quantity    250.00  Bob           partial amount, in EUR
  D3 I2 10-20 → 10-31      pricing     120.00  Bob           resolved exactly on D: not open at D, resolved in W
  D4 I3 06-01 → 07-15      quality     250.50  Ann           resolved before W(10-31), inside W(09-30)
  D5 I3 08-02 → open       quality     100.00  Ann           second dispute on I3, after D4
  D6 I5 09-05 → 10-10      not_received 50.00  Bob           resolved inside W(10-31); open at 09-30
  D7 I2 11-03 → open       quality       null  Ann           opened after D: does not exist at D
  D8 I7 08-01 → open       pricing       null  (empty)       owner left empty; null amount in EUR
unapplied_cash.csv (customer, receipt_date, amount, currency, applied_on):
  R1 C2 09-28 300.00 USD applied 10-10 (= P2)   R2 C3 10-28 200.00 EUR applied 11-02 (= P3, after D)
  R3 C1 08-20  75.25 (blank = USD) never        R4 (unidentified) 10-15 40.10 USD never
  R5 C1 11-03 999.99 USD (after D)              R6 (unidentified) 09-15 50.00 EUR never
  R7 C1 10-30  24.75 USD never
"""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from oracle import Ledger, aging, disputed_aging, disputed_at, disputes, unapplied

FIXTURES = Path(__file__).resolve().parent / "fixtures"
D = dt.date(2026, 10, 31)
SEPT = dt.date(2026, 9, 30)
BANDS = ("0–30", "31–60", "61–90", "90+")


def _ledger(tmp_path: Path, tables: tuple[str, ...] = ("disputes", "unapplied_cash")) -> Ledger:
    folder = tmp_path / "ledger"
    shutil.copytree(FIXTURES / "tiny_ledger", folder)
    for table in tables:
        shutil.copy(FIXTURES / "tiny_disputes" / f"{table}.csv", folder / f"{table}.csv")
    return Ledger(folder)


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return _ledger(tmp_path)


def money(text: str) -> Decimal:
    return Decimal(text)


# ------------------------------------------------------------------------------------------ disputed at D


def test_disputed_at_follows_the_disputes_table(ledger: Ledger) -> None:
    # at 10-31: I1 (D1), I3 (D5), I4 (D2), I7 (D8) open; I2's D3 resolved on D and D7 opened after D; I5's D6 resolved
    # 10-10; I6 has none. invoices.disputed (only I3 true) is ignored.
    at_d = {i: disputed_at(ledger, i, D) for i in ("I1", "I2", "I3", "I4", "I5", "I6", "I7")}
    assert at_d == {"I1": True, "I2": False, "I3": True, "I4": True, "I5": False, "I6": False, "I7": True}
    # back-dated to 09-30: D2 not yet opened (10-01), D6 open then (resolved 10-10 > 09-30)
    at_sept = {i: disputed_at(ledger, i, SEPT) for i in ("I1", "I2", "I3", "I4", "I5", "I7")}
    assert at_sept == {"I1": True, "I2": False, "I3": True, "I4": False, "I5": True, "I7": True}
    # I3's two sequential disputes: D4 06-01 → 07-15, D5 from 08-02
    assert disputed_at(ledger, "I3", dt.date(2026, 7, 14)) is True
    assert disputed_at(ledger, "I3", dt.date(2026, 7, 15)) is False  # resolved that day
    assert disputed_at(ledger, "I3", dt.date(2026, 8, 1)) is False  # between the two
    assert disputed_at(ledger, "I3", dt.date(2026, 8, 2)) is True  # opened that day


def test_without_the_disputes_table_invoices_disputed_decides(tmp_path: Path) -> None:
    ledger = _ledger(tmp_path, tables=())
    assert ledger.disputes is None and ledger.unapplied_cash is None
    assert {i: disputed_at(ledger, i, D) for i in ("I1", "I2", "I3", "I7")} == {
        "I1": False,  # "false"
        "I2": False,  # empty
        "I3": True,  # "true"
        "I7": False,
    }
    assert disputes(ledger, D) is None and unapplied(ledger, D) is None
    # any capitalisation of true/false
    invoices = tmp_path / "ledger" / "invoices.csv"
    invoices.write_text(invoices.read_text().replace(",false", ",FALSE").replace(",true", ",True"), encoding="utf-8")
    assert [disputed_at(Ledger(tmp_path / "ledger"), i, D) for i in ("I1", "I3")] == [False, True]
    invoices.write_text(invoices.read_text().replace(",True", ",maybe"), encoding="utf-8")
    with pytest.raises(ValueError, match="maybe"):
        disputed_at(Ledger(tmp_path / "ledger"), "I3", D)


def test_disputed_aging(ledger: Ledger, tmp_path: Path) -> None:
    # at 10-31, disputed open items at their whole open balance: I4 756.00 (11 dpd → 1-30), I1 600.00 (61 dpd) and
    # I7 216.00 (83 dpd) → 61-90 = 816.00, I3 250.50 (153 dpd → 120+). 756.00 + 816.00 + 250.50 = 1822.50
    assert disputed_aging(ledger, D) == {
        "disputed_total": money("1822.50"),
        "disputed_items": 4,
        "buckets": {"1-30": money("756.00"), "61-90": money("816.00"), "120+": money("250.50")},
        "counts": {"1-30": 1, "61-90": 2, "120+": 1},
    }
    # invoice_date basis: I4 41 days → 31-60; I1 91 and I7 113 → 91-120; I3 183 → 120+
    assert disputed_aging(ledger, D, basis="invoice_date")["buckets"] == {
        "31-60": money("756.00"),
        "91-120": money("816.00"),
        "120+": money("250.50"),
    }
    # at 09-30: I5 300.00 (−1 dpd → current), I1 600.00 (30 dpd → 1-30), I7 220.00 (52 → 31-60), I3 250.50 (122 → 120+);
    # I4 not disputed yet. 300.00 + 600.00 + 220.00 + 250.50 = 1370.50
    sept = disputed_aging(ledger, SEPT)
    assert sept["buckets"] == {
        "current": money("300.00"),
        "1-30": money("600.00"),
        "31-60": money("220.00"),
        "120+": money("250.50"),
    }
    assert (sept["disputed_total"], sept["disputed_items"]) == (money("1370.50"), 4)
    # without the disputes table only I3 ("true") is disputed
    fallback = disputed_aging(_ledger(tmp_path / "plain", tables=()), D)
    assert fallback == {
        "disputed_total": money("250.50"),
        "disputed_items": 1,
        "buckets": {"120+": money("250.50")},
        "counts": {"120+": 1},
    }
    # the existing aging is unchanged by the new tables
    assert aging(ledger, D)["ar_total"] == money("2322.50")


# ------------------------------------------------------------------------------------------ dispute KPIs


def test_disputes_at_month_end(ledger: Ledger) -> None:
    # open at 10-31 (age = D − opened_on):
    #   D1 I1 null → I1's balance 600.00 USD                 age 60 (30 in Sep + 30 in Oct)   → 31–60
    #   D2 I4 250.00 EUR × 1.08 = 270.00                      age 30                          → 0–30
    #   D5 I3 100.00 USD                                      age 90 (31 + 30 + 29)           → 61–90
    #   D8 I7 null → I7's balance 200 EUR × 1.08 = 216.00     age 91 (31 + 30 + 30)           → 90+
    #   total 600.00 + 270.00 + 100.00 + 216.00 = 1186.00
    # not open: D3 (resolved 10-31 = D), D4 (07-15), D6 (10-10), D7 (opened 11-03 > D)
    # resolved in W = 08-01 … 10-31: D3 10-20 → 10-31 = 11 days, D6 09-05 → 10-10 = 25 + 10 = 35 days;
    # D4 (07-15) is before W. Mean (11 + 35) / 2 = 23
    assert disputes(ledger, D) == {
        "disputes_open": 4,
        "disputed_open_total": money("1186.00"),
        "by_reason": {
            "pricing": (2, money("816.00")),  # D1 600.00 + D8 216.00
            "quantity": (1, money("270.00")),
            "quality": (1, money("100.00")),
        },
        "by_owner": {
            "Ann": (2, money("700.00")),  # D1 600.00 + D5 100.00
            "Bob": (1, money("270.00")),
            "(unassigned)": (1, money("216.00")),
        },
        "by_age": {
            "0–30": (1, money("270.00")),
            "31–60": (1, money("600.00")),
            "61–90": (1, money("100.00")),
            "90+": (1, money("216.00")),
        },
        "dispute_days_to_resolve": Decimal(23),
    }


def test_disputes_back_dated(ledger: Ledger) -> None:
    # open at 09-30:
    #   D1 I1 null → 600.00 (P1 09-15 already paid)        age 29                 → 0–30
    #   D5 I3 100.00                                        age 59 (31 + 28)       → 31–60
    #   D6 I5 50.00 (resolved 10-10, later: open then)      age 25                 → 0–30
    #   D8 I7 null → 200 EUR × 1.10 (rate of 07-01) = 220.00  age 60 (31 + 29)      → 31–60
    #   total 600.00 + 100.00 + 50.00 + 220.00 = 970.00
    # D2 (10-01), D3 (10-20), D7 (11-03) not opened yet; D4 resolved 07-15.
    # resolved in W = 07-01 … 09-30: only D4, 06-01 → 07-15 = 30 + 14 = 44 days
    assert disputes(ledger, SEPT) == {
        "disputes_open": 4,
        "disputed_open_total": money("970.00"),
        "by_reason": {
            "pricing": (2, money("820.00")),  # D1 600.00 + D8 220.00
            "quality": (1, money("100.00")),
            "not_received": (1, money("50.00")),
        },
        "by_owner": {
            "Ann": (2, money("700.00")),
            "Bob": (1, money("50.00")),
            "(unassigned)": (1, money("220.00")),
        },
        "by_age": {
            "0–30": (2, money("650.00")),  # D1 600.00 + D6 50.00
            "31–60": (2, money("320.00")),  # D5 100.00 + D8 220.00
            "61–90": (0, money("0")),
            "90+": (0, money("0")),
        },
        "dispute_days_to_resolve": Decimal(44),
    }


def test_null_amount_is_the_balance_at_that_date(ledger: Ledger) -> None:
    # at 09-10 P1 (09-15) is not paid yet: D1 counts I1's whole 1000.00. Open: D1 1000.00, D5 100.00, D6 50.00
    # (opened 09-05), D8 200 EUR × 1.10 = 220.00 → 1370.00. W = 07-01 … 09-10: D4 → 44 days.
    result = disputes(ledger, dt.date(2026, 9, 10))
    assert result is not None
    assert (result["disputes_open"], result["disputed_open_total"]) == (4, money("1370.00"))
    assert result["by_owner"]["Ann"] == (2, money("1100.00"))  # D1 1000.00 + D5 100.00
    # a one-month window at 09-30 (09-01 … 09-30) holds no resolution: None, not 0
    one_month = disputes(ledger, SEPT, window_months=1)
    assert one_month is not None and one_month["dispute_days_to_resolve"] is None


def test_empty_disputes_table(tmp_path: Path) -> None:
    _ledger(tmp_path)
    (tmp_path / "ledger" / "disputes.csv").write_text(
        "dispute_id,invoice_id,opened_on,resolved_on,reason,amount,owner,outcome\n", encoding="utf-8"
    )
    ledger = Ledger(tmp_path / "ledger")
    assert disputes(ledger, D) == {
        "disputes_open": 0,
        "disputed_open_total": Decimal(0),
        "by_reason": {},
        "by_owner": {},
        "by_age": {band: (0, Decimal(0)) for band in BANDS},
        "dispute_days_to_resolve": None,
    }
    # the table is present: it decides, and nothing is disputed (I3's "true" is ignored)
    assert disputed_at(ledger, "I3", D) is False


# ------------------------------------------------------------------------------------------ unapplied cash


def test_unapplied_cash_at_month_end(ledger: Ledger) -> None:
    # at 10-31: R2 200 EUR × 1.08 = 216.00 (applied 11-02 > D), R3 75.25 (blank currency = USD), R4 40.10
    # unidentified, R6 50 EUR × 1.08 = 54.00 unidentified, R7 24.75; R1 applied 10-10 ≤ D; R5 received 11-03 > D.
    # total 216.00 + 75.25 + 40.10 + 54.00 + 24.75 = 410.10; ar_net 2322.50 − 410.10 = 1912.40
    assert unapplied(ledger, D) == {
        "unapplied_cash_total": money("410.10"),
        "ar_net": money("1912.40"),
        "by_customer": {"C1": money("100.00"), "C3": money("216.00")},  # C1 75.25 + 24.75
        "unidentified": money("94.10"),  # 40.10 + 54.00
    }


def test_unapplied_cash_back_dated(ledger: Ledger) -> None:
    # at 09-30: R1 300.00 (applied 10-10, later), R3 75.25, R6 50 EUR × 1.10 = 55.00; total 430.25;
    # ar_net 2250.50 − 430.25 = 1820.25
    assert aging(ledger, SEPT)["ar_total"] == money("2250.50")
    assert unapplied(ledger, SEPT) == {
        "unapplied_cash_total": money("430.25"),
        "ar_net": money("1820.25"),
        "by_customer": {"C1": money("75.25"), "C2": money("300.00")},
        "unidentified": money("55.00"),
    }
    # at 10-10 R1 is applied that very day (applied_on = D → applied): R3 75.25 + R6 55.00 = 130.25;
    # ar_total 600.00 + 250.50 + 770.00 + 220.00 = 1840.50 → ar_net 1710.25
    assert unapplied(ledger, dt.date(2026, 10, 10)) == {
        "unapplied_cash_total": money("130.25"),
        "ar_net": money("1710.25"),
        "by_customer": {"C1": money("75.25")},
        "unidentified": money("55.00"),
    }
