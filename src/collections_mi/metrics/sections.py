"""The pack's sections and the function that computes each, so every number is computed once, here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from collections_mi.config.params import Params
from collections_mi.metrics.agency import compute_agency
from collections_mi.metrics.aging import compute_aging
from collections_mi.metrics.allowance import compute_allowance
from collections_mi.metrics.book import Book
from collections_mi.metrics.dso import compute_dso
from collections_mi.metrics.result import SectionResult
from collections_mi.metrics.shape import LedgerShape
from collections_mi.metrics.watchlist import compute_watchlist

#: what one output (a table or KPI id) needs: (table, column) pairs, column None = the table with rows
Needs = tuple[tuple[str, str | None], ...]


def _customer_column(column: str) -> Needs:
    return (("customers", column),)


@dataclass(frozen=True)
class Section:
    name: str
    notebook: str
    title: str
    compute: Callable[[Book, Params], SectionResult]
    #: tables the section needs; a section whose tables are absent is skipped and its KPIs omitted
    needs: tuple[str, ...]
    #: other sections whose results its notebook shows too
    uses: tuple[str, ...] = ()
    #: tables that must have rows for the section to run (``needs`` of optional tables may be header-only)
    needs_rows: tuple[str, ...] = ()
    #: outputs (tables, KPI ids) that need optional contract data, per params: left out, with the reason, when the
    #: ledger lacks it (data-contract.md §1)
    output_needs: Callable[[Params], dict[str, Needs]] = lambda params: {}


def _aging_needs(params: Params) -> dict[str, Needs]:
    disputed = (("invoices", "disputed"),)
    return {
        "aging_by_segment": _customer_column("segment"),
        "aging_by_region": _customer_column("region"),
        "aging_by_collector": _customer_column("collector"),
        "aging_over_credit_limit": _customer_column("credit_limit"),
        "aging_disputed_buckets": disputed,
        "aging_disputed_items": disputed,
    }


def _dso_needs(params: Params) -> dict[str, Needs]:
    promises = (("promises", None),)
    return {
        "dso_by_segment": _customer_column("segment"),
        "dso_by_region": _customer_column("region"),
        "dso_by_collector": _customer_column("collector"),
        "dso_collectors": _customer_column("collector"),
        "dso_by_risk_band": _customer_column("risk_score"),
        "promises": promises,
        "promises_kept_rate_trend": promises,
    }


def _allowance_needs(params: Params) -> dict[str, Needs]:
    adjustments = (("adjustments", None),)
    # write-offs and recoveries are adjustments: without them every write-off-driven view would read as "no losses"
    write_off_driven = (
        "write_offs",
        "recoveries",
        "bad_debt_expense",
        "allowance_rollforward",
        "allowance_backtest",
        "roll_rates_monthly",
        "roll_rates_average",
        "loss_rates",
        "allowance_vintages",
        "allowance_projection",
    )
    needs: dict[str, Needs] = dict.fromkeys(write_off_driven, adjustments)
    needs["allowance_disputed"] = (("invoices", "disputed"),)
    if params.allowance.method == "roll_rate":  # the last bucket's roll rate is its write-offs
        needs.update(
            dict.fromkeys(
                ("allowance_total", "allowance_opening", "allowance_matrix", "allowance_gl_reconciliation"), adjustments
            )
        )
    return needs


SECTIONS: dict[str, Section] = {
    s.name: s
    for s in (
        Section(
            "aging",
            "01_aging",
            "Receivables aging",
            compute_aging,
            ("customers", "invoices", "payments"),
            output_needs=_aging_needs,
        ),
        Section(
            "dso",
            "02_dso",
            "DSO & collection KPIs",
            compute_dso,
            ("customers", "invoices", "payments"),
            uses=("aging",),
            output_needs=_dso_needs,
        ),
        Section(
            "allowance",
            "03_allowance",
            "Bad-debt allowance",
            compute_allowance,
            ("customers", "invoices", "payments"),
            output_needs=_allowance_needs,
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
            output_needs=lambda params: {"agency_champion_challenger": (("agencies", "strategy"),)},
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
) -> dict[str, SectionResult]:
    """Compute every section once on ``book`` (opened for ``params``); the results feed kpis.json, tables/, the
    notebooks and the email.

    What needs optional data the ledger lacks (``book.shape``) is left out of each result, with its reason, and a KPI
    that cannot be computed (e.g. a ratio with nothing to divide by) is None: kpis.json omits both."""
    if (book.as_of, book.reporting_currency) != (params.as_of, params.reporting_currency):
        raise ValueError(
            f"the book is as of {book.as_of} in {book.reporting_currency}, the params as of {params.as_of} in "
            f"{params.reporting_currency}: open the book with these params"
        )
    shape = book.shape
    results = {}
    for section in sections:
        if progress:
            progress(f"computing {section.name}")
        result = section.compute(book, params)
        for output, needs in section.output_needs(params).items():
            reason = shape.missing_of(*needs)
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
        results[section.name] = result
    return results


def flat_kpis(results: Mapping[str, SectionResult]) -> dict[str, object]:
    """kpis.json: every section's KPIs, except those the ledger cannot give (None): omitted, never zero."""
    kpis: dict[str, object] = {}
    for result in results.values():
        kpis.update({kpi: value for kpi, value in result.kpis.items() if value is not None})
    return kpis
