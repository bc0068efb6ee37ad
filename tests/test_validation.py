"""Validation. Bad ledgers are copies of the tiny fixture ledger with a CSV edited (one problem per ledger, or a
few independent problems per ledger to keep the file fast); every failure is asserted exactly: check id, table,
column, failing count, and a sample naming the offending row's key."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from collections_mi.config.params import load_params
from collections_mi.core.contract import ADJUSTMENT_KINDS, FALSE_STRINGS, GL_ACCOUNTS, RISK_GRADES, TABLES, TRUE_STRINGS
from collections_mi.sources.ledger import open_ledger
from collections_mi.validation import (
    SuiteError,
    ValidationFailure,
    ValidationReport,
    expectations_dir,
    load_suite,
    validate,
)
from collections_mi.validation.cross_table import SET_CHECKS, Context

FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny_ledger"
TINY_PARAMS = FIXTURES / "tiny_params.yaml"
SRC = Path(__file__).resolve().parents[1] / "src"

Rows = list[dict[str, str]]


class BadLedger:
    """A copy of the tiny ledger in a temporary folder, edited table by table."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "ledger"
        shutil.copytree(TINY, self.folder)
        self.params = root / "params.yaml"
        self.params.write_text(TINY_PARAMS.read_text().replace("location: tiny_ledger", "location: ledger"))

    def rows(self, table: str) -> tuple[list[str], Rows]:
        with (self.folder / f"{table}.csv").open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            return list(reader.fieldnames or []), list(reader)

    def write(self, table: str, header: list[str], rows: Rows) -> None:
        with (self.folder / f"{table}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)

    def edit(self, table: str, change: Callable[[Rows], Rows | None]) -> BadLedger:
        header, rows = self.rows(table)
        changed = change(rows)
        self.write(table, header, rows if changed is None else changed)
        return self

    def set(self, table: str, key: str, column: str, value: str) -> BadLedger:
        """Set ``column`` of the row whose key is ``key``."""
        id_column = TABLES[table].key

        def change(rows: Rows) -> None:
            matches = [row for row in rows if row[id_column] == key]
            assert len(matches) == 1, f"{table} has no row {key}"
            matches[0][column] = value

        return self.edit(table, change)

    def append(self, table: str, *new_rows: dict[str, str]) -> BadLedger:
        return self.edit(table, lambda rows: rows + list(new_rows))

    def drop_column(self, table: str, column: str) -> BadLedger:
        header, rows = self.rows(table)
        kept = [c for c in header if c != column]
        self.write(table, kept, [{k: r[k] for k in kept} for r in rows])
        return self

    def remove(self, table: str) -> BadLedger:
        (self.folder / f"{table}.csv").unlink()
        return self

    def validate(self) -> ValidationReport:
        params = load_params(self.params)
        return validate(open_ledger(params, self.params), params)


@pytest.fixture
def ledger(tmp_path: Path) -> BadLedger:
    return BadLedger(tmp_path)


def only_failure(report: ValidationReport) -> ValidationFailure:
    assert len(report.failures) == 1, report.render_text()
    return report.failures[0]


def assert_failure(failure: ValidationFailure, check: str, table: str, column: str | None, count: int) -> None:
    got = (failure.check, failure.table, failure.column, failure.failing_count)
    assert got == (check, table, column, count), failure.line()


def failure_of(report: ValidationReport, check: str, table: str | None = None) -> ValidationFailure:
    found = [f for f in report.failures if f.check == check and table in (None, f.table)]
    assert len(found) == 1, report.render_text()
    return found[0]


def sample_values(failure: ValidationFailure, column: str) -> list[object]:
    return [row.get(column) for row in failure.sample]


# --------------------------------------------------------------------------------------------- the good case


@pytest.fixture(scope="module")
def tiny_report() -> ValidationReport:
    params = load_params(TINY_PARAMS)
    return validate(open_ledger(params, TINY_PARAMS), params)


def test_tiny_ledger_passes(tiny_report: ValidationReport) -> None:
    assert tiny_report.ok, tiny_report.render_text()
    assert tiny_report.failures == []
    assert tiny_report.tables == {
        "customers": 3,
        "invoices": 7,
        "payments": 3,
        "adjustments": 1,
        "fx_rates": 3,
        "gl_balances": 1,
    }
    assert tiny_report.checks_run > 80
    assert tiny_report.seconds > 0
    assert "passed" in tiny_report.render_text()
    assert json.loads(json.dumps(tiny_report.to_dict()))["ok"] is True


def test_future_dated_rows_and_accepted_variations_are_not_errors(ledger: BadLedger) -> None:
    # an invoice after as_of in a currency with no rate at all, a payment and a write-off after as_of
    ledger.append(
        "invoices",
        {
            "invoice_id": "I8",
            "customer_id": "C1",
            "invoice_date": "2026-12-01",
            "due_date": "2026-12-31",
            "amount": "75.00",
            "currency": "GBP",
            "disputed": "",
        },
    )
    ledger.append("payments", {"payment_id": "P4", "invoice_id": "I8", "payment_date": "2027-01-05", "amount": "25.00"})
    ledger.append(
        "adjustments",
        {
            "adjustment_id": "A2",
            "invoice_id": "I2",
            "adjustment_date": "2027-02-01",
            "kind": "write_off",
            "amount": "500.00",
        },
    )
    # also fine: trailing zeros beyond the minor unit, yes/no flags in any case, and a recovery on a fully
    # paid invoice (a recovery does not reduce the balance, so it cannot over-apply it)
    ledger.set("invoices", "I1", "amount", "1000.0000").set("invoices", "I3", "disputed", "YES")
    ledger.append(
        "adjustments",
        {
            "adjustment_id": "A3",
            "invoice_id": "I5",
            "adjustment_date": "2026-10-20",
            "kind": "recovery",
            "amount": "300.00",
        },
    )
    report = ledger.validate()
    assert report.ok, report.render_text()


def test_empty_payments_is_allowed(ledger: BadLedger) -> None:
    report = ledger.edit("payments", lambda rows: []).validate()
    assert report.ok, report.render_text()
    assert report.tables["payments"] == 0


def test_absent_optional_money_columns_are_not_checked(ledger: BadLedger) -> None:
    # customers without credit_limit (an ERP customer list rarely has one): the reporting-currency decimals check of
    # that column has nothing to check (it used to stop validation with an Ibis error)
    report = ledger.drop_column("customers", "credit_limit").drop_column("customers", "risk_score").validate()
    assert report.ok, report.render_text()


def test_invoices_without_a_currency_column_are_in_the_reporting_currency(ledger: BadLedger) -> None:
    # the payments' decimals are checked against the reporting currency (it used to stop with an Ibis error)
    ledger.edit("invoices", lambda rows: [r for r in rows if r["currency"] in ("", "USD")])
    ledger.edit("payments", lambda rows: [r for r in rows if r["invoice_id"] not in {"I4", "I7"}])
    ledger.edit("adjustments", lambda rows: [r for r in rows if r["invoice_id"] not in {"I4", "I7"}])
    report = ledger.drop_column("invoices", "currency").validate()
    assert report.ok, report.render_text()


# --------------------------------------------------------------------------- bad ledgers, one problem each


def test_missing_required_column_skips_the_rest_of_the_table(ledger: BadLedger) -> None:
    # with due_date gone, invoices gets no other check: its bad amount must not be reported
    report = ledger.set("invoices", "I1", "amount", "-1").drop_column("invoices", "due_date").validate()
    failure = only_failure(report)
    assert_failure(failure, "missing_column", "invoices", "due_date", 1)
    assert "skipped" in failure.description
    assert failure.sample == [{"columns_found": "invoice_id, customer_id, invoice_date, amount, currency, disputed"}]
    assert any(s.startswith("invoices: all checks skipped") for s in report.skipped)
    assert any("orphan_payment" in s for s in report.skipped)


def test_missing_fx_rate_for_a_currency(ledger: BadLedger) -> None:
    failure = only_failure(ledger.set("invoices", "I7", "currency", "GBP").validate())
    assert_failure(failure, "fx_coverage", "fx_rates", "currency", 1)
    assert failure.sample == [
        {
            "currency": "GBP",
            "earliest_invoice": "I7",
            "earliest_invoice_date": "2026-07-10",
            "invoices": 1,
            "first_rate_date": None,
        }
    ]
    assert "never a silent 1.0" in failure.expectation


def test_fx_rates_starting_after_the_earliest_invoice(ledger: BadLedger) -> None:
    ledger.edit("fx_rates", lambda rows: [r for r in rows if r["rate_date"] != "2026-07-01"])
    failure = only_failure(ledger.validate())
    assert_failure(failure, "fx_coverage", "fx_rates", "currency", 1)
    assert failure.sample[0]["currency"] == "EUR"
    assert failure.sample[0]["earliest_invoice"] == "I7"
    assert failure.sample[0]["first_rate_date"] == "2026-10-30"


def test_missing_fx_rates_table(ledger: BadLedger) -> None:
    failure = only_failure(ledger.remove("fx_rates").validate())
    assert_failure(failure, "fx_coverage", "fx_rates", "currency", 1)
    assert failure.sample[0]["currency"] == "EUR" and failure.sample[0]["invoices"] == 2


def test_missing_required_table_and_incomplete_group(ledger: BadLedger) -> None:
    (ledger.folder / "agencies.csv").write_text("agency_id,name\nAG1,Alpha Recoveries\n", encoding="utf-8")
    report = ledger.remove("customers").validate()
    found = [(f.check, f.table, f.column, f.failing_count) for f in report.failures]
    assert found == [
        ("missing_table", "customers", None, 1),
        ("incomplete_group", "agency_placements", None, 1),
        ("incomplete_group", "agency_collections", None, 1),
    ], report.render_text()
    missing = report.failures[0]
    assert missing.hint == "add customers.csv with at least the columns customer_id, name"
    assert any(s.startswith("orphan_invoice (invoices): not checked") for s in report.skipped)
    assert "agency_collections.csv" in report.failures[2].hint
    assert report.tables["agencies"] == 1 and "customers" not in report.tables


def test_empty_invoices_table(ledger: BadLedger) -> None:
    report = ledger.edit("invoices", lambda rows: []).validate()
    found = {(f.check, f.table, f.column, f.failing_count) for f in report.failures}
    # the payments and the credit note now point to invoices that do not exist: reported too
    assert found == {
        ("empty_table", "invoices", None, 1),
        ("orphan_payment", "payments", "invoice_id", 3),
        ("orphan_adjustment", "adjustments", "invoice_id", 1),
    }
    assert report.tables["invoices"] == 0


# ------------------------------------------------- bad ledgers with several independent problems (fewer runs)
# Each problem is in its own rows; the first test of each group asserts the complete list of failures, so a
# problem that leaked into another check would show.


@pytest.fixture(scope="module")
def several_problems(tmp_path_factory: pytest.TempPathFactory) -> ValidationReport:
    ledger = BadLedger(tmp_path_factory.mktemp("several"))
    ledger.append(
        "invoices",
        {
            "invoice_id": "I1",
            "customer_id": "C2",
            "invoice_date": "2026-09-01",
            "due_date": "2026-10-01",
            "amount": "50.00",
            "currency": "USD",
            "disputed": "false",
        },
    )  # duplicate invoice_id
    ledger.set("invoices", "I3", "invoice_date", "2026-02-30")  # unparseable date
    ledger.set("adjustments", "A1", "kind", "<script>alert('x')</script>")  # unknown kind (and markup)
    ledger.append(
        "payments", {"payment_id": "P9", "invoice_id": "I99", "payment_date": "2026-10-01", "amount": "10.00"}
    )  # payment for an unknown invoice
    return ledger.validate()


def test_every_failure_is_reported_in_one_run(several_problems: ValidationReport) -> None:
    report = several_problems
    found = [(f.check, f.table, f.column, f.failing_count) for f in report.failures]
    assert found == [
        ("unique", "invoices", "invoice_id", 2),
        ("date_format", "invoices", "invoice_date", 1),
        ("orphan_payment", "payments", "invoice_id", 1),
        ("allowed_values", "adjustments", "kind", 1),
    ], report.render_text()  # in contract table order
    assert report.failing_tables == ["invoices", "payments", "adjustments"]
    assert not report.ok
    assert report.summary().startswith("4 problems in 3 tables")


def test_duplicate_invoice_id(several_problems: ValidationReport) -> None:
    failure = failure_of(several_problems, "unique")
    assert_failure(failure, "unique", "invoices", "invoice_id", 2)
    assert sample_values(failure, "invoice_id") == ["I1", "I1"]
    assert sample_values(failure, "row") == [1, 8]  # positions in invoices.csv
    assert failure.description == "2 rows where invoice_id repeats a value that must be unique (I1 ×2)"
    assert failure.hint == "remove or renumber the duplicate rows in invoices.csv"
    assert failure.line().startswith("invoices.invoice_id: 2 rows where invoice_id repeats")


def test_unparseable_date(several_problems: ValidationReport) -> None:
    failure = failure_of(several_problems, "date_format")
    assert_failure(failure, "date_format", "invoices", "invoice_date", 1)
    assert failure.sample == [{"row": 3, "invoice_id": "I3", "invoice_date": "2026-02-30"}]
    assert "(2026-02-30)" in failure.description


def test_payment_for_unknown_invoice(several_problems: ValidationReport) -> None:
    failure = failure_of(several_problems, "orphan_payment")
    assert_failure(failure, "orphan_payment", "payments", "invoice_id", 1)
    assert failure.sample == [{"payment_id": "P9", "invoice_id": "I99", "payment_date": "2026-10-01", "amount": "10"}]
    assert failure.description == "1 payment for an invoice_id that is not in invoices (I99)"
    assert "invoices.csv" in failure.hint and "payments.csv" in failure.hint


def test_unknown_adjustment_kind(several_problems: ValidationReport) -> None:
    failure = failure_of(several_problems, "allowed_values")
    assert_failure(failure, "allowed_values", "adjustments", "kind", 1)
    assert failure.sample == [{"row": 1, "adjustment_id": "A1", "kind": "<script>alert('x')</script>"}]
    assert "credit_note, discount, write_off, recovery" in failure.expectation


def test_reports_render_and_escape_values(several_problems: ValidationReport) -> None:
    text = several_problems.render_text()
    for part in (
        "invoices (8 rows)",
        "✗ invoices.invoice_date [date_format]",
        "expectation: invoice_date is a calendar",
        "failing: 1",
        "row=3, invoice_id=I3, invoice_date=2026-02-30",
        "fix: write invoice_date as YYYY-MM-DD",
        "adjustments.kind [allowed_values]",
        "payment_id=P9",
    ):
        assert part in text, text
    page = several_problems.render_html()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # self-contained
    data = json.loads(json.dumps(several_problems.to_dict()))
    assert data["ok"] is False
    assert [f["check"] for f in data["failures"]] == ["unique", "date_format", "orphan_payment", "allowed_values"]


@pytest.fixture(scope="module")
def amount_problems(tmp_path_factory: pytest.TempPathFactory) -> ValidationReport:
    ledger = BadLedger(tmp_path_factory.mktemp("amounts"))
    ledger.set("invoices", "I5", "due_date", "2026-08-01")  # due before the invoice date (2026-09-01)
    ledger.set("invoices", "I1", "amount", "1000.005")  # more decimals than USD has
    ledger.set("payments", "P1", "amount", "0.00")  # zero payment
    ledger.set("payments", "P2", "amount", "-300.00")  # negative payment
    ledger.set("payments", "P3", "amount", "199.995")  # pays I7, in EUR: 2 decimals at most
    # I4 (800 EUR) has a 100 credit note; 750 more cash, dated after as_of, over-applies it by 50
    ledger.append(
        "payments", {"payment_id": "P4", "invoice_id": "I4", "payment_date": "2026-11-20", "amount": "750.00"}
    )
    return ledger.validate()


def test_amount_problems_are_all_reported(amount_problems: ValidationReport) -> None:
    found = [(f.check, f.table, f.column, f.failing_count) for f in amount_problems.failures]
    assert found == [
        ("due_before_invoice", "invoices", "due_date", 1),
        ("money_decimals", "invoices", "amount", 1),
        ("over_application", "invoices", "amount", 1),
        ("money_format", "payments", "amount", 1),
        ("positive", "payments", "amount", 1),
        ("money_decimals", "payments", "amount", 1),
    ], amount_problems.render_text()


def test_over_application_counts_payments_and_credits_of_all_dates(amount_problems: ValidationReport) -> None:
    failure = failure_of(amount_problems, "over_application")
    row = failure.sample[0]
    assert row["invoice_id"] == "I4" and row["currency"] == "EUR"
    assert (Decimal(row["amount"]), Decimal(row["applied"]), Decimal(row["excess"])) == (
        Decimal(800),
        Decimal(850),
        Decimal(50),
    )
    assert failure.description == "1 invoice where payments and credits applied exceed the invoice amount (I4)"


def test_negative_amount(amount_problems: ValidationReport) -> None:
    failure = failure_of(amount_problems, "money_format")
    assert_failure(failure, "money_format", "payments", "amount", 1)
    assert failure.sample == [{"row": 2, "payment_id": "P2", "amount": "-300.00"}]
    assert "negative" in failure.description


def test_due_date_before_invoice_date(amount_problems: ValidationReport) -> None:
    failure = failure_of(amount_problems, "due_before_invoice")
    assert failure.sample == [{"invoice_id": "I5", "invoice_date": "2026-09-01", "due_date": "2026-08-01"}]
    assert failure.description == "1 row where due_date is before invoice_date (I5)"


def test_amount_with_too_many_decimals(amount_problems: ValidationReport) -> None:
    failure = failure_of(amount_problems, "money_decimals", "invoices")
    assert failure.sample == [{"invoice_id": "I1", "amount": "1000.005", "currency": "USD", "max_decimals": 2}]


def test_payment_decimals_follow_the_invoice_currency(amount_problems: ValidationReport) -> None:
    failure = failure_of(amount_problems, "money_decimals", "payments")
    assert failure.sample == [
        {"payment_id": "P3", "invoice_id": "I7", "amount": "199.995", "currency": "EUR", "max_decimals": 2}
    ]


def test_zero_amount(amount_problems: ValidationReport) -> None:
    failure = failure_of(amount_problems, "positive")
    assert failure.sample == [{"row": 1, "payment_id": "P1", "amount": "0.00"}]
    assert failure.description == "1 row where amount is zero (0.00)"


#: the set checks counted together over payments, adjustments and disputes joined once to the invoices
INVOICE_REFERENCE_CHECKS = [
    ("orphan_payment", "payments"),
    ("money_decimals", "payments"),
    ("orphan_adjustment", "adjustments"),
    ("money_decimals", "adjustments"),
    ("orphan_dispute", "disputes"),
    ("money_decimals", "disputes"),
]


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("all three", [2, 3, 1, 1, 1, 1]),
        ("disputes without amount", [2, 3, 1, 1, 1, 0]),
        ("payments only", [2, 3, None, None, None, None]),
    ],
)
def test_invoice_references_counted_together_equal_each_checks_own_rows(
    ledger: BadLedger, layout: str, expected: list[int | None]
) -> None:
    """The orphan and money_decimals checks of payments, adjustments and disputes are counted in one join of the
    three to the invoices; each count equals the rows the check itself lists (its own query, run here) and the
    number worked out by hand. An amount is held to its invoice's currency (JPY none, KWD three, written in any
    case) and an orphan's to the reporting currency (USD: P5's 3 decimals); an empty invoice_id is no orphan (the
    not-null check reports it); an empty amount has no decimals."""
    ledger.append(
        "payments",
        {"payment_id": "P5", "invoice_id": "I99", "payment_date": "2026-10-01", "amount": "10.005"},  # both
        {"payment_id": "P6", "invoice_id": "I98", "payment_date": "2026-10-01", "amount": "5.00"},  # orphan
        {"payment_id": "P7", "invoice_id": "I4", "payment_date": "2026-10-01", "amount": "1.5"},  # JPY: decimals
        {"payment_id": "P8", "invoice_id": "", "payment_date": "2026-10-01", "amount": "1.00"},  # neither
        {"payment_id": "P9", "invoice_id": "I7", "payment_date": "2026-10-01", "amount": "1.005"},  # KWD: neither
        {"payment_id": "P10", "invoice_id": "I4", "payment_date": "2026-10-02", "amount": "2.50"},  # JPY: decimals
    )
    ledger.set("invoices", "I4", "currency", "JPY").set("invoices", "I7", "currency", "kwd")
    if layout == "payments only":
        (ledger.folder / "adjustments.csv").unlink()
    else:
        ledger.append(
            "adjustments",
            {
                "adjustment_id": "A2",
                "invoice_id": "I97",
                "adjustment_date": "2026-10-01",
                "kind": "credit_note",
                "amount": "3.00",
            },  # orphan
            {
                "adjustment_id": "A3",
                "invoice_id": "I1",
                "adjustment_date": "2026-10-01",
                "kind": "discount",
                "amount": "2.123",
            },  # decimals
        )
        amount = layout == "all three"
        header = ["dispute_id", "invoice_id", "opened_on", "reason"] + (["amount"] if amount else [])
        disputes = [
            {"dispute_id": "D1", "invoice_id": "I1", "opened_on": "2026-10-01", "reason": "price", "amount": "1.5"},
            {
                "dispute_id": "D2",
                "invoice_id": "I96",
                "opened_on": "2026-10-01",
                "reason": "price",
                "amount": "7.777",
            },  # both
            {"dispute_id": "D3", "invoice_id": "I3", "opened_on": "2026-10-01", "reason": "price", "amount": ""},
        ]
        ledger.write("disputes", header, [{k: v for k, v in row.items() if k in header} for row in disputes])
    report = ledger.validate()
    counts = {(f.check, f.table): f.failing_count for f in report.failures}

    params = load_params(ledger.params)
    opened = open_ledger(params, ledger.params)
    context = Context(
        raw=dict(opened.raw),
        typed=dict(opened.typed),
        reporting_currency=params.reporting_currency,
        as_of=params.as_of,
        present=frozenset(opened.raw),
    )
    checks = {(c.id, c.table): c for c in SET_CHECKS}
    for (check, table), wanted in zip(INVOICE_REFERENCE_CHECKS, expected, strict=True):
        assert checks[check, table].shared is not None  # counted together, not by its own query
        if wanted is None:  # the table is absent: not checked
            assert (check, table) not in counts and table not in opened.raw
            continue
        own = int(checks[check, table].items(context).count().to_pyarrow().as_py())
        assert (counts.get((check, table), 0), own) == (wanted, wanted), (check, table, report.render_text())
    assert [row["payment_id"] for row in failure_of(report, "orphan_payment").sample] == ["P5", "P6"]
    assert [row["payment_id"] for row in failure_of(report, "money_decimals", "payments").sample] == ["P10", "P5", "P7"]


OPTIONAL_TABLES = {
    "agencies": """agency_id,name,strategy
AG1,Alpha Recoveries,champion
AG2,Beta Collect,challenger
""",
    "agency_placements": """placement_id,agency_id,customer_id,placed_date,placed_amount,fee_rate,recalled_date
PL1,AG1,C2,2026-06-01,250.50,0.25,
PL2,AG2,C3,2026-07-01,200.00,0,2026-10-01
PL3,AG9,C9,2026-07-01,100.00,1.0,
""",
    "agency_collections": """collection_id,placement_id,collection_date,amount
K1,PL1,2026-07-15,100.00
K2,PL2,2026-06-15,50.00
K3,PL7,2026-08-01,10.00
""",
    "loans": "as_of_date,loan_id,borrower,balance,effective_rate,risk_grade,days_past_due,on_watch_list,"
    "impairment_method,collateral_value,cost_to_sell_rate,status\n"
    """2026-10-31,L1,Borrower One,100000.00,0.10,substandard,45,true,cash_flows,,,performing
2026-10-31,L2,Borrower Two,50000.00,0.08,doubtful,120,yes,collateral,30000.00,0.08,non_accrual
2026-10-31,L3,Borrower Three,20000.00,1.5,awful,-3,maybe,magic,-5,2,zombie
2026-10-31,L1,Borrower One again,1.00,0.10,pass,0,false,,,,
""",
    "loan_cash_flows": """as_of_date,loan_id,flow_date,amount
2026-10-31,L1,2026-12-31,30000.00
2026-10-31,L1,2026-10-15,30000.00
2026-09-30,L2,2026-12-31,10000.00
""",
}


def test_optional_tables_are_checked(ledger: BadLedger) -> None:
    """Agencies and loans with one problem per row (L3 has several), plus a repeated fx rate."""
    for name, text in OPTIONAL_TABLES.items():
        (ledger.folder / f"{name}.csv").write_text(text, encoding="utf-8")
    ledger.append("fx_rates", {"rate_date": "2026-10-30", "currency": "EUR", "rate": "1.07"})
    report = ledger.validate()
    found = [(f.check, f.table, f.column, f.failing_count) for f in report.failures]
    assert found == [
        ("compound_unique", "fx_rates", "rate_date, currency", 2),
        ("range", "agency_placements", "fee_rate", 1),
        ("orphan_placement_customer", "agency_placements", "customer_id", 1),
        ("orphan_placement_agency", "agency_placements", "agency_id", 1),
        ("orphan_collection", "agency_collections", "placement_id", 1),
        ("collection_before_placement", "agency_collections", "collection_date", 1),
        ("range", "loans", "effective_rate", 1),
        ("allowed_values", "loans", "risk_grade", 1),
        ("range", "loans", "days_past_due", 1),
        ("bool_format", "loans", "on_watch_list", 1),
        ("allowed_values", "loans", "impairment_method", 1),
        ("money_format", "loans", "collateral_value", 1),
        ("range", "loans", "cost_to_sell_rate", 1),
        ("allowed_values", "loans", "status", 1),
        ("compound_unique", "loans", "as_of_date, loan_id", 2),
        ("flow_not_after_snapshot", "loan_cash_flows", "flow_date", 1),
        ("orphan_cash_flow", "loan_cash_flows", "loan_id", 1),
    ], report.render_text()
    samples = {(f.check, f.table, f.column): f.sample for f in report.failures}
    assert samples[("compound_unique", "fx_rates", "rate_date, currency")] == [
        {"row": 2, "rate_date": "2026-10-30", "currency": "EUR"},
        {"row": 4, "rate_date": "2026-10-30", "currency": "EUR"},
    ]
    assert samples[("range", "agency_placements", "fee_rate")] == [{"row": 3, "placement_id": "PL3", "fee_rate": "1.0"}]
    assert samples[("orphan_collection", "agency_collections", "placement_id")][0]["collection_id"] == "K3"
    assert samples[("collection_before_placement", "agency_collections", "collection_date")] == [
        {"collection_id": "K2", "placement_id": "PL2", "placed_date": "2026-07-01", "collection_date": "2026-06-15"}
    ]
    assert samples[("range", "loans", "days_past_due")] == [
        {"row": 3, "as_of_date": "2026-10-31", "loan_id": "L3", "days_past_due": "-3"}
    ]
    assert samples[("flow_not_after_snapshot", "loan_cash_flows", "flow_date")] == [
        {"as_of_date": "2026-10-31", "loan_id": "L1", "flow_date": "2026-10-15"}
    ]
    assert samples[("orphan_cash_flow", "loan_cash_flows", "loan_id")] == [
        {"as_of_date": "2026-09-30", "loan_id": "L2", "flow_date": "2026-12-31", "amount": "10000"}
    ]


def test_an_exports_own_columns_named_like_a_checks_never_stand_in_for_them(ledger: BadLedger) -> None:
    """Extra columns are carried through: a payments export with its own invoice_currency and an agency
    collections export with its own placed_date change nothing — the decimals are held to the invoice's currency
    (P3 pays I7, in EUR, not the KWD the export says) and a collection is compared with the placement's date; the
    count and the rows listed agree."""
    header, rows = ledger.rows("payments")
    for row in rows:
        row["invoice_currency"] = "KWD" if row["payment_id"] == "P3" else "JPY"
    rows[0]["amount"] = "400.50"  # USD: fine, though its own column says JPY
    ledger.write("payments", [*header, "invoice_currency"], rows)
    ledger.set("payments", "P3", "amount", "200.005")  # EUR: too many, though its own column says KWD
    for name in ("agencies", "agency_placements"):
        (ledger.folder / f"{name}.csv").write_text(OPTIONAL_TABLES[name], encoding="utf-8")
    collections = OPTIONAL_TABLES["agency_collections"].splitlines()
    text = "\n".join([collections[0] + ",placed_date"] + [line + ",2000-01-01" for line in collections[1:]])
    (ledger.folder / "agency_collections.csv").write_text(text + "\n", encoding="utf-8")
    report = ledger.validate()
    decimals = failure_of(report, "money_decimals", "payments")
    assert (decimals.failing_count, [row["payment_id"] for row in decimals.sample]) == (1, ["P3"])
    assert decimals.sample[0]["currency"] == "EUR"
    early = failure_of(report, "collection_before_placement")
    assert early.failing_count == 1
    assert early.sample == [
        {"collection_id": "K2", "placement_id": "PL2", "placed_date": "2026-07-01", "collection_date": "2026-06-15"}
    ]


def test_an_agencys_fee_amount_must_be_a_plain_amount(ledger: BadLedger) -> None:
    """agency_collections.fee_amount, the export's own column the fee reconciliation reads, is checked when present:
    written with a decimal comma it is a data problem named as such (not a fault in the compute); an empty one is
    no fee charged."""
    for name in ("agencies", "agency_placements"):
        (ledger.folder / f"{name}.csv").write_text(OPTIONAL_TABLES[name], encoding="utf-8")
    lines = OPTIONAL_TABLES["agency_collections"].splitlines()
    fees = {"K1": '"1,25"', "K2": "2.50", "K3": ""}
    text = "\n".join([lines[0] + ",fee_amount"] + [line + "," + fees[line.split(",")[0]] for line in lines[1:]])
    (ledger.folder / "agency_collections.csv").write_text(text + "\n", encoding="utf-8")
    failure = failure_of(ledger.validate(), "money_format", "agency_collections")
    assert (failure.column, failure.failing_count) == ("fee_amount", 1)
    assert failure.sample == [{"collection_id": "K1", "fee_amount": "1,25"}]
    assert "as 1234.56" in failure.hint and "agency_collections.csv" in failure.hint


# --------------------------------------------------------------------------------------------------- suites


def suite_files() -> list[Path]:
    return sorted(expectations_dir().glob("*.json"))


def test_one_suite_per_contract_table() -> None:
    assert sorted(p.stem for p in suite_files()) == sorted(TABLES)


@pytest.mark.parametrize("path", suite_files(), ids=lambda p: p.stem)
def test_suite_loads_with_its_full_expectation_count(path: Path) -> None:
    written = json.loads(path.read_text(encoding="utf-8"))["expectations"]
    suite = load_suite(path)
    assert len(suite.gx_suite.expectations) == len(written) == len(suite.expectations)
    for item in written:
        assert item["meta"]["notes"].strip() and item["meta"]["hint"].strip() and item["meta"]["check"]


def test_suites_cover_the_contract() -> None:
    for name, table in TABLES.items():
        items = json.loads((expectations_dir() / f"{name}.json").read_text(encoding="utf-8"))["expectations"]
        checks = {(i["meta"]["check"], i["kwargs"].get("column")) for i in items}
        for column in table.columns:
            if column.required:
                assert ("not_null", column.name) in checks, f"{name}.{column.name}"
                assert ("missing_column", column.name) in checks, f"{name}.{column.name}"
            if column.type == "date":
                assert ("date_format", column.name) in checks, f"{name}.{column.name}"
            if column.type == "bool":
                assert ("bool_format", column.name) in checks, f"{name}.{column.name}"
        if table.key:
            assert ("unique", table.key) in checks, name
        sets = {
            i["kwargs"]["column"]: i["kwargs"]["value_set"]
            for i in items
            if i["type"] == "expect_column_values_to_be_in_set"
        }
        expected = {
            "adjustments": {"kind": ADJUSTMENT_KINDS},
            "loans": {"risk_grade": RISK_GRADES},
            "gl_balances": {"account": GL_ACCOUNTS},
        }.get(name, {})
        for column, values in expected.items():
            assert tuple(sets[column]) == values
        for item in items:
            if item["meta"]["check"] == "bool_format":
                pattern = re.compile(item["kwargs"]["regex"])
                for word in TRUE_STRINGS + FALSE_STRINGS:
                    assert pattern.search(word) and pattern.search(word.upper())
                assert not pattern.search("maybe")


def test_a_suite_that_cannot_be_built_names_its_file(tmp_path: Path) -> None:
    broken = tmp_path / "invoices.json"
    broken.write_text(
        json.dumps(
            {
                "name": "invoices",
                "expectations": [
                    {
                        "type": "expect_column_values_to_not_be_null",
                        "kwargs": {"column": "invoice_id"},
                        "meta": {"check": "not_null", "notes": "n", "hint": "h"},
                    },
                    {
                        "type": "expect_column_values_to_be_purple",
                        "kwargs": {"column": "invoice_id"},
                        "meta": {"check": "purple", "notes": "n", "hint": "h"},
                    },
                ],
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(SuiteError, match=r"invoices\.json, expectation #2 \(expect_column_values_to_be_purple\)"):
        load_suite(broken)


def test_importing_validation_does_not_import_great_expectations() -> None:
    code = "import sys, collections_mi.validation; sys.exit('great_expectations' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(SRC), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


_VALIDATE_TINY = """
import json, sys
from collections_mi.config.params import load_params
from collections_mi.sources.ledger import open_ledger
from collections_mi.validation import SuiteError, validate
params = load_params(sys.argv[1])
try:
    report = validate(open_ledger(params, sys.argv[1]), params)
except SuiteError as exc:
    print(json.dumps({"suite_error": str(exc)}))
else:
    print(json.dumps({"ok": report.ok, "checks": report.checks_run, "gx": "great_expectations" in sys.modules}))
"""


def test_suites_gx_has_built_are_remembered_and_a_clean_ledger_then_validates_without_gx(tmp_path: Path) -> None:
    """Great Expectations (~3 s to import) builds each suite file once per content and GX version; then a ledger
    whose every table passes the engine screen validates without importing it — the same checks, the same verdict.
    A changed suite file is built again, so a broken edit is still an error at load."""
    suites = shutil.copytree(expectations_dir(), tmp_path / "expectations")
    env = {
        "PYTHONPATH": str(SRC),
        "PATH": "",
        "GX_ANALYTICS_ENABLED": "False",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "COLLECTIONS_MI_EXPECTATIONS": str(suites),
    }

    def run() -> dict:
        result = subprocess.run(
            [sys.executable, "-c", _VALIDATE_TINY, str(TINY_PARAMS)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=TINY_PARAMS.parent,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    first, second = run(), run()
    assert first == {"ok": True, "checks": first["checks"], "gx": True} and first["checks"] > 100
    assert second == {**first, "gx": False}
    assert len(list((tmp_path / "cache" / "collections_mi" / "verified-suites").iterdir())) == len(TABLES)
    data = json.loads((suites / "invoices.json").read_text(encoding="utf-8"))
    data["expectations"][0]["type"] = "expect_column_values_to_be_purple"
    (suites / "invoices.json").write_text(json.dumps(data), encoding="utf-8")
    assert "Great Expectations cannot build it" in run()["suite_error"]


# ------------------------------------------------------------------------------ values the engine would change


def test_decimals_the_engine_would_round_are_errors(ledger: BadLedger) -> None:
    """decimal columns are read as decimal(38, 18): a 19th decimal was rounded away without a word (an FX rate of
    0.0000000000000000001 became 0 and converted EUR receivables to 0, exit 0). 18 decimals, and trailing zeros
    beyond them, change nothing and pass."""
    ledger.set("customers", "C1", "risk_score", "720.0000000000000000004")  # 19 decimals: read as 720
    ledger.set("customers", "C3", "risk_score", "610.12345678901234567800")  # 18 significant decimals: exact
    ledger.edit(
        "fx_rates",
        lambda rows: [
            {**row, "rate": "0.0000000000000000001"} if row["rate_date"] == "2026-10-30" else row for row in rows
        ],
    )
    report = ledger.validate()
    found = [(f.check, f.table, f.column, f.failing_count) for f in report.failures]
    assert found == [("decimal_places", "customers", "risk_score", 1), ("decimal_places", "fx_rates", "rate", 1)], (
        report.render_text()
    )
    risk, rate = report.failures
    assert risk.sample == [{"customer_id": "C1", "risk_score": "720.0000000000000000004", "read_as": "720"}]
    assert rate.sample == [
        {"rate_date": "2026-10-30", "currency": "EUR", "rate": "0.0000000000000000001", "read_as": "0"}
    ]
    assert rate.line() == (
        "fx_rates.rate: 1 row where rate has more than 18 decimals, which the engine would round (to the value shown "
        "as read_as) (0.0000000000000000001) — fix: write rate with at most 18 decimals in fx_rates.csv; a value "
        "that needs more is almost always a wrong unit or a misplaced decimal point, so check it against the source "
        "system"
    )


def test_a_parquet_decimal_finer_than_the_engine_type_is_an_error(ledger: BadLedger) -> None:
    """A Parquet decimal(38, 20) column is cast to decimal(38, 18) by the typed view: the check reads the source's
    own digits, so the rounding is caught there too."""
    import duckdb

    (ledger.folder / "fx_rates.csv").unlink()
    target = str(ledger.folder / "fx_rates.parquet").replace("'", "''")
    duckdb.sql(
        "select * from (values (date '2026-07-01', 'EUR', 1.10::decimal(38, 20)), "
        "(date '2026-10-30', 'EUR', 0.00000000000000000012::decimal(38, 20))) t(rate_date, currency, rate)"
    ).write_parquet(target)
    report = ledger.validate()
    assert [(f.check, f.table, f.column, f.failing_count) for f in report.failures] == [
        ("decimal_places", "fx_rates", "rate", 1)
    ], report.render_text()
    assert report.failures[0].sample == [
        {"rate_date": "2026-10-30", "currency": "EUR", "rate": "0.00000000000000000012", "read_as": "0"}
    ]


def test_every_decimal_column_the_engine_could_round_is_checked() -> None:
    """One check driven by the contract's engine types: every decimal column has it; money columns are checked
    against their currency's minor unit instead (money_decimals), never finer than the money scale."""
    from collections_mi.core.contract import ENGINE_TYPES, MINOR_UNIT_EXCEPTIONS
    from collections_mi.validation.cross_table import ROW_CHECKS, SET_CHECKS, decimal_bounds

    checked = {(c.table, c.column) for c in ROW_CHECKS if c.id == "decimal_places"}
    decimals = {(name, c.name) for name, t in TABLES.items() for c in t.columns if c.type == "decimal"}
    assert checked == decimals
    money_scale = decimal_bounds(ENGINE_TYPES["money"])[1]
    assert max(MINOR_UNIT_EXCEPTIONS.values()) <= money_scale
    money_checks = {(c.table, c.column) for c in [*ROW_CHECKS, *SET_CHECKS] if c.id == "money_decimals"}
    assert money_checks == {(name, c.name) for name, t in TABLES.items() for c in t.columns if c.type == "money"}


# ----------------------------------------------------------------------------------------- dates as written


def test_dates_are_written_exactly_yyyy_mm_dd(ledger: BadLedger) -> None:
    """strptime (GX) and the engine's cast read 2026-9-15, 2026-10- 1 or a date with spaces around it; the
    contract writes YYYY-MM-DD and nothing else. Each is reported as written, spaces shown in quotes."""
    ledger.set("invoices", "I1", "invoice_date", " 2026-08-01")
    ledger.set("invoices", "I2", "due_date", "2026-11-14 ")
    ledger.set("payments", "P1", "payment_date", "2026-9-15")
    ledger.set("payments", "P2", "payment_date", "2026-10- 1")
    ledger.set("adjustments", "A1", "adjustment_date", "2026-10-5")
    report = ledger.validate()
    found = [(f.check, f.table, f.column, f.failing_count) for f in report.failures]
    assert found == [
        ("date_format", "invoices", "invoice_date", 1),
        ("date_format", "invoices", "due_date", 1),
        ("date_format", "payments", "payment_date", 2),
        ("date_format", "adjustments", "adjustment_date", 1),
    ], report.render_text()
    invoice_date, due_date, payment_date, adjustment_date = report.failures
    assert invoice_date.sample == [{"row": 1, "invoice_id": "I1", "invoice_date": '" 2026-08-01"'}]
    assert due_date.sample == [{"row": 2, "invoice_id": "I2", "due_date": '"2026-11-14 "'}]
    assert payment_date.sample == [
        {"row": 1, "payment_id": "P1", "payment_date": "2026-9-15"},
        {"row": 2, "payment_id": "P2", "payment_date": "2026-10- 1"},
    ]
    assert adjustment_date.sample == [{"row": 1, "adjustment_id": "A1", "adjustment_date": "2026-10-5"}]
    assert payment_date.description == (
        "2 rows where payment_date is not a real date written YYYY-MM-DD (2026-9-15, 2026-10- 1)"
    )
    assert payment_date.hint == (
        "write payment_date as YYYY-MM-DD (e.g. 2026-10-31) and correct impossible dates, in payments.csv; or set "
        'source.csv.date_format (README.md § Params) if the export writes every date another way, e.g. "%d/%m/%Y"'
    )
    assert "2026-9-15" in report.render_text() and "2026-9-15 " not in report.render_text()


# ------------------------------------------------------------------------------------- control characters


def test_control_characters_in_the_data_are_escaped_in_both_reports(ledger: BadLedger) -> None:
    """A value holding a terminal escape sequence (OSC retitle, ANSI colour) is quoted with its control characters
    escaped in validation.txt and validation.html; validation.json keeps the exact value (JSON escapes it)."""
    ledger.append(
        "invoices",
        {
            "invoice_id": "I8",
            "customer_id": "\x1b]0;pwned\x07",
            "invoice_date": "2026-09-01",
            "due_date": "2026-10-01",
            "amount": "10.00",
            "currency": "USD",
            "disputed": "",
        },
    )
    ledger.append(
        "invoices",
        {
            "invoice_id": "I9",
            "customer_id": "\x1b[31mRED\u202e",
            "invoice_date": "2026-09-02",
            "due_date": "2026-10-02",
            "amount": "20.00",
            "currency": "USD",
            "disputed": "",
        },
    )
    report = ledger.validate()
    failure = only_failure(report)
    assert sample_values(failure, "customer_id") == ["\x1b]0;pwned\x07", "\x1b[31mRED\u202e"]
    text, page = report.render_text(), report.render_html()
    assert r"customer_id=\x1b]0;pwned\x07, invoice_date=2026-09-01" in text
    assert r"(\x1b]0;pwned\x07, \x1b[31mRED\u202e)" in text
    assert r"<td>\x1b[31mRED\u202e</td>" in page
    for rendered in (text, page):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", rendered)
    assert "\\u001b]0;pwned\\u0007" in json.dumps(report.to_dict())


def test_escaped_shows_every_control_character_and_keeps_line_structure() -> None:
    from collections_mi.core.printable import escaped

    assert (
        escaped("a\x1b[2Jb\rc\x08d\x00e\x7ff\x9bg\x9dh\u202ei\u2066j")
        == r"a\x1b[2Jb\x0dc\x08d\x00e\x7ff\x9bg\x9dh\u202ei\u2066j"
    )
    assert escaped("line 1\n\tline 2 — Zürich, 東京") == "line 1\n\tline 2 — Zürich, 東京"
    assert escaped(escaped("\x1b")) == r"\x1b"
