"""A system's own export (data-contract.md §1.1): ``source.csv`` and ``source.tables`` read an ERP's files or tables
with their own names, values and CSV dialect, and give the very numbers of the contract-form ledger."""

from __future__ import annotations

import csv
import hashlib
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from collections_mi.core.contract import TABLES

from conftest import built_once, cli

AS_OF = "2026-10-31"
#: the ERP's file and column names (contract → export); other tables keep their names
EXPORT = {
    "invoices": (
        "Sales Invoice.csv",
        {
            "invoice_id": "Invoice No",
            "customer_id": "Customer",
            "invoice_date": "Posting Date",
            "due_date": "Due Date",
            "amount": "Grand Total",
            "disputed": "On Hold",
            "currency": "Currency",
        },
    ),
    "customers": (
        "Customer.csv",
        {"customer_id": "ID", "name": "Customer Name", "segment": "Customer Group", "region": "Territory"},
    ),
    "payments": (
        "Payment Entry.csv",
        {"payment_id": "Name", "invoice_id": "Reference Name", "payment_date": "Posting Date", "amount": "Paid Amount"},
    ),
    "adjustments": ("Journal Entry.csv", {"adjustment_id": "Entry", "kind": "Voucher Type", "amount": "Amount"}),
}
YES_NO = {"true": "Yes", "false": "No", "": ""}
KINDS = {"credit_note": "Credit Note", "discount": "Discount", "write_off": "Write Off", "recovery": "Recovery"}
#: a table left in the contract's own dialect, read through a per-table override of source.csv
CONTRACT_DIALECT_TABLE = "fx_rates"
ACCENTED = {1: "Café Müller GmbH", 2: "Société Générale d'Équipement; Zürich"}


def german_number(text: str) -> str:
    """1234567.5 → 1.234.567,5 (written here independently of the code under test)."""
    if not text:
        return text
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, fraction = digits.partition(".")
    groups = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    return sign + ".".join([whole, *groups]) + ("," + fraction if fraction else "")


def german_date(text: str) -> str:
    return f"{text[8:10]}.{text[5:7]}.{text[:4]}" if text else text


def cp1252_safe(text: str) -> str:
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter, lineterminator="\r\n").writerows(rows)


def as_erp_export(ledger: Path, export: Path) -> None:
    """``ledger`` (contract form) rewritten as an ERP would export it: own file and column names, ``;`` separated,
    decimal commas with thousands dots, DD.MM.YYYY dates, Windows-1252, Yes/No flags, own adjustment kinds."""
    export.mkdir(parents=True)
    for path in sorted(ledger.glob("*.csv")):
        table = path.stem
        name, columns = EXPORT.get(table, (path.name, {}))
        rows = read_rows(path)
        header, body = rows[0], rows[1:]
        if table == CONTRACT_DIALECT_TABLE:
            write_rows(export / name, rows)
            continue
        types = {c.name: c.type for c in TABLES[table].columns}
        out = [[columns.get(column, column) for column in header]]
        for row in body:
            written = []
            for column, value in zip(header, row, strict=True):
                kind = types.get(column)
                if kind == "date":
                    value = german_date(value)
                elif kind in ("money", "decimal", "int"):
                    value = german_number(value)
                if column in ("disputed", "on_watch_list"):
                    value = YES_NO[value]
                if table == "adjustments" and column == "kind":
                    value = KINDS[value]
                written.append(value)
            out.append(written)
        write_rows(export / name, out, delimiter=";", encoding="cp1252")


def erp_source(export: Path) -> dict:
    tables: dict[str, dict] = {table: {"file": name, "columns": columns} for table, (name, columns) in EXPORT.items()}
    tables["invoices"]["values"] = {"disputed": {"Yes": True, "No": False}}
    tables["adjustments"]["values"] = {"kind": {v: k for k, v in KINDS.items()}}
    tables["loans"] = {"values": {"on_watch_list": {"Yes": True, "No": False}}}
    tables[CONTRACT_DIALECT_TABLE] = {
        "csv": {"delimiter": ",", "decimal": ".", "thousands": "", "date_format": "%Y-%m-%d", "encoding": "utf-8"}
    }
    return {
        "kind": "files",
        "location": str(export),
        "csv": {"delimiter": ";", "decimal": ",", "thousands": ".", "date_format": "%d.%m.%Y", "encoding": "cp1252"},
        "tables": tables,
    }


def write(path: Path, source: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump({"as_of": AS_OF, "source": source}, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return path


def _contract_ledger_and_erp_export(work: Path) -> None:
    from collections_mi.demo import generate_demo

    ledger = work / "ledger"
    generate_demo(ledger, invoices=300, seed=5)
    customers = read_rows(ledger / "customers.csv")
    customers = [[cp1252_safe(value) for value in row] for row in customers]
    for row, name in ACCENTED.items():
        customers[row][customers[0].index("name")] = name
    write_rows(ledger / "customers.csv", customers)
    as_erp_export(ledger, work / "erp")


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small demo ledger in contract form (customer names with é, ü; Windows-1252 safe) and its ERP export; built
    once per run, read-only."""
    work, _ = built_once(tmp_path_factory, "mapping-ledgers", _contract_ledger_and_erp_export)
    return work / "ledger", work / "erp"


@pytest.fixture(scope="module")
def contract_kpis(ledgers: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> str:
    ledger, _ = ledgers

    def run_metrics(work: Path) -> dict:
        params = write(work / "2026-10.yaml", {"kind": "files", "location": str(ledger)})
        run = cli("metrics", "--params", str(params))
        assert run.returncode == 0, run.stderr
        return {"stdout": run.stdout}

    _, record = built_once(tmp_path_factory, "mapping-contract-kpis", run_metrics)
    assert '"ar_total"' in record["stdout"]
    return record["stdout"]


def test_the_export_is_what_an_erp_writes(ledgers: tuple[Path, Path]) -> None:
    _, export = ledgers
    raw = (export / "Customer.csv").read_bytes()
    assert "Café Müller GmbH".encode("cp1252") in raw and b";" in raw.splitlines()[0]
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    invoices = (export / "Sales Invoice.csv").read_text(encoding="cp1252").splitlines()
    assert invoices[0].startswith("Invoice No;Customer;Posting Date;Due Date;Grand Total")
    assert any(";Yes;" in line for line in invoices) and any(";No;" in line for line in invoices)
    assert any(line.split(";")[4].count(".") == 1 and "," in line.split(";")[4] for line in invoices[1:])  # 1.234,56


def test_an_erp_export_gives_byte_identical_kpis(
    ledgers: tuple[Path, Path], contract_kpis: str, tmp_path: Path
) -> None:
    _, export = ledgers
    params = write(tmp_path / "2026-10.yaml", erp_source(export))
    run = cli("metrics", "--params", str(params))
    assert run.returncode == 0, run.stderr
    assert run.stdout == contract_kpis


def test_the_views_hold_exact_contract_values(ledgers: tuple[Path, Path], tmp_path: Path) -> None:
    """Decimal commas and thousands dots become exact decimals, DD.MM.YYYY dates ISO dates, Yes/No booleans and the
    export's adjustment kinds the contract's; the fingerprint keeps the sha256 of the user's own (cp1252) file."""
    from collections_mi.config.params import load_params
    from collections_mi.sources.ledger import fetch, open_ledger

    ledger, export = ledgers
    path = write(tmp_path / "2026-10.yaml", erp_source(export))
    opened = open_ledger(load_params(path), path)
    contract = read_rows(ledger / "invoices.csv")
    header = contract[0]
    big = next(row for row in contract[1:] if len(row[header.index("amount")].split(".")[0]) > 3)
    typed = fetch(opened.typed["invoices"].filter(opened.typed["invoices"].invoice_id == big[0]))
    assert typed["amount"].iloc[0] == Decimal(big[header.index("amount")])
    assert str(typed["invoice_date"].iloc[0]) == big[header.index("invoice_date")]
    assert typed["disputed"].iloc[0] == (big[header.index("disputed")] == "true")
    raw = fetch(opened.raw["invoices"].filter(opened.raw["invoices"].invoice_id == big[0]))
    assert raw["amount"].iloc[0] == big[header.index("amount")]  # contract form: 2441.91, not 2.441,91
    assert raw["invoice_date"].iloc[0] == big[header.index("invoice_date")]
    kinds = fetch(opened.typed["adjustments"].select("kind").distinct())["kind"]
    assert set(kinds) <= {"credit_note", "discount", "write_off", "recovery"} and len(kinds) >= 2
    names = fetch(
        opened.typed["customers"]
        .filter(
            opened.typed["customers"].customer_id.isin(
                [read_rows(ledger / "customers.csv")[row][0] for row in ACCENTED]
            )
        )
        .select("name")
    )["name"]
    assert set(names) == set(ACCENTED.values())
    files = {f.table: f for f in opened.files}
    assert Path(files["invoices"].path).name == "Sales Invoice.csv"
    assert files["customers"].sha256 == hashlib.sha256((export / "Customer.csv").read_bytes()).hexdigest()
    assert opened.names["invoices"].columns["amount"] == "Grand Total"
    assert opened.extra_columns["invoices"] == ["terms_days"]


def _duckdb_export(ledger: Path, database: Path) -> None:
    """The contract ledger as a DuckDB file with the ERP's own table and column names: invoices typed (dates,
    decimals, Y/N flags), customers as text, other tables under their contract names."""
    import duckdb

    con = duckdb.connect(str(database))
    try:
        for path in sorted(ledger.glob("*.csv")):
            if path.stem not in ("invoices", "customers"):
                con.execute(f"create table {path.stem} as select * from read_csv(?, all_varchar = true)", [str(path)])
        con.execute(
            """create table "SALES_INV" as select invoice_id as "Invoice No", customer_id as "Customer",
                       cast(invoice_date as date) as "Posting Date", cast(due_date as date) as "Due Date",
                       cast(amount as decimal(18, 2)) as "Grand Total", currency,
                       case disputed when 'true' then 'Y' when 'false' then 'N' end as "On Hold"
                       from read_csv(?, all_varchar = true)""",
            [str(ledger / "invoices.csv")],
        )
        con.execute(
            """create table "Kunden" as select customer_id as "ID", name as "Kundenname",
                       * exclude (customer_id, name) from read_csv(?, all_varchar = true)""",
            [str(ledger / "customers.csv")],
        )
    finally:
        con.close()


DATABASE_TABLES = {
    "invoices": {
        "table": "SALES_INV",
        "columns": {
            "invoice_id": "Invoice No",
            "customer_id": "Customer",
            "invoice_date": "Posting Date",
            "due_date": "Due Date",
            "amount": "Grand Total",
            "disputed": "On Hold",
        },
        "values": {"disputed": {"Y": True, "N": False}},
    },
    "customers": {"table": "Kunden", "columns": {"customer_id": "ID", "name": "Kundenname"}},
}


@pytest.mark.parametrize("kind", ["duckdb", "ibis"])
def test_a_database_with_its_own_names_gives_the_same_kpis(
    kind: str, ledgers: tuple[Path, Path], contract_kpis: str, tmp_path: Path
) -> None:
    """``source.kind: duckdb`` (and ``ibis`` with a ``duckdb://`` URL): tables.<t>.table, columns and values."""
    ledger, _ = ledgers
    database = tmp_path / "erp.duckdb"
    _duckdb_export(ledger, database)
    location = str(database) if kind == "duckdb" else f"duckdb://{database}"
    params = write(tmp_path / "2026-10.yaml", {"kind": kind, "location": location, "tables": DATABASE_TABLES})
    run = cli("metrics", "--params", str(params))
    assert run.returncode == 0, run.stderr
    assert run.stdout == contract_kpis


def test_a_database_table_that_is_not_there_is_named(ledgers: tuple[Path, Path], tmp_path: Path) -> None:
    ledger, _ = ledgers
    database = tmp_path / "erp.duckdb"
    _duckdb_export(ledger, database)
    tables = {**DATABASE_TABLES, "customers": {**DATABASE_TABLES["customers"], "table": "Kundn"}}
    params = write(tmp_path / "2026-10.yaml", {"kind": "duckdb", "location": str(database), "tables": tables})
    run = cli("validate", "--params", str(params))
    assert run.returncode == 2
    assert "source.tables.customers.table: the table 'Kundn' (table customers) is not in" in run.stderr
    assert "Kunden" in run.stderr and "SALES_INV" in run.stderr


def test_a_mapped_failure_names_both_columns_in_every_rendering(ledgers: tuple[Path, Path], tmp_path: Path) -> None:
    """The report (text, JSON, HTML) names the contract column and the export's own column and file."""
    import json
    import shutil

    from collections_mi.config.params import load_params
    from collections_mi.sources.ledger import open_ledger
    from collections_mi.validation import validate

    _, export = ledgers
    broken = tmp_path / "erp"
    shutil.copytree(export, broken)
    path = broken / "Payment Entry.csv"
    lines = path.read_text(encoding="cp1252").splitlines()
    fields = lines[2].split(";")
    fields[3] = "12.34.56"  # thousands dots in the wrong places: not a number in this dialect
    lines[2] = ";".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="cp1252")
    params_path = write(tmp_path / "2026-10.yaml", erp_source(broken))
    report = validate(open_ledger(load_params(params_path), params_path), load_params(params_path))
    failure = next(f for f in report.failures if f.table == "payments")
    assert failure.location == "payments.amount (column 'Paid Amount' of Payment Entry.csv)"
    assert failure.check == "money_format" and failure.failing_count == 1
    assert failure.sample[0]["row"] == 2 and failure.sample[0]["amount"] == "12.34.56"
    assert "(12.34.56)" in failure.description and "1.234,56" in failure.hint
    assert "payments.amount (column 'Paid Amount' of Payment Entry.csv) [money_format]" in report.render_text()
    assert (
        json.loads(json.dumps(report.to_dict()))["failures"][0]["source"] == "column 'Paid Amount' of Payment Entry.csv"
    )
    assert "column &#x27;Paid Amount&#x27; of Payment Entry.csv" in report.render_html()
