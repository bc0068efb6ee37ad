"""Params: strict parsing, defaults from metrics.md, errors that name the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from collections_mi.config.params import bucket_labels, load_params, parse_params
from collections_mi.core.errors import ConfigError

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
    assert params.allowance_rates == {
        "current": Decimal("0.005"),
        "1-30": Decimal("0.02"),
        "31-60": Decimal("0.08"),
        "61-90": Decimal("0.2"),
        "91-120": Decimal("0.5"),
        "120+": Decimal("1.0"),
    }
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
        (
            {
                "allowance": {
                    "rates": {"current": 1.5, "1-30": 0.02, "31-60": 0.08, "61-90": 0.2, "91-120": 0.5, "120+": 1}
                }
            },
            "allowance.rates.current",
        ),
        ({"allowance": {"rates": {"current": 0.01}}}, "allowance.rates"),
        (
            {
                "watchlist": {
                    "general_rates": {
                        "pass": -0.1,
                        "special_mention": 0.05,
                        "substandard": 0.15,
                        "doubtful": 0.5,
                        "loss": 1,
                    }
                }
            },
            "watchlist.general_rates.pass",
        ),
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
    params = parse_params(
        {
            **BASE,
            "aging": {"buckets": [30, 60]},
            "allowance": {"rates": {"current": 0.01, "1-30": 0.05, "31-60": 0.2, "60+": 0.6}},
        }
    )
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
    from collections_mi.config.params import params_to_jsonable, resolve_location

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

ERP = {
    "kind": "files",
    "location": "exports/2026-10",
    "csv": {"delimiter": ";", "decimal": ",", "thousands": ".", "date_format": "%d.%m.%Y", "encoding": "cp1252"},
    "tables": {
        "invoices": {
            "file": "Sales Invoice.csv",
            "columns": {"amount": "Grand Total", "disputed": "On Hold"},
            "values": {"disputed": {"Yes": True, "No": False}},
        },
        "fx_rates": {"csv": {"delimiter": ",", "encoding": "utf-8"}},
    },
}


def test_csv_defaults_are_those_of_the_contract() -> None:
    from collections_mi.config.params import CsvDialect

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
    from collections_mi.config.params import params_to_jsonable

    params = parse_params({**BASE, "source": ERP})
    dumped = params_to_jsonable(params)["source"]
    assert set(dumped["tables"]) == {"invoices", "fx_rates"}
    assert dumped["tables"]["fx_rates"] == {"csv": {"delimiter": ",", "encoding": "utf-8"}}
    again = parse_params({**BASE, "source": dumped}).source
    assert again == params.source and again.csv_for("fx_rates") == params.source.csv_for("fx_rates")


@pytest.mark.parametrize(
    ("source", "named"),
    [
        (
            {"tables": {"invoice": {}}},
            "source.tables.invoice: unknown key (not a table of the data contract: customers",
        ),
        (
            {"tables": {"invoices": {"columns": {"total": "Grand Total"}}}},
            "source.tables.invoices.columns.total: unknown key "
            "(not a column of invoices in the data contract: invoice_id",
        ),
        (
            {"tables": {"invoices": {"values": {"amount": {"x": "y"}}}}},
            "source.tables.invoices.values.amount: unknown key (values maps the text and yes/no columns of invoices",
        ),
        ({"tables": {"invoices": {"filename": "x.csv"}}}, "source.tables.invoices.filename: unknown key"),
        ({"csv": {"separator": ";"}}, "source.csv.separator: unknown key"),
        ({"tables": {"invoices": {"csv": {"decimals": ","}}}}, "source.tables.invoices.csv.decimals: unknown key"),
        (
            {"tables": {"invoices": {"values": {"disputed": {True: True}}}}},
            "source.tables.invoices.values.disputed: Value error, the source value True must be quoted text",
        ),
        (
            {"tables": {"invoices": {"values": {"disputed": {"Yes": "maybe"}}}}},
            "source.tables.invoices.values.disputed.Yes: Input should be a valid boolean",
        ),
        ({"tables": {"invoices": {"file": "../Sales Invoice.csv"}}}, "must be a file inside source.location"),
        ({"tables": {"invoices": {"file": "/etc/passwd"}}}, "must be a file inside source.location"),
        ({"tables": {"invoices": {"table": "SALES_INV"}}}, "source.tables.invoices.table: with source.kind files"),
        ({"csv": {"delimiter": ";;"}}, "source.csv.delimiter"),
        ({"csv": {"decimal": ";"}}, "source.csv.decimal"),
        ({"csv": {"thousands": "x"}}, "source.csv.thousands"),
        ({"csv": {"decimal": ",", "thousands": ","}}, "the thousands separator and the decimal mark are both ','"),
        (
            {"csv": {"date_format": "%d.%m"}},
            "source.csv.date_format: Value error, '%d.%m' does not give back a whole date",
        ),
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
        parse_params(
            {**BASE, "source": {"kind": "duckdb", "location": "x.duckdb", "tables": {"invoices": {"file": "a.csv"}}}}
        )
    with pytest.raises(ConfigError, match=r"source.csv: CSV files are read only with source.kind files"):
        parse_params({**BASE, "source": {"kind": "ibis", "location": "postgres://db/x", "csv": {"delimiter": ";"}}})
    params = parse_params(
        {
            **BASE,
            "source": {
                "kind": "duckdb",
                "location": "x.duckdb",
                "tables": {"invoices": {"table": "SALES_INV", "columns": {"amount": "TOTAL"}}},
            },
        }
    )
    assert params.source.table_config("invoices").table == "SALES_INV"


# ------------------------------------------------------------------ the bounded YAML loader (issue 17, items 2 and 4)


def _write(tmp_path: Path, text: str, name: str = "2026-10.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_params(path)
    return str(caught.value)


HEAD = "as_of: 2026-10-31\nsource: {kind: files, location: data/demo}\n"


def test_a_key_written_twice_is_refused_naming_the_key_and_both_lines(tmp_path: Path) -> None:
    """The second allowance block would silently drop the rates of the first."""
    text = (
        HEAD + "allowance:\n  rates: {current: 0.01, 1-30: 0.02, 31-60: 0.08, 61-90: 0.2, 91-120: 0.5, 120+: 1}\n"
        "report: {company: Acme}\nallowance:\n  method: aging_rates\n"
    )
    assert _refusal(_write(tmp_path, text)) == (
        f"{tmp_path / '2026-10.yaml'}: the key allowance is written twice (lines 3 and 6); YAML would keep only the "
        "second and silently drop the first\n  fix: write allowance once: merge the two into one"
    )
    nested = HEAD + "dso:\n  window_months: 3\n  countback_month_days: actual\n  window_months: 6\n"
    assert "the key dso.window_months is written twice (lines 4 and 6)" in _refusal(_write(tmp_path, nested))
    # Yes and yes are the same boolean key; "1" and 1 the same source value once read as text
    mapping = (
        "as_of: 2026-10-31\nsource:\n  kind: files\n  location: data/demo\n  tables:\n    invoices:\n"
        "      values:\n        disputed:\n          Yes: true\n          {}: false\n"
    )
    assert "the key source.tables.invoices.values.disputed.yes is written twice (lines 9 and 10)" in _refusal(
        _write(tmp_path, mapping.format("yes"))
    )
    assert "the key source.tables.invoices.values.disputed.1 is written twice (lines 9 and 10)" in _refusal(
        _write(tmp_path, mapping.replace("Yes", "'1'").format("1"))
    )


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for letter in "bcdefghij":
        previous = chr(ord(letter) - 1)
        lines.append(f"{letter}: &{letter} [" + ",".join([f"*{previous}"] * 9) + "]")
    return HEAD + "\n".join(lines) + "\nreport: {company: *j}\n"


def test_an_alias_bomb_fails_at_once_in_little_memory_with_a_short_message(tmp_path: Path) -> None:
    """Nine levels of nine aliases: 387 million strings if expanded. Refused at the first anchor."""
    import time
    import tracemalloc

    path = _write(tmp_path, _billion_laughs())
    tracemalloc.start()
    started = time.process_time()
    message = _refusal(path)
    seconds = time.process_time() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert message == (
        f"{path}: line 3: YAML anchors (&a) are not allowed in params\n"
        "  fix: write each value out in full: params use no anchors (&) or aliases (*)"
    )
    assert seconds < 0.2 and peak < 2_000_000, (seconds, peak)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("report: {company: *name}\n", "line 3: YAML aliases (*name) are not allowed in params"),
        ("report: &r {company: Acme}\n", "line 3: YAML anchors (&r) are not allowed in params"),
        ("report:\n  <<: {company: Acme}\n", "line 4: YAML merge keys (<<) are not allowed in params"),
        ("report: {company: !!binary QUJD}\n", "line 3: the YAML tag !!binary is not allowed in params"),
        ("report: !!python/object:os.system {}\n", "line 3: the YAML tag !!python/object:os.system is not allowed"),
        ("report: !!set {a, b}\n", "line 3: the YAML tag !!set is not allowed in params"),
        ("report: {company: !custom Acme}\n", "line 3: the YAML tag !custom is not allowed in params"),
        ("? [a, b]\n: 1\n", "line 3: a key of (top level) is a list or a mapping"),
        ("report: " + "[" * 1000 + "]" * 1000 + "\n", "line 3: lists and mappings nest more than 20 levels deep"),
        ("padding: [" + "1, " * 10_000 + "1]\n", "line 3: the file holds more than 10,000 values; params hold a few"),
    ],
)
def test_yaml_beyond_plain_params_is_refused_by_line(tmp_path: Path, text: str, message: str) -> None:
    assert message in _refusal(_write(tmp_path, HEAD + text))


def test_a_tag_that_only_says_text_is_still_read(tmp_path: Path) -> None:
    params = load_params(_write(tmp_path, HEAD + "report: {company: !!str 2026}\n"))
    assert params.report.company == "2026"


def test_a_params_file_over_one_mebibyte_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, HEAD + "# " + "x" * 1_048_576 + "\n")
    assert _refusal(path).startswith(f"{path}: the file is 1,048,640 bytes; params files are at most 1,048,576 bytes")


# -------------------------------------------------------------------------- params text is plain text (item 4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"report": {"company": "Acme Ltd\nX"}},
            "report.company: contains a line break (character U+000A at position 9)",
        ),
        ({"report": {"company": "Acme\r"}}, "report.company: contains a line break (character U+000D at position 5)"),
        (
            {"report": {"company": "Acme\u2028Ltd"}},
            "report.company: contains a line break (character U+2028 at position 5)",
        ),
        ({"report": {"company": "Acme\tLtd"}}, "report.company: contains a tab (character U+0009 at position 5)"),
        (
            {"report": {"company": "A\x00"}},
            "report.company: contains a control character (character U+0000 at position 2)",
        ),
        (
            {"report": {"company": "\x1b[2J"}},
            "report.company: contains a control character (character U+001B at position 1)",
        ),
        (
            {"report": {"company": "A\x9b31m"}},
            "report.company: contains a control character (character U+009B at position 2)",
        ),
        (
            {"email": {"sender": "mi\x1b[31m@example.com"}},
            "email.sender: contains a control character (character U+001B at position 3)",
        ),
        (
            {"email": {"recipients": ["cfo@example.com", "ar@example.com\r\nBcc: x@evil.example"]}},
            "email.recipients.1: contains a line break (character U+000D at position 15)",
        ),
        ({"email": {"smtp": {"host": "mail\n.example.com"}}}, "email.smtp.host: contains a line break"),
        (
            {"source": {"kind": "files", "location": "data/\x00demo"}},
            "source.location: contains a control character (character U+0000 at position 6)",
        ),
        (
            {
                "source": {
                    "kind": "files",
                    "location": "x",
                    "tables": {"invoices": {"columns": {"amount": "Grand\u202eTotal"}}},
                }
            },
            "source.tables.invoices.columns.amount: contains a bidirectional-text control "
            "(character U+202E at position 6)",
        ),
        (
            {"source": {"kind": "files", "location": "x", "tables": {"invoices": {"file": "inv\u2066oices.csv"}}}},
            "source.tables.invoices.file: contains a bidirectional-text control (character U+2066 at position 4)",
        ),
        ({"report": {"comp\nany": "Acme"}}, "report: the key 'comp\\\\nany' contains a line break (character U+000A"),
        ({"report": {"company": "A" * 201}}, "report.company: String should have at most 200 characters (got 'AAAA"),
        (
            {"report": {"company": "A" * 2_000_000}},
            "report.company: is 2,000,000 characters long; text in params is at most 4,096 characters",
        ),
        (
            {"source": {"kind": "files", "location": "/data/" + "x" * 4091}},
            "source.location: is 4,097 characters long; text in params is at most 4,096 characters",
        ),
        (
            {"email": {"sender": "x" * 65 + "@example.com"}},
            "email.sender: Value error, the local part (before @) is 65 characters long; at most 64 (RFC 5321)",
        ),
        (
            {"email": {"sender": "ar@" + "d" * 252}},
            "email.sender: Value error, the address is 255 characters long; at most 254 (RFC 5321)",
        ),
        (
            {"email": {"recipients": ["cfo@example.com, ar@example.com"]}},
            "email.recipients.0: Value error, 'cfo@example.com, ar@example.com' is not an e-mail address",
        ),
        (
            {"email": {"recipients": [f"r{n}@example.com" for n in range(101)]}},
            "email.recipients: List should have at most 100 items after validation, not 101",
        ),
    ],
)
def test_params_text_is_plain_one_line_text_of_bounded_length(change: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_params({**BASE, **change})
    text = str(caught.value)
    assert message in text
    assert len(text) < 800, len(text)  # a 2 MB value is not echoed back
    assert "\x1b" not in text and "\x00" not in text and "\u202e" not in text and "\x9b" not in text


def test_real_names_with_spaces_letters_and_tab_delimiters_stay_allowed() -> None:
    company = "Müller & Söhne GmbH · Zürich — 株式会社 " + "A" * 150
    params = parse_params(
        {
            **BASE,
            "report": {"company": company},
            "email": {
                "sender": "Accounts Receivable <ar@example.com>",
                "recipients": ["cfo@example.com", "Ödön Ürgé <oedoen@example.co.uk>"],
            },
            "source": {
                "kind": "files",
                "location": "Exporte/Oktober 2026",
                "csv": {"delimiter": "\t", "thousands": "\u202f"},
                "tables": {
                    "invoices": {
                        "file": "Ausgangsrechnungen Oktober.csv",
                        "columns": {"amount": "Brutto-Betrag (€)", "due_date": "Fälligkeit"},
                        "csv": {"delimiter": "\t"},
                    }
                },
            },
        }
    )
    assert params.report.company.startswith("Müller & Söhne") and len(params.report.company) == 186
    assert params.source.csv_for("invoices").delimiter == "\t"
    assert params.source.columns_for("invoices") == {"due_date": "Fälligkeit", "amount": "Brutto-Betrag (€)"}
    assert params.email.recipients[1] == "Ödön Ürgé <oedoen@example.co.uk>"
    assert parse_params({**BASE, "report": {"company": "A" * 200}}).report.company == "A" * 200


def test_a_long_wrong_value_is_shown_cut_not_whole() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_params({**BASE, "dso": {"window_months": "three" * 800}})
    assert (
        "dso.window_months: Input should be a valid integer, unable to parse string as an integer (got "
        "'threethree" in str(caught.value)
    )
    assert "… (4,000 characters))" in str(caught.value) and len(str(caught.value)) < 400


# ------------------------------------------------------------- frozen params: what the notebooks read (item 3)


def test_the_frozen_params_read_back_to_the_validated_values_with_an_absolute_location(
    tmp_path: Path, monkeypatch
) -> None:
    from collections_mi.config.params import write_frozen_params

    (tmp_path / "params").mkdir()
    (tmp_path / "exports").mkdir()
    monkeypatch.chdir(tmp_path)
    source = {**ERP, "location": "exports"}
    path = _write(tmp_path / "params", "")
    params = parse_params(
        {
            **BASE,
            "source": source,
            "report": {"company": "Müller & Söhne"},
            "aging": {"buckets": [30, 60]},
            "email": {"sender": "AR <ar@example.com>"},
            "allowance": {"rates": {"current": "0.005", "1-30": "0.0125", "31-60": "0.3", "60+": "1"}},
        }
    )
    frozen = write_frozen_params(params, path, tmp_path / "params")
    assert frozen == tmp_path / "params" / "params.yaml"
    again = load_params(frozen)
    assert again.source.location == str(tmp_path / "exports")
    assert again.model_copy(update={"source": again.source.model_copy(update={"location": "exports"})}) == params
    assert again.allowance_rates["1-30"] == Decimal("0.0125") and again.report.company == "Müller & Söhne"
    assert again.source.values_for("invoices") == {"disputed": {"Yes": True, "No": False}}
    url = parse_params({**BASE, "source": {"kind": "ibis", "location": "postgres://mi:s3cret@db/ledger"}})
    written = write_frozen_params(url, None, tmp_path).read_text(encoding="utf-8")
    assert "postgres://mi:***@db/ledger" in written and "s3cret" not in written


@pytest.mark.slow
def test_notebooks_read_the_params_as_validated_at_the_start_not_the_live_file(
    tiny_ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The params file is rewritten (another company and as-of) once the notebooks start: every page, run.json,
    kpis.json and the pack's params.yaml still show the run's own params."""
    import json

    from conftest import NO_BROWSER

    for name, value in NO_BROWSER.items():  # pages, manifest and KPIs are read here, not pack.pdf
        monkeypatch.setenv(name, value)

    import nbformat

    from collections_mi.runs.pack import compute_kpis, run_pack
    from collections_mi.store.results import kpis_json

    from conftest import write_params

    (tmp_path / "original").mkdir()

    params_path = write_params(tmp_path, tiny_ledger, report={"company": "Original Co"})
    rewritten: list[str] = []

    def rewrite_when_the_notebooks_start(message: str) -> None:
        if "executing" in message and not rewritten:
            write_params(
                tmp_path,
                tiny_ledger,
                as_of="2026-10-30",
                name=params_path.name,
                report={"company": "Changed Co", "top_customers": 1},
            )
            rewritten.append(message)

    outcome = run_pack(params_path, tmp_path / "reports", progress=rewrite_when_the_notebooks_start)
    assert rewritten and "Changed Co" in params_path.read_text(encoding="utf-8")
    folder = outcome.folder
    sections = sorted((folder / "html").glob("*.html"))
    # the tiny ledger has no loans or agencies; it has open items, hence a cash forecast
    assert [p.stem for p in sections] == ["01_aging", "02_dso", "03_allowance", "06_cash"]
    for page in [folder / "index.html", *sections]:
        text = page.read_text(encoding="utf-8")
        assert "Original Co · Collections MI · October 2026" in text and "Changed Co" not in text, page.name
        assert "2026-10-30" not in text, page.name
    for page in sections:  # the context line each notebook writes from the params it loaded
        assert '<p class="mi-context"><b>Original Co</b> · as of <b>2026-10-31</b>' in page.read_text(encoding="utf-8")
    manifest = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert (manifest["as_of"], manifest["params"]["as_of"], manifest["params"]["report"]["company"]) == (
        "2026-10-31",
        "2026-10-31",
        "Original Co",
    )
    original = write_params(tmp_path / "original", tiny_ledger, report={"company": "Original Co"})
    assert json.loads((folder / "kpis.json").read_text(encoding="utf-8")) == json.loads(
        kpis_json(compute_kpis(original))
    )
    assert "Top 15 customers by open balance" in (folder / "html" / "01_aging.html").read_text(encoding="utf-8")
    frozen = load_params(folder / "params.yaml")
    assert (str(frozen.as_of), frozen.report.company, frozen.source.location) == (
        "2026-10-31",
        "Original Co",
        str(tiny_ledger),
    )
    for executed in sorted((folder / "executed").glob("*.ipynb")):
        parameters = next(
            c
            for c in nbformat.read(executed, as_version=4).cells
            if "injected-parameters" in c.metadata.get("tags", ())
        )
        assert "params.yaml" in parameters.source and str(params_path) not in parameters.source, executed.name
