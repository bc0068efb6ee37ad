"""Allowance section presentation: headline tiles, sentences, and wide tables for charts."""

from __future__ import annotations

import pandas as pd

from collections_mi.metrics.published import AllowanceResult
from collections_mi.metrics.result import Unavailable
from collections_mi.presentation.format import Tile, explained_tiles, money_short


def tiles(result: AllowanceResult, currency: str) -> dict[str, Tile]:
    """Every headline tile of the section, by KPI id, in the order its page shows them."""
    kpis = result.kpis
    total, opening = kpis.allowance_total, kpis.allowance_opening
    change = None if total is None or opening is None else total - opening
    return explained_tiles(
        result,
        {
            "allowance_total": {
                "label": "Allowance",
                "value": money_short(total, currency),
                "change": None
                if change is None
                else f"{'+' if change >= 0 else '−'}{money_short(abs(change), currency)} vs opening",
                "good": None,
            },
            "bad_debt_expense": {
                "label": "Bad-debt expense (month)",
                "value": money_short(kpis.bad_debt_expense, currency),
            },
            "write_offs": {"label": "Write-offs (month)", "value": money_short(kpis.write_offs, currency)},
            "recoveries": {"label": "Recoveries (month)", "value": money_short(kpis.recoveries, currency)},
        },
    )


def summary_sentence(result: AllowanceResult, currency: str) -> str:
    kpis = result.kpis
    if kpis.allowance_total is None:
        return f"Allowance: not available — {result.unavailable.get('allowance_total', 'not computed')}."
    head = (
        f"Allowance {money_short(kpis.allowance_total, currency)} (opening "
        f"{money_short(kpis.allowance_opening, currency)})"
    )
    if kpis.write_offs is None:
        return (
            f"{head}; write-offs, recoveries and bad-debt expense are not available: "
            f"{result.unavailable.get('write_offs', 'not computed')}."
        )
    return (
        f"{head}: write-offs {money_short(kpis.write_offs, currency)}, "
        f"recoveries {money_short(kpis.recoveries, currency)}, bad-debt expense "
        f"{money_short(kpis.bad_debt_expense, currency)} for the month."
    )


def vintage_matrix(vintages: pd.DataFrame | Unavailable, every: int = 3) -> pd.DataFrame | Unavailable:
    """Cohort × months-since table of cumulative loss % (every ``every`` months, for reading)."""
    if isinstance(vintages, Unavailable) or vintages.empty:
        return vintages
    shown = vintages[vintages["months_since"] % every == 0]
    wide = shown.pivot(index="cohort", columns="months_since", values="loss_pct")
    wide.columns = [f"m{c} %" for c in wide.columns]
    wide = wide.astype(object).where(wide.notna(), None)
    return wide.reset_index()
