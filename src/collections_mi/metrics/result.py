"""The result of one section's computation: KPIs, tables and the conventions in force."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

KpiValue = Decimal | int | None


@dataclass(frozen=True)
class Unavailable:
    """A table (or KPI) the ledger cannot give, and why: shown as "Not available: <reason>" where it would stand."""

    reason: str

    def __str__(self) -> str:
        return f"Not available: {self.reason}."


@dataclass
class SectionResult:
    """What a metrics module returns: everything the notebook, kpis.json, tables/ and the email show."""

    section: str
    kpis: dict[str, KpiValue] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: plain-language statements of the conventions used, shown beside the numbers
    conventions: dict[str, str] = field(default_factory=dict)
    #: tables and KPI ids left out because the ledger lacks what they need → the reason (data-contract.md §1)
    unavailable: dict[str, str] = field(default_factory=dict)

    @classmethod
    def nothing_at(
        cls,
        section: str,
        kpis: tuple[str, ...],
        tables: tuple[str, ...],
        reason: str,
        conventions: dict[str, str] | None = None,
    ) -> SectionResult:
        """A section whose tables exist but hold nothing for the as-of date: every KPI and table not available."""
        result = cls(section, kpis=dict.fromkeys(kpis), conventions=dict(conventions or {}))
        result.omit([*kpis, *tables], reason)
        return result

    def table(self, name: str) -> pd.DataFrame | Unavailable:
        """The table ``name``, or why it is not available."""
        if name in self.tables:
            return self.tables[name]
        return Unavailable(self.unavailable.get(name, f"{name} was not computed"))

    def omit(self, names: list[str] | tuple[str, ...], reason: str) -> None:
        """Leave out tables / KPIs ``names`` and record why."""
        for name in names:
            self.tables.pop(name, None)
            if name in self.kpis:
                self.kpis[name] = None  # the id stays (pages show "–"); kpis.json leaves it out
            self.unavailable[name] = reason
