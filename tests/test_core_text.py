"""core's text helpers, each the one home of its idea: values ↔ text (core.values), what is shown of text from a
file (core.printable) and an exception in one line (core.errors.first_line)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collections_mi.core.errors import ConfigError, first_line
from collections_mi.core.money import plain
from collections_mi.core.printable import character_problem, escaped
from collections_mi.core.values import (
    TEXT_PARSERS,
    cell_text,
    decimal_text,
    exact_text,
    float_text,
    json_number,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.3400"), "12.34"),
        (Decimal("1E+2"), "100"),
        (Decimal("0E-4"), "0"),
        (Decimal("-0.00"), "-0"),
        (Decimal("1E-18"), "0.000000000000000001"),
        (Decimal("80627009.491100580012345"), "80627009.491100580012345"),
        (Decimal("NaN"), "NaN"),
        (Decimal("-Infinity"), "-Infinity"),
    ],
)
def test_a_decimal_is_written_exactly_in_plain_notation(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text
    assert cell_text(value) == text
    if value.is_finite():
        assert Decimal(text) == value and json_number(value) == text


@given(
    st.decimals(allow_nan=False, allow_infinity=False) | st.decimals(places=8, allow_nan=False, allow_infinity=False)
)
def test_a_decimal_is_spelled_as_its_plain_value(value: Decimal) -> None:
    """decimal_text strips the fraction's trailing zeros from the exact text: the text of plain(value), the same
    number."""
    assert decimal_text(value) == format(plain(value), "f")
    assert Decimal(decimal_text(value)) == value


def test_each_type_is_spelled_once_and_reads_back() -> None:
    cells = {
        "decimal": (Decimal("-1234.5600"), "-1234.56"),
        "int": (np.int64(7), "7"),
        "float": (0.1 + 0.2, "0.30000000000000004"),
        "bool": (np.bool_(True), "true"),
        "date": (dt.date(2026, 10, 31), "2026-10-31"),
        "str": ("=1+1", "=1+1"),  # neutralising formulas is the CSV writer's job, not the codec's
    }
    for kind, (value, text) in cells.items():
        assert cell_text(value) == text, kind
        assert TEXT_PARSERS[kind](text) == value, kind
    assert cell_text(pd.Timestamp("2026-10-31 00:00")) == "2026-10-31"
    assert [cell_text(v) for v in (None, float("nan"), np.float64("nan"), pd.NaT)] == ["", "", "", ""]
    assert exact_text(Decimal("5.50")) == "5.5" and exact_text(np.int64(-3)) == "-3"
    assert float_text(np.float32(0.5)) == "0.5"


def test_json_number_writes_kpis_and_refuses_what_is_not_a_number() -> None:
    assert [json_number(v) for v in (None, True, np.int64(3), Decimal("2.50"), 1.5)] == [
        "null",
        "true",
        "3",
        "2.5",
        "1.5",
    ]
    with pytest.raises(TypeError, match="is not a number"):
        json_number("12")


def test_escaped_one_line_escapes_exactly_what_character_problem_names() -> None:
    for code in (*range(0x3000), *range(0xD800, 0xE000), 0xFEFF, 0x1F600):
        char = chr(code)
        assert (escaped(char, one_line=True) != char) == (character_problem(char) is not None), hex(code)
        # a multi-line message keeps its line feeds and tabs, and escapes every other such character
        assert (escaped(char) != char) == (character_problem(char) is not None and char not in "\n\t"), hex(code)


def test_escaped_one_line_spells_each_character_once() -> None:
    assert escaped("comp\nany\tname", one_line=True) == r"comp\nany\tname"
    assert escaped("a\rb\x1b[31m\u202e\u2028", one_line=True) == r"a\x0db\x1b[31m\u202e\u2028"
    assert escaped("line 1\r\nline 2") == "line 1\\x0d\nline 2"
    assert escaped("Zürich, 東京 — ok") == escaped("Zürich, 東京 — ok", one_line=True) == "Zürich, 東京 — ok"


def test_first_line_is_the_type_and_the_first_line_of_the_message() -> None:
    with_fix = ConfigError("report.company: contains a tab", hint="remove it")
    assert str(with_fix).splitlines()[-1] == "  fix: remove it"
    assert first_line(with_fix) == "ConfigError: report.company: contains a tab"
    assert first_line(with_fix, named=False) == "report.company: contains a tab"
    assert first_line(ValueError("\n  bad date\nmore")) == "ValueError: bad date"
    assert first_line(RuntimeError()) == first_line(RuntimeError(""), named=False) == "RuntimeError"
