"""The ``vintage`` allowance method (shared/metrics.md v1.1 § Bad-debt allowance): static pools by invoice month with
chain-ladder development.

* Cohort c = the invoice month; L(c, a) = cumulative write-offs net of recoveries of c's invoices by the end of its
  a-th month (a = 0: the invoice month itself); loss ratio = L / Σ invoiced amount of c (reporting currency, each
  amount at its own date's rate).
* Age-to-age factor f_a = Σ_c L(c, a + 1) / Σ_c L(c, a), volume-weighted over the latest ``lookback_months``
  cohorts that have both ages observed (the chain ladder's "latest n diagonals"). A factor whose cohorts have
  lost nothing yet at age a (Σ L(c, a) = 0) is 1 when they have lost nothing at a + 1 either, and not available
  otherwise (losses appearing from nothing cannot be developed by a ratio); no cohort with both ages: 1 (tail
  factor 1). A cohort that has lost nothing yet develops to nothing (0 × f = 0, whatever f): the chain ladder
  reserves only cohorts whose losses have started — the pack says so, and the method comparison shows what that
  costs in the back-test.
* Each cohort's ultimate loss ratio = its latest ratio × the product of the factors from its age on; its allowance =
  min(its open balance at D, max(0, ultimate × sales − losses to date)) × overlay. A cohort older than the
  triangle (``TRIANGLE_COHORTS`` months) is fully developed: its allowance is max(0, 0) = 0.

Pure functions on exact Decimals; the ledger inputs (one engine query each, for every estimate date at once) are
gathered by :func:`vintage_inputs`.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import ibis.expr.types as ir
import pandas as pd

from collections_mi.config.params import AgingConfig
from collections_mi.core.money import MONEY_CONTEXT, ZERO, dsum, percent_of, ratio
from collections_mi.core.periods import months_between, shift_month_end
from collections_mi.core.values import UNASSIGNED
from collections_mi.metrics.aging import aged_items
from collections_mi.metrics.book import Book
from collections_mi.sources.ledger import fetch

ONE = Decimal(1)
#: invoice months in the triangle (the development is read from them; older open items are fully developed)
TRIANGLE_COHORTS = 36
#: 60 significant digits for the products of factors, as for every money sum
FACTOR_CONTEXT = MONEY_CONTEXT
FACTOR_QUANTUM = Decimal("1e-30")


def age_to_age_factors(triangle: Mapping[dt.date, Sequence[Decimal]], lookback: int) -> list[Decimal | None]:
    """f_a for a = 0 … (longest series − 2): ``triangle`` maps each cohort (oldest first when sorted) to its cumulative
    losses by age (a cohort observed for n months has n values). See the module docstring for the rules."""
    longest = max((len(series) for series in triangle.values()), default=0)
    factors: list[Decimal | None] = []
    cohorts = sorted(triangle)
    for age in range(max(longest - 1, 0)):
        both = [c for c in cohorts if len(triangle[c]) > age + 1][-lookback:]
        if not both:
            factors.append(ONE)
            continue
        before = dsum(triangle[c][age] for c in both)
        after = dsum(triangle[c][age + 1] for c in both)
        if before == 0:
            factors.append(ONE if after == 0 else None)
            continue
        with decimal.localcontext(FACTOR_CONTEXT):
            factors.append(after / before)
    return factors


def to_ultimate(factors: Sequence[Decimal | None], age: int) -> Decimal | None:
    """The product of the factors from ``age`` on (the cumulative development factor; tail 1); None when one of them
    is not available."""
    product = ONE
    with decimal.localcontext(FACTOR_CONTEXT):
        for factor in factors[age:]:
            if factor is None:
                return None
            product *= factor
    # 30 decimals (as the roll-rate loss rates): far below any cent, and short enough that losses × factor, and
    # every sum of those, stays exact — so the rollforward built on the allowance adds up to the last digit
    return product.quantize(FACTOR_QUANTUM)


@dataclass(frozen=True)
class VintageInputs:
    """What the vintage allowance at any of the estimate dates is made from (reporting currency)."""

    #: cohort → invoiced amount (every invoice of the cohort dated on or before the estimate date: the whole month
    #: for a cohort whose month has ended)
    sales: Mapping[dt.date, list[tuple[dt.date, Decimal]]]
    #: cohort → (adjustment date, signed amount: write-off +, recovery −)
    losses: Mapping[dt.date, list[tuple[dt.date, Decimal]]]
    #: estimate date → (cohort, aging bucket, customer segment) → open balance at that date
    open_cells: Mapping[dt.date, Mapping[tuple[dt.date, str, str], Decimal]]

    def bucket_segment_balances(self, as_of: dt.date) -> dict[tuple[str, str], Decimal]:
        """(aging bucket, customer segment) → open balance at ``as_of``, whatever the invoice month: what the
        qualitative factors' scopes are matched against for every method."""
        sums: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
        for (_, bucket, segment), balance in self.open_cells.get(as_of, {}).items():
            sums[(bucket, segment)].append(balance)
        return {key: dsum(values) for key, values in sums.items()}

    def open_balances(self, as_of: dt.date) -> dict[dt.date, Decimal]:
        """Cohort → open balance at ``as_of``."""
        sums: dict[dt.date, list[Decimal]] = defaultdict(list)
        for (cohort, _, _), balance in self.open_cells.get(as_of, {}).items():
            sums[cohort].append(balance)
        return {cohort: dsum(values) for cohort, values in sums.items()}


@dataclass(frozen=True)
class VintageEstimate:
    as_of: dt.date
    total: Decimal | None
    #: cohort, age_months, sales, losses, loss_to_date_rate, development_factor, ultimate_loss_rate,
    #: ultimate_losses, open_balance, allowance
    cohorts: pd.DataFrame
    #: cohort → cumulative net write-offs by age (observed), cohort → sales, the age-to-age factors, the lookback
    losses_by_age: Mapping[dt.date, Sequence[Decimal]]
    sales: Mapping[dt.date, Decimal]
    factor_values: Sequence[Decimal | None]
    lookback: int
    unavailable: str | None = None

    @property
    def triangle(self) -> pd.DataFrame:
        """Cohort × age cumulative net write-offs (long: cohort, age_months, losses, loss_pct, projected) — built
        only for the estimate the pack shows, not for every back-test month-end."""
        return _triangle_table(self.losses_by_age, self.sales, self.factor_values)

    @property
    def factors(self) -> pd.DataFrame:
        """age_months, age_to_age_factor, cohorts_used."""
        series = self.losses_by_age
        ages = range(len(self.factor_values))
        return pd.DataFrame(
            {
                "age_months": list(ages),
                "age_to_age_factor": list(self.factor_values),
                "cohorts_used": [len([c for c in series if len(series[c]) > a + 1][-self.lookback :]) for a in ages],
            },
            columns=["age_months", "age_to_age_factor", "cohorts_used"],
        )


COHORT_COLUMNS = [
    "cohort",
    "age_months",
    "sales",
    "losses",
    "loss_to_date_rate",
    "development_factor",
    "ultimate_loss_rate",
    "ultimate_losses",
    "open_balance",
    "allowance",
]


def vintage_allowance(inputs: VintageInputs, as_of: dt.date, lookback: int, overlay: Decimal) -> VintageEstimate:
    """The vintage allowance as of ``as_of`` (only sales and losses dated on or before it count)."""
    first = shift_month_end(as_of, -(TRIANGLE_COHORTS - 1)).replace(day=1)
    cohorts = sorted(c for c in inputs.sales if first <= c <= as_of)
    triangle: dict[dt.date, list[Decimal]] = {}
    sales: dict[dt.date, Decimal] = {}
    for cohort in cohorts:
        sales[cohort] = dsum(amount for day, amount in inputs.sales[cohort] if day <= as_of)
        by_age: dict[int, list[Decimal]] = defaultdict(list)
        for day, amount in inputs.losses.get(cohort, []):
            if day <= as_of:
                by_age[months_between(cohort, day)].append(amount)
        running = ZERO
        series = []
        for age in range(months_between(cohort, as_of) + 1):
            running += dsum(by_age.get(age, []))
            series.append(running)
        triangle[cohort] = series
    factors = age_to_age_factors(triangle, lookback)
    open_now = inputs.open_balances(as_of)
    rows = []
    missing = []
    for cohort in cohorts:
        series = triangle[cohort]
        age = len(series) - 1
        losses = series[-1]
        loss_ratio = ratio(losses, sales[cohort])
        development = to_ultimate(factors, age)
        open_balance = open_now.get(cohort, ZERO)
        if development is None and losses == 0:
            # nothing lost yet: a ratio develops nothing from zero, whatever the later factors (0 × f = 0)
            ultimate_losses: Decimal | None = ZERO
            ultimate = ZERO if loss_ratio is not None else None
        else:
            if development is None and open_balance != 0:
                missing.append(cohort)
            with decimal.localcontext(MONEY_CONTEXT):
                ultimate_losses = None if development is None else losses * development
            ultimate = None if loss_ratio is None or development is None else loss_ratio * development
        with decimal.localcontext(MONEY_CONTEXT):
            allowance = (
                None if ultimate_losses is None else min(open_balance, max(ZERO, ultimate_losses - losses)) * overlay
            )
        rows.append(
            {
                "cohort": cohort,
                "age_months": age,
                "sales": sales[cohort],
                "losses": losses,
                "loss_to_date_rate": loss_ratio,
                "development_factor": development,
                "ultimate_loss_rate": ultimate,
                "ultimate_losses": ultimate_losses,
                "open_balance": open_balance,
                "allowance": ZERO if allowance is None and open_balance == 0 else allowance,
            }
        )
    older = dsum(balance for cohort, balance in open_now.items() if cohort < first)
    frame = pd.DataFrame(rows, columns=COHORT_COLUMNS)
    if older != 0:  # open items older than the triangle: fully developed, no allowance
        frame = pd.concat(
            [
                pd.DataFrame(
                    [{**dict.fromkeys(COHORT_COLUMNS), "open_balance": older, "allowance": ZERO, "losses": None}],
                    columns=COHORT_COLUMNS,
                ).astype(object),
                frame.astype(object),
            ],
            ignore_index=True,
        )
    unavailable = (
        None
        if not missing
        else "an age-to-age factor has losses appearing where the cohorts had lost nothing before (Σ L(c, a) = 0, "
        f"Σ L(c, a + 1) > 0), so it cannot be developed by a ratio; cohorts with an open balance depending on it: "
        f"{', '.join(f'{c:%Y-%m}' for c in missing)}"
    )
    total = None if unavailable else dsum(a for a in frame["allowance"].tolist() if a is not None)
    return VintageEstimate(as_of, total, frame, triangle, sales, factors, lookback, unavailable)


def allowance_cells(
    estimate: VintageEstimate, open_cells: Mapping[tuple[dt.date, str, str], Decimal]
) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(bucket, segment) → (open balance, vintage allowance): each cohort's allowance spread over its open items
    pro rata to their balance — what the provision matrix by bucket and the qualitative factors' scopes read."""
    # cohort → (its allowance, its open balance): the open-item cells of a cohort add up to that balance; a cohort
    # older than the triangle (cohort None in the estimate) has no allowance to spread
    cohorts = estimate.cohorts
    spread = {
        c: (a or ZERO, b)
        for c, a, b in zip(cohorts["cohort"].tolist(), cohorts["allowance"].tolist(), cohorts["open_balance"].tolist())
        if c is not None
    }
    cells: dict[tuple[str, str], list[tuple[Decimal, Decimal]]] = defaultdict(list)
    with decimal.localcontext(MONEY_CONTEXT):
        for (cohort, bucket, segment), balance in open_cells.items():
            allowance, total = spread.get(cohort, (ZERO, ZERO))
            share = ZERO if total == 0 else (allowance * balance / total).quantize(FACTOR_QUANTUM)
            cells[(bucket, segment)].append((balance, share))
    return {key: (dsum(b for b, _ in parts), dsum(a for _, a in parts)) for key, parts in cells.items()}


def _triangle_table(
    triangle: Mapping[dt.date, Sequence[Decimal]], sales: Mapping[dt.date, Decimal], factors: Sequence[Decimal | None]
) -> pd.DataFrame:
    """Long: every cohort × age up to the triangle's longest, observed or projected by the factors."""
    longest = max((len(s) for s in triangle.values()), default=0)
    rows = []
    for cohort, series in sorted(triangle.items()):
        value: Decimal | None = series[-1] if series else ZERO
        for age in range(longest):
            projected = age >= len(series)
            if not projected:
                value = series[age]
            elif value is not None:
                factor = factors[age - 1] if age - 1 < len(factors) else ONE
                with decimal.localcontext(FACTOR_CONTEXT):
                    value = None if factor is None else value * factor
            rows.append(
                {
                    "cohort": cohort,
                    "age_months": age,
                    "losses": value,
                    "loss_pct": None if value is None else percent_of(value, sales[cohort]),
                    "projected": projected,
                }
            )
    return pd.DataFrame(rows, columns=["cohort", "age_months", "losses", "loss_pct", "projected"])


# ---------------------------------------------------------------------------------------------- ledger inputs


def vintage_inputs(
    book: Book, aging: AgingConfig, dates: Sequence[dt.date], *, items: ir.Table | None = None
) -> VintageInputs:
    """Sales and net write-offs by invoice month (each at its own date's rate) for the cohorts any of ``dates``
    needs, and the open balance by invoice month at each date — three engine queries. ``items``: the aged items at
    these dates and others, computed once by the caller."""
    fx = book.fx
    first = shift_month_end(min(dates), -(TRIANGLE_COHORTS - 1)).replace(day=1)
    latest = max(dates)
    inv = book.invoices
    inv = inv.filter((inv.invoice_date >= first) & (inv.invoice_date <= latest))
    frame = fetch(inv.group_by(["currency", "invoice_date"]).aggregate(amount=inv.amount.sum()))
    sales: dict[dt.date, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for currency, day, amount in zip(
        frame["currency"].tolist(), frame["invoice_date"].tolist(), frame["amount"].tolist()
    ):
        sales[day.replace(day=1)].append((day, fx.convert(amount, currency, day)))
    losses: dict[dt.date, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    if book.adjustments is not None:
        adj = book.adjustments
        adj = adj.filter(adj.kind.isin(("write_off", "recovery")) & (adj.adjustment_date <= latest))
        joined = adj.join(inv.select("invoice_id", "currency", "invoice_date"), "invoice_id")
        joined = joined.mutate(cohort=joined.invoice_date.truncate("M"))
        rows = fetch(
            joined.group_by(["cohort", "kind", "currency", "adjustment_date"]).aggregate(amount=joined.amount.sum())
        )
        for cohort, kind, currency, day, amount in zip(
            rows["cohort"], rows["kind"], rows["currency"], rows["adjustment_date"], rows["amount"]
        ):
            cohort = cohort if isinstance(cohort, dt.date) else cohort.date()
            value = fx.convert(amount, currency, day)
            losses[cohort].append((day, value if kind == "write_off" else -value))
    aged = aged_items(book, aging, sorted(set(dates)), within=items)
    customers = book.customers
    segments = customers.select(segment_customer=customers.customer_id, segment=customers.segment)
    items = aged.left_join(segments, aged.customer_id == segments.segment_customer)
    items = items.mutate(cohort=items.invoice_date.truncate("M"))
    balances = fetch(
        items.group_by(["as_of", "cohort", "bucket", "segment", "currency"]).aggregate(balance=items.open_balance.sum())
    )
    cells: dict[dt.date, dict[tuple[dt.date, str, str], list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    for as_of, cohort, bucket, segment, currency, balance in zip(
        balances["as_of"],
        balances["cohort"],
        balances["bucket"],
        balances["segment"],
        balances["currency"],
        balances["balance"],
    ):
        cohort = cohort if isinstance(cohort, dt.date) else cohort.date()
        key = (cohort, bucket, segment if isinstance(segment, str) and segment else UNASSIGNED)
        cells[as_of][key].append(fx.convert(balance, currency, as_of))
    return VintageInputs(
        sales=dict(sales),
        losses=dict(losses),
        open_cells={d: {k: dsum(v) for k, v in cells.get(d, {}).items()} for d in dates},
    )
