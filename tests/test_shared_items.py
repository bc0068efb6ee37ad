"""The open items a run's sections share (metrics/balances.py: sharing_open_items): computed once at the dates every
section declares (Section.open_item_dates), read by every open-balance query at some of them — the same KPIs and
tables as each section computing its own, and no query at a date no section declared (a scan of the ledger more)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from collections_mi.config.params import load_params
from collections_mi.metrics.balances import open_items, sharing_open_items
from collections_mi.metrics.book import book_of, open_book
from collections_mi.metrics.result import Unavailable
from collections_mi.metrics.sections import available_sections, compute_sections, flat_kpis
from collections_mi.sources.ledger import fetch, open_ledger

from conftest import write_params

VARIANTS = {
    # the pack's defaults at a month-end
    "month-end": {"as_of": "2026-10-31"},
    # mid-month: as_of is not a month-end, so its DSO window's eve is not one either; longer windows, lookback
    "mid-month": {
        "as_of": "2026-10-15",
        "dso": {"window_months": 6},
        "report": {"trend_months": 6},
        "allowance": {"lookback_months": 24},
    },
}


def _frames_equal(a: object, b: object) -> bool:
    if isinstance(a, Unavailable) or isinstance(b, Unavailable):
        return isinstance(a, Unavailable) and isinstance(b, Unavailable) and a.reason == b.reason
    assert isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame)
    return a.equals(b)


@pytest.mark.parametrize("variant", VARIANTS)
def test_sections_read_the_shared_open_items_and_give_what_they_give_alone(
    demo_ledger: Path, tmp_path: Path, variant: str
) -> None:
    """Each section on a book sharing the open items at its own declared dates reads them for every open-balance
    query (none missed) and gives the KPIs and tables it gives computing its own; compute_sections shares the
    union of its sections' dates with every section."""
    settings: dict[str, Any] = dict(VARIANTS[variant])
    params = load_params(write_params(tmp_path, demo_ledger, **settings))
    ledger = open_ledger(params)
    sections = available_sections(ledger.typed)
    assert {s.name for s in sections} == {"aging", "dso", "allowance", "watchlist", "agency", "cash"}
    alone = {s.name: s.compute(book_of(ledger, params), params) for s in sections}
    together = {}
    with open_book(ledger, params) as book:
        for section in sections:
            with sharing_open_items(book, section.open_item_dates(params)) as shared:
                together[section.name] = section.compute(shared, params)
                share = shared.open_items_at
                assert (share is None) == (section.name in ("watchlist", "agency")), section.name
                assert share is None or share.missed == [], (section.name, share.missed)
        # compute_sections gives every section a book sharing the open items at all their dates
        shares: dict[str, Any] = {}
        promise_shares: dict[str, Any] = {}

        def recording(section: Any) -> Any:
            def compute(shared: Any, p: Any) -> Any:
                shares[section.name] = shared.open_items_at
                promise_shares[section.name] = shared.promise_payments_at
                return section.compute(shared, p)

            return dataclasses.replace(section, compute=compute)

        computed = compute_sections(book, params, [recording(s) for s in sections])
    every = {day for s in sections for day in s.open_item_dates(params)}
    assert params.as_of in every and len(every) > 30
    assert len({id(share) for share in shares.values()}) == 1 and shares["aging"].dates == every
    assert shares["aging"].missed == []
    # the DSO and cash sections both read promise statuses: the payments in the windows computed once for both
    promise_share = promise_shares["dso"]
    assert (
        promise_share is not None and promise_share.latest == params.as_of and promise_shares["cash"] is promise_share
    )
    for name in ("dso", "cash"):
        for table in computed[name].tables.files():
            assert _frames_equal(getattr(computed[name].tables, table), getattr(alone[name].tables, table)), table
    assert flat_kpis(computed) == flat_kpis(together) == flat_kpis(alone) and flat_kpis(alone)["ar_total"] > 0
    compared = 0
    for name, result in together.items():
        for table in result.tables.files():
            assert _frames_equal(getattr(result.tables, table), getattr(alone[name].tables, table)), (name, table)
            compared += 1
    assert compared > 60


def test_open_items_read_from_a_share_are_those_computed(demo_ledger: Path, tmp_path: Path) -> None:
    """At the shared dates, or some of them, the rows computed; at a date the share lacks, computed (and recorded
    as missed); a share asked for within a share is the same share when it covers the dates."""
    params = load_params(write_params(tmp_path, demo_ledger))
    ledger = open_ledger(params)
    shared_dates = [dt.date(2026, m, 1) - dt.timedelta(days=1) for m in range(2, 11)] + [dt.date(2026, 10, 31)]
    columns = ["invoice_id", "as_of", "open_balance", "days_past_due", "disputed"]

    def rows(book: Any, dates: list[dt.date]) -> pd.DataFrame:
        return fetch(open_items(book, dates).select(*columns).order_by(["as_of", "invoice_id"]))

    with open_book(ledger, params) as book:
        with sharing_open_items(book, shared_dates) as shared:
            share = shared.open_items_at
            assert share is not None
            for dates in (shared_dates, shared_dates[2:5], [dt.date(2026, 10, 31)]):
                assert rows(shared, dates).equals(rows(book, dates))
            assert share.missed == []
            other = [dt.date(2026, 10, 15), dt.date(2026, 10, 31)]
            assert rows(shared, other).equals(rows(book, other)) and len(rows(book, other)) > 100
            assert share.missed == [tuple(other)]  # the unshared book computes its own, unrecorded
            # sharing again within a share: its own dates given as they are, others shared anew and recorded
            with sharing_open_items(shared, shared_dates[:3]) as nested:
                assert nested is shared
            with sharing_open_items(shared, other) as nested:
                assert nested.open_items_at is not None and nested.open_items_at.dates == set(other)
                assert rows(nested, other).equals(rows(book, other))
            assert share.missed == [tuple(other), tuple(other)]
        assert book.open_items_at is None
