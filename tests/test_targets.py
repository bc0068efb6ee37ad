"""report.targets: strict params, the RAG rule (boundaries, both directions, monotonic), the tiles, the email lines,
sparklines, top movers against an independent computation, and "What changed" figures equal to the tables'."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collections_mi.config.params import load_params, params_to_jsonable, parse_params
from collections_mi.config.targets import TARGET_KPIS, KpiTarget, targets_of
from collections_mi.core.errors import ConfigError
from collections_mi.metrics.book import open_book
from collections_mi.metrics.movers import movers
from collections_mi.metrics.published import PUBLISHED
from collections_mi.metrics.sections import available_sections, compute_sections
from collections_mi.presentation import headlines, what_changed
from collections_mi.presentation.format import decimal_places, kpi_tiles, money_short
from collections_mi.presentation.sparkline import points, sparkline_svg
from collections_mi.presentation.targets import Status, status
from collections_mi.sources.ledger import open_ledger

from conftest import TINY, write_params
from oracle import Ledger, aging

BASE = {"as_of": "2026-10-31", "source": {"kind": "files", "location": "data/demo"}}


def _targets(targets: dict) -> dict[str, KpiTarget]:
    return targets_of(parse_params({**BASE, "report": {"targets": targets}}).report.targets)


def _refused(targets: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_params({**BASE, "report": {"targets": targets}})
    return str(caught.value)


# ------------------------------------------------------------------------------------------ params


def test_target_kpis_are_the_published_kpi_ids() -> None:
    assert tuple(kpi for outputs in PUBLISHED.values() for kpi in outputs.kpis.ids()) == TARGET_KPIS


def test_every_published_kpi_has_a_label_and_a_unit() -> None:
    from collections_mi.presentation.labels import KPI_LABELS, KPI_UNITS
    from collections_mi.presentation.targets import kpi_text

    assert set(KPI_LABELS) - {"past_due_share"} == set(TARGET_KPIS) == set(KPI_UNITS) - {"past_due_share"}
    shown = {kpi: kpi_text(kpi, Decimal("1234.56"), "USD") for kpi in TARGET_KPIS}
    assert shown["dso"] == "1,234.6 days" and shown["dbt_weighted"] == "1,234.6 days"
    assert shown["on_time_pct"] == "1,234.56%" and shown["top10_share_pct"] == "1,234.56%"
    assert shown["hhi"] == "1,235" and shown["ar_total"] == "USD 1.2k" and shown["open_items"] == "1,234.56"
    assert kpi_text("dbt_weighted", Decimal("-3.25"), "USD") == "−3.3 days"  # paid early: a minus sign


def test_targets_parse_both_directions() -> None:
    targets = _targets(
        {"dso": {"target": 45, "amber": 50, "red": 55}, "cei_pct": {"target": 85, "amber": 80, "red": 75}}
    )
    assert list(targets) == ["dso", "cei_pct"]
    assert targets["dso"].lower_is_better and not targets["cei_pct"].lower_is_better
    assert targets["cei_pct"].amber == Decimal("80")
    # amber may equal either end
    assert _targets({"dso": {"target": 45, "amber": 45, "red": 55}})["dso"].amber == 45


def test_unknown_kpi_id_is_refused_by_name() -> None:
    message = _refused({"dsoo": {"target": 45, "amber": 50, "red": 55}})
    assert "report.targets.dsoo: unknown key" in message and "dso, dso_countback" in message


@pytest.mark.parametrize(
    ("given", "key", "words"),
    [
        ({"target": 45, "amber": 50}, "report.targets.dso.red", "required key is missing"),
        ({"target": "abc", "amber": 50, "red": 55}, "report.targets.dso.target", "valid decimal"),
        ({"target": True, "amber": 50, "red": 55}, "report.targets.dso.target", "not yes/no"),
        ({"target": 45, "amber": 56, "red": 55}, "report.targets.dso", "not in order"),
        ({"target": 45, "amber": 40, "red": 55}, "report.targets.dso", "amber lies between target and red"),
        ({"target": 45, "amber": 45, "red": 45}, "report.targets.dso", "red must differ from target"),
        ({"target": 45, "amber": 50, "red": 55, "green": 1}, "report.targets.dso.green", "unknown key"),
    ],
)
def test_bad_targets_name_the_key_and_the_fix(given: dict, key: str, words: str) -> None:
    message = _refused({"dso": given})
    assert f"{key}:" in message and words in message


def test_bad_target_in_a_params_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from collections_mi.cli import main

    params = write_params(tmp_path, TINY, report={"targets": {"dso": {"target": 45, "amber": 60, "red": 55}}})
    assert main(["validate", "--params", str(params)]) == 2
    assert "report.targets.dso: " in capsys.readouterr().err


def test_targets_round_trip_through_the_frozen_params(tmp_path: Path) -> None:
    from collections_mi.config.params import write_frozen_params

    params = load_params(
        write_params(tmp_path, TINY, report={"targets": {"cei_pct": {"target": 85.5, "amber": 80, "red": 75}}})
    )
    assert params_to_jsonable(params)["report"]["targets"] == {
        "cei_pct": {"target": "85.5", "amber": "80", "red": "75"}
    }
    (tmp_path / "frozen").mkdir()
    again = load_params(write_frozen_params(params, tmp_path / "2026-10.yaml", tmp_path / "frozen"))
    assert targets_of(again.report.targets) == targets_of(params.report.targets)


# ------------------------------------------------------------------------------------------ the rule

LOWER = KpiTarget(target=Decimal(45), amber=Decimal(50), red=Decimal(55))
HIGHER = KpiTarget(target=Decimal(85), amber=Decimal(80), red=Decimal(75))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", Status.ON_TARGET),
        ("44.99", Status.ON_TARGET),
        ("45", Status.ON_TARGET),  # at the target: on target
        ("45.0001", Status.WATCH),
        ("49.99", Status.WATCH),
        ("50", Status.AT_RISK),  # at amber: at risk
        ("54.99", Status.AT_RISK),
        ("55", Status.OFF_TARGET),  # at red: off target
        ("900", Status.OFF_TARGET),
    ],
)
def test_lower_is_better_boundaries(value: str, expected: Status) -> None:
    assert status(Decimal(value), LOWER) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("100", Status.ON_TARGET),
        ("85", Status.ON_TARGET),
        ("84.99", Status.WATCH),
        ("80.01", Status.WATCH),
        ("80", Status.AT_RISK),
        ("75.01", Status.AT_RISK),
        ("75", Status.OFF_TARGET),
        ("-3", Status.OFF_TARGET),
    ],
)
def test_higher_is_better_boundaries(value: str, expected: Status) -> None:
    assert status(Decimal(value), HIGHER) is expected


def test_status_colours_words_and_no_value() -> None:
    assert [(s.rag, s.text) for s in Status] == [
        ("green", "● On target"),
        ("amber", "△ Watch"),
        ("amber", "▲ At risk"),
        ("red", "■ Off target"),
    ]
    assert status(None, LOWER) is None
    assert status(3, KpiTarget(target=Decimal(2), amber=Decimal(2), red=Decimal(4))) is Status.AT_RISK  # no watch band
    assert status(4, KpiTarget(target=Decimal(2), amber=Decimal(4), red=Decimal(4))) is Status.OFF_TARGET


numbers = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def thresholds(draw: st.DrawFn) -> KpiTarget:
    low, middle, high = sorted(draw(st.lists(numbers, min_size=3, max_size=3)))
    if low == high:
        high = low + 1
        middle = low
    lower = draw(st.booleans())
    return KpiTarget(target=low, amber=middle, red=high) if lower else KpiTarget(target=high, amber=middle, red=low)


@given(thresholds(), numbers, numbers)
def test_status_is_monotonic_in_the_value(target: KpiTarget, a: Decimal, b: Decimal) -> None:
    better, worse = (min(a, b), max(a, b)) if target.lower_is_better else (max(a, b), min(a, b))
    assert status(better, target).severity <= status(worse, target).severity


@given(thresholds(), numbers)
def test_status_mirrors_with_the_direction(target: KpiTarget, value: Decimal) -> None:
    mirrored = KpiTarget(target=-target.target, amber=-target.amber, red=-target.red)
    assert status(value, target) is status(-value, mirrored)
    # the thresholds themselves: target is on target, red is off target
    assert status(target.target, target) is Status.ON_TARGET and status(target.red, target) is Status.OFF_TARGET


# ------------------------------------------------------------------------------------------ sparkline


def test_sparkline_points_and_svg() -> None:
    assert points([1.0, 3.0, 2.0], 100, 20, pad=0) == [(0.0, 20.0), (50.0, 0.0), (100.0, 10.0)]
    assert points([5.0, None, 5.0], 100, 20, pad=0) == [(0.0, 10.0), (100.0, 10.0)]
    svg = sparkline_svg([1.0, 2.0], "DSO <b>")
    assert (
        svg.startswith("<svg")
        and "DSO &lt;b&gt;" in svg
        and "<script" not in svg
        and "http" not in svg.replace("http://www.w3.org/2000/svg", "")
    )
    assert sparkline_svg([1.0], "one point") == ""


# ------------------------------------------------------------------------------------------ the tiny ledger


@pytest.fixture(scope="module")
def tiny_results():
    params_path = Path(__file__).resolve().parent / "fixtures" / "tiny_params.yaml"
    base = load_params(params_path)
    params = base.model_copy(
        update={
            "report": parse_params(
                {
                    **BASE,
                    "report": {
                        "targets": {
                            "dso": {"target": 45, "amber": 50, "red": 55},
                            "cei_pct": {"target": 10, "amber": 5, "red": 1},
                            "past_due_total": {"target": 1000, "amber": 1500, "red": 1800},
                            "days_to_pay_simple": {"target": 10, "amber": 20, "red": 30},
                        }
                    },
                }
            ).report
        }
    )
    ledger = open_ledger(params, params_path)
    with open_book(ledger, params) as book:
        results = compute_sections(book, params, available_sections(ledger.typed, shape=book.shape))
    return params, results


def test_tiles_carry_status_target_and_trend_on_the_tiny_ledger(tiny_results) -> None:
    params, results = tiny_results
    tiles = {tile["label"]: tile for tile in headlines.index_tiles(results, "USD", params.report)}
    dso = results["dso"].kpis.dso
    assert dso is not None and dso > 55  # the tiny ledger's DSO is far above 55 days
    assert (tiles["DSO"]["rag"], tiles["DSO"]["status"], tiles["DSO"]["target"]) == (
        "red",
        "■ Off target",
        "target 45.0 days",
    )
    past_due = results["aging"].kpis.past_due_total
    expected = status(past_due, targets_of(params.report.targets)["past_due_total"])
    assert tiles["Past due"]["status"] == expected.text and tiles["Past due"]["target"] == "target USD 1.0k"
    # a KPI with a target that heads nothing gets a tile of its own, after its section's headlines
    assert "Days to pay (simple)" in tiles and tiles["Days to pay (simple)"]["target"] == "target 10.0 days"
    # no target, no status; the DSO trend's last 13 month-ends as the sparkline, the latest value last
    assert "status" not in tiles["Open items"]
    trend = tiles["DSO"]["trend"]
    assert len(trend) == params.report.trend_months and trend[-1] == pytest.approx(float(dso))
    html = kpi_tiles(list(tiles.values()))
    assert "■ Off target · target 45.0 days" in html and html.count("<svg") == sum(
        1 for t in tiles.values() if len([v for v in t.get("trend") or [] if v is not None]) >= 2
    )  # a sparkline needs two known points
    # without report, the tiles are as before: no status
    assert not any(t.get("status") for t in headlines.index_tiles(results, "USD"))


def test_email_lines_and_bodies_show_the_status(tiny_results) -> None:
    from collections_mi.delivery.email import html_body, kpi_lines, text_body

    params, results = tiny_results
    lines = {line.label: line for line in kpi_lines(results, "USD", params.report)}
    assert lines["DSO"].standing == "■ Off target · target 45.0 days" and lines["DSO"].rag == "red"
    text = text_body(params, list(lines.values()), [], "passed", changes=["a change"])
    assert "[■ Off target · target 45.0 days]" in text and "- a change" in text and "○" not in text
    body = html_body(params, list(lines.values()), [], {}, {}, "passed", changes=["a change"])
    assert "■ Off target" in body and "#b71c1c" in body and "What changed" in body


def test_top_movers_on_the_tiny_ledger_match_the_oracle(tiny_results) -> None:
    params, results = tiny_results
    table = results["dso"].tables.top_movers
    ledger = Ledger(TINY)
    before, now = dt.date(2026, 9, 30), dt.date(2026, 10, 31)
    by_customer: dict[str, list[Decimal]] = {}
    for day_, index in ((before, 0), (now, 1)):
        for item in ledger.open_items(day_):
            if item["days_past_due"] > 0:
                by_customer.setdefault(item["customer_id"], [Decimal(0), Decimal(0)])[index] += item["reporting"]
    moved = {c: v[1] - v[0] for c, v in by_customer.items() if v[1] != v[0]}
    customers = table[table["level"] == "customer"]
    assert dict(zip(customers["key"], customers["past_due_change"])) == pytest.approx(moved)
    assert set(table["level"]) == {"segment", "customer"}
    # the oracle's aging of the whole ledger: the customers' past due adds up to it
    assert aging(ledger, now)["past_due_total"] == results["aging"].kpis.past_due_total


def test_movers_rank_by_size_either_way_and_keep_dso() -> None:
    import pandas as pd

    now = pd.DataFrame(
        {
            "k": ["a", "b", "c", "d"],
            "past_due_ar": [Decimal(10), Decimal(0), Decimal(5), Decimal(7)],
            "dso": [Decimal(30), None, Decimal(20), Decimal(9)],
        }
    )
    before = pd.DataFrame(
        {
            "k": ["a", "b", "d", "e"],
            "past_due_ar": [Decimal(4), Decimal(9), Decimal(7), Decimal(1)],
            "dso": [Decimal(25), Decimal(40), Decimal(9), Decimal(2)],
        }
    )
    table = movers("customer", now, before, "k", {"a": "Alpha"}, count=3)
    assert list(table["key"]) == ["b", "a", "c"]  # |−9| > |+6| > |+5|; d did not move; e (−1) is cut at 3
    assert list(table["name"]) == ["b", "Alpha", "c"]
    assert (
        table.iloc[1]["dso_change"] == Decimal(5)
        and table.iloc[0]["dso"] is None
        and table.iloc[2]["dso_before"] is None
    )


def test_what_changed_figures_are_the_tables_values(tiny_results) -> None:
    params, results = tiny_results
    sentences = what_changed.what_changed(results, "USD")
    bridge = results["dso"].tables.bridge
    first, last = decimal_places(bridge["days"].iloc[0], 1), decimal_places(bridge["days"].iloc[-1], 1)
    assert sentences[0].startswith(f"DSO moved from {first} to {last} days")
    movers_table = results["dso"].tables.top_movers
    segment = movers_table[movers_table["level"] == "segment"].iloc[0]
    assert (
        f"+{money_short(segment['past_due_change'], 'USD')} to {money_short(segment['past_due'], 'USD')}"
        in sentences[1]
    )
    rollforward = results["allowance"].tables.rollforward
    last = sentences[-1]
    opening, closing = (money_short(rollforward["amount"].iloc[i], "USD") for i in (0, -1))
    assert last.startswith(f"The allowance moved from {opening} to {closing}")
    for amount in rollforward["amount"].iloc[1:-1]:
        assert money_short(abs(amount), "USD") in last
    # the index's movers table escapes customer names (the tiny ledger has one that is a script tag)
    page = what_changed.movers_html(results, "USD")
    assert "<script>" not in page


# ------------------------------------------------------------------------------------------ through the pack


def _past_due_by(ledger: Ledger, day_: dt.date, group_of: dict[str, str]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for item in ledger.open_items(day_):
        if item["days_past_due"] > 0:
            key = group_of.get(item["customer_id"], item["customer_id"])
            totals[key] = totals.get(key, Decimal(0)) + item["reporting"]
    return totals


def _expected_movers(ledger: Ledger, group_of: dict[str, str], count: int = 5) -> list[tuple[str, Decimal]]:
    before = _past_due_by(ledger, dt.date(2026, 9, 30), group_of)
    now = _past_due_by(ledger, dt.date(2026, 10, 31), group_of)
    changes = {k: now.get(k, Decimal(0)) - before.get(k, Decimal(0)) for k in set(before) | set(now)}
    ranked = sorted((k for k, v in changes.items() if v != 0), key=lambda k: (-abs(changes[k]), k))
    return [(k, changes[k]) for k in ranked[:count]]


def test_top_movers_of_the_demo_pack_match_an_independent_computation(published, demo_ledger: Path) -> None:
    """tables/top_movers.csv of the published demo pack: the segments and customers whose past due moved most,
    recomputed naively (oracle.py: invoice by invoice, each at its own closing rate), and their DSO at both dates."""
    from oracle import dso_family

    _, out, _ = published
    table = pd.read_csv(out / "2026-10" / "tables" / "top_movers.csv", dtype=str)
    ledger = Ledger(demo_ledger)
    segment_of = {row.customer_id: row.segment or "(none)" for row in ledger.customers}
    for level, group_of in (("segment", segment_of), ("customer", {})):
        rows = table[table["level"] == level]
        expected = _expected_movers(ledger, group_of)
        assert list(rows["key"]) == [k for k, _ in expected], level
        for got, (_, change) in zip(rows["past_due_change"], expected):
            assert Decimal(got) == pytest.approx(change, abs=Decimal("0.0001"))
    # DSO then and now of the customer that moved most, from its own invoices only
    top = table[table["level"] == "customer"].iloc[0]
    own = Ledger(demo_ledger)
    own.invoices = [row for row in own.invoices if row.customer_id == top["key"]]
    for column, day_ in (("dso_before", dt.date(2026, 9, 30)), ("dso", dt.date(2026, 10, 31))):
        expected_dso = dso_family(own, day_)["dso"]
        if expected_dso is None:
            assert pd.isna(top[column])
        else:
            assert Decimal(top[column]) == pytest.approx(expected_dso, rel=Decimal("1e-9"))
    # the index page names the same figures
    index = (out / "2026-10" / "index.html").read_text(encoding="utf-8")
    assert "What changed since the previous month-end" in index
    first_segment = table[table["level"] == "segment"].iloc[0]
    assert money_short(abs(Decimal(first_segment["past_due_change"])), "USD") in index


def test_a_pack_on_the_tiny_ledger_shows_targets_in_index_and_email(tmp_path: Path) -> None:
    import email
    from email.policy import default

    from conftest import NO_BROWSER, cli

    targets = {"dso": {"target": 45, "amber": 50, "red": 55}, "open_items": {"target": 10, "amber": 20, "red": 30}}
    params = write_params(tmp_path, TINY, report={"targets": targets})
    # what this test reads is the index and the email's text, not pack.pdf or the email's charts
    run = cli("pack", "--params", str(params), "--out", str(tmp_path / "reports"), env=NO_BROWSER)
    assert run.returncode == 0, run.stderr
    folder = tmp_path / "reports" / "2026-10"
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert "■ Off target · target 45.0 days" in index and "● On target · target 10" in index
    assert "mi-tile-red" in index and "<svg" in index and "plotly" not in index.lower()
    assert "Targets (report.targets)" in index
    message = email.message_from_bytes((folder / "email.eml").read_bytes(), policy=default)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "[■ Off target · target 45.0 days]" in text and "■ Off target" in html
    assert "What changed since the previous month-end" in text


def test_what_changed_reads_results_published_before_top_movers(tiny_results) -> None:
    """Results read back from a pack published before tables/top_movers.csv existed hold it as Unavailable: the
    sentences leave the movers out rather than fail (collections-mi send on an older pack)."""
    import dataclasses

    from collections_mi.metrics.result import Unavailable

    _, results = tiny_results
    older = dict(results)
    older["dso"] = dataclasses.replace(
        results["dso"], tables=dataclasses.replace(results["dso"].tables, top_movers=Unavailable("not computed"))
    )
    sentences = what_changed.what_changed(older, "USD")
    assert sentences[0].startswith("DSO moved from") and not any("segment" in s for s in sentences)
    assert what_changed.movers_html(older, "USD") == ""
