"""The Book (collections_mi.metrics.book): the ledger's contract tables and its derived tables as named fields, the
derived tables materialised once by open_book and released on exit, and the same numbers inline or materialised."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collections_mi.config.params import load_params
from collections_mi.core.contract import RISK_GRADES, TABLES
from collections_mi.core.errors import SourceError
from collections_mi.metrics.book import Book, book_of, open_book, slice_count
from collections_mi.metrics.derived import in_slice, running_totals
from collections_mi.metrics.sections import SECTIONS, available_sections, compute_sections, flat_kpis
from collections_mi.sources.ledger import fetch, open_ledger

from conftest import write_params

DERIVED = ("daily_reductions", "spans", "settlements")


def _temp_tables(ledger) -> set[str]:
    rows = ledger.backend.raw_sql("select table_name from duckdb_tables() where temporary").fetchall()
    return {name for (name,) in rows}


def _opened(tmp_path: Path, folder: Path, **sections):
    params_path = write_params(tmp_path, folder, **sections)
    params = load_params(params_path)
    return params, open_ledger(params, params_path)


def test_every_contract_table_is_a_field_optional_ones_none_when_absent(tiny_ledger: Path, tmp_path: Path) -> None:
    fields = {f.name for f in dataclasses.fields(Book)}
    assert set(TABLES) <= fields  # a table added to the contract needs its field
    params, ledger = _opened(tmp_path, tiny_ledger)
    book = book_of(ledger, params)
    present = {"customers", "invoices", "payments", "adjustments", "fx_rates", "gl_balances"}
    assert {name for name in TABLES if getattr(book, name) is not None} == present
    assert (book.as_of, book.reporting_currency) == (params.as_of, "USD")
    assert book.shape.has("invoices", "disputed") and not book.shape.has_rows("promises")
    assert book.fx.rate("EUR", params.as_of) == Decimal("1.08")  # fx_rates: the latest rate on or before as_of


def test_invoices_are_read_with_the_contracts_defaults(tiny_ledger: Path, tmp_path: Path) -> None:
    """data-contract.md § invoices: currency absent/null = reporting currency (any case), disputed null = false."""
    invoices = tiny_ledger / "invoices.csv"
    invoices.write_text(invoices.read_text(encoding="utf-8").replace(",EUR,", ",eur,"), encoding="utf-8")
    params, ledger = _opened(tmp_path, tiny_ledger)
    frame = fetch(book_of(ledger, params).invoices.select("invoice_id", "currency", "disputed").order_by("invoice_id"))
    rows = dict(zip(frame["invoice_id"], zip(frame["currency"], frame["disputed"])))
    assert rows["I2"] == ("USD", False)  # blank currency, blank disputed
    assert rows["I3"] == ("USD", True)
    assert rows["I4"] == rows["I7"] == ("EUR", False)  # written "eur"


def test_open_book_materialises_the_tables_and_derived_tables_once_and_releases_them(
    tiny_ledger: Path, tmp_path: Path
) -> None:
    """The ledger's typed tables (parsed from the source's text once, not by every query) and the three derived
    tables are temporary tables while the book is open, and gone after it closes — also after a failure."""
    params, ledger = _opened(tmp_path, tiny_ledger)
    before = _temp_tables(ledger)
    inline = book_of(ledger, params)
    with open_book(ledger, params) as book:
        made = _temp_tables(ledger) - before
        name_of = lambda table: table.get_name().rsplit(".", 1)[-1]  # noqa: E731
        derived = {name_of(getattr(book, name)) for name in DERIVED}
        plain = {name_of(getattr(book, name)) for name in ("customers", "payments", "adjustments", "gl_balances")}
        assert len(derived) == 3 and len(plain) == 4 and derived | plain <= made
        assert len(made) == 3 + len(ledger.typed) == 9  # the tiny ledger has six tables
        for name in DERIVED:  # the same rows as the inline expressions
            columns = sorted(getattr(inline, name).columns)
            key = [c for c in ("invoice_id", "event_date") if c in columns]  # one row per invoice (and day)
            got = fetch(getattr(book, name).select(*columns).order_by(key))
            want = fetch(getattr(inline, name).select(*columns).order_by(key))
            assert got.equals(want), name
        spans = fetch(book.spans.select("invoice_id", "closed_on").order_by("invoice_id"))
        closed = dict(zip(spans["invoice_id"], spans["closed_on"]))
        # I5 paid in full on 10-10, I7 on 11-02 (spans do not depend on as_of); I1 is still open
        assert (closed["I5"], closed["I7"], closed["I1"]) == (dt.date(2026, 10, 10), dt.date(2026, 11, 2), None)
        settled = fetch(book.settlements.select("invoice_id", "settled_on", "days_late"))
        assert list(zip(settled["invoice_id"], settled["settled_on"], settled["days_late"])) == [
            ("I5", dt.date(2026, 10, 10), 9)  # due 10-01; I7 settles after as_of
        ]
    assert _temp_tables(ledger) == before
    with pytest.raises(RuntimeError, match="inside"), open_book(ledger, params):
        raise RuntimeError("a failure inside the block")
    assert _temp_tables(ledger) == before  # released on the way out of a failure too


def test_a_large_ledgers_derived_tables_built_in_slices_are_the_same_tables(demo_ledger: Path, tmp_path: Path) -> None:
    """Beyond ``invoices_per_slice`` invoices (DuckDB), open_book builds the spans and settlements one slice of
    invoices at a time: the same rows, the same numbers in every section, nothing left behind. The demo's 3,000-odd
    invoices in slices of 700 make five slices."""
    params, ledger = _opened(tmp_path, demo_ledger)
    before = _temp_tables(ledger)
    sections = available_sections(ledger.typed)
    unsliced: list[str] = []
    with open_book(ledger, params, progress=unsliced.append) as whole:
        assert unsliced == []  # one slice: nothing to count
        invoices = whole.shape.all_rows["invoices"]
        assert slice_count(invoices, "duckdb", 700) == 5 == -(-invoices // 700)
        assert whole.slices == 1
        want = {name: fetch(getattr(whole, name)) for name in DERIVED}
        want_kpis = flat_kpis(compute_sections(whole, params, sections))
    lines: list[str] = []
    with open_book(ledger, params, invoices_per_slice=700, progress=lines.append) as sliced:
        assert sliced.slices == 5
        # a line as each slice starts: at 100M invoices the Book took 11 minutes behind one line
        assert lines == [
            f"  the Book: {table}, slice {index} of 5 …"
            for table in ("open spans", "settlements")
            for index in range(1, 6)
        ]
        assert len(_temp_tables(ledger) - before) == len(ledger.typed) + 3  # inserted into, not one table per slice
        for name, frame in want.items():
            columns = sorted(frame.columns)
            key = [c for c in ("invoice_id", "event_date") if c in columns]
            got = fetch(getattr(sliced, name)).sort_values(key, ignore_index=True)[columns]
            assert len(got) == len(frame) > 100, name
            assert got.equals(frame.sort_values(key, ignore_index=True)[columns]), name
        assert flat_kpis(compute_sections(sliced, params, sections)) == want_kpis
    assert _temp_tables(ledger) == before


def test_two_books_of_one_ledger_open_at_once_keep_their_own_sliced_tables(tiny_ledger: Path, tmp_path: Path) -> None:
    """Ibis caches a table per expression: two Books of the same ledger would share it. The slices are inserted
    into a table of the Book's own, so a second Book opened inside the first does not add its rows to the first's,
    and closing it does not take the first's away."""
    params, ledger = _opened(tmp_path, tiny_ledger)
    with open_book(ledger, params, invoices_per_slice=3) as outer:
        assert outer.slices > 1
        counts = {name: getattr(outer, name).count().to_pyarrow().as_py() for name in ("spans", "settlements")}
        with open_book(ledger, params, invoices_per_slice=3) as inner:
            assert inner.spans.get_name() != outer.spans.get_name()
            assert {name: getattr(outer, name).count().to_pyarrow().as_py() for name in counts} == counts
        assert {name: getattr(outer, name).count().to_pyarrow().as_py() for name in counts} == counts


def test_slice_count_slices_only_duckdb_ledgers_beyond_the_slice_size() -> None:
    assert slice_count(10_000_000, "duckdb") == 1
    assert slice_count(10_000_001, "duckdb") == 2
    assert slice_count(100_000_000, "duckdb") == 10
    assert slice_count(100_000_000, "postgres") == slice_count(100_000_000, "pyspark") == 1
    assert slice_count(0, "duckdb", 700) == 1


@settings(max_examples=40, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=60, unique=True),
    slices=st.integers(min_value=1, max_value=9),
)
def test_slices_hold_every_invoice_exactly_once(ids: list[str], slices: int) -> None:
    """in_slice over any ids: the slices are disjoint and together hold every row (the engine's hash is signed, so a
    remainder taken naively would be negative for about half the ids and they would be in no slice)."""
    con = ibis.duckdb.connect()
    table = con.create_table("rows", ibis.memtable({"invoice_id": ids, "n": list(range(len(ids)))}), temp=True)
    found = [row for index in range(slices) for row in in_slice(table, index, slices).n.to_pyarrow().to_pylist()]
    assert sorted(found) == list(range(len(ids)))


def test_a_ledger_without_a_required_table_has_no_book(tiny_ledger: Path, tmp_path: Path) -> None:
    params, ledger = _opened(tmp_path, tiny_ledger)
    tables = {name: table for name, table in ledger.typed.items() if name != "payments"}
    with pytest.raises(SourceError, match="the ledger has no payments table"):
        book_of(tables, params)


def test_a_section_whose_table_the_ledger_lacks_says_which(tiny_ledger: Path, tmp_path: Path) -> None:
    from collections_mi.metrics.watchlist import compute_watchlist

    params, ledger = _opened(tmp_path, tiny_ledger)
    assert SECTIONS["watchlist"] not in available_sections(ledger.typed)  # the registry leaves it out…
    with pytest.raises(SourceError, match="the ledger has no loans table"):  # …and called anyway, it says why
        compute_watchlist(book_of(ledger, params), params)


def test_sections_are_computed_on_a_book_opened_for_the_same_params(tiny_ledger: Path, tmp_path: Path) -> None:
    params, ledger = _opened(tmp_path, tiny_ledger)
    other = load_params(write_params(tmp_path, tiny_ledger, as_of="2026-09-30"))
    with open_book(ledger, other) as book, pytest.raises(ValueError, match="open the book with these params"):
        compute_sections(book, params, [SECTIONS["aging"]])
    with open_book(ledger, params) as book:
        inline = flat_kpis(compute_sections(book_of(ledger, params), params, available_sections(ledger.typed)))
        materialised = flat_kpis(compute_sections(book, params, available_sections(ledger.typed)))
    assert materialised == inline
    assert materialised["ar_total"] == inline["ar_total"] > 0


def test_risk_grades_have_one_home() -> None:
    from collections_mi.config.params import WatchlistConfig

    assert (
        tuple(WatchlistConfig().general_rates)
        == RISK_GRADES
        == (
            "pass",
            "special_mention",
            "substandard",
            "doubtful",
            "loss",
        )
    )


def test_an_optional_table_the_ledger_lacks_is_none(tiny_ledger: Path, tmp_path: Path) -> None:
    (tiny_ledger / "gl_balances.csv").unlink()
    params, ledger = _opened(tmp_path, tiny_ledger)
    book = book_of(ledger, params)
    assert book.gl_balances is None and book.adjustments is not None
    assert book.shape.missing("gl_balances") == "the ledger has no gl_balances table"


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["I1", "I2", "I3", "I4"]),
        st.dictionaries(
            st.dates(dt.date(2026, 1, 1), dt.date(2026, 3, 31)),
            st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99999.9999"), places=4),
            min_size=1,
            max_size=8,
        ),
        max_size=4,
    )
)
def test_running_totals_are_each_invoices_sum_up_to_each_of_its_days(
    days: dict[str, dict[dt.date, Decimal]],
) -> None:
    """The running total the spans and settlements are built from (a join and a sum, which spill to disk, instead of
    a window): for each invoice and day, the sum of that invoice's amounts on or before the day, exact."""
    rows = [(invoice, day, amount) for invoice, amounts in days.items() for day, amount in amounts.items()]
    daily = ibis.memtable(
        pa.table(
            {
                "invoice_id": pa.array([r[0] for r in rows], pa.string()),
                "event_date": pa.array([r[1] for r in rows], pa.date32()),
                "reduced": pa.array([r[2] for r in rows], pa.decimal128(18, 4)),
            }
        )
    )
    totals = ibis.duckdb.connect().to_pyarrow(running_totals(daily, "reduced", "cumulative")).to_pylist()
    expected = {
        (invoice, day): sum((a for d, a in amounts.items() if d <= day), Decimal(0))
        for invoice, amounts in days.items()
        for day in amounts
    }
    assert {(row["invoice_id"], row["event_date"]): row["cumulative"] for row in totals} == expected
    assert len(totals) == len(rows)
