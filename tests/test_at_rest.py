"""A pack holds its computed tables at rest (store.history.TablesAtRest) from when tables/ is written until the
history stores them: every consumer gets the same exact values, the workbook is the same file, and the history
stores the same tables."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from collections_mi.config.params import load_params
from collections_mi.metrics.book import open_book
from collections_mi.metrics.result import FirstRows, Unavailable
from collections_mi.metrics.sections import available_sections, compute_sections, flat_kpis
from collections_mi.outputs.excel import write_excel
from collections_mi.sources.ledger import open_ledger
from collections_mi.store import history
from collections_mi.store.results import write_results

from conftest import TINY, write_params

#: tables of more rows than this are converted each time they are used (the tiny ledger's lists are short)
KEPT = 3


def _tiny_source(folder: Path) -> tuple[Any, Any]:
    """The tiny ledger copied into ``folder``: its params and its opened source."""
    params_path = write_params(folder, Path(shutil.copytree(TINY, folder / "ledger")), report={"company": "Tiny"})
    params = load_params(params_path)
    return params, open_ledger(params, params_path)


def _computed(folder: Path) -> tuple[Any, dict[str, Any]]:
    params, source = _tiny_source(folder)
    with open_book(source, params) as book:
        return params, compute_sections(book, params, available_sections(source.typed))


def _cells(workbook: Path) -> dict[str, bytes]:
    """The workbook's parts but its creation time (docProps/core.xml)."""
    with zipfile.ZipFile(workbook) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name != "docProps/core.xml"}


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The tiny ledger's results twice: as computed, and at rest after tables/ was written (as a pack does)."""
    folder = tmp_path_factory.mktemp("at-rest")
    params, computed = _computed(folder / "a")
    _, rested = _computed(folder / "b")
    out = folder / "pack"
    write_results(rested, flat_kpis(rested), out)
    at_rest = history.TablesAtRest(params.period, params.as_of, kept_rows=KEPT)
    at_rest.put(rested)
    return {"params": params, "computed": computed, "rested": rested, "at_rest": at_rest, "out": out}


def test_tables_at_rest_give_back_the_computed_tables(held) -> None:
    """Each table at rest comes back as it was computed: the same values of the same types (exact decimals, ints,
    dates, an int beside a label in the forecast's week column), the same index; its first rows and row count
    without converting the rest; a table the ledger cannot give is still the reason. A long table is converted each
    time it is used, a short one is kept."""
    long_tables = objects = 0
    for section, result in held["rested"].items():
        computed = held["computed"][section].tables
        for name, file in result.tables.files().items():
            back, before = getattr(result.tables, name), getattr(computed, name)
            if isinstance(before, Unavailable):
                assert back == before, file  # with its reason
                continue
            assert list(back.columns) == list(before.columns) and back.index.equals(before.index), file
            for column in before.columns:
                pairs = list(zip(back[column].tolist(), before[column].tolist(), strict=True))
                assert all(type(a) is type(b) and (a == b or a != a and b != b) for a, b in pairs), (file, column)
                objects += len({type(b) for _, b in pairs} - {type(None)}) > 1
            first = result.tables.first_rows(name, 2)
            assert isinstance(first, FirstRows) and first.rows == len(before) and first.frame.equals(back.head(2)), file
            kept = len(before) <= KEPT
            long_tables += not kept
            assert (name in vars(result.tables)) is kept, file
            assert (getattr(result.tables, name) is back) is kept, file
    assert long_tables >= 5 and objects >= 1  # the forecast's week: 1 … 13, "later", "not forecast"


def test_the_workbook_from_tables_at_rest_is_the_same_file(held, tmp_path: Path) -> None:
    """tables.xlsx written from the tables at rest (each converted when its sheet is written) has every part of the
    workbook written from the computed tables, cell for cell."""
    params = held["params"]
    write_excel(held["computed"], tmp_path / "computed.xlsx", params)
    write_excel(held["rested"], tmp_path / "rested.xlsx", params)
    computed, rested = _cells(tmp_path / "computed.xlsx"), _cells(tmp_path / "rested.xlsx")
    assert computed.keys() == rested.keys() and len(computed) > 20
    assert [name for name in computed if computed[name] != rested[name]] == []


def test_the_history_stores_the_tables_at_rest_as_they_are(held, tmp_path: Path) -> None:
    """The history stores the tables it is given at rest without converting them again: the same files as from the
    computed tables; tables held for another month are refused."""
    params = held["params"]
    history.store_snapshot(tmp_path / "computed", params, held["computed"])
    history.store_snapshot(tmp_path / "rested", params, held["rested"], at_rest=held["at_rest"])
    stored = {
        kind: {p.name: pq.read_table(p) for p in history.period_dir(tmp_path / kind, params.period).glob("*.parquet")}
        for kind in ("computed", "rested")
    }
    files = list(stored["computed"])
    assert len(files) > 20 and sorted(stored["rested"]) == sorted(stored["computed"])
    for name in files:
        assert stored["rested"][name].equals(stored["computed"][name]), name
    other = history.TablesAtRest("2026-09", params.as_of)
    with pytest.raises(history.HistoryError, match="not 2026-10's"):
        history.store_snapshot(tmp_path / "other", params, held["rested"], at_rest=other)


def test_tables_at_rest_give_back_unusual_frames_as_they_were() -> None:
    """What Arrow would change is held as it was: a float column with NaN (Arrow: None), datetimes in a date column,
    Decimals beside ints, a label beside numbers, an index that is not 0 … n-1, column names that are not text or
    repeat, a table without rows. The history still stores its own text for each."""
    import datetime as dt
    from decimal import Decimal

    import pandas as pd

    from collections_mi.metrics.published import AgingTables

    frames = {
        "aging": pd.DataFrame(
            {
                "bucket": ["current", "1-30", None],
                "amount": [Decimal("1.10"), 2, None],
                "share": [0.5, float("nan"), None],
                "on": [dt.date(2026, 10, 31), dt.datetime(2026, 10, 31, 12, 0), None],
                "week": [1, "later", None],
                "count": pd.Series([1, 2, 3], dtype="int64"),
            },
            index=pd.Index([7, 3, 7]),
        ),
        "aging_by_currency": pd.DataFrame([[1, "a"], [2, "b"]], columns=["x", "x"]),
        "aging_by_customer": pd.DataFrame({0: [Decimal("1")], "name": ["Acme"]}),
        "aging_trend": pd.DataFrame({"amount": pd.Series([], dtype="object")}),
    }
    computed = AgingTables.from_published(frames, {})
    result = type("Result", (), {"tables": computed})()
    at_rest = history.TablesAtRest("2026-10", dt.date(2026, 10, 31), kept_rows=1)
    at_rest.put({"aging": result})
    for field_name, file in computed.files().items():
        if file not in frames:
            continue
        back, before = getattr(result.tables, field_name), frames[file]
        assert list(back.columns) == list(before.columns) and list(back.index) == list(before.index), file
        for position in range(before.shape[1]):
            pairs = zip(back.iloc[:, position].tolist(), before.iloc[:, position].tolist(), strict=True)
            assert all(type(a) is type(b) and (a == b or a != a and b != b) for a, b in pairs), (file, position)
    stored = at_rest.stored("aging")
    assert stored is not None and stored.column("week").to_pylist() == ["1", "later", None]
    assert stored.column("amount").to_pylist() == ["1.1", "2", None]
    assert at_rest.stored("aging_by_region") is None


def test_a_pack_sets_each_section_aside_as_soon_as_it_is_computed(held, tmp_path: Path) -> None:
    """compute_month_end with a TablesAtRest (as the pack computes) holds each section's tables at rest before the
    next section runs — so the DSO family per customer is not held as Python objects while the cash section runs —
    and every table comes back with the computed values and types."""
    import dataclasses

    from collections_mi.runs.backfill import compute_month_end

    params, source = _tiny_source(tmp_path)
    at_rest = history.TablesAtRest(params.period, params.as_of, kept_rows=KEPT)
    every_file = [file for s in available_sections(source.typed) for file in s.tables.files().values()]
    held_when_computed: dict[str, set[str]] = {}

    def recording(section: Any) -> Any:
        def compute(book: Any, p: Any) -> Any:
            held_when_computed[section.name] = {f for f in every_file if at_rest.stored(f) is not None}
            return section.compute(book, p)

        return dataclasses.replace(section, compute=compute)

    sections = [recording(s) for s in available_sections(source.typed)]
    month_end = compute_month_end(source, params, sections, at_rest=at_rest)
    assert len(sections) >= 4 and month_end.at_rest is at_rest and month_end.open_items is not None
    # when each section starts, exactly the tables of the sections before it are held at rest
    so_far: set[str] = set()
    for section in sections:
        assert held_when_computed[section.name] == so_far, section.name
        so_far |= set(month_end.results[section.name].tables.available_files().values())
    assert {f for f in every_file if at_rest.stored(f) is not None} == so_far and len(so_far) > 20
    compared = 0
    for section, result in month_end.results.items():
        computed = held["computed"][section].tables
        for name, file in result.tables.files().items():
            before = getattr(computed, name)
            if isinstance(before, Unavailable) or len(before) <= KEPT:
                continue
            assert name not in vars(result.tables), file  # held at rest, not as a frame
            back = getattr(result.tables, name)
            assert list(back.columns) == list(before.columns) and back.index.equals(before.index), file
            for column in before.columns:
                pairs = zip(back[column].tolist(), before[column].tolist(), strict=True)
                assert all(type(a) is type(b) and (a == b or a != a and b != b) for a, b in pairs), (file, column)
            compared += 1
    assert compared >= 5


def test_metrics_lets_each_sections_tables_go_and_keeps_its_kpis(held, tmp_path: Path) -> None:
    """`collections-mi metrics` computes with kpis_only: every KPI as a pack computes it, no table kept (each let go
    as soon as its section is computed); asking for open items or tables at rest with it is a programming error."""
    from collections_mi.runs.backfill import compute_month_end

    params, source = _tiny_source(tmp_path)
    sections = available_sections(source.typed)
    lines: list[str] = []
    month_end = compute_month_end(source, params, sections, open_items=False, kpis_only=True, progress=lines.append)
    assert flat_kpis(month_end.results) == flat_kpis(held["computed"]) and len(flat_kpis(month_end.results)) > 20
    # a line as the Book opens and as each section starts (shown on large ledgers: see the next test)
    assert lines == ["  the Book: each invoice's open span and settlement …"] + [
        f"  {section.name} ({position} of {len(sections)}) …" for position, section in enumerate(sections, start=1)
    ]
    assert len(sections) >= 4
    for result in month_end.results.values():
        assert result.tables.available_files() == {}, result.section
        assert result.unavailable == held["computed"][result.section].unavailable
    with pytest.raises(ValueError, match="kpis_only"):
        compute_month_end(source, params, sections, kpis_only=True)


def test_a_month_end_is_computed_with_fewer_collections_then_as_before(tmp_path: Path) -> None:
    """Each section computes with the cycle collector run less often (core.memory.FEWER_COLLECTIONS: the
    collector walking the surviving objects again and again cost 11 % of the sections' Python at 1M invoices);
    afterwards — after a failing section, and after overlapping uses — the thresholds are what they were."""
    import dataclasses
    import gc

    from collections_mi.core.memory import FEWER_COLLECTIONS, fewer_collections
    from collections_mi.runs.backfill import compute_month_end

    params, source = _tiny_source(tmp_path)
    seen: list[tuple[int, ...]] = []

    def recording(section: Any, fail: bool = False) -> Any:
        def compute(book: Any, p: Any) -> Any:
            seen.append(gc.get_threshold())
            if fail:
                raise RuntimeError("a section failed")
            return section.compute(book, p)

        return dataclasses.replace(section, compute=compute)

    before = gc.get_threshold()
    assert before != FEWER_COLLECTIONS
    sections = [recording(s) for s in available_sections(source.typed)]
    month_end = compute_month_end(source, params, sections, open_items=False, kpis_only=True)
    assert len(month_end.results) == len(sections) >= 4
    assert seen == [FEWER_COLLECTIONS] * len(sections) and gc.get_threshold() == before
    # a section (the extension point: any callable of the Book) failing half-way
    with pytest.raises(RuntimeError, match="a section failed"):
        compute_month_end(source, params, [recording(sections[0], fail=True)], open_items=False, kpis_only=True)
    assert seen[-1] == FEWER_COLLECTIONS and gc.get_threshold() == before
    # overlapping uses (two threads computing): one setting, restored when the last one ends, whichever order
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == FEWER_COLLECTIONS
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before


def test_the_compute_stage_shows_its_steps_on_ledgers_over_a_million_invoices() -> None:
    """The pack's and `metrics`' compute stage passes its progress on (a line per step) beyond
    SECTION_PROGRESS_FROM invoices only: on the demo the stage's own two lines say enough (test_pack's stages)."""
    from collections_mi.metrics.shape import LedgerShape
    from collections_mi.runs.pack import SECTION_PROGRESS_FROM, _section_progress, _Stopwatch

    clock = _Stopwatch(print)
    for invoices, shown in ((SECTION_PROGRESS_FROM + 1, True), (SECTION_PROGRESS_FROM, False), (0, False)):
        shape = LedgerShape(rows={"invoices": invoices}, filled={}, all_rows={"invoices": invoices})
        assert (_section_progress(shape, clock) == clock.progress) is shown, invoices
    assert SECTION_PROGRESS_FROM == 1_000_000
