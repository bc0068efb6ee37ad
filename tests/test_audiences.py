"""Audiences (issue 19 item 6, data-contract.md v1.1 §4 "Audiences"): ``report.audiences`` → a pack per audience in
``<pack>/audiences/<name>/``, computed on the filtered customers' part of the ledger, tying out to the main pack's
breakdowns; ``collections-mi send --audience NAME``; strict params."""

from __future__ import annotations

import csv
import json
import os
import shutil
from decimal import Decimal
from email import policy
from email.parser import BytesParser
from pathlib import Path

import ibis
import pytest

from collections_mi.config.params import load_params, parse_params
from collections_mi.core.contract import ENGINE_TYPES, TABLES
from collections_mi.core.errors import ConfigError
from collections_mi.metrics.book import open_book
from collections_mi.metrics.dso_formulas import KPI_IDS
from collections_mi.metrics.sections import available_sections, compute_sections
from collections_mi.metrics.shape import ledger_shape
from collections_mi.sources.audiences import (
    NOT_PER_CUSTOMER,
    REFERENCE_TABLES,
    _part_of,
    audience_ledger,
    materialised,
)
from collections_mi.sources.ledger import open_ledger

from conftest import NO_BROWSER, ROOT, cli, shared_pack, write_params

TINY = ROOT / "tests" / "fixtures" / "tiny_ledger"
TRACEBACK = "Traceback (most recent call last)"
BASE = {"as_of": "2026-10-31", "source": {"kind": "files", "location": "ledger"}}


def _params(audiences: object) -> dict[str, object]:
    return {**BASE, "report": {"audiences": audiences}}


# --------------------------------------------------------------------------------------------------- params


def test_audiences_params_are_read_strictly_and_values_become_text() -> None:
    params = parse_params(
        _params(
            {
                "emea": {"filter": {"region": "EMEA"}, "recipients": ["Head EMEA <emea@example.com>"]},
                "key_accounts-2": {"filter": {"segment": ["Enterprise", "Public", "Enterprise"], "risk_band": 3}},
            }
        )
    )
    emea, key = params.report.audiences["emea"], params.report.audiences["key_accounts-2"]
    assert emea.filter == {"region": ("EMEA",)} and emea.recipients == ["Head EMEA <emea@example.com>"]
    assert key.filter == {"segment": ("Enterprise", "Public"), "risk_band": ("3",)} and key.recipients == []
    assert key.describe() == "segment in Enterprise, Public and risk_band = 3"
    assert parse_params(BASE).report.audiences == {}


@pytest.mark.parametrize(
    ("audiences", "expected"),
    [
        ({"EMEA": {"filter": {"region": "EMEA"}}}, "report.audiences: Value error, 'EMEA' cannot name an audience"),
        ({"../x": {"filter": {"region": "EMEA"}}}, "'../x' cannot name an audience: an audience's name is its folder"),
        ({".hidden": {"filter": {"region": "EMEA"}}}, "'.hidden' cannot name an audience"),
        ({"emea": {"filter": {}}}, "report.audiences.emea.filter: Dictionary should have at least 1 item"),
        ({"emea": {"filter": {"region": []}}}, "report.audiences.emea.filter.region: Value error, give at least one"),
        ({"emea": {"filter": {"region": True}}}, "report.audiences.emea.filter.region: Value error, YAML reads an"),
        ({"emea": {"filter": {"region": {"a": 1}}}}, "report.audiences.emea.filter.region: Value error, {'a': 1} is"),
        ({"emea": {"filter": {"region": "x"}, "recipients": ["not an address"]}}, "report.audiences.emea.recipients.0"),
        ({"emea": {"filter": {"region": "x"}, "to": ["a@example.com"]}}, "report.audiences.emea.to: unknown key"),
        ({"emea": {"recipients": ["a@example.com"]}}, "report.audiences.emea.filter: required key is missing"),
        ({"emea": {"filter": {"region": "a\u202eb"}}}, "report.audiences.emea.filter.region: contains"),
    ],
)
def test_bad_audiences_params_name_the_key(audiences: object, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_params(_params(audiences))
    assert expected in str(raised.value)


def test_the_demo_params_define_audiences_that_read_back_from_the_frozen_copy(tmp_path: Path) -> None:
    from collections_mi.config.params import write_frozen_params

    params = load_params(ROOT / "params" / "2026-10.yaml")
    assert params.report.audiences["emea"].filter == {"region": ("EMEA",)}
    assert params.report.audiences["key-accounts"].filter == {"segment": ("Enterprise", "Public")}
    assert load_params(write_frozen_params(params, ROOT / "params" / "2026-10.yaml", tmp_path)).report == params.report


# ------------------------------------------------------------------------------------ the audience's ledger


def test_every_contract_table_is_either_per_customer_reference_or_left_out() -> None:
    """A table added to the contract must say whose rows it holds: the filter refuses a table it cannot place."""
    typed = {
        name: ibis.table({c.name: ENGINE_TYPES[c.type] for c in spec.columns}, name=name)
        for name, spec in TABLES.items()
    }
    ids = typed["customers"].select("customer_id")
    part, left_out = _part_of(typed, ids, lambda table: table)
    assert set(left_out) == set(NOT_PER_CUSTOMER) & set(TABLES)
    assert set(part) | set(left_out) == set(TABLES)
    for name in REFERENCE_TABLES:
        assert part[name] is typed[name]
    for name in set(part) - set(REFERENCE_TABLES):
        assert part[name] is not typed[name], f"{name} is not filtered to the audience's customers"


def _ledger(folder: Path, audiences: dict[str, object], tmp_path: Path):
    params_path = write_params(tmp_path, folder, report={"audiences": audiences})
    params = load_params(params_path)
    return params, open_ledger(params, params_path)


def _compute(tables, params, shape, names=("aging", "dso", "allowance")):
    sections = [s for s in available_sections(tables, shape=shape) if s.name in names]
    with open_book(tables, params, shape=shape) as book:
        return compute_sections(book, params, sections)


def _row(frame, column: str, value: str):
    rows = frame[frame[column] == value]
    assert len(rows) == 1, f"no single {column} = {value} row in {frame}"
    return rows.iloc[0]


def _assert_ties_out(ledger_folder: Path, column: str, tmp_path: Path) -> list[str]:
    """Every value of ``column`` as an audience: its ar_total, past_due_total and open_items equal the main pack's
    aging_by_<column> row; the audiences together make the main pack's totals."""
    values = sorted({row[column] for row in csv.DictReader((ledger_folder / "customers.csv").open(encoding="utf-8"))})
    audiences = {f"a{i}": {"filter": {column: value}} for i, value in enumerate(values)}
    params, ledger = _ledger(ledger_folder, audiences, tmp_path)
    main = _compute(ledger.typed, params, ledger_shape(ledger.typed, params.as_of))["aging"]
    breakdown = getattr(main.tables, f"by_{column}")
    totals = {"ar_total": Decimal(0), "past_due_total": Decimal(0), "open_items": 0}
    for name, audience in params.report.audiences.items():
        part = audience_ledger(ledger.raw, ledger.typed, name, audience)
        with materialised(part) as cached:
            aging = _compute(cached.typed, params, ledger_shape(cached.typed, params.as_of, cached.left_out))["aging"]
        row = _row(breakdown, column, audience.filter[column][0])
        assert aging.kpis.ar_total == row["total"] and aging.kpis.ar_total > 0
        assert aging.kpis.past_due_total == row["past_due"]
        assert aging.kpis.open_items == row["items"]
        # the audience's own breakdown by the same column is that one row
        assert list(getattr(aging.tables, f"by_{column}")[column]) == [audience.filter[column][0]]
        totals = {k: totals[k] + getattr(aging.kpis, k) for k in totals}
    assert totals == {k: getattr(main.kpis, k) for k in totals}
    return values


def test_an_audience_ties_out_to_its_row_of_the_main_breakdown_on_the_tiny_ledger(tmp_path: Path) -> None:
    assert _assert_ties_out(TINY, "region", tmp_path) == ["EMEA", "North America"]
    (tmp_path / "s").mkdir()
    assert _assert_ties_out(TINY, "segment", tmp_path / "s") == ["Enterprise", "Mid-Market", "SMB"]


def test_an_audience_ties_out_to_its_row_of_the_main_breakdown_on_the_demo_ledger(
    demo_ledger: Path, tmp_path: Path
) -> None:
    assert len(_assert_ties_out(demo_ledger, "region", tmp_path)) >= 3
    (tmp_path / "s").mkdir()
    assert len(_assert_ties_out(demo_ledger, "segment", tmp_path / "s")) >= 3


#: the DSO family's KPIs a breakdown row shows (all but dso_countback)
_DSO_ROW_KPIS = [kpi for kpi in KPI_IDS if kpi != "dso_countback"]


@pytest.mark.parametrize("column", ["segment", "region"])
def test_each_row_of_the_dso_breakdown_is_its_audience_s_dso_family(
    demo_ledger: Path, tmp_path: Path, column: str
) -> None:
    """A group's row of the DSO breakdown (summed per customer, rolled up, KPIs column by column) equals the DSO
    section of the ledger cut to that group's customers (its KPIs computed once for the whole book): AR, past due
    AR, the window's sales and every KPI of the family."""
    values = sorted({row[column] for row in csv.DictReader((demo_ledger / "customers.csv").open(encoding="utf-8"))})
    audiences = {f"a{i}": {"filter": {column: value}} for i, value in enumerate(values)}
    params, ledger = _ledger(demo_ledger, audiences, tmp_path)
    main = _compute(ledger.typed, params, ledger_shape(ledger.typed, params.as_of), ("dso",))["dso"]
    breakdown = getattr(main.tables, f"by_{column}")
    assert sorted(breakdown[column]) == values
    for name, audience in params.report.audiences.items():
        part = audience_ledger(ledger.raw, ledger.typed, name, audience)
        with materialised(part) as cached:
            shape = ledger_shape(cached.typed, params.as_of, cached.left_out)
            dso = _compute(cached.typed, params, shape, ("dso",))["dso"]
        row = _row(breakdown, column, audience.filter[column][0])
        trend = dso.tables.trend
        latest = trend[trend["month_end"] == params.as_of].iloc[0]
        assert row["ar_total"] == latest["ar_total"] > 0
        assert row["past_due_ar"] == latest["ar_total"] - latest["current_ar"]
        assert row["sales_window"] == latest["sales_window"]
        for kpi in _DSO_ROW_KPIS:
            assert row[kpi] == getattr(dso.kpis, kpi), (audience.filter, kpi)
        assert all(getattr(dso.kpis, kpi) is not None for kpi in _DSO_ROW_KPIS)


def test_a_list_filter_is_the_sum_of_its_values_and_the_loan_book_and_gl_are_left_out(
    demo_ledger: Path, tmp_path: Path
) -> None:
    params, ledger = _ledger(demo_ledger, {"key": {"filter": {"segment": ["Enterprise", "Public"]}}}, tmp_path)
    main = _compute(ledger.typed, params, ledger_shape(ledger.typed, params.as_of))
    part = audience_ledger(ledger.raw, ledger.typed, "key", params.report.audiences["key"])
    assert set(part.left_out) == {"loans", "loan_cash_flows", "gl_balances"}
    assert not set(part.left_out) & set(part.typed)
    with materialised(part) as cached:
        shape = ledger_shape(cached.typed, params.as_of, cached.left_out)
        assert [s.name for s in available_sections(cached.typed, shape=shape)] == [
            "aging",
            "dso",
            "allowance",
            "agency",
            "cash",
        ]
        results = _compute(cached.typed, params, shape, ("aging", "allowance", "agency"))
    by_segment = main["aging"].tables.by_segment
    expected = sum(_row(by_segment, "segment", s)["total"] for s in ("Enterprise", "Public"))
    assert results["aging"].kpis.ar_total == expected
    # the GL line of the reconciliation and the allowance's GL reconciliation say why they are empty
    reconciliation = results["aging"].tables.reconciliation
    gl_line = reconciliation[reconciliation["check"] == "GL ar_control"].iloc[0]
    assert gl_line["explanation"] == NOT_PER_CUSTOMER["gl_balances"]
    assert results["allowance"].unavailable["allowance_gl_reconciliation"] == NOT_PER_CUSTOMER["gl_balances"]
    assert shape.missing("loans") == NOT_PER_CUSTOMER["loans"]
    # agency placements follow the customers (a plain-Python oracle over the CSV files)
    customers = _customer_ids(demo_ledger, "segment", {"Enterprise", "Public"})
    placed = _placed(demo_ledger, customers, params.as_of)
    assert placed > 0 and results["agency"].kpis.agency_placed == placed
    assert part.scope().startswith(f"Audience key: the {len(customers):,} of ")
    assert part.scope().endswith(
        " The loan book (watch-list reserves), the general ledger balances (gl_balances: the GL reconciliation lines) "
        "and unidentified cash (receipts without a customer) are not per customer: left out of this pack (the main "
        "pack shows them)."
    )


def _customer_ids(folder: Path, column: str, values: set[str]) -> set[str]:
    rows = csv.DictReader((folder / "customers.csv").open(encoding="utf-8"))
    return {r["customer_id"] for r in rows if r[column] in values}


def _placed(folder: Path, customers: set[str], as_of) -> Decimal:
    """Σ placed_amount of the customers' placements dated on or before as_of: a plain-Python oracle."""
    rows = csv.DictReader((folder / "agency_placements.csv").open(encoding="utf-8"))
    return sum(
        (Decimal(r["placed_amount"]) for r in rows if r["customer_id"] in customers and r["placed_date"] <= str(as_of)),
        Decimal(0),
    )


def test_a_filter_on_a_column_the_customers_table_lacks_is_refused_when_the_ledger_opens(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        _ledger(TINY, {"emea": {"filter": {"Region": "EMEA"}}}, tmp_path)
    message = str(raised.value)
    assert "report.audiences.emea.filter.Region: the customers table (customers.csv) has no column 'Region'" in message
    assert "its columns: customer_id, name, segment, region, collector, credit_limit, risk_score" in message
    assert "spell it 'region'" in message


def test_a_filter_matching_no_customer_is_an_error_naming_the_audience_and_the_values(tmp_path: Path) -> None:
    params, ledger = _ledger(TINY, {"apac": {"filter": {"region": ["APAC", "Asia"]}}}, tmp_path)
    with pytest.raises(ConfigError) as raised:
        audience_ledger(ledger.raw, ledger.typed, "apac", params.report.audiences["apac"])
    assert (
        "report.audiences.apac.filter: no customer has region in APAC, Asia (the customers table holds 3 customers); "
        "region values there: EMEA, North America"
    ) in str(raised.value)


# ------------------------------------------------------------------------------------ end to end: the CLI


AUDIENCES = {
    "emea": {"filter": {"region": "EMEA"}, "recipients": ["Head EMEA <emea@example.com>"]},
    "north-america": {"filter": {"region": "North America"}, "recipients": ["na@example.com"]},
}


@pytest.fixture(scope="module")
def tiny_audience_pack(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The tiny ledger published with two audiences by region, once per run (whichever worker needs it first):
    (params, a private copy of the reports folder, the run's stderr)."""
    pack = shared_pack(
        tmp_path_factory,
        "tiny-audience-pack",
        report={"company": "Tiny Co", "audiences": AUDIENCES},
        email={"sender": "mi@example.com"},
    )
    assert pack.run.returncode == 0, pack.run.stderr
    params, reports = pack.private(tmp_path_factory.mktemp("audiences"))
    return params, reports, pack.run.stderr


@pytest.mark.slow
def test_the_pack_publishes_each_audience_tied_out_to_the_main_breakdown(tiny_audience_pack) -> None:
    _, reports, stderr = tiny_audience_pack
    pack = reports / "2026-10"
    by_region = {r["region"]: r for r in csv.DictReader((pack / "tables" / "aging_by_region.csv").open())}
    index = (pack / "index.html").read_text(encoding="utf-8")
    assert '<a href="audiences/emea/index.html">emea</a>' in index and "region = EMEA" in index
    for name, region in (("emea", "EMEA"), ("north-america", "North America")):
        folder = pack / "audiences" / name
        for path in ("index.html", "kpis.json", "tables/aging.csv", "tables.xlsx", "email.eml", "params.yaml"):
            assert (folder / path).is_file(), path
        assert (folder / "pack.pdf").read_bytes().startswith(b"%PDF-")
        assert sorted(p.name for p in (folder / "html").iterdir()) == [
            "01_aging.html",
            "02_dso.html",
            "03_allowance.html",
            "06_cash.html",
            "plotly.min.js",
        ]
        kpis = json.loads((folder / "kpis.json").read_text())
        assert Decimal(str(kpis["ar_total"])) == Decimal(by_region[region]["total"])
        assert Decimal(str(kpis["past_due_total"])) == Decimal(by_region[region]["past_due"])
        assert kpis["open_items"] == int(by_region[region]["items"])
        assert not (folder / "tables" / "allowance_gl_reconciliation.csv").exists()
        index = (folder / "index.html").read_text()
        assert f"Tiny Co · audience {name} · Collections MI · October 2026" in index
        assert f"customers with region = {region}" in index
        assert "The general ledger balances (gl_balances: the GL reconciliation lines) is not per customer" in index
        aging_page = (folder / "html" / "01_aging.html").read_text()
        assert NOT_PER_CUSTOMER["gl_balances"] in aging_page
    # validation runs once for the whole ledger; each audience reports its own progress
    assert stderr.count("validating input data …") == 1
    assert "audience emea (1 of 3 customers): computing" in stderr
    assert "audience north-america: exporting HTML" in stderr
    manifest = json.loads((pack / "run.json").read_text())
    assert manifest["audiences"]["emea"] == {
        "filter": "region = EMEA",
        "customers": 1,
        "sections": ["aging", "dso", "allowance", "cash"],
        "left_out": ["gl_balances"],
    }
    # one atomic version: the audiences live inside the published version folder
    assert (pack / "audiences").resolve().parent == pack.resolve()


@pytest.mark.slow
def test_send_audience_sends_its_own_email_to_its_recipients(tiny_audience_pack, smtp_server) -> None:
    params, reports, _ = tiny_audience_pack
    port, received = smtp_server
    env = {
        "COLLECTIONS_MI_SMTP_HOST": "127.0.0.1",
        "COLLECTIONS_MI_SMTP_PORT": str(port),
        "COLLECTIONS_MI_SMTP_SECURITY": "none",
    }
    args = ("send", "--period", "2026-10", "--params", str(params), "--out", str(reports), "--audience", "emea")
    run = cli(*args, env=env)
    assert run.returncode == 0, run.stderr
    assert len(received) == 1 and received[0].rcpt_tos == ["emea@example.com"]
    message = BytesParser(policy=policy.default).parsebytes(received[0].content)
    assert message["To"] == "Head EMEA <emea@example.com>" and message["From"] == "mi@example.com"
    assert message["Subject"].startswith("Tiny Co · audience emea · Collections MI · October 2026 · AR USD 972 ·")
    text = message.get_body(("plain",)).get_content()
    assert "Audience emea: the 1 of 3 customers with region = EMEA" in text
    assert "left out of this pack" in text
    assert "in the report folder: 2026-10/audiences/emea/index.html" in text  # its own place, not the main pack's
    # --to overrides the audience's recipients, as it does for the pack's email
    run = cli(*args, "--to", "x@example.com", env=env)
    assert run.returncode == 0 and received[1].rcpt_tos == ["x@example.com"]
    assert BytesParser(policy=policy.default).parsebytes(received[1].content)["Subject"] == message["Subject"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "with_params", "expected"),
    [
        ("apac", True, "--audience apac: {params} has no report.audiences.apac (audiences there: emea, north-america)"),
        (
            "apac",
            False,
            "--audience apac: the pack {reports}/2026-10 has no audience of that name (audiences "
            "published there: emea, north-america)",
        ),
        ("../..", False, "--audience ../..: the pack"),
    ],
)
def test_send_an_unknown_audience_exits_2_naming_it(tiny_audience_pack, name, with_params, expected) -> None:
    params, reports, _ = tiny_audience_pack
    args = ["send", "--period", "2026-10", "--out", str(reports), "--audience", name, "--to", "a@example.com"]
    run = cli(*args, *(["--params", str(params)] if with_params else []))
    assert run.returncode == 2, run.stderr
    assert expected.format(params=params, reports=reports) in run.stderr
    assert TRACEBACK not in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("audiences", "command", "expected"),
    [
        (
            {"emea": {"filter": {"territory": "EMEA"}}},
            "validate",
            "error: report.audiences.emea.filter.territory: the customers table (customers.csv) has no column "
            "'territory'; its columns: customer_id, name, segment, region, collector, credit_limit, risk_score",
        ),
        (
            {"emea": {"filter": {"region": "Emea"}}},
            "pack",
            "error: report.audiences.emea.filter: no customer has region = Emea (the customers table holds 3 "
            "customers); region values there: EMEA, North America",
        ),
        ({"EMEA": {"filter": {"region": "EMEA"}}}, "pack", "report.audiences: Value error, 'EMEA' cannot name"),
    ],
)
def test_bad_audiences_exit_2_naming_the_key_and_publish_nothing(tmp_path: Path, audiences, command, expected) -> None:
    shutil.copytree(TINY, tmp_path / "ledger")
    params = write_params(tmp_path, tmp_path / "ledger", report={"audiences": audiences})
    args = ["--params", str(params)] + (["--out", str(tmp_path / "reports")] if command == "pack" else [])
    run = cli(command, *args)
    assert run.returncode == 2, run.stderr
    assert expected in run.stderr and TRACEBACK not in run.stderr
    assert not (tmp_path / "reports" / "2026-10").exists()


@pytest.mark.slow
def test_a_ledger_with_only_the_required_columns_publishes_an_audience(tmp_path: Path) -> None:
    """customers(customer_id, name), invoices and payments with their required columns, nothing else: an audience
    filtered on customer_id is published, and ties out to the main pack's customers."""
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    for table in ("customers", "invoices", "payments"):
        required = list(TABLES[table].required_columns)
        with (
            (TINY / f"{table}.csv").open(encoding="utf-8") as source,
            (ledger / f"{table}.csv").open("w", encoding="utf-8", newline="") as target,
        ):
            writer = csv.DictWriter(target, required, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(csv.DictReader(source))
    audiences = {"two": {"filter": {"customer_id": ["C1", "C3"]}}}
    params = write_params(tmp_path, ledger, report={"audiences": audiences})
    # the pages and tables are what this test reads, not pack.pdf or the email's charts
    run = cli("pack", "--params", str(params), "--out", str(tmp_path / "reports"), env=NO_BROWSER)
    assert run.returncode == 0, run.stderr
    pack = tmp_path / "reports" / "2026-10"
    by_customer = {r["customer_id"]: r for r in csv.DictReader((pack / "tables" / "aging_by_customer.csv").open())}
    kpis = json.loads((pack / "audiences" / "two" / "kpis.json").read_text())
    assert Decimal(str(kpis["ar_total"])) == Decimal(by_customer["C1"]["total"]) + Decimal(by_customer["C3"]["total"])
    assert kpis["open_items"] == int(by_customer["C1"]["items"]) + int(by_customer["C3"]["items"])
    index = (pack / "audiences" / "two" / "index.html").read_text()
    assert "the 2 of 3 customers with customer_id in C1, C3" in index
    assert "not per customer" not in index  # this ledger has neither loans nor gl_balances: nothing is left out
    assert "Not available: the ledger has no loans table." in index
    assert os.path.isfile(pack / "audiences" / "two" / "html" / "01_aging.html")


def test_several_filter_columns_select_the_customers_matching_each(tmp_path: Path) -> None:
    audiences = {"na-ann": {"filter": {"region": "North America", "collector": ["Ann", "Zoe"]}}}
    params, ledger = _ledger(TINY, audiences, tmp_path)
    part = audience_ledger(ledger.raw, ledger.typed, "na-ann", params.report.audiences["na-ann"])
    assert (part.customers, part.customers_in_ledger) == (1, 3)
    assert part.typed["customers"].customer_id.to_pyarrow().to_pylist() == ["C1"]
    invoices = set(part.typed["invoices"].invoice_id.to_pyarrow().to_pylist())
    paid = set(part.typed["payments"].invoice_id.to_pyarrow().to_pylist())
    assert invoices and paid <= invoices
    expected = {r["invoice_id"] for r in csv.DictReader((TINY / "invoices.csv").open()) if r["customer_id"] == "C1"}
    assert invoices == expected
