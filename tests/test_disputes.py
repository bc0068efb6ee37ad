"""Disputes and unapplied cash in the library (shared/metrics.md v1.1 § Unapplied cash and disputes) against the
independent oracle (tests/oracle.py, checked by hand in tests/test_oracle_disputes.py) on the tiny ledger plus
tests/fixtures/tiny_disputes — at the month-end, back-dated to 2026-09-30 and mid-month — and what the pack shows:
the disputed-at-D rule driving the aging's disputed items, the GL reconciling item, KPIs left out without the tables.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from collections_mi.config.params import load_params
from collections_mi.core.values import UNASSIGNED
from collections_mi.metrics.aging import compute_aging
from collections_mi.metrics.book import open_book
from collections_mi.metrics.disputes import DISPUTE_AGE_BANDS, UNIDENTIFIED
from collections_mi.sources.ledger import open_ledger

from conftest import NO_BROWSER, TINY, cli, write_params
from oracle import Ledger as OracleLedger
from oracle import disputed_aging, disputes, unapplied

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATES = [dt.date(2026, 10, 31), dt.date(2026, 9, 30), dt.date(2026, 9, 10)]


def _ledger(tmp_path: Path, tables: tuple[str, ...] = ("disputes", "unapplied_cash")) -> Path:
    folder = tmp_path / "ledger"
    shutil.copytree(TINY, folder)
    for table in tables:
        shutil.copy(FIXTURES / "tiny_disputes" / f"{table}.csv", folder / f"{table}.csv")
    return folder


def _aging(params_path: Path):
    params = load_params(params_path)
    with open_book(open_ledger(params, params_path), params) as book:
        return compute_aging(book, params)


@pytest.mark.parametrize("as_of", DATES, ids=str)
def test_disputes_and_unapplied_cash_equal_the_oracle(tmp_path: Path, as_of: dt.date) -> None:
    folder = _ledger(tmp_path)
    result = _aging(write_params(tmp_path, folder, as_of=as_of.isoformat()))
    oracle = OracleLedger(folder)
    expected = disputes(oracle, as_of)
    cash = unapplied(oracle, as_of)
    assert expected is not None and cash is not None
    kpis = result.kpis
    assert kpis.disputes_open == expected["disputes_open"]
    assert kpis.disputed_open_total == expected["disputed_open_total"]
    assert kpis.dispute_days_to_resolve == expected["dispute_days_to_resolve"]
    assert (kpis.unapplied_cash_total, kpis.ar_net) == (cash["unapplied_cash_total"], cash["ar_net"])
    tables = result.tables
    for frame, column, oracle_key in (
        (tables.disputes_by_reason, "reason", "by_reason"),
        (tables.disputes_by_owner, "owner", "by_owner"),
    ):
        shown = {row[column]: (row["disputes"], row["amount"]) for _, row in frame.iterrows()}
        # an empty owner: the oracle says "(unassigned)", the pack "(none)" as for every other missing attribute
        wanted = {UNASSIGNED if key == "(unassigned)" else key: value for key, value in expected[oracle_key].items()}
        assert shown == wanted, oracle_key
    by_age = {row["age_band"]: (row["disputes"], row["amount"]) for _, row in tables.disputes_by_age.iterrows()}
    assert list(by_age) == list(DISPUTE_AGE_BANDS) and by_age == expected["by_age"]
    assert sum(tables.disputes["amount_reporting"]) == expected["disputed_open_total"]
    per_customer = tables.unapplied_cash
    identified = per_customer[per_customer["customer_id"].notna()]
    assert dict(zip(identified["customer_id"], identified["amount"])) == cash["by_customer"]
    loose = per_customer[per_customer["name"] == UNIDENTIFIED]["amount"]
    assert list(loose) == ([cash["unidentified"]] if cash["unidentified"] else [])
    assert per_customer["amount"].tolist() == sorted(identified["amount"], reverse=True) + list(loose)
    # the disputes table decides which open items are disputed at the date, for the aging's disputed items
    disputed = disputed_aging(oracle, as_of)
    buckets = tables.disputed_buckets
    assert {b: a for b, a in zip(buckets["bucket"], buckets["amount"]) if a} == disputed["buckets"]
    assert int(buckets["items"].sum()) == disputed["disputed_items"]


def test_the_trends_hold_each_month_end_as_of_then(tmp_path: Path) -> None:
    folder = _ledger(tmp_path)
    result = _aging(write_params(tmp_path, folder))
    oracle = OracleLedger(folder)
    for _, row in result.tables.disputes_trend.iterrows():
        expected = disputes(oracle, row["month_end"])
        assert expected is not None
        assert (row["disputes_open"], row["amount"]) == (expected["disputes_open"], expected["disputed_open_total"])
    for _, row in result.tables.unapplied_cash_trend.iterrows():
        cash = unapplied(oracle, row["month_end"])
        assert cash is not None
        assert row["total"] == cash["unapplied_cash_total"] and row["unidentified"] == cash["unidentified"]
    assert result.tables.disputes_trend["month_end"].iloc[-1] == dt.date(2026, 10, 31)


def test_resolved_in_the_window_by_reason(tmp_path: Path) -> None:
    # W = 2026-08-01 … 10-31: D3 (pricing, 10-20 → 10-31: 11 days) and D6 (not_received, 09-05 → 10-10: 35 days);
    # D4 (quality, resolved 07-15) is before W
    result = _aging(write_params(tmp_path, _ledger(tmp_path)))
    resolved = result.tables.disputes_resolved
    assert resolved[["reason", "resolved", "mean_days_to_resolve"]].values.tolist() == [
        ["not_received", 1, Decimal(35)],
        ["pricing", 1, Decimal(11)],
    ]
    assert result.kpis.dispute_days_to_resolve == Decimal(23)


def test_without_the_disputes_table_invoices_disputed_decides(tmp_path: Path) -> None:
    folder = _ledger(tmp_path, ("unapplied_cash",))
    result = _aging(write_params(tmp_path, folder))
    assert result.kpis.disputes_open is None and result.kpis.unapplied_cash_total == Decimal("410.10")
    buckets = result.tables.disputed_buckets
    assert {b: a for b, a in zip(buckets["bucket"], buckets["amount"]) if a} == {"120+": Decimal("250.50")}  # I3


def test_the_gl_reconciliation_shows_unapplied_cash_as_a_reconciling_item(tmp_path: Path) -> None:
    # the tiny ledger's GL ar_control at 10-31 is the gross 2,322.50: it reconciles with the subledger as it is
    folder = _ledger(tmp_path)
    recon = _aging(write_params(tmp_path, folder)).tables.reconciliation.set_index("check")
    item = recon.loc["Unapplied cash (reconciling item)"]
    assert item["amount"] == Decimal("-410.10") and "AR net of them 1912.40" in item["explanation"]
    assert recon.loc["GL ar_control", "status"] == "ok"
    # a GL whose ar_control is net of unapplied cash reconciles through the item
    gl = folder / "gl_balances.csv"
    text = gl.read_text(encoding="utf-8").replace("2026-10-31,ar_control,2322.50", "2026-10-31,ar_control,1912.40")
    assert "1912.40" in text
    gl.write_text(text, encoding="utf-8")
    recon = _aging(write_params(tmp_path, folder)).tables.reconciliation.set_index("check")
    line = recon.loc["GL ar_control"]
    assert line["status"] == "ok" and "net of unapplied cash" in line["explanation"]


@pytest.mark.slow
def test_a_pack_with_disputes_and_unapplied_cash_publishes_them(tmp_path: Path) -> None:
    """Through the CLI: kpis.json carries the five KPIs, tables/ the eight tables, the aging page its two sections;
    without the tables the same pack has none of them (omitted, never zero)."""
    folder = _ledger(tmp_path)
    params = write_params(tmp_path, folder)
    run = cli("pack", "--params", str(params), "--out", str(tmp_path / "reports"), env=NO_BROWSER)
    assert run.returncode == 0, run.stderr
    out = tmp_path / "reports" / "2026-10"
    kpis = json.loads((out / "kpis.json").read_text(), parse_float=Decimal)
    assert kpis["disputes_open"] == 4 and kpis["disputed_open_total"] == Decimal("1186")
    assert kpis["unapplied_cash_total"] == Decimal("410.1") and kpis["ar_net"] == Decimal("1912.4")
    tables = {p.stem for p in (out / "tables").glob("*.csv")}
    assert {"disputes", "disputes_by_reason", "unapplied_cash", "unapplied_cash_trend"} <= tables
    page = (out / "html" / "01_aging.html").read_text(encoding="utf-8")
    assert "4 disputes are open at the month-end for USD 1.2k" in page and "Unidentified cash" in page
    plain = tmp_path / "plain"
    plain_params = write_params(plain, _ledger(plain, ()))
    run = cli("metrics", "--params", str(plain_params))
    assert run.returncode == 0, run.stderr
    assert not {"disputes_open", "unapplied_cash_total", "ar_net"} & set(json.loads(run.stdout))


@pytest.mark.parametrize("as_of", ["2026-10-31", "2026-09-30"])
def test_the_demo_ledger_equals_the_oracle(demo_ledger: Path, tmp_path: Path, as_of: str) -> None:
    """The generated demo (disputes with reasons, owners, resolution times by reason; receipts on account, applied
    later or still waiting, some unidentified) at two month-ends: every new KPI and breakdown to the cent."""
    day = dt.date.fromisoformat(as_of)
    result = _aging(write_params(tmp_path, demo_ledger, as_of=as_of))
    oracle = OracleLedger(demo_ledger)
    expected, cash = disputes(oracle, day), unapplied(oracle, day)
    assert expected is not None and cash is not None
    kpis = result.kpis
    assert expected["disputes_open"] > 0 and cash["unapplied_cash_total"] > 0
    assert (kpis.disputes_open, kpis.disputed_open_total) == (
        expected["disputes_open"],
        expected["disputed_open_total"],
    )
    # a mean of whole days: the library divides to 28 significant digits
    assert kpis.dispute_days_to_resolve == pytest.approx(expected["dispute_days_to_resolve"], rel=Decimal("1e-25"))
    assert (kpis.unapplied_cash_total, kpis.ar_net) == (cash["unapplied_cash_total"], cash["ar_net"])
    reasons = result.tables.disputes_by_reason
    assert {r: (n, a) for r, n, a in zip(reasons["reason"], reasons["disputes"], reasons["amount"])} == expected[
        "by_reason"
    ]
    disputed = disputed_aging(oracle, day)
    buckets = result.tables.disputed_buckets
    assert {b: a for b, a in zip(buckets["bucket"], buckets["amount"]) if a} == disputed["buckets"]


@pytest.mark.parametrize(
    ("as_of", "with_table", "expected"),
    [
        # the disputes table decides, at the report's own date: D1 pricing on I1, D5 quality on I3 (D4 resolved), D2
        # quantity on I4, D8 pricing on I7; D3 on I2 was resolved on D itself, D7 opens after D
        ("2026-10-31", True, {"I1": "pricing", "I2": "not disputed", "I3": "quality", "I4": "quantity",
                              "I7": "pricing"}),
        # back-dated: D6 not_received on I5 was still open, D2 not yet opened
        ("2026-09-30", True, {"I1": "pricing", "I3": "quality", "I4": "not disputed", "I5": "not_received",
                              "I7": "pricing"}),
        # no disputes table: invoices.disputed decides, and there is no reason to show
        ("2026-10-31", False, {"I1": "not disputed", "I2": "not disputed", "I3": "disputed (flag, no reason)",
                               "I4": "not disputed", "I7": "not disputed"}),
    ],
)  # fmt: skip
def test_open_items_snapshot_carries_the_dispute_reason_and_behaviour_band(
    tmp_path: Path, as_of: str, with_table: bool, expected: dict[str, str]
) -> None:
    """What explore_receivables and explore_trends filter by, on the minimal ledger (no segment, region or
    collector). Behaviour at 2026-10-31: C2 settled I5 nine days late (Great); C1 and C3 settled nothing in the 12
    months (No history)."""
    from collections_mi.metrics import explore
    from collections_mi.metrics.open_items import open_items_snapshot

    folder = _ledger(tmp_path, ("disputes",) if with_table else ())
    params_path = write_params(tmp_path, folder, as_of=as_of)
    params = load_params(params_path)
    with open_book(open_ledger(params, params_path), params) as book:
        items = open_items_snapshot(book, params.aging)
    assert dict(zip(items["invoice_id"], items["dispute_reason"])) == expected
    if as_of == "2026-10-31":
        bands = dict(zip(items["invoice_id"], items["behaviour_band"]))
        assert bands == {"I1": "No history", "I2": "No history", "I3": "Great", "I4": "No history", "I7": "No history"}
    options = explore.filter_options(items, params.aging.labels)
    for dimension in ("behaviour_band", "dispute_reason", "segment"):
        assert sum(options.loc[options["filter"] == dimension, "total"]) == sum(items["open_balance_reporting"])


def test_what_changed_tells_the_disputes_and_unapplied_cash_movement(tmp_path: Path) -> None:
    """The index's and the email's "What changed" names the disputed amount and unapplied cash at the previous
    month-end and at D, with the figures of the independent oracle, and the largest dispute reason in words."""
    from collections_mi.presentation.format import money_short
    from collections_mi.presentation.what_changed import what_changed

    folder = _ledger(tmp_path)
    params_path = write_params(tmp_path, folder)
    params = load_params(params_path)
    with open_book(open_ledger(params, params_path), params) as book:
        results = {"aging": compute_aging(book, params)}
    oracle = OracleLedger(folder)
    before, now = (disputes(oracle, day) for day in (dt.date(2026, 9, 30), dt.date(2026, 10, 31)))
    cash_before, cash_now = (unapplied(oracle, day) for day in (dt.date(2026, 9, 30), dt.date(2026, 10, 31)))
    assert before and now and cash_before and cash_now
    sentences = what_changed(results, "USD")
    largest = max(now["by_reason"].items(), key=lambda item: item[1][1])
    moved = "rose" if now["disputed_open_total"] > before["disputed_open_total"] else "fell"
    assert (
        f"Disputed amount {moved} from {money_short(before['disputed_open_total'], 'USD')} to "
        f"{money_short(now['disputed_open_total'], 'USD')} ({before['disputes_open']} → {now['disputes_open']} open "
        f"disputes); the largest reason: {largest[0].replace('_', ' ')} {money_short(largest[1][1], 'USD')}."
    ) in sentences
    moved = "rose" if cash_now["unapplied_cash_total"] > cash_before["unapplied_cash_total"] else "fell"
    assert (
        f"Unapplied cash {moved} from {money_short(cash_before['unapplied_cash_total'], 'USD')} to "
        f"{money_short(cash_now['unapplied_cash_total'], 'USD')}, of which "
        f"{money_short(cash_now['unidentified'], 'USD')} unidentified (no customer)."
    ) in sentences
    # without the tables: no such sentence
    plain = tmp_path / "plain"
    params_path = write_params(plain, _ledger(plain, ()))
    params = load_params(params_path)
    with open_book(open_ledger(params, params_path), params) as book:
        results = {"aging": compute_aging(book, params)}
    assert not [s for s in what_changed(results, "USD") if "Disputed" in s or "Unapplied" in s]
