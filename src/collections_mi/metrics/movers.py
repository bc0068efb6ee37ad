"""Top movers: the segments and customers whose past-due receivables moved most since the previous month-end, with
their DSO then and now (tables/top_movers.csv; the index's and the email's "What changed").

Both dates' figures are the DSO breakdown's (:func:`~collections_mi.metrics.dso_breakdowns.breakdown_table`): past
due is ``past_due_ar`` (AR not yet due excluded, reporting currency at each date's closing rate) and DSO the window's
DSO per group, at as_of and at the month-end before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pandas as pd

from collections_mi.core.money import ZERO

#: how many segments and how many customers the table keeps (the largest moves in past due)
MOVERS_SHOWN = 5
COLUMNS = [
    "level",
    "key",
    "name",
    "past_due_before",
    "past_due",
    "past_due_change",
    "dso_before",
    "dso",
    "dso_change",
]


def _by_key(frame: pd.DataFrame, key: str) -> dict[object, tuple[Decimal, Decimal | None]]:
    return {k: (p, d) for k, p, d in zip(frame[key].tolist(), frame["past_due_ar"].tolist(), frame["dso"].tolist())}


def movers(
    level: str,
    now: pd.DataFrame,
    before: pd.DataFrame,
    key: str,
    names: Mapping[object, str] | None = None,
    count: int = MOVERS_SHOWN,
) -> pd.DataFrame:
    """The ``count`` groups of ``key`` (a column of both DSO breakdowns, ``now`` at as_of and ``before`` at the
    previous month-end) whose past due moved most (by size, either way; ties by key), with their DSO at both dates.
    A group absent at a date had no open AR then (past due 0, DSO not available). Groups whose past due did not
    move are left out."""
    at_now, at_before = _by_key(now, key), _by_key(before, key)
    rows: list[dict[str, object]] = []
    moved: list[Decimal] = []
    for group in set(at_now) | set(at_before):
        past_due, dso = at_now.get(group, (ZERO, None))
        past_due_before, dso_before = at_before.get(group, (ZERO, None))
        change = past_due - past_due_before
        if change == 0:
            continue
        moved.append(change)
        rows.append(
            {
                "level": level,
                "key": group,
                "name": (names or {}).get(group, str(group)),
                "past_due_before": past_due_before,
                "past_due": past_due,
                "past_due_change": change,
                "dso_before": dso_before,
                "dso": dso,
                "dso_change": None if dso is None or dso_before is None else dso - dso_before,
            }
        )
    order = sorted(range(len(rows)), key=lambda i: (-abs(moved[i]), str(rows[i]["key"])))
    return pd.DataFrame([rows[i] for i in order[:count]], columns=COLUMNS)


def top_movers(
    customers_now: pd.DataFrame,
    customers_before: pd.DataFrame,
    names: Mapping[object, str],
    segments: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    count: int = MOVERS_SHOWN,
) -> pd.DataFrame:
    """tables/top_movers.csv: the segments (when the ledger has customers.segment: ``segments`` = (now, before))
    whose past due moved most, then the customers; see :func:`movers`."""
    parts = []
    if segments is not None:
        parts.append(movers("segment", segments[0], segments[1], "segment", count=count))
    parts.append(movers("customer", customers_now, customers_before, "customer_id", names, count))
    frame = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[-1]
    return frame.astype(object).where(frame.notna(), None).reset_index(drop=True)
