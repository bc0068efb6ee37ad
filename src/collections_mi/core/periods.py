"""Months: the one home for month arithmetic, on dates and on periods (``YYYY-MM``).

A month is counted by its index ``year × 12 + month − 1``; every shift, span and month-end below is that index
moved and turned back into a date or a period.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from collections_mi.core.errors import HistoryError

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

# ---------------------------------------------------------------------------------------------- dates


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def _first_of_index(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(day: dt.date) -> dt.date:
    """The last day of ``day``'s month."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def is_month_end(day: dt.date) -> bool:
    return month_end(day) == day


def previous_month_end(day: dt.date) -> dt.date:
    """The last day of the month before ``day``'s."""
    return day.replace(day=1) - dt.timedelta(days=1)


def latest_month_end(day: dt.date) -> dt.date:
    """The last month-end on or before ``day``: ``day`` itself when it is one."""
    return day if is_month_end(day) else previous_month_end(day)


def first_of_month_back(day: dt.date, months_back: int) -> dt.date:
    """The 1st of the month ``months_back`` months before ``day``'s (0: the 1st of ``day``'s own month)."""
    return _first_of_index(_month_index(day) - months_back)


def shift_month_end(day: dt.date, months: int) -> dt.date:
    """The month-end ``months`` months after (negative: before) ``day``'s month."""
    return month_end(_first_of_index(_month_index(day) + months))


def months_between(start: dt.date, end: dt.date) -> int:
    """Calendar months from ``start``'s month to ``end``'s: 0 within the same month, whatever the days."""
    return _month_index(end) - _month_index(start)


def month_ends_up_to(as_of: dt.date, count: int) -> list[dt.date]:
    """The last ``count`` month-ends ≤ as_of, oldest first; as_of itself closes the list if not a month-end."""
    ends: list[dt.date] = []
    cursor = latest_month_end(as_of)
    if cursor != as_of:
        ends.append(as_of)
    while len(ends) < count:
        ends.append(cursor)
        cursor = previous_month_end(cursor)
    return sorted(ends)


def closed_month_ends_up_to(day: dt.date, count: int) -> list[dt.date]:
    """The last ``count`` month-ends on or before ``day`` (``day`` only when it is a month-end), oldest first."""
    return month_ends_up_to(latest_month_end(day), count)


# ---------------------------------------------------------------------------------------------- periods


def check_period(text: str, what: str = "period") -> str:
    if not isinstance(text, str) or not _PERIOD.match(text):
        raise HistoryError(f"{what}: {text!r} is not a month in the form YYYY-MM", hint="e.g. --from 2025-11")
    return text


def _period_index(period: str) -> int:
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def shift_period(period: str, months: int) -> str:
    index = _period_index(period) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def periods_between(start: str, end: str) -> int:
    """Months from period ``start`` to period ``end`` (YYYY-MM): 0 for the same month."""
    return _period_index(end) - _period_index(start)


def month_range(start: str, end: str) -> list[str]:
    """Every month from ``start`` to ``end`` (YYYY-MM, inclusive), oldest first."""
    check_period(start, "--from")
    check_period(end, "--to")
    if start > end:
        raise HistoryError(f"--from {start} is after --to {end}", hint="give the earlier month first")
    months = [start]
    while months[-1] < end:
        months.append(shift_period(months[-1], 1))
    return months


def month_end_of(period: str) -> dt.date:
    return month_end(dt.date.fromisoformat(f"{period}-01"))
