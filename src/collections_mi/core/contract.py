"""The data contract (shared/data-contract.md) as data: tables, columns, types, required flags.

Sources use it to build typed views; validation uses it to check presence and types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

ColumnType = Literal["string", "date", "money", "decimal", "int", "bool"]

#: Engine type for each contract type. Money is an exact decimal: CSV money has at most the
#: currency's minor-unit digits (≤ 4 for any ISO 4217 currency), so scale 4 never rounds a valid value.
ENGINE_TYPES: dict[ColumnType, str] = {
    "string": "string",
    "date": "date",
    "money": "decimal(18, 4)",
    "decimal": "decimal(38, 18)",
    "int": "int64",
    "bool": "boolean",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    key: str | None = None
    #: tables that must be present together with this one
    group: str | None = None
    #: the date column that dates a row: as of D, a row dated after D has not happened yet (None: undated table)
    dated_by: str | None = None

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name}.{name} is not a contract column")


def _t(
    name: str,
    key: str | None,
    *cols: tuple[str, ColumnType, bool],
    required: bool = False,
    group: str | None = None,
    dated_by: str | None = None,
) -> Table:
    return Table(
        name, tuple(Column(n, t, r) for n, t, r in cols), required=required, key=key, group=group, dated_by=dated_by
    )


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _t(
            "customers",
            "customer_id",
            ("customer_id", "string", True),
            ("name", "string", True),
            ("segment", "string", False),
            ("region", "string", False),
            ("collector", "string", False),
            ("credit_limit", "money", False),
            ("risk_score", "decimal", False),
            required=True,
        ),
        _t(
            "invoices",
            "invoice_id",
            ("invoice_id", "string", True),
            ("customer_id", "string", True),
            ("invoice_date", "date", True),
            ("due_date", "date", True),
            ("amount", "money", True),
            ("currency", "string", False),
            ("disputed", "bool", False),
            required=True,
            dated_by="invoice_date",
        ),
        _t(
            "payments",
            "payment_id",
            ("payment_id", "string", True),
            ("invoice_id", "string", True),
            ("payment_date", "date", True),
            ("amount", "money", True),
            required=True,
            dated_by="payment_date",
        ),
        _t(
            "adjustments",
            "adjustment_id",
            ("adjustment_id", "string", True),
            ("invoice_id", "string", True),
            ("adjustment_date", "date", True),
            ("kind", "string", True),
            ("amount", "money", True),
            dated_by="adjustment_date",
        ),
        _t(
            "promises",
            "promise_id",
            ("promise_id", "string", True),
            ("customer_id", "string", True),
            ("promised_on", "date", True),
            ("due_by", "date", True),
            ("amount", "money", True),
            ("collector", "string", False),
            dated_by="promised_on",
        ),
        _t(
            "disputes",
            "dispute_id",
            ("dispute_id", "string", True),
            ("invoice_id", "string", True),
            ("opened_on", "date", True),
            ("resolved_on", "date", False),
            ("reason", "string", False),
            ("amount", "money", False),
            ("owner", "string", False),
            ("outcome", "string", False),
            dated_by="opened_on",
        ),
        _t(
            "unapplied_cash",
            "receipt_id",
            ("receipt_id", "string", True),
            ("customer_id", "string", False),
            ("receipt_date", "date", True),
            ("amount", "money", True),
            ("currency", "string", False),
            ("applied_on", "date", False),
            dated_by="receipt_date",
        ),
        _t(
            "fx_rates",
            None,
            ("rate_date", "date", True),
            ("currency", "string", True),
            ("rate", "decimal", True),
            dated_by="rate_date",
        ),
        _t(
            "gl_balances",
            None,
            ("period_end", "date", True),
            ("account", "string", True),
            ("amount", "money", True),
            dated_by="period_end",
        ),
        _t(
            "agencies",
            "agency_id",
            ("agency_id", "string", True),
            ("name", "string", True),
            ("strategy", "string", False),
            group="agency",
        ),
        _t(
            "agency_placements",
            "placement_id",
            ("placement_id", "string", True),
            ("agency_id", "string", True),
            ("customer_id", "string", True),
            ("placed_date", "date", True),
            ("placed_amount", "money", True),
            ("fee_rate", "decimal", True),
            ("recalled_date", "date", False),
            group="agency",
            dated_by="placed_date",
        ),
        _t(
            "agency_collections",
            "collection_id",
            ("collection_id", "string", True),
            ("placement_id", "string", True),
            ("collection_date", "date", True),
            ("amount", "money", True),
            group="agency",
            dated_by="collection_date",
        ),
        _t(
            "loans",
            None,
            ("as_of_date", "date", True),
            ("loan_id", "string", True),
            ("borrower", "string", True),
            ("balance", "money", True),
            ("effective_rate", "decimal", True),
            ("risk_grade", "string", True),
            ("days_past_due", "int", True),
            ("on_watch_list", "bool", True),
            ("impairment_method", "string", False),
            ("collateral_value", "money", False),
            ("cost_to_sell_rate", "decimal", False),
            ("status", "string", False),
            group="loans",
            dated_by="as_of_date",
        ),
        _t(
            "loan_cash_flows",
            None,
            ("as_of_date", "date", True),
            ("loan_id", "string", True),
            ("flow_date", "date", True),
            ("amount", "money", True),
            group="loans",
            dated_by="as_of_date",
        ),
    )
}

ADJUSTMENT_KINDS = ("credit_note", "discount", "write_off", "recovery")
#: adjustment kinds that reduce an invoice's open balance (a recovery does not)
BALANCE_REDUCING_KINDS = ("credit_note", "discount", "write_off")
#: loans.risk_grade, best to worst (regulatory grades); the watch-list general rates are keyed by them
RiskGrade = Literal["pass", "special_mention", "substandard", "doubtful", "loss"]
RISK_GRADES: tuple[RiskGrade, ...] = get_args(RiskGrade)
GL_ACCOUNTS = ("ar_control", "allowance")
TRUE_STRINGS = ("true", "t", "1", "yes", "y")
FALSE_STRINGS = ("false", "f", "0", "no", "n")

#: ISO 4217 minor-unit digits for currencies that differ from 2 (everything else: 2).
MINOR_UNIT_EXCEPTIONS: dict[str, int] = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
    "CLF": 4,
    "UYW": 4,
}


def minor_unit_digits(currency: str) -> int:
    """Digits after the decimal point of ``currency``'s minor unit (ISO 4217)."""
    return MINOR_UNIT_EXCEPTIONS.get(currency.upper(), 2)
