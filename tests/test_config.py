"""Params: strict parsing, defaults from metrics.md, errors that name the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from collections_mi.config import bucket_labels, load_params, parse_params
from collections_mi.errors import ConfigError

BASE = {"as_of": "2026-10-31", "source": {"kind": "files", "location": "data/demo"}}


def test_defaults_are_those_of_metrics_md() -> None:
    params = parse_params(dict(BASE))
    assert params.period == "2026-10"
    assert params.reporting_currency == "USD"
    assert params.aging.basis == "due_date" and params.aging.buckets == [30, 60, 90, 120]
    assert params.aging.labels == ["current", "1-30", "31-60", "61-90", "91-120", "120+"]
    assert params.dso.window_months == 3 and params.dso.countback_month_days == "actual"
    assert params.cei.sales == "window_total"
    assert params.allowance.method == "aging_rates" and params.allowance.lookback_months == 12
    assert params.allowance_rates == {"current": Decimal("0.005"), "1-30": Decimal("0.02"), "31-60": Decimal("0.08"),
                                      "61-90": Decimal("0.2"), "91-120": Decimal("0.5"), "120+": Decimal("1.0")}
    assert params.watchlist.general_rates["substandard"] == Decimal("0.15")


def test_bucket_labels_follow_the_bounds() -> None:
    assert bucket_labels("due_date", [30, 60]) == ["current", "1-30", "31-60", "60+"]
    assert bucket_labels("invoice_date", [30, 60, 90, 120]) == ["0-30", "31-60", "61-90", "91-120", "120+"]


def test_committed_params_file_loads_with_exact_rates() -> None:
    params = load_params(Path(__file__).resolve().parents[1] / "params" / "2026-10.yaml")
    assert str(params.as_of) == "2026-10-31"
    assert params.allowance_rates["current"] == Decimal("0.005")  # exact, not 0.005000000000000000104


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"agingg": {}}, "agingg: unknown key"),
        ({"aging": {"basis": "due_date", "bucket": [30]}}, "aging.bucket: unknown key"),
        ({"as_of": "2026-02-30"}, "as_of"),
        ({"as_of": "last month"}, "as_of"),
        ({"aging": {"buckets": [60, 30]}}, "aging.buckets"),
        ({"aging": {"buckets": "30,60"}}, "aging.buckets"),
        ({"dso": {"window_months": "three"}}, "dso.window_months"),
        ({"dso": {"countback_month_days": 31}}, "dso.countback_month_days"),
        ({"allowance": {"rates": {"current": 1.5, "1-30": 0.02, "31-60": 0.08, "61-90": 0.2, "91-120": 0.5,
                                  "120+": 1}}}, "allowance.rates.current"),
        ({"allowance": {"rates": {"current": 0.01}}}, "allowance.rates"),
        ({"watchlist": {"general_rates": {"pass": -0.1, "special_mention": 0.05, "substandard": 0.15,
                                          "doubtful": 0.5, "loss": 1}}}, "watchlist.general_rates.pass"),
        ({"reporting_currency": "usd"}, "reporting_currency"),
        ({"source": {"kind": "ftp", "location": "x"}}, "source.kind"),
    ],
)
def test_invalid_params_name_the_key(change: dict, named: str) -> None:
    data = dict(BASE)
    data.update(change)
    with pytest.raises(ConfigError) as caught:
        parse_params(data)
    assert named in str(caught.value)


def test_non_default_buckets_need_their_own_allowance_rates() -> None:
    with pytest.raises(ConfigError, match="allowance.rates"):
        parse_params({**BASE, "aging": {"buckets": [30, 60]}})
    params = parse_params({**BASE, "aging": {"buckets": [30, 60]},
                           "allowance": {"rates": {"current": 0.01, "1-30": 0.05, "31-60": 0.2, "60+": 0.6}}})
    assert params.allowance_rates["60+"] == Decimal("0.6")


def test_file_named_for_another_period_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "2026-09.yaml"
    path.write_text("as_of: 2026-10-31\nsource: {location: x}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="named for 2026-09"):
        load_params(path)


def test_yaml_errors_and_missing_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("as_of: [2026\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)


def test_relative_locations_cannot_escape_and_urls_are_redacted(tmp_path: Path, monkeypatch) -> None:
    from collections_mi.config import params_to_jsonable, resolve_location

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert resolve_location("data", None) == (tmp_path / "data").resolve()
    with pytest.raises(ConfigError, match="leaves"):
        resolve_location("../../etc", None)
    assert resolve_location(str(tmp_path / "data"), None) == tmp_path / "data"  # explicit absolute paths are fine
    params = parse_params({**BASE, "source": {"kind": "ibis", "location": "postgres://mi:s3cret@db:5432/ledger"}})
    assert params_to_jsonable(params)["source"]["location"] == "postgres://mi:***@db:5432/ledger"
    assert "s3cret" not in str(params_to_jsonable(params))
