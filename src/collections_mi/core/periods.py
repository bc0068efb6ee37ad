"""Month periods (``YYYY-MM``) and their arithmetic: the one home for month maths on period strings."""

from __future__ import annotations

import datetime as dt
import re

from collections_mi.core.errors import HistoryError

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def check_period(text: str, what: str = "period") -> str:
    if not isinstance(text, str) or not _PERIOD.match(text):
        raise HistoryError(f"{what}: {text!r} is not a month in the form YYYY-MM", hint="e.g. --from 2025-11")
    return text


def shift_period(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


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
    first_of_next = dt.date.fromisoformat(f"{shift_period(period, 1)}-01")
    return first_of_next - dt.timedelta(days=1)
