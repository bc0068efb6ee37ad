"""Properties of the metrics on tiny random ledgers (hypothesis), computed through the library in-process.

Each example is a contract-form CSV ledger (1-6 customers, 1-15 invoices in a six-month window, payments and
credit notes / discounts / write-offs that never over-apply, optionally a second currency with fx_rates).
Deterministic: derandomized, no example database, a modest number of examples (PROPERTY_EXAMPLES scales them).

- aging buckets sum to ar_total, their items to open_items (and past_due_total ≤ ar_total);
- as of D, rows dated after D change no KPI;
- shuffling row order changes nothing; splitting a payment into two of the same date changes nothing;
- an explicit reporting-currency column plus fx_rates (rate 1 for the reporting currency, and an unused
  currency) changes nothing on an all-reporting-currency ledger;
- ar_total, open_items, past_due_total, the DSO family, payment behaviour and concentration equal tests/oracle.py's
  independent computation.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import oracle
from conftest import write_params

REPORTING = "USD"
START = dt.date(2026, 5, 1)
AS_OF = dt.date(2026, 10, 31)
WINDOW = (AS_OF - START).days + 1
#: the tables of a tiny ledger, as fields of :class:`Tiny`
TABLES = ("customers", "invoices", "payments", "adjustments", "fx")
KINDS = ("payment", "payment", "payment", "credit_note", "discount", "write_off")

#: one library computation of a tiny ledger costs ~2 s (Ibis compiles ~40 queries), so the metamorphic tests, which
#: compute several ledgers per example, run fewer examples; PROPERTY_EXAMPLES scales them all (e.g. 4 for a soak run)
SCALE = float(os.environ.get("PROPERTY_EXAMPLES", "1"))


def profile(examples: int) -> settings:
    return settings(
        max_examples=max(1, round(examples * SCALE)),
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ------------------------------------------------------------------------------------------ tiny ledgers


@dataclass
class Tiny:
    customers: list[list[str]]
    invoices: list[list[str]]  # invoice_id, customer_id, invoice_date, due_date, amount[, currency]
    payments: list[list[str]]  # payment_id, invoice_id, payment_date, amount
    adjustments: list[list[str]]  # adjustment_id, invoice_id, adjustment_date, kind, amount
    fx: list[list[str]] = field(default_factory=list)  # rate_date, currency, rate
    currency_column: bool = False

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        invoice_header = ["invoice_id", "customer_id", "invoice_date", "due_date", "amount"]
        invoices = self.invoices
        if self.currency_column:
            invoice_header.append("currency")
        else:
            invoices = [row[:5] for row in invoices]
        tables = {
            "customers": (["customer_id", "name"], self.customers),
            "invoices": (invoice_header, invoices),
            "payments": (["payment_id", "invoice_id", "payment_date", "amount"], self.payments),
            "adjustments": (["adjustment_id", "invoice_id", "adjustment_date", "kind", "amount"], self.adjustments),
        }
        if self.fx:
            tables["fx_rates"] = (["rate_date", "currency", "rate"], self.fx)
        for name, (header, rows) in tables.items():
            with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(rows)
        return folder


def money(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


@st.composite
def tiny_ledgers(draw, foreign: bool | None = None) -> Tiny:
    """A valid tiny ledger; ``foreign`` None = maybe a EUR share, False = reporting currency only."""
    n_customers = draw(st.integers(1, 6))
    n_invoices = draw(st.integers(1, 15))
    use_eur = draw(st.booleans()) if foreign is None else foreign
    customers = [[f"C{i}", f"Customer {i}"] for i in range(1, n_customers + 1)]
    invoices, payments, adjustments = [], [], []
    for i in range(1, n_invoices + 1):
        invoice_day = START + dt.timedelta(days=draw(st.integers(0, WINDOW - 1)))
        due = invoice_day + dt.timedelta(days=draw(st.sampled_from([0, 14, 30, 45, 60])))
        cents = draw(st.integers(100, 500_000))
        currency = draw(st.sampled_from(["USD", "USD", "EUR"])) if use_eur else "USD"
        invoices.append(
            [
                f"I{i}",
                f"C{draw(st.integers(1, n_customers))}",
                invoice_day.isoformat(),
                due.isoformat(),
                money(cents),
                currency,
            ]
        )
        remaining = cents
        for j in range(draw(st.integers(0, 3))):
            if remaining == 0:
                break
            amount = draw(st.one_of(st.just(remaining), st.integers(1, remaining)))
            remaining -= amount
            offset = draw(st.integers(-10, 120))  # prepayments exist (contract §2 payments)
            when = min(max(invoice_day + dt.timedelta(days=offset), START), AS_OF)
            kind = draw(st.sampled_from(KINDS))
            if kind == "payment":
                payments.append([f"P{i}-{j}", f"I{i}", when.isoformat(), money(amount)])
            else:
                adjustments.append([f"A{i}-{j}", f"I{i}", when.isoformat(), kind, money(amount)])
    fx = []
    if use_eur:
        day = START - dt.timedelta(days=1)
        while day <= AS_OF:
            fx.append([day.isoformat(), "EUR", draw(st.sampled_from(["1.05", "1.0831", "1.1", "0.9875"]))])
            day += dt.timedelta(days=draw(st.integers(7, 40)))
    return Tiny(customers, invoices, payments, adjustments, fx, currency_column=use_eur)


# ------------------------------------------------------------------------------------------ the library


def compute(tiny: Tiny, as_of: dt.date = AS_OF, sections: tuple[str, ...] | None = None, with_oracle: bool = False):
    """(flat KPIs, section results, oracle figures) for ``tiny`` as of ``as_of``, through the library in-process
    (no validation gate: the ledgers are valid by construction); ``sections`` = a subset of the pack's."""
    from collections_mi.config.params import load_params
    from collections_mi.metrics.book import open_book
    from collections_mi.metrics.sections import SECTIONS, available_sections, compute_sections, flat_kpis
    from collections_mi.sources.ledger import open_ledger

    with tempfile.TemporaryDirectory() as folder:
        ledger_folder = tiny.write(Path(folder) / "ledger")
        params_path = write_params(Path(folder), ledger_folder, as_of=as_of.isoformat())
        params = load_params(params_path)
        ledger = open_ledger(params, params_path)
        try:
            chosen = available_sections(ledger.typed) if sections is None else [SECTIONS[n] for n in sections]
            with open_book(ledger, params) as book:
                results = compute_sections(book, params, chosen)
        finally:
            disconnect = getattr(ledger.backend, "disconnect", None)
            if disconnect:
                disconnect()
        truth = {}
        if with_oracle:
            book = oracle.Ledger(ledger_folder, REPORTING)
            truth.update(oracle.aging(book, as_of))
            truth.update(oracle.dso_family(book, as_of))
            truth.update(oracle.payment_behaviour(book, as_of))
            truth.update(oracle.concentration(book, as_of))
    return flat_kpis(results), results, truth


# ------------------------------------------------------------------------------------------ properties


@profile(30)
@given(tiny_ledgers())
def test_aging_adds_up_and_ar_and_dso_family_equal_the_oracle(tiny: Tiny) -> None:
    """One library computation per example (~2 s) serves both properties: the aging adds up, and the AR and DSO
    family equal the independent oracle's."""
    kpis, results, truth = compute(tiny, sections=("aging", "dso"), with_oracle=True)
    aging = results["aging"].tables.buckets
    assert sum(aging["amount"]) == kpis["ar_total"]
    assert sum(aging["items"]) == kpis["open_items"]
    assert 0 <= kpis["past_due_total"] <= kpis["ar_total"]
    for kpi in (
        "ar_total",
        "open_items",
        "past_due_total",
        "dso",
        "bpdso",
        "add",
        "dso_countback",
        "cei_pct",
        "days_late_simple",
        "days_late_weighted",
        "days_to_pay_simple",
        "days_to_pay_weighted",
        "terms_weighted",
        "dbt_weighted",
        "on_time_pct",
        "top10_share_pct",
        "hhi",
    ):
        expected = truth[kpi]
        if expected is None:
            assert kpis.get(kpi) is None, f"{kpi}: oracle says undefined, library says {kpis.get(kpi)}"
        else:
            assert kpi in kpis and kpis[kpi] is not None, f"{kpi} missing (oracle {expected})"
            assert abs(Decimal(kpis[kpi]) - Decimal(expected)) <= Decimal("1e-9") * max(1, abs(Decimal(expected))), (
                f"{kpi}: library {kpis[kpi]} vs oracle {expected}"
            )


def _only_up_to(tiny: Tiny, as_of: dt.date) -> Tiny:
    """The ledger without its rows dated after ``as_of`` (a fresh copy)."""
    keep = lambda day: dt.date.fromisoformat(day) <= as_of  # noqa: E731
    invoices = [list(r) for r in tiny.invoices if keep(r[2])]
    ids = {r[0] for r in invoices}
    if not invoices:  # keep the ledger non-empty: one early invoice
        invoices = [["I0", tiny.customers[0][0], START.isoformat(), START.isoformat(), "10.00", "USD"]]
        ids = {"I0"}
    return replace(
        tiny,
        invoices=invoices,
        payments=[list(r) for r in tiny.payments if r[1] in ids and keep(r[2])],
        adjustments=[list(r) for r in tiny.adjustments if r[1] in ids and keep(r[2])],
        fx=[list(r) for r in tiny.fx],
    )


@profile(15)
@given(tiny_ledgers(), st.randoms(use_true_random=False), st.data())
def test_later_rows_row_order_payment_splits_and_unit_rates_change_nothing(
    tiny: Tiny, rnd: random.Random, data
) -> None:
    """Four changes that must change no KPI as of D:
    - rows dated after D: later invoices (some with their own payments) and later payments / credit notes on
      existing invoices (within their remaining balance, so nothing over-applies);
    - every table's rows shuffled;
    - one payment split into two of the same date;
    - for an all-reporting-currency ledger, an explicit USD currency column + fx_rates with USD at rate 1 (and
      maybe an unused currency's rates) instead of no currency column and no fx_rates.
    One computation of the base ledger (its rows up to D) and one of the ledger with all four changes (each
    computation of a tiny ledger costs ~2 s); only when they differ is each change computed alone, so the failure
    names the change that moved the KPIs."""
    as_of = data.draw(st.sampled_from([dt.date(2026, 7, 31), dt.date(2026, 8, 31), dt.date(2026, 9, 15), AS_OF]))
    tiny = _only_up_to(tiny, as_of)
    base_ledger = (
        tiny
        if tiny.currency_column and any(r[5] != REPORTING for r in tiny.invoices)
        else replace(tiny, currency_column=False, fx=[])
    )
    changes: dict[str, Callable[[Tiny], Tiny]] = {}

    later = lambda: (as_of + dt.timedelta(days=data.draw(st.integers(1, 60)))).isoformat()  # noqa: E731
    later_payments: list[list[str]] = []
    later_adjustments: list[list[str]] = []
    applied: dict[str, int] = {}
    for row in base_ledger.payments + base_ledger.adjustments:
        applied[row[1]] = applied.get(row[1], 0) + int(Decimal(row[-1]) * 100)
    for row in base_ledger.invoices:
        left = int(Decimal(row[4]) * 100) - applied.get(row[0], 0)
        if left > 0 and data.draw(st.booleans()):
            amount = data.draw(st.integers(1, left))
            if data.draw(st.booleans()):
                later_payments.append([f"LP-{row[0]}", row[0], later(), money(amount)])
            else:
                later_adjustments.append([f"LA-{row[0]}", row[0], later(), "credit_note", money(amount)])
    later_invoices: list[list[str]] = []
    for k in range(data.draw(st.integers(1, 3))):
        day = later()
        customer = data.draw(st.sampled_from([c[0] for c in base_ledger.customers]))
        later_invoices.append([f"LI{k}", customer, day, day, "100.00", REPORTING])
        if data.draw(st.booleans()):
            later_payments.append([f"LIP{k}", f"LI{k}", day, "40.00"])
    changes[f"rows dated after {as_of}"] = lambda ledger: replace(
        ledger,
        invoices=[list(r) for r in ledger.invoices] + [list(r) for r in later_invoices],
        payments=[list(r) for r in ledger.payments] + [list(r) for r in later_payments],
        adjustments=[list(r) for r in ledger.adjustments] + [list(r) for r in later_adjustments],
    )

    order = {name: rnd.sample(range(n), n) for name in TABLES for n in [len(getattr(base_ledger, name))]}
    changes["shuffling every table's rows"] = lambda ledger: replace(
        ledger, **{name: [getattr(ledger, name)[i] for i in order[name]] for name in TABLES}
    )

    splittable = [i for i, row in enumerate(base_ledger.payments) if Decimal(row[3]) >= Decimal("0.02")]
    if splittable:
        index = data.draw(st.sampled_from(splittable), label="payment to split")
        payment_id, invoice_id, day, amount = base_ledger.payments[index]
        cents = int(Decimal(amount) * 100)
        first = data.draw(st.integers(1, cents - 1), label="first part (cents)")
        parts = [
            [f"{payment_id}a", invoice_id, day, money(first)],
            [f"{payment_id}b", invoice_id, day, money(cents - first)],
        ]
        changes[f"splitting payment {payment_id}"] = lambda ledger: replace(
            ledger, payments=[list(r) for r in ledger.payments if r[0] != payment_id] + [list(r) for r in parts]
        )

    if not base_ledger.currency_column:
        fx = [[(START - dt.timedelta(days=1)).isoformat(), "USD", "1"], ["2026-08-31", "USD", "1.0"]]
        if data.draw(st.booleans(), label="unused currency's rates too"):
            fx.append([(START - dt.timedelta(days=1)).isoformat(), "GBP", "1.27"])
        changes["an explicit USD column + unit USD rates"] = lambda ledger: replace(
            ledger, currency_column=True, fx=fx, invoices=[[*r[:5], REPORTING] for r in ledger.invoices]
        )

    base = compute(base_ledger, as_of)[0]
    changed = base_ledger
    for change in changes.values():
        changed = change(changed)
    if compute(changed, as_of)[0] != base:
        culprits = [name for name, change in changes.items() if compute(change(base_ledger), as_of)[0] != base]
        pytest.fail(f"changed the KPIs: {', '.join(culprits) or 'only all the changes together'}")
