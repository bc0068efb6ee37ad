"""Results round-trip exactly: what the pack computes is what the notebooks and kpis.json show."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd

from collections_mi.metrics.result import SectionResult
from collections_mi.store.results import kpis_json, read_results, write_results


def test_tables_and_kpis_round_trip_exactly(tmp_path: Path) -> None:
    exact = Decimal("80627009.491100580012345")
    table = pd.DataFrame(
        {
            "bucket": ["current", "120+"],
            "items": [3, 0],
            "amount": [exact, Decimal("0E-4")],
            "share_pct": [Decimal("100"), None],
            "month_end": [dt.date(2026, 10, 31), dt.date(2026, 9, 30)],
            "disputed": [True, False],
        }
    )
    result = SectionResult(
        "aging",
        kpis={"ar_total": exact, "open_items": 3, "dso": None},
        tables={"aging": table},
        conventions={"aging.basis": "days past due"},
    )
    write_results({"aging": result}, result.kpis, tmp_path)
    back = read_results(tmp_path)["aging"]
    assert back.kpis == {"ar_total": exact, "open_items": 3, "dso": None}
    assert back.conventions == result.conventions
    for column in table.columns:
        assert list(back.tables["aging"][column]) == [None if v is None else v for v in table[column]], column
    # exact plain notation in the CSV, no exponent, no float artefacts
    text = (tmp_path / "tables" / "aging.csv").read_text(encoding="utf-8")
    assert "80627009.491100580012345" in text and "E" not in text.split("\n", 1)[1]


def test_kpis_json_is_a_flat_object_of_unrounded_numbers() -> None:
    text = kpis_json({"ar_total": Decimal("1234.5600"), "open_items": 7, "dso": Decimal("45.123456789012345678901")})
    assert json.loads(text, parse_float=Decimal) == {
        "ar_total": Decimal("1234.56"),
        "open_items": 7,
        "dso": Decimal("45.123456789012345678901"),
    }


def test_statistics_stay_floats(tmp_path: Path) -> None:
    table = pd.DataFrame({"p_value": [0.0137, None], "verdict": ["significant", None]})
    result = SectionResult("agency", tables={"agency_champion_challenger": table})
    write_results({"agency": result}, {}, tmp_path)
    back = read_results(tmp_path)["agency"].tables["agency_champion_challenger"]
    assert back["p_value"].iloc[0] == 0.0137 and isinstance(back["p_value"].iloc[0], float)


def test_read_results_can_read_only_some_sections(tmp_path: Path) -> None:
    """A notebook reads only its own section's tables (a large book's per-customer tables stay out of the other
    kernels); what it reads equals the full read."""
    result = SectionResult(
        section="aging",
        kpis={"ar_total": Decimal("10.50")},
        tables={"aging": pd.DataFrame({"bucket": ["current"], "amount": [Decimal("10.50")]})},
        conventions={},
    )
    other = SectionResult(
        section="dso",
        kpis={"dso": Decimal("45")},
        tables={"dso_trend": pd.DataFrame({"dso": [Decimal("45")]})},
        conventions={},
    )
    write_results({"aging": result, "dso": other}, {"ar_total": Decimal("10.50"), "dso": Decimal("45")}, tmp_path)
    only = read_results(tmp_path, only=["aging"])
    assert list(only) == ["aging"]
    assert only["aging"].kpis == read_results(tmp_path)["aging"].kpis == {"ar_total": Decimal("10.50")}
    assert only["aging"].tables["aging"].equals(read_results(tmp_path)["aging"].tables["aging"])


#: text a customer may be named that a spreadsheet would run as a formula (OWASP "CSV Injection"): each starts with
#: = + - @, a tab or a carriage return, or with spaces before one of them (a spreadsheet trims them on import)
HOSTILE_TEXT = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1:A9)", "\t=2+2", "\r=1", "  =1+1", "\n-1"]


def test_text_cells_that_a_spreadsheet_would_run_get_a_leading_apostrophe(tmp_path: Path) -> None:
    """tables/*.csv: every text cell a spreadsheet would read as a formula starts with ' (and a text that starts with
    ' gets another); numbers stay numbers, however negative; the notebooks read back exactly what was computed."""
    names = [*HOSTILE_TEXT, "'quoted", "Acme = Best", "plain"]
    table = pd.DataFrame(
        {
            "customer": names,
            "balance": [Decimal("-12.50")] * len(names),
            "items": [-3] * len(names),
            "line": ["+ Recoveries"] * len(names),  # the pack's own labels are text too
        }
    )
    result = SectionResult(
        "aging", tables={"aging_by_customer": table, "mixed": pd.DataFrame({"-change": [Decimal("-1"), "-1 vs"]})}
    )
    write_results({"aging": result}, {}, tmp_path)
    with (tmp_path / "tables" / "aging_by_customer.csv").open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    assert header == ["customer", "balance", "items", "line"]
    assert [row[0] for row in rows] == [f"'{name}" for name in [*HOSTILE_TEXT, "'quoted"]] + ["Acme = Best", "plain"]
    assert {(row[1], row[2], row[3]) for row in rows} == {("-12.5", "-3", "'+ Recoveries")}
    with (tmp_path / "tables" / "mixed.csv").open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [["'-change"], ["-1"], ["'-1 vs"]]  # per cell: a number, then a text
    back = read_results(tmp_path)["aging"].tables
    assert list(back["aging_by_customer"]["customer"]) == names
    assert list(back["aging_by_customer"]["balance"]) == [Decimal("-12.5")] * len(names)
    assert list(back["mixed"].columns) == ["-change"]


def test_tables_xlsx_writes_hostile_text_as_text_never_as_a_formula(tmp_path: Path) -> None:
    """tables.xlsx is safe as it is (XlsxWriter with strings_to_formulas off): a customer named like a formula is a
    string cell, shown as written, in the workbook — and a formula nowhere."""
    import zipfile

    import openpyxl

    from collections_mi.outputs.excel import write_excel

    table = pd.DataFrame({"customer": HOSTILE_TEXT, "balance": [Decimal("-12.50")] * len(HOSTILE_TEXT)})
    path = tmp_path / "tables.xlsx"
    write_excel({"aging": SectionResult("aging", tables={"aging_by_customer": table})}, path)
    sheet = openpyxl.load_workbook(path)["aging_by_customer"]
    cells = [
        (sheet.cell(row, 1).value, sheet.cell(row, 1).data_type, sheet.cell(row, 2).value, sheet.cell(row, 2).data_type)
        for row in range(2, len(HOSTILE_TEXT) + 2)
    ]
    # a carriage return is stored as OOXML's escape _x000D_, which openpyxl leaves as it is
    assert cells == [(text.replace("\r", "_x000D_"), "s", -12.5, "n") for text in HOSTILE_TEXT]
    with zipfile.ZipFile(path) as workbook:
        xml = "".join(workbook.read(name).decode("utf-8") for name in workbook.namelist() if name.endswith(".xml"))
    assert "<f>" not in xml and "<f " not in xml
