"""Watch-list reserves (shared/metrics.md § Watch-list reserves) on the `loans` / `loan_cash_flows` snapshots.

Specific reserve per loan with an impairment method — `cash_flows`: max(0, balance − PV), PV = Σ amount /
(1 + effective_rate)^t, t = (flow_date − D) days / 365; `collateral`: max(0, balance − collateral_value ×
(1 − cost_to_sell_rate)). General reserve for the other loans: balance × general_rates[risk_grade]. Loans with
status `reo` or `closed` carry no reserve.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal

import ibis.expr.types as ir
import pandas as pd

from collections_mi.config.params import Params
from collections_mi.core.contract import RISK_GRADES, RiskGrade
from collections_mi.core.money import MONEY_CONTEXT, ZERO, dsum, percent_of
from collections_mi.metrics.book import Book, present
from collections_mi.metrics.published import WatchlistKpis, WatchlistResult, WatchlistTables
from collections_mi.metrics.result import KpiValue

PV_CONTEXT = decimal.Context(prec=50)
DAYS_PER_YEAR = Decimal(365)
NO_RESERVE_STATUSES = ("reo", "closed")
GRADE_ORDER = {grade: position for position, grade in enumerate(RISK_GRADES)}

# ---------------------------------------------------------------------------------------------- pure definitions


def present_value(flows: Iterable[tuple[dt.date, Decimal]], effective_rate: Decimal, as_of: dt.date) -> Decimal:
    """Σ amount / (1 + r)^t with t = (flow_date − as_of) days / 365 (fractional years, exact Decimal power)."""
    total = Decimal(0)
    with decimal.localcontext(PV_CONTEXT):
        base = Decimal(1) + Decimal(effective_rate)
        for flow_date, amount in flows:
            years = Decimal((flow_date - as_of).days) / DAYS_PER_YEAR
            total += Decimal(amount) / (base**years)
    return total


def cash_flow_reserve(balance: Decimal, present_value_of_flows: Decimal) -> Decimal:
    with decimal.localcontext(PV_CONTEXT):
        return max(ZERO, Decimal(balance) - present_value_of_flows)


def collateral_reserve(balance: Decimal, collateral_value: Decimal, cost_to_sell_rate: Decimal) -> Decimal:
    """max(0, balance − fair value less costs to sell)."""
    with decimal.localcontext(PV_CONTEXT):
        net = Decimal(collateral_value) * (Decimal(1) - Decimal(cost_to_sell_rate))
        return max(ZERO, Decimal(balance) - net)


def general_reserve(balance: Decimal, grade: RiskGrade, rates: Mapping[RiskGrade, Decimal]) -> Decimal:
    with decimal.localcontext(PV_CONTEXT):
        return Decimal(balance) * rates[grade]


# ---------------------------------------------------------------------------------------------- snapshots


def snapshot_dates(loans: ir.Table, as_of: dt.date) -> list[dt.date]:
    rows = loans.filter(loans.as_of_date <= as_of).select("as_of_date").distinct().order_by("as_of_date")
    return [r["as_of_date"] for r in rows.to_pyarrow().to_pylist()]


def loan_reserves(
    loans: ir.Table,
    cash_flows: ir.Table,
    rates: Mapping[RiskGrade, Decimal],
    snapshot: dt.date,
    reserve_date: dt.date,
) -> pd.DataFrame:
    """One row per loan of the snapshot with PV, net collateral, reserve and its kind (specific / general / none);
    loans without an impairment method carry the general reserve of their grade (``rates``)."""
    frame = loans.filter(loans.as_of_date == snapshot).order_by("loan_id").to_pyarrow().to_pandas()
    flows = cash_flows
    flows = flows.filter(flows.as_of_date == snapshot).select("loan_id", "flow_date", "amount").to_pyarrow().to_pylist()
    by_loan: dict[str, list[tuple[dt.date, Decimal]]] = defaultdict(list)
    for flow in flows:
        by_loan[flow["loan_id"]].append((flow["flow_date"], flow["amount"]))
    pvs, nets, reserves, kinds = [], [], [], []
    for record in frame.itertuples(index=False):
        pv = net = None
        if record.status in NO_RESERVE_STATUSES:
            reserve, kind = ZERO, "none (" + record.status + ")"
        elif record.impairment_method == "cash_flows":
            pv = present_value(by_loan.get(record.loan_id, []), record.effective_rate, reserve_date)
            reserve, kind = cash_flow_reserve(record.balance, pv), "specific"
        elif record.impairment_method == "collateral":
            net = Decimal(record.collateral_value or 0) * (1 - Decimal(record.cost_to_sell_rate or 0))
            reserve = collateral_reserve(
                record.balance, record.collateral_value or ZERO, record.cost_to_sell_rate or ZERO
            )
            kind = "specific"
        else:
            reserve, kind = general_reserve(record.balance, record.risk_grade, rates), "general"
        pvs.append(pv)
        nets.append(net)
        reserves.append(reserve)
        kinds.append(kind)
    frame["present_value"] = pvs
    frame["collateral_net"] = nets
    frame["reserve"] = reserves
    frame["reserve_kind"] = kinds
    frame["reserve_pct"] = [percent_of(r, b) for r, b in zip(frame["reserve"].tolist(), frame["balance"].tolist())]
    return frame


def reserve_totals(frame: pd.DataFrame) -> dict[str, KpiValue]:
    specific = dsum(frame.loc[frame["reserve_kind"] == "specific", "reserve"])
    general = dsum(frame.loc[frame["reserve_kind"] == "general", "reserve"])
    watch = frame[frame["on_watch_list"].astype(bool)]
    return {
        "watchlist_loans": int(len(watch)),
        "watchlist_balance": dsum(watch["balance"]),
        "specific_reserve": specific,
        "general_reserve": general,
        "total_reserve": dsum([specific, general]),
    }


#: collateral value falls tested by the reserve sensitivity, as fractions
COLLATERAL_FALLS = (Decimal("0.10"), Decimal("0.20"))


def one_grade_down(grade: RiskGrade) -> RiskGrade:
    """The next worse risk grade (loss stays loss)."""
    return RISK_GRADES[min(GRADE_ORDER[grade] + 1, len(RISK_GRADES) - 1)]


def reserve_sensitivity(frame: pd.DataFrame, rates: Mapping[RiskGrade, Decimal]) -> pd.DataFrame:
    """The total reserve under stress, loan by loan from ``frame`` (:func:`loan_reserves`): collateral values 10 %
    and 20 % lower (loans measured on collateral: max(0, balance − value × (1 − fall) × (1 − cost to sell))), and
    every loan one risk grade worse (loans on the general reserve take the next grade's rate; a specific reserve
    does not depend on the grade). Rows: scenario, specific, general, total, change from the reserve booked."""
    reserving = frame[~frame["status"].isin(NO_RESERVE_STATUSES)]
    base = reserve_totals(frame)
    base_specific, base_general = Decimal(base["specific_reserve"]), Decimal(base["general_reserve"])  # type: ignore[arg-type]
    rows = [("Reserve booked", base_specific, base_general)]
    collateral = reserving[reserving["reserve_kind"].eq("specific") & reserving["impairment_method"].eq("collateral")]
    for fall in COLLATERAL_FALLS:
        change = ZERO
        for record in collateral.itertuples(index=False):
            value = Decimal(record.collateral_value or 0) * (Decimal(1) - fall)
            change += collateral_reserve(record.balance, value, record.cost_to_sell_rate or ZERO) - record.reserve
        rows.append((f"Collateral values {fall * 100:.0f}% lower", base_specific + change, base_general))
    general = reserving[reserving["reserve_kind"].eq("general")]
    downgraded = dsum(
        general_reserve(b, one_grade_down(g), rates)
        for b, g in zip(general["balance"].tolist(), general["risk_grade"].tolist())
    )
    rows.append(("Every loan one grade worse", base_specific, downgraded))
    base_total = base_specific + base_general
    return pd.DataFrame(
        [
            {
                "scenario": name,
                "specific_reserve": specific,
                "general_reserve": general_total,
                "total_reserve": specific + general_total,
                "change": specific + general_total - base_total,
                "change_pct": percent_of(specific + general_total - base_total, base_total),
            }
            for name, specific, general_total in rows
        ],
        columns=["scenario", "specific_reserve", "general_reserve", "total_reserve", "change", "change_pct"],
    )


def grade_totals(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    rows = []
    for value, group in frame.groupby(by, sort=False, dropna=False):
        balance = dsum(group["balance"])
        reserve = dsum(group["reserve"])
        rows.append(
            {
                by: "(none)" if value is None or value != value else value,
                "loans": int(len(group)),
                "balance": balance,
                "specific_reserve": dsum(group.loc[group["reserve_kind"] == "specific", "reserve"]),
                "general_reserve": dsum(group.loc[group["reserve_kind"] == "general", "reserve"]),
                "reserve": reserve,
                "reserve_pct": percent_of(reserve, balance),
            }
        )
    table = pd.DataFrame(rows)
    if by == "risk_grade" and len(table):
        table = table.sort_values(by, key=lambda c: c.map(GRADE_ORDER), kind="stable").reset_index(drop=True)
    return table


def migration_matrix(previous: pd.DataFrame, current: pd.DataFrame, value: str) -> pd.DataFrame:
    """Grade at the previous snapshot (rows) × grade now (columns): loan counts or balances now; plus 'new' / 'gone'."""
    before = dict(zip(previous["loan_id"].tolist(), previous["risk_grade"].tolist()))
    now = dict(zip(current["loan_id"].tolist(), current["risk_grade"].tolist()))
    balances = dict(zip(current["loan_id"].tolist(), current["balance"].tolist()))
    previous_balances = dict(zip(previous["loan_id"].tolist(), previous["balance"].tolist()))
    columns = [*RISK_GRADES, "gone"]
    cells: dict[tuple[str, str], list] = defaultdict(list)
    for loan, grade in now.items():
        cells[(before.get(loan, "new"), grade)].append(1 if value == "loans" else balances[loan])
    for loan, grade in before.items():
        if loan not in now:
            cells[(grade, "gone")].append(1 if value == "loans" else previous_balances[loan])
    rows = []
    for origin in [*RISK_GRADES, "new"]:
        row: dict[str, object] = {"from_grade": origin}
        for column in columns:
            parts = cells.get((origin, column), [])
            row[column] = sum(parts) if value == "loans" else dsum(parts)
        rows.append(row)
    return pd.DataFrame(rows, columns=["from_grade", *columns])


def movements(previous: pd.DataFrame | None, current: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Watch-list movements (added / removed with reason / upgraded / downgraded) and the reserve change by cause."""
    columns = [
        "loan_id",
        "borrower",
        "movement",
        "grade_before",
        "grade_now",
        "balance_before",
        "balance_now",
        "reserve_before",
        "reserve_now",
        "reserve_change",
    ]
    if previous is None:
        return pd.DataFrame(columns=columns), pd.DataFrame(columns=["cause", "amount"])
    before = previous.set_index("loan_id")
    now = current.set_index("loan_id")
    rows = []
    causes: dict[str, list[Decimal]] = defaultdict(list)
    for loan in sorted(set(before.index) | set(now.index)):
        was = before.loc[loan] if loan in before.index else None
        is_ = now.loc[loan] if loan in now.index else None
        was_watch = was is not None and bool(was["on_watch_list"])
        is_watch = is_ is not None and bool(is_["on_watch_list"])
        reserve_before = was["reserve"] if was is not None else ZERO
        reserve_now = is_["reserve"] if is_ is not None else ZERO
        with decimal.localcontext(MONEY_CONTEXT):
            change = reserve_now - reserve_before
        if is_ is None:
            cause = "charged off or paid off"
        elif was is None:
            cause = "new loans"
        elif is_["status"] == "reo" and was["status"] != "reo":
            cause = "foreclosed (to REO)"
        elif GRADE_ORDER.get(is_["risk_grade"], 0) > GRADE_ORDER.get(was["risk_grade"], 0):
            cause = "downgrades"
        elif GRADE_ORDER.get(is_["risk_grade"], 0) < GRADE_ORDER.get(was["risk_grade"], 0):
            cause = "upgrades"
        else:
            cause = "changes in estimate"
        if change != 0:
            causes[cause].append(change)
        if not (was_watch or is_watch):
            continue
        if was_watch and not is_watch:
            movement = "removed: " + (
                "gone from the book" if is_ is None else "to REO" if is_["status"] == "reo" else "upgraded off the list"
            )
        elif is_watch and not was_watch:
            movement = "added"
        elif was is None or is_ is None or GRADE_ORDER[is_["risk_grade"]] == GRADE_ORDER[was["risk_grade"]]:
            continue  # on the list before and now, in the same grade
        else:
            movement = "downgraded" if GRADE_ORDER[is_["risk_grade"]] > GRADE_ORDER[was["risk_grade"]] else "upgraded"
        rows.append(
            {
                "loan_id": loan,
                "borrower": (now if loan in now.index else before).loc[loan, "borrower"],
                "movement": movement,
                "grade_before": None if was is None else was["risk_grade"],
                "grade_now": None if is_ is None else is_["risk_grade"],
                "balance_before": None if was is None else was["balance"],
                "balance_now": None if is_ is None else is_["balance"],
                "reserve_before": reserve_before,
                "reserve_now": reserve_now,
                "reserve_change": change,
            }
        )
    order = [
        "new loans",
        "downgrades",
        "upgrades",
        "changes in estimate",
        "foreclosed (to REO)",
        "charged off or paid off",
    ]
    cause_rows = [{"cause": c, "amount": dsum(causes.get(c, []))} for c in order]
    return pd.DataFrame(rows, columns=columns), pd.DataFrame(cause_rows)


def compute_watchlist(book: Book, params: Params) -> WatchlistResult:
    """KPIs watchlist_loans, watchlist_balance, specific_reserve, general_reserve, total_reserve and the tables."""
    loans, cash_flows = present(book.loans, "loans"), present(book.loan_cash_flows, "loan_cash_flows")
    rates = params.watchlist.general_rates
    dates = snapshot_dates(loans, params.as_of)
    if not dates:
        return WatchlistResult.nothing_at(
            "watchlist",
            WatchlistKpis,
            WatchlistTables,
            f"the loans table has no snapshot dated on or before {params.as_of}",
        )
    snapshot = dates[-1]
    current = loan_reserves(loans, cash_flows, rates, snapshot, params.as_of)
    previous_date = dates[-2] if len(dates) > 1 else None
    previous = loan_reserves(loans, cash_flows, rates, previous_date, previous_date) if previous_date else None
    kpis = WatchlistKpis.from_values(reserve_totals(current))
    unmeasured = current[
        (current["impairment_method"] == "collateral")
        & current["collateral_value"].isna()
        & ~current["status"].isin(NO_RESERVE_STATUSES)
    ]
    moved, causes = movements(previous, current)
    opening_reserve = reserve_totals(previous)["total_reserve"] if previous is not None else ZERO
    rollforward = (
        pd.DataFrame(
            [
                {"line": f"Reserve at {previous_date}", "amount": opening_reserve},
                *[{"line": f"± {c}", "amount": a} for c, a in zip(causes["cause"].tolist(), causes["amount"].tolist())],
                {"line": f"Reserve at {snapshot}", "amount": kpis.total_reserve},
            ]
        )
        if previous is not None
        else pd.DataFrame(columns=["line", "amount"])
    )
    watch = current[current["on_watch_list"].astype(bool)].copy()
    since = _months_on_list(loans, snapshot, watch["loan_id"])
    watch["months_on_list"] = [since.get(loan) for loan in watch["loan_id"].tolist()]
    loan_columns = [
        "loan_id",
        "borrower",
        "balance",
        "risk_grade",
        "days_past_due",
        "status",
        "impairment_method",
        "collateral_value",
        "cost_to_sell_rate",
        "collateral_net",
        "effective_rate",
        "present_value",
        "reserve",
        "reserve_pct",
        "months_on_list",
    ]
    non_accrual = current[current["status"] == "non_accrual"]
    reo = current[current["status"] == "reo"].copy()
    reo["fair_value_less_cost"] = [
        None if v is None or v != v else Decimal(v) * (1 - Decimal(c or 0))
        for v, c in zip(reo["collateral_value"].tolist(), reo["cost_to_sell_rate"].tolist())
    ]
    reo["carrying_over_fair_value"] = [
        None if f is None else b - f for b, f in zip(reo["balance"].tolist(), reo["fair_value_less_cost"].tolist())
    ]
    reo["months_held"] = [since.get(loan) for loan in reo["loan_id"].tolist()]
    result = WatchlistResult(
        section="watchlist",
        kpis=kpis,
        tables=WatchlistTables(
            loans=watch[loan_columns].sort_values("reserve", ascending=False, kind="stable").reset_index(drop=True),
            by_grade=grade_totals(current, "risk_grade"),
            by_method=grade_totals(current.assign(method=current["impairment_method"].fillna("general")), "method"),
            by_segment=grade_totals(current, "segment") if "segment" in current.columns else pd.DataFrame(),
            movements=moved,
            reserve_rollforward=rollforward,
            migration_counts=migration_matrix(previous, current, "loans") if previous is not None else pd.DataFrame(),
            migration_balances=migration_matrix(previous, current, "balance")
            if previous is not None
            else pd.DataFrame(),
            non_accrual=grade_totals(non_accrual, "risk_grade") if len(non_accrual) else pd.DataFrame(),
            reo=reo[
                [
                    "loan_id",
                    "borrower",
                    "balance",
                    "collateral_value",
                    "cost_to_sell_rate",
                    "fair_value_less_cost",
                    "carrying_over_fair_value",
                    "months_held",
                ]
            ].reset_index(drop=True),
            sensitivity=reserve_sensitivity(current, rates),
        ),
        conventions={
            "snapshot": f"loans snapshot of {snapshot}" + (f", compared with {previous_date}" if previous_date else ""),
            "present value": f"expected cash flows discounted at each loan's effective rate to {params.as_of}, "
            "t = days / 365",
            "general reserve": ", ".join(f"{g} {r}" for g, r in params.watchlist.general_rates.items()),
            "excluded": "status reo / closed carry no reserve",
            "cost to sell": "an empty cost_to_sell_rate counts as 0 (no selling costs)",
            "sensitivity": "collateral values 10% and 20% lower for the loans measured on collateral; every loan one "
            "grade worse for the loans on the general reserve (a specific reserve does not depend on the grade)",
        },
    )
    if len(unmeasured):
        ids = ", ".join(unmeasured["loan_id"].astype(str).head(5)) + (", …" if len(unmeasured) > 5 else "")
        result.omit(
            ["specific_reserve", "total_reserve"],
            f"{len(unmeasured)} loan(s) measured on collateral have no loans.collateral_value ({ids})",
        )
    return result


def _months_on_list(loans: ir.Table, snapshot: dt.date, loan_ids: pd.Series) -> dict[str, int]:
    """Consecutive month-end snapshots (up to ``snapshot``) each loan has been on the watch list."""
    history = (
        loans.filter((loans.as_of_date <= snapshot) & loans.loan_id.isin(list(loan_ids)))
        .select("loan_id", "as_of_date", "on_watch_list")
        .to_pyarrow()
        .to_pylist()
    )
    flags: dict[str, dict[dt.date, bool]] = defaultdict(dict)
    for row in history:
        flags[row["loan_id"]][row["as_of_date"]] = bool(row["on_watch_list"])
    result = {}
    for loan, by_date in flags.items():
        count = 0
        for date in sorted(by_date, reverse=True):
            if not by_date[date]:
                break
            count += 1
        result[loan] = count
    return result
