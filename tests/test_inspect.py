"""`collections-mi inspect FOLDER`: the proposed source mapping for each ERP export fixture (tests/fixtures/erp/),
what it refuses to guess, that it never overwrites a file, and — once the mapping reader (source.csv / source.tables)
is in config.py — that the proposed params run `collections-mi metrics` to each fixture's hand-computed AR."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from collections_mi.cli import main
from collections_mi.config.params import SourceConfig
from collections_mi.sources.inspection import (
    FileSample,
    date_formats,
    match_columns,
    norm,
    number_votes,
    propose,
    render_yaml,
    yes_no_values,
)

from conftest import FIXTURES, TINY, cli

ERP = FIXTURES / "erp"

#: per fixture: table → (file, {contract column: source header}), and the hand-computed figures of its README
EXPECTED = {
    "erpnext": {
        "tables": {
            "customers": (
                "Customer.csv",
                {"customer_id": "ID", "name": "Customer Name", "segment": "Customer Group", "region": "Territory"},
            ),
            "invoices": (
                "Sales Invoice.csv",
                {
                    "invoice_id": "ID",
                    "customer_id": "Customer",
                    "invoice_date": "Date",
                    "due_date": "Payment Due Date",
                    "amount": "Grand Total",
                    "currency": "Currency",
                },
            ),
            "payments": (
                "Payment Entry.csv",
                {
                    "payment_id": "ID",
                    "invoice_id": "Reference Name",
                    "payment_date": "Posting Date",
                    "amount": "Allocated Amount",
                },
            ),
        },
        "csv": {"date_format": "%d-%m-%Y"},
        "ar_total": Decimal("13171.39"),
        "open_items": 8,
    },
    "odoo": {
        "tables": {
            "customers": (
                "res.partner.csv",
                {"customer_id": "Name", "name": "Name", "region": "Country", "collector": "Salesperson"},
            ),
            "invoices": (
                "account.move.csv",
                {
                    "invoice_id": "Number",
                    "customer_id": "Partner",
                    "invoice_date": "Invoice/Bill Date",
                    "due_date": "Due Date",
                    "amount": "Total",
                    "currency": "Currency",
                },
            ),
            "payments": (
                "account.payment.csv",
                {
                    "payment_id": "Number",
                    "invoice_id": "Reconciled Invoices",
                    "payment_date": "Date",
                    "amount": "Amount",
                },
            ),
        },
        "csv": None,
        "ar_total": Decimal("13171.39"),
        "open_items": 8,
    },
    "quickbooks_online": {
        "tables": {
            "customers": ("Customer Contact List.csv", {"customer_id": "Customer", "name": "Full Name"}),
            "invoices": (
                "Invoice List.csv",
                {
                    "invoice_id": "Num",
                    "customer_id": "Customer",
                    "invoice_date": "Date",
                    "due_date": "Due Date",
                    "amount": "Amount",
                },
            ),
            "payments": (
                "Received Payments.csv",
                {"payment_id": "Num", "invoice_id": "Invoice No", "payment_date": "Date", "amount": "Amount"},
            ),
        },
        "csv": {"thousands": ",", "date_format": "%m/%d/%Y"},
        "ar_total": Decimal("13171.39"),
        "open_items": 8,
    },
    "xero": {
        "tables": {
            "customers": ("Contacts.csv", {"customer_id": "ContactName", "name": "ContactName", "region": "POCountry"}),
            "invoices": (
                "Invoices.csv",
                {
                    "invoice_id": "InvoiceNumber",
                    "customer_id": "ContactName",
                    "invoice_date": "InvoiceDate",
                    "due_date": "DueDate",
                    "amount": "Total",
                    "currency": "Currency",
                },
            ),
            "payments": (
                "Payments.csv",
                {"payment_id": "PaymentID", "invoice_id": "InvoiceNumber", "payment_date": "Date", "amount": "Amount"},
            ),
        },
        "csv": {"date_format": "%d/%m/%Y"},
        "unused": ["Aged Receivables Summary.csv"],
        "ar_total": Decimal("13171.39"),
        "open_items": 8,
    },
    "sap_fbl5n": {
        "tables": {
            "customers": ("Customers.csv", {"customer_id": "Customer", "name": "Name 1", "region": "Country"}),
            "invoices": (
                "FBL5N_invoices.csv",
                {
                    "invoice_id": "Document Number",
                    "customer_id": "Customer",
                    "invoice_date": "Document Date",
                    "due_date": "Net due date",
                    "amount": "Amount in local currency",
                    "currency": "Local Currency",
                },
            ),
            "payments": (
                "FBL5N_cleared_items.csv",
                {
                    "payment_id": "Clearing Document",
                    "invoice_id": "Document Number",
                    "payment_date": "Clearing date",
                    "amount": "Amount in local currency",
                },
            ),
        },
        "csv": {"delimiter": ";", "decimal": ",", "thousands": ".", "date_format": "%d.%m.%Y", "encoding": "cp1252"},
        "ar_total": Decimal("14421.39"),
        "open_items": 8,
    },
}

MAPPING_READER = "tables" in SourceConfig.model_fields
needs_mapping = pytest.mark.skipif(
    not MAPPING_READER, reason="the mapping reader (source.csv / source.tables, branch mapping) is not merged yet"
)


def _inspect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["inspect", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---------------------------------------------------------------------------------------------------------------
# The pure proposal
# ---------------------------------------------------------------------------------------------------------------
def test_headers_match_exactly_regardless_of_case_and_spacing_then_by_synonym() -> None:
    assert norm("Invoice No.") == norm("invoice_no") == "invoiceno"
    matches, missing = match_columns(
        "invoices", ("INVOICE_ID", "Kunde", "Posting Date", "Net due date", "Outstanding Amount", "Grand Total")
    )
    found = {m.contract: (m.header, m.how) for m in matches}
    assert found["invoice_id"] == ("INVOICE_ID", "normalised")
    assert found["customer_id"] == ("Kunde", "synonym")
    assert found["amount"] == ("Grand Total", "synonym")  # a balance column never feeds amount
    assert missing == {}


def test_unmapped_required_columns_name_their_candidates() -> None:
    _, missing = match_columns("payments", ("Pay Ref", "Invoice Ref", "Value Date", "Sum"))
    assert set(missing) == {"payment_id", "invoice_id", "payment_date", "amount"}
    assert "Invoice Ref" in missing["invoice_id"]


def test_decimal_votes_and_date_formats() -> None:
    assert number_votes(["1.234,56", "850,50", "1.200"]) == {",": 2}
    assert number_votes(["1,234.56", "12.50", "1,200"]) == {".": 2}
    assert date_formats(["15.07.2026", "01.10.2026"]) == ["%d.%m.%Y"]
    assert date_formats(["07/15/2026", "10/01/2026"]) == ["%m/%d/%Y"]
    assert date_formats(["01/02/2026", "03/04/2026"]) == ["%d/%m/%Y", "%m/%d/%Y"]
    assert date_formats(["ACC-1", "2026-10-01"]) == []


def test_yes_no_columns_get_a_values_map() -> None:
    assert yes_no_values(["Yes", "No", "No"]) == {"No": False, "Yes": True}
    assert yes_no_values(["X", ""]) == {"X": True}
    assert yes_no_values(["true", "false"]) is None  # the contract's own spelling
    assert yes_no_values(["open", "closed"]) is None
    sample = FileSample(
        "invoices.csv",
        "csv",
        ("Invoice No", "Customer", "Posting Date", "Due Date", "Grand Total", "On Hold"),
        (
            ("A1", "C1", "2026-10-01", "2026-10-31", "10.00", "Yes"),
            ("A2", "C1", "2026-10-02", "2026-11-01", "12.50", "No"),
        ),
        encoding="ascii",
        delimiter=",",
    )
    proposal = propose("exports", [sample])
    assert proposal.tables["invoices"].values == {"disputed": {"No": False, "Yes": True}}
    assert 'disputed: {"No": false, "Yes": true}' in render_yaml(proposal, command="test")


# ---------------------------------------------------------------------------------------------------------------
# The command on each ERP fixture
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("erp", sorted(EXPECTED))
def test_inspect_proposes_the_documented_mapping(erp: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _inspect(capsys, str(ERP / erp))
    assert code == 0, err
    params = yaml.safe_load(out)
    expected = EXPECTED[erp]
    assert params["as_of"] == "2026-10-31" or str(params["as_of"]) == "2026-10-31"
    source = params["source"]
    assert source["kind"] == "files" and source["location"] == str(ERP / erp)
    proposed = {t: (entry["file"], entry["columns"]) for t, entry in source["tables"].items()}
    assert proposed == expected["tables"]
    csv = source.get("csv")
    if expected["csv"] is None:
        assert csv is None
    else:
        assert {k: csv[k] for k in expected["csv"]} == expected["csv"], csv
    assert "# TODO" not in out, out
    for name in expected.get("unused", []):
        assert f"#   {name}: cannot feed invoices" in out
        assert f"not used: {name}" in err


def test_an_aged_summary_is_said_to_feed_no_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _inspect(capsys, str(ERP / "xero"))
    assert code == 0
    line = next(line for line in out.splitlines() if "Aged Receivables Summary.csv" in line)
    assert "no invoice number, invoice date, due date column" in line
    assert "aged summary" in line and "not a line-item ledger" in line


def test_sap_export_is_sniffed_as_german_windows_text(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, err = _inspect(capsys, str(ERP / "sap_fbl5n"))
    assert 'csv: {delimiter: ";", decimal: ",", thousands: ".", date_format: "%d.%m.%Y", encoding: "cp1252"}' in out
    assert "reporting_currency: EUR" in out
    assert "invoices     ← FBL5N_invoices.csv" in err


def test_ambiguous_dates_are_reported_not_guessed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "Invoices.csv").write_text(
        "Invoice Number,Customer,Invoice Date,Due Date,Amount\n"
        "A1,C1,01/02/2026,03/04/2026,100.00\nA2,C2,05/06/2026,07/08/2026,250.00\n",
        encoding="utf-8",
    )
    (folder / "Payments.csv").write_text(
        "Payment ID,Invoice Number,Payment Date,Amount\nP1,A1,02/03/2026,100.00\n", encoding="utf-8"
    )
    (folder / "Customers.csv").write_text("Customer,Customer Name\nC1,One\nC2,Two\n", encoding="utf-8")
    code, out, err = _inspect(capsys, str(folder))
    assert code == 0
    assert 'date_format: "' not in out
    assert '# TODO Invoices.csv: dates such as \'01/02/2026\' can be read as "%d/%m/%Y" or "%m/%d/%Y"' in out
    assert "inspect does not guess" in out
    assert "refused to guess: Invoices.csv" in err
    assert "# TODO as_of" in out  # the latest invoice date cannot be read either
    yaml.safe_load(out)


def test_unmapped_required_columns_and_missing_tables_are_todos(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "invoices.csv").write_text(
        "Invoice Number,Customer Ref,Invoice Date,Due Date,Amount\nA1,C1,2026-10-01,2026-10-31,100.00\n",
        encoding="utf-8",
    )
    code, out, _ = _inspect(capsys, str(folder))
    assert code == 0
    assert '# TODO customer_id (required): no header matched; candidates: "Customer Ref"' in out
    assert "# TODO customers (required table): no file in the folder looks like customers" in out
    assert "# TODO payments (required table)" in out and "may have no rows" in out


def test_inspect_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "params" / "2026-10.yaml"
    target.parent.mkdir()
    target.write_text("as_of: 2026-10-31  # mine\n", encoding="utf-8")
    code, out, err = _inspect(capsys, str(ERP / "odoo"), "--out", str(target))
    assert code == 2
    assert "already exists: inspect never overwrites a file" in err
    assert "Traceback" not in err and out == ""
    assert target.read_text(encoding="utf-8") == "as_of: 2026-10-31  # mine\n"


def test_out_writes_the_file_and_takes_as_of_from_its_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "params" / "2026-09.yaml"
    code, out, err = _inspect(capsys, str(ERP / "erpnext"), "--out", str(target))
    assert code == 0, err
    assert out == ""
    assert str(yaml.safe_load(target.read_text(encoding="utf-8"))["as_of"]) == "2026-09-30"
    assert f"Wrote {target}" in err
    code, _, err = _inspect(
        capsys, str(ERP / "erpnext"), "--out", str(tmp_path / "2026-09b" / "2026-08.yaml"), "--as-of", "2026-09-30"
    )
    assert code == 2 and "is not in 2026-08" in err


def test_bad_folders_are_clean_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _inspect(capsys, str(tmp_path / "nowhere"))
    assert code == 2 and "is not a folder" in err and "Traceback" not in err
    code, _, err = _inspect(capsys, str(tmp_path))
    assert code == 2 and "holds no .csv or .parquet file" in err
    code, _, err = _inspect(capsys, str(ERP / "odoo"), "--as-of", "31.10.2026")
    assert code == 2 and "is not a date" in err


# ---------------------------------------------------------------------------------------------------------------
# End to end: the proposed params load and run (needs the mapping reader)
# ---------------------------------------------------------------------------------------------------------------
@needs_mapping
@pytest.mark.parametrize("erp", sorted(EXPECTED))
def test_proposed_params_give_the_hand_computed_ar(erp: str, tmp_path: Path) -> None:
    params = tmp_path / "params" / "2026-10.yaml"
    run = cli("inspect", str(ERP / erp), "--out", str(params))
    assert run.returncode == 0, run.stderr
    from collections_mi.config.params import load_params

    load_params(params)
    run = cli("metrics", "--params", str(params))
    assert run.returncode == 0, run.stderr
    kpis = json.loads(run.stdout, parse_float=Decimal)
    assert Decimal(str(kpis["ar_total"])) == EXPECTED[erp]["ar_total"]
    assert int(kpis["open_items"]) == EXPECTED[erp]["open_items"]


def test_dispute_and_unapplied_cash_exports_are_recognised_and_validate(tmp_path: Path) -> None:
    """An SAP Dispute Management case list and an unapplied-receipts report (v1.1 tables) by their own headers: the
    proposal maps every column by synonym, and the proposed params validate and give the hand-computed KPIs."""
    folder = tmp_path / "export"
    shutil.copytree(TINY, folder)
    (folder / "dispute_cases.csv").write_text(
        "Case ID,Invoice,Created On,Closed On,Reason Code,Disputed Amount,Processor\nC1,I1,2026-09-05,,pricing,,Ann\n",
        encoding="utf-8",
    )
    (folder / "unapplied_receipts.csv").write_text(
        "Receipt No,Payer,Posting Date,Unapplied Amount,Currency\nR1,C1,2026-10-20,150.00,USD\nR2,,2026-10-25,75.00,\n",
        encoding="utf-8",
    )
    matches, missing = match_columns(
        "disputes", ("Case ID", "Invoice", "Created On", "Closed On", "Reason Code", "Disputed Amount", "Processor")
    )
    assert {m.contract: m.header for m in matches} == {
        "dispute_id": "Case ID",
        "invoice_id": "Invoice",
        "opened_on": "Created On",
        "resolved_on": "Closed On",
        "reason": "Reason Code",
        "amount": "Disputed Amount",
        "owner": "Processor",
    } and missing == {}
    params = tmp_path / "2026-10.yaml"
    run = cli("inspect", str(folder), "--out", str(params))
    assert run.returncode == 0, run.stderr
    run = cli("metrics", "--params", str(params))
    assert run.returncode == 0, run.stderr
    kpis = json.loads(run.stdout, parse_float=Decimal)
    # I1's open balance at 10-31 is 600.00 (1000 − 400); unapplied 150.00 + 75.00 (unidentified) of 2,322.50
    assert (kpis["disputes_open"], kpis["disputed_open_total"]) == (1, Decimal(600))
    assert (kpis["unapplied_cash_total"], kpis["ar_net"]) == (Decimal(225), Decimal("2097.5"))
