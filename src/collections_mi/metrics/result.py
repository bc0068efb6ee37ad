"""The result of one section's computation: KPIs, tables and the conventions in force."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

KpiValue = Decimal | int | None


@dataclass
class SectionResult:
    """What a metrics module returns: everything the notebook, kpis.json, tables/ and the email show."""

    section: str
    kpis: dict[str, KpiValue] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: plain-language statements of the conventions used, shown beside the numbers
    conventions: dict[str, str] = field(default_factory=dict)
