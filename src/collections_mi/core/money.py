"""Exact money helpers: Decimal arithmetic with enough precision, rounding only for display."""

from __future__ import annotations

import decimal
import functools
from collections.abc import Iterable
from decimal import Decimal

from collections_mi.core.contract import minor_unit_digits

#: precision for money arithmetic: 1e17 major units with 20 decimals still fit exactly
MONEY_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.InvalidOperation])

# Every Decimal operation in this process (and in threads started later) runs at 60 significant digits, so a plain
# `a - b` on money never rounds; ratios that are meant to be rounded use their own explicit 28-digit context.
decimal.DefaultContext.prec = MONEY_CONTEXT.prec
decimal.getcontext().prec = MONEY_CONTEXT.prec
ZERO = Decimal(0)
HUNDRED = Decimal(100)


def to_decimal(value: object) -> Decimal:
    """An exact Decimal from an engine value (Decimal, int, str). Floats are refused: they are not exact."""
    if value is None:
        return ZERO
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a boolean is not money")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        return Decimal(value)
    raise TypeError(f"refusing to treat {type(value).__name__} {value!r} as exact money")


def dsum(values: Iterable[object]) -> Decimal:
    """Exact sum of money values (Decimals / ints / None as zero)."""
    total = ZERO
    with decimal.localcontext(MONEY_CONTEXT):
        for value in values:
            if value is None or value != value:  # None or NaN from an empty outer join
                continue
            total += value if type(value) is Decimal else to_decimal(value)
    return total


def mul(a: Decimal, b: Decimal) -> Decimal:
    with decimal.localcontext(MONEY_CONTEXT):
        return a * b


#: the context of :func:`ratio`: 28 significant digits, the rest as Python's default context (made once: a DSO
#: breakdown divides a few times per customer, hundreds of thousands of times in a large book)
_RATIO_CONTEXT = decimal.Context(prec=28)


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """numerator / denominator to 28 significant digits; None when the denominator is zero."""
    if denominator == 0:
        return None
    return _RATIO_CONTEXT.divide(Decimal(numerator), Decimal(denominator))


#: how far from a half the exact quotient of :func:`rounded_ratio` must be for its 28-digit rounding not to matter:
#: 10**27 × (distance to the half) > 2 × (the quotient + 1) guarantees it (the rounding moves it by less than
#: 10**-27 × the quotient)
_SAFE_DIGITS = 10**27


def rounded_ratio(numerator: int, denominator: int) -> int:
    """``ratio(numerator, denominator)`` rounded half up (away from zero) to a whole number, for two integers (money
    as integers of one scale: the scale cancels) with a non-zero denominator — the same integer as
    ``int(ratio(...).quantize(1, ROUND_HALF_UP))``, without a Decimal: integer arithmetic, except within 10**-27 of
    a half, where the 28-digit rounding of the ratio could decide and the Decimal path is taken."""
    if denominator == 0:
        raise ZeroDivisionError("rounded_ratio of a zero denominator")
    size, bound = abs(numerator), abs(denominator)
    # |q| + 1/2 = whole + rest / (2 × bound): whole is |q| rounded half up
    whole, rest = divmod(2 * size + bound, 2 * bound)
    if min(rest, 2 * bound - rest) * _SAFE_DIGITS <= 2 * bound * (whole + 1):
        value = _RATIO_CONTEXT.divide(Decimal(numerator), Decimal(denominator))
        return int(value.quantize(Decimal(1), rounding=decimal.ROUND_HALF_UP))
    return -whole if (numerator < 0) != (denominator < 0) else whole


def percent_of(part: Decimal, total: Decimal) -> Decimal | None:
    """``part`` as a percentage of ``total`` (:func:`ratio` × 100); None when the total is zero."""
    value = ratio(part, total)
    return None if value is None else value * HUNDRED


def plain(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (12.3400 → 12.34, 100 → 100)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def round_money(value: Decimal, currency: str = "USD") -> Decimal:
    """Round half-up to the currency's minor unit — for display only."""
    return value.quantize(_minor_unit(currency), rounding=decimal.ROUND_HALF_UP)


@functools.cache
def _minor_unit(currency: str) -> Decimal:
    """The currency's smallest unit: 0.01 for USD, 1 for JPY (a workbook rounds every money cell with it)."""
    return Decimal(1).scaleb(-minor_unit_digits(currency))
