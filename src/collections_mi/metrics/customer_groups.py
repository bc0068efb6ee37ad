"""The customer attributes a breakdown groups by — segment, region, collector, risk band — joined in the engine.

Risk-score bands are in the style of bureau score bands; a customer without a score is in "no score", and a customer
without an attribute value in "(none)".
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import pandas as pd

#: risk-score bands (upper bounds, exclusive) in the style of bureau score bands
RISK_SCORE_BANDS = (580, 670, 740, 800)


def risk_band_expr(score: ir.Value) -> ir.StringValue:
    """The risk-score band of a score, in the engine (bands as :func:`risk_band`)."""
    bounds = RISK_SCORE_BANDS
    cases = [(score.isnull(), "no score"), (score < bounds[0], f"< {bounds[0]}")]
    cases += [(score < upper, f"{lower}–{upper - 1}") for lower, upper in zip(bounds, bounds[1:])]
    return ibis.cases(*cases, else_=f"{bounds[-1]}+")


def risk_band(score: Decimal | None) -> str:
    if score is None:
        return "no score"
    bounds = RISK_SCORE_BANDS
    if score < bounds[0]:
        return f"< {bounds[0]}"
    for lower, upper in zip(bounds, bounds[1:]):
        if score < upper:
            return f"{lower}–{upper - 1}"
    return f"{bounds[-1]}+"


def risk_band_labels() -> list[str]:
    bounds = RISK_SCORE_BANDS
    return (
        [f"< {bounds[0]}"]
        + [f"{lower}–{upper - 1}" for lower, upper in zip(bounds, bounds[1:])]
        + [f"{bounds[-1]}+", "no score"]
    )


def with_customer_attribute(customers: ir.Table, items: ir.Table, attribute: str) -> ir.Table:
    """``items`` (with ``customer_id``) with the customer's ``attribute`` (``risk_band`` from ``risk_score``, a null
    value as "(none)"); ``customer_id`` and ``currency`` are the items' own columns."""
    if attribute in ("customer_id", "currency"):
        return items
    if attribute == "risk_band":
        values = risk_band_expr(customers.risk_score)
    else:
        values = customers[attribute].fill_null("(none)")
    lookup = customers.select(customer_id=customers.customer_id, **{attribute: values})
    return items.left_join(lookup, "customer_id").drop("customer_id_right")


def customer_attributes(customers: ir.Table, attributes: Sequence[str]) -> pd.DataFrame:
    """customer_id and each attribute (risk_band derived from risk_score), nulls as '(none)'."""
    columns = {"customer_id": customers.customer_id}
    for attribute in attributes:
        if attribute == "risk_band":
            columns[attribute] = risk_band_expr(customers.risk_score)
        else:
            columns[attribute] = customers[attribute].fill_null("(none)")
    return customers.select(**columns).to_pyarrow().to_pandas()
