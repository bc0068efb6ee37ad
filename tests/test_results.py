"""Results round-trip exactly: what the pack computes is what the notebooks and kpis.json show."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pandas as pd

from collections_mi.metrics.result import SectionResult
from collections_mi.pack.results import kpis_json, read_results, write_results


def test_tables_and_kpis_round_trip_exactly(tmp_path: Path) -> None:
    exact = Decimal("80627009.491100580012345")
    table = pd.DataFrame({
        "bucket": ["current", "120+"],
        "items": [3, 0],
        "amount": [exact, Decimal("0E-4")],
        "share_pct": [Decimal("100"), None],
        "month_end": [dt.date(2026, 10, 31), dt.date(2026, 9, 30)],
        "disputed": [True, False],
    })
    result = SectionResult("aging", kpis={"ar_total": exact, "open_items": 3, "dso": None},
                           tables={"aging": table}, conventions={"aging.basis": "days past due"})
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
    assert json.loads(text, parse_float=Decimal) == {"ar_total": Decimal("1234.56"), "open_items": 7,
                                                     "dso": Decimal("45.123456789012345678901")}


def test_statistics_stay_floats(tmp_path: Path) -> None:
    table = pd.DataFrame({"p_value": [0.0137, None], "verdict": ["significant", None]})
    result = SectionResult("agency", tables={"agency_champion_challenger": table})
    write_results({"agency": result}, {}, tmp_path)
    back = read_results(tmp_path)["agency"].tables["agency_champion_challenger"]
    assert back["p_value"].iloc[0] == 0.0137 and isinstance(back["p_value"].iloc[0], float)


def test_read_results_can_read_only_some_sections(tmp_path: Path) -> None:
    """A notebook reads only its own section's tables (a large book's per-customer tables stay out of the other
    kernels); what it reads equals the full read."""
    result = SectionResult(section="aging", kpis={"ar_total": Decimal("10.50")},
                           tables={"aging": pd.DataFrame({"bucket": ["current"], "amount": [Decimal("10.50")]})},
                           conventions={})
    other = SectionResult(section="dso", kpis={"dso": Decimal("45")},
                          tables={"dso_trend": pd.DataFrame({"dso": [Decimal("45")]})}, conventions={})
    write_results({"aging": result, "dso": other}, {"ar_total": Decimal("10.50"), "dso": Decimal("45")}, tmp_path)
    only = read_results(tmp_path, only=["aging"])
    assert list(only) == ["aging"]
    assert only["aging"].kpis == read_results(tmp_path)["aging"].kpis == {"ar_total": Decimal("10.50")}
    assert only["aging"].tables["aging"].equals(read_results(tmp_path)["aging"].tables["aging"])
