"""Restatements: when a published period is re-run and its numbers change (late-posted data), say what moved.

Compares the new run's kpis.json and keyed tables with the version being replaced; the result is written as
``restatement.json`` and ``tables/restatement_kpis.csv`` / ``tables/restatement_rows.csv`` and shown on the index.
The replaced version itself is kept under ``DIR/.history/<period>/<run_id>/`` by :mod:`collections_mi.outputs.publish`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from collections_mi.core.money import plain
from collections_mi.core.values import decimal_text
from collections_mi.metrics.published import PUBLISHED
from collections_mi.store.results import SECTIONS_FILE, read_kpis, read_results, write_table


@dataclass(frozen=True)
class KeyedTable:
    """A table whose ``key`` column identifies a row and whose ``measure`` a restatement compares row by row
    (declared by the table's field in metrics/published.py: the ones that explain most movements)."""

    name: str
    key: str
    measure: str


def keyed_tables() -> list[KeyedTable]:
    """Every published table that declares a row key, in section and field order."""
    return [
        KeyedTable(declared.file, declared.key, declared.measure)
        for outputs in PUBLISHED.values()
        for declared in outputs.tables.declared().values()
        if declared.file is not None and declared.key is not None and declared.measure is not None
    ]


def kpi_changes(previous: dict[str, Any], current: dict[str, Any], comparable: set[str] | None = None) -> pd.DataFrame:
    """The KPIs whose value differs between the published and the new kpis.json. ``comparable``: the KPI ids both
    versions of collections_mi compute (a KPI a newer version adds, or an older one had, is not a restatement);
    None compares every id."""
    rows = []
    for kpi in dict.fromkeys([*previous, *current]):
        if comparable is not None and kpi not in comparable:
            continue
        before, after = previous.get(kpi), current.get(kpi)
        if before == after:
            continue
        change = plain(Decimal(str(after)) - Decimal(str(before))) if before is not None and after is not None else None
        rows.append({"kpi": kpi, "published": before, "restated": after, "change": change})
    return pd.DataFrame(rows, columns=["kpi", "published", "restated", "change"])


def row_changes(previous_folder: Path, current_folder: Path, limit: int = 50) -> pd.DataFrame:
    """Rows of the keyed tables whose value changed, largest changes first."""
    before = {n: f for r in read_results(previous_folder).values() for n, f in r.tables.published().items()}
    after = {n: f for r in read_results(current_folder).values() for n, f in r.tables.published().items()}
    rows = []
    for keyed in keyed_tables():
        table, key, value = keyed.name, keyed.key, keyed.measure
        if table not in before or table not in after:
            continue
        old = dict(zip(before[table][key], before[table][value]))
        new = dict(zip(after[table][key], after[table][value]))
        for identifier in dict.fromkeys([*old, *new]):
            was, now = old.get(identifier), new.get(identifier)
            if was == now:
                continue
            change = (now or Decimal(0)) - (was or Decimal(0))
            rows.append(
                {
                    "table": table,
                    "key": str(identifier),
                    "measure": value,
                    "published": was,
                    "restated": now,
                    "change": change,
                }
            )
    frame = pd.DataFrame(rows, columns=["table", "key", "measure", "published", "restated", "change"])
    if frame.empty:
        return frame
    order = frame["change"].map(lambda c: -abs(c))
    return (
        frame.assign(_order=order)
        .sort_values(["table", "_order"], kind="stable")
        .drop(columns="_order")
        .groupby("table", sort=False)
        .head(limit)
        .reset_index(drop=True)
    )


def _computed_ids(folder: Path) -> set[str] | None:
    """The KPI ids the version that wrote ``folder`` computes (tables/_sections.json), None when not recorded."""
    sections = folder / "tables" / SECTIONS_FILE
    if not sections.is_file():
        return None
    return {kpi for meta in json.loads(sections.read_text(encoding="utf-8")).values() for kpi in meta.get("kpis", [])}


def _computed_by_both(published: Path, staging: Path) -> set[str] | None:
    before, after = _computed_ids(published), _computed_ids(staging)
    return None if before is None or after is None else before & after


def compare_with_published(published: Path, staging: Path) -> dict[str, Any] | None:
    """Write the restatement files into ``staging`` when ``published`` exists and any KPI changed; return a summary."""
    if not (published / "kpis.json").is_file():
        return None
    previous_run = (
        json.loads((published / "run.json").read_text(encoding="utf-8")).get("run_id", "unknown")
        if (published / "run.json").is_file()
        else "unknown"
    )
    kpis = kpi_changes(read_kpis(published), read_kpis(staging), _computed_by_both(published, staging))
    if kpis.empty:
        return {"restated": False, "previous_run_id": previous_run}
    rows = row_changes(published, staging)
    write_table(kpis, staging / "tables" / "restatement_kpis.csv")
    write_table(rows, staging / "tables" / "restatement_rows.csv")
    summary = {
        "restated": True,
        "previous_run_id": previous_run,
        "kpis": [
            {k: (decimal_text(v) if isinstance(v, Decimal) else v) for k, v in r.items()}
            for r in kpis.to_dict("records")
        ],
        "rows_changed": int(len(rows)),
    }
    (staging / "restatement.json").write_text(json.dumps(summary, indent=1, default=str), encoding="utf-8")
    return summary
