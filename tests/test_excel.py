"""tables.xlsx as a finance reader opens it (issue 19 § 7): a contents sheet first that lists and links every sheet,
readable sheet names and headers, percentages as Excel percentages (value / 100, a % format), money rounded to the
cent, whole numbers without decimals, widths from the shown values; customer names always text, never formulas.

Computed in-process on the tiny hand-checked ledger (tests/fixtures/tiny_ledger), with one customer renamed to a
formula; the CSVs written beside the workbook by the pack's own writer are the reference."""

from __future__ import annotations

import csv
import datetime
import re
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from collections_mi.config.params import load_params
from collections_mi.metrics.book import open_book
from collections_mi.metrics.sections import available_sections, compute_sections, flat_kpis
from collections_mi.outputs.excel import CONTENTS, KPI_SHEET, sheet_name, write_excel
from collections_mi.presentation.labels import TABLES, value_label
from collections_mi.presentation.labels import sheet_column_label as column_label
from collections_mi.sources.ledger import open_ledger
from collections_mi.store.results import write_results

from conftest import write_params

openpyxl = pytest.importorskip("openpyxl")

HOSTILE = '=HYPERLINK("http://example.com/x","Click")'


@pytest.fixture(scope="module")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tiny ledger (customer C3 renamed to a formula) computed and written as the pack writes it."""
    import shutil

    from conftest import TINY

    folder = tmp_path_factory.mktemp("excel")
    ledger = Path(shutil.copytree(TINY, folder / "ledger"))
    customers = (ledger / "customers.csv").read_text(encoding="utf-8")
    (ledger / "customers.csv").write_text(customers.replace("Müller GmbH", '"' + HOSTILE.replace('"', '""') + '"'))
    params_path = write_params(folder, ledger, report={"company": "Tiny Ltd"})
    params = load_params(params_path)
    source = open_ledger(params, params_path)
    with open_book(source, params) as book:
        results = compute_sections(book, params, available_sections(source.typed))
    out = folder / "pack"
    out.mkdir()
    write_results(results, flat_kpis(results), out)
    sheets = write_excel(results, out / "tables.xlsx", params)
    return {"out": out, "sheets": sheets, "book": openpyxl.load_workbook(out / "tables.xlsx")}


def _csv(out: Path, table: str) -> list[dict[str, str]]:
    with (out / "tables" / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _column(sheet: Any, header: str) -> int:
    headers = [cell.value for cell in sheet[1]]
    assert header in headers, (header, headers)
    return headers.index(header) + 1


def test_the_contents_sheet_comes_first_and_links_every_sheet(workbook) -> None:
    book, sheets = workbook["book"], workbook["sheets"]
    assert book.sheetnames[:2] == [CONTENTS, KPI_SHEET]
    assert book.sheetnames[2:] == list(sheets.values())
    contents = book[CONTENTS]
    assert contents["A1"].value == "Tiny Ltd · Collections MI · October 2026"
    assert contents["A2"].value.startswith("As of 31 October 2026")
    text = " ".join(str(cell.value) for row in contents.iter_rows(max_row=5) for cell in row if cell.value)
    assert "USD" in text and "0.0%" in text and "tables/*.csv" in text
    listed = {}
    for row in contents.iter_rows(min_row=6):
        if row[0].hyperlink is not None:
            listed[row[0].value] = (row[0].hyperlink.location, row[1].value, row[3].value)
    assert set(listed) == {KPI_SHEET, *sheets.values()}
    for table, title in sheets.items():
        location, description, file = listed[title]
        assert location == f"'{title}'!A1" and file == f"tables/{table}.csv"
        assert description == TABLES[table].description and description
    assert sheets["aging"] == "Aging" and sheets["dso_by_customer"] == "DSO by customer"


def test_sheet_names_and_headers_are_readable(workbook) -> None:
    book = workbook["book"]
    for title in book.sheetnames:
        assert len(title) <= 31 and not re.search(r"[\[\]:*?/\\]", title), title
        assert "_" not in title, title
        if title == CONTENTS:
            continue
        sheet = book[title]
        headers = [cell.value for cell in sheet[1]]
        assert all(header and "_" not in header for header in headers), (title, headers)
        assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref, title
    assert len({title.casefold() for title in book.sheetnames}) == len(book.sheetnames)
    dso = [cell.value for cell in book[workbook["sheets"]["dso_by_customer"]][1]]
    assert {"Best possible DSO", "Average days delinquent", "Collection effectiveness (%)"} <= set(dso)
    assert dso[:2] == ["Customer ID", "Customer"]  # the name beside the id, which the CSV does not carry


def test_labels_for_ids_and_enum_values() -> None:
    assert column_label("days_past_due") == "Days past due"
    assert column_label("bpdso") == "Best possible DSO" and column_label("add") == "Average days delinquent"
    assert column_label("special_mention") == "Special mention"  # a grade as a migration matrix's column
    assert value_label("risk_grade", "special_mention") == "Special mention"
    assert value_label("status", "non_accrual") == "Non-accrual" and value_label("status", "reo") == "REO (foreclosed)"
    assert value_label("impairment_method", "cash_flows") == "PV of cash flows"
    assert value_label("kpi", "cei_pct") == "Collection effectiveness"
    assert value_label("name", "special_mention") == "special_mention"  # free text is never relabelled
    assert all(len(label.title) <= 31 for label in TABLES.values())


def test_sheet_name_is_valid_and_unique() -> None:
    used: set[str] = set()
    assert sheet_name("Over limit: [A/B]*?", used) == "Over limit   A B"
    assert sheet_name("x" * 40, used) == "x" * 31
    assert sheet_name("X" * 40, used) == "X" * 27 + " (2)"  # Excel compares sheet names ignoring case
    assert len(used) == 3 and all(len(name) <= 31 for name in used)
    assert sheet_name("'quoted'", set()) == "quoted"


def test_percentages_are_excel_percentages(workbook) -> None:
    out, book = workbook["out"], workbook["book"]
    sheet = book[workbook["sheets"]["aging"]]
    share = _column(sheet, "Share of total (%)")
    for number, row in enumerate(_csv(out, "aging"), start=2):
        cell = sheet.cell(number, share)
        assert cell.number_format == "0.0%"
        assert cell.value == pytest.approx(float(Decimal(row["share_pct"]) / 100), rel=1e-12)
    assert sum(sheet.cell(n, share).value for n in range(2, sheet.max_row + 1)) == pytest.approx(1)


def test_money_is_rounded_to_the_cent_and_counts_are_whole(workbook) -> None:
    out, book = workbook["out"], workbook["book"]
    sheet = book[workbook["sheets"]["aging"]]
    amount, items = _column(sheet, "Amount"), _column(sheet, "Items")
    rows = _csv(out, "aging")
    for number, row in enumerate(rows, start=2):
        cell = sheet.cell(number, amount)
        assert Decimal(str(cell.value)) == Decimal(row["amount"]).quantize(Decimal("0.01"))
        assert cell.number_format.startswith("#,##0.00")
        assert sheet.cell(number, items).value == int(row["items"])
        assert sheet.cell(number, items).number_format == "#,##0"
    # an FX-converted table: the CSV keeps more than cents, the sheet shows cents
    converted = book[workbook["sheets"]["aging_by_currency"]]
    own, reporting = _column(converted, "Amount (own currency)"), _column(converted, "Amount")
    for number, row in enumerate(_csv(out, "aging_by_currency"), start=2):
        assert Decimal(str(converted.cell(number, reporting).value)) == Decimal(row["amount"]).quantize(Decimal("0.01"))
        assert Decimal(str(converted.cell(number, own).value)) == Decimal(row["amount_original"]).quantize(
            Decimal("0.01")
        )


def test_the_kpi_sheet_holds_every_kpi_in_its_unit(workbook) -> None:
    out, book = workbook["out"], workbook["book"]
    import json

    kpis = json.loads((out / "kpis.json").read_text(), parse_float=Decimal)
    rows = list(book[KPI_SHEET].iter_rows(min_row=2))
    by_id = {row[4].value: row for row in rows}
    assert list(by_id) == list(kpis)
    ar = by_id["ar_total"]
    assert ar[1].value == "Open receivables" and ar[3].value == "USD"
    assert Decimal(str(ar[2].value)) == kpis["ar_total"].quantize(Decimal("0.01"))
    assert by_id["open_items"][2].value == kpis["open_items"] and by_id["open_items"][2].number_format == "#,##0"
    cei = by_id["cei_pct"]
    assert cei[2].number_format == "0.0%" and cei[2].value == pytest.approx(float(kpis["cei_pct"] / 100))
    assert by_id["bpdso"][1].value == "Best possible DSO" and by_id["bpdso"][3].value == "days"


def test_widths_follow_the_shown_values(workbook) -> None:
    book = workbook["book"]
    sheet = book[workbook["sheets"]["aging"]]
    column = _column(sheet, "Share of total (%)")
    letter = openpyxl.utils.get_column_letter(column)
    shown = max(len(f"{sheet.cell(n, column).value:.1%}") for n in range(2, sheet.max_row + 1))  # "41.9%"
    raw = max(len(row["share_pct"]) for row in _csv(workbook["out"], "aging"))  # 41.85145317545748116254036598
    width = sheet.column_dimensions[letter].width
    assert shown <= width < raw  # as wide as what is shown (and the header's words), not as the raw value
    assert width >= len("Share") + 2  # the longest word of the wrapped header fits


def test_a_customer_name_that_looks_like_a_formula_stays_text(workbook) -> None:
    out, book = workbook["out"], workbook["book"]
    sheet = book[workbook["sheets"]["aging_by_customer"]]
    name = _column(sheet, "Customer")
    cells = [sheet.cell(n, name) for n in range(2, sheet.max_row + 1)]
    hostile = [cell for cell in cells if cell.value == HOSTILE]
    assert hostile and all(cell.data_type == "s" for cell in hostile)
    # the CSV writer defuses it with a leading apostrophe; the workbook keeps the name as it is, as text
    assert any(row["name"] == "'" + HOSTILE for row in _csv(out, "aging_by_customer"))
    with zipfile.ZipFile(out / "tables.xlsx") as archive:
        for member in archive.namelist():
            if member.startswith("xl/worksheets/"):
                assert "<f>" not in archive.read(member).decode("utf-8"), member  # no formula anywhere


# --- the rows written straight into the sheet's XML (outputs/excel.py write_rows) ------------------------------


def _sheet_xml(columns: list[list[Any]], fast: bool, cuts: list[int] | None = None) -> str:
    """The XML of a one-sheet constant-memory workbook holding ``columns`` under a header: written by write_rows (in
    blocks of rows split at ``cuts``), or cell by cell through XlsxWriter's public API (the oracle: what the workbook
    was before write_rows)."""
    import io

    import xlsxwriter

    from collections_mi.outputs import excel

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer,
        {
            "constant_memory": True,
            "in_memory": False,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    styles = excel._Styles(book, "USD")
    formats = [styles.number("#,##0.00"), styles.number("yyyy-mm-dd"), None]
    sheet = book.add_worksheet("T")
    sheet.write_row(0, 0, ["Money", "Date", "Text"], styles.header)
    if fast:
        bounds = [0, *sorted(cuts or []), len(columns[0])]
        excel.write_rows(sheet, styles, formats, ([v[a:b] for v in columns] for a, b in zip(bounds, bounds[1:])))
    else:
        for number, row in enumerate(zip(*columns), start=1):
            for position, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    sheet.write_string(number, position, value, styles.wrap if len(value) > 60 else None)
                elif isinstance(value, datetime.datetime):
                    sheet.write_datetime(number, position, value, formats[position])
                else:
                    sheet.write_number(number, position, value, formats[position])
    sheet.set_column(0, 2, 12)
    sheet.freeze_panes(1, 0)
    book.close()
    with zipfile.ZipFile(buffer) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode("utf-8")


_CELLS = {
    "number": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(10**20), 10**20)),
    "date": st.datetimes(min_value=datetime.datetime(1900, 1, 1)),
    "text": st.text(max_size=80).filter(lambda text: not (text.startswith("<r>") and text.endswith("</r>"))),
}


@settings(max_examples=60, deadline=None)
@example(
    (
        [0.1, -(2**60), 1e-20, None, "text in a number column"],
        [datetime.datetime(1900, 2, 28), None, datetime.datetime(2026, 10, 31, 12, 30), None, None],
        ["_x0041_", " leading", "trailing\n", None, "&<>\"'\x07\ufffe" + "x" * 70],
    ),
    [1, 1, 4],
)
@given(
    st.integers(0, 12).flatmap(
        lambda rows: st.tuples(
            *(
                st.lists(st.one_of(st.none(), _CELLS[kind], _CELLS["text"]), min_size=rows, max_size=rows)
                for kind in ("number", "date", "text")
            )
        )
    ),
    st.lists(st.integers(0, 12), max_size=4),
)
def test_rows_written_straight_into_the_sheet_are_the_xml_xlsxwriter_writes(columns, cuts) -> None:
    """Numbers (floats, ints past 2**53), dates, text with control characters, XML's special characters, leading or
    trailing blanks, text longer than 60 characters (wrapped), missing cells and rows with no cell at all: the sheet
    XML is byte for byte what XlsxWriter's own write_number/write_string/write_datetime give — whole, and written in
    blocks of rows split anywhere (empty blocks, blocks of empty rows, a format first used in a later block)."""
    columns = [list(values) for values in columns]
    oracle = _sheet_xml(columns, fast=False)
    assert _sheet_xml(columns, fast=True) == oracle
    cuts = [min(cut, len(columns[0])) for cut in cuts]
    assert _sheet_xml(columns, fast=True, cuts=cuts) == oracle


def test_text_shaped_like_xlsxwriter_markup_is_escaped_like_any_text(tmp_path: Path) -> None:
    """XlsxWriter copies a constant-memory text that starts with <r> and ends with </r> into the XML as it is (its
    rich-string markup): a customer named "<r>&</r>" made tables.xlsx unreadable. Every table's text is escaped."""
    import pandas as pd

    from test_results import typed_result

    names = ["<r>&</r>", "<r><t>x</t></r>", "plain"]
    table = pd.DataFrame({"customer": names, "balance": [Decimal("1.00")] * len(names)})
    write_excel({"aging": typed_result("aging", tables={"aging_by_customer": table})}, tmp_path / "t.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "t.xlsx")["Aging by customer"]
    assert [sheet.cell(row, 1).value for row in range(2, 5)] == names


_KINDS = ["money", "own_money", "text", "count", "date", "month", "days", "percent", "fraction", "fx", "points",
          "statistic", "p_value", "yes_no"]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(_KINDS),
    st.lists(
        st.one_of(
            st.none(),
            st.decimals(min_value=-(10**15), max_value=10**15, places=6),  # money's range: 1e15 units
            st.integers(-(10**12), 10**12),
            st.floats(min_value=-1e15, max_value=1e15),
            st.booleans(),
            st.text(max_size=5),
            st.dates(),
        ),
        max_size=12,
    ),
)
def test_a_columns_cells_are_each_cells_value(kind: str, values: list[Any]) -> None:
    """column_cells' typed fast paths store what cell_value stores for each cell, whatever the column's kind and
    however its values mix types."""
    from collections_mi.outputs.excel import ColumnPlan, cell_value, column_cells

    plan = ColumnPlan("Header", kind, None)
    expected = [cell_value(plan, "balance", value, "USD") for value in values]
    assert column_cells(plan, "balance", values, "USD") == expected


def test_a_table_longer_than_a_sheet_fills_the_sheet_and_says_where_the_rest_is(tmp_path: Path) -> None:
    """Excel has 1,048,576 rows: a table of 1,048,576 data rows fills its sheet under the header (with its filter)
    and the contents sheet says the sheet holds only the first 1,048,575, every row being in the table's CSV."""
    import pandas as pd

    from collections_mi.outputs.excel import SHEET_ROWS
    from test_results import typed_result

    table = pd.DataFrame({"customer": ["C1"] * (SHEET_ROWS + 1), "balance": [Decimal("1.00")] * (SHEET_ROWS + 1)})
    path = tmp_path / "t.xlsx"
    sheets = write_excel({"aging": typed_result("aging", tables={"aging_by_customer": table})}, path)
    contents = openpyxl.load_workbook(path, read_only=True)[CONTENTS]
    line = next(row for row in contents.iter_rows(values_only=True) if row[0] == sheets["aging_by_customer"])
    assert line[2] == SHEET_ROWS + 1  # the table's rows
    assert line[1].endswith(
        "Excel holds only the first 1,048,575 of its 1,048,576 rows: every row is in tables/aging_by_customer.csv."
    )
    with zipfile.ZipFile(path) as archive:  # sheet1 is the contents, sheet2 the KPIs, sheet3 the table
        xml = archive.read("xl/worksheets/sheet3.xml").decode("utf-8")
    assert '<dimension ref="A1:B1048576"/>' in xml and '<autoFilter ref="A1:B1048576"/>' in xml
    assert xml.count("<row ") == SHEET_ROWS + 1 and '<row r="1048576">' in xml


# --- columns held at rest written in Arrow (outputs/excel.py _arrow_cells) -------------------------------------

_MONEY = st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(-(10**18), 10**18), st.integers(0, 30))
_HALVES = st.builds(
    lambda n, places: Decimal(2 * n + 1).scaleb(-places) / 2, st.integers(-(10**6), 10**6), st.integers(0, 4)
)
_TEXT = st.one_of(
    st.sampled_from(["Acme", "non_accrual", "open", "x" * 61, " blank", "a&b", "under_score", "Müller", "<r>&</r>"]),
    st.text(max_size=70),
)


def _rows(draw_size: int) -> Any:
    """A table's columns of every kind the workbook writes in Arrow, ``draw_size`` rows, each cell maybe missing."""

    def column(values: Any) -> Any:
        return st.lists(st.one_of(st.none(), values), min_size=draw_size, max_size=draw_size)

    return st.fixed_dictionaries(
        {
            "customer_id": column(st.sampled_from(["C1", "C2", "C_3"])),
            "status": column(st.sampled_from(["open", "non_accrual", "written_off", "new?"])),
            "note": column(_TEXT),
            "currency": column(st.sampled_from(["USD", "JPY", "BHD"])),
            "amount_original": column(st.one_of(_MONEY, _HALVES)),
            "balance": column(st.one_of(_MONEY, _HALVES)),
            "items": column(st.integers(-(10**17), 10**17)),
            "due_date": column(st.dates(min_value=datetime.date(1899, 12, 1))),
            "disputed": column(st.booleans()),
        }
    )


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([("JPY", 0), ("USD", 2), ("BHD", 3)]),
    st.lists(
        st.one_of(
            st.none(),
            # mostly money already to the unit (no rounding needed), some finer, some at the 13 digits' edge
            st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(-(10**15), 10**15), st.integers(0, 3)),
            st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(-(10**8), 10**8), st.integers(0, 6)),
            st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("0.000"), Decimal("9999999999999.99")]),
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_money_texts_in_arrow_are_rounded_money(unit: tuple[str, int], values: list[Any], trailing: bool) -> None:
    """Money held at rest (its exact text, trailing zeros dropped or kept) rounded in Arrow: each text is
    rounded_money's, whether the column needs no rounding (only padding) or some; a column with a text Arrow cannot
    round (past 13 digits before the point) is left to Python (None)."""
    import pyarrow as pa

    from collections_mi.core.values import decimal_text
    from collections_mi.outputs.excel import _money_texts, rounded_money

    currency, digits = unit
    texts = [None if v is None else (format(v, "f") if trailing else decimal_text(v)) for v in values]
    got = _money_texts(pa.array(texts, pa.string()), digits)
    if any(v is not None and abs(v) >= 10**13 for v in values):
        assert got is None
        return
    assert got is not None
    assert got.to_pylist() == [None if v is None else str(rounded_money(v, currency)) for v in values]


def test_money_texts_as_written_otherwise() -> None:
    """Texts the pack does not hold but Arrow rounds all the same: a leading zero, a point without decimals."""
    import pyarrow as pa

    from collections_mi.outputs.excel import _money_texts

    texts = pa.array(["007.5", "12.", "-0.000", "0.5"])
    assert _money_texts(texts, 2).to_pylist() == ["7.50", "12.00", "0.00", "0.50"]
    assert _money_texts(pa.array(["007.5"]), 2).to_pylist() == ["7.50"]  # with no text to round beside it


def _table_xml(columns: list[Any], currency: str, block_rows: int) -> str:
    """The sheet XML of one table written by write_table (a constant-memory workbook in memory)."""
    import io

    import xlsxwriter

    from collections_mi.outputs import excel

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": False, "strings_to_formulas": False})
    excel.write_table(book.add_worksheet("T"), excel._Styles(book, currency), columns, currency, block_rows)
    book.close()
    with zipfile.ZipFile(buffer) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode("utf-8")


@settings(max_examples=60, deadline=None)
@example(
    {
        "customer_id": ["C1", None],
        "status": ["non_accrual", "open"],
        "note": ["x" * 61, "a&b"],
        "currency": ["JPY", "USD"],
        "amount_original": [Decimal("2.5"), Decimal("-0.005")],
        "balance": [Decimal("-0.0049"), Decimal("1234567890123.455")],
        "items": [10**16, 3],
        "due_date": [datetime.date(1900, 2, 28), datetime.date(2026, 10, 31)],
        "disputed": [True, None],
    },
    "USD",
    1,
)
@given(
    st.integers(0, 9).flatmap(_rows),
    st.sampled_from(["USD", "JPY", "BHD"]),
    st.integers(1, 4),
)
def test_columns_held_at_rest_are_written_as_python_writes_them(table, currency, block_rows) -> None:
    """A table held at rest (Arrow columns: money as exact text, ints, dates, booleans, text) is written in Arrow —
    money rounded half-up to each row's minor unit, counts, dates as serials, yes/no, text and enum labels, long
    text wrapped — into the same sheet XML as Python writes from the same values, in blocks of any size; and each
    money cell holds its amount rounded half-up to the cent (or the currency's unit), exactly."""
    import pandas as pd

    from collections_mi.core.money import round_money
    from collections_mi.outputs.excel import SheetColumn, sheet_columns
    from collections_mi.store.history import held_table

    frame = pd.DataFrame({name: pd.Series(values, dtype="object") for name, values in table.items()})
    held = held_table(frame)
    assert all(kind is not None for kind in held.kinds())  # every column in Arrow
    arrow = sheet_columns(held, {})
    python = [SheetColumn(column.name, None, column.python()) for column in arrow]
    xml = _table_xml(arrow, currency, block_rows)
    assert xml == _table_xml(python, currency, block_rows)
    letters = {"ABCDEFGHI"[position]: column.name for position, column in enumerate(arrow)}
    for letter, row, text in re.findall(r'<c r="([A-I])(\d+)" s="\d+"><v>([^<]*)</v>', xml):
        column, value = letters[letter], table[letters[letter]][int(row) - 2]
        if column in ("amount_original", "balance"):
            unit = (table["currency"][int(row) - 2] or currency) if column == "amount_original" else currency
            assert Decimal(text) == round_money(value, unit), (column, value, text)
            assert not (Decimal(text) == 0 and text.startswith("-")), text


def test_the_arrow_path_writes_most_cells(tmp_path: Path) -> None:
    """Money of one minor unit, counts, dates, yes/no and text held at rest are written in Arrow (not cell by cell
    in Python); money past 13 digits before the point, a date before March 1900 and a count past 10^15 in Python."""
    import io

    import pandas as pd
    import xlsxwriter

    from collections_mi.outputs import excel
    from collections_mi.store.history import held_table

    frame = pd.DataFrame(
        {
            "balance": pd.Series([Decimal("1.005"), Decimal("-2")], dtype="object"),
            "items": pd.Series([1, 2], dtype="object"),
            "due_date": pd.Series([datetime.date(2026, 1, 1), None], dtype="object"),
            "disputed": pd.Series([True, False], dtype="object"),
            "name": pd.Series(["Acme", "Müller"], dtype="object"),
        }
    )
    book = xlsxwriter.Workbook(io.BytesIO(), {"constant_memory": True})
    sheet = book.add_worksheet("T")
    columns = excel.sheet_columns(held_table(frame), {})
    names = [c.name for c in columns]
    plans = [excel.plan_column(column, names, "USD") for column in columns]
    assert [plan.kind for plan in plans] == ["money", "count", "date", "yes_no", "text"]
    assert all(excel._arrow_cells(sheet, plan, column, 2) is not None for plan, column in zip(plans, columns))
    for values, position in (([Decimal("12345678901234.5")], 0), ([10**15], 1), ([datetime.date(1900, 2, 1)], 2)):
        column = excel.sheet_columns(held_table(pd.DataFrame({names[position]: values})), {})[0]
        assert excel._arrow_cells(sheet, plans[position], column, 2) is None
    book.close()


def test_the_workbook_is_compressed_at_its_zip_level(workbook) -> None:
    """Each part of tables.xlsx is deflated at ZIP_LEVEL (1: a third of the time of zlib's default on a large
    pack's sheets), byte for byte what zlib gives at that level — and not what the default gives: XlsxWriter has no
    setting for it, so a change in XlsxWriter that undid the workbook's own would show here — and it reads back."""
    import zlib

    from collections_mi.outputs.excel import ZIP_LEVEL

    path = workbook["out"] / "tables.xlsx"
    with zipfile.ZipFile(path) as archive, path.open("rb") as raw:
        largest = max(archive.infolist(), key=lambda info: info.file_size)
        data = archive.read(largest)
        raw.seek(largest.header_offset + 26)
        name_length, extra_length = int.from_bytes(raw.read(2), "little"), int.from_bytes(raw.read(2), "little")
        raw.seek(largest.header_offset + 30 + name_length + extra_length)
        stored = raw.read(largest.compress_size)

    def deflated(level: int) -> bytes:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush()

    assert largest.compress_type == zipfile.ZIP_DEFLATED and len(data) > 5_000
    assert ZIP_LEVEL == 1 and stored == deflated(ZIP_LEVEL) and stored != deflated(6)


def _halfway(x: float) -> Decimal:
    """The exact decimal halfway between ``x`` and the next double up (a text whose rounding decides the double)."""
    import math

    return (Decimal(x) + Decimal(math.nextafter(x, math.inf))) / 2


_DAYS = st.one_of(
    st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(-(10**30), 10**30), st.integers(0, 40)),
    st.floats(min_value=-1e300, max_value=1e300, allow_nan=False).map(_halfway),
    st.decimals(allow_nan=False, allow_infinity=False, places=28, min_value=-(10**6), max_value=10**6),
)


#: percentages of at most 28 significant digits as held at rest (Python's value / 100 is then exact), 10^-40 to 10^28:
#: a whole number's trailing zeros are digits of its text (1E+28 is 29 digits: Python writes it, see below)
_PERCENTS = st.builds(
    lambda n, places: Decimal(n).scaleb(places), st.integers(-(10**28) + 1, 10**28 - 1), st.integers(-40, 0)
)


@settings(max_examples=80, deadline=None)
@example(
    [_halfway(0.1), Decimal("1E-7"), Decimal("100"), Decimal("-0"), None],
    [1e-300, -0.0, 123.456, None, 5e-324],
    [Decimal("85.1"), Decimal("-0"), Decimal("0.015"), Decimal("33.33333333333333333333333333"), None],
)
@given(
    st.lists(st.one_of(st.none(), _DAYS), min_size=1, max_size=12),
    st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)), min_size=1, max_size=12),
    st.lists(st.one_of(st.none(), _PERCENTS), min_size=1, max_size=12),
)
def test_days_statistics_and_percentages_held_at_rest_are_the_doubles_nearest_their_values(
    days, statistics, percents
) -> None:
    """Days (exact decimals), statistics (floats) and percentages (exact decimals, stored as fractions of one) held
    at rest are written in Arrow, each cell the double nearest its value — what Python stores (cell_value:
    float(Decimal), float(value / 100)) — spelled so that it reads back exactly (halfway cases between two doubles,
    28 decimals, 10^±30, a negative zero), with no cell where a value is missing and the column's style on every
    cell."""
    import io

    import pandas as pd
    import pyarrow as pa
    import xlsxwriter

    from collections_mi.outputs import excel
    from collections_mi.store.history import held_table

    book = xlsxwriter.Workbook(io.BytesIO(), {"constant_memory": True})
    sheet = book.add_worksheet("T")
    for name, values in (("days_late_weighted", days), ("p_value", statistics), ("share_pct", percents)):
        column = excel.sheet_columns(held_table(pd.DataFrame({name: pd.Series(values, dtype="object")})), {})[0]
        plan = excel.plan_column(column, [name], "USD")
        if all(v is None for v in values):
            continue
        assert plan.kind in ("days", "p_value", "percent", "count"), plan
        if plan.kind == "count":  # whole days: a count, written as such
            continue
        cells = excel._arrow_cells(sheet, plan, column, 2)
        assert cells is not None
        rows = pa.array([str(n) for n in range(2, 2 + len(values))])
        xml = cells.xml("B", rows, ' s="7"', "").to_pylist()
        for row, value, cell in zip(range(2, 2 + len(values)), values, xml):
            if value is None:
                assert cell == ""
                continue
            text = re.fullmatch(rf'<c r="B{row}" s="7"><v>([^<]*)</v></c>', cell).group(1)
            assert float(text) == excel.cell_value(plan, name, value, "USD"), (value, text)
    book.close()


def test_a_percentage_past_28_digits_is_written_by_python() -> None:
    """A percentage of more than 28 digits as held at rest (Python rounds value / 100 to 28 digits before its double)
    is left to Python; one of 28 digits is written in Arrow."""
    import io

    import pandas as pd
    import xlsxwriter

    from collections_mi.outputs import excel
    from collections_mi.store.history import held_table

    book = xlsxwriter.Workbook(io.BytesIO(), {"constant_memory": True})
    sheet = book.add_worksheet("T")
    cases = [(Decimal("1." + "3" * (digits - 1)), digits <= 28) for digits in (28, 29)]
    # a whole number's text keeps its zeros: 1E+27 is 28 digits, 1E+28 is 29
    for value, in_arrow in [*cases, (Decimal("1E+27"), True), (Decimal("1E+28"), False)]:
        column = excel.sheet_columns(held_table(pd.DataFrame({"share_pct": pd.Series([value], dtype="object")})), {})[0]
        plan = excel.plan_column(column, ["share_pct"], "USD")
        assert plan.kind == "percent" and (excel._arrow_cells(sheet, plan, column, 2) is not None) is in_arrow
    book.close()
