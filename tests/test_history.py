"""The month-end history: `collections-mi backfill` fills 12 months of the small demo ledger without notebooks; trends
then load from the history's Parquet files with the ledger gone; stored values equal a published pack's kpis.json
and tables exactly; re-storing a period replaces it; the pack stores its own month."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collections_mi.core import periods
from collections_mi.core.money import dsum
from collections_mi.core.values import decimal_text, json_number
from collections_mi.metrics import explore
from collections_mi.runs.backfill import backfill
from collections_mi.store import history
from collections_mi.store.results import read_kpis, read_results

from conftest import built_once, cli, write_params

pytestmark = pytest.mark.slow

FIRST, LAST = "2025-11", "2026-10"
MONTHS = periods.month_range(FIRST, LAST)


@pytest.fixture(scope="module")
def backfilled(demo_ledger: Path, tmp_path_factory: pytest.TempPathFactory):
    """12 months back-filled through the CLI from a copy of the demo ledger, which is then moved away.

    Built once per test run: pytest-xdist workers share it (conftest.built_once).
    """

    def build(work: Path) -> dict:
        ledger = work / "ledger"
        shutil.copytree(demo_ledger, ledger)
        params = write_params(work, ledger)
        started = time.perf_counter()
        run = cli("backfill", "--params", str(params), "--from", FIRST, "--to", LAST, "--out", str(work / "reports"))
        seconds = time.perf_counter() - started
        assert run.returncode == 0, run.stderr
        shutil.move(str(ledger), str(work / "ledger-moved-away"))  # from here on nothing can read it
        return {"stdout": run.stdout, "stderr": run.stderr, "seconds": seconds, "params": str(params)}

    work, record = built_once(tmp_path_factory, "history-backfill", build)
    run = subprocess.CompletedProcess([], 0, record["stdout"], record["stderr"])
    return work / "reports" / "history", run, record["seconds"], Path(record["params"])


def _kpi_text(value: object) -> str:
    return json_number(value)


def _same(left: object, right: object) -> bool:
    """Equal values; an empty text and a missing value are the same (tables/*.csv writes both as an empty cell)."""
    if left in (None, "") or right in (None, ""):
        return left in (None, "") and right in (None, "")
    return left == right


def test_backfill_stores_every_month_with_progress(backfilled) -> None:
    history_dir, run, _, _ = backfilled
    assert history.periods(history_dir) == MONTHS
    progress = [line for line in run.stderr.splitlines() if re.search(r"\[\d+/12\] \d{4}-\d{2} stored", line)]
    assert len(progress) == 12, run.stderr
    assert run.stderr.count("validation passed") == 1  # validation once, for the whole range
    assert "Backfilled 12 month(s)" in run.stdout
    assert not list(history_dir.glob(".staging-*")) and not list(history_dir.glob(".replaced-*"))
    manifest = history.snapshot_manifest(history_dir, LAST)
    assert manifest["origin"] == "backfill" and manifest["as_of"] == "2026-10-31"


def test_trends_load_from_history_without_the_ledger(backfilled, monkeypatch: pytest.MonkeyPatch) -> None:
    history_dir, _, _, params = backfilled
    import collections_mi.sources.ledger as sources
    from collections_mi.presentation import charts

    def no_ledger(*_args, **_kwargs):
        raise AssertionError("the ledger was opened")

    monkeypatch.setattr(sources, "open_ledger", no_ledger)
    assert not (params.parent / "ledger").exists()
    started = time.perf_counter()
    kpis = history.load_kpis(history_dir)
    aging = history.load_table(history_dir, "aging")
    fig = charts.history_kpi_lines(kpis, ["ar_total", "past_due_total"], ["AR", "past due"], "AR", "USD")
    bars = charts.history_bucket_bars(explore.bucket_history(aging), list(aging["bucket"].iloc[:6]), "USD")
    loaded = time.perf_counter() - started
    assert list(kpis["period"]) == MONTHS
    assert list(kpis["as_of"]) == [periods.month_end_of(m) for m in MONTHS]
    assert list(fig.data[0].x) == MONTHS and len(fig.data[0].y) == 12
    assert all(y > 0 for y in fig.data[0].y)
    assert len(bars.data) == 6 and list(bars.data[0].x) == MONTHS
    assert isinstance(kpis["ar_total"].iloc[-1], Decimal) and isinstance(kpis["open_items"].iloc[-1], int)
    assert loaded < 30, f"loading 12 months took {loaded:.1f} s"  # seconds at worst, on a busy machine


def test_history_equals_the_published_packs_kpis_and_tables_exactly(backfilled, published) -> None:
    history_dir, _, _, _ = backfilled
    _, out, _ = published
    pack = out / "2026-10"
    expected = read_kpis(pack)
    pack_tables = {
        name: frame for result in read_results(pack).values() for name, frame in result.tables.published().items()
    }
    # the month the pack stored itself (runner hook) and the same month back-filled without notebooks
    for source in (history.history_dir_for(out), history_dir):
        row = history.load_kpis(source, [LAST]).iloc[0]
        kpis = {k: row[k] for k in row.index if k not in ("period", "as_of")}
        assert list(kpis) == list(expected), source
        for name, value in expected.items():
            assert _same(kpis[name], value), (source, name, kpis[name], value)
            assert _kpi_text(kpis[name]) == _kpi_text(value), (source, name)
        for name, frame in pack_tables.items():
            stored = history.load_table(source, name, [LAST]).drop(columns=["period", "as_of"])
            assert list(stored.columns) == list(frame.columns), (source, name)
            assert len(stored) == len(frame), (source, name)
            for column in frame.columns:
                pairs = zip(stored[column], frame[column])
                assert all(_same(a, b) for a, b in pairs), (source, name, column)
    assert history.snapshot_manifest(history.history_dir_for(out), LAST)["origin"] == "pack"
    # the open items too: the pack's from the Book it computed on, the backfill's from its own
    stored_by_pack = history.load_table(history.history_dir_for(out), "open_items", [LAST])
    backfilled_items = history.load_table(history_dir, "open_items", [LAST])
    assert len(stored_by_pack) > 100 and list(stored_by_pack.columns) == list(backfilled_items.columns)
    for column in backfilled_items.columns:
        assert all(_same(a, b) for a, b in zip(stored_by_pack[column], backfilled_items[column])), column


def test_open_items_add_up_to_ar_total_in_every_month(backfilled) -> None:
    history_dir, _, _, _ = backfilled
    kpis = history.load_kpis(history_dir)
    items = history.load_table(history_dir, "open_items")
    for period, ar_total, count in zip(kpis["period"], kpis["ar_total"], kpis["open_items"]):
        month = items[items["period"] == period]
        assert dsum(month["open_balance_reporting"]) == ar_total
        assert len(month) == count
    latest = items[items["period"] == LAST]
    labels = ["current", "1-30", "31-60", "61-90", "91-120", "120+"]
    tree = explore.drill_tree(latest, labels)
    assert dsum(tree["amount"]) == kpis["ar_total"].iloc[-1]
    options = explore.filter_options(latest, labels)
    assert options.iloc[0]["total"] == kpis["ar_total"].iloc[-1]
    for dimension in explore.DIMENSIONS:
        assert dsum(options.loc[options["filter"] == dimension, "total"]) == kpis["ar_total"].iloc[-1], dimension
    runoff = explore.cohort_runoff(items)
    assert set(runoff["cohort"]) == set(MONTHS)
    assert all(v == 100 for v in runoff.loc[runoff["months_since"] == 0, "remaining_pct"] if v is not None)


def test_open_items_carry_the_behaviour_band_and_dispute_reason_of_their_month(backfilled) -> None:
    """The exploration notebooks filter by behaviour band and dispute reason: each stored item carries its
    customer's band at that month-end (the DSO section's behaviour_by_customer of the same month) and, when disputed
    then, the reason of a dispute open at that month-end (the aging section's disputes table of the same month)."""
    history_dir, _, _, _ = backfilled
    items = history.load_table(history_dir, "open_items")
    bands = history.load_table(history_dir, "behaviour_by_customer")
    disputes = history.load_table(history_dir, "disputes")
    reasons_seen = set()
    for period in (FIRST, LAST):
        month = items[items["period"] == period]
        band_of = dict(zip(*(bands.loc[bands["period"] == period, c] for c in ("customer_id", "band"))))
        assert [band_of[c] for c in month["customer_id"]] == list(month["behaviour_band"])
        open_disputes = disputes[disputes["period"] == period]
        reasons_of: dict[str, set[str]] = {}
        for invoice, reason in zip(open_disputes["invoice_id"], open_disputes["reason"]):
            reasons_of.setdefault(invoice, set()).add(reason if isinstance(reason, str) else "(none)")
        for invoice, disputed, reason in zip(month["invoice_id"], month["disputed"], month["dispute_reason"]):
            if disputed:
                assert reason in reasons_of[invoice], (period, invoice, reason)
                reasons_seen.add(reason)
            else:
                assert reason == "not disputed" and invoice not in reasons_of, (period, invoice)
        assert {"Great", "Poor"} <= set(month["behaviour_band"]), period
    assert len(reasons_seen) >= 3  # the demo's disputes have several reasons
    latest = items[items["period"] == LAST]
    options = explore.filter_options(latest, ["current", "1-30", "31-60", "61-90", "91-120", "120+"])
    assert set(options.loc[options["filter"] == "dispute_reason", "value"]) == set(latest["dispute_reason"])
    # a month stored before the snapshot had these columns reads "not stored", not NaN, and still adds up
    trend = explore.trend_by(items.drop(columns=["behaviour_band"]), "behaviour_band")
    assert set(trend["value"]) == {explore.NOT_STORED}
    assert dsum(trend.loc[trend["period"] == LAST, "total"]) == dsum(latest["open_balance_reporting"])


def test_storing_a_period_again_replaces_it(tmp_path: Path) -> None:
    from collections_mi.config.params import parse_params
    from collections_mi.metrics.published import AgingKpis, AgingTables
    from collections_mi.metrics.result import SectionResult

    params = parse_params({"as_of": "2026-10-31", "source": {"kind": "files", "location": "nowhere"}})
    table = pd.DataFrame({"bucket": ["current", "1-30"], "amount": [Decimal("10.005"), Decimal("2")]})
    results = {
        "aging": SectionResult(
            "aging",
            AgingKpis.from_values({"ar_total": Decimal("12.005"), "open_items": 2}),
            AgingTables.from_published({"aging": table, "aging_trend": table}, {}),
        )
    }
    target = tmp_path / "history"
    history.store_snapshot(target, params, results)
    first = {p.name for p in history.period_dir(target, "2026-10").iterdir()}
    assert first == {"_snapshot.json", "kpis.parquet", "aging.parquet", "aging_trend.parquet"}
    results["aging"].kpis.ar_total = Decimal("1.25")
    results["aging"].omit(["trend"], "not stored this time")
    history.store_snapshot(target, params, results, origin={"origin": "test"})
    assert history.periods(target) == ["2026-10"]
    assert [p.name for p in target.iterdir() if p.name.startswith(".") and p.name != ".lock"] == []
    assert {p.name for p in history.period_dir(target, "2026-10").iterdir()} == first - {"aging_trend.parquet"}
    assert history.load_kpis(target)["ar_total"].tolist() == [Decimal("1.25")]
    assert history.load_table(target, "aging")["amount"].tolist() == [Decimal("10.005"), Decimal("2")]
    assert history.snapshot_manifest(target, "2026-10")["origin"] == "test"


def test_open_items_are_stored_the_same_from_the_frame_or_its_compact_table(tmp_path: Path) -> None:
    """A pack holds the month's open items as :func:`history.open_items_table` (Arrow, money as exact text) from the
    end of compute until the history is stored: the stored file is the same as from the frame, and a table of another
    month is refused rather than stored under this one."""
    import pyarrow.parquet as pq

    from collections_mi.config.params import parse_params

    params = parse_params({"as_of": "2026-10-31", "source": {"kind": "files", "location": "nowhere"}})
    items = pd.DataFrame(
        {
            "invoice_id": ["INV-2", "INV-1"],
            "open_balance": [Decimal("0.10"), Decimal("1234567890123.455")],
            "due_date": [dt.date(2026, 9, 30), dt.date(2026, 10, 15)],
            "days_past_due": [31, 16],
            "disputed": [True, False],
        },
        dtype="object",
    )
    compact = history.open_items_table(items, params.period, params.as_of)
    stored = {}
    for form in ("frame", "table"):
        target = tmp_path / form
        history.store_snapshot(target, params, {}, items if form == "frame" else compact)
        stored[form] = pq.read_table(history.period_dir(target, "2026-10") / "open_items.parquet")
    assert stored["frame"].equals(stored["table"]) and stored["frame"].schema.equals(stored["table"].schema, True)
    back = history.load_table(tmp_path / "table", "open_items")
    assert back["open_balance"].tolist() == [Decimal("0.10"), Decimal("1234567890123.455")]
    assert back["due_date"].tolist() == [dt.date(2026, 9, 30), dt.date(2026, 10, 15)]
    september = history.open_items_table(items, "2026-09", dt.date(2026, 9, 30))
    with pytest.raises(history.HistoryError, match="not that month's open_items table"):
        history.store_snapshot(tmp_path / "other", params, {}, september)


def test_missing_only_skips_stored_months_without_opening_the_ledger(backfilled) -> None:
    history_dir, _, _, params = backfilled
    run = cli(
        "backfill",
        "--params",
        str(params),
        "--from",
        "2026-06",
        "--to",
        LAST,
        "--out",
        str(history_dir.parent),
        "--missing-only",
    )
    assert run.returncode == 0, run.stderr
    assert "5 already stored, skipped" in run.stdout


def test_backfill_rejects_a_bad_range(backfilled) -> None:
    _, _, _, params = backfilled
    run = cli("backfill", "--params", str(params), "--from", "2026-11", "--to", "2026-10", "--out", "/nonexistent")
    assert run.returncode == 2 and "--from 2026-11 is after --to 2026-10" in run.stderr
    with pytest.raises(history.HistoryError, match="not a month in the form YYYY-MM"):
        backfill(params, start="2026-13", out_dir=params.parent / "unused")


def test_load_table_names_what_is_missing(backfilled, tmp_path: Path) -> None:
    history_dir, _, _, _ = backfilled
    with pytest.raises(history.HistoryError, match="no table 'nope'"):
        history.load_table(history_dir, "nope")
    with pytest.raises(history.HistoryError, match="no history in"):
        history.load_kpis(tmp_path / "empty")
    assert {"kpis", "open_items", "aging", "dso_trend", "watchlist_loans", "agency_league"} <= set(
        history.tables_available(history_dir)
    )


def test_decimals_are_stored_as_exact_strings(backfilled) -> None:
    import pyarrow.parquet as pq

    history_dir, _, _, _ = backfilled
    schema = pq.read_schema(history.period_dir(history_dir, LAST) / "aging.parquet")
    assert str(schema.field("amount").type) == "string"
    assert schema.field("amount").metadata[b"collections_mi.type"] == b"decimal"
    assert str(schema.field("as_of").type) == "date32[day]"
    raw = pq.read_table(history.period_dir(history_dir, LAST) / "kpis.parquet").to_pydict()
    specific = raw["value"][raw["kpi"].index("specific_reserve")]
    assert len(specific.replace(".", "")) > 38  # more digits than decimal128 could hold, kept exactly
    assert history.load_kpis(history_dir, [LAST])["specific_reserve"].iloc[0] == Decimal(specific)
    assert isinstance(history.load_table(history_dir, "aging_trend", [LAST])["month_end"].iloc[0], dt.date)
    assert isinstance(history.load_table(history_dir, "aging", [LAST]), pd.DataFrame)


def test_month_range_and_params() -> None:
    assert periods.month_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert periods.month_end_of("2024-02") == dt.date(2024, 2, 29)
    assert periods.shift_period("2026-10", -12) == "2025-10"
    with pytest.raises(history.HistoryError):
        periods.month_range("2026-02", "2026-01")
    assert json.loads(json.dumps(periods.month_range("2026-12", "2027-01"))) == ["2026-12", "2027-01"]


_ANY_DECIMAL = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.integers(-(10**40), 10**40).map(lambda n: Decimal(n).scaleb(-2)),
    st.builds(Decimal, st.sampled_from(["-0.00", "-0", "0E+3", "1E+2", "1E-7", "100", "sNaN", "-Infinity"])),
    st.none(),
)


@given(st.lists(_ANY_DECIMAL, min_size=1, max_size=40))
def test_money_is_stored_as_each_decimals_exact_text(values: list[Decimal | None]) -> None:
    """The history's money column spells each amount as decimal_text does (a money column, whatever the exponent,
    sign of zero, NaN, Infinity or missing values beside it): plain notation that reads back as the same value,
    without the fraction's trailing zeros."""
    stored = history.columns_to_arrow(pd.DataFrame({"amount": pd.Series(values, dtype="object")}))
    expected = [None if v is None else decimal_text(v) for v in values]
    if all(v is None for v in values):  # an all-missing column has no kind but text
        assert stored.column("amount").to_pylist() == expected
        return
    assert stored.schema.field("amount").metadata == {history.TYPE_KEY: b"decimal"}
    assert stored.column("amount").to_pylist() == expected
    for value, text in zip(values, expected):
        if value is not None and value.is_finite():  # checked without decimal_text: plain, exact, trimmed
            assert "E" not in text and Decimal(text) == value and not ("." in text and text.endswith(("0", ".")))
