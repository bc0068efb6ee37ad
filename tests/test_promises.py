"""Promise statuses (metrics/promises.py) against the oracle (tests/oracle.py: promise_statuses): what each promise
was paid in its window up to each date, at each payment's own rate, and kept / broken / pending — at three dates of
the demo ledger, every status among them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from collections_mi.config.params import load_params
from collections_mi.metrics.book import open_book
from collections_mi.metrics.promises import promise_statuses
from collections_mi.sources.ledger import open_ledger

from conftest import write_params
from oracle import Ledger as OracleLedger
from oracle import promise_statuses as oracle_promise_statuses


def test_promise_statuses_at_several_dates_are_the_oracles(demo_ledger: Path, tmp_path: Path) -> None:
    params = load_params(write_params(tmp_path, demo_ledger))
    dates = [dt.date(2026, 3, 31), dt.date(2026, 8, 17), dt.date(2026, 10, 31)]
    oracle = OracleLedger(demo_ledger)
    with open_book(open_ledger(params), params) as book:
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
