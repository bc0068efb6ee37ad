"""Deterministic, realistic demo receivables ledger.

``generate_demo`` writes the twelve contract tables of a synthetic book into a folder, as CSV or
Parquet, following ``data-contract.md``: the accounts receivable (``customers``, ``invoices``,
``payments``, ``adjustments``, ``promises``, ``fx_rates``, ``gl_balances``), the collection agencies
(``agencies``, ``agency_placements``, ``agency_collections``) and a watch-list loan book (``loans``,
``loan_cash_flows``).

What the ledger looks like
    * ~2,000 customers (``max(2000, invoices // 30)``) in four segments and four regions, each with a
      billing currency (USD / EUR / GBP), payment terms, a collector and a payer profile: *prompt*
      (around the due date, some take a 2 % early-payment discount), *slow* (~20 days late),
      *very slow* (lognormal, heavy tail) and *stopping* (pays normally, then stops paying at some date;
      their items are written off 180–365 days past due and they are put on credit hold).
    * ``months`` months of invoices ending at ``end`` with seasonality (Q4 peak, summer dip), mild
      growth, few invoices on weekends, and one *stressed quarter* (payments slower, more defaults,
      more customers stopping) so that roll rates vary from month to month.
    * Partial payments, prepayments, credit notes (often on disputed items), discounts, write-offs,
      recoveries, promises to pay (about two thirds kept, the rest broken or pending), business-day
      FX rates and month-end ``ar_control`` / ``allowance`` GL balances that reconcile exactly.
    * Nothing is dated after ``end``; whatever was not settled by then is the open AR.
    * Four collection agencies (two champions, two challengers). Customers whose oldest open item is
      90-150 days past due are placed at a month-end for their open past-due balance (exactly, at the
      closing rate); agencies collect 10-35 % of what they are given, mostly in months 1-6, one
      challenger doing better than one champion; some placements are recalled after 4-9 months.
      Agency collections are gross amounts independent of the invoice payments.
    * A loan book of ~300 loans (scaling with the fourth root of the invoice count) in 13 month-end
      snapshots up to ``end``'s latest month-end: grade migration, days past due, non-accrual, REO,
      payoffs, charge-offs and new loans; individually reviewed loans are measured on collateral or on
      expected cash flows (``loan_cash_flows``) whose present value is mostly below the balance.

Guarantees
    * Same arguments → byte-identical files (seeded ``numpy`` generators; no time, hash or dict-order
      dependence).
    * Money is held in integer cents end to end and GL balances are converted with ``Decimal``.
    * Payments + credit notes + discounts + write-offs never exceed an invoice's amount.
    * Invoices are generated and written in chunks, so memory stays bounded even at 10 million
      invoices; only per-customer and per-month accumulators live across chunks (for agency
      placements, only the customers that are seriously late). The agency and loan tables are small
      and built once, after the last chunk, from their own random streams, so they change nothing in
      the receivables tables.
    * Files are written under temporary names and renamed into place only once every table is
      complete, so a half-written ledger never appears under the contract names.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from collections_mi.core.errors import ConfigError

__all__ = ["DEMO_TABLES", "DemoSummary", "generate_demo"]

DEMO_TABLES: tuple[str, ...] = (
    "customers",
    "invoices",
    "payments",
    "adjustments",
    "promises",
    "fx_rates",
    "gl_balances",
    "agencies",
    "agency_placements",
    "agency_collections",
    "loans",
    "loan_cash_flows",
)

# ---------------------------------------------------------------------------------------------------
# Output schemas (Parquet types; the CSV files print the same values as text)
# ---------------------------------------------------------------------------------------------------

MONEY_TYPE = pa.decimal128(18, 2)
RATE_TYPE = pa.decimal128(18, 6)
RATE_SCALE = 1_000_000  # fx rates are held as integer millionths ("micro" units)
SHARE_TYPE = pa.decimal128(9, 4)  # fee rates, interest rates, cost-to-sell rates: 0.2500
SHARE_SCALE = 10_000  # shares are held as integer ten-thousandths (basis points)

SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("name", pa.string()),
            ("segment", pa.string()),
            ("region", pa.string()),
            ("collector", pa.string()),
            ("credit_limit", MONEY_TYPE),
            ("risk_score", pa.int64()),
            ("currency", pa.string()),
        ]
    ),
    "invoices": pa.schema(
        [
            ("invoice_id", pa.string()),
            ("customer_id", pa.string()),
            ("invoice_date", pa.date32()),
            ("due_date", pa.date32()),
            ("amount", MONEY_TYPE),
            ("currency", pa.string()),
            ("disputed", pa.bool_()),
            ("terms_days", pa.int64()),
        ]
    ),
    "payments": pa.schema(
        [
            ("payment_id", pa.string()),
            ("invoice_id", pa.string()),
            ("payment_date", pa.date32()),
            ("amount", MONEY_TYPE),
        ]
    ),
    "adjustments": pa.schema(
        [
            ("adjustment_id", pa.string()),
            ("invoice_id", pa.string()),
            ("adjustment_date", pa.date32()),
            ("kind", pa.string()),
            ("amount", MONEY_TYPE),
        ]
    ),
    "promises": pa.schema(
        [
            ("promise_id", pa.string()),
            ("customer_id", pa.string()),
            ("promised_on", pa.date32()),
            ("due_by", pa.date32()),
            ("amount", MONEY_TYPE),
            ("collector", pa.string()),
        ]
    ),
    "fx_rates": pa.schema(
        [
            ("rate_date", pa.date32()),
            ("currency", pa.string()),
            ("rate", RATE_TYPE),
        ]
    ),
    "gl_balances": pa.schema(
        [
            ("period_end", pa.date32()),
            ("account", pa.string()),
            ("amount", MONEY_TYPE),
        ]
    ),
    "agencies": pa.schema(
        [
            ("agency_id", pa.string()),
            ("name", pa.string()),
            ("strategy", pa.string()),
            ("fee_rate_default", SHARE_TYPE),
        ]
    ),
    "agency_placements": pa.schema(
        [
            ("placement_id", pa.string()),
            ("agency_id", pa.string()),
            ("customer_id", pa.string()),
            ("placed_date", pa.date32()),
            ("placed_amount", MONEY_TYPE),
            ("fee_rate", SHARE_TYPE),
            ("recalled_date", pa.date32()),
        ]
    ),
    "agency_collections": pa.schema(
        [
            ("collection_id", pa.string()),
            ("placement_id", pa.string()),
            ("collection_date", pa.date32()),
            ("amount", MONEY_TYPE),
        ]
    ),
    "loans": pa.schema(
        [
            ("as_of_date", pa.date32()),
            ("loan_id", pa.string()),
            ("borrower", pa.string()),
            ("balance", MONEY_TYPE),
            ("effective_rate", SHARE_TYPE),
            ("risk_grade", pa.string()),
            ("days_past_due", pa.int64()),
            ("on_watch_list", pa.bool_()),
            ("impairment_method", pa.string()),
            ("collateral_value", MONEY_TYPE),
            ("cost_to_sell_rate", SHARE_TYPE),
            ("status", pa.string()),
            ("segment", pa.string()),
            ("watch_list_since", pa.date32()),
        ]
    ),
    "loan_cash_flows": pa.schema(
        [
            ("as_of_date", pa.date32()),
            ("loan_id", pa.string()),
            ("flow_date", pa.date32()),
            ("amount", MONEY_TYPE),
        ]
    ),
}

# ---------------------------------------------------------------------------------------------------
# Model parameters
# ---------------------------------------------------------------------------------------------------

CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP")
# USD per unit: (centre of the walk, lower bound, upper bound)
_USD_PER_UNIT_BANDS: dict[str, tuple[float, float, float]] = {
    "EUR": (1.10, 1.05, 1.15),
    "GBP": (1.275, 1.20, 1.35),
}

SEGMENTS: tuple[str, ...] = ("Enterprise", "Mid-Market", "SMB", "Public")
_SEGMENT_SHARE = np.array([0.08, 0.25, 0.57, 0.10])
_SEGMENT_ACTIVITY = np.array([6.0, 2.5, 0.6, 2.0])  # relative invoices per customer
_SEGMENT_AMOUNT_MEDIAN = np.array([25_000.0, 6_000.0, 900.0, 12_000.0])
_SEGMENT_AMOUNT_SIGMA = np.array([1.0, 0.9, 0.8, 0.9])
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

_SEASONALITY = np.array([0.92, 0.90, 1.00, 0.98, 0.97, 0.90, 0.82, 0.80, 0.98, 1.08, 1.16, 1.22])
_ANNUAL_GROWTH = 1.08
_WEEKDAY_ACTIVITY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.05, 0.02])  # Monday .. Sunday

_NULL_CURRENCY_SHARE = 0.05
_DISPUTED_SHARE = 0.03
# invoices settled in 2 / 3 payments, as shares of those not discounted, prepaid or defaulted
_PARTIAL_PAYMENT_SHARE = (0.11, 0.055)
_PREPAYMENT_SHARE = 0.004
_RECOVERY_SHARE = 0.15
_KEPT_PROMISE_PER_LATE_PAYMENT = 0.06
_KEPT_PROMISE_SHARE = 0.65

# allowance (aging_rates) by days past due: <=0, 1-30, 31-60, 61-90, 91-120, >120
_AGING_UPPER_BOUNDS = np.array([0, 30, 60, 90, 120], dtype=np.int64)
_ALLOWANCE_RATES = tuple(Decimal(rate) for rate in ("0.005", "0.02", "0.08", "0.2", "0.5", "1.0"))

_MAX_CHUNK_INVOICES = 250_000
_BALANCE_MATRIX_CELLS = 8_000_000  # bounds the per-chunk (invoice × month-end) balance matrix

# adjustment kinds, in the order rows of one invoice are listed
_ADJUSTMENT_KINDS = ("credit_note", "discount", "write_off", "recovery")

# collection agencies: (name, strategy, default fee rate in basis points, share of placements,
# probability that a small placement yields anything, expected lifetime liquidation, days to first money)
_AGENCIES: tuple[tuple[str, str, int, float, float, float, float], ...] = (
    ("Keystone Recovery Partners", "champion", 2500, 0.34, 0.62, 0.27, 25.0),
    ("Meridian Credit Management", "champion", 2000, 0.28, 0.52, 0.20, 30.0),
    ("Bluewater Collections Group", "challenger", 2800, 0.22, 0.57, 0.23, 28.0),
    ("Ashford & Lane Receivables", "challenger", 1800, 0.16, 0.45, 0.14, 38.0),
)
_PLACEMENT_MIN_DAYS_PAST_DUE = 90  # placed at a month-end once the oldest open item is 90-150 days past due
_PLACEMENT_MAX_THRESHOLD_DAYS = 150
_PLACEMENT_MIN_CENTS = 25_000  # agencies do not take balances below 250.00 (reporting currency)
_PLACEMENT_SHARE = 0.8  # of eligible customers; the rest are worked in-house
_SMALL_BALANCE_CENTS = 250_000  # balances under 2,500.00 are placed at a 5-point higher commission
_SMALL_BALANCE_FEE_UPLIFT = 500
_MAX_FEE_RATE = 3500
_AGENCY_RECALL_BASE = (0.06, 0.10, 0.08, 0.13)  # probability of a recall after 4-9 months, by agency
_AGENCY_RECALL_IF_SILENT = 0.20  # extra probability when nothing came in during the first 120 days

# loan book (watch list): month-end snapshots of a small commercial / consumer loan portfolio
_LOAN_SNAPSHOTS = 13
_LOAN_GRADES = ("pass", "special_mention", "substandard", "doubtful", "loss")
PASS, SPECIAL_MENTION, SUBSTANDARD, DOUBTFUL, LOSS = range(5)
_LOAN_SEGMENTS = ("CRE", "C&I", "Consumer")
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
# payments missed (0 = current) allowed per grade, and the odds of each value on entering the grade
_MISSED_RANGE = ((0, 1), (0, 2), (0, 3), (3, 6), (4, 12))
_LOAN_PAYOFF_MONTHLY = 0.011  # pass / special mention loans refinanced or repaid early
_LOAN_ORIGINATION_MONTHLY = 0.015  # new loans per month, as a share of the opening book
_LOAN_CHARGE_OFF_MONTHLY = 0.6  # loss loans charged off (they then leave the snapshots)
_LOAN_FORECLOSURE_MONTHLY = 0.12  # doubtful / loss collateral-dependent CRE or consumer loans
_REO_SALE_MONTHLY = 0.05
_SUBSTANDARD_NON_ACCRUAL_SHARE = 0.4
_INDIVIDUAL_REVIEW_CENTS = 100_000_000  # substandard loans of 1m or more are reviewed individually
_PASS_WATCH_MONTHLY = 0.002  # pass loans put on the watch list (e.g. covenant breach)
_PASS_WATCH_RELEASE_MONTHLY = 0.25

# ---------------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------------

_NAME_FIRST = (
    "Apex",
    "Summit",
    "Northwind",
    "Blue Harbor",
    "Ironwood",
    "Cedar",
    "Granite",
    "Silverline",
    "Redwood",
    "Pioneer",
    "Keystone",
    "Evergreen",
    "Sterling",
    "Atlas",
    "Beacon",
    "Crescent",
    "Falcon",
    "Horizon",
    "Liberty",
    "Meridian",
    "Orion",
    "Pinnacle",
    "Quantum",
    "Riverbend",
    "Sapphire",
    "Titan",
    "Vanguard",
    "Willow",
    "Zenith",
    "Lakeshore",
    "Bright Path",
    "Copperfield",
    "Harborview",
    "Oakridge",
    "Stonegate",
    "Westbrook",
    "Nimbus",
    "Polaris",
    "Trident",
    "Juniper",
)
_NAME_MIDDLE = (
    "",
    "",
    "",
    "",
    "",
    "",
    "Global",
    "International",
    "National",
    "United",
    "Advanced",
    "Premier",
    "Integrated",
    "Coastal",
    "Central",
    "Digital",
    "Precision",
    "Allied",
    "Modern",
    "Continental",
)
_NAME_TRADE = (
    "Logistics",
    "Foods",
    "Analytics",
    "Manufacturing",
    "Health",
    "Energy",
    "Systems",
    "Retail",
    "Construction",
    "Textiles",
    "Pharma",
    "Software",
    "Motors",
    "Labs",
    "Supply",
    "Partners",
    "Industries",
    "Media",
    "Holdings",
    "Engineering",
    "Freight",
    "Packaging",
    "Telecom",
    "Solar",
    "Hospitality",
    "Furniture",
    "Chemicals",
    "Robotics",
    "Apparel",
    "Instruments",
)
_NAME_SUFFIX_BY_REGION: tuple[tuple[str, ...], ...] = (
    ("Inc.", "LLC", "Corp.", "Co.", "Inc.", "LLC"),
    ("Ltd", "GmbH", "S.A.", "B.V.", "plc", "AG", "S.r.l.", "SAS"),
    ("Pty Ltd", "Pte. Ltd.", "K.K.", "Ltd", "Sdn. Bhd."),
    ("S.A. de C.V.", "Ltda.", "S.A.", "S.A.S."),
)
_PUBLIC_PLACES = (
    "Springfield",
    "Riverside",
    "Franklin",
    "Greenville",
    "Madison",
    "Clinton",
    "Georgetown",
    "Salem",
    "Fairview",
    "Bristol",
    "Ashford",
    "Kingston",
    "Lancaster",
    "Milford",
    "Newport",
    "Oxford",
    "Princeton",
    "Richmond",
    "Shelby",
    "Windsor",
    "Arlington",
    "Dayton",
    "Hudson",
    "Jackson",
    "Marion",
    "Monroe",
    "Dover",
    "Lexington",
    "Burlington",
    "Chester",
)
_PUBLIC_PATTERNS = (
    "City of {}",
    "{} County",
    "{} Unified School District",
    "{} Water Authority",
    "University of {}",
    "{} Transit Authority",
    "Port of {}",
    "{} Health Department",
)
# names that need escaping / exercise unicode, with the region they belong to
_SPECIAL_CUSTOMERS: tuple[tuple[str, int], ...] = (
    ("Müller & Söhne GmbH", 1),
    ('O\'Brien "Bros" <Ltd>', 0),
    ("Smith, Jones & Partners LLP", 0),
    ("Crème Brûlée Café S.à r.l.", 1),
    ("Zoë's Kitchen, Inc.", 0),
    ("São Paulo Logística Ltda.", 3),
    ("Nguyễn & Trần Trading Co.", 2),
    ("Łódź Přesné Strojírenství s.r.o.", 1),
    ("株式会社サクラ商事 (Sakura Shoji K.K.)", 2),
    ('"Quoted" Holdings; Ltd', 1),
)
_LOAN_CRE_KINDS = (
    "Properties LLC",
    "Realty Partners, L.P.",
    "Plaza Owner LLC",
    "Office Park LLC",
    "Apartments LP",
    "Hotel Holdings LLC",
    "Industrial Park LLC",
    "Self Storage LLC",
    "Retail Center LLC",
    "Medical Office Building LLC",
    "Commons Associates",
    "Logistics Center LLC",
)
_LOAN_PERSON_FIRST = (
    "James",
    "Maria",
    "Robert",
    "Linda",
    "Michael",
    "Patricia",
    "David",
    "Jennifer",
    "Daniel",
    "Aisha",
    "Carlos",
    "Mei",
    "Thomas",
    "Sarah",
    "Kevin",
    "Emily",
    "Ahmed",
    "Grace",
    "Luis",
    "Hannah",
)
_LOAN_PERSON_LAST = (
    "Smith",
    "Johnson",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Lee",
    "Walker",
    "Hall",
    "Young",
    "O'Neil",
    "Nguyen",
    "Patel",
    "Kim",
    "Brooks",
    "Foster",
    "Reyes",
    "Sullivan",
    "Chen",
)
# borrowers whose names need escaping / exercise unicode: (name, segment, grade they start in)
_SPECIAL_BORROWERS: tuple[tuple[str, int, int], ...] = (
    ("Harbor & Main Realty, L.P.", 0, 2),
    ('D\'Angelo "Dee" Builders <Corp>', 1, 1),
    ("Ünal & Söhne Bau GmbH", 1, 2),
)


# ---------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    """What ``generate_demo`` wrote.

    Attributes:
        out_dir: the folder holding the tables.
        row_counts: rows written per table, in ``DEMO_TABLES`` order.
        first_invoice_date: earliest ``invoice_date``.
        last_invoice_date: latest ``invoice_date``.
        latest_month_end: the last month-end on or before ``end`` (the natural ``as_of`` for a pack).
        seconds: wall-clock time taken.
    """

    out_dir: Path
    row_counts: Mapping[str, int]
    first_invoice_date: datetime.date
    last_invoice_date: datetime.date
    latest_month_end: datetime.date
    seconds: float


def generate_demo(
    out_dir: str | os.PathLike[str],
    *,
    invoices: int = 60_000,
    seed: int = 7,
    end: datetime.date = datetime.date(2026, 10, 31),
    months: int = 26,
    fmt: Literal["csv", "parquet"] = "csv",
    reporting_currency: str = "USD",
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Write a deterministic, realistic demo receivables ledger (plus agencies and loan book) into ``out_dir``.

    Args:
        out_dir: destination folder, created if missing. Existing ``<table>.csv|.parquet`` files of the
            demo tables (``DEMO_TABLES``) are replaced; the other format's copies are removed so that a
            reader (Parquet wins over CSV) never mixes two ledgers.
        invoices: number of invoices (≥ 1). Customers = ``max(2000, invoices // 30)``; loans in the
            first snapshot = ``300 × (invoices / 60,000) ** 0.25``, kept within 100-2,000.
        seed: random seed; the same arguments always produce byte-identical files.
        end: last date of the ledger; no row is dated after it.
        months: number of calendar months of invoices, the last one being ``end``'s month.
        fmt: ``"csv"`` (UTF-8, comma, header, ISO dates, empty cell = null, money with 2 decimals)
            or ``"parquet"`` (date32, decimal128(18,2) money, string ids, bool flags).
        reporting_currency: ``USD``, ``EUR`` or ``GBP``. FX rates are units of it per unit of the other
            two currencies; credit limits, promises, GL balances, agency tables and loans are in it;
            invoices with an empty ``currency`` cell are in it.
        progress: called with a short message after each chunk of invoices.

    Returns:
        A ``DemoSummary`` with the row counts and date range written.

    Raises:
        ConfigError: an argument is out of range (the message names it; nothing is written).
    """
    started = time.perf_counter()
    end_date = datetime.date(end.year, end.month, end.day)
    _validate_arguments(invoices=invoices, seed=seed, months=months, fmt=fmt, reporting_currency=reporting_currency)
    reporting_code = CURRENCIES.index(reporting_currency)
    out_path = Path(out_dir)
    out_path.mkdir(parents=True, exist_ok=True)

    calendar = _build_calendar(end_date, months, invoices)
    fx = _build_fx_rates(_rng(seed, _Stream.FX), calendar, reporting_code)
    customers = _build_customers(_rng(seed, _Stream.CUSTOMERS), max(2000, invoices // 30), calendar)
    id_widths = _IdWidths.for_size(invoices, customers.count)
    chunk_size = max(10_000, min(_MAX_CHUNK_INVOICES, _BALANCE_MATRIX_CELLS // (calendar.month_ends.size + 1)))
    chunk_starts = list(range(0, invoices, chunk_size))

    sinks: dict[str, _TableSink] = {}
    try:
        for table in DEMO_TABLES:
            sinks[table] = _open_sink(out_path, table, fmt)
        sinks["customers"].write(customers.to_table(id_widths))
        sinks["fx_rates"].write(fx.to_table(reporting_code))
        balances = _BalanceAccumulator(month_ends=calendar.month_ends)
        past_due = _PastDueAccumulator(month_ends=calendar.month_ends, customer_count=customers.count)
        defaulters = _DefaulterAccumulator(customers.count)
        counters = _RowCounters()
        for chunk_number, first_invoice in enumerate(chunk_starts):
            count = min(chunk_size, invoices - first_invoice)
            chunk = _simulate_chunk(
                _rng(seed, _Stream.INVOICES, chunk_number),
                first_invoice,
                count,
                calendar,
                customers,
                fx,
                reporting_code,
            )
            month_end_balance = _month_end_balances(chunk, calendar.month_ends)
            balances.add_chunk(chunk, month_end_balance)
            past_due.add_chunk(chunk, month_end_balance)
            del month_end_balance
            defaulters.add_chunk(chunk, customers, fx)
            _write_chunk(sinks, chunk, customers, id_widths, counters)
            if progress is not None:
                progress(
                    f"demo: invoices {first_invoice + count:,}/{invoices:,} "
                    f"(chunk {chunk_number + 1}/{len(chunk_starts)})"
                )
        broken = _broken_promises(
            _rng(seed, _Stream.BROKEN_PROMISES), counters.promises, customers, defaulters, calendar
        )
        _write_promises(sinks["promises"], broken, customers, id_widths, counters)
        sinks["gl_balances"].write(_gl_balances_table(balances, fx, calendar))
        agency_tables = _agency_tables(
            _rng(seed, _Stream.AGENCIES), past_due.finish(), customers, fx, calendar, id_widths
        )
        loan_tables = _loan_tables(_rng(seed, _Stream.LOANS), invoices, calendar.end_day)
        for table, content in (agency_tables | loan_tables).items():
            sinks[table].write(content)
        for sink in sinks.values():
            sink.close()
    except BaseException:
        for sink in sinks.values():
            sink.discard()
        raise
    for sink in sinks.values():
        sink.commit()
    other_suffix = "parquet" if fmt == "csv" else "csv"
    for table in DEMO_TABLES:
        (out_path / f"{table}.{other_suffix}").unlink(missing_ok=True)

    summary = DemoSummary(
        out_dir=out_path,
        row_counts={table: sinks[table].rows for table in DEMO_TABLES},
        first_invoice_date=_to_date(calendar.first_invoice_day),
        last_invoice_date=_to_date(calendar.last_invoice_day),
        latest_month_end=_to_date(calendar.latest_month_end),
        seconds=time.perf_counter() - started,
    )
    if progress is not None:
        progress(f"demo: wrote {invoices:,} invoices to {out_path} in {summary.seconds:.1f}s")
    return summary


def _validate_arguments(*, invoices: int, seed: int, months: int, fmt: str, reporting_currency: str) -> None:
    def positive_integer(name: str, value: object, minimum: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(
                f"demo: {name} must be an integer ≥ {minimum}, got {value!r}",
                hint=f"pass {name}={max(minimum, 1)} or more",
            )

    positive_integer("invoices", invoices, 1)
    positive_integer("seed", seed, 0)
    positive_integer("months", months, 1)
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"demo: fmt must be 'csv' or 'parquet', got {fmt!r}", hint="use fmt='csv' or fmt='parquet'")
    if reporting_currency not in CURRENCIES:
        raise ConfigError(
            f"demo: reporting_currency must be one of the demo's currencies {', '.join(CURRENCIES)}, "
            f"got {reporting_currency!r}",
            hint="use reporting_currency='USD' (or 'EUR' / 'GBP')",
        )


# ---------------------------------------------------------------------------------------------------
# Random streams, dates
# ---------------------------------------------------------------------------------------------------


class _Stream:
    CUSTOMERS = 1
    FX = 2
    INVOICES = 3
    BROKEN_PROMISES = 4
    AGENCIES = 5
    LOANS = 6


def _rng(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    """An independent generator per purpose (and per chunk), so chunks never share random numbers."""
    return np.random.default_rng(np.random.SeedSequence([seed, stream, index]))


_EPOCH = datetime.date(1970, 1, 1)


def _to_days(day: datetime.date) -> int:
    return (day - _EPOCH).days


def _to_date(days: int) -> datetime.date:
    return _EPOCH + datetime.timedelta(days=int(days))


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 … Sunday = 6 (1970-01-01 was a Thursday)."""
    return (days + 3) % 7


def _next_business_day(days: np.ndarray) -> np.ndarray:
    weekday = _weekday(days)
    return days + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))


def _previous_business_day(days: np.ndarray) -> np.ndarray:
    weekday = _weekday(days)
    return days - np.where(weekday == 5, 1, np.where(weekday == 6, 2, 0))


def _month_end_on_or_after(days: np.ndarray) -> np.ndarray:
    month = days.astype("datetime64[D]").astype("datetime64[M]")
    return ((month + 1).astype("datetime64[D]") - 1).astype(np.int64)


def _uniform_int(rng: np.random.Generator, low: int | np.ndarray, high: int | np.ndarray, size: int) -> np.ndarray:
    """Integers uniform in [low, high] (inclusive, bounds may be arrays)."""
    return rng.integers(low, np.asarray(high) + 1, size=size, dtype=np.int64)


_MILLIONTHS = 1_000_000


def _random_share(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    """Random shares in [low, high], as integer millionths so that money × share stays exact."""
    return _uniform_int(rng, round(low * _MILLIONTHS), round(high * _MILLIONTHS), size)


def _share_of(cents: np.ndarray, share_millionths: np.ndarray) -> np.ndarray:
    """floor(cents × share), in integers."""
    return cents * share_millionths // _MILLIONTHS


@dataclass(frozen=True)
class _Calendar:
    first_day: int
    end_day: int
    first_invoice_day: int
    last_invoice_day: int
    cumulative_invoices_by_day: np.ndarray  # invoice i is dated first_day + searchsorted(cum, i, 'right')
    month_ends: np.ndarray  # every month-end ≤ end in the invoice months
    stress_start: int
    stress_end: int

    @property
    def latest_month_end(self) -> int:
        if self.month_ends.size:
            return int(self.month_ends[-1])
        return self.first_day - 1


def _build_calendar(end: datetime.date, months: int, invoices: int) -> _Calendar:
    end_day = _to_days(end)
    end_month = np.datetime64(end, "M")
    first_month = end_month - (months - 1)
    first_day = int(first_month.astype("datetime64[D]").astype(np.int64))
    all_month_ends = ((np.arange(first_month, end_month + 1) + 1).astype("datetime64[D]") - 1).astype(np.int64)
    month_ends = all_month_ends[all_month_ends <= end_day]

    days = np.arange(first_day, end_day + 1, dtype=np.int64)
    calendar_month = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    weight = (
        _SEASONALITY[calendar_month]
        * _ANNUAL_GROWTH ** ((days - first_day) / 365.25)
        * _WEEKDAY_ACTIVITY[_weekday(days)]
    )
    invoices_by_day = _largest_remainder_allocation(weight, invoices)
    cumulative = np.cumsum(invoices_by_day)
    busy_days = days[invoices_by_day > 0]

    # the stressed quarter: the calendar quarter 15 months before end (or the middle of a short range)
    anchor = end_month - 15 if months > 18 else first_month + (months - 1) // 2
    quarter_start = anchor - (anchor.astype(np.int64) % 3)
    stress_start = int(quarter_start.astype("datetime64[D]").astype(np.int64))
    stress_end = int(((quarter_start + 3).astype("datetime64[D]") - 1).astype(np.int64))

    return _Calendar(
        first_day=first_day,
        end_day=end_day,
        first_invoice_day=int(busy_days[0]),
        last_invoice_day=int(busy_days[-1]),
        cumulative_invoices_by_day=cumulative,
        month_ends=month_ends,
        stress_start=stress_start,
        stress_end=stress_end,
    )


def _largest_remainder_allocation(weight: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weight`` (deterministic, exact total)."""
    exact = weight / weight.sum() * total
    counts = np.floor(exact).astype(np.int64)
    shortfall = total - int(counts.sum())
    if shortfall:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:shortfall]] += 1
    return counts


# ---------------------------------------------------------------------------------------------------
# FX rates
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _FxRates:
    dates: np.ndarray  # business days, ascending
    reporting_per_unit: np.ndarray  # (currency, date) → units of reporting currency per unit, in millionths
    lowest_reporting_per_unit: np.ndarray  # per currency, the lowest rate over the whole table

    def closing_index(self, days: np.ndarray) -> np.ndarray:
        """Index of the latest rate dated on or before each day."""
        index = np.searchsorted(self.dates, days, side="right") - 1
        if np.any(index < 0):
            raise RuntimeError("internal error: an fx rate was requested before the first rate date")
        return index

    def to_table(self, reporting_code: int) -> pa.Table:
        foreign = [code for code in range(len(CURRENCIES)) if code != reporting_code]
        dates = np.repeat(self.dates, len(foreign))
        codes = np.tile(np.array(foreign), self.dates.size)
        rates = self.reporting_per_unit[foreign].T.reshape(-1)
        return pa.Table.from_arrays(
            [_date_array(dates), _string_array_from(CURRENCIES, codes), _scaled_decimal_array(rates, RATE_TYPE)],
            schema=SCHEMAS["fx_rates"],
        )


def _build_fx_rates(rng: np.random.Generator, calendar: _Calendar, reporting_code: int) -> _FxRates:
    """Mean-reverting random walks of USD per EUR / GBP on business days, 6 decimals.

    They start on the last business day at least 10 days before the first day of the invoice months (the
    first invoice's day at any realistic size), so every prepayment and month-end has a closing rate.
    """
    start = int(_previous_business_day(np.array([calendar.first_day - 10]))[0])
    all_days = np.arange(start, calendar.end_day + 1, dtype=np.int64)
    dates = all_days[_weekday(all_days) < 5]
    usd_per_unit = np.empty((len(CURRENCIES), dates.size), dtype=np.int64)
    usd_per_unit[CURRENCIES.index("USD")] = RATE_SCALE
    for currency, (centre, low, high) in _USD_PER_UNIT_BANDS.items():
        shocks = rng.standard_normal(dates.size) * 0.0045
        level = np.empty(dates.size)
        log_centre, log_low, log_high = np.log(centre), np.log(low), np.log(high)
        current = log_centre + rng.uniform(-0.02, 0.02)
        for step in range(dates.size):  # one step per business day (~550 a run), not per invoice
            current += 0.01 * (log_centre - current) + shocks[step]
            current = min(max(current, log_low + 0.002), log_high - 0.002)
            level[step] = current
        usd_per_unit[CURRENCIES.index(currency)] = np.rint(np.exp(level) * RATE_SCALE).astype(np.int64)

    # cross rates into the reporting currency, rounded half-up to 6 decimals with integer arithmetic
    reporting_usd = usd_per_unit[reporting_code]
    reporting_per_unit = (2 * usd_per_unit * RATE_SCALE + reporting_usd) // (2 * reporting_usd)
    reporting_per_unit[reporting_code] = RATE_SCALE
    return _FxRates(
        dates=dates,
        reporting_per_unit=reporting_per_unit,
        lowest_reporting_per_unit=reporting_per_unit.min(axis=1),
    )


# ---------------------------------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------------------------------

_NEVER = np.iinfo(np.int64).max // 4  # a day number later than any real date


@dataclass(frozen=True)
class _Customers:
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
    stop_day: np.ndarray  # stopping customers: first day on which they no longer pay; others _NEVER
    hold_from_day: np.ndarray  # no new invoices from this day (credit hold)
    cumulative_activity: np.ndarray
    reliable_ids: np.ndarray  # customers who never stop paying
    reliable_cumulative_activity: np.ndarray

    def sample(self, rng: np.random.Generator, invoice_day: np.ndarray) -> np.ndarray:
        """Draw a customer per invoice by activity; customers on credit hold are replaced."""
        customer = _weighted_draw(rng, self.cumulative_activity, invoice_day.size)
        on_hold = invoice_day >= self.hold_from_day[customer]
        replacement = self.reliable_ids[_weighted_draw(rng, self.reliable_cumulative_activity, invoice_day.size)]
        return np.where(on_hold, replacement, customer)

    def to_table(self, widths: _IdWidths) -> pa.Table:
        ids = np.arange(1, self.count + 1)
        return pa.Table.from_arrays(
            [
                _id_array("C", ids, widths.customer),
                self.names,
                _string_array_from(SEGMENTS, self.segment),
                _string_array_from(REGIONS, self.region),
                _string_array_from(COLLECTORS, self.collector),
                _scaled_decimal_array(self.credit_limit_cents, MONEY_TYPE),
                pa.array(self.risk_score, type=pa.int64(), mask=self.risk_score_missing),
                _string_array_from(CURRENCIES, self.currency),
            ],
            schema=SCHEMAS["customers"],
        )


def _weighted_draw(rng: np.random.Generator, cumulative_weight: np.ndarray, size: int) -> np.ndarray:
    target = rng.random(size) * cumulative_weight[-1]
    return np.minimum(np.searchsorted(cumulative_weight, target, side="right"), cumulative_weight.size - 1)


def _categorical(rng: np.random.Generator, shares: np.ndarray, size: int) -> np.ndarray:
    return np.searchsorted(np.cumsum(shares) / shares.sum(), rng.random(size), side="right")


def _build_customers(rng: np.random.Generator, count: int, calendar: _Calendar) -> _Customers:
    segment = _categorical(rng, _SEGMENT_SHARE, count)
    region = _categorical(rng, _REGION_SHARE, count)
    special_positions = (np.arange(len(_SPECIAL_CUSTOMERS)) * count) // len(_SPECIAL_CUSTOMERS) + 2
    special_positions = np.minimum(special_positions, count - 1)
    region[special_positions] = [special_region for _, special_region in _SPECIAL_CUSTOMERS]
    # company names, not public bodies
    segment[special_positions] = np.where(segment[special_positions] == 3, 1, segment[special_positions])

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
    profile = np.where((segment == 3) & (profile == STOPPING), VERY_SLOW, profile)  # public bodies pay, late
    takes_discount = (profile == PROMPT) & (rng.random(count) < _DISCOUNT_TAKER_SHARE)
    terms_cumulative = np.cumsum(_SEGMENT_TERMS_SHARE, axis=1)[segment]
    terms_days = _TERMS_CHOICES[(rng.random(count)[:, None] >= terms_cumulative[:, :-1]).sum(axis=1)]

    # stopping customers stop at some point: 40 % in the stressed quarter, the rest anywhere
    normal_low = calendar.first_day + 60
    normal_high = max(normal_low, calendar.end_day - 30)
    stop_in_stress = rng.random(count) < 0.4
    stop_day = np.where(
        stop_in_stress,
        _uniform_int(rng, calendar.stress_start, calendar.stress_end, count),
        _uniform_int(rng, normal_low, normal_high, count),
    )
    stop_day = np.where(profile == STOPPING, stop_day, _NEVER)
    hold_from_day = np.where(profile == STOPPING, stop_day + _CREDIT_HOLD_DAYS, _NEVER)

    activity = _SEGMENT_ACTIVITY[segment] * rng.lognormal(0.0, 0.8, count)
    reliable_ids = np.flatnonzero(profile != STOPPING)
    names = _company_names(rng, segment, region)
    names = pc.if_else(
        pa.array(np.isin(np.arange(count), special_positions)),
        _special_names(count, special_positions),
        names,
    )
    return _Customers(
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


def _company_names(rng: np.random.Generator, segment: np.ndarray, region: np.ndarray) -> pa.Array:
    count = segment.size
    first = np.array(_NAME_FIRST, dtype=object)[rng.integers(0, len(_NAME_FIRST), count)]
    middle = np.array(_NAME_MIDDLE, dtype=object)[rng.integers(0, len(_NAME_MIDDLE), count)]
    trade = np.array(_NAME_TRADE, dtype=object)[rng.integers(0, len(_NAME_TRADE), count)]
    suffix_counts = np.array([len(suffixes) for suffixes in _NAME_SUFFIX_BY_REGION])
    suffix_offsets = np.concatenate([[0], np.cumsum(suffix_counts)[:-1]])
    all_suffixes = np.array([s for suffixes in _NAME_SUFFIX_BY_REGION for s in suffixes], dtype=object)
    suffix = all_suffixes[suffix_offsets[region] + (rng.random(count) * suffix_counts[region]).astype(np.int64)]
    company = pc.binary_join_element_wise(
        pa.array(first, pa.string()),
        pa.array(middle, pa.string()),
        pa.array(trade, pa.string()),
        pa.array(suffix, pa.string()),
        " ",
    )
    company = pc.replace_substring(company, "  ", " ")  # empty middle word

    public_templates = np.array([p.split("{}") for p in _PUBLIC_PATTERNS], dtype=object)
    template = rng.integers(0, len(_PUBLIC_PATTERNS), count)
    place = np.array(_PUBLIC_PLACES, dtype=object)[rng.integers(0, len(_PUBLIC_PLACES), count)]
    public = pc.binary_join_element_wise(
        pa.array(public_templates[template, 0], pa.string()),
        pa.array(place, pa.string()),
        pa.array(public_templates[template, 1], pa.string()),
        "",
    )
    return pc.if_else(pa.array(segment == 3), public, company)


def _special_names(count: int, positions: np.ndarray) -> pa.Array:
    names = np.full(count, "", dtype=object)
    names[positions] = [name for name, _ in _SPECIAL_CUSTOMERS]
    return pa.array(names, pa.string())


# ---------------------------------------------------------------------------------------------------
# One chunk of invoices and everything that happens to them
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Events:
    """Rows of one kind, keyed by the chunk-local invoice index (sorted by invoice, then day)."""

    invoice: np.ndarray
    day: np.ndarray
    cents: np.ndarray

    def where(self, keep: np.ndarray) -> _Events:
        """The rows for which ``keep`` is true."""
        return _Events(invoice=self.invoice[keep], day=self.day[keep], cents=self.cents[keep])


@dataclass(frozen=True)
class _ChunkLedger:
    first_invoice: int  # global 0-based index of the chunk's first invoice
    customer: np.ndarray
    invoice_day: np.ndarray
    due_day: np.ndarray
    terms_days: np.ndarray
    amount_cents: np.ndarray
    currency: np.ndarray  # code of the actual currency (null cells included)
    currency_is_null: np.ndarray
    disputed: np.ndarray
    payments: _Events
    adjustments: dict[str, _Events]  # by kind
    defaulted: np.ndarray  # never settled: written off (or to be, after end)
    defaulted_balance_cents: np.ndarray  # what the customer owes on a defaulted item, without discount
    kept_promises: _Promises


@dataclass(frozen=True)
class _Promises:
    customer: np.ndarray
    promised_on: np.ndarray
    due_by: np.ndarray
    amount_cents: np.ndarray  # reporting currency

    def __len__(self) -> int:
        return int(self.customer.size)

    @staticmethod
    def none() -> _Promises:
        empty = np.zeros(0, dtype=np.int64)
        return _Promises(customer=empty, promised_on=empty, due_by=empty, amount_cents=empty)

    def by_date(self) -> _Promises:
        """The same promises ordered by promised_on, then customer."""
        order = np.lexsort((self.customer, self.promised_on))
        return _Promises(
            customer=self.customer[order],
            promised_on=self.promised_on[order],
            due_by=self.due_by[order],
            amount_cents=self.amount_cents[order],
        )


def _simulate_chunk(
    rng: np.random.Generator,
    first_invoice: int,
    count: int,
    calendar: _Calendar,
    customers: _Customers,
    fx: _FxRates,
    reporting_code: int,
) -> _ChunkLedger:
    n = count
    invoice_day = calendar.first_day + np.searchsorted(
        calendar.cumulative_invoices_by_day, np.arange(first_invoice, first_invoice + n), side="right"
    )
    customer = customers.sample(rng, invoice_day)
    segment = customers.segment[customer]
    profile = customers.profile[customer]
    terms_days = customers.terms_days[customer]
    due_day = invoice_day + terms_days
    in_stress = (due_day >= calendar.stress_start) & (due_day <= calendar.stress_end)

    log_amount = np.log(_SEGMENT_AMOUNT_MEDIAN[segment]) + _SEGMENT_AMOUNT_SIGMA[segment] * rng.standard_normal(n)
    amount_major = np.exp(log_amount)
    amount_cents = np.clip(np.rint(amount_major * 100), 1_000, 500_000_000).astype(np.int64)
    currency = customers.currency[customer]
    currency_is_null = (currency == reporting_code) & (rng.random(n) < _NULL_CURRENCY_SHARE)
    disputed = rng.random(n) < _DISPUTED_SHARE

    # credit notes: partial, mostly on disputed items
    has_credit_note = rng.random(n) < np.where(disputed, 0.35, 0.011)
    credit_note_cents = np.where(
        has_credit_note, np.maximum(1, _share_of(amount_cents, _random_share(rng, 0.05, 0.60, n))), 0
    )
    credit_note_day = _next_business_day(invoice_day + _uniform_int(rng, 3, 45, n))

    # when the invoice would be settled, relative to its due date, by payer profile
    z = rng.standard_normal(n)
    days_late = np.select(
        [profile == PROMPT, profile == VERY_SLOW],
        [-3.0 + 4.0 * z, np.exp(np.log(50.0) + 0.75 * z)],
        default=20.0 + 9.0 * z,  # slow, and stopping customers before they stop
    )
    days_late = np.where(in_stress, np.where(profile == PROMPT, days_late + 4, days_late * 1.6 + 8), days_late)
    days_late = np.where(disputed & ~has_credit_note, days_late + _uniform_int(rng, 20, 90, n), days_late)
    settle_day = np.maximum(due_day + np.rint(days_late).astype(np.int64), invoice_day + 1)
    settle_day = np.where(
        has_credit_note, np.maximum(settle_day, credit_note_day + _uniform_int(rng, 1, 20, n)), settle_day
    )

    takes_discount = customers.takes_discount[customer] & ~disputed & ~has_credit_note & (rng.random(n) < 0.75)
    settle_day = np.where(takes_discount, invoice_day + _uniform_int(rng, 2, 8, n), settle_day)
    discount_cents = np.where(takes_discount, (amount_cents * 2 + 50) // 100, 0)  # 2 %, half-up

    default_probability = np.select(
        [profile == PROMPT, profile == VERY_SLOW], [0.001, 0.015], default=0.004
    ) + np.where(in_stress, np.where(profile == PROMPT, 0.004, 0.06), 0.0)
    item_default = (rng.random(n) < default_probability) & ~takes_discount

    prepaid = (
        (profile != STOPPING)
        & ~disputed
        & ~has_credit_note
        & ~takes_discount
        & ~item_default
        & (rng.random(n) < _PREPAYMENT_SHARE)
    )
    settle_day = np.where(
        prepaid,
        _previous_business_day(invoice_day - _uniform_int(rng, 1, 9, n)),
        _next_business_day(settle_day),
    )
    payable_cents = amount_cents - credit_note_cents - discount_cents

    payments = _plan_payments(
        rng,
        invoice_day,
        terms_days,
        settle_day,
        payable_cents,
        splittable=~takes_discount & ~prepaid & ~item_default,
        item_default=item_default,
    )

    # stopping customers pay nothing from their stop day on
    stop_day = customers.stop_day[customer]
    payments = payments.where(payments.day < stop_day[payments.invoice])
    settled = _sum_by_invoice(payments, n) == payable_cents
    defaulted = ~settled
    discount_cents = np.where(settled, discount_cents, 0)  # a discount is only granted on payment

    # defaulted items: the rest is written off at a month-end 180-365 days past due
    write_off_day = _month_end_on_or_after(due_day + _uniform_int(rng, 180, 365, n))
    payments = payments.where(~defaulted[payments.invoice] | (payments.day <= write_off_day[payments.invoice]))
    defaulted_balance_cents = np.where(defaulted, amount_cents - credit_note_cents - _sum_by_invoice(payments, n), 0)
    recovered = defaulted & (rng.random(n) < _RECOVERY_SHARE)
    recovery_day = _next_business_day(write_off_day + _uniform_int(rng, 15, 150, n))
    recovery_cents = np.maximum(1, _share_of(defaulted_balance_cents, _random_share(rng, 0.05, 0.60, n)))

    # nothing is dated after end
    end_day = calendar.end_day
    every_invoice = np.arange(n)
    payments = payments.where(payments.day <= end_day)
    adjustments = {
        "credit_note": _Events(every_invoice, credit_note_day, credit_note_cents).where(
            has_credit_note & (credit_note_day <= end_day)
        ),
        "discount": _Events(every_invoice, settle_day, discount_cents).where(
            (discount_cents > 0) & (settle_day <= end_day)
        ),
        "write_off": _Events(every_invoice, write_off_day, defaulted_balance_cents).where(
            defaulted & (write_off_day <= end_day)
        ),
        "recovery": _Events(every_invoice, recovery_day, recovery_cents).where(recovered & (recovery_day <= end_day)),
    }
    kept_promises = _kept_promises(rng, payments, customer, due_day, currency, fx)
    return _ChunkLedger(
        first_invoice=first_invoice,
        customer=customer,
        invoice_day=invoice_day,
        due_day=due_day,
        terms_days=terms_days,
        amount_cents=amount_cents,
        currency=currency,
        currency_is_null=currency_is_null,
        disputed=disputed,
        payments=payments,
        adjustments=adjustments,
        defaulted=defaulted,
        defaulted_balance_cents=defaulted_balance_cents,
        kept_promises=kept_promises,
    )


def _plan_payments(
    rng: np.random.Generator,
    invoice_day: np.ndarray,
    terms_days: np.ndarray,
    settle_day: np.ndarray,
    payable_cents: np.ndarray,
    *,
    splittable: np.ndarray,
    item_default: np.ndarray,
) -> _Events:
    """Payments each invoice would receive if nothing intervened.

    Settled invoices get 1, 2 or 3 payments summing exactly to ``payable_cents``, the last one on
    ``settle_day``; earlier instalments 7–35 days apart. A defaulting item gets, 40 % of the time, one
    partial payment of 10–50 % before it goes bad.
    """
    n = invoice_day.size
    split_draw = rng.random(n)
    two_share, three_share = _PARTIAL_PAYMENT_SHARE
    parts = np.where(
        splittable & (split_draw < two_share + three_share),
        np.where(split_draw < three_share, 3, 2),
        1,
    )
    defaulted_partial = item_default & (rng.random(n) < 0.4)
    parts = np.where(item_default, defaulted_partial.astype(np.int64), parts)

    # cumulative share paid after the first / second instalment
    first_cut = np.where(parts == 3, _random_share(rng, 0.15, 0.45, n), _random_share(rng, 0.20, 0.80, n))
    second_cut = _random_share(rng, 0.55, 0.85, n)
    gap_last = _uniform_int(rng, 7, 35, n)
    gap_before = _uniform_int(rng, 7, 35, n)
    default_share = _random_share(rng, 0.10, 0.50, n)
    default_day = _next_business_day(invoice_day + _uniform_int(rng, 10, terms_days + 60, n))

    invoice = np.repeat(np.arange(n), parts)
    position = np.arange(invoice.size) - np.repeat(np.cumsum(parts) - parts, parts)
    invoice_parts = parts[invoice]
    payable = payable_cents[invoice]
    paid_after_first = _share_of(payable, first_cut[invoice])
    paid_after_second = _share_of(payable, second_cut[invoice])
    is_last = position == invoice_parts - 1
    paid_before = np.select([position == 0, position == 1], [0, paid_after_first], default=paid_after_second)
    paid_after = np.where(is_last, payable, np.where(position == 0, paid_after_first, paid_after_second))
    cents = paid_after - paid_before
    later_parts = invoice_parts - 1 - position
    days_before_settlement = np.select(
        [later_parts == 0, later_parts == 1],
        [0, gap_last[invoice]],
        default=gap_last[invoice] + gap_before[invoice],
    )
    settle = settle_day[invoice]
    day = np.where(
        days_before_settlement > 0,
        _next_business_day(np.maximum(invoice_day[invoice], settle - days_before_settlement)),
        settle,
    )

    is_default = item_default[invoice]
    cents = np.where(is_default, np.maximum(1, _share_of(payable, default_share[invoice])), cents)
    day = np.where(is_default, default_day[invoice], day)
    return _Events(invoice=invoice, day=day, cents=cents)


def _sum_by_invoice(events: _Events, invoice_count: int) -> np.ndarray:
    total = np.zeros(invoice_count, dtype=np.int64)
    np.add.at(total, events.invoice, events.cents)
    return total


def _kept_promises(
    rng: np.random.Generator,
    payments: _Events,
    customer: np.ndarray,
    due_day: np.ndarray,
    currency: np.ndarray,
    fx: _FxRates,
) -> _Promises:
    """Promises made shortly before a late payment, for at most what that payment brought in.

    The amount is the payment converted at the *lowest* rate in the whole fx table (then trimmed and
    rounded down), so the promise is kept whatever closing date a reader converts the payment at.
    """
    days_late = payments.day - due_day[payments.invoice]
    chosen = (days_late >= 5) & (rng.random(payments.day.size) < _KEPT_PROMISE_PER_LATE_PAYMENT)
    invoice, pay_day, cents = payments.invoice[chosen], payments.day[chosen], payments.cents[chosen]
    size = invoice.size
    window = _uniform_int(rng, 7, 30, size)
    lead = np.minimum(_uniform_int(rng, 0, np.minimum(window, 10), size), days_late[chosen] - 1)
    promised_on = pay_day - lead
    worst_case_reporting = cents * fx.lowest_reporting_per_unit[currency[invoice]] // RATE_SCALE
    promised = _share_of(worst_case_reporting, _random_share(rng, 0.50, 1.00, size))
    promised = np.where(promised >= 10_000, promised // 100 * 100, promised)  # whole units above 100.00
    keep = promised > 0
    return _Promises(
        customer=customer[invoice][keep],
        promised_on=promised_on[keep],
        due_by=(promised_on + window)[keep],
        amount_cents=promised[keep],
    )


# ---------------------------------------------------------------------------------------------------
# Accumulators that live across chunks
# ---------------------------------------------------------------------------------------------------


@dataclass
class _BalanceAccumulator:
    """Open balances in integer cents by (month-end, currency, aging bucket)."""

    month_ends: np.ndarray
    cents: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.month_ends.size, len(CURRENCIES), _AGING_UPPER_BOUNDS.size + 1)
        self.cents = np.zeros(shape, dtype=np.int64)

    def add_chunk(self, chunk: _ChunkLedger, balance: np.ndarray) -> None:
        """Add a chunk, given its (invoice × month-end) balances from ``_month_end_balances``."""
        month_count = self.month_ends.size
        for month in range(month_count):
            column = balance[:, month]
            is_open = column > 0
            days_past_due = self.month_ends[month] - chunk.due_day[is_open]
            bucket = np.searchsorted(_AGING_UPPER_BOUNDS, days_past_due, side="left")
            np.add.at(self.cents[month], (chunk.currency[is_open], bucket), column[is_open])


def _month_end_balances(chunk: _ChunkLedger, month_ends: np.ndarray) -> np.ndarray:
    """Open balance of each invoice of the chunk at each month-end, in cents (invoice × month-end)."""
    month_count = month_ends.size
    n = chunk.invoice_day.size
    # change of each invoice's balance by the month-end it first counts at; column month_count = later
    change = np.zeros((n, month_count + 1), dtype=np.int64)
    invoice_month = np.searchsorted(month_ends, chunk.invoice_day, side="left")
    change[np.arange(n), invoice_month] = chunk.amount_cents
    reductions = [chunk.payments, *(chunk.adjustments[k] for k in ("credit_note", "discount", "write_off"))]
    for events in reductions:
        # a prepayment only counts once its invoice exists
        effective_day = np.maximum(events.day, chunk.invoice_day[events.invoice])
        month = np.searchsorted(month_ends, effective_day, side="left")
        np.add.at(change, (events.invoice, month), -events.cents)
    balance = np.cumsum(change[:, :month_count], axis=1)
    if np.any(balance < 0):
        raise RuntimeError("internal error: the demo generator over-applied an invoice")
    return balance


@dataclass
class _PastDueAccumulator:
    """Per (month-end, customer): open past-due balance and oldest open past-due due date.

    Only what agency placements need is kept: a month-end's figures are final once a chunk ends after
    it (invoices come in date order), and then only customers whose oldest open item is at least
    ``_PLACEMENT_MIN_DAYS_PAST_DUE`` days past due are kept. Memory stays bounded by the few customers
    that are seriously late, not by the number of invoices.
    """

    month_ends: np.ndarray
    customer_count: int
    _pending: tuple[np.ndarray, np.ndarray, np.ndarray] = field(init=False)  # key, cents, oldest due
    _final: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        empty = np.zeros(0, dtype=np.int64)
        self._pending = (empty, empty, empty)

    def add_chunk(self, chunk: _ChunkLedger, balance: np.ndarray) -> None:
        if self.month_ends.size == 0 or chunk.invoice_day.size == 0:
            return
        past_due = (balance > 0) & (chunk.due_day[:, None] < self.month_ends[None, :])
        invoice, month = np.nonzero(past_due)
        key = month * self.customer_count + chunk.customer[invoice]  # month-major: sorts by month first
        self._pending = _reduce_by_key(
            np.concatenate([self._pending[0], key]),
            np.concatenate([self._pending[1], balance[invoice, month]]),
            np.concatenate([self._pending[2], chunk.due_day[invoice]]),
        )
        # month-ends before the chunk's last invoice day get no more invoices from later chunks
        self._finalize(int(np.searchsorted(self.month_ends, chunk.invoice_day[-1], side="left")))

    def _finalize(self, month_count: int) -> None:
        key, cents, oldest_due = self._pending
        done = key < month_count * self.customer_count
        month_end = self.month_ends[key[done] // self.customer_count]
        keep = oldest_due[done] <= month_end - _PLACEMENT_MIN_DAYS_PAST_DUE
        self._final.append((key[done][keep], cents[done][keep], oldest_due[done][keep]))
        self._pending = (key[~done], cents[~done], oldest_due[~done])

    def finish(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(month index, customer, past-due cents in the customer's currency, oldest due), by month, customer."""
        self._finalize(self.month_ends.size)
        key = np.concatenate([part[0] for part in self._final])
        cents = np.concatenate([part[1] for part in self._final])
        oldest_due = np.concatenate([part[2] for part in self._final])
        self._final = [(key, cents, oldest_due)]
        return key // self.customer_count, key % self.customer_count, cents, oldest_due


def _reduce_by_key(key: np.ndarray, cents: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted unique keys with the sum of ``cents`` and the minimum of ``day`` per key."""
    if key.size == 0:
        return key, cents, day
    order = np.argsort(key, kind="stable")
    key, cents, day = key[order], cents[order], day[order]
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    return key[starts], np.add.reduceat(cents, starts), np.minimum.reduceat(day, starts)


@dataclass
class _DefaulterAccumulator:
    """Per stopping customer: due dates and size of defaulted items (to place broken promises)."""

    customer_count: int
    first_default_due: np.ndarray = field(init=False)
    last_default_due: np.ndarray = field(init=False)
    defaulted_reporting_cents: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.first_default_due = np.full(self.customer_count, _NEVER, dtype=np.int64)
        self.last_default_due = np.full(self.customer_count, -_NEVER, dtype=np.int64)
        self.defaulted_reporting_cents = np.zeros(self.customer_count, dtype=np.int64)

    def add_chunk(self, chunk: _ChunkLedger, customers: _Customers, fx: _FxRates) -> None:
        is_stopped = chunk.defaulted & (customers.profile[chunk.customer] == STOPPING)
        customer = chunk.customer[is_stopped]
        due = chunk.due_day[is_stopped]
        np.minimum.at(self.first_default_due, customer, due)
        np.maximum.at(self.last_default_due, customer, due)
        rate = fx.lowest_reporting_per_unit[chunk.currency[is_stopped]]  # a rough size is all we need
        reporting_cents = chunk.defaulted_balance_cents[is_stopped] * rate // RATE_SCALE
        np.add.at(self.defaulted_reporting_cents, customer, reporting_cents)


@dataclass
class _RowCounters:
    payments: int = 0
    adjustments: int = 0
    promises: int = 0


# ---------------------------------------------------------------------------------------------------
# Broken / pending promises and GL balances (after all chunks)
# ---------------------------------------------------------------------------------------------------


def _broken_promises(
    rng: np.random.Generator,
    kept_count: int,
    customers: _Customers,
    defaulters: _DefaulterAccumulator,
    calendar: _Calendar,
) -> _Promises:
    """Promises by customers after they stopped paying: never kept, so broken (or pending if due_by ≥ end).

    About ``1 - _KEPT_PROMISE_SHARE`` of all promises; made between the stop day / first defaulted due date
    and shortly before the last defaulted item would be written off, i.e. while items are past due.
    """
    earliest = np.maximum(customers.stop_day, defaulters.first_default_due + 1)
    latest = np.minimum(calendar.end_day, defaulters.last_default_due + 179)
    eligible = np.flatnonzero((customers.profile == STOPPING) & (earliest <= latest))
    wanted = round(kept_count * (1 - _KEPT_PROMISE_SHARE) / _KEPT_PROMISE_SHARE)
    if eligible.size == 0 or wanted == 0:
        return _Promises.none()
    weight = np.cumsum(np.sqrt(defaulters.defaulted_reporting_cents[eligible].astype(np.float64)) + 1.0)
    customer = eligible[_weighted_draw(rng, weight, wanted)]
    promised_on = _uniform_int(rng, earliest[customer], latest[customer], wanted)
    due_by = promised_on + _uniform_int(rng, 7, 30, wanted)
    owed = defaulters.defaulted_reporting_cents[customer]
    amount_cents = np.maximum(10_000, _share_of(owed, _random_share(rng, 0.05, 0.40, wanted)) // 100 * 100)
    return _Promises(customer=customer, promised_on=promised_on, due_by=due_by, amount_cents=amount_cents).by_date()


def _gl_balances_table(balances: _BalanceAccumulator, fx: _FxRates, calendar: _Calendar) -> pa.Table:
    """``ar_control`` and ``allowance`` per month-end: exact sums, converted with Decimal, rounded once."""
    month_ends = calendar.month_ends
    rate_index = fx.closing_index(month_ends)
    cent = Decimal("0.01")
    ar_cents: list[int] = []
    allowance_cents: list[int] = []
    with localcontext() as context:
        context.prec = 60
        for month in range(month_ends.size):
            ar_total = Decimal(0)
            allowance_total = Decimal(0)
            for code in range(len(CURRENCIES)):
                fx_rate = Decimal(int(fx.reporting_per_unit[code, rate_index[month]])) / RATE_SCALE
                by_bucket = [Decimal(int(cents)) / 100 for cents in balances.cents[month, code]]
                ar_total += sum(by_bucket, Decimal(0)) * fx_rate
                provision = (bal * loss for bal, loss in zip(by_bucket, _ALLOWANCE_RATES, strict=True))
                allowance_total += sum(provision, Decimal(0)) * fx_rate
            ar_cents.append(int(ar_total.quantize(cent, rounding=ROUND_HALF_UP) * 100))
            allowance_cents.append(int(allowance_total.quantize(cent, rounding=ROUND_HALF_UP) * 100))
    accounts = np.tile(np.array([0, 1]), month_ends.size)
    amounts = np.column_stack([np.array(ar_cents, dtype=np.int64), np.array(allowance_cents, dtype=np.int64)])
    return pa.Table.from_arrays(
        [
            _date_array(np.repeat(month_ends, 2)),
            _string_array_from(("ar_control", "allowance"), accounts),
            _scaled_decimal_array(amounts.reshape(-1), MONEY_TYPE),
        ],
        schema=SCHEMAS["gl_balances"],
    )


# ---------------------------------------------------------------------------------------------------
# Collection agencies (after all chunks): placements of long-overdue customers and what agencies collect
# ---------------------------------------------------------------------------------------------------


def _agency_tables(
    rng: np.random.Generator,
    past_due: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    customers: _Customers,
    fx: _FxRates,
    calendar: _Calendar,
    widths: _IdWidths,
) -> dict[str, pa.Table]:
    """``agencies``, ``agency_placements`` and ``agency_collections``.

    A customer is placed (once) at the first month-end at which its oldest open item is past a
    customer-specific threshold of 90-150 days past due, for its whole open past-due balance at that
    month-end converted at the closing rate (public bodies, balances under 250.00 and a fifth of the
    customers, worked in-house, are not placed). Champions get most placements. What an agency
    collects is independent of the invoice ledger (gross amounts, as the contract models them): about
    half the placements yield something, mostly in months 1-6, as a lump sum or monthly instalments,
    never more than was placed. 10-20 % of placements are recalled 4-9 months after placement (more
    often when nothing came in early); nothing is collected on or after a recall, nor after ``end``.
    """
    month, customer, cents, oldest_due = past_due
    agency_count = len(_AGENCIES)
    threshold = _uniform_int(rng, _PLACEMENT_MIN_DAYS_PAST_DUE, _PLACEMENT_MAX_THRESHOLD_DAYS, customers.count)
    uses_agency = rng.random(customers.count) < _PLACEMENT_SHARE
    month_end = calendar.month_ends[month]
    rate = fx.reporting_per_unit[customers.currency[customer], fx.closing_index(month_end)]
    reporting_cents = (2 * cents * rate + RATE_SCALE) // (2 * RATE_SCALE)  # half-up, amounts are > 0
    eligible = np.flatnonzero(
        (month_end - oldest_due >= threshold[customer])
        & uses_agency[customer]
        & (customers.segment[customer] != SEGMENTS.index("Public"))
        & (reporting_cents >= _PLACEMENT_MIN_CENTS)
    )
    # entries are ordered by month-end, then customer: the first one of a customer is its placement
    _, first = np.unique(customer[eligible], return_index=True)
    chosen = np.sort(eligible[first])
    n = chosen.size
    placed_day = month_end[chosen]
    placed_cents = reporting_cents[chosen]
    placed_customer = customer[chosen]

    share, any_probability, mean_liquidation, first_days = (
        np.array([agency[column] for agency in _AGENCIES]) for column in (3, 4, 5, 6)
    )
    fee_default = np.array([agency[2] for agency in _AGENCIES], dtype=np.int64)
    agency = _weighted_draw(rng, np.cumsum(share), n)
    fee = np.minimum(
        fee_default[agency] + np.where(placed_cents < _SMALL_BALANCE_CENTS, _SMALL_BALANCE_FEE_UPLIFT, 0),
        _MAX_FEE_RATE,
    )

    # what each placement would yield if it stayed with the agency for ever: small balances are paid in
    # full or not at all, large ones mostly settle for a share close to the agency's typical rate
    size = np.clip(np.log10(placed_cents / 500_000), 0.0, 2.0) / 2  # 0 up to 5,000.00, 1 from 500,000.00
    any_probability = any_probability[agency] + (0.85 - any_probability[agency]) * size
    collects = rng.random(n) < any_probability
    mean_if_any = mean_liquidation[agency] / any_probability
    concentration = 2.5 + 12.0 * size
    liquidation = rng.beta(mean_if_any * concentration, (1 - mean_if_any) * concentration)
    total = np.where(collects, _share_of(placed_cents, np.rint(liquidation * _MILLIONTHS).astype(np.int64)), 0)
    # a few large accounts would otherwise decide an agency's rate: pull each agency's lifetime
    # liquidation (amount-weighted) towards its expected rate, so the league table tells a stable story
    for code in range(agency_count):
        mine = agency == code
        for _ in range(2):
            realised = total[mine].sum() / max(1, placed_cents[mine].sum())
            if realised <= 0:
                break
            scale = min(2.0, max(0.5, mean_liquidation[code] / realised))
            total[mine] = np.minimum(placed_cents[mine], np.floor(total[mine] * scale).astype(np.int64))
    lump_sum = rng.random(n) < 0.35
    parts = np.where(lump_sum, 1, rng.integers(2, 10, n))
    parts = np.where(total >= 100, np.clip(parts, 1, np.maximum(1, total // 1_000)), 0)  # instalments ≥ 10.00
    first_offset = 7 + np.rint(rng.gamma(1.6, first_days[agency])).astype(np.int64)
    gap = _uniform_int(rng, 26, 35, n)
    placement = np.repeat(np.arange(n), parts)
    position = np.arange(placement.size) - np.repeat(np.cumsum(parts) - parts, parts)
    jitter = _uniform_int(rng, 0, 3, placement.size)
    collection_day = _next_business_day(
        placed_day[placement] + first_offset[placement] + position * gap[placement] + jitter
    )
    base = total[placement] // parts[placement]
    amount = base + np.where(position == parts[placement] - 1, total[placement] - base * parts[placement], 0)

    # recalls, 4-9 months after placement; nothing is collected from the recall on
    early = np.zeros(n, dtype=bool)
    np.logical_or.at(early, placement, collection_day <= placed_day[placement] + 120)
    recall_probability = np.array(_AGENCY_RECALL_BASE)[agency] + np.where(early, 0.0, _AGENCY_RECALL_IF_SILENT)
    recall_day = _next_business_day(placed_day + _uniform_int(rng, 121, 273, n))
    recalled = (rng.random(n) < recall_probability) & (recall_day <= calendar.end_day)
    keep = (collection_day <= calendar.end_day) & (~recalled[placement] | (collection_day < recall_day[placement]))
    placement, position, collection_day, amount = (
        values[keep] for values in (placement, position, collection_day, amount)
    )
    order = np.lexsort((position, placement, collection_day))

    agency_ids = pa.array([f"AG{number:02d}" for number in range(1, agency_count + 1)], pa.string())
    placement_ids = _id_array("PL-", np.arange(1, n + 1), max(6, len(str(n))))
    agencies = pa.Table.from_arrays(
        [
            agency_ids,
            pa.array([name for name, *_ in _AGENCIES], pa.string()),
            pa.array([strategy for _, strategy, *_ in _AGENCIES], pa.string()),
            _scaled_decimal_array(fee_default, SHARE_TYPE),
        ],
        schema=SCHEMAS["agencies"],
    )
    placements = pa.Table.from_arrays(
        [
            placement_ids,
            pc.take(agency_ids, pa.array(agency)),
            _id_array("C", placed_customer + 1, widths.customer),
            _date_array(placed_day),
            _scaled_decimal_array(placed_cents, MONEY_TYPE),
            _scaled_decimal_array(fee, SHARE_TYPE),
            _date_array(recall_day, valid=recalled),
        ],
        schema=SCHEMAS["agency_placements"],
    )
    collections = pa.Table.from_arrays(
        [
            _id_array("COL-", np.arange(1, order.size + 1), max(7, len(str(order.size)))),
            pc.take(placement_ids, pa.array(placement[order])),
            _date_array(collection_day[order]),
            _scaled_decimal_array(amount[order], MONEY_TYPE),
        ],
        schema=SCHEMAS["agency_collections"],
    )
    return {"agencies": agencies, "agency_placements": placements, "agency_collections": collections}


# ---------------------------------------------------------------------------------------------------
# Loan book (watch list): month-end snapshots and expected cash flows of impaired loans
# ---------------------------------------------------------------------------------------------------


def _loan_snapshot_days(end_day: int) -> np.ndarray:
    """The last ``_LOAN_SNAPSHOTS`` month-ends up to the latest month-end on or before ``end``."""
    end_month = np.datetime64(end_day, "D").astype("datetime64[M]")
    end_of_end_month = int(((end_month + 1).astype("datetime64[D]") - 1).astype(np.int64))
    latest = end_month if end_of_end_month == end_day else end_month - 1
    months = np.arange(latest - (_LOAN_SNAPSHOTS - 1), latest + 1)
    return ((months + 1).astype("datetime64[D]") - 1).astype(np.int64)


def _month_number(days: np.ndarray | int) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _first_of_month_number(months: np.ndarray) -> np.ndarray:
    return np.asarray(months, dtype=np.int64).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _end_of_month_number(months: np.ndarray) -> np.ndarray:
    return ((np.asarray(months, dtype=np.int64) + 1).astype("datetime64[M]").astype("datetime64[D]") - 1).astype(
        np.int64
    )


def _borrower_names(rng: np.random.Generator, segment: np.ndarray) -> np.ndarray:
    count = segment.size
    first = np.array(_NAME_FIRST, dtype=object)[rng.integers(0, len(_NAME_FIRST), count)]
    cre = first + " " + np.array(_LOAN_CRE_KINDS, dtype=object)[rng.integers(0, len(_LOAN_CRE_KINDS), count)]
    company = np.array(
        _company_names(rng, np.ones(count, dtype=np.int64), np.zeros(count, dtype=np.int64)).to_pylist(),
        dtype=object,
    )
    person = (
        np.array(_LOAN_PERSON_FIRST, dtype=object)[rng.integers(0, len(_LOAN_PERSON_FIRST), count)]
        + " "
        + np.array(_LOAN_PERSON_LAST, dtype=object)[rng.integers(0, len(_LOAN_PERSON_LAST), count)]
    )
    return np.where(segment == 0, cre, np.where(segment == 1, company, person))


def _draw_missed(rng: np.random.Generator, grade: np.ndarray) -> np.ndarray:
    """Payments missed by a loan entering ``grade``: within the grade's range (pass: rarely one)."""
    low = np.array([r[0] for r in _MISSED_RANGE])[grade]
    high = np.array([r[1] for r in _MISSED_RANGE])[grade]
    missed = _uniform_int(rng, low, high, grade.size)
    return np.where(grade == PASS, (rng.random(grade.size) < 0.04).astype(np.int64), missed)


def _round_thousand(cents: np.ndarray) -> np.ndarray:
    return np.rint(cents / 100_000).astype(np.int64) * 100_000


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


def _loan_tables(rng: np.random.Generator, invoices: int, end_day: int) -> dict[str, pa.Table]:
    """``loans`` (13 month-end snapshots) and ``loan_cash_flows``.

    About 300 loans at the default size (scaling with the fourth root of the invoice count), in three
    segments. Each month: risk grades migrate (mostly stable, some downgrades, few upgrades), payments
    are missed or caught up (days past due follow the grade), balances amortise (non-accrual loans do
    not accrue), collateral is re-appraised down on a downgrade, a few pass loans are refinanced away
    (one last ``closed`` row, then gone), loss loans are charged off (gone), collateral-dependent
    doubtful loans are foreclosed (``reo`` at the carrying value until sold) and new loans are booked.
    Substandard-or-worse loans that are non-accrual, doubtful or large are reviewed individually:
    ``collateral`` when collateral-dependent, otherwise ``cash_flows`` with quarterly expected cash
    flows whose present value at the effective rate is mostly below the balance.
    """
    snapshot_days = _loan_snapshot_days(end_day)
    snapshot_months = _month_number(snapshot_days)
    opening = int(np.clip(round(300 * (invoices / 60_000) ** 0.25), 100, 2_000))
    new_counts = rng.poisson(opening * _LOAN_ORIGINATION_MONTHLY, _LOAN_SNAPSHOTS)
    new_counts[0] = 0
    capacity = opening + int(new_counts.sum())

    # fixed attributes of every loan that will ever appear
    segment = _categorical(rng, _LOAN_SEGMENT_SHARE, capacity)
    special = (np.arange(1, len(_SPECIAL_BORROWERS) + 1) * opening) // (len(_SPECIAL_BORROWERS) + 1)
    segment[special] = [special_segment for _, special_segment, _ in _SPECIAL_BORROWERS]
    names = _borrower_names(rng, segment)
    names[special] = [name for name, _, _ in _SPECIAL_BORROWERS]
    balance = np.clip(
        np.exp(np.log(_LOAN_BALANCE_MEDIAN[segment]) + _LOAN_BALANCE_SIGMA[segment] * rng.standard_normal(capacity)),
        25_000,
        40_000_000,
    )
    balance = np.rint(balance * 100).astype(np.int64)
    rate_low = np.array([r[0] for r in _LOAN_RATE_RANGE_BP])[segment] // 25
    rate_high = np.array([r[1] for r in _LOAN_RATE_RANGE_BP])[segment] // 25
    rate_bp = _uniform_int(rng, rate_low, rate_high, capacity) * 25
    term_low = np.array([r[0] for r in _LOAN_AMORTISATION_MONTHS])[segment]
    term_high = np.array([r[1] for r in _LOAN_AMORTISATION_MONTHS])[segment]
    term = _uniform_int(rng, term_low, term_high, capacity)
    monthly_rate = rate_bp / SHARE_SCALE / 12
    payment = np.rint(balance * monthly_rate / (1 - (1 + monthly_rate) ** -term.astype(np.float64))).astype(np.int64)
    secured = rng.random(capacity) < _LOAN_SECURED_SHARE[segment]
    collateral_dependent = secured & (rng.random(capacity) < _LOAN_COLLATERAL_DEPENDENT_SHARE[segment])
    collateral = _round_thousand(balance / rng.uniform(0.55, 0.85, capacity))
    cost_to_sell_bp = _uniform_int(rng, 10, 20, capacity) * 50
    non_accrual_if_substandard = rng.random(capacity) < _SUBSTANDARD_NON_ACCRUAL_SHARE
    balloon = rng.uniform(0.0, 3.0, capacity)

    # state of the opening book at the first snapshot
    alive = np.zeros(capacity, dtype=bool)
    alive[:opening] = True
    grade = np.zeros(capacity, dtype=np.int64)
    grade[:opening] = _categorical(rng, _LOAN_INITIAL_GRADE_SHARE, opening)
    grade[special] = [special_grade for _, _, special_grade in _SPECIAL_BORROWERS]
    missed = _draw_missed(rng, grade)
    haircut = rng.uniform(0.6, 0.9, capacity)
    collateral = np.where(grade >= SUBSTANDARD, _round_thousand(collateral * haircut), collateral)
    status = np.full(capacity, PERFORMING, dtype=np.int64)
    days_past_due = np.zeros(capacity, dtype=np.int64)
    # a few loans were foreclosed before the first snapshot and are carried as REO
    reo_candidates = np.flatnonzero(
        alive & collateral_dependent & (segment != 1) & ~np.isin(np.arange(capacity), special)
    )
    reo = rng.permutation(reo_candidates)[: max(2, round(0.007 * opening))]
    grade[reo] = DOUBTFUL
    missed[reo] = 6
    collateral[reo] = _round_thousand(balance[reo] / rng.uniform(0.9, 1.3, reo.size))
    status[reo] = REO
    balance[reo] = np.minimum(balance[reo], collateral[reo] * (SHARE_SCALE - cost_to_sell_bp[reo]) // SHARE_SCALE)
    pass_watch = (grade == PASS) & (rng.random(capacity) < 0.01)
    watch_since = np.where(
        alive & ((grade >= SPECIAL_MENTION) | pass_watch),
        _end_of_month_number(snapshot_months[0] - _uniform_int(rng, 1, 18, capacity)),
        -1,
    )
    recovery_share = np.full(capacity, np.nan)
    workout_end_month = np.zeros(capacity, dtype=np.int64)

    migration = np.cumsum(_LOAN_MIGRATION, axis=1)
    rows = _LoanRows()
    next_new = opening
    for step, (as_of, as_of_month) in enumerate(zip(snapshot_days, snapshot_months, strict=True)):
        previous_grade = grade.copy()
        previous_status = status.copy()
        if step > 0:
            # leavers: loans closed last month, charged-off loss loans, sold REO
            draw = rng.random(capacity)
            alive &= ~(previous_status == CLOSED)
            alive &= ~((grade == LOSS) & (status != REO) & (draw < _LOAN_CHARGE_OFF_MONTHLY))
            alive &= ~((status == REO) & (draw < _REO_SALE_MONTHLY))
            active = alive & (status != REO)

            # risk-grade migration
            target = rng.random(capacity)
            migrated = (target[:, None] >= migration[grade][:, :-1]).sum(axis=1)
            grade = np.where(active, migrated, grade)
            changed = grade != previous_grade

            # payments missed / caught up, consistent with the grade
            draw = rng.random(capacity)
            was_late = missed > 0
            still = np.where(
                was_late,
                np.where(draw < 0.55, missed + 1, np.where(draw < 0.85, missed, 0)),
                (draw < np.where(grade == PASS, 0.03, 0.10)).astype(np.int64),
            )
            entering = _draw_missed(rng, grade)
            low = np.array([r[0] for r in _MISSED_RANGE])[grade]
            high = np.array([r[1] for r in _MISSED_RANGE])[grade]
            new_missed = np.clip(np.where(changed, entering, still), low, high)
            paying = new_missed <= missed

            # balances: accruing loans accrue interest; non-accrual loans apply cash to principal only
            interest = np.rint(balance * rate_bp / SHARE_SCALE / 12).astype(np.int64)
            accrual = previous_status == PERFORMING
            new_balance = np.where(
                paying,
                np.where(accrual, balance + interest - payment, balance - payment // 2),
                np.where(accrual, balance + interest, balance),
            )
            new_balance = np.maximum(new_balance, 0)
            balance = np.where(active, new_balance, balance)
            missed = np.where(active, new_missed, missed)

            # collateral drifts; a downgrade into substandard or worse triggers a lower appraisal
            drift = 1 + 0.004 * rng.standard_normal(capacity)
            downgraded_into_classified = (grade >= SUBSTANDARD) & (previous_grade < SUBSTANDARD)
            appraisal = collateral * drift * np.where(downgraded_into_classified, rng.uniform(0.6, 0.9, capacity), 1)
            collateral = np.where(active, _round_thousand(appraisal), collateral)

            # early payoff / maturity: one last "closed" row at zero
            draw = rng.random(capacity)
            paid_off = active & (((grade <= SPECIAL_MENTION) & (draw < _LOAN_PAYOFF_MONTHLY)) | (balance == 0))
            status = np.where(paid_off, CLOSED, status)
            balance = np.where(paid_off, 0, balance)
            missed = np.where(paid_off, 0, missed)

            # foreclosure of collateral-dependent doubtful / loss CRE and consumer loans
            draw = rng.random(capacity)
            foreclosed = (
                active
                & ~paid_off
                & (grade >= DOUBTFUL)
                & collateral_dependent
                & (segment != 1)
                & (draw < _LOAN_FORECLOSURE_MONTHLY)
            )
            grade = np.where(foreclosed, DOUBTFUL, grade)
            carrying = collateral * (SHARE_SCALE - cost_to_sell_bp) // SHARE_SCALE
            balance = np.where(foreclosed, np.minimum(balance, carrying), balance)
            status = np.where(foreclosed, REO, status)

            # pass loans on the watch list: recently upgraded, or flagged (covenant breach, …)
            draw = rng.random(capacity)
            pass_watch = (grade == PASS) & np.where(
                pass_watch,
                draw >= _PASS_WATCH_RELEASE_MONTHLY,
                (previous_grade == SPECIAL_MENTION) | (draw < _PASS_WATCH_MONTHLY),
            )

            # new loans
            count = int(new_counts[step])
            new = np.arange(next_new, next_new + count)
            next_new += count
            alive[new] = True
            grade[new] = PASS
            missed[new] = 0
            status[new] = PERFORMING
            pass_watch[new] = False

        open_loan = alive & (status != REO) & (status != CLOSED)
        # non-accrual: doubtful and worse, substandard loans 90+ days past due or flagged
        status = np.where(
            open_loan,
            np.where(
                (grade >= DOUBTFUL) | ((grade == SUBSTANDARD) & (non_accrual_if_substandard | (missed >= 3))),
                NON_ACCRUAL,
                PERFORMING,
            ),
            status,
        )
        # instalments fall due on the 1st: ``missed`` unpaid ones → past due since the 1st, missed-1 months ago
        first_missed_due = _first_of_month_number(as_of_month - np.maximum(missed - 1, 0))
        dpd_now = np.where(missed > 0, as_of - first_missed_due, 0)
        carried = (status == REO) & (previous_status == REO) & (step > 0)  # REO keeps its last figure
        days_past_due = np.where(carried, days_past_due, dpd_now)
        days_past_due = np.where(status == CLOSED, 0, days_past_due)

        on_watch = alive & (status != CLOSED) & ((grade >= SPECIAL_MENTION) | pass_watch)
        watch_since = np.where(on_watch, np.where(watch_since >= 0, watch_since, as_of), -1)

        # individual review and its method
        reviewed = (
            open_loan
            & (grade >= SUBSTANDARD)
            & ((grade >= DOUBTFUL) | (status == NON_ACCRUAL) | (balance >= _INDIVIDUAL_REVIEW_CENTS))
        )
        method = np.where(reviewed, np.where(collateral_dependent, 1, 0), -1)
        uses_cash_flows = method == 0
        fresh = uses_cash_flows & np.isnan(recovery_share)
        draw = rng.random(capacity)
        initial_share = np.where(draw < 0.1, rng.uniform(1.0, 1.08, capacity), rng.uniform(0.5, 0.97, capacity))
        moved = np.clip(
            recovery_share * np.where(grade > previous_grade, 0.9, 1.0) + 0.01 * rng.standard_normal(capacity),
            0.3,
            1.1,
        )
        recovery_share = np.where(fresh, initial_share, np.where(uses_cash_flows, moved, recovery_share))
        workout = as_of_month + _uniform_int(rng, 12, 60, capacity)
        workout_end_month = np.where(fresh, workout, workout_end_month)
        workout_end_month = np.where(
            uses_cash_flows & (workout_end_month <= as_of_month), as_of_month + 3, workout_end_month
        )

        in_snapshot = np.flatnonzero(alive)
        rows.loan.append(in_snapshot)
        rows.as_of.append(np.full(in_snapshot.size, as_of))
        rows.balance.append(balance[in_snapshot])
        rows.grade.append(grade[in_snapshot])
        rows.days_past_due.append(days_past_due[in_snapshot])
        rows.on_watch.append(on_watch[in_snapshot])
        rows.method.append(method[in_snapshot])
        rows.collateral.append(collateral[in_snapshot])
        rows.status.append(status[in_snapshot])
        rows.watch_since.append(watch_since[in_snapshot])

        for loan in np.flatnonzero(uses_cash_flows):
            months = np.arange(workout_end_month[loan], as_of_month, -3)[::-1]
            flow_day = _end_of_month_number(months)
            years = (flow_day - as_of) / 365
            weight = np.ones(months.size)
            weight[-1] += balloon[loan]
            discount = (1 + rate_bp[loan] / SHARE_SCALE) ** -years
            level = recovery_share[loan] * balance[loan] / float(np.sum(weight * discount))
            rows.flow_loan.append(int(loan))
            rows.flow_as_of.append(int(as_of))
            rows.flow_day.append(flow_day)
            rows.flow_cents.append(np.maximum(1, np.floor(level * weight)).astype(np.int64))

    return _loan_arrow_tables(rows, names, segment, rate_bp, secured, cost_to_sell_bp, width=max(5, len(str(capacity))))


def _loan_arrow_tables(
    rows: _LoanRows,
    names: np.ndarray,
    segment: np.ndarray,
    rate_bp: np.ndarray,
    secured: np.ndarray,
    cost_to_sell_bp: np.ndarray,
    *,
    width: int,
) -> dict[str, pa.Table]:
    loan = np.concatenate(rows.loan)
    method = np.concatenate(rows.method)
    watch_since = np.concatenate(rows.watch_since)
    is_secured = secured[loan]
    loans = pa.Table.from_arrays(
        [
            _date_array(np.concatenate(rows.as_of)),
            _id_array("LN-", loan + 1, width),
            pa.array(names[loan], pa.string()),
            _scaled_decimal_array(np.concatenate(rows.balance), MONEY_TYPE),
            _scaled_decimal_array(rate_bp[loan], SHARE_TYPE),
            _string_array_from(_LOAN_GRADES, np.concatenate(rows.grade)),
            pa.array(np.concatenate(rows.days_past_due), pa.int64()),
            pa.array(np.concatenate(rows.on_watch), pa.bool_()),
            _nullable(_string_array_from(_IMPAIRMENT_METHODS, np.maximum(method, 0)), method >= 0),
            _nullable(_scaled_decimal_array(np.concatenate(rows.collateral), MONEY_TYPE), is_secured),
            _nullable(_scaled_decimal_array(cost_to_sell_bp[loan], SHARE_TYPE), is_secured),
            _string_array_from(_LOAN_STATUSES, np.concatenate(rows.status)),
            _string_array_from(_LOAN_SEGMENTS, segment[loan]),
            _date_array(np.maximum(watch_since, 0), valid=watch_since >= 0),
        ],
        schema=SCHEMAS["loans"],
    )
    flow_counts = np.array([days.size for days in rows.flow_day], dtype=np.int64)
    flow_loan = np.repeat(np.array(rows.flow_loan, dtype=np.int64), flow_counts)
    flow_as_of = np.repeat(np.array(rows.flow_as_of, dtype=np.int64), flow_counts)
    flow_day = np.concatenate(rows.flow_day) if rows.flow_day else np.zeros(0, dtype=np.int64)
    flow_cents = np.concatenate(rows.flow_cents) if rows.flow_cents else np.zeros(0, dtype=np.int64)
    order = np.lexsort((flow_day, flow_loan, flow_as_of))
    cash_flows = pa.Table.from_arrays(
        [
            _date_array(flow_as_of[order]),
            _id_array("LN-", flow_loan[order] + 1, width),
            _date_array(flow_day[order]),
            _scaled_decimal_array(flow_cents[order], MONEY_TYPE),
        ],
        schema=SCHEMAS["loan_cash_flows"],
    )
    return {"loans": loans, "loan_cash_flows": cash_flows}


# ---------------------------------------------------------------------------------------------------
# Turning arrays into Arrow tables
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _IdWidths:
    customer: int
    invoice: int
    row: int  # payments, adjustments, promises

    @staticmethod
    def for_size(invoices: int, customers: int) -> _IdWidths:
        return _IdWidths(
            customer=max(6, len(str(customers))),
            invoice=max(7, len(str(invoices))),
            row=max(7, len(str(invoices * 4))),
        )


def _id_array(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _string_array_from(labels: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    return pc.take(pa.array(labels, pa.string()), pa.array(np.asarray(codes, dtype=np.int64)))


def _date_array(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), pa.date32(), mask=mask)


def _nullable(values: pa.Array, valid: np.ndarray) -> pa.Array:
    """``values`` where ``valid``, null elsewhere."""
    return pc.if_else(pa.array(np.asarray(valid, dtype=bool)), values, pa.scalar(None, values.type))


def _scaled_decimal_array(units: np.ndarray, decimal_type: pa.Decimal128Type) -> pa.Array:
    """Decimal array whose unscaled values are ``units`` (e.g. cents for scale 2), built exactly."""
    low = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty(low.size * 2, dtype=np.int64)
    words[0::2] = low  # decimal128 = little-endian two's complement: low word, then sign extension
    words[1::2] = low >> 63
    return pa.Array.from_buffers(decimal_type, low.size, [None, pa.py_buffer(words)])


def _write_chunk(
    sinks: Mapping[str, _TableSink],
    chunk: _ChunkLedger,
    customers: _Customers,
    widths: _IdWidths,
    counters: _RowCounters,
) -> None:
    n = chunk.invoice_day.size
    invoice_numbers = np.arange(chunk.first_invoice + 1, chunk.first_invoice + n + 1)
    invoice_ids = _id_array("INV-", invoice_numbers, widths.invoice)
    currency = _string_array_from(CURRENCIES, chunk.currency)
    sinks["invoices"].write(
        pa.Table.from_arrays(
            [
                invoice_ids,
                _id_array("C", chunk.customer + 1, widths.customer),
                _date_array(chunk.invoice_day),
                _date_array(chunk.due_day),
                _scaled_decimal_array(chunk.amount_cents, MONEY_TYPE),
                pc.if_else(pa.array(chunk.currency_is_null), pa.scalar(None, pa.string()), currency),
                pa.array(chunk.disputed, pa.bool_()),
                pa.array(chunk.terms_days, pa.int64()),
            ],
            schema=SCHEMAS["invoices"],
        )
    )

    payments = chunk.payments
    order = np.lexsort((payments.day, payments.invoice))
    payment_numbers = counters.payments + 1 + np.arange(order.size)
    counters.payments += order.size
    sinks["payments"].write(
        pa.Table.from_arrays(
            [
                _id_array("PAY-", payment_numbers, widths.row),
                pc.take(invoice_ids, pa.array(payments.invoice[order])),
                _date_array(payments.day[order]),
                _scaled_decimal_array(payments.cents[order], MONEY_TYPE),
            ],
            schema=SCHEMAS["payments"],
        )
    )

    kinds = [np.full(chunk.adjustments[k].day.size, code) for code, k in enumerate(_ADJUSTMENT_KINDS)]
    kind = np.concatenate(kinds)
    invoice = np.concatenate([chunk.adjustments[k].invoice for k in _ADJUSTMENT_KINDS])
    day = np.concatenate([chunk.adjustments[k].day for k in _ADJUSTMENT_KINDS])
    cents = np.concatenate([chunk.adjustments[k].cents for k in _ADJUSTMENT_KINDS])
    order = np.lexsort((kind, day, invoice))
    adjustment_numbers = counters.adjustments + 1 + np.arange(order.size)
    counters.adjustments += order.size
    sinks["adjustments"].write(
        pa.Table.from_arrays(
            [
                _id_array("ADJ-", adjustment_numbers, widths.row),
                pc.take(invoice_ids, pa.array(invoice[order])),
                _date_array(day[order]),
                _string_array_from(_ADJUSTMENT_KINDS, kind[order]),
                _scaled_decimal_array(cents[order], MONEY_TYPE),
            ],
            schema=SCHEMAS["adjustments"],
        )
    )

    _write_promises(sinks["promises"], chunk.kept_promises.by_date(), customers, widths, counters)


def _write_promises(
    sink: _TableSink, promises: _Promises, customers: _Customers, widths: _IdWidths, counters: _RowCounters
) -> None:
    numbers = counters.promises + 1 + np.arange(len(promises))
    counters.promises += len(promises)
    sink.write(
        pa.Table.from_arrays(
            [
                _id_array("PRM-", numbers, widths.row),
                _id_array("C", promises.customer + 1, widths.customer),
                _date_array(promises.promised_on),
                _date_array(promises.due_by),
                _scaled_decimal_array(promises.amount_cents, MONEY_TYPE),
                _string_array_from(COLLECTORS, customers.collector[promises.customer]),
            ],
            schema=SCHEMAS["promises"],
        )
    )


# ---------------------------------------------------------------------------------------------------
# Writing files: temp name first, renamed into place at the end
# ---------------------------------------------------------------------------------------------------


class _TableSink(Protocol):
    rows: int

    def write(self, table: pa.Table) -> None: ...
    def close(self) -> None: ...
    def commit(self) -> None: ...
    def discard(self) -> None: ...


class _FileSink:
    """Common temp-file handling: write to ``.<table>.<fmt>.partial``, rename on commit."""

    def __init__(self, out_dir: Path, table: str, suffix: str) -> None:
        self.final_path = out_dir / f"{table}.{suffix}"
        self.temp_path = out_dir / f".{table}.{suffix}.partial"
        self.rows = 0

    def commit(self) -> None:
        os.replace(self.temp_path, self.final_path)

    def discard(self) -> None:
        try:
            self.close()
        finally:
            self.temp_path.unlink(missing_ok=True)

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class _CsvSink(_FileSink):
    """CSV as the contract reads it: quotes only where needed, null = empty cell, ``\\n`` line ends."""

    def __init__(self, out_dir: Path, table: str, schema: pa.Schema) -> None:
        super().__init__(out_dir, table, "csv")
        self._file = open(self.temp_path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write((",".join(schema.names) + "\n").encode("utf-8"))

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if table.num_rows == 0:
            return
        cells = [_csv_cells(column.combine_chunks()) for column in table.columns]
        lines = pc.binary_join_element_wise(*cells, ",", null_handling="replace", null_replacement="")
        lines = pc.binary_join_element_wise(lines, "\n", "")
        self._file.write(_string_array_bytes(lines))

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


def _csv_cells(column: pa.Array) -> pa.Array:
    if not pa.types.is_string(column.type):
        return pc.cast(column, pa.string())  # dates ISO, decimals with their scale, bools true/false
    needs_quotes = pc.match_substring_regex(column, r'^$|[",\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return pc.if_else(needs_quotes, quoted, column)


def _string_array_bytes(strings: pa.Array) -> memoryview:
    _, offsets_buffer, data_buffer = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[strings.offset : strings.offset + len(strings) + 1]
    return memoryview(data_buffer)[int(offsets[0]) : int(offsets[-1])]


class _ParquetSink(_FileSink):
    def __init__(self, out_dir: Path, table: str, schema: pa.Schema) -> None:
        super().__init__(out_dir, table, "parquet")
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self.temp_path, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        assert self._writer is not None
        if table.num_rows:
            self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _open_sink(out_dir: Path, table: str, fmt: str) -> _TableSink:
    if fmt == "csv":
        return _CsvSink(out_dir, table, SCHEMAS[table])
    return _ParquetSink(out_dir, table, SCHEMAS[table])
