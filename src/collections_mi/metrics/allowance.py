"""Bad-debt allowance (shared/metrics.md § Bad-debt allowance): aging-rate and roll-rate (flow-rate / provision
matrix) methods, the month's rollforward to the GL, back-test, cure rates, vintage curves, projection and
write-off candidates.

Balances by bucket come from the aging definitions (same buckets, same basis); every month-end needed — the
lookback of the method, the opening allowance, the back-test — is computed in one engine pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import pandas as pd

from collections_mi.config.params import AgingConfig, Params, QualitativeFactor, WriteOffCandidatesConfig
from collections_mi.core.money import HUNDRED, MONEY_CONTEXT, ZERO, dsum, percent_of, ratio, round_money
from collections_mi.core.periods import (
    closed_month_ends_up_to,
    month_end,
    month_ends_up_to,
    months_between,
    previous_month_end,
    shift_month_end,
)
from collections_mi.metrics.aging import aged_items
from collections_mi.metrics.balances import sharing_open_items
from collections_mi.metrics.book import Book, held_once
from collections_mi.metrics.published import AllowanceKpis, AllowanceResult, AllowanceTables
from collections_mi.metrics.result import Table, Unavailable
from collections_mi.metrics.vintage import (
    VintageEstimate,
    VintageInputs,
    allowance_cells,
    vintage_allowance,
    vintage_inputs,
)
from collections_mi.sources.ledger import fetch

ONE = Decimal(1)
LOSS_RATE_QUANTUM = Decimal("1e-30")
BalancesByMonth = Mapping[dt.date, Mapping[str, Decimal]]

# ---------------------------------------------------------------------------------------------- pure definitions


def aging_rate_allowance(
    balances: Mapping[str, Decimal], rates: Mapping[str, Decimal | None], labels: Sequence[str]
) -> pd.DataFrame:
    """Σ_bucket balance × rate, as a provision matrix: bucket, balance, rate, allowance. A rate that is not
    available (None: a roll rate with nothing to divide by) leaves that bucket's allowance not available too,
    unless the bucket holds nothing (then there is nothing to provide for: 0)."""
    rows = []
    with decimal.localcontext(MONEY_CONTEXT):
        for label in labels:
            balance = balances.get(label, ZERO)
            rate = rates[label]
            rows.append(
                {"bucket": label, "balance": balance, "loss_rate": rate, "allowance": _provision(balance, rate)}
            )
    return pd.DataFrame(rows)


def _provision(balance: Decimal, rate: Decimal | None) -> Decimal | None:
    if rate is None:
        return ZERO if balance == 0 else None
    with decimal.localcontext(MONEY_CONTEXT):
        return balance * rate


@dataclass(frozen=True)
class RollRates:
    """Monthly roll rates r_k(m), their lookback averages r̄_k and the chained loss rates L_k.

    An average with nothing to divide by (no balance in b_k at any month-end it rolls from) is not available
    (None), and so is every loss rate that chains it: L_k for the buckets up to b_k. ``undefined`` says why, per
    bucket whose average is missing."""

    monthly: pd.DataFrame  # month_end, from_bucket, to_bucket, numerator, denominator, roll_rate
    averages: pd.DataFrame  # from_bucket, to_bucket, numerator, denominator, roll_rate
    loss_rates: dict[str, Decimal | None]
    #: from_bucket → why its average roll rate is not available, for the buckets whose average is missing
    undefined: dict[str, str] = field(default_factory=dict)

    def why_not_available(self, buckets: Sequence[str], as_of: dt.date) -> str | None:
        """Why an allowance on the balances of ``buckets`` at ``as_of`` cannot be computed: the missing averages
        their loss rates chain (None when every one of them is available)."""
        labels = list(self.loss_rates)
        held = [b for b in buckets if self.loss_rates.get(b, ZERO) is None]
        if not held:
            return None
        first = min(labels.index(b) for b in held)
        missing = [reason for label, reason in self.undefined.items() if labels.index(label) >= first]
        listed = ", ".join(held)
        return (
            f"{'; '.join(missing)}; the loss rate of {listed}, which {'holds' if len(held) == 1 else 'hold'} a "
            f"balance at {as_of}, depends on it"
        )


#: the ``to_bucket`` of an item open at m−1 that is no longer open at m (paid, credited or written off in full)
CLOSED = "closed"


@dataclass(frozen=True)
class Migration:
    """Where each bucket's items went between consecutive month-ends (metrics.md v1.1, item-level migration).

    Keyed by (month-end m, bucket the items were in at m−1); every amount is in reporting currency at m−1's closing
    rate, so a move in exchange rates is not counted as a roll (and no rate can exceed 100 %)."""

    #: balance at m−1 of the items in the bucket then (the roll rate's denominator)
    balance_before: Mapping[tuple[dt.date, str], Decimal]
    #: balance at m of those items that are in a later bucket at m (the numerator of r_k, k < K)
    rolled: Mapping[tuple[dt.date, str], Decimal]
    #: write-offs dated in month m on those items (the numerator of r_K)
    written_off: Mapping[tuple[dt.date, str], Decimal]
    #: balance at m of those items wherever they are (open at m) — balance_before minus this was paid, credited or
    #: written off in the month
    balance_now: Mapping[tuple[dt.date, str], Decimal] = field(default_factory=dict)
    #: month_end, from_bucket, to_bucket (a bucket, or CLOSED), items, balance_before, balance_now
    matrix: pd.DataFrame = field(default_factory=pd.DataFrame)


def roll_rates(migration: Migration, months: Sequence[dt.date], labels: Sequence[str], overlay: Decimal) -> RollRates:
    """Item-level roll rates over ``months`` (each compared with the month-end before it, metrics.md v1.1).

    r_k(m) = balance at m of the items in b_k at m−1 that are in b_{k+1} or later at m / balance(b_k, m−1) for k < K;
    r_K(m) = write-offs in month m of the items in b_K at m−1 / balance(b_K, m−1). r̄_k = Σ_m numerators / Σ_m
    denominators. L_k = overlay × Π_{j=k..K} r̄_j, capped at 1."""
    last = len(labels) - 1
    monthly_rows = []
    numerators: dict[int, Decimal] = defaultdict(Decimal)
    denominators: dict[int, Decimal] = defaultdict(Decimal)
    for month in months:
        for k in range(last + 1):
            key = (month, labels[k])
            denominator = migration.balance_before.get(key, ZERO)
            numerator = (migration.written_off if k == last else migration.rolled).get(key, ZERO)
            numerators[k] += numerator
            denominators[k] += denominator
            monthly_rows.append(
                {
                    "month_end": month,
                    "from_bucket": labels[k],
                    "to_bucket": "write-off" if k == last else labels[k + 1],
                    "numerator": numerator,
                    "denominator": denominator,
                    "roll_rate": ratio(numerator, denominator),
                }
            )
    averages = []
    average_rates: list[Decimal | None] = []
    undefined: dict[str, str] = {}
    for k in range(last + 1):
        rate = ratio(numerators[k], denominators[k])
        average_rates.append(rate)
        to_bucket = "write-off" if k == last else labels[k + 1]
        averages.append(
            {
                "from_bucket": labels[k],
                "to_bucket": to_bucket,
                "numerator": numerators[k],
                "denominator": denominators[k],
                "roll_rate": rate,
            }
        )
        if rate is None and months:
            starts = [previous_month_end(m) for m in months]
            undefined[labels[k]] = (
                f"the roll rate from {labels[k]} to {to_bucket} has nothing to divide by over "
                f"{min(months):%Y-%m}…{max(months):%Y-%m}: no balance in {labels[k]} at any month-end of the "
                f"lookback ({min(starts)}…{max(starts)}, the month-ends each month rolls from)"
            )
    loss: dict[str, Decimal | None] = {}
    with decimal.localcontext(decimal.Context(prec=40)):
        for k in range(last + 1):
            chained = [rate for rate in average_rates[k:] if rate is not None]
            if len(chained) < last + 1 - k:
                loss[labels[k]] = None  # 0/0 is not 0: a loss rate chaining an undefined average is undefined
                continue
            product = Decimal(overlay)
            for rate in chained:
                product *= rate
            # 30 decimals: far below any cent, and short enough that balance × loss rate stays exact
            loss[labels[k]] = min(product, ONE).quantize(LOSS_RATE_QUANTUM)
    return RollRates(pd.DataFrame(monthly_rows), pd.DataFrame(averages), loss, undefined)


def bad_debt_expense(opening: Decimal, write_offs: Decimal, recoveries: Decimal, closing: Decimal) -> Decimal:
    """The month's charge that makes the allowance roll forward: closing − opening + write-offs − recoveries."""
    with decimal.localcontext(MONEY_CONTEXT):
        return closing - opening + write_offs - recoveries


def rollforward(opening: Decimal, write_offs: Decimal, recoveries: Decimal, closing: Decimal) -> pd.DataFrame:
    """Opening − write-offs + recoveries + bad-debt expense = closing (expense is the balancing charge)."""
    return pd.DataFrame(
        [
            {"line": "Opening allowance", "amount": opening},
            {"line": "− Write-offs", "amount": -write_offs},
            {"line": "+ Recoveries", "amount": recoveries},
            {"line": "+ Bad-debt expense", "amount": bad_debt_expense(opening, write_offs, recoveries, closing)},
            {"line": "Closing allowance", "amount": closing},
        ]
    )


@dataclass(frozen=True)
class QualitativeResult:
    """The qualitative-factor register applied to a quantitative allowance (metrics.md v1.1)."""

    quantitative: Decimal
    final: Decimal
    #: factor, scope, adjustment_pct, rationale, approved_by, balance_in_scope, allowance_in_scope, amount
    register: pd.DataFrame
    #: line, amount: quantitative → each factor → (cap / floor) → final; the steps add up to the final exactly
    waterfall: pd.DataFrame


CAP_OR_FLOOR = "Capped at balance / floored at 0"
REGISTER_COLUMNS = [
    "factor",
    "scope",
    "adjustment_pct",
    "rationale",
    "approved_by",
    "balance_in_scope",
    "allowance_in_scope",
    "amount",
]


def _register(rows: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=REGISTER_COLUMNS)


def _covers(factor: QualitativeFactor, bucket: str, segment: str) -> bool:
    scope = factor.scope
    return scope.kind == "all" or (bucket if scope.kind == "bucket" else segment) in scope.values


def rate_cells(
    balances: Mapping[tuple[str, str], Decimal], loss_rates: Mapping[str, Decimal | None]
) -> dict[tuple[str, str], tuple[Decimal, Decimal]]:
    """(bucket, segment) → (balance, balance × its bucket's loss rate): the quantitative allowance of a rate method
    by cell (a rate that is not available only where nothing is held: checked before)."""
    cells = {}
    with decimal.localcontext(MONEY_CONTEXT):
        for (bucket, segment), balance in balances.items():
            rate = loss_rates.get(bucket)
            cells[(bucket, segment)] = (balance, ZERO if rate is None else balance * rate)
    return cells


def apply_qualitative(
    cells: Mapping[tuple[str, str], tuple[Decimal, Decimal]],
    factors: Sequence[QualitativeFactor],
    method: str,
) -> QualitativeResult:
    """``cells``: (bucket, segment) → (open balance, the method's allowance on it), reporting currency. The
    allowance of the items a factor covers is multiplied by 1 + Σ adjustment_pct / 100 of the factors covering
    them, floored at 0 and capped at their balance. Each factor's amount is its own adjustment_pct / 100 × the
    quantitative allowance it covers; what the floor or the cap takes is a line of its own, so quantitative + Σ
    factors + cap/floor = final, exactly."""
    step = Decimal("0.01")
    quantitative_total = ZERO
    final_total = ZERO
    cap_total = ZERO
    amounts: dict[str, Decimal] = {f.factor: ZERO for f in factors}
    in_scope_balance: dict[str, Decimal] = {f.factor: ZERO for f in factors}
    in_scope_allowance: dict[str, Decimal] = {f.factor: ZERO for f in factors}
    with decimal.localcontext(MONEY_CONTEXT):
        for (bucket, segment), (balance, quantitative) in sorted(cells.items()):
            covering = [f for f in factors if _covers(f, bucket, segment)]
            raw = quantitative
            for factor in covering:
                amount = quantitative * factor.adjustment_pct * step
                amounts[factor.factor] += amount
                in_scope_balance[factor.factor] += balance
                in_scope_allowance[factor.factor] += quantitative
                raw += amount
            final = min(balance, max(ZERO, raw))
            cap_total += final - raw
            quantitative_total += quantitative
            final_total += final
    register = _register(
        [
            {
                "factor": f.factor,
                "scope": f.scope.describe(),
                "adjustment_pct": f.adjustment_pct,
                "rationale": f.rationale,
                "approved_by": f.approved_by,
                "balance_in_scope": in_scope_balance[f.factor],
                "allowance_in_scope": in_scope_allowance[f.factor],
                "amount": amounts[f.factor],
            }
            for f in factors
        ]
    )
    steps = [{"line": f"Quantitative allowance ({method.replace('_', ' ')})", "amount": quantitative_total}]
    steps += [{"line": f.factor, "amount": amounts[f.factor]} for f in factors]
    if cap_total != 0:
        steps.append({"line": CAP_OR_FLOOR, "amount": cap_total})
    steps.append({"line": "Allowance booked", "amount": final_total})
    return QualitativeResult(quantitative_total, final_total, register, pd.DataFrame(steps, columns=["line", "amount"]))


# ---------------------------------------------------------------------------------------------- ledger inputs


def bucket_balances(
    book: Book, aging: AgingConfig, dates: Sequence[dt.date], *, items: ir.Table | None = None
) -> dict[dt.date, dict[str, Decimal]]:
    """Open balance per aging bucket (reporting currency) at each date — one engine pass for all dates. ``items``:
    the aged items at these dates and others, computed once by the caller (:func:`aged_items`'s ``within``)."""
    fx = book.fx
    items = aged_items(book, aging, sorted(set(dates)), within=items)
    frame = (
        items.group_by(["as_of", "currency", "bucket"])
        .aggregate(balance=items.open_balance.sum())
        .to_pyarrow()
        .to_pandas()
    )
    result: dict[dt.date, dict[str, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
    for as_of, currency, bucket, balance in zip(
        frame["as_of"].tolist(), frame["currency"].tolist(), frame["bucket"].tolist(), frame["balance"].tolist()
    ):
        result[as_of][bucket].append(fx.convert(balance, currency, as_of))
    return {d: {b: dsum(v) for b, v in result.get(d, {}).items()} for d in dates}


def item_migration(
    book: Book, aging: AgingConfig, months: Sequence[dt.date], *, items: ir.Table | None = None
) -> Migration:
    """For each month-end m of ``months``: every item open at m−1 (the month-end before) by its bucket then and its
    bucket at m (or closed), and the write-offs dated in month m on the items of each bucket — one engine query for
    the balances, one for the write-offs, whatever the number of months. ``items``: the aged items at these
    month-ends, the ones before them and others, computed once by the caller."""
    months = sorted(set(months))
    if not months:
        return Migration({}, {}, {})
    befores = [previous_month_end(m) for m in months]
    dates = sorted(set(months) | set(befores))
    if items is not None:
        return _migration(book, aging, months, befores, aged_items(book, aging, dates, within=items))
    # the items at every date, computed once: the query below reads them twice (then and now) and the write-offs once
    with held_once(aged_items(book, aging, dates)) as cached:
        return _migration(book, aging, months, befores, cached)


def _migration(
    book: Book, aging: AgingConfig, months: list[dt.date], befores: list[dt.date], items: ir.Table
) -> Migration:
    """:func:`item_migration` from the aged items at ``months`` and ``befores``."""
    pairs = ibis.memtable(
        pd.DataFrame(
            {"pair_before": pd.Series(befores, dtype="object"), "month_end": pd.Series(months, dtype="object")}
        ),
        schema=ibis.schema({"pair_before": "date", "month_end": "date"}),
    )
    then = items.select(
        before=items.as_of,
        invoice_id=items.invoice_id,
        currency=items.currency,
        from_bucket=items.bucket,
        balance_before=items.open_balance,
    )
    then = then.join(pairs, then.before == pairs.pair_before).drop("pair_before")
    later = items.view()
    now = later.select(
        now_as_of=later.as_of, now_invoice_id=later.invoice_id, to_bucket=later.bucket, balance_now=later.open_balance
    )
    moved = then.left_join(now, [then.invoice_id == now.now_invoice_id, then.month_end == now.now_as_of])
    grouped = moved.group_by(["month_end", "before", "currency", "from_bucket", "to_bucket"]).aggregate(
        items=moved.count(),
        balance_before=moved.balance_before.sum(),
        balance_now=moved.balance_now.fill_null(0).sum(),
    )
    frame = fetch(grouped.order_by(["month_end", "from_bucket", "to_bucket", "currency"]))
    written: dict[tuple[dt.date, str], list[Decimal]] = defaultdict(list)
    if book.adjustments is not None:
        adj = book.adjustments
        adj = adj.filter((adj.kind == "write_off") & (adj.adjustment_date <= book.as_of))
        adj = adj.select(written_invoice_id=adj.invoice_id, adjustment_date=adj.adjustment_date, amount=adj.amount)
        joined = then.join(
            adj,
            [
                then.invoice_id == adj.written_invoice_id,
                adj.adjustment_date > then.before,
                adj.adjustment_date <= then.month_end,
            ],
        )
        offs = fetch(
            joined.group_by(["month_end", "before", "currency", "from_bucket"]).aggregate(amount=joined.amount.sum())
        )
        for month, before, currency, bucket, amount in zip(
            offs["month_end"], offs["before"], offs["currency"], offs["from_bucket"], offs["amount"]
        ):
            written[(month, bucket)].append(book.fx.convert(amount, currency, before))
    order = {label: position for position, label in enumerate(aging.labels)}
    before_sums: dict[tuple[dt.date, str], list[Decimal]] = defaultdict(list)
    now_sums: dict[tuple[dt.date, str], list[Decimal]] = defaultdict(list)
    rolled_sums: dict[tuple[dt.date, str], list[Decimal]] = defaultdict(list)
    cells: dict[tuple[dt.date, str, str], list[tuple[int, Decimal, Decimal]]] = defaultdict(list)
    for month, before, currency, source, target, count, then_balance, now_balance in zip(
        frame["month_end"],
        frame["before"],
        frame["currency"],
        frame["from_bucket"],
        frame["to_bucket"],
        frame["items"],
        frame["balance_before"],
        frame["balance_now"],
    ):
        key = (month, source)
        converted_before = book.fx.convert(then_balance, currency, before)
        converted_now = book.fx.convert(now_balance, currency, before)
        before_sums[key].append(converted_before)
        now_sums[key].append(converted_now)
        closed = target is None or (isinstance(target, float) and target != target)
        if not closed and order[target] > order[source]:
            rolled_sums[key].append(converted_now)
        cells[(month, source, CLOSED if closed else target)].append((int(count), converted_before, converted_now))
    columns = ["month_end", "from_bucket", "to_bucket", "items", "balance_before", "balance_now"]
    targets = {label: position for position, label in enumerate([*aging.labels, CLOSED])}
    matrix = pd.DataFrame(
        [
            {
                "month_end": month,
                "from_bucket": source,
                "to_bucket": target,
                "items": sum(c for c, _, _ in parts),
                "balance_before": dsum(b for _, b, _ in parts),
                "balance_now": dsum(n for _, _, n in parts),
            }
            for (month, source, target), parts in sorted(
                cells.items(), key=lambda kv: (kv[0][0], order[kv[0][1]], targets[kv[0][2]])
            )
        ],
        columns=columns,
    )
    return Migration(
        balance_before={k: dsum(v) for k, v in before_sums.items()},
        rolled={k: dsum(v) for k, v in rolled_sums.items()},
        written_off={k: dsum(v) for k, v in written.items()},
        balance_now={k: dsum(v) for k, v in now_sums.items()},
        matrix=matrix,
    )


def _adjustments_in_invoice_currency(book: Book, kind: str, start: dt.date | None = None) -> ir.Table | None:
    """Adjustments of ``kind`` dated from ``start`` (or the first) to as_of, with their invoice's ``currency``."""
    if book.adjustments is None:
        return None
    adj = book.adjustments
    dated = adj.adjustment_date <= book.as_of
    if start is not None:
        dated = (adj.adjustment_date >= start) & dated
    adj = adj.filter((adj.kind == kind) & dated)
    return adj.join(book.invoices.select("invoice_id", "currency"), "invoice_id")


def adjustments_by_month(book: Book, kind: str) -> dict[dt.date, Decimal]:
    """Adjustments of ``kind`` per month (keyed by month-end), each at its own date's closing rate, up to as_of."""
    adj = _adjustments_in_invoice_currency(book, kind)
    if adj is None:
        return {}
    frame = adj.group_by(["currency", "adjustment_date"]).aggregate(amount=adj.amount.sum()).to_pyarrow().to_pandas()
    totals: dict[dt.date, list[Decimal]] = defaultdict(list)
    for currency, day, amount in zip(
        frame["currency"].tolist(), frame["adjustment_date"].tolist(), frame["amount"].tolist()
    ):
        totals[month_end(day)].append(book.fx.convert(amount, currency, day))
    return {m: dsum(v) for m, v in totals.items()}


@dataclass(frozen=True)
class AllowanceEstimate:
    as_of: dt.date
    #: None when a bucket holding a balance has no loss rate (see ``unavailable``)
    total: Decimal | None
    matrix: pd.DataFrame  # bucket, balance, loss_rate, allowance
    rolls: RollRates | None = None
    #: why ``total`` is not available
    unavailable: str | None = None
    #: the vintage method's cohorts, triangle and factors
    vintage: VintageEstimate | None = None
    #: the vintage method's allowance by (bucket, segment): (balance, allowance)
    cells: Mapping[tuple[str, str], tuple[Decimal, Decimal]] | None = None


def roll_rates_at(as_of: dt.date, params: Params, migration: Migration) -> RollRates:
    """The roll rates (and loss rates) of the lookback ending at the last month-end on or before ``as_of``."""
    months = closed_month_ends_up_to(as_of, params.allowance.lookback_months)
    return roll_rates(migration, months, params.aging.labels, params.allowance.overlay)


def allowance_at(
    as_of: dt.date,
    params: Params,
    balances: BalancesByMonth,
    migration: Migration,
    vintage: VintageInputs | None = None,
) -> AllowanceEstimate:
    labels = params.aging.labels
    at = balances.get(as_of, {})
    if params.allowance.method == "vintage":
        if vintage is None:
            raise ValueError("the vintage method needs its inputs (metrics.vintage.vintage_inputs)")
        estimate = vintage_allowance(vintage, as_of, params.allowance.lookback_months, params.allowance.overlay)
        cells = allowance_cells(estimate, vintage.open_cells.get(as_of, {}))
        rows = []
        for label in labels:
            parts = [value for (bucket, _), value in cells.items() if bucket == label]
            balance, allowance = dsum(b for b, _ in parts), dsum(a for _, a in parts)
            rows.append(
                {"bucket": label, "balance": balance, "loss_rate": ratio(allowance, balance), "allowance": allowance}
            )
        return AllowanceEstimate(
            as_of, estimate.total, pd.DataFrame(rows), unavailable=estimate.unavailable, vintage=estimate, cells=cells
        )
    if params.allowance.method == "aging_rates":
        matrix = aging_rate_allowance(at, params.allowance_rates, labels)
        return AllowanceEstimate(as_of, dsum(matrix["allowance"]), matrix)
    rolls = roll_rates_at(as_of, params, migration)
    matrix = aging_rate_allowance(at, rolls.loss_rates, labels)
    held = [label for label in labels if at.get(label, ZERO) != 0]
    reason = rolls.why_not_available(held, as_of)
    total = None if reason is not None else dsum(matrix["allowance"])
    return AllowanceEstimate(as_of, total, matrix, rolls, reason)


def lookback_months(params: Params, dates: Sequence[dt.date]) -> list[dt.date]:
    """Every month-end whose migration (from the month-end before it) the roll rates at ``dates`` need."""
    return sorted({m for day in dates for m in closed_month_ends_up_to(day, params.allowance.lookback_months)})


def gl_allowance(gl: ir.Table | None, day: dt.date) -> Decimal | None:
    if gl is None:
        return None
    rows = gl.filter((gl.account == "allowance") & (gl.period_end == day)).select("amount").to_pyarrow().to_pylist()
    return dsum(r["amount"] for r in rows) if rows else None


# ---------------------------------------------------------------------------------------------- analyses

BACKTEST_MONTHS = 24
BACKTEST_HORIZON_MONTHS = 12
PROJECTION_MONTHS = 3


BACKTEST_COLUMNS = ["month_end", "allowance", "write_offs_next_12m", "difference", "coverage_pct", "horizon_complete"]


def realised_write_offs(
    book: Book, aging: AgingConfig, dates: Sequence[dt.date], *, items: ir.Table | None = None
) -> dict[dt.date, Decimal] | None:
    """Per month-end: the write-offs, over the next 12 months (up to as_of), of the items open then (each at its
    write-off date's rate); None without an adjustments table. One engine query. ``items``: the aged items at these
    dates and others, computed once by the caller."""
    if book.adjustments is None:
        return None
    if not dates:
        return {}
    items = aged_items(book, aging, sorted(dates), within=items).select("as_of", "invoice_id", "currency")
    adj = book.adjustments
    write_offs = adj.filter((adj.kind == "write_off") & (adj.adjustment_date <= book.as_of))
    joined = items.join(write_offs.select("invoice_id", "adjustment_date", "amount"), "invoice_id")
    joined = joined.filter(
        (joined.adjustment_date > joined.as_of)
        & (joined.adjustment_date <= joined.as_of + ibis.interval(months=BACKTEST_HORIZON_MONTHS))
    )
    frame = fetch(joined.group_by(["as_of", "currency", "adjustment_date"]).aggregate(amount=joined.amount.sum()))
    realised: dict[dt.date, list[Decimal]] = defaultdict(list)
    for as_of, currency, day, amount in zip(
        frame["as_of"], frame["currency"], frame["adjustment_date"], frame["amount"]
    ):
        realised[as_of].append(book.fx.convert(amount, currency, day))
    return {d: dsum(realised.get(d, [])) for d in dates}


def backtest(
    estimates: Mapping[dt.date, AllowanceEstimate], realised: Mapping[dt.date, Decimal] | None, as_of: dt.date
) -> pd.DataFrame:
    """Allowance predicted at each past month-end against write-offs of the balances then open, over the next
    12 months (fewer where the horizon reaches past as_of: ``horizon_complete`` is then false)."""
    dates = sorted(estimates)
    if not dates or realised is None:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    rows = []
    for estimate_date in dates:
        predicted = estimates[estimate_date].total  # None: not available at that month-end (a roll rate of 0/0)
        actual = realised.get(estimate_date, ZERO)
        coverage = None if predicted is None else ratio(predicted, actual)
        rows.append(
            {
                "month_end": estimate_date,
                "allowance": predicted,
                "write_offs_next_12m": actual,
                "difference": None if predicted is None else predicted - actual,
                "coverage_pct": None if coverage is None else coverage * HUNDRED,
                "horizon_complete": shift_month_end(estimate_date, BACKTEST_HORIZON_MONTHS) <= as_of,
            }
        )
    return pd.DataFrame(rows, columns=BACKTEST_COLUMNS)


#: how many of the latest month-ends with a complete 12-month horizon the method comparison back-tests
COMPARISON_MONTHS = 12
METHODS = ("aging_rates", "roll_rate", "vintage")


def method_comparison(
    booked: str,
    allowance_at_d: Mapping[str, AllowanceEstimate],
    backtests: Mapping[str, pd.DataFrame],
    ar_total: Decimal,
) -> pd.DataFrame:
    """Every method side by side on the same book (metrics.md v1.1): its allowance at D, coverage of the open
    receivables, and its back-test over the latest COMPARISON_MONTHS month-ends whose 12-month horizon is complete —
    error = Σ |allowance − write-offs that followed| / Σ write-offs × 100, bias = Σ (allowance − write-offs) / Σ
    write-offs × 100 (positive: the method provided more than was lost)."""
    rows = []
    for method, estimate in allowance_at_d.items():
        frame = backtests.get(method, pd.DataFrame(columns=BACKTEST_COLUMNS))
        complete = frame[frame["horizon_complete"].astype(bool)] if len(frame) else frame
        complete = complete.sort_values("month_end").tail(COMPARISON_MONTHS) if len(complete) else complete
        usable = complete[complete["allowance"].notna()] if len(complete) else complete
        actual = dsum(usable["write_offs_next_12m"]) if len(usable) else ZERO
        differences = list(usable["difference"]) if len(usable) else []
        rows.append(
            {
                "allowance_method": method,
                "booked": method == booked,
                "allowance": estimate.total,
                "coverage_pct": None if estimate.total is None else percent_of(estimate.total, ar_total),
                "backtest_months": len(usable),
                "backtest_error_pct": percent_of(dsum(abs(d) for d in differences), actual) if differences else None,
                "backtest_bias_pct": percent_of(dsum(differences), actual) if differences else None,
                "not_available": estimate.unavailable or "",
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "allowance_method",
            "booked",
            "allowance",
            "coverage_pct",
            "backtest_months",
            "backtest_error_pct",
            "backtest_bias_pct",
            "not_available",
        ],
    )


def vintage_curves(book: Book, cohorts: int = 24) -> pd.DataFrame:
    """Static pools by invoice month: cumulative net write-offs (write-offs − recoveries) as % of the cohort's sales,
    by months since the invoice month (long format: cohort, months_since, sales, net_write_offs, loss_pct)."""
    columns = ["cohort", "months_since", "sales", "net_write_offs", "loss_pct"]
    as_of, fx = book.as_of, book.fx
    first_cohort = shift_month_end(as_of, -cohorts_back(cohorts)).replace(day=1)
    inv = book.invoices
    inv = inv.filter((inv.invoice_date >= first_cohort) & (inv.invoice_date <= as_of))
    sales = inv.group_by(["currency", "invoice_date"]).aggregate(amount=inv.amount.sum()).to_pyarrow().to_pandas()
    cohort_sales: dict[dt.date, list[Decimal]] = defaultdict(list)
    for currency_code, day, amount in zip(
        sales["currency"].tolist(), sales["invoice_date"].tolist(), sales["amount"].tolist()
    ):
        cohort_sales[day.replace(day=1)].append(fx.convert(amount, currency_code, day))
    losses: dict[tuple[dt.date, int], list[Decimal]] = defaultdict(list)
    if book.adjustments is not None:
        adj = book.adjustments
        adj = adj.filter(adj.kind.isin(("write_off", "recovery")) & (adj.adjustment_date <= as_of))
        joined = adj.join(inv.select("invoice_id", "currency", "invoice_date"), "invoice_id")
        joined = joined.mutate(cohort=joined.invoice_date.truncate("M"))
        frame = (
            joined.group_by(["cohort", "kind", "currency", "adjustment_date"])
            .aggregate(amount=joined.amount.sum())
            .to_pyarrow()
            .to_pandas()
        )
        for cohort, kind, currency_code, day, amount in zip(
            frame["cohort"], frame["kind"], frame["currency"], frame["adjustment_date"], frame["amount"]
        ):
            cohort = cohort if isinstance(cohort, dt.date) else cohort.date()
            offset = months_between(cohort, day)
            value = fx.convert(amount, currency_code, day)
            losses[(cohort, offset)].append(value if kind == "write_off" else -value)
    rows = []
    for cohort in sorted(cohort_sales):
        total_sales = dsum(cohort_sales[cohort])
        horizon = months_between(cohort, as_of)
        cumulative = ZERO
        for offset in range(horizon + 1):
            cumulative += dsum(losses.get((cohort, offset), []))
            share = ratio(cumulative, total_sales)
            rows.append(
                {
                    "cohort": cohort,
                    "months_since": offset,
                    "sales": total_sales,
                    "net_write_offs": cumulative,
                    "loss_pct": None if share is None else share * HUNDRED,
                }
            )
    return pd.DataFrame(rows, columns=columns)


def cohorts_back(cohorts: int) -> int:
    return cohorts - 1


def project(
    balances_now: Mapping[str, Decimal],
    rolls: RollRates,
    labels: Sequence[str],
    new_current: Decimal,
    months: int = PROJECTION_MONTHS,
) -> list[dict[str, Decimal | None]]:
    """Migration-matrix projection: b₀(t+1) = new current business, b_{k+1}(t+1) = b_k(t) × r̄_k,
    write-offs(t+1) = b_K(t) × r̄_K. Returns one mapping per future month (buckets, write_offs). A balance rolled
    by an average that is not available (0/0) is not available either (None), and so is what it rolls into."""
    rates = list(rolls.averages["roll_rate"])
    last = len(labels) - 1
    state: dict[str, Decimal | None] = {label: balances_now.get(label, ZERO) for label in labels}
    projected = []
    for _ in range(months):
        following: dict[str, Decimal | None] = {labels[0]: new_current}
        for k in range(last):
            following[labels[k + 1]] = _rolled(state[labels[k]], rates[k])
        write_offs = _rolled(state[labels[last]], rates[last])
        projected.append({**following, "write_offs": write_offs})
        state = following
    return projected


def _rolled(balance: Decimal | None, rate: Decimal | None) -> Decimal | None:
    if balance is None:
        return None
    return _provision(balance, rate)


def last_payments(payments: ir.Table, keys: ir.Table) -> ir.Table:
    """For each (``key_customer_id``, ``key_as_of``) of ``keys`` (distinct pairs, few dates): ``last_payment``, the
    customer's latest ``payment_date`` of ``payments`` (``customer_id``, ``payment_date``) on or before the date
    (pairs without one are left out).

    One pass over the payments whatever the number of customers: each payment falls in the interval of the dates
    that ends at the first date on or after it, its customer's latest per interval is kept, and a pair's last
    payment is the latest of its customer's intervals ending on or before its date — not every payment of a
    customer joined to each of its dates (~77M pairs at 10M invoices and the forecast back-test's 7 dates: its
    items took 32 s of the 10M compute that way, 8.5 s this way)."""
    ends = keys.select(end=keys.key_as_of).distinct()
    intervals = ends.mutate(start=ends.end.lag().over(ibis.window(order_by=ends.end)))
    placed = payments.join(
        intervals,
        [
            payments.payment_date <= intervals.end,
            intervals.start.isnull() | (payments.payment_date > intervals.start),
        ],
    )
    latest = placed.group_by(["customer_id", "end"]).aggregate(latest=placed.payment_date.max())
    return (
        keys.join(latest, [keys.key_customer_id == latest.customer_id, latest.end <= keys.key_as_of])
        .group_by(["key_customer_id", "key_as_of"])
        .aggregate(last_payment=lambda t: t.latest.max())
    )


def with_write_off_rules(book: Book, items: ir.Table, rules: WriteOffCandidatesConfig) -> ir.Table:
    """``items`` (open items at one or more ``as_of`` dates, as :func:`aged_items` gives them) with the customer's
    ``last_payment`` on or before each date and the write-off candidate rules ``over_age_limit``,
    ``no_recent_payment`` and ``long_dispute`` (an item is a candidate when any holds). Only payments dated on or
    before an item's ``as_of`` count, so a month-end before as_of sees the candidates of its own date."""
    invoices = book.invoices.select(paid_invoice_id="invoice_id", paid_customer_id="customer_id")
    payments = book.payments.join(invoices, book.payments.invoice_id == invoices.paid_invoice_id)
    last_paid = last_payments(
        payments.select(customer_id="paid_customer_id", payment_date="payment_date"),
        items.select(key_customer_id=items.customer_id, key_as_of=items.as_of).distinct(),
    )
    items = items.left_join(
        last_paid, [items.customer_id == last_paid.key_customer_id, items.as_of == last_paid.key_as_of]
    ).drop("key_customer_id", "key_as_of")
    silent_since = items.as_of - ibis.interval(days=rules.no_payment_days)
    no_payment = items.last_payment.isnull() | (items.last_payment < silent_since)
    return items.mutate(
        over_age_limit=items.days_past_due >= rules.min_days_past_due,
        no_recent_payment=no_payment & (items.days_past_due > 0),
        long_dispute=items.disputed & (items.days_past_due >= rules.disputed_days),
    )


def write_off_candidates(
    book: Book, aging: AgingConfig, rules: WriteOffCandidatesConfig, *, items: ir.Table | None = None
) -> pd.DataFrame:
    """Open items proposed for write-off approval: past the age limit, or no payment from the customer for N days,
    or disputed and past due beyond N days; with the customer's last payment and agency status. ``items``: the aged
    items at as_of and other dates, computed once by the caller."""
    as_of = book.as_of
    items = with_write_off_rules(book, aged_items(book, aging, as_of, within=items), rules)
    items = items.filter(items.over_age_limit | items.no_recent_payment | items.long_dispute)
    customers = book.customers
    extra = [c for c in ("name", "collector") if c in customers.columns]
    items = items.left_join(customers.select("customer_id", *extra), "customer_id").drop("customer_id_right")
    frame = (
        items.select(
            "invoice_id",
            "customer_id",
            *extra,
            "invoice_date",
            "due_date",
            "currency",
            "open_balance",
            "days_past_due",
            "bucket",
            "disputed",
            "last_payment",
            "over_age_limit",
            "no_recent_payment",
            "long_dispute",
        )
        .order_by([ibis.desc("days_past_due"), "invoice_id"])
        .to_pyarrow()
        .to_pandas()
    )
    frame["open_balance_reporting"] = [
        book.fx.convert(a, c, as_of) for a, c in zip(frame["open_balance"].tolist(), frame["currency"].tolist())
    ]
    frame["agency"] = _agency_status(book, frame["customer_id"])
    return frame


def _agency_status(book: Book, customer_ids: pd.Series) -> list[str | None]:
    if book.agency_placements is None or book.agencies is None or not len(customer_ids):
        return [None] * len(customer_ids)
    as_of = book.as_of
    placements = book.agency_placements
    placements = placements.filter(placements.placed_date <= as_of)
    recalled = placements.recalled_date
    active = placements.filter(recalled.isnull() | (recalled > as_of))
    agencies = book.agencies.select("agency_id", agency_name="name")
    frame = (
        active.join(agencies, "agency_id").select("customer_id", "agency_name", "placed_date").to_pyarrow().to_pandas()
    )
    status = {
        c: f"with {n} since {d}"
        for c, n, d in zip(frame["customer_id"].tolist(), frame["agency_name"].tolist(), frame["placed_date"].tolist())
    }
    return [status.get(c) for c in customer_ids]


@dataclass(frozen=True)
class AllowanceDates:
    """The dates the allowance section reads open items at, by what it reads there."""

    opening_date: dt.date
    backtest_dates: list[dt.date]
    projection_base: dt.date
    estimate_dates: list[dt.date]
    #: bucket balances: at each estimate date, the 3 month-ends the projections take new business from, and the
    #: months last year's projection is compared with
    needed: list[dt.date]
    #: the roll rates are shown, projected and compared whatever the method: every estimate date needs its lookback
    migration_months: list[dt.date]
    vintage_dates: list[dt.date]

    @classmethod
    def of(cls, params: Params) -> AllowanceDates:
        as_of = params.as_of
        opening_date = previous_month_end(as_of)
        backtest_dates = month_ends_up_to(opening_date, BACKTEST_MONTHS)
        projection_base = shift_month_end(as_of, -12)
        estimate_dates = sorted({as_of, opening_date, *backtest_dates, projection_base})
        needed = sorted(
            set(estimate_dates)
            | {m for base in (as_of, projection_base) for m in closed_month_ends_up_to(base, 3)}
            | {shift_month_end(projection_base, i) for i in range(1, PROJECTION_MONTHS + 1)}
        )
        return cls(
            opening_date,
            backtest_dates,
            projection_base,
            estimate_dates,
            needed,
            lookback_months(params, estimate_dates),
            sorted({as_of, opening_date, *backtest_dates}),
        )

    @property
    def every(self) -> list[dt.date]:
        """Every date the section reads open items at (the migration's month-ends cover the others)."""
        migration = self.migration_months
        return sorted({*self.needed, *migration, *(previous_month_end(m) for m in migration), *self.vintage_dates})


def allowance_item_dates(params: Params) -> list[dt.date]:
    """Every date :func:`compute_allowance` reads open items at under ``params``."""
    return AllowanceDates.of(params).every


def compute_allowance(book: Book, params: Params) -> AllowanceResult:
    """Everything the allowance section shows; KPIs allowance_total, allowance_opening, bad_debt_expense,
    write_offs, recoveries."""
    as_of = params.as_of
    dates = AllowanceDates.of(params)
    opening_date, backtest_dates, projection_base = dates.opening_date, dates.backtest_dates, dates.projection_base
    estimate_dates, needed, migration_months = dates.estimate_dates, dates.needed, dates.migration_months
    vintage_dates = dates.vintage_dates
    # the open items at every date the section reads, computed once (already, when the run shares them)
    with sharing_open_items(book, dates.every) as sharing:
        aged = aged_items(sharing, params.aging, dates.every)
        balances = bucket_balances(book, params.aging, needed, items=aged)
        migration = item_migration(book, params.aging, migration_months, items=aged)
        write_offs = adjustments_by_month(book, "write_off")
        recoveries = adjustments_by_month(book, "recovery")
        vintage = vintage_inputs(book, params.aging, vintage_dates, items=aged)
        by_method = {
            method: {
                d: allowance_at(d, _with_method(params, method), balances, migration, vintage)
                for d in (estimate_dates if method == params.allowance.method else [as_of, *backtest_dates])
            }
            for method in METHODS
        }
        estimates = by_method[params.allowance.method]
        _vintage_at_d = by_method["vintage"][as_of].vintage
        assert _vintage_at_d is not None
        realised = realised_write_offs(book, params.aging, backtest_dates, items=aged)
        candidates = write_off_candidates(book, params.aging, params.allowance.write_off_candidates, items=aged)
        disputed = _disputed_allowance(book, params.aging, estimates[as_of].matrix, items=aged)
    backtests = {
        method: backtest({d: by_method[method][d] for d in backtest_dates}, realised, as_of) for method in METHODS
    }
    closing = estimates[as_of]
    gl_opening = gl_allowance(book.gl_balances, opening_date)
    opening = gl_opening if gl_opening is not None else estimates[opening_date].total
    # the qualitative-factor register on the method's allowance at D (and on the recomputed opening, so that the
    # month's expense is not the register's whole effect again every month; a GL opening already carries it)
    factors = params.allowance.qualitative
    qualitative = None
    if closing.total is not None and not factors:
        qualitative = QualitativeResult(closing.total, closing.total, _register([]), _plain(closing.total, params))
    elif closing.total is not None:
        # the open balances by bucket and segment come with the vintage inputs (gathered at D and the opening)
        qualitative = apply_qualitative(
            _cells_of(closing, vintage.bucket_segment_balances(as_of)), factors, params.allowance.method
        )
        closing = dataclasses.replace(closing, total=qualitative.final)
        if gl_opening is None and opening is not None:
            opening = apply_qualitative(
                _cells_of(estimates[opening_date], vintage.bucket_segment_balances(opening_date)),
                factors,
                params.allowance.method,
            ).final
    month_key = month_end(as_of)
    month_write_offs = write_offs.get(month_key, ZERO) if as_of == month_key else _partial_month(book, "write_off")
    month_recoveries = recoveries.get(month_key, ZERO) if as_of == month_key else _partial_month(book, "recovery")
    expense = (
        None
        if closing.total is None or opening is None
        else bad_debt_expense(opening, month_write_offs, month_recoveries, closing.total)
    )
    # what the opening or closing allowance cannot give is left out below, with the reason
    roll: Table = (
        Unavailable("the allowance rollforward needs the opening and the closing allowance")
        if closing.total is None or opening is None
        else rollforward(opening, month_write_offs, month_recoveries, closing.total)
    )

    rolls_now = closing.rolls or roll_rates_at(as_of, params, migration)
    rolls_then = roll_rates_at(projection_base, params, migration)
    labels = params.aging.labels
    tables_out = AllowanceTables(
        matrix=closing.matrix,
        rollforward=roll,
        gl_reconciliation=Unavailable("the closing allowance cannot be computed")
        if closing.total is None
        else _gl_reconciliation(book.gl_balances, as_of, closing.total, params.reporting_currency),
        backtest=backtests[params.allowance.method],
        methods=method_comparison(
            params.allowance.method,
            {method: by_method[method][as_of] for method in METHODS},
            backtests,
            dsum(balances.get(as_of, {}).values()),
        ),
        roll_rates_monthly=_wide_roll_rates(rolls_now.monthly),
        roll_rates_average=_with_non_roll(rolls_now.averages),
        loss_rates=pd.DataFrame({"bucket": labels, "loss_rate": [rolls_now.loss_rates[b] for b in labels]}),
        cure_rates=cure_rates(migration, list(rolls_now.monthly["month_end"].unique()), labels),
        migration=migration_table(migration, list(rolls_now.monthly["month_end"].unique())),
        vintages=vintage_curves(book),
        projection=_projection_table(balances, rolls_now, rolls_then, labels, as_of, projection_base, write_offs),
        write_off_candidates=candidates,
        disputed=disputed,
        vintage_cohorts=_vintage_at_d.cohorts,
        vintage_triangle=_vintage_at_d.triangle,
        vintage_factors=_vintage_at_d.factors,
        qualitative=Unavailable("the method's allowance at D cannot be computed")
        if qualitative is None
        else qualitative.register,
        waterfall=Unavailable("the method's allowance at D cannot be computed")
        if qualitative is None
        else qualitative.waterfall,
    )
    method = (
        "aging rates: allowance = Σ bucket balance × configured rate"
        if params.allowance.method == "aging_rates"
        else "vintage: static pools by invoice month, volume-weighted age-to-age factors over the latest "
        f"{params.allowance.lookback_months} cohorts with both ages (chain ladder, tail 1); each cohort's allowance "
        "= min(open balance, ultimate − losses to date)"
        + (f" × overlay {params.allowance.overlay}" if params.allowance.overlay != 1 else "")
        + "; a cohort with no losses yet develops to nothing"
        if params.allowance.method == "vintage"
        else f"item-level roll rates over the last {params.allowance.lookback_months} month-ends (each invoice "
        "followed from one month-end to the next; the last bucket's rate = the month's write-offs of the items in "
        f"it), chained into loss rates, × overlay {params.allowance.overlay}, capped at 100%"
    )
    result = AllowanceResult(
        section="allowance",
        kpis=AllowanceKpis(
            allowance_total=closing.total,
            allowance_opening=opening,
            bad_debt_expense=expense,
            write_offs=month_write_offs,
            recoveries=month_recoveries,
        ),
        tables=tables_out,
        conventions={
            "allowance.method": method,
            "opening": ("gl_balances.allowance at " if gl_opening is not None else "recomputed by the same method at ")
            + str(opening_date),
            "bad_debt_expense": (
                "closing − opening + write-offs − recoveries (the charge that makes the rollforward add up)"
            ),
            "buckets": f"aging buckets ({params.aging.basis} basis): {', '.join(labels)}",
            "qualitative factors": (
                "none: the allowance booked is the method's"
                if not factors
                else f"{len(factors)} in the register, each multiplying the allowance of the items in its scope by "
                "1 + its adjustment % / 100 (factors on the same items add up), floored at 0 and capped at the "
                "items' balance; "
                + (
                    "the opening allowance is the GL's"
                    if gl_opening is not None
                    else "the recomputed opening carries the same factors, so the expense is not their whole effect "
                    "again every month"
                )
            ),
            "method comparison": "every method on the same book: its own allowance at D (before the qualitative "
            "factors), coverage of the open receivables, and its back-test over the latest "
            f"{COMPARISON_MONTHS} month-ends whose 12-month horizon is complete (error = Σ|allowance − write-offs "
            "that followed| / Σ write-offs; bias = Σ(allowance − write-offs) / Σ write-offs, positive = provided more "
            "than was lost); the booked method is the one in params",
            "roll rates": "item-level migration (metrics.md v1.1): the balance a month later of a bucket's items now "
            "in a later bucket, over the bucket's balance; both month-ends at the earlier month-end's exchange rate, "
            "so a currency move is not a roll and no rate exceeds 100%",
        },
    )
    # a loss rate chaining a roll rate of 0/0 is not available, and neither is what is built on it (never 0)
    if opening is None:
        result.omit(
            ["allowance_opening", "bad_debt_expense", "rollforward"],
            f"the opening allowance (recomputed at {opening_date}) cannot be computed: "
            f"{estimates[opening_date].unavailable}",
        )
    if closing.total is None:
        result.omit(
            ["allowance_total", "bad_debt_expense", "rollforward", "gl_reconciliation"],
            f"the allowance at {as_of} cannot be computed: {closing.unavailable}",
        )
    if "gl_balances" in book.shape.left_out:  # an audience's book: the GL is not per customer
        result.omit(["gl_reconciliation"], book.shape.left_out["gl_balances"])
    return result


def _with_method(params: Params, method: str) -> Params:
    if params.allowance.method == method:
        return params
    return params.model_copy(update={"allowance": params.allowance.model_copy(update={"method": method})})


def _cells_of(
    estimate: AllowanceEstimate, balances: Mapping[tuple[str, str], Decimal]
) -> Mapping[tuple[str, str], tuple[Decimal, Decimal]]:
    """The method's allowance by (bucket, segment): the vintage method's own spread, else balance × bucket rate."""
    if estimate.cells is not None:
        return estimate.cells
    return rate_cells(balances, dict(zip(estimate.matrix["bucket"], estimate.matrix["loss_rate"])))


def _plain(total: Decimal, params: Params) -> pd.DataFrame:
    method = params.allowance.method.replace("_", " ")
    return pd.DataFrame(
        [
            {"line": f"Quantitative allowance ({method})", "amount": total},
            {"line": "Allowance booked", "amount": total},
        ],
        columns=["line", "amount"],
    )


def _partial_month(book: Book, kind: str) -> Decimal:
    """Adjustments of ``kind`` from the 1st of as_of's month to as_of (as_of not a month-end)."""
    adj = _adjustments_in_invoice_currency(book, kind, start=book.as_of.replace(day=1))
    if adj is None:
        return ZERO
    rows = adj.group_by(["currency", "adjustment_date"]).aggregate(amount=adj.amount.sum()).to_pyarrow().to_pylist()
    return dsum(book.fx.convert(r["amount"], r["currency"], r["adjustment_date"]) for r in rows)


def _gl_reconciliation(gl_balances: ir.Table | None, as_of: dt.date, computed: Decimal, currency: str) -> pd.DataFrame:
    gl = gl_allowance(gl_balances, as_of)
    if gl is None:
        return pd.DataFrame(
            [
                {"line": "Computed allowance", "amount": computed},
                {"line": "GL allowance", "amount": None},
                {"line": "Proposed journal entry", "amount": None},
            ]
        )
    difference = computed - gl
    shown = round_money(difference, currency)
    entry = (
        "Dr Bad-debt expense / Cr Allowance for doubtful accounts"
        if shown > 0
        else "Dr Allowance for doubtful accounts / Cr Bad-debt expense"
        if shown < 0
        else "none: the GL agrees to the cent"
    )
    return pd.DataFrame(
        [
            {"line": "Computed allowance", "amount": computed},
            {"line": "GL allowance", "amount": gl},
            {"line": f"Proposed journal entry: {entry}", "amount": difference.copy_abs()},
        ]
    )


def _wide_roll_rates(monthly: pd.DataFrame) -> pd.DataFrame:
    """month_end × transition matrix of monthly roll rates (%)."""
    if monthly.empty:
        return monthly
    monthly = monthly.assign(
        transition=[f"{a} → {b}" for a, b in zip(monthly["from_bucket"].tolist(), monthly["to_bucket"].tolist())]
    )
    order = list(dict.fromkeys(monthly["transition"]))
    rows = []
    for month, group in monthly.groupby("month_end", sort=True):
        row: dict[str, object] = {"month_end": month}
        for transition, rate in zip(group["transition"].tolist(), group["roll_rate"].tolist()):
            row[f"{transition} %"] = None if rate is None else rate * HUNDRED
        rows.append(row)
    return pd.DataFrame(rows, columns=["month_end", *[f"{t} %" for t in order]])


def cure_rates(migration: Migration, months: Sequence[dt.date], labels: Sequence[str]) -> pd.DataFrame:
    """Where each bucket's balance went a month later, summed over ``months`` (the roll rates' lookback): rolled on
    to a later bucket, still open in the same or an earlier bucket, or settled — paid, credited or written off in
    the month (of which written off shown apart). ``bucket_balance`` is the bucket's balance at each month-end
    before, summed over the months; the three parts add up to it exactly (each month at its month-end-before rate)."""
    last = len(labels) - 1
    rows = []
    for k, label in enumerate(labels):
        keys = [(month, label) for month in months]
        before = dsum(migration.balance_before.get(key, ZERO) for key in keys)
        now = dsum(migration.balance_now.get(key, ZERO) for key in keys)
        rolled = ZERO if k == last else dsum(migration.rolled.get(key, ZERO) for key in keys)
        written = dsum(migration.written_off.get(key, ZERO) for key in keys)
        settled = before - now
        rows.append(
            {
                "from_bucket": label,
                "bucket_balance": before,
                "rolled_on": rolled,
                "still_open": now - rolled,
                "settled": settled,
                "written_off": written,
                "rolled_on_pct": percent_of(rolled, before),
                "still_open_pct": percent_of(now - rolled, before),
                "settled_pct": percent_of(settled, before),
                "written_off_pct": percent_of(written, before),
            }
        )
    return pd.DataFrame(rows)


def migration_table(migration: Migration, months: Sequence[dt.date]) -> pd.DataFrame:
    """The monthly migration matrix behind the roll rates of ``months``: from-bucket × to-bucket (or closed), items
    and balances at both month-ends."""
    matrix = migration.matrix
    if matrix.empty:
        return matrix
    return matrix[matrix["month_end"].isin(set(months))].reset_index(drop=True)


def _with_non_roll(averages: pd.DataFrame) -> pd.DataFrame:
    """Average roll rates with their complement: the share that did not roll on (paid, credited or cured)."""
    frame = averages.copy()
    frame["roll_rate_pct"] = [None if r is None else r * HUNDRED for r in frame["roll_rate"].tolist()]
    frame["not_rolled_pct"] = [None if r is None else (ONE - r) * HUNDRED for r in frame["roll_rate"].tolist()]
    return frame.drop(columns=["roll_rate"])


def _projection_table(
    balances: BalancesByMonth,
    rolls_now: RollRates,
    rolls_then: RollRates,
    labels: Sequence[str],
    as_of: dt.date,
    base_then: dt.date,
    write_offs: Mapping[dt.date, Decimal],
) -> pd.DataFrame:
    """Next 3 months from as_of, and the same projection made 12 months ago beside what actually happened."""
    rows = []
    for label, base, rolls, actual in (
        ("projection", as_of, rolls_now, False),
        ("last year's projection", base_then, rolls_then, True),
    ):
        lookback = [balances.get(m, {}).get(labels[0], ZERO) for m in closed_month_ends_up_to(base, 3)]
        new_current = dsum(lookback) / len(lookback) if lookback else ZERO
        for step, month in enumerate(project(balances.get(base, {}), rolls, labels, new_current), start=1):
            projected_end = shift_month_end(base, step)
            row: dict[str, object] = {"series": label, "month_end": projected_end}
            row.update({b: month[b] for b in labels})
            row["total"] = None if any(month[b] is None for b in labels) else dsum(month[b] for b in labels)
            row["write_offs"] = month["write_offs"]
            if actual:
                row["actual_total"] = dsum(balances.get(projected_end, {}).values())
                row["actual_write_offs"] = write_offs.get(projected_end, ZERO)
            rows.append(row)
    return pd.DataFrame(rows)


def _disputed_allowance(
    book: Book, aging: AgingConfig, matrix: pd.DataFrame, *, items: ir.Table | None = None
) -> pd.DataFrame:
    """Disputed items stay in their bucket; shown separately with the loss rate of their bucket. ``items``: the aged
    items at as_of and other dates, computed once by the caller."""
    fx = book.fx
    items = aged_items(book, aging, book.as_of, within=items)
    items = items.filter(items.disputed)
    frame = (
        items.group_by(["bucket", "currency"])
        .aggregate(balance=items.open_balance.sum(), items=items.count())
        .to_pyarrow()
        .to_pandas()
    )
    rates = dict(zip(matrix["bucket"].tolist(), matrix["loss_rate"].tolist()))
    rows = []
    for bucket in aging.labels:
        part = frame[frame["bucket"] == bucket]
        balance = dsum(
            fx.convert(b, c, book.as_of) for b, c in zip(part["balance"].tolist(), part["currency"].tolist())
        )
        rows.append(
            {
                "bucket": bucket,
                "items": int(part["items"].sum()),
                "balance": balance,
                "loss_rate": rates[bucket],
                "allowance": _provision(balance, rates[bucket]),
            }
        )
    return pd.DataFrame(rows)
