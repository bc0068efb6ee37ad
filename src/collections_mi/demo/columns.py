"""Arrow columns built exactly from the integer arrays the demo computes with (ids, labels, days, cents)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class IdWidths:
    """Digits after the prefix of each kind of id (``C000001``, ``INV-0000001``, ``PAY-0000001``)."""

    customer: int
    invoice: int
    row: int  # payments, adjustments, promises

    @staticmethod
    def for_size(invoices: int, customers: int) -> IdWidths:
        return IdWidths(
            customer=max(6, len(str(customers))),
            invoice=max(7, len(str(invoices))),
            row=max(7, len(str(invoices * 4))),
        )


def id_array(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` followed by each number, zero-padded to ``width`` digits."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def string_array_from(labels: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """The label of each code (an index into ``labels``)."""
    return pc.take(pa.array(labels, pa.string()), pa.array(np.asarray(codes, dtype=np.int64)))


def date_array(days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Dates from day numbers (days since 1970-01-01); null where ``valid`` is false."""
    mask = None if valid is None else ~np.asarray(valid, dtype=bool)
    return pa.array(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), pa.date32(), mask=mask)


def nullable(values: pa.Array, valid: np.ndarray) -> pa.Array:
    """``values`` where ``valid``, null elsewhere."""
    return pc.if_else(pa.array(np.asarray(valid, dtype=bool)), values, pa.scalar(None, values.type))


def scaled_decimal_array(units: np.ndarray, decimal_type: pa.Decimal128Type) -> pa.Array:
    """Decimal array whose unscaled values are ``units`` (e.g. cents for scale 2), built exactly."""
    low = np.ascontiguousarray(units, dtype=np.int64)
    words = np.empty(low.size * 2, dtype=np.int64)
    words[0::2] = low  # decimal128 = little-endian two's complement: low word, then sign extension
    words[1::2] = low >> 63
    return pa.Array.from_buffers(decimal_type, low.size, [None, pa.py_buffer(words)])
