"""A sparkline as inline SVG: no script, no external asset, so it shows in the offline index page, a PDF and any
browser. The values are plot coordinates only (floats); the numbers a reader reads are in the tile beside it."""

from __future__ import annotations

import html
from collections.abc import Sequence

#: the line's colour (the pack's navy) and the latest point's
LINE = "#0d2a4a"
LATEST = "#0d2a4a"


def points(values: Sequence[float | None], width: float, height: float, pad: float = 3.0) -> list[tuple[float, float]]:
    """(x, y) of each value in a ``width`` × ``height`` box (y grows downwards, the highest value at the top); a
    missing value is skipped; a flat series lies in the middle."""
    known = [v for v in values if v is not None]
    if not known:
        return []
    low, high = min(known), max(known)
    span = high - low
    step = (width - 2 * pad) / (len(values) - 1) if len(values) > 1 else 0.0
    shown = []
    for position, value in enumerate(values):
        if value is None:
            continue
        x = pad + position * step if len(values) > 1 else width / 2
        y = height / 2 if span == 0 else pad + (high - value) / span * (height - 2 * pad)
        shown.append((round(x, 2), round(y, 2)))
    return shown


def sparkline_svg(values: Sequence[float | None], label: str, width: int = 120, height: int = 30) -> str:
    """An inline SVG polyline of ``values`` (oldest first) with the latest point marked; ``label`` is its
    accessible name (e.g. "DSO over 13 month-ends"). Empty text when fewer than two values are known."""
    shown = points(values, width, height)
    if len(shown) < 2:
        return ""
    path = " ".join(f"{x},{y}" for x, y in shown)
    last_x, last_y = shown[-1]
    name = html.escape(label)
    return (
        f'<svg class="mi-spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{name}" xmlns="http://www.w3.org/2000/svg"><title>{name}</title>'
        f'<polyline points="{path}" fill="none" stroke="{LINE}" stroke-width="1.5" stroke-linejoin="round" '
        f'stroke-linecap="round"/><circle cx="{last_x}" cy="{last_y}" r="2.5" fill="{LATEST}"/></svg>'
    )
