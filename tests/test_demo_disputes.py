"""The demo's disputes and unapplied cash (data contract v1.1), checked against the rest of the written ledger.

Like tests/test_demo.py (whose small ledger this one repeats: 3,000 invoices, seed 11, end 2026-10-31), the checks
read the written CSV files with pandas and ``Decimal`` and never call the generator's internals.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pandas as pd
import pyarrow.parquet as pq
import pytest

from collections_mi.demo import DEMO_TABLES, generate_demo

END = datetime.date(2026, 10, 31)
REASONS = {"pricing", "quantity", "quality", "not_received", "duplicate_billing", "terms"}
OWNERS = {"Maria Chen", "Tom Okafor", "Priya Nair", "Billing team", "Sales operations"}
BALANCE_REDUCING_KINDS = ("credit_note", "discount", "write_off")


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("demo_disputes")
    generate_demo(out, invoices=3_000, seed=11, end=END, fmt="csv")
    return {
        table: pd.read_csv(out / f"{table}.csv", dtype=str, keep_default_na=False, encoding="utf-8")
        for table in DEMO_TABLES
    }


@pytest.fixture(scope="module")
def default_size(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """The default demo (60,000 invoices, seed 7) as Parquet: the figures the pack shows."""
    out = tmp_path_factory.mktemp("demo_disputes_default")
    generate_demo(out, fmt="parquet")
    names = ("invoices", "payments", "adjustments", "disputes", "unapplied_cash", "fx_rates")
    return {name: pq.read_table(out / f"{name}.parquet").to_pandas() for name in names}


def day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


def maybe_day(text: str) -> datetime.date | None:
    return day(text) if text else None


def closing_rates(fx_rates: pd.DataFrame, on: datetime.date) -> dict[str, Decimal]:
    """Units of USD per unit of each currency at the latest rate dated on or before ``on``."""
    rates = fx_rates[fx_rates["rate_date"].map(day) <= on].sort_values("rate_date")
    latest = {currency: Decimal(rate) for currency, rate in zip(rates["currency"], rates["rate"], strict=True)}
    return {**latest, "USD": Decimal(1), "": Decimal(1)}


def open_balances(tables: dict[str, pd.DataFrame], as_of: datetime.date) -> dict[str, Decimal]:
    """Open balance of every invoice at ``as_of``, in its currency."""
    invoices = tables["invoices"]
    balance = dict(zip(invoices["invoice_id"], invoices["amount"].map(Decimal), strict=True))
    for row in tables["payments"].itertuples(index=False):
        if day(row.payment_date) <= as_of:
            balance[row.invoice_id] -= Decimal(row.amount)
    for row in tables["adjustments"].itertuples(index=False):
        if row.kind in BALANCE_REDUCING_KINDS and day(row.adjustment_date) <= as_of:
            balance[row.invoice_id] -= Decimal(row.amount)
    return balance


def disputes_with_days(disputes: pd.DataFrame) -> pd.DataFrame:
    opened = disputes["opened_on"].map(day)
    resolved = disputes["resolved_on"].map(maybe_day)
    took = [(end - start).days if end is not None else None for start, end in zip(opened, resolved, strict=True)]
    return disputes.assign(opened=opened, resolved=resolved, took=pd.array(took, dtype="Int64"))


# --------------------------------------------------------------------------------------------------
# Disputes
# --------------------------------------------------------------------------------------------------


def test_disputes_respect_the_contract(tables: dict[str, pd.DataFrame]) -> None:
    invoices = tables["invoices"].set_index("invoice_id")
    disputes = disputes_with_days(tables["disputes"])
    assert len(disputes) > 80
    assert disputes["dispute_id"].is_unique and disputes["dispute_id"].str.fullmatch(r"DSP-\d{7}").all()
    assert disputes["invoice_id"].isin(invoices.index).all()
    invoice_day = disputes["invoice_id"].map(invoices["invoice_date"]).map(day)
    after_invoice = (disputes["opened"] - invoice_day).map(lambda delta: delta.days)
    assert (after_invoice >= 0).all() and after_invoice.median() >= 5
    first = disputes["opened"] == disputes.groupby("invoice_id")["opened"].transform("min")
    assert after_invoice[first].between(0, 42).all()  # a second one opens after the first is over
    assert (disputes["opened"] <= END).all()
    closed = disputes["resolved"].notna()
    assert (disputes.loc[closed, "took"] >= 1).all()
    assert (disputes.loc[closed, "resolved"] <= END).all()
    assert set(disputes["reason"]) == REASONS and set(disputes["owner"]) <= OWNERS
    # the outcome is empty exactly while the dispute is open
    assert ((disputes["outcome"] == "") == ~closed).all()
    assert set(disputes.loc[closed, "outcome"]) <= {"credit_note", "customer_pays", "written_off"}
    # amount: empty (the whole invoice) or a part of it in cents
    amount = disputes["amount"]
    assert 0.3 < (amount == "").mean() < 0.7
    partial = disputes[amount != ""]
    assert partial["amount"].str.fullmatch(r"\d+\.\d{2}").all()
    invoice_amount = partial["invoice_id"].map(invoices["amount"]).map(Decimal)
    claimed = partial["amount"].map(Decimal)
    assert ((claimed > 0) & (claimed <= invoice_amount)).all()
    assert (claimed < invoice_amount).mean() > 0.9


def test_two_disputes_of_one_invoice_never_overlap(tables: dict[str, pd.DataFrame]) -> None:
    disputes = disputes_with_days(tables["disputes"])
    repeated = 0
    for _, group in disputes.groupby("invoice_id"):
        if len(group) == 1:
            continue
        repeated += 1
        ordered = group.sort_values("opened")
        for earlier_end, later_start in zip(ordered["resolved"].iloc[:-1], ordered["opened"].iloc[1:], strict=True):
            assert earlier_end is not None and earlier_end < later_start
    assert repeated >= 2


def test_the_flag_is_a_dispute_open_at_the_last_day(tables: dict[str, pd.DataFrame]) -> None:
    invoices = tables["invoices"]
    disputes = tables["disputes"]
    flagged = set(invoices.loc[invoices["disputed"] == "true", "invoice_id"])
    open_at_end = set(disputes.loc[disputes["resolved_on"] == "", "invoice_id"])
    assert flagged == open_at_end
    assert 5 <= len(flagged) < 0.02 * len(invoices)
    # the history is longer than today's disputes: most disputes are over
    assert len(set(disputes["invoice_id"])) > 5 * len(flagged)


def test_back_dated_month_ends_see_disputes_that_are_gone_today(tables: dict[str, pd.DataFrame]) -> None:
    disputes = tables["disputes"]
    opened = pd.to_datetime(disputes["opened_on"])
    resolved = pd.to_datetime(disputes["resolved_on"].replace("", None))
    for month_end in (pd.Timestamp(2026, 6, 30), pd.Timestamp(2025, 12, 31)):
        open_then = (opened <= month_end) & (resolved.isna() | (resolved > month_end))
        assert open_then.sum() >= 5, month_end
        assert (open_then & resolved.notna()).sum() >= 0.5 * open_then.sum(), month_end  # over by the end


def test_outcomes_follow_what_happened_to_the_invoice(tables: dict[str, pd.DataFrame]) -> None:
    disputes = disputes_with_days(tables["disputes"])
    adjustments = tables["adjustments"]
    credit_notes = adjustments[adjustments["kind"] == "credit_note"].set_index("invoice_id")
    write_offs = adjustments[adjustments["kind"] == "write_off"].set_index("invoice_id")
    last_payment = tables["payments"].groupby("invoice_id")["payment_date"].max().map(day)
    balance = open_balances(tables, END)
    seen = set()
    for row in disputes.itertuples(index=False):
        seen.add(row.outcome)
        if row.outcome == "credit_note":
            assert day(credit_notes.loc[row.invoice_id, "adjustment_date"]) == row.resolved, row.dispute_id
            if row.amount:  # the claim is at least what was credited
                assert Decimal(row.amount) >= Decimal(credit_notes.loc[row.invoice_id, "amount"]), row.dispute_id
        elif row.outcome == "written_off":
            assert day(write_offs.loc[row.invoice_id, "adjustment_date"]) == row.resolved, row.dispute_id
        elif row.outcome == "customer_pays":
            assert row.invoice_id not in write_offs.index and balance[row.invoice_id] == 0, row.dispute_id
            waited = (last_payment[row.invoice_id] - row.resolved).days
            assert 0 <= waited <= 21, row.dispute_id  # paid on the next payment run after the dispute
            credited = row.invoice_id in credit_notes.index
            assert not credited or day(credit_notes.loc[row.invoice_id, "adjustment_date"]) < row.opened
        else:  # open at the end: nothing settled the invoice
            assert balance[row.invoice_id] > 0, row.dispute_id
            assert row.invoice_id not in write_offs.index, row.dispute_id
    assert seen == {"credit_note", "customer_pays", "written_off", ""}


def test_resolution_time_depends_on_the_reason(tables: dict[str, pd.DataFrame]) -> None:
    disputes = disputes_with_days(tables["disputes"])
    closed = disputes[disputes["resolved"].notna()]
    medians = closed.groupby("reason")["took"].median()
    assert medians["not_received"] < medians["pricing"] < medians["quality"]
    assert medians["duplicate_billing"] < medians["quality"]
    assert medians["quality"] >= 4 * medians["not_received"]


def test_disputes_at_the_default_size(default_size: dict[str, pd.DataFrame]) -> None:
    disputes = default_size["disputes"]
    took = (pd.to_datetime(disputes["resolved_on"]) - pd.to_datetime(disputes["opened_on"])).dt.days
    medians = took.groupby(disputes["reason"]).median()  # NaN (open) is left out
    assert medians["not_received"] <= 8 and medians["duplicate_billing"] <= 14
    assert 14 <= medians["pricing"] <= 30 and 20 <= medians["quantity"] <= 40 and 35 <= medians["terms"] <= 70
    assert medians["quality"] >= 60
    share = disputes["reason"].value_counts(normalize=True)
    assert share.between(0.05, 0.30).all()
    is_open = disputes["resolved_on"].isna()
    assert 150 <= is_open.sum() <= 300 and len(disputes) >= 2_000
    flagged = set(default_size["invoices"].loc[default_size["invoices"]["disputed"], "invoice_id"])
    assert flagged == set(disputes.loc[is_open, "invoice_id"])
    assert (disputes.groupby("invoice_id").size() > 1).sum() >= 50


# --------------------------------------------------------------------------------------------------
# Unapplied cash
# --------------------------------------------------------------------------------------------------


def test_receipts_respect_the_contract(tables: dict[str, pd.DataFrame]) -> None:
    receipts = tables["unapplied_cash"]
    assert receipts["receipt_id"].is_unique and receipts["receipt_id"].str.fullmatch(r"RCP-\d{7}").all()
    identified = receipts[receipts["customer_id"] != ""]
    assert identified["customer_id"].isin(tables["customers"]["customer_id"]).all()
    assert receipts["amount"].str.fullmatch(r"\d+\.\d{2}").all() and (receipts["amount"].map(Decimal) > 0).all()
    assert set(receipts["currency"]) == {"USD", "EUR", "GBP", ""}
    applied = receipts[receipts["applied_on"] != ""]
    assert (applied["receipt_date"].map(day) < applied["applied_on"].map(day)).all()
    assert (receipts["receipt_date"].map(day) <= END).all() and (applied["applied_on"].map(day) <= END).all()
    assert (receipts["receipt_date"].map(day).map(datetime.date.weekday) < 5).all()  # banks credit on business days


def test_applied_receipts_are_a_payment_of_that_customer_on_the_day_applied(tables: dict[str, pd.DataFrame]) -> None:
    invoices = tables["invoices"].set_index("invoice_id")
    payments = tables["payments"].assign(
        customer_id=lambda p: p["invoice_id"].map(invoices["customer_id"]),
        currency=lambda p: p["invoice_id"].map(invoices["currency"]),
    )
    by_customer = set(zip(payments["customer_id"], payments["payment_date"], payments["amount"], payments["currency"]))
    by_anyone = set(zip(payments["payment_date"], payments["amount"], payments["currency"]))
    receipts = tables["unapplied_cash"]
    applied = receipts[receipts["applied_on"] != ""]
    assert 0.02 * len(payments) < len(applied) < 0.04 * len(payments)
    for row in applied.itertuples(index=False):
        if row.customer_id:
            assert (row.customer_id, row.applied_on, row.amount, row.currency) in by_customer, row.receipt_id
        else:
            assert (row.applied_on, row.amount, row.currency) in by_anyone, row.receipt_id
    waited = applied["applied_on"].map(day) - applied["receipt_date"].map(day)
    assert waited.map(lambda delta: delta.days).between(1, 22).all()  # 1-20 days, moved to a business day
    unidentified = (applied["customer_id"] == "").mean()
    assert 0.03 < unidentified < 0.2


def test_cash_on_account_at_the_end_is_a_small_share_of_the_open_receivables(tables: dict[str, pd.DataFrame]) -> None:
    rates = closing_rates(tables["fx_rates"], END)
    invoices = tables["invoices"]
    currency = dict(zip(invoices["invoice_id"], invoices["currency"], strict=True))
    open_ar = sum(amount * rates[currency[invoice]] for invoice, amount in open_balances(tables, END).items())
    receipts = tables["unapplied_cash"]
    waiting = receipts[receipts["applied_on"] == ""]
    on_account = sum(Decimal(a) * rates[c] for a, c in zip(waiting["amount"], waiting["currency"], strict=True))
    assert Decimal("0.005") * open_ar <= on_account <= Decimal("0.02") * open_ar
    received = waiting["receipt_date"].map(day)
    assert (received >= END - datetime.timedelta(days=62)).all()
    assert (waiting["customer_id"] == "").any() and (waiting["customer_id"] != "").any()
    # the money on account is not in payments (only cash applied appears there)
    paid = set(zip(tables["payments"]["payment_date"], tables["payments"]["amount"]))
    assert sum((r, a) in paid for r, a in zip(waiting["receipt_date"], waiting["amount"], strict=True)) <= 1


def test_unapplied_cash_at_the_default_size(default_size: dict[str, pd.DataFrame]) -> None:
    receipts = default_size["unapplied_cash"]
    waiting = receipts[receipts["applied_on"].isna()]
    assert 150 <= len(waiting) <= 600
    assert 0.1 <= waiting["customer_id"].isna().mean() <= 0.3
    applied = receipts[receipts["applied_on"].notna()]
    assert 0.025 * len(default_size["payments"]) <= len(applied) <= 0.035 * len(default_size["payments"])
