"""The pack's sections and the function that computes each, so every number is computed once, here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from collections_mi.config.params import Params
from collections_mi.metrics.agency import compute_agency
from collections_mi.metrics.aging import aging_item_dates, compute_aging
from collections_mi.metrics.allowance import allowance_item_dates, compute_allowance
from collections_mi.metrics.balances import sharing_open_items
from collections_mi.metrics.book import Book
from collections_mi.metrics.cash import cash_item_dates, compute_cash
from collections_mi.metrics.dso import compute_dso, dso_item_dates
from collections_mi.metrics.promises import sharing_promise_payments
from collections_mi.metrics.published import PUBLISHED
from collections_mi.metrics.result import Needs, SectionKpis, SectionResult, SectionTables
from collections_mi.metrics.shape import LedgerShape
from collections_mi.metrics.watchlist import compute_watchlist


@dataclass(frozen=True)
class Section:
    name: str
    notebook: str
    title: str
    compute: Callable[[Book, Params], SectionResult[Any, Any]]
    #: tables the section needs; a section whose tables are absent is skipped and its KPIs omitted
    needs: tuple[str, ...]
    #: other sections whose results its notebook shows too
    uses: tuple[str, ...] = ()
    #: tables that must have rows for the section to run (``needs`` of optional tables may be header-only)
    needs_rows: tuple[str, ...] = ()
    #: every date the section reads open items at under the params: the open items at the dates of all the run's
    #: sections are computed once (:func:`~collections_mi.metrics.balances.sharing_open_items`)
    open_item_dates: Callable[[Params], Collection[dt.date]] = lambda params: ()
    #: whether the section reads promise statuses: when several do, the payments inside the promises' windows are
    #: computed once (:func:`~collections_mi.metrics.promises.sharing_promise_payments`)
    reads_promise_statuses: bool = False

    @property
    def kpis(self) -> type[SectionKpis]:
        """Every KPI id the section can publish (metrics/published.py)."""
        return PUBLISHED[self.name].kpis

    @property
    def tables(self) -> type[SectionTables]:
        """Every table the section can publish, with its published name (metrics/published.py)."""
        return PUBLISHED[self.name].tables

    def output_needs(self, params: Params) -> dict[str, Needs]:
        """Outputs (KPI ids, table fields) that need optional contract data under ``params``: left out, with the
        reason, when the ledger lacks it (data-contract.md §1) — as each field declares."""
        declared = {**self.kpis.declared(), **self.tables.declared()}
        return {name: needs for name, d in declared.items() if (needs := d.needs_under(params))}


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section(
            "aging",
            "01_aging",
            "Receivables aging",
            compute_aging,
            ("customers", "invoices", "payments"),
            open_item_dates=aging_item_dates,
        ),
        Section(
            "dso",
            "02_dso",
            "DSO & collection KPIs",
            compute_dso,
            ("customers", "invoices", "payments"),
            open_item_dates=dso_item_dates,
            uses=("aging",),
            reads_promise_statuses=True,
        ),
        Section(
            "allowance",
            "03_allowance",
            "Bad-debt allowance",
            compute_allowance,
            ("customers", "invoices", "payments"),
            open_item_dates=allowance_item_dates,
        ),
        Section(
            "watchlist",
            "04_watchlist",
            "Watch-list reserves",
            compute_watchlist,
            ("loans", "loan_cash_flows"),
            needs_rows=("loans",),
        ),
        Section(
            "agency",
            "05_agency",
            "Agency performance",
            compute_agency,
            ("agencies", "agency_placements", "agency_collections"),
            needs_rows=("agencies", "agency_placements"),
        ),
        Section(
            "cash",
            "06_cash",
            "Cash forecast",
            compute_cash,
            ("customers", "invoices", "payments"),
            open_item_dates=cash_item_dates,
            reads_promise_statuses=True,
        ),
    )
}


def available_sections(
    tables: Mapping[str, object], only: list[str] | None = None, shape: LedgerShape | None = None
) -> list[Section]:
    """The sections (all, or ``only``) whose tables the ledger has — with rows where a section needs them (with
    ``shape``; without it, presence is enough)."""
    chosen = [SECTIONS[name] for name in (only or list(SECTIONS))]
    return [
        s
        for s in chosen
        if all(t in tables for t in s.needs) and (shape is None or all(shape.has_rows(t) for t in s.needs_rows))
    ]


def unavailable_sections(tables: Mapping[str, object], shape: LedgerShape) -> dict[str, str]:
    """Sections that cannot run on this ledger → why (for the index page and the email)."""
    reasons = {}
    for section in SECTIONS.values():
        missing = [t for t in section.needs if t not in tables] or [
            t for t in section.needs_rows if not shape.has_rows(t)
        ]
        if missing:
            reasons[section.name] = shape.missing(missing[0])
    return reasons


def with_dependencies(sections: list[Section]) -> list[Section]:
    """The sections plus those whose results they show, in registry order."""
    wanted = {s.name for s in sections} | {u for s in sections for u in s.uses}
    return [s for name, s in SECTIONS.items() if name in wanted]


def compute_sections(
    book: Book,
    params: Params,
    sections: list[Section],
    progress: Callable[[str], None] | None = None,
    *,
    set_aside: Callable[[Mapping[str, SectionResult[Any, Any]]], None] | None = None,
) -> dict[str, SectionResult[Any, Any]]:
    """Compute every section once on ``book`` (opened for ``params``); the results feed kpis.json, tables/, the
    notebooks and the email. ``set_aside``: given each section's result as soon as it is computed, before the next
    section runs, to hold its tables in a compact form (a pack's
    :class:`~collections_mi.store.history.TablesAtRest`); without it each table shares its repeated values.

    What needs optional data the ledger lacks (``book.shape``) is left out of each result, with its reason, and a KPI
    that cannot be computed (e.g. a ratio with nothing to divide by) is None: kpis.json omits both."""
    if (book.as_of, book.reporting_currency) != (params.as_of, params.reporting_currency):
        raise ValueError(
            f"the book is as of {book.as_of} in {book.reporting_currency}, the params as of {params.as_of} in "
            f"{params.reporting_currency}: open the book with these params"
        )
    results = {}
    dates = {day for section in sections for day in section.open_item_dates(params)}
    promise_readers = sum(section.reads_promise_statuses for section in sections)
    with sharing_open_items(book, dates) as book, ExitStack() as stack:
        if promise_readers > 1:
            book = stack.enter_context(sharing_promise_payments(book))
        for position, section in enumerate(sections, start=1):
            if progress:
                progress(f"  {section.name} ({position} of {len(sections)}) …")
            results[section.name] = _computed(section, book, params, set_aside)
    return results


def _computed(
    section: Section,
    book: Book,
    params: Params,
    set_aside: Callable[[Mapping[str, SectionResult[Any, Any]]], None] | None,
) -> SectionResult[Any, Any]:
    """One section's result as :func:`compute_sections` gives it (what the ledger lacks left out, with its reason)."""
    result = section.compute(book, params)
    for output, needs in section.output_needs(params).items():
        reason = book.shape.missing_of(*needs)
        if reason is not None:
            result.omit([output], reason)
    for kpi, value in result.kpis.items():
        if value is None:
            result.unavailable.setdefault(
                kpi,
                f"{kpi} cannot be computed as of {params.as_of} from this "
                "ledger (nothing to divide by: no sales or no settled "
                "invoices in the window)",
            )
    if set_aside is None:
        # one object per repeated value (zeros, dates, labels): the results are held until they are published
        result.tables = result.tables.with_shared_values()
    else:
        # at 10M invoices the DSO section's tables were ~1 GB as Python objects, held while the cash section ran
        set_aside({section.name: result})
    return result


def flat_kpis(results: Mapping[str, SectionResult[Any, Any]]) -> dict[str, object]:
    """kpis.json: every section's KPIs, except those the ledger cannot give (None): omitted, never zero."""
    kpis: dict[str, object] = {}
    for result in results.values():
        kpis.update({kpi: value for kpi, value in result.kpis.items() if value is not None})
    return kpis
