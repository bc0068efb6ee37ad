"""The pack's sections and the function that computes each, so every number is computed once, here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from collections_mi.config import Params
from collections_mi.metrics.agency import compute_agency
from collections_mi.metrics.aging import compute_aging
from collections_mi.metrics.allowance import compute_allowance
from collections_mi.metrics.balances import Tables, release_balance_tables, with_balance_tables
from collections_mi.metrics.dso import compute_dso
from collections_mi.metrics.fx import FxRates, load_fx
from collections_mi.metrics.result import SectionResult
from collections_mi.metrics.watchlist import compute_watchlist


@dataclass(frozen=True)
class Section:
    name: str
    notebook: str
    title: str
    compute: Callable[[Tables, Params, FxRates], SectionResult]
    #: tables the section needs; a section whose tables are absent is skipped and its KPIs omitted
    needs: tuple[str, ...]
    #: other sections whose results its notebook shows too
    uses: tuple[str, ...] = ()


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section("aging", "01_aging", "Receivables aging", compute_aging, ("customers", "invoices", "payments")),
        Section("dso", "02_dso", "DSO & collection KPIs", compute_dso, ("customers", "invoices", "payments"),
                uses=("aging",)),
        Section("allowance", "03_allowance", "Bad-debt allowance", compute_allowance,
                ("customers", "invoices", "payments")),
        Section("watchlist", "04_watchlist", "Watch-list reserves", compute_watchlist, ("loans", "loan_cash_flows")),
        Section("agency", "05_agency", "Agency performance", compute_agency,
                ("agencies", "agency_placements", "agency_collections")),
    )
}


def available_sections(tables: Mapping[str, object], only: list[str] | None = None) -> list[Section]:
    chosen = [SECTIONS[name] for name in (only or list(SECTIONS))]
    return [s for s in chosen if all(t in tables for t in s.needs)]


def with_dependencies(sections: list[Section]) -> list[Section]:
    """The sections plus those whose results they show, in registry order."""
    wanted = {s.name for s in sections} | {u for s in sections for u in s.uses}
    return [s for name, s in SECTIONS.items() if name in wanted]


def compute_sections(tables: Tables, params: Params, sections: list[Section],
                     progress: Callable[[str], None] | None = None) -> dict[str, SectionResult]:
    """Compute every section once; the results feed kpis.json, tables/, the notebooks and the email."""
    fx = load_fx(tables, params.reporting_currency)
    if progress:
        progress("materialising open-item spans")
    prepared = with_balance_tables(tables, params.reporting_currency)
    results = {}
    try:
        for section in sections:
            if progress:
                progress(f"computing {section.name}")
            results[section.name] = section.compute(prepared, params, fx)
    finally:
        release_balance_tables(prepared)
    return results


def flat_kpis(results: Mapping[str, SectionResult]) -> dict[str, object]:
    kpis: dict[str, object] = {}
    for result in results.values():
        kpis.update(result.kpis)
    return kpis
