"""The demo's customers: segment, region, billing currency, collector, credit limit, risk score and how they pay.

Each customer gets a payer profile drawn from a latent creditworthiness z ~ N(0, 1) (the risk score is a
noisy view of z): *prompt* (around the due date, some take a 2 % early-payment discount), *slow* (~20 days
late), *very slow* (lognormal, heavy tail) and *stopping* (pays normally, then stops paying at some date and
is put on credit hold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collections_mi.demo.columns import IdWidths, id_array, scaled_decimal_array, string_array_from
from collections_mi.demo.names import SPECIAL_CUSTOMERS, company_names, special_customer_names
from collections_mi.demo.schemas import MONEY_TYPE, SCHEMAS
from collections_mi.demo.world import CURRENCIES, NEVER, Calendar, categorical, uniform_int, weighted_draw

SEGMENTS: tuple[str, ...] = ("Enterprise", "Mid-Market", "SMB", "Public")
PUBLIC = SEGMENTS.index("Public")
_SEGMENT_SHARE = np.array([0.08, 0.25, 0.57, 0.10])
_SEGMENT_ACTIVITY = np.array([6.0, 2.5, 0.6, 2.0])  # relative invoices per customer
_TERMS_CHOICES = np.array([15, 30, 45, 60], dtype=np.int64)
_SEGMENT_TERMS_SHARE = np.array(
    [
        [0.00, 0.30, 0.35, 0.35],  # Enterprise
        [0.05, 0.60, 0.25, 0.10],  # Mid-Market
        [0.35, 0.60, 0.05, 0.00],  # SMB
        [0.00, 0.30, 0.30, 0.40],  # Public
    ]
)
# credit limit in the reporting currency: log-uniform between bounds, rounded to a step
_SEGMENT_CREDIT_LIMIT = (
    (250_000, 2_500_000, 5_000),
    (50_000, 400_000, 5_000),
    (5_000, 60_000, 1_000),
    (100_000, 1_500_000, 5_000),
)

REGIONS: tuple[str, ...] = ("North America", "EMEA", "APAC", "LATAM")
_REGION_SHARE = np.array([0.45, 0.30, 0.15, 0.10])
_EMEA_GBP_SHARE = 0.35
_COLLECTORS_BY_REGION: tuple[tuple[str, str], ...] = (
    ("Alice Martin", "Marcus Reed"),
    ("Sophie Dubois", "Jonas Becker"),
    ("Priya Nair", "Kenji Tanaka"),
    ("Lucía Fernández", "Diego Alves"),
)
COLLECTORS: tuple[str, ...] = tuple(name for pair in _COLLECTORS_BY_REGION for name in pair)

# payer profiles, drawn from a latent creditworthiness z ~ N(0, 1) (the risk score is a noisy view of z)
PROMPT, SLOW, VERY_SLOW, STOPPING = 0, 1, 2, 3
_PROFILE_Z_THRESHOLDS = np.array([-1.881, -0.9154, -0.0502])  # 3 % stopping, 15 % very slow, 30 % slow
_DISCOUNT_TAKER_SHARE = 0.20  # of prompt payers offered 2/10 terms
_CREDIT_HOLD_DAYS = 45  # a stopped customer gets no new invoices this long after it stopped paying


@dataclass(frozen=True)
class Customers:
    """Every customer's attributes, one array entry per customer (customer ``i`` has id ``C{i + 1}``)."""

    count: int
    names: pa.Array
    segment: np.ndarray
    region: np.ndarray
    currency: np.ndarray
    collector: np.ndarray
    credit_limit_cents: np.ndarray
    risk_score: np.ndarray
    risk_score_missing: np.ndarray
    profile: np.ndarray
    takes_discount: np.ndarray
    terms_days: np.ndarray
    stop_day: np.ndarray  # stopping customers: first day on which they no longer pay; others NEVER
    hold_from_day: np.ndarray  # no new invoices from this day (credit hold)
    cumulative_activity: np.ndarray
    reliable_ids: np.ndarray  # customers who never stop paying
    reliable_cumulative_activity: np.ndarray

    def sample(self, rng: np.random.Generator, invoice_day: np.ndarray) -> np.ndarray:
        """Draw a customer per invoice by activity; customers on credit hold are replaced."""
        customer = weighted_draw(rng, self.cumulative_activity, invoice_day.size)
        on_hold = invoice_day >= self.hold_from_day[customer]
        replacement = self.reliable_ids[weighted_draw(rng, self.reliable_cumulative_activity, invoice_day.size)]
        return np.where(on_hold, replacement, customer)

    def to_table(self, widths: IdWidths) -> pa.Table:
        """The ``customers`` table."""
        ids = np.arange(1, self.count + 1)
        return pa.Table.from_arrays(
            [
                id_array("C", ids, widths.customer),
                self.names,
                string_array_from(SEGMENTS, self.segment),
                string_array_from(REGIONS, self.region),
                string_array_from(COLLECTORS, self.collector),
                scaled_decimal_array(self.credit_limit_cents, MONEY_TYPE),
                pa.array(self.risk_score, type=pa.int64(), mask=self.risk_score_missing),
                string_array_from(CURRENCIES, self.currency),
            ],
            schema=SCHEMAS["customers"],
        )


def build_customers(rng: np.random.Generator, count: int, calendar: Calendar) -> Customers:
    """``count`` customers; the special names sit at evenly spaced positions."""
    segment = categorical(rng, _SEGMENT_SHARE, count)
    region = categorical(rng, _REGION_SHARE, count)
    special_positions = (np.arange(len(SPECIAL_CUSTOMERS)) * count) // len(SPECIAL_CUSTOMERS) + 2
    special_positions = np.minimum(special_positions, count - 1)
    region[special_positions] = [special_region for _, special_region in SPECIAL_CUSTOMERS]
    # company names, not public bodies
    segment[special_positions] = np.where(segment[special_positions] == PUBLIC, 1, segment[special_positions])

    is_gbp = (region == 1) & (rng.random(count) < _EMEA_GBP_SHARE)
    currency = np.where(region == 1, np.where(is_gbp, 2, 1), 0)
    collector = region * 2 + (rng.random(count) < 0.5)

    low, high, step = (np.array(values, dtype=np.float64) for values in zip(*_SEGMENT_CREDIT_LIMIT, strict=True))
    log_limit = rng.uniform(np.log(low[segment]), np.log(high[segment]))
    credit_limit_cents = (np.rint(np.exp(log_limit) / step[segment]) * step[segment] * 100).astype(np.int64)

    creditworthiness = rng.standard_normal(count)
    risk_score = np.clip(
        np.rint(660 + 85 * (0.8 * creditworthiness + 0.6 * rng.standard_normal(count))), 300, 850
    ).astype(np.int64)
    risk_score_missing = rng.random(count) < 0.015
    profile = (STOPPING - np.searchsorted(_PROFILE_Z_THRESHOLDS, creditworthiness, side="right")).astype(np.int64)
    profile = np.where((segment == PUBLIC) & (profile == STOPPING), VERY_SLOW, profile)  # public bodies pay, late
    takes_discount = (profile == PROMPT) & (rng.random(count) < _DISCOUNT_TAKER_SHARE)
    terms_cumulative = np.cumsum(_SEGMENT_TERMS_SHARE, axis=1)[segment]
    terms_days = _TERMS_CHOICES[(rng.random(count)[:, None] >= terms_cumulative[:, :-1]).sum(axis=1)]

    stop_day = _stop_days(rng, count, calendar)
    stop_day = np.where(profile == STOPPING, stop_day, NEVER)
    hold_from_day = np.where(profile == STOPPING, stop_day + _CREDIT_HOLD_DAYS, NEVER)

    activity = _SEGMENT_ACTIVITY[segment] * rng.lognormal(0.0, 0.8, count)
    reliable_ids = np.flatnonzero(profile != STOPPING)
    names = company_names(rng, segment == PUBLIC, region)
    names = pc.if_else(
        pa.array(np.isin(np.arange(count), special_positions)),
        special_customer_names(count, special_positions),
        names,
    )
    return Customers(
        count=count,
        names=names,
        segment=segment,
        region=region,
        currency=currency,
        collector=collector,
        credit_limit_cents=credit_limit_cents,
        risk_score=risk_score,
        risk_score_missing=risk_score_missing,
        profile=profile,
        takes_discount=takes_discount,
        terms_days=terms_days,
        stop_day=stop_day,
        hold_from_day=hold_from_day,
        cumulative_activity=np.cumsum(activity),
        reliable_ids=reliable_ids,
        reliable_cumulative_activity=np.cumsum(activity[reliable_ids]),
    )


def _stop_days(rng: np.random.Generator, count: int, calendar: Calendar) -> np.ndarray:
    """The day each customer would stop paying: 40 % in the stressed quarter, the rest anywhere."""
    normal_low = calendar.first_day + 60
    normal_high = max(normal_low, calendar.end_day - 30)
    stop_in_stress = rng.random(count) < 0.4
    return np.where(
        stop_in_stress,
        uniform_int(rng, calendar.stress_start, calendar.stress_end, count),
        uniform_int(rng, normal_low, normal_high, count),
    )
