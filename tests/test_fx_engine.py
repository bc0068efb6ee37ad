"""FX conversion in the engine (collections_mi.metrics.fx.reporting_sums): the closing rate per currency and day
joined as a table and multiplied in exact decimals gives the same sums as converting in Python (sums per currency
and day, × the rate in Decimal) and as converting each row by hand; where the engine cannot be trusted to multiply
exactly (Spark, rates with more than ENGINE_RATE_SCALE decimals) the Python conversion is used; a missing rate is
an error on both paths, never a silent 1.0 or a dropped row."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collections_mi.config.params import load_params
from collections_mi.core.errors import MissingFxRate
from collections_mi.metrics.book import open_book
from collections_mi.metrics.fx import ENGINE_RATE_SCALE, FxRates, engine_rates, reporting_sums
from collections_mi.metrics.sections import SECTIONS, compute_sections, flat_kpis
from collections_mi.sources.ledger import open_ledger

from conftest import write_params

REPORTING = "USD"
FIRST = dt.date(2026, 1, 1)
LAST = dt.date(2026, 3, 31)


def _table(rows: list[tuple[str, str, dt.date, Decimal]]) -> ibis.Table:
    """Rows (key, currency, day, amount) as an engine table with the contract's money type."""
    keys, currencies, days, amounts = zip(*rows) if rows else ((), (), (), ())
    table = ibis.memtable(
        {"key": list(keys), "currency": list(currencies), "day": list(days), "amount": [str(a) for a in amounts]},
        schema={"key": "string", "currency": "string", "day": "date", "amount": "string"},
    )
    return table.mutate(amount=table.amount.cast("decimal(18, 4)"))


def _sums(t: ibis.Table) -> dict[str, ibis.Value]:
    return {"rows": t.count(), "amount": t.amount.sum(), "amount_days": (t.amount * t.day.day()).sum()}


def _by_key(frame) -> dict[str, tuple[int, Decimal, Decimal]]:
    return {
        key: (int(rows), Decimal(amount), Decimal(days))
        for key, rows, amount, days in zip(frame["key"], frame["rows"], frame["amount"], frame["amount_days"])
    }


def _by_hand(rows, fx: FxRates) -> dict[str, tuple[int, Decimal, Decimal]]:
    """The oracle: each row converted on its own (the latest rate on or before its day), then summed."""
    sums: dict[str, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for key, currency, day, amount in rows:
        rate = Decimal(1) if currency == REPORTING else fx.rate(currency, day)
        sums[key][0] += 1
        sums[key][1] += amount * rate
        sums[key][2] += amount * rate * day.day
    return {key: tuple(values) for key, values in sums.items()}


def _both_ways(rows, fx: FxRates):
    table = _table(rows)
    args = ("day", ["key"], _sums, ("amount", "amount_days"))
    rates = engine_rates(fx, LAST, "duckdb")
    in_engine = None if rates is None else _by_key(reporting_sums(table, fx, rates, *args))
    in_python = _by_key(reporting_sums(table, fx, None, *args))
    return rates, in_engine, in_python


RATE_DAYS = st.dates(FIRST, LAST)
AMOUNTS = st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("999999.99"), places=2)


@st.composite
def ledgers(draw, max_scale: int = ENGINE_RATE_SCALE + 2):
    scale = draw(st.integers(0, max_scale))
    rate_rows = []
    for currency in ("EUR", "JPY"):
        for day in draw(st.lists(RATE_DAYS, min_size=1, max_size=6, unique=True)):
            units = draw(st.integers(1, 10 ** (scale + 3)))
            rate_rows.append((day, currency, Decimal(units).scaleb(-scale)))
    fx = FxRates.from_rows(REPORTING, rate_rows)
    rows = []
    for _ in range(draw(st.integers(1, 25))):
        currency = draw(st.sampled_from([REPORTING, "EUR", "JPY"]))
        earliest = FIRST if currency == REPORTING else fx.dates[currency][0]
        rows.append((draw(st.sampled_from("abc")), currency, draw(st.dates(earliest, LAST)), draw(AMOUNTS)))
    return fx, rows


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(ledgers())
def test_engine_and_python_conversion_equal_converting_each_row(example) -> None:
    fx, rows = example
    rates, in_engine, in_python = _both_ways(rows, fx)
    expected = _by_hand(rows, fx)
    assert in_python == expected
    scale = max(-r.normalize().as_tuple().exponent for c in ("EUR", "JPY") for r in fx.rates[c])
    if scale > ENGINE_RATE_SCALE:
        assert rates is None  # more decimals than the engine's exact product holds: converted in Python
    else:
        assert rates is not None and in_engine == expected


def test_a_worked_example_in_both_ways() -> None:
    # 100.00 EUR on 2 Jan at 1.0823 (rate of 1 Jan) + 50.00 EUR on 3 Mar at 1.0791 (rate of 1 Mar) + 10.00 USD:
    # 108.23 + 53.955 + 10 = 172.185 USD; JPY 1000 on 2 Feb at 0.0067123456789 (13 decimals) = 6.7123456789 USD
    fx = FxRates.from_rows(
        REPORTING,
        [(dt.date(2026, 1, 1), "EUR", Decimal("1.0823")), (dt.date(2026, 3, 1), "EUR", Decimal("1.0791"))],
    )
    rows = [
        ("a", "EUR", dt.date(2026, 1, 2), Decimal("100.00")),
        ("a", "EUR", dt.date(2026, 3, 3), Decimal("50.00")),
        ("a", REPORTING, dt.date(2026, 3, 3), Decimal("10.00")),
    ]
    rates, in_engine, in_python = _both_ways(rows, fx)
    assert rates is not None and rates.scale == 4
    assert in_engine == in_python == {"a": (3, Decimal("172.185"), Decimal("108.23") * 2 + Decimal("53.955") * 3 + 30)}
    jpy = FxRates.from_rows(REPORTING, [(dt.date(2026, 2, 1), "JPY", Decimal("0.0067123456789"))])
    rates, in_engine, in_python = _both_ways([("b", "JPY", dt.date(2026, 2, 2), Decimal("1000"))], jpy)
    assert rates is None and in_engine is None  # 13 decimals > ENGINE_RATE_SCALE
    assert in_python == {"b": (1, Decimal("6.7123456789"), Decimal("13.4246913578"))}


def test_spark_converts_in_python() -> None:
    fx = FxRates.from_rows(REPORTING, [(FIRST, "EUR", Decimal("1.1"))])
    assert engine_rates(fx, LAST, "pyspark") is None  # Spark narrows the scale of wide decimal products
    assert engine_rates(fx, LAST, "duckdb") is not None and engine_rates(fx, LAST, "postgres") is not None


@pytest.mark.parametrize(
    ("rate_rows", "message"),
    [
        ([(dt.date(2026, 2, 1), "EUR", Decimal("1.1"))], "no EUR rate on or before 2026-01-15"),
        ([(dt.date(2026, 2, 1), "GBP", Decimal("1.3"))], "no rate for EUR"),
        ([], "no rate for EUR"),
    ],
    ids=["before-the-first-rate", "currency-without-rates", "no-fx-rates-at-all"],
)
def test_a_missing_rate_is_an_error_on_both_paths(rate_rows, message: str) -> None:
    fx = FxRates.from_rows(REPORTING, rate_rows)
    rows = [("a", REPORTING, FIRST, Decimal("5")), ("a", "EUR", dt.date(2026, 1, 15), Decimal("10"))]
    args = ("day", ["key"], _sums, ("amount", "amount_days"))
    rates = engine_rates(fx, LAST, "duckdb")
    assert rates is not None
    for way in (rates, None):
        with pytest.raises(MissingFxRate, match=message):
            reporting_sums(_table(rows), fx, way, *args)


def test_the_sections_are_the_same_converted_in_python(demo_ledger: Path, tmp_path: Path) -> None:
    """The demo (USD with EUR and GBP invoices, daily rates): every KPI and table of the sections that convert sums
    in the engine is the same when the Book converts in Python instead."""
    params_path = write_params(tmp_path, demo_ledger)
    params = load_params(params_path)
    ledger = open_ledger(params, params_path)
    sections = [SECTIONS[name] for name in ("aging", "dso", "cash")]
    with open_book(ledger, params) as book:
        assert book.fx_in_engine is not None and book.fx_in_engine.daily is not None
        in_engine = compute_sections(book, params, sections)
        in_python = compute_sections(dataclasses.replace(book, fx_in_engine=None), params, sections)
    assert flat_kpis(in_engine) == flat_kpis(in_python)
    assert flat_kpis(in_engine)["dso_countback"] is not None
    for name, result in in_engine.items():
        theirs = in_python[name].tables.published()
        for table, frame in result.tables.published().items():
            assert frame.equals(theirs[table]), (name, table)


def test_sums_at_each_date_one_date_at_a_time_are_the_same_either_way(demo_ledger: Path, tmp_path: Path) -> None:
    """Book.summed_at_each (the concentration trend's and the promise statuses' sums per date): each of the dates in
    their order — one without rows giving empty lists — with the sums per key of its rows, converted at each row's
    day's rate, the same whether the engine converts or Python does, and equal to each row converted by hand."""
    params_path = write_params(tmp_path, demo_ledger)
    params = load_params(params_path)
    ledger = open_ledger(params, params_path)
    first, empty, second = dt.date(2026, 9, 30), dt.date(2026, 8, 31), dt.date(2026, 10, 31)
    rows = [
        (first, "a", "USD", dt.date(2026, 9, 2), Decimal("10.5")),
        (first, "a", "EUR", dt.date(2026, 9, 3), Decimal("-2.25")),
        (first, "b", "GBP", dt.date(2026, 9, 4), Decimal("7")),
        (second, "a", "EUR", dt.date(2026, 10, 5), Decimal("1.0001")),
    ]
    columns = list(zip(*rows))
    table = ibis.memtable(
        {
            "as_of": list(columns[0]),
            "key": list(columns[1]),
            "currency": list(columns[2]),
            "day": list(columns[3]),
            "amount": [str(a) for a in columns[4]],
        },
        schema={"as_of": "date", "key": "string", "currency": "string", "day": "date", "amount": "string"},
    )
    table = table.mutate(amount=table.amount.cast("decimal(18, 4)"))
    dates = [second, empty, first]
    with open_book(ledger, params) as book:
        assert book.fx_in_engine is not None
        ways = [
            [
                (day, sorted(zip(sums["key"], sums["total"])))
                for day, sums in way.summed_at_each(table, "day", ["as_of", "key"], "total", dates, ["key"])
            ]
            for way in (book, dataclasses.replace(book, fx_in_engine=None))
        ]
        expected: dict[dt.date, dict[str, Decimal]] = {day: defaultdict(Decimal) for day in dates}
        for as_of, key, currency, day, amount in rows:
            expected[as_of][key] += amount * (Decimal(1) if currency == "USD" else book.fx.rate(currency, day))
        with pytest.raises(ValueError, match="as_of"):
            next(book.summed_at_each(table, "day", ["key"], "total", dates))
    assert ways[0] == ways[1]
    assert ways[0] == [(day, sorted(expected[day].items())) for day in dates]
    assert ways[0][1] == (empty, [])
