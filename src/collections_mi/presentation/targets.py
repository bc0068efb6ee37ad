"""A KPI against its target (``report.targets``, metrics.md v1.1 § Targets): green / amber / red, as a word and an
icon beside the colour so it reads in greyscale and to a screen reader.

The rule (:data:`RAG_RULE`, stated in the pack's glossary). The three numbers are thresholds, in the KPI's own unit;
"better" is the direction their order gives (target < red: lower is better):

- **● On target** (green): the value is at or better than ``target``;
- **△ Watch** (amber): worse than ``target`` but better than ``amber`` — the early warning;
- **▲ At risk** (amber): at or worse than ``amber`` but better than ``red``;
- **■ Off target** (red): at or worse than ``red``.

So green means the target is met, red that the limit is reached, and ``amber`` splits the band in between into an
early warning and a real risk. The exact value is compared (kpis.json's), not the rounded display. A KPI the ledger
cannot give has no status.
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

from collections_mi.config.targets import KpiTarget
from collections_mi.presentation import labels
from collections_mi.presentation.format import decimal_places, money_short, percent

RAG_RULE = (
    "Targets (report.targets): ● On target (green) — at or better than the target; △ Watch (amber) — worse than "
    "the target but better than the amber threshold; ▲ At risk (amber) — at or worse than the amber threshold but "
    "better than red; ■ Off target (red) — at or worse than the red threshold. The order of the three thresholds "
    "says which way is better; the exact value is compared, not the rounded one shown."
)


class Status(Enum):
    """A KPI's standing against its target: ``rag`` is its colour, ``icon`` and ``word`` say it without colour."""

    ON_TARGET = ("green", "●", "On target")
    WATCH = ("amber", "△", "Watch")
    AT_RISK = ("amber", "▲", "At risk")
    OFF_TARGET = ("red", "■", "Off target")

    def __init__(self, rag: str, icon: str, word: str) -> None:
        self.rag = rag
        self.icon = icon
        self.word = word

    @property
    def text(self) -> str:
        """ "● On target": the icon and the word."""
        return f"{self.icon} {self.word}"

    @property
    def severity(self) -> int:
        """0 (on target) … 3 (off target)."""
        return list(Status).index(self)


#: the colour of each RAG status: text colours with at least 4.5:1 contrast on white, and a pale background
RAG_COLOURS = {"green": "#1b5e20", "amber": "#8a5300", "red": "#b71c1c"}
RAG_BACKGROUNDS = {"green": "#e8f5e9", "amber": "#fff3e0", "red": "#ffebee"}


def status(value: Decimal | int | None, target: KpiTarget) -> Status | None:
    """``value`` against ``target`` by :data:`RAG_RULE`; None when there is no value."""
    if value is None:
        return None
    sign = 1 if target.lower_is_better else -1  # in "worse is larger" terms
    worse = sign * Decimal(value)
    if worse <= sign * target.target:
        return Status.ON_TARGET
    if worse >= sign * target.red:
        return Status.OFF_TARGET
    if worse >= sign * target.amber:
        return Status.AT_RISK
    return Status.WATCH


#: how each KPI is read: its label; its unit is :func:`labels.kpi_unit`
KPI_LABELS = labels.KPI_LABELS


def kpi_text(kpi: str, value: Decimal | int | None, currency: str) -> str:
    """A KPI's value (or a threshold) as a reader sees it, in its unit (:data:`labels.KPI_UNITS`): "45.0 days",
    "85.00%", "1,234" (a count; the HHI in whole points), "USD 1.2m"."""
    if value is None:
        return "–"
    unit = labels.kpi_unit(kpi)
    if unit == "days":
        return f"{decimal_places(value, 1)} days".replace("-", "−")
    if unit == "percent":
        return percent(value)
    if unit == "index":  # the HHI, 0–10,000: whole points
        return decimal_places(value, 0)
    if unit == "count":
        return f"{Decimal(value):,f}" if Decimal(value) != int(value) else f"{int(value):,}"
    return money_short(value, currency)


def target_text(kpi: str, target: KpiTarget, currency: str) -> str:
    """ "target 45.0 days": what the tile shows beside the status."""
    return f"target {kpi_text(kpi, target.target, currency)}"
