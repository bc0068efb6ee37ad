"""Results round-trip exactly: what the pack computes is what the notebooks and kpis.json show."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import sys
import threading
import typing
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collections_mi.config.params import parse_params
from collections_mi.metrics.dso_formulas import BEHAVIOUR_KPI_IDS, KPI_IDS, SECTION_KPI_IDS
from collections_mi.metrics.published import PUBLISHED, DsoKpis
from collections_mi.metrics.result import FirstRows, SectionResult, Unavailable
from collections_mi.metrics.sections import SECTIONS
from collections_mi.store.results import kpis_json, read_results, write_results


def typed_result(
    section: str,
    kpis: dict[str, object] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    conventions: dict[str, str] | None = None,
) -> SectionResult:
    """A section's typed result holding ``kpis`` (the others None) and ``tables`` by published name (the others not
    available)."""
    outputs = PUBLISHED[section]
    tables = tables or {}
    assert set(tables) <= set(outputs.tables.files().values()), f"not tables of {section}: {sorted(tables)}"
    assert set(kpis or {}) <= set(outputs.kpis.ids()), f"not KPIs of {section}: {sorted(kpis or {})}"
    return SectionResult(
        section, outputs.kpis.from_values(kpis or {}), outputs.tables.from_published(tables, {}), conventions or {}
    )


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
    result = typed_result(
        "aging",
        kpis={"ar_total": exact, "open_items": 3, "past_due_total": None},
        tables={"aging": table},
        conventions={"aging.basis": "days past due"},
    )
    write_results({"aging": result}, dict(result.kpis.items()), tmp_path)
    back = read_results(tmp_path)["aging"]
    assert dict(back.kpis.items()) == {
        "ar_total": exact,
        "open_items": 3,
        "past_due_total": None,
        "top10_share_pct": None,
        "hhi": None,
        "unapplied_cash_total": None,
        "ar_net": None,
        "disputes_open": None,
        "disputed_open_total": None,
        "dispute_days_to_resolve": None,
    }
    assert back.conventions == result.conventions
    for column in table.columns:
        assert list(back.tables.buckets[column]) == [None if v is None else v for v in table[column]], column
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
    result = typed_result("agency", tables={"agency_champion_challenger": table})
    write_results({"agency": result}, {}, tmp_path)
    back = read_results(tmp_path)["agency"].tables.champion_challenger
    assert back["p_value"].iloc[0] == 0.0137 and isinstance(back["p_value"].iloc[0], float)


def test_read_results_can_read_only_some_sections(tmp_path: Path) -> None:
    """A notebook reads only its own section's tables (a large book's per-customer tables stay out of the other
    kernels); what it reads equals the full read."""
    result = typed_result(
        "aging",
        kpis={"ar_total": Decimal("10.50")},
        tables={"aging": pd.DataFrame({"bucket": ["current"], "amount": [Decimal("10.50")]})},
    )
    other = typed_result(
        "dso",
        kpis={"dso": Decimal("45")},
        tables={"dso_trend": pd.DataFrame({"dso": [Decimal("45")]})},
    )
    write_results({"aging": result, "dso": other}, {"ar_total": Decimal("10.50"), "dso": Decimal("45")}, tmp_path)
    only = read_results(tmp_path, only=["aging"])
    assert list(only) == ["aging"]
    assert only["aging"].kpis == read_results(tmp_path)["aging"].kpis
    assert dict(only["aging"].kpis.items()) == {
        "ar_total": Decimal("10.50"),
        "open_items": None,
        "past_due_total": None,
        "top10_share_pct": None,
        "hhi": None,
        "unapplied_cash_total": None,
        "ar_net": None,
        "disputes_open": None,
        "disputed_open_total": None,
        "dispute_days_to_resolve": None,
    }
    assert only["aging"].tables.buckets.equals(read_results(tmp_path)["aging"].tables.buckets)


def test_tables_read_when_used_are_read_at_first_use_and_equal_the_full_read(tmp_path: Path) -> None:
    """A notebook page reads a table the first time it uses it (a 10M book's DSO page never holds the promises it
    does not show); what it reads equals the full read, a table not written is the recorded reason, and a table is
    read once."""
    tables = {
        "aging": pd.DataFrame({"bucket": ["current", "1-30"], "amount": [Decimal("10.50"), Decimal("0.00")]}),
        "aging_by_segment": pd.DataFrame({"segment": ["Retail"], "amount": [Decimal("10.50")]}),
    }
    result = typed_result("aging", kpis={"ar_total": Decimal("10.50")}, tables=tables)
    result.omit(["by_region"], "the customers table has no region column")
    write_results({"aging": result}, {"ar_total": Decimal("10.50")}, tmp_path)
    eager = read_results(tmp_path)["aging"].tables
    lazy = read_results(tmp_path, when_used=True)["aging"].tables

    assert lazy.buckets.equals(eager.buckets) and lazy.buckets is lazy.buckets  # read once, then kept
    assert lazy.by_region == eager.by_region == Unavailable("the customers table has no region column")
    # by_segment is read only now: what the file holds at first use, not when the results were opened
    (tmp_path / "tables" / "aging_by_segment.csv").write_text("segment,amount\nWholesale,3.25\n", encoding="utf-8")
    assert lazy.by_segment.to_dict("list") == {"segment": ["Wholesale"], "amount": [Decimal("3.25")]}
    assert lazy.published().keys() == eager.published().keys()
    misspelt = "by_sgement"  # (written as an attribute, mypy already refuses it: only declared tables exist)
    with pytest.raises(AttributeError, match="no attribute 'by_sgement'"):
        getattr(lazy, misspelt)


def test_a_table_first_used_by_two_threads_at_once_is_given_to_both_and_kept() -> None:
    """Tables read when first used may be read from two threads (a pack's workbook is written in a thread of its
    own): two first uses at the same moment each get the table, and it is kept once read."""
    frame = pd.DataFrame({"bucket": ["current"], "amount": [Decimal("1.00")]})
    both_reading = threading.Barrier(2)

    class BothAtOnce:  # a TableReader whose reads wait (a while) for a second read to be under way
        def __call__(self, file: str) -> pd.DataFrame:
            with contextlib.suppress(threading.BrokenBarrierError):  # a reader that reads once: only one comes
                both_reading.wait(timeout=5)
            return frame.copy()

        def first_rows(self, file: str, count: int) -> FirstRows:
            return FirstRows(frame.head(count), len(frame))

        def keeps(self, file: str) -> bool:
            return True

    tables = PUBLISHED["aging"].tables.read_when_used(BothAtOnce(), ["aging"], {})
    with ThreadPoolExecutor(max_workers=2) as pool:
        read = list(pool.map(lambda _: tables.buckets, range(2)))
    assert all(table.equals(frame) for table in read)
    assert tables.buckets is tables.buckets and tables.buckets.equals(frame)  # kept: not read a third time


def test_tables_first_used_by_four_threads_under_constant_thread_switches_never_fail() -> None:
    """The same under stress: four threads use one table first, 500 times, the interpreter switching threads every
    microsecond — none fails (kept before it is no longer unread: the other way round, a thread looking in between
    found it in neither place, ~1.7 % of the trials)."""
    frame = pd.DataFrame({"bucket": ["current"], "amount": [Decimal("1.00")]})

    class Reader:
        def __call__(self, file: str) -> pd.DataFrame:
            return frame

        def first_rows(self, file: str, count: int) -> FirstRows:
            return FirstRows(frame.head(count), len(frame))

        def keeps(self, file: str) -> bool:
            return True

    failures: list[str] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(500):
            tables = PUBLISHED["aging"].tables.read_when_used(Reader(), ["aging"], {})
            start = threading.Barrier(4)

            def use(tables: typing.Any = tables, start: threading.Barrier = start) -> None:
                start.wait()
                try:
                    assert tables.buckets is frame
                except Exception as error:  # every kind of failure is counted
                    failures.append(repr(error))

            threads = [threading.Thread(target=use) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures, failures[:3]


def test_first_rows_reads_only_a_tables_first_rows_and_counts_them_all(tmp_path: Path) -> None:
    """A page's long list shows its first rows and how many more there are: of a table not read yet only those rows
    are read; the count is the one recorded when the results were written, or (results written before it was
    recorded) counted in the file — cells spanning lines included."""
    items = pd.DataFrame(
        {
            "customer_id": [f"C{n:03}" for n in range(120)],
            "name": ["Line one\nline two" if n == 3 else f"Customer {n}" for n in range(120)],
            "total": [Decimal(n) / 4 for n in range(120)],
        }
    )
    result = typed_result("aging", kpis={"ar_total": Decimal("1")}, tables={"aging_by_customer": items})
    result.omit(["by_region"], "the customers table has no region column")
    write_results({"aging": result}, {"ar_total": Decimal("1")}, tmp_path)
    eager = read_results(tmp_path)["aging"].tables
    lazy = read_results(tmp_path, when_used=True)["aging"].tables

    first = lazy.first_rows("by_customer", 50)
    assert isinstance(first, FirstRows) and first.rows == 120
    assert first.frame.equals(eager.by_customer.head(50))
    assert "by_customer" not in vars(lazy)  # only the first rows were read: the table itself is still unread
    assert lazy.by_customer.equals(eager.by_customer)
    computed = eager.first_rows("by_customer", 5)  # a table already in memory: its head and its length
    assert isinstance(computed, FirstRows) and computed.rows == 120 and computed.frame.equals(eager.by_customer.head(5))
    assert lazy.first_rows("by_region", 10) == Unavailable("the customers table has no region column")
    with pytest.raises(AttributeError, match="no table 'by_sgement'"):
        lazy.first_rows("by_sgement", 10)

    sections_file = tmp_path / "tables" / "_sections.json"
    sections = json.loads(sections_file.read_text(encoding="utf-8"))
    assert sections["aging"]["rows"] == {"aging_by_customer": 120}
    del sections["aging"]["rows"]  # results written before the count was recorded
    sections_file.write_text(json.dumps(sections), encoding="utf-8")
    older = read_results(tmp_path, when_used=True)["aging"].tables.first_rows("by_customer", 10)
    assert isinstance(older, FirstRows) and older.rows == 120 and older.frame.equals(eager.by_customer.head(10))


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
    mixed = pd.DataFrame({"-change": [Decimal("-1"), "-1 vs"]})
    result = typed_result("aging", tables={"aging_by_customer": table, "aging_by_region": mixed})
    write_results({"aging": result}, {}, tmp_path)
    with (tmp_path / "tables" / "aging_by_customer.csv").open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    assert header == ["customer", "balance", "items", "line"]
    assert [row[0] for row in rows] == [f"'{name}" for name in [*HOSTILE_TEXT, "'quoted"]] + ["Acme = Best", "plain"]
    assert {(row[1], row[2], row[3]) for row in rows} == {("-12.5", "-3", "'+ Recoveries")}
    with (tmp_path / "tables" / "aging_by_region.csv").open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [["'-change"], ["-1"], ["'-1 vs"]]  # per cell: a number, then a text
    back = read_results(tmp_path)["aging"].tables
    assert list(back.by_customer["customer"]) == names
    assert list(back.by_customer["balance"]) == [Decimal("-12.5")] * len(names)
    assert list(back.by_region.columns) == ["-change"]


def test_tables_xlsx_writes_hostile_text_as_text_never_as_a_formula(tmp_path: Path) -> None:
    """tables.xlsx is safe as it is (XlsxWriter with strings_to_formulas off): a customer named like a formula is a
    string cell, shown as written, in the workbook — and a formula nowhere."""
    import zipfile

    import openpyxl

    from collections_mi.outputs.excel import write_excel

    table = pd.DataFrame({"customer": HOSTILE_TEXT, "balance": [Decimal("-12.50")] * len(HOSTILE_TEXT)})
    path = tmp_path / "tables.xlsx"
    write_excel({"aging": typed_result("aging", tables={"aging_by_customer": table})}, path)
    sheet = openpyxl.load_workbook(path)["Aging by customer"]
    cells = [
        (sheet.cell(row, 1).value, sheet.cell(row, 1).data_type, sheet.cell(row, 2).value, sheet.cell(row, 2).data_type)
        for row in range(2, len(HOSTILE_TEXT) + 2)
    ]
    # a carriage return is stored as OOXML's escape _x000D_, which openpyxl leaves as it is
    assert cells == [(text.replace("\r", "_x000D_"), "s", -12.5, "n") for text in HOSTILE_TEXT]
    with zipfile.ZipFile(path) as workbook:
        xml = "".join(workbook.read(name).decode("utf-8") for name in workbook.namelist() if name.endswith(".xml"))
    assert "<f>" not in xml and "<f " not in xml


_VALUES = st.one_of(
    st.none(),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.integers(-(10**20), 10**20),
    st.text(alphabet=st.sampled_from([*"ab,;\"' \r\n\t=+-@"]), max_size=6),
    st.dates(),
    st.booleans(),
    st.floats(allow_nan=False, width=32),
)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 3).flatmap(lambda width: st.lists(st.lists(_VALUES, min_size=width, max_size=width), max_size=8)))
def test_a_table_csv_is_what_csv_writer_writes_with_carriage_returns_quoted(tmp_path_factory, rows) -> None:
    """tables/*.csv, however a table's cells mix types: each record as Python's csv.writer writes the cells (each
    cell spelled by cell_text, text neutralised), with a cell holding a carriage return quoted too and a lone empty
    cell as '""' — a table written a column at a time, a row at a time here (the oracle)."""
    from collections_mi.core.values import cell_text
    from collections_mi.store.results import neutralised, write_table

    width = len(rows[0]) if rows else 1
    frame = pd.DataFrame(rows, columns=[f"c{i}" for i in range(width)], dtype=object)
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    write_table(frame, path)
    expected = io.StringIO()
    for record in [list(frame.columns), *rows]:
        buffer = io.StringIO()
        cells = [neutralised(v) if isinstance(v, str) else cell_text(v) for v in record]
        csv.writer(buffer, lineterminator="\r\n").writerow(cells)  # "\r\n": a cell with either is quoted
        expected.write(buffer.getvalue()[: -len("\r\n")] + "\n")
    assert path.read_bytes().decode("utf-8") == expected.getvalue()


_TYPED_COLUMNS = {
    "amount": st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-1000, max_value=1000),
    "days": st.integers(-3, 3),
    "due": st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2026, 1, 5)),
    "name": st.text(alphabet=st.sampled_from([*'ab,"=\n']), min_size=1, max_size=3),  # "" is written as empty
    "kept": st.booleans(),
}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({c: st.one_of(st.none(), v) for c, v in _TYPED_COLUMNS.items()}), max_size=12),
    st.integers(1, 5),
)
def test_a_table_read_in_blocks_of_rows_is_the_table_written(tmp_path_factory, rows, block) -> None:
    """read_table reads a block of rows at a time and keeps one object per distinct text of a column: every value
    comes back with its type and value, wherever the blocks split the rows, and equal cells of a column that repeats
    its values are one object (what keeps a 10M pack's notebook kernels small)."""
    from collections_mi.store import results as store

    frame = pd.DataFrame(rows, columns=list(_TYPED_COLUMNS), dtype=object)
    path = tmp_path_factory.mktemp("blocks") / "t.csv"
    types = store.write_table(frame, path)
    saved, store._ROWS_AT_A_TIME = store._ROWS_AT_A_TIME, block
    try:
        back = store.read_table(path, types)
    finally:
        store._ROWS_AT_A_TIME = saved
    assert list(back.columns) == list(frame.columns) and len(back) == len(frame)
    for column in frame.columns:
        written, read = frame[column].tolist(), back[column].tolist()
        assert [(type(v), v) for v in read] == [(type(v), v) for v in written], column
        by_text: dict[str, object] = {}
        for value in read:  # the same text, the same object (fewer rows than read_table judges a column on)
            if value is not None:
                assert by_text.setdefault(f"{type(value)}{value}", value) is value, column
    # judged after 2 values: a column of distinct values is parsed cell by cell from then on, one that keeps
    # repeating its values shares them in every block — the values the same either way
    mixed = pd.DataFrame(
        {"id": [f"i{n}" for n in range(12)], "due": [dt.date(2026, 1, 5)] * 9 + [None] * 3, "n": [7] * 12}, dtype=object
    )
    store.write_table(mixed, path)
    judged, store._JUDGED_AFTER, store._ROWS_AT_A_TIME = store._JUDGED_AFTER, 2, block
    try:
        again = store.read_table(path, {"id": "str", "due": "date", "n": "int"})
    finally:
        store._JUDGED_AFTER, store._ROWS_AT_A_TIME = judged, saved
    assert again["id"].tolist() == mixed["id"].tolist() and again["due"].tolist() == mixed["due"].tolist()
    assert len({id(v) for v in again["due"].tolist()[:9]}) == len({id(v) for v in again["n"].tolist()}) == 1


@settings(max_examples=80, deadline=None)
@given(st.lists(_VALUES, max_size=30), st.integers(1, 40))
def test_a_computed_tables_equal_cells_become_one_object_and_nothing_else_changes(values, judged) -> None:
    """compute_sections hands on each table with its object columns' equal cells as one object
    (SectionTables.with_shared_values): every cell keeps its type, value and spelling (0.00 beside 0, True beside 1,
    a date beside its text), cells of the same type and text are one object, the other columns and the index are
    untouched, the frame computed is left as it was — and a column mostly distinct in its first cells is not
    touched at all."""
    from collections_mi.core import values as core_values
    from collections_mi.metrics.published import AgingTables

    column = [*values, Decimal("0.00"), Decimal("0"), Decimal("0.00"), True, 1, 1, "1", dt.date(2026, 1, 1)]
    column = [Decimal(str(v)) if type(v) is Decimal else v for v in column]  # fresh objects, as computed
    frame = pd.DataFrame({"cell": column, "count": range(len(column))}, index=range(100, 100 + len(column)))
    frame["cell"] = frame["cell"].astype(object)
    before = frame["cell"].tolist()
    tables = AgingTables.from_published({"aging": frame}, {})
    saved, core_values._JUDGED_VALUES = core_values._JUDGED_VALUES, judged
    try:
        shared = tables.with_shared_values().buckets
    finally:
        core_values._JUDGED_VALUES = saved
    assert isinstance(shared, pd.DataFrame) and shared is not frame and frame["cell"].tolist() == before
    assert list(shared.index) == list(frame.index) and shared["count"].tolist() == list(range(len(column)))
    after = shared["cell"].tolist()
    assert [(type(v), str(v)) for v in after] == [(type(v), str(v)) for v in before]
    mostly_distinct = (
        len(before) > judged
        and len({(type(v), str(v)) for v in before[:judged] if type(v) in (Decimal, str, int, bool, dt.date)})
        > judged * 0.8
    )
    if mostly_distinct:
        assert all(a is b for a, b in zip(after, before))
    else:
        one: dict[tuple[type, str], object] = {}
        for value in after:
            if type(value) in (Decimal, str, int, bool, dt.date):
                assert one.setdefault((type(value), str(value)), value) is value


# --- what each section declares (metrics/published.py) -----------------------------------------------------------


def test_every_kpi_id_and_published_table_name_is_declared_once() -> None:
    """kpis.json is one flat object and tables/ one folder: a KPI id or a table name two sections declared would
    overwrite the other's. Within a section no KPI id is also a table field (``omit`` takes either)."""
    assert list(SECTIONS) == list(PUBLISHED)
    kpi_ids = [kpi for s in SECTIONS.values() for kpi in s.kpis.ids()]
    files = [file for s in SECTIONS.values() for file in s.tables.files().values()]
    assert len(kpi_ids) == len(set(kpi_ids)) == 40
    assert len(files) == len(set(files)) == 83
    for section in SECTIONS.values():
        assert not set(section.kpis.ids()) & set(section.tables.files()), section.name


def test_what_may_be_not_available_is_typed_so() -> None:
    """An output that needs optional data is typed to hold the reason: a table field ``Table`` (frame or
    Unavailable), a KPI ``… | None``; one typed a bare DataFrame is always computed."""
    for name, outputs in PUBLISHED.items():
        table_types = typing.get_type_hints(outputs.tables)
        for field_name, declared in outputs.tables.declared().items():
            may_be_missing = Unavailable in typing.get_args(table_types[field_name])
            assert may_be_missing or not declared.needs, f"{name}.{field_name} needs {declared.needs}"
            assert table_types[field_name] in (pd.DataFrame, pd.DataFrame | Unavailable), f"{name}.{field_name}"
        kpi_types = typing.get_type_hints(outputs.kpis)
        for kpi, declared in outputs.kpis.declared().items():
            assert type(None) in typing.get_args(kpi_types[kpi]) or not declared.needs, f"{name}.{kpi}"


def test_dso_kpis_are_the_trend_kpis() -> None:
    """The DSO family, then payment behaviour: every KPI of the section is a column of its trend."""
    assert DsoKpis.ids() == SECTION_KPI_IDS == KPI_IDS + BEHAVIOUR_KPI_IDS


def test_output_needs_are_those_each_field_declares_under_the_params() -> None:
    """Which outputs need optional contract data (data-contract.md §1), by published name, as declared per field;
    with the roll-rate method the allowance itself needs the adjustments (the last bucket's roll rate is its
    write-offs)."""

    def needs(section: str, method: str) -> dict[str, tuple[tuple[str, str | None], ...]]:
        params = parse_params(
            {"as_of": "2026-10-31", "source": {"kind": "files", "location": "x"}, "allowance": {"method": method}}
        )
        files = SECTIONS[section].tables.files()
        return {files.get(name, name): need for name, need in SECTIONS[section].output_needs(params).items()}

    adjustments = (("adjustments", None),)
    assert needs("aging", "aging_rates") == {
        "aging_by_segment": (("customers", "segment"),),
        "aging_by_region": (("customers", "region"),),
        "aging_by_collector": (("customers", "collector"),),
        "aging_over_credit_limit": (("customers", "credit_limit"),),
        "aging_disputed_buckets": (("invoices", "disputed"),),
        "aging_disputed_items": (("invoices", "disputed"),),
        "credit_utilisation": (("customers", "credit_limit"),),
        # v1.1: only with the tables
        "unapplied_cash_total": (("unapplied_cash", None),),
        "ar_net": (("unapplied_cash", None),),
        "disputes_open": (("disputes", None),),
        "disputed_open_total": (("disputes", None),),
        "dispute_days_to_resolve": (("disputes", None), ("disputes", "resolved_on")),
        "disputes": (("disputes", None),),
        "disputes_by_reason": (("disputes", None),),
        "disputes_by_owner": (("disputes", None),),
        "disputes_by_age": (("disputes", None),),
        "disputes_resolved": (("disputes", None),),
        "disputes_trend": (("disputes", None),),
        "unapplied_cash": (("unapplied_cash", None),),
        "unapplied_cash_trend": (("unapplied_cash", None),),
    }
    assert needs("dso", "aging_rates") == {
        "dso_by_segment": (("customers", "segment"),),
        "dso_by_region": (("customers", "region"),),
        "dso_by_collector": (("customers", "collector"),),
        "dso_collectors": (("customers", "collector"),),
        "dso_by_risk_band": (("customers", "risk_score"),),
        "promises": (("promises", None),),
        "promises_kept_rate_trend": (("promises", None),),
        "behaviour_by_risk_band": (("customers", "risk_score"),),
    }
    write_off_driven = {
        "write_offs": adjustments,
        "recoveries": adjustments,
        "bad_debt_expense": adjustments,
        "allowance_rollforward": adjustments,
        "allowance_backtest": adjustments,
        "allowance_methods": adjustments,
        "vintage_cohorts": adjustments,
        "vintage_triangle": adjustments,
        "vintage_factors": adjustments,
        "roll_rates_monthly": adjustments,
        "roll_rates_average": adjustments,
        "loss_rates": adjustments,
        "allowance_vintages": adjustments,
        "allowance_projection": adjustments,
        "allowance_disputed": (("invoices", "disputed"),),
    }
    assert needs("allowance", "aging_rates") == write_off_driven
    assert needs("allowance", "roll_rate") == {
        **write_off_driven,
        **dict.fromkeys(
            (
                "allowance_total",
                "allowance_opening",
                "allowance_matrix",
                "allowance_gl_reconciliation",
                "allowance_qualitative",
                "allowance_waterfall",
            ),
            adjustments,
        ),
    }
    assert needs("watchlist", "aging_rates") == {}
    assert needs("agency", "aging_rates") == {"agency_champion_challenger": (("agencies", "strategy"),)}


def test_omit_leaves_the_reason_in_the_field_and_refuses_what_the_section_does_not_publish() -> None:
    result = typed_result(
        "allowance",
        kpis={"allowance_total": Decimal("45"), "write_offs": Decimal("2")},
        tables={"allowance_rollforward": pd.DataFrame({"line": ["x"]}), "allowance_matrix": pd.DataFrame()},
    )
    result.omit(["write_offs", "rollforward"], "the ledger has no adjustments table")
    assert result.kpis.write_offs is None and result.kpis.allowance_total == Decimal("45")
    assert result.tables.rollforward == Unavailable("the ledger has no adjustments table")
    assert list(result.tables.published()) == ["allowance_matrix"]
    assert result.unavailable == {
        "write_offs": "the ledger has no adjustments table",
        "allowance_rollforward": "the ledger has no adjustments table",
    }
    with pytest.raises(KeyError, match="no KPI or table 'allowance_rollforward'"):
        result.omit(["allowance_rollforward"], "a published name is not a field")


_HELD_COLUMNS = {
    "amount": st.builds(
        lambda n, places: Decimal(n).scaleb(-places), st.integers(-(10**20), 10**20), st.integers(-3, 30)
    ),
    "days": st.integers(-(10**18), 10**18),
    "due": st.dates(min_value=dt.date(1, 1, 1)),
    "name": st.one_of(
        st.sampled_from(["Acme", "C1", "=1+1", " -5", "'quoted", "a,b", 'say "hi"', "line\nend", "cr\r", "", "Müller"]),
        st.text(max_size=8),
    ),
    "kept": st.booleans(),
    "rate": st.floats(allow_nan=False, allow_infinity=False),
}


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({c: st.one_of(st.none(), v) for c, v in _HELD_COLUMNS.items()}), max_size=12),
    st.sets(st.sampled_from(list(_HELD_COLUMNS)), min_size=1),
    st.integers(1, 5),
)
def test_a_table_held_at_rest_is_written_as_its_frame(tmp_path_factory, rows, columns, block) -> None:
    """tables/*.csv of a table the pack holds at rest (Arrow columns: money as exact text, ints, dates of any year,
    booleans, text a spreadsheet would run as a formula or that needs quotes, floats) is byte for byte the file
    written from the frame, a column or several, in blocks of rows of any size; its column types are the same."""
    from collections_mi.store import results as store
    from collections_mi.store.history import held_table

    chosen = [c for c in _HELD_COLUMNS if c in columns]
    frame = pd.DataFrame([[row[c] for c in chosen] for row in rows], columns=chosen, dtype=object)
    held = held_table(frame)
    assert all(kind is not None for kind in held.kinds())  # each column in Arrow
    folder = tmp_path_factory.mktemp("held")
    saved, store._ROWS_AT_A_TIME = store._ROWS_AT_A_TIME, block
    try:
        types = store.write_held_table(held, folder / "held.csv")
    finally:
        store._ROWS_AT_A_TIME = saved
    assert types == store.write_table(frame, folder / "frame.csv")
    assert (folder / "held.csv").read_bytes() == (folder / "frame.csv").read_bytes()
