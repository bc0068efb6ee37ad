"""``report.targets`` (metrics.md v1.1 § Targets): per KPI id, three thresholds ``target``, ``amber`` and ``red``.

The order of the three says which way is better: ``target < red`` (e.g. DSO 45 / 50 / 55) means lower is better,
``target > red`` (e.g. collection effectiveness 85 / 80 / 75) higher is better; ``amber`` lies between them (it may
equal either end). Each number is in the KPI's own unit as kpis.json holds it: days, percent points (85 = 85 %),
a count, or money in the reporting currency.

What the status is (green / amber / red) is presentation: :mod:`collections_mi.presentation.targets`.

The KPI ids are listed here (config sits below metrics); a test keeps :data:`TARGET_KPIS` equal to the KPI ids the
sections publish.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

#: every KPI id of kpis.json, in its order (metrics/published.py); a target may name any of them
TARGET_KPIS = (
    "ar_total",
    "open_items",
    "past_due_total",
    "top10_share_pct",
    "hhi",
    "unapplied_cash_total",
    "ar_net",
    "disputes_open",
    "disputed_open_total",
    "dispute_days_to_resolve",
    "dso",
    "dso_countback",
    "bpdso",
    "add",
    "cei_pct",
    "days_late_simple",
    "days_late_weighted",
    "days_to_pay_simple",
    "days_to_pay_weighted",
    "terms_weighted",
    "dbt_weighted",
    "on_time_pct",
    "allowance_total",
    "allowance_opening",
    "bad_debt_expense",
    "write_offs",
    "recoveries",
    "watchlist_loans",
    "watchlist_balance",
    "specific_reserve",
    "general_reserve",
    "total_reserve",
    "agency_placed",
    "agency_collected",
    "agency_fees",
    "agency_net_back",
    "agency_liquidation_pct",
    "forecast_13w_total",
    "forecast_wape_pct",
    "forecast_bias_pct",
)


def _number(value: Any) -> Any:
    """A threshold is a number (45, 82.5); yes/no, which YAML reads as booleans, is refused (not read as 1/0)."""
    if isinstance(value, bool):
        raise ValueError("a threshold is a number such as 45 or 82.5, not yes/no")
    return value


Threshold = Annotated[Decimal, BeforeValidator(_number), Field(allow_inf_nan=False)]


class KpiTarget(BaseModel):
    """One KPI's thresholds: ``target`` (the goal), ``amber`` (the early-warning threshold) and ``red`` (the
    limit). Monotonic: target ≤ amber ≤ red (lower is better) or target ≥ amber ≥ red (higher is better), with
    target ≠ red."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: Threshold
    amber: Threshold
    red: Threshold

    @model_validator(mode="after")
    def _monotonic(self) -> KpiTarget:
        target, amber, red = self.target, self.amber, self.red
        if target == red:
            raise ValueError(
                f"target and red are both {target}: the order of the three numbers says which way is better, so "
                "red must differ from target (e.g. DSO target: 45, amber: 50, red: 55 — lower is better)"
            )
        if not (target <= amber <= red or target >= amber >= red):
            raise ValueError(
                f"target {target}, amber {amber}, red {red} are not in order: amber lies between target and red "
                "(target ≤ amber ≤ red when lower is better, e.g. DSO 45, 50, 55; target ≥ amber ≥ red when higher "
                "is better, e.g. collection effectiveness 85, 80, 75)"
            )
        return self

    @property
    def lower_is_better(self) -> bool:
        return self.target < self.red


def _targets_model() -> type[BaseModel]:
    """``report.targets``: one optional entry per KPI id; any other key is refused by name like every params key."""
    fields: dict[str, Any] = dict.fromkeys(TARGET_KPIS, (KpiTarget | None, None))
    return create_model("Targets", __config__=ConfigDict(extra="forbid", frozen=True), **fields)


Targets = _targets_model()


def targets_of(targets: BaseModel) -> dict[str, KpiTarget]:
    """KPI id → its thresholds, for the KPIs that have a target, in kpis.json's order."""
    return {kpi: value for kpi in TARGET_KPIS if (value := getattr(targets, kpi)) is not None}
