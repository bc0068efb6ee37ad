"""Display formatting: headline money scaled for reading, the period in words, labels instead of ids, statistics
without accounting parentheses, capped lists with a pointer, reconciliations to the minor unit, and chart series
made readable — every value checked against the exact text a reader sees."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from collections_mi.presentation import charts, display, labels
from collections_mi.presentation.format import brand, cell, html_table, money, money_short, period_label


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("80627009.49", "USD 80.6m"),
        ("3412879.80", "USD 3.4m"),
        ("75189.77", "USD 75.2k"),
        ("999999.99", "USD 1.0m"),  # 1,000.0k would read wrong: rounds up into millions
        ("999949.99", "USD 999.9k"),
        ("999950", "USD 1.0m"),
        ("999.49", "USD 999"),
        ("999.5", "USD 1.0k"),
        ("1000", "USD 1.0k"),
        ("950", "USD 950"),
        ("0", "USD 0"),
        ("1500000000", "USD 1.5bn"),
        ("-1234567", "−USD 1.2m"),
        ("-999999.99", "−USD 1.0m"),
        ("-0.3", "USD 0"),  # no sign on a figure that reads as zero
    ],
)
def test_money_short_scales_with_exact_boundaries(value: str, text: str) -> None:
    assert money_short(Decimal(value), "USD") == text


def test_money_short_missing_and_without_currency() -> None:
    assert money_short(None) == "–"
    assert money_short(float("nan")) == "–"
    assert money_short(Decimal("80627009.49"), "") == "80.6m"
    assert money_short(Decimal("-75189.77"), "EUR") == "−EUR 75.2k"


def test_money_in_tables_keeps_the_minor_unit_and_no_negative_zero() -> None:
    assert money(Decimal("80627009.49110058")) == "80,627,009.49"
    assert money(Decimal("-0.0011005800")) == "0.00"
    assert money(Decimal("-12.5")) == "(12.50)"


def test_period_in_words_and_in_the_brand() -> None:
    assert period_label("2026-10") == "October 2026"
    assert period_label("2027-01") == "January 2027"
    assert period_label("2026-13") == "2026-13"
    assert brand("", "2026-10") == "Collections MI · October 2026"
    assert brand("Acme Ltd", "2026-10") == "Acme Ltd · Collections MI · October 2026"


def test_labels_for_columns_kpis_and_enums() -> None:
    assert labels.kpi_label("bpdso") == "Best possible DSO"
    assert labels.kpi_label("add") == "Average days delinquent"
    assert labels.kpi_label("some_new_kpi") == "Some new kpi"
    assert labels.column_label("cei_pct") == "CEI %"
    assert labels.column_label("add") == "ADD"
    assert labels.column_label("open_balance") == "Open balance"
    assert labels.enum_label("special_mention") == "Special mention"
    assert labels.enum_label("non_accrual") == "Non-accrual"
    assert labels.enum_label("cash_flows") == "PV of cash flows"
    assert labels.enum_label("reo") == "REO (foreclosed)"
    assert labels.enum_label("Acme & Sons") == "Acme & Sons"  # other text unchanged


def test_table_headers_and_enum_cells_read_as_words() -> None:
    frame = pd.DataFrame(
        {"loan_id": ["LN-00001"], "risk_grade": ["special_mention"], "status": ["non_accrual"], "cei_pct": [1.5]}
    )
    page = html_table(frame)
    for word in ("Loan", "Risk grade", "CEI %", "Special mention", "Non-accrual", "LN-00001"):
        assert word in page
    for ident in ("special_mention", "non_accrual", "cei pct", "risk grade"):
        assert ident not in page
    assert '<td class="txt nowrap">LN-00001</td>' in page  # ids stay on one line


def test_statistics_have_no_accounting_parentheses() -> None:
    assert cell(-9.458738, "ci_low", "USD") == "−9.46"
    assert cell(-0.268, "cohens_d", "USD") == "−0.27"
    assert cell(0.01403459, "p_value", "USD") == "0.014"
    assert cell(Decimal("-9.46"), "amount", "USD") == "(9.46)"  # money keeps the accounting convention


def test_a_capped_list_says_how_many_more_and_where() -> None:
    frame = pd.DataFrame({"invoice_id": [f"I{i}" for i in range(62)], "amount": [Decimal(i) for i in range(62)]})
    page = html_table(frame, max_rows=display.LIST_ROWS, source="aging_over_credit_limit")
    assert page.count("<tr>") == 1 + 10
    assert "Showing 10 of 62 rows; 52 more in tables/aging_over_credit_limit.csv and tables.xlsx." in page
    assert "Showing" not in html_table(frame.head(10), max_rows=10, source="x")
    assert html_table(frame.head(0), empty="No differences.") == '<p class="mi-note">No differences.</p>'


def test_reconciliation_rounds_differences_to_the_minor_unit() -> None:
    frame = pd.DataFrame(
        {
            "check": ["Σ open items", "GL ar_control"],
            "amount": [Decimal("80627009.49110058"), Decimal("80627009.49")],
            "difference": [Decimal(0), Decimal("-0.0011005800")],
            "status": ["ok", "ok"],
            "explanation": [None, "sub-cent FX rounding of -0.0011005800"],
        }
    )
    shown = display.reconciliation(frame, "USD")
    assert isinstance(shown, pd.DataFrame)
    page = html_table(shown)
    assert "(0.00)" not in page and "0.0011" not in page
    assert "sub-cent FX rounding of less than 0.01" in page
    assert list(frame["difference"]) == [Decimal(0), Decimal("-0.0011005800")]  # the input is not changed


def test_wide_tables_keep_the_columns_a_reader_needs() -> None:
    frame = pd.DataFrame(
        columns=[
            "customer_id",
            "name",
            "segment",
            "collector",
            "items",
            "current",
            "1-30",
            "total",
            "past_due",
            "past_due_pct",
            "share_pct",
            "credit_limit",
            "over_limit",
        ]
    )
    shown = display.customers(frame, "over_credit_limit", ["current", "1-30"])
    assert isinstance(shown, pd.DataFrame)
    assert list(shown.columns) == [
        "name",
        "segment",
        "collector",
        "credit_limit",
        "total",
        "over_limit",
        "past_due",
        "past_due_pct",
    ]
    largest = display.customers(frame, "customers", ["current", "1-30"])
    assert isinstance(largest, pd.DataFrame)
    assert "customer_id" not in largest.columns and list(largest.columns)[4:6] == ["current", "1-30"]


def test_names_beside_customer_ids() -> None:
    frame = pd.DataFrame({"customer_id": ["C1", "C2"], "dso": [Decimal(1), Decimal(2)]})
    names = pd.DataFrame({"customer_id": ["C2", "C1"], "name": ["Beta", "Acme"]})
    assert list(display.with_names(frame, names)["name"]) == ["Acme", "Beta"]


def test_watch_list_population_is_said() -> None:
    by_grade = pd.DataFrame({"loans": [241, 26], "balance": [Decimal("399111788.82"), Decimal("43905385.63")]})
    text = display.book_population(by_grade, 26, Decimal("43905385.63"), "USD")
    assert "whole loan book: 267 loans, USD 443.0m" in text and "26 of them (USD 43.9m)" in text


def test_cohort_curves_highlight_the_latest_and_grey_the_rest() -> None:
    rows = [
        {"cohort": pd.Timestamp(2025, m, 1), "months_since": k, "loss_pct": Decimal(k)}
        for m in range(1, 13)
        for k in range(3)
    ]
    figure = charts.cohort_curves(pd.DataFrame(rows), "loss_pct", "t", "x", "y")
    coloured = [t for t in figure.data if t.line.color != charts.MUTED]
    assert [t.name for t in coloured] == ["2025-10", "2025-11", "2025-12"]
    assert sum(1 for t in figure.data if t.showlegend) == 4  # three cohorts and "earlier cohorts"


def test_round_axis_ticks() -> None:
    assert charts.round_axis([34.96, 25.74]) == {"range": [0, 40], "dtick": 10}
    assert charts.round_axis([120.0, None]) == {"range": [0, 125], "dtick": 25}  # type: ignore[list-item]
    assert charts.round_axis([]) == {"range": [0, 1], "dtick": 0.2}


def test_one_colour_per_metric_across_charts() -> None:
    trend = pd.DataFrame({"month_end": [pd.Timestamp(2026, 10, 31)], "dso": [Decimal(60)], "add": [Decimal(15)]})
    first = charts.kpi_trend(trend, ["dso", "add"], ["DSO", "ADD"], "t")
    second = charts.kpi_trend(trend, ["add"], ["ADD"], "t")
    assert first.data[1].line.color == second.data[0].line.color == charts.METRIC_COLOURS["add"]


def test_a_breakdown_the_ledger_cannot_fill_is_left_out() -> None:
    frame = pd.DataFrame(
        {"customer_id": ["C1", "C2"], "name": ["Acme", "Beta"], "segment": ["(none)", "(none)"], "total": [1, 2]}
    )
    shown = display.customers(frame, "customers", ["current"])
    assert isinstance(shown, pd.DataFrame)
    assert list(shown.columns) == ["name", "total"]
