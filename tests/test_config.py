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


# ------------------------------------------------------------------------------ a system's own export (§1.1)

ERP = {"kind": "files", "location": "exports/2026-10",
       "csv": {"delimiter": ";", "decimal": ",", "thousands": ".", "date_format": "%d.%m.%Y", "encoding": "cp1252"},
       "tables": {"invoices": {"file": "Sales Invoice.csv", "columns": {"amount": "Grand Total", "disputed": "On Hold"},
                               "values": {"disputed": {"Yes": True, "No": False}}},
                  "fx_rates": {"csv": {"delimiter": ",", "encoding": "utf-8"}}}}


def test_csv_defaults_are_those_of_the_contract() -> None:
    from collections_mi.config import CsvDialect

    source = parse_params(dict(BASE)).source
    dialect = source.csv_for("invoices")
    assert dialect == CsvDialect(delimiter=",", decimal=".", thousands="", date_format="%Y-%m-%d", encoding="utf-8")
    assert dialect.is_default and dialect.utf8 and dialect.iso_dates and dialect.plain_numbers
    assert source.columns_for("invoices") == {} and source.values_for("invoices") == {}
    assert source.table_config("invoices") is None


def test_a_table_overrides_source_csv_key_by_key() -> None:
    source = parse_params({**BASE, "source": ERP}).source
    invoices, fx, customers = source.csv_for("invoices"), source.csv_for("fx_rates"), source.csv_for("customers")
    assert (invoices.delimiter, invoices.decimal, invoices.thousands, invoices.encoding) == (";", ",", ".", "cp1252")
    assert customers == invoices
    # fx_rates: its own delimiter and encoding; decimal, thousands and date_format inherited from source.csv
    assert (fx.delimiter, fx.encoding, fx.decimal, fx.thousands, fx.date_format) == (",", "utf-8", ",", ".", "%d.%m.%Y")
    assert source.columns_for("invoices") == {"amount": "Grand Total", "disputed": "On Hold"}
    assert source.values_for("invoices") == {"disputed": {"Yes": True, "No": False}}
    assert source.table_config("invoices").file == "Sales Invoice.csv"
    assert invoices.number("1234567.5") == "1.234.567,5" and invoices.date_layout() == "DD.MM.YYYY"


def test_the_mapping_survives_run_json_and_backfill_round_trips() -> None:
    """params_to_jsonable keeps what was written (no table's null, no inherited CSV key made explicit), so a
    backfill month re-parsed from it reads the same files the same way."""
    from collections_mi.config import params_to_jsonable

    params = parse_params({**BASE, "source": ERP})
    dumped = params_to_jsonable(params)["source"]
    assert set(dumped["tables"]) == {"invoices", "fx_rates"}
    assert dumped["tables"]["fx_rates"] == {"csv": {"delimiter": ",", "encoding": "utf-8"}}
    again = parse_params({**BASE, "source": dumped}).source
    assert again == params.source and again.csv_for("fx_rates") == params.source.csv_for("fx_rates")


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ({"tables": {"invoice": {}}}, "source.tables.invoice: unknown key (not a table of the data contract: customers"),
        ({"tables": {"invoices": {"columns": {"total": "Grand Total"}}}},
         "source.tables.invoices.columns.total: unknown key (not a column of invoices in the data contract: invoice_id"),
        ({"tables": {"invoices": {"values": {"amount": {"x": "y"}}}}},
         "source.tables.invoices.values.amount: unknown key (values maps the text and yes/no columns of invoices"),
        ({"tables": {"invoices": {"filename": "x.csv"}}}, "source.tables.invoices.filename: unknown key"),
        ({"csv": {"separator": ";"}}, "source.csv.separator: unknown key"),
        ({"tables": {"invoices": {"csv": {"decimals": ","}}}}, "source.tables.invoices.csv.decimals: unknown key"),
        ({"tables": {"invoices": {"values": {"disputed": {True: True}}}}},
         "source.tables.invoices.values.disputed: Value error, the source value True must be quoted text"),
        ({"tables": {"invoices": {"values": {"disputed": {"Yes": "maybe"}}}}},
         "source.tables.invoices.values.disputed.Yes: Input should be a valid boolean"),
        ({"tables": {"invoices": {"file": "../Sales Invoice.csv"}}}, "must be a file inside source.location"),
        ({"tables": {"invoices": {"file": "/etc/passwd"}}}, "must be a file inside source.location"),
        ({"tables": {"invoices": {"table": "SALES_INV"}}}, "source.tables.invoices.table: with source.kind files"),
        ({"csv": {"delimiter": ";;"}}, "source.csv.delimiter"),
        ({"csv": {"decimal": ";"}}, "source.csv.decimal"),
        ({"csv": {"thousands": "x"}}, "source.csv.thousands"),
        ({"csv": {"decimal": ",", "thousands": ","}}, "the thousands separator and the decimal mark are both ','"),
        ({"csv": {"date_format": "%d.%m"}}, "source.csv.date_format: Value error, '%d.%m' does not give back a whole date"),
        ({"csv": {"date_format": "%d.%m.%Y %Q"}}, "source.csv.date_format: Value error, '%d.%m.%Y %Q' uses %Q"),
        ({"csv": {"encoding": "cp9999"}}, "source.csv.encoding: Value error, 'cp9999' is not a text encoding"),
    ],
)
def test_a_bad_mapping_names_the_key(source: dict, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_params({**BASE, "source": {"kind": "files", "location": "exports", **source}})
    assert named in str(caught.value)


def test_file_and_csv_belong_to_files_and_table_to_databases() -> None:
    with pytest.raises(ConfigError, match=r"source.tables.invoices.file: a file is named only with source.kind files"):
        parse_params({**BASE, "source": {"kind": "duckdb", "location": "x.duckdb",
                                         "tables": {"invoices": {"file": "a.csv"}}}})
    with pytest.raises(ConfigError, match=r"source.csv: CSV files are read only with source.kind files"):
        parse_params({**BASE, "source": {"kind": "ibis", "location": "postgres://db/x", "csv": {"delimiter": ";"}}})
    params = parse_params({**BASE, "source": {"kind": "duckdb", "location": "x.duckdb",
                                              "tables": {"invoices": {"table": "SALES_INV",
                                                                      "columns": {"amount": "TOTAL"}}}}})
    assert params.source.table_config("invoices").table == "SALES_INV"
