"""Promise statuses (metrics/promises.py) against the oracle (tests/oracle.py: promise_statuses): what each promise
was paid in its window up to each date, at each payment's own rate, and kept / broken / pending — at three dates of
the demo ledger, every status among them; the same read from the payments in the windows shared up to as_of
(sharing_promise_payments) as computed up to each call's own latest date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from collections_mi.config.params import load_params
from collections_mi.metrics.book import open_book
from collections_mi.metrics.promises import promise_statuses, sharing_promise_payments
from collections_mi.sources.ledger import open_ledger

from conftest import write_params
from oracle import Ledger as OracleLedger
from oracle import promise_statuses as oracle_promise_statuses


@pytest.mark.parametrize("shared", [False, True], ids=["computed", "shared"])
def test_promise_statuses_at_several_dates_are_the_oracles(demo_ledger: Path, tmp_path: Path, shared: bool) -> None:
    params = load_params(write_params(tmp_path, demo_ledger))
    dates = [dt.date(2026, 3, 31), dt.date(2026, 8, 17), dt.date(2026, 10, 31)]
    oracle = OracleLedger(demo_ledger)
    with open_book(open_ledger(params), params) as book:
        if shared:
            with sharing_promise_payments(book) as sharing:
                assert sharing.promise_payments_at is not None and sharing.promise_payments_at.latest == params.as_of
                statuses = promise_statuses(sharing, dates)
                # an earlier date alone reads the share too (its own payments and promises only)
                assert promise_statuses(sharing, dates[:1])[dates[0]].equals(
                    promise_statuses(book, dates[:1])[dates[0]]
                )
                with sharing_promise_payments(sharing) as nested:
                    assert nested is sharing
            assert book.promise_payments_at is None
        else:
            statuses = promise_statuses(book, dates)
    seen = set()
    for day in dates:
        expected = oracle_promise_statuses(oracle, day)
        frame = statuses[day]
        got = dict(zip(frame["promise_id"], zip(frame["paid_in_window"], frame["status"])))
        assert len(got) == len(frame) and got == expected, day
        seen |= {status for _, status in expected.values()}
        assert sum(1 for paid, _ in expected.values() if paid > 0) > 50
    assert seen == {"kept", "broken", "pending"}
