"""The loan book (watch list): month-end snapshots of a small commercial / consumer loan portfolio and the
expected cash flows of individually reviewed loans.

About 300 loans at the default size (scaling with the fourth root of the invoice count), in three segments,
in 13 month-end snapshots up to ``end``'s latest month-end. Each month: risk grades migrate (mostly stable,
some downgrades, few upgrades), payments are missed or caught up (days past due follow the grade), balances
amortise (non-accrual loans do not accrue), collateral is re-appraised down on a downgrade, a few pass loans
are refinanced away (one last ``closed`` row, then gone), loss loans are charged off (gone),
collateral-dependent doubtful loans are foreclosed (``reo`` at the carrying value until sold) and new loans
are booked. Substandard-or-worse loans that are non-accrual, doubtful or large are reviewed individually:
``collateral`` when collateral-dependent, otherwise ``cash_flows`` with quarterly expected cash flows whose
present value at the effective rate is mostly below the balance.

The book is built once, after the receivables, from its own random stream; the draws are made in a fixed
order (same seed, same book).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from collections_mi.core.contract import RISK_GRADES
from collections_mi.demo.columns import date_array, id_array, nullable, scaled_decimal_array, string_array_from
from collections_mi.demo.names import SPECIAL_BORROWERS, borrower_names
from collections_mi.demo.schemas import MONEY_TYPE, SCHEMAS, SHARE_SCALE, SHARE_TYPE
from collections_mi.demo.world import (
    categorical,
    end_of_month_number,
    first_of_month_number,
    month_number,
    uniform_int,
)

_LOAN_SNAPSHOTS = 13
PASS, SPECIAL_MENTION, SUBSTANDARD, DOUBTFUL, LOSS = range(len(RISK_GRADES))  # codes into RISK_GRADES
_LOAN_SEGMENTS = ("CRE", "C&I", "Consumer")
_C_AND_I = _LOAN_SEGMENTS.index("C&I")
_LOAN_SEGMENT_SHARE = np.array([0.40, 0.40, 0.20])
_LOAN_BALANCE_MEDIAN = np.array([2_200_000.0, 650_000.0, 220_000.0])
_LOAN_BALANCE_SIGMA = np.array([0.8, 1.0, 0.6])
_LOAN_RATE_RANGE_BP = ((450, 850), (550, 1200), (400, 950))  # effective rate, basis points
_LOAN_AMORTISATION_MONTHS = ((120, 300), (60, 120), (120, 360))
_LOAN_SECURED_SHARE = np.array([1.0, 0.6, 0.7])
_LOAN_COLLATERAL_DEPENDENT_SHARE = np.array([0.85, 0.4, 0.9])  # of secured loans, if impaired
_LOAN_STATUSES = ("performing", "non_accrual", "reo", "closed")
PERFORMING, NON_ACCRUAL, REO, CLOSED = range(4)
_IMPAIRMENT_METHODS = ("cash_flows", "collateral")
CASH_FLOWS, COLLATERAL = range(len(_IMPAIRMENT_METHODS))  # codes into _IMPAIRMENT_METHODS; -1 = none
_LOAN_INITIAL_GRADE_SHARE = np.array([0.875, 0.05, 0.045, 0.024, 0.006])
# monthly risk-grade migration (rows: from, columns: to); loss loans are charged off, not migrated
_LOAN_MIGRATION = np.array(
    [
        [0.9880, 0.0095, 0.0025, 0.0000, 0.0000],
        [0.0450, 0.8950, 0.0500, 0.0100, 0.0000],
        [0.0050, 0.0300, 0.9100, 0.0400, 0.0150],
        [0.0000, 0.0000, 0.0250, 0.8950, 0.0800],
        [0.0000, 0.0000, 0.0000, 0.0000, 1.0000],
    ]
)
_CUMULATIVE_MIGRATION = np.cumsum(_LOAN_MIGRATION, axis=1)
# payments missed (0 = current) allowed per grade, and the odds of each value on entering the grade
_MISSED_RANGE = ((0, 1), (0, 2), (0, 3), (3, 6), (4, 12))
_MISSED_LOW = np.array([r[0] for r in _MISSED_RANGE])
_MISSED_HIGH = np.array([r[1] for r in _MISSED_RANGE])
_LOAN_PAYOFF_MONTHLY = 0.011  # pass / special mention loans refinanced or repaid early
_LOAN_ORIGINATION_MONTHLY = 0.015  # new loans per month, as a share of the opening book
_LOAN_CHARGE_OFF_MONTHLY = 0.6  # loss loans charged off (they then leave the snapshots)
_LOAN_FORECLOSURE_MONTHLY = 0.12  # doubtful / loss collateral-dependent CRE or consumer loans
_REO_SALE_MONTHLY = 0.05
_SUBSTANDARD_NON_ACCRUAL_SHARE = 0.4
_INDIVIDUAL_REVIEW_CENTS = 100_000_000  # substandard loans of 1m or more are reviewed individually
_PASS_WATCH_MONTHLY = 0.002  # pass loans put on the watch list (e.g. covenant breach)
_PASS_WATCH_RELEASE_MONTHLY = 0.25


def loan_tables(rng: np.random.Generator, invoices: int, end_day: int) -> dict[str, pa.Table]:
    """``loans`` (13 month-end snapshots) and ``loan_cash_flows``."""
    snapshot_days = _loan_snapshot_days(end_day)
    snapshot_months = month_number(snapshot_days)
    opening = int(np.clip(round(300 * (invoices / 60_000) ** 0.25), 100, 2_000))
    new_counts = rng.poisson(opening * _LOAN_ORIGINATION_MONTHLY, _LOAN_SNAPSHOTS)
    new_counts[0] = 0
    capacity = opening + int(new_counts.sum())

    terms = _draw_terms(rng, opening, capacity)
    book = _opening_book(rng, terms, opening, int(snapshot_months[0]))
    rows = _LoanRows()
    next_new = opening
    for step, (as_of, as_of_month) in enumerate(zip(snapshot_days, snapshot_months, strict=True)):
        previous_grade = book.grade.copy()
        previous_status = book.status.copy()
        if step > 0:
            book.close_and_charge_off(rng)
            book.migrate_and_amortise(rng, terms, previous_grade, previous_status)
            book.pay_off_and_foreclose(rng, terms)
            book.update_pass_watch(rng, previous_grade)
            count = int(new_counts[step])
            book.book_new_loans(np.arange(next_new, next_new + count))
            next_new += count
        book.classify(terms, int(as_of), int(as_of_month), carry_reo=step > 0, previous_status=previous_status)
        on_watch = book.update_watch_list(int(as_of))
        method = book.review(rng, terms, int(as_of_month), previous_grade)
        rows.add_snapshot(book, int(as_of), on_watch, method)
        rows.add_cash_flows(book, terms, int(as_of), int(as_of_month), method == CASH_FLOWS)
    return rows.to_tables(terms, width=max(5, len(str(capacity))))


def _loan_snapshot_days(end_day: int) -> np.ndarray:
    """The last ``_LOAN_SNAPSHOTS`` month-ends up to the latest month-end on or before ``end``."""
    end_month = int(month_number(end_day))
    latest = end_month if int(end_of_month_number(np.array([end_month]))[0]) == end_day else end_month - 1
    return end_of_month_number(np.arange(latest - (_LOAN_SNAPSHOTS - 1), latest + 1))


def _draw_missed(rng: np.random.Generator, grade: np.ndarray) -> np.ndarray:
    """Payments missed by a loan entering ``grade``: within the grade's range (pass: rarely one)."""
    missed = uniform_int(rng, _MISSED_LOW[grade], _MISSED_HIGH[grade], grade.size)
    return np.where(grade == PASS, (rng.random(grade.size) < 0.04).astype(np.int64), missed)


def _round_thousand(cents: np.ndarray) -> np.ndarray:
    return np.rint(cents / 100_000).astype(np.int64) * 100_000


@dataclass(frozen=True)
class _LoanTerms:
    """Fixed attributes of every loan that will ever appear (one entry per loan; loan ``i`` is ``LN-{i + 1}``)."""

    segment: np.ndarray
    names: np.ndarray
    special: np.ndarray  # the positions of SPECIAL_BORROWERS
    original_balance: np.ndarray  # cents, when booked
    original_collateral: np.ndarray  # cents, when booked
    rate_bp: np.ndarray
    payment: np.ndarray  # monthly instalment, cents
    secured: np.ndarray
    collateral_dependent: np.ndarray
    cost_to_sell_bp: np.ndarray
    non_accrual_if_substandard: np.ndarray
    balloon: np.ndarray  # the last expected cash flow's weight, on top of 1


def _draw_terms(rng: np.random.Generator, opening: int, capacity: int) -> _LoanTerms:
    segment = categorical(rng, _LOAN_SEGMENT_SHARE, capacity)
    special = (np.arange(1, len(SPECIAL_BORROWERS) + 1) * opening) // (len(SPECIAL_BORROWERS) + 1)
    segment[special] = [special_segment for _, special_segment, _ in SPECIAL_BORROWERS]
    names = borrower_names(rng, segment)
    names[special] = [name for name, _, _ in SPECIAL_BORROWERS]
    balance = np.clip(
        np.exp(np.log(_LOAN_BALANCE_MEDIAN[segment]) + _LOAN_BALANCE_SIGMA[segment] * rng.standard_normal(capacity)),
        25_000,
        40_000_000,
    )
    balance = np.rint(balance * 100).astype(np.int64)
    rate_low = np.array([r[0] for r in _LOAN_RATE_RANGE_BP])[segment] // 25
    rate_high = np.array([r[1] for r in _LOAN_RATE_RANGE_BP])[segment] // 25
    rate_bp = uniform_int(rng, rate_low, rate_high, capacity) * 25
    term_low = np.array([r[0] for r in _LOAN_AMORTISATION_MONTHS])[segment]
    term_high = np.array([r[1] for r in _LOAN_AMORTISATION_MONTHS])[segment]
    term = uniform_int(rng, term_low, term_high, capacity)
    monthly_rate = rate_bp / SHARE_SCALE / 12
    payment = np.rint(balance * monthly_rate / (1 - (1 + monthly_rate) ** -term.astype(np.float64))).astype(np.int64)
    secured = rng.random(capacity) < _LOAN_SECURED_SHARE[segment]
    collateral_dependent = secured & (rng.random(capacity) < _LOAN_COLLATERAL_DEPENDENT_SHARE[segment])
    collateral = _round_thousand(balance / rng.uniform(0.55, 0.85, capacity))
    cost_to_sell_bp = uniform_int(rng, 10, 20, capacity) * 50
    non_accrual_if_substandard = rng.random(capacity) < _SUBSTANDARD_NON_ACCRUAL_SHARE
    balloon = rng.uniform(0.0, 3.0, capacity)
    return _LoanTerms(
        segment=segment,
        names=names,
        special=special,
        original_balance=balance,
        original_collateral=collateral,
        rate_bp=rate_bp,
        payment=payment,
        secured=secured,
        collateral_dependent=collateral_dependent,
        cost_to_sell_bp=cost_to_sell_bp,
        non_accrual_if_substandard=non_accrual_if_substandard,
        balloon=balloon,
    )


@dataclass
class _LoanBook:
    """Every loan's state at the snapshot being built (loans not yet booked, or gone, are not alive)."""

    alive: np.ndarray
    grade: np.ndarray
    missed: np.ndarray  # instalments unpaid
    balance: np.ndarray  # cents
    collateral: np.ndarray  # cents
    status: np.ndarray
    days_past_due: np.ndarray
    pass_watch: np.ndarray  # a pass loan kept on the watch list
    watch_since: np.ndarray  # day number, -1 when not on the watch list
    recovery_share: np.ndarray  # cash-flow reviews: present value of expected cash flows / balance
    workout_end_month: np.ndarray  # cash-flow reviews: month of the last expected cash flow

    def close_and_charge_off(self, rng: np.random.Generator) -> None:
        """Leavers: loans closed last month, charged-off loss loans, sold REO."""
        draw = rng.random(self.alive.size)
        self.alive &= ~(self.status == CLOSED)
        self.alive &= ~((self.grade == LOSS) & (self.status != REO) & (draw < _LOAN_CHARGE_OFF_MONTHLY))
        self.alive &= ~((self.status == REO) & (draw < _REO_SALE_MONTHLY))

    def migrate_and_amortise(
        self, rng: np.random.Generator, terms: _LoanTerms, previous_grade: np.ndarray, previous_status: np.ndarray
    ) -> None:
        """Risk grades migrate, instalments are missed or caught up, balances move, collateral is re-appraised."""
        capacity = self.alive.size
        active = self.alive & (self.status != REO)
        target = rng.random(capacity)
        migrated = (target[:, None] >= _CUMULATIVE_MIGRATION[self.grade][:, :-1]).sum(axis=1)
        self.grade = np.where(active, migrated, self.grade)
        changed = self.grade != previous_grade

        # payments missed / caught up, consistent with the grade
        draw = rng.random(capacity)
        missed = self.missed
        still = np.where(
            missed > 0,
            np.where(draw < 0.55, missed + 1, np.where(draw < 0.85, missed, 0)),
            (draw < np.where(self.grade == PASS, 0.03, 0.10)).astype(np.int64),
        )
        entering = _draw_missed(rng, self.grade)
        new_missed = np.clip(np.where(changed, entering, still), _MISSED_LOW[self.grade], _MISSED_HIGH[self.grade])
        paying = new_missed <= missed

        # balances: accruing loans accrue interest; non-accrual loans apply cash to principal only
        balance, payment = self.balance, terms.payment
        interest = np.rint(balance * terms.rate_bp / SHARE_SCALE / 12).astype(np.int64)
        accrual = previous_status == PERFORMING
        new_balance = np.where(
            paying,
            np.where(accrual, balance + interest - payment, balance - payment // 2),
            np.where(accrual, balance + interest, balance),
        )
        self.balance = np.where(active, np.maximum(new_balance, 0), balance)
        self.missed = np.where(active, new_missed, missed)

        # collateral drifts; a downgrade into substandard or worse triggers a lower appraisal
        drift = 1 + 0.004 * rng.standard_normal(capacity)
        downgraded_into_classified = (self.grade >= SUBSTANDARD) & (previous_grade < SUBSTANDARD)
        appraisal = self.collateral * drift * np.where(downgraded_into_classified, rng.uniform(0.6, 0.9, capacity), 1)
        self.collateral = np.where(active, _round_thousand(appraisal), self.collateral)

    def pay_off_and_foreclose(self, rng: np.random.Generator, terms: _LoanTerms) -> None:
        """Early payoff / maturity (one last ``closed`` row at zero); foreclosure of collateral-dependent
        doubtful / loss CRE and consumer loans (``reo`` at the collateral's carrying value)."""
        capacity = self.alive.size
        active = self.alive & (self.status != REO)
        draw = rng.random(capacity)
        paid_off = active & (((self.grade <= SPECIAL_MENTION) & (draw < _LOAN_PAYOFF_MONTHLY)) | (self.balance == 0))
        self.status = np.where(paid_off, CLOSED, self.status)
        self.balance = np.where(paid_off, 0, self.balance)
        self.missed = np.where(paid_off, 0, self.missed)

        draw = rng.random(capacity)
        foreclosed = (
            active
            & ~paid_off
            & (self.grade >= DOUBTFUL)
            & terms.collateral_dependent
            & (terms.segment != _C_AND_I)
            & (draw < _LOAN_FORECLOSURE_MONTHLY)
        )
        self.grade = np.where(foreclosed, DOUBTFUL, self.grade)
        carrying = self.collateral * (SHARE_SCALE - terms.cost_to_sell_bp) // SHARE_SCALE
        self.balance = np.where(foreclosed, np.minimum(self.balance, carrying), self.balance)
        self.status = np.where(foreclosed, REO, self.status)

    def update_pass_watch(self, rng: np.random.Generator, previous_grade: np.ndarray) -> None:
        """Pass loans on the watch list: recently upgraded, or flagged (covenant breach, …)."""
        draw = rng.random(self.alive.size)
        self.pass_watch = (self.grade == PASS) & np.where(
            self.pass_watch,
            draw >= _PASS_WATCH_RELEASE_MONTHLY,
            (previous_grade == SPECIAL_MENTION) | (draw < _PASS_WATCH_MONTHLY),
        )

    def book_new_loans(self, new: np.ndarray) -> None:
        self.alive[new] = True
        self.grade[new] = PASS
        self.missed[new] = 0
        self.status[new] = PERFORMING
        self.pass_watch[new] = False

    def classify(
        self, terms: _LoanTerms, as_of: int, as_of_month: int, *, carry_reo: bool, previous_status: np.ndarray
    ) -> None:
        """Non-accrual status and days past due at the snapshot."""
        open_loan = self.alive & (self.status != REO) & (self.status != CLOSED)
        # non-accrual: doubtful and worse, substandard loans 90+ days past due or flagged
        non_accrual = (self.grade >= DOUBTFUL) | (
            (self.grade == SUBSTANDARD) & (terms.non_accrual_if_substandard | (self.missed >= 3))
        )
        self.status = np.where(open_loan, np.where(non_accrual, NON_ACCRUAL, PERFORMING), self.status)
        # instalments fall due on the 1st: ``missed`` unpaid ones → past due since the 1st, missed-1 months ago
        first_missed_due = first_of_month_number(as_of_month - np.maximum(self.missed - 1, 0))
        dpd_now = np.where(self.missed > 0, as_of - first_missed_due, 0)
        carried = (self.status == REO) & (previous_status == REO) & carry_reo  # REO keeps its last figure
        days_past_due = np.where(carried, self.days_past_due, dpd_now)
        self.days_past_due = np.where(self.status == CLOSED, 0, days_past_due)

    def update_watch_list(self, as_of: int) -> np.ndarray:
        """Which loans are on the watch list at ``as_of`` (every loan graded special mention or worse, and
        flagged pass loans), and since when."""
        on_watch = self.alive & (self.status != CLOSED) & ((self.grade >= SPECIAL_MENTION) | self.pass_watch)
        self.watch_since = np.where(on_watch, np.where(self.watch_since >= 0, self.watch_since, as_of), -1)
        return on_watch

    def review(
        self, rng: np.random.Generator, terms: _LoanTerms, as_of_month: int, previous_grade: np.ndarray
    ) -> np.ndarray:
        """Individual review: the impairment method of each loan (CASH_FLOWS, COLLATERAL or -1: none);
        cash-flow loans get (or keep, moved a little) their recovery share and workout period."""
        capacity = self.alive.size
        open_loan = self.alive & (self.status != REO) & (self.status != CLOSED)
        reviewed = (
            open_loan
            & (self.grade >= SUBSTANDARD)
            & ((self.grade >= DOUBTFUL) | (self.status == NON_ACCRUAL) | (self.balance >= _INDIVIDUAL_REVIEW_CENTS))
        )
        method = np.where(reviewed, np.where(terms.collateral_dependent, COLLATERAL, CASH_FLOWS), -1)
        uses_cash_flows = method == CASH_FLOWS
        fresh = uses_cash_flows & np.isnan(self.recovery_share)
        draw = rng.random(capacity)
        initial_share = np.where(draw < 0.1, rng.uniform(1.0, 1.08, capacity), rng.uniform(0.5, 0.97, capacity))
        moved = np.clip(
            self.recovery_share * np.where(self.grade > previous_grade, 0.9, 1.0)
            + 0.01 * rng.standard_normal(capacity),
            0.3,
            1.1,
        )
        self.recovery_share = np.where(fresh, initial_share, np.where(uses_cash_flows, moved, self.recovery_share))
        workout = as_of_month + uniform_int(rng, 12, 60, capacity)
        workout_end_month = np.where(fresh, workout, self.workout_end_month)
        self.workout_end_month = np.where(
            uses_cash_flows & (workout_end_month <= as_of_month), as_of_month + 3, workout_end_month
        )
        return method


def _opening_book(rng: np.random.Generator, terms: _LoanTerms, opening: int, first_snapshot_month: int) -> _LoanBook:
    """The state of the opening book at the first snapshot; a few loans are already carried as REO."""
    capacity = terms.segment.size
    alive = np.zeros(capacity, dtype=bool)
    alive[:opening] = True
    grade = np.zeros(capacity, dtype=np.int64)
    grade[:opening] = categorical(rng, _LOAN_INITIAL_GRADE_SHARE, opening)
    grade[terms.special] = [special_grade for _, _, special_grade in SPECIAL_BORROWERS]
    missed = _draw_missed(rng, grade)
    haircut = rng.uniform(0.6, 0.9, capacity)
    collateral = terms.original_collateral
    collateral = np.where(grade >= SUBSTANDARD, _round_thousand(collateral * haircut), collateral)
    balance = terms.original_balance.copy()
    status = np.full(capacity, PERFORMING, dtype=np.int64)
    # a few loans were foreclosed before the first snapshot and are carried as REO
    reo_candidates = np.flatnonzero(
        alive & terms.collateral_dependent & (terms.segment != _C_AND_I) & ~np.isin(np.arange(capacity), terms.special)
    )
    reo = rng.permutation(reo_candidates)[: max(2, round(0.007 * opening))]
    grade[reo] = DOUBTFUL
    missed[reo] = 6
    collateral[reo] = _round_thousand(balance[reo] / rng.uniform(0.9, 1.3, reo.size))
    status[reo] = REO
    balance[reo] = np.minimum(balance[reo], collateral[reo] * (SHARE_SCALE - terms.cost_to_sell_bp[reo]) // SHARE_SCALE)
    pass_watch = (grade == PASS) & (rng.random(capacity) < 0.01)
    watch_since = np.where(
        alive & ((grade >= SPECIAL_MENTION) | pass_watch),
        end_of_month_number(first_snapshot_month - uniform_int(rng, 1, 18, capacity)),
        -1,
    )
    return _LoanBook(
        alive=alive,
        grade=grade,
        missed=missed,
        balance=balance,
        collateral=collateral,
        status=status,
        days_past_due=np.zeros(capacity, dtype=np.int64),
        pass_watch=pass_watch,
        watch_since=watch_since,
        recovery_share=np.full(capacity, np.nan),
        workout_end_month=np.zeros(capacity, dtype=np.int64),
    )


@dataclass
class _LoanRows:
    """Snapshot rows (one list entry per snapshot) and expected cash flows."""

    loan: list[np.ndarray] = field(default_factory=list)
    as_of: list[np.ndarray] = field(default_factory=list)
    balance: list[np.ndarray] = field(default_factory=list)
    grade: list[np.ndarray] = field(default_factory=list)
    days_past_due: list[np.ndarray] = field(default_factory=list)
    on_watch: list[np.ndarray] = field(default_factory=list)
    method: list[np.ndarray] = field(default_factory=list)
    collateral: list[np.ndarray] = field(default_factory=list)
    status: list[np.ndarray] = field(default_factory=list)
    watch_since: list[np.ndarray] = field(default_factory=list)
    flow_loan: list[int] = field(default_factory=list)
    flow_as_of: list[int] = field(default_factory=list)
    flow_day: list[np.ndarray] = field(default_factory=list)
    flow_cents: list[np.ndarray] = field(default_factory=list)

    def add_snapshot(self, book: _LoanBook, as_of: int, on_watch: np.ndarray, method: np.ndarray) -> None:
        """A row per loan alive at ``as_of``."""
        in_snapshot = np.flatnonzero(book.alive)
        self.loan.append(in_snapshot)
        self.as_of.append(np.full(in_snapshot.size, as_of))
        self.balance.append(book.balance[in_snapshot])
        self.grade.append(book.grade[in_snapshot])
        self.days_past_due.append(book.days_past_due[in_snapshot])
        self.on_watch.append(on_watch[in_snapshot])
        self.method.append(method[in_snapshot])
        self.collateral.append(book.collateral[in_snapshot])
        self.status.append(book.status[in_snapshot])
        self.watch_since.append(book.watch_since[in_snapshot])

    def add_cash_flows(
        self, book: _LoanBook, terms: _LoanTerms, as_of: int, as_of_month: int, uses_cash_flows: np.ndarray
    ) -> None:
        """Quarterly expected cash flows up to the workout's end, worth ``recovery_share`` of the balance
        at the effective rate (the last one a balloon)."""
        for loan in np.flatnonzero(uses_cash_flows):
            months = np.arange(book.workout_end_month[loan], as_of_month, -3)[::-1]
            flow_day = end_of_month_number(months)
            years = (flow_day - as_of) / 365
            weight = np.ones(months.size)
            weight[-1] += terms.balloon[loan]
            discount = (1 + terms.rate_bp[loan] / SHARE_SCALE) ** -years
            level = book.recovery_share[loan] * book.balance[loan] / float(np.sum(weight * discount))
            self.flow_loan.append(int(loan))
            self.flow_as_of.append(as_of)
            self.flow_day.append(flow_day)
            self.flow_cents.append(np.maximum(1, np.floor(level * weight)).astype(np.int64))

    def to_tables(self, terms: _LoanTerms, *, width: int) -> dict[str, pa.Table]:
        """``loans`` and ``loan_cash_flows`` (by snapshot, loan and flow date)."""
        loan = np.concatenate(self.loan)
        method = np.concatenate(self.method)
        watch_since = np.concatenate(self.watch_since)
        is_secured = terms.secured[loan]
        loans = pa.Table.from_arrays(
            [
                date_array(np.concatenate(self.as_of)),
                id_array("LN-", loan + 1, width),
                pa.array(terms.names[loan], pa.string()),
                scaled_decimal_array(np.concatenate(self.balance), MONEY_TYPE),
                scaled_decimal_array(terms.rate_bp[loan], SHARE_TYPE),
                string_array_from(RISK_GRADES, np.concatenate(self.grade)),
                pa.array(np.concatenate(self.days_past_due), pa.int64()),
                pa.array(np.concatenate(self.on_watch), pa.bool_()),
                nullable(string_array_from(_IMPAIRMENT_METHODS, np.maximum(method, 0)), method >= 0),
                nullable(scaled_decimal_array(np.concatenate(self.collateral), MONEY_TYPE), is_secured),
                nullable(scaled_decimal_array(terms.cost_to_sell_bp[loan], SHARE_TYPE), is_secured),
                string_array_from(_LOAN_STATUSES, np.concatenate(self.status)),
                string_array_from(_LOAN_SEGMENTS, terms.segment[loan]),
                date_array(np.maximum(watch_since, 0), valid=watch_since >= 0),
            ],
            schema=SCHEMAS["loans"],
        )
        flow_counts = np.array([days.size for days in self.flow_day], dtype=np.int64)
        flow_loan = np.repeat(np.array(self.flow_loan, dtype=np.int64), flow_counts)
        flow_as_of = np.repeat(np.array(self.flow_as_of, dtype=np.int64), flow_counts)
        flow_day = np.concatenate(self.flow_day) if self.flow_day else np.zeros(0, dtype=np.int64)
        flow_cents = np.concatenate(self.flow_cents) if self.flow_cents else np.zeros(0, dtype=np.int64)
        order = np.lexsort((flow_day, flow_loan, flow_as_of))
        cash_flows = pa.Table.from_arrays(
            [
                date_array(flow_as_of[order]),
                id_array("LN-", flow_loan[order] + 1, width),
                date_array(flow_day[order]),
                scaled_decimal_array(flow_cents[order], MONEY_TYPE),
            ],
            schema=SCHEMAS["loan_cash_flows"],
        )
        return {"loans": loans, "loan_cash_flows": cash_flows}
