"""What validation found, written for a finance user: one :class:`ValidationFailure` per broken rule.

A report is plain data (``to_dict`` is JSON-safe) with two renderings: ``render_text`` for the terminal
and ``render_html`` for a self-contained page (every data value escaped, no external assets).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from collections_mi.core.printable import escaped
from collections_mi.core.values import decimal_text

#: how many offending values the one-line description quotes, e.g. "(I1 ×2, I7)"
EXAMPLES_IN_DESCRIPTION = 3
#: longer values are cut when shown (a 1 MB name would drown the report); ``to_dict`` keeps them whole
MAX_SHOWN_CHARS = 200


@dataclass(frozen=True)
class ValidationFailure:
    """One rule broken by one or more rows (or items, e.g. invoices or currencies) of one table."""

    table: str
    column: str | None
    #: short id of the rule, e.g. ``unique``, ``date_format``, ``orphan_payment``, ``fx_coverage``
    check: str
    #: what is wrong, in plain English, with the count and a few offending values
    description: str
    failing_count: int
    #: a few offending rows: their key columns and the offending value(s), JSON-safe
    sample: list[dict[str, Any]] = field(default_factory=list)
    #: how to fix it, concretely (which file, which column)
    hint: str = ""
    #: the rule itself, in plain English (an expectation's ``meta.notes``)
    expectation: str = ""
    #: the source's own names where the params map the table (data-contract.md §1.1), e.g.
    #: ``column 'Grand Total' of Sales Invoice.csv``; set by
    #: :meth:`~collections_mi.validation.naming.FileNames.annotate`
    source: str = ""

    @property
    def location(self) -> str:
        """``invoices.amount``, or with a mapped source
        ``invoices.amount (column 'Grand Total' of Sales Invoice.csv)``."""
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{where} ({self.source})" if self.source else where

    def line(self) -> str:
        """One line: ``invoices.invoice_id: 2 rows where invoice_id repeats … (I1 ×2) — fix: …``."""
        text = f"{self.location}: {self.description}"
        return f"{text} — fix: {self.hint}" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "column": self.column,
            "check": self.check,
            "description": self.description,
            "failing_count": int(self.failing_count),
            "sample": [jsonable_row(r) for r in self.sample],
            "hint": self.hint,
            "expectation": self.expectation,
            "source": self.source,
        }


@dataclass
class ValidationReport:
    """Every failure found in one run; ``ok`` when there is none."""

    failures: list[ValidationFailure]
    checks_run: int
    #: tables checked → row count (tables absent from the source are not listed)
    tables: dict[str, int]
    seconds: float
    #: checks that could not run, and why (e.g. a table missing a required column)
    skipped: list[str] = field(default_factory=list)
    source: str = ""
    as_of: dt.date | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def failing_tables(self) -> list[str]:
        return list(dict.fromkeys(f.table for f in self.failures))

    def by_table(self) -> dict[str, list[ValidationFailure]]:
        grouped: dict[str, list[ValidationFailure]] = {}
        for failure in self.failures:
            grouped.setdefault(failure.table, []).append(failure)
        return grouped

    def summary(self) -> str:
        """One line, e.g. ``3 problems in 2 tables (86 checks on 6 tables, 1.2 s)``."""
        checked = f"{self.checks_run} checks on {len(self.tables)} tables, {self.seconds:.1f} s"
        if self.ok:
            return f"data passed validation ({checked})"
        problems = plural(len(self.failures), "problem")
        return f"{problems} in {plural(len(self.failing_tables), 'table')} ({checked})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "source": self.source,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "checks_run": int(self.checks_run),
            "tables": {name: int(rows) for name, rows in self.tables.items()},
            "seconds": round(float(self.seconds), 3),
            "skipped": list(self.skipped),
            "failures": [f.to_dict() for f in self.failures],
        }

    def render_text(self) -> str:
        """A readable terminal report grouped by table; control characters in the data shown escaped (``\\x1b``)."""
        head = "Validation"
        if self.source:
            head += f" of {self.source}"
        if self.as_of:
            head += f" (as of {self.as_of.isoformat()})"
        lines = [f"{head}: {self.summary()}"]
        for table, failures in self.by_table().items():
            rows = self.tables.get(table)
            lines += ["", f"{table}" + (f" ({plural(rows, 'row')})" if rows is not None else " (table missing)")]
            for failure in failures:
                lines.append(f"  ✗ {failure.location} [{failure.check}]: {failure.description}")
                if failure.expectation:
                    lines.append(f"      expectation: {failure.expectation}")
                lines.append(f"      failing: {failure.failing_count}")
                for row in failure.sample:
                    lines.append("      · " + ", ".join(f"{k}={_show(v)}" for k, v in jsonable_row(row).items()))
                if failure.failing_count > len(failure.sample) and failure.sample:
                    lines.append(f"      · … and {failure.failing_count - len(failure.sample)} more")
                if failure.hint:
                    lines.append(f"      fix: {failure.hint}")
        if self.skipped:
            lines += ["", "Skipped:"] + [f"  - {reason}" for reason in self.skipped]
        if self.tables:
            lines += ["", "Tables checked: " + ", ".join(f"{t} ({n})" for t, n in self.tables.items())]
        return escaped("\n".join(lines) + "\n")

    def render_html(self) -> str:
        """A self-contained HTML page (inline CSS only); every data value is escaped, control characters too."""
        e = html.escape
        title = "Data validation: " + ("passed" if self.ok else plural(len(self.failures), "problem"))
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{e(title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{e(title)}</h1>",
            f'<p class="summary">{e(self.summary())}'
            + (f"<br>source: <code>{e(self.source)}</code>" if self.source else "")
            + (f"<br>as of {e(self.as_of.isoformat())}" if self.as_of else "")
            + "</p>",
        ]
        for table, failures in self.by_table().items():
            rows = self.tables.get(table)
            parts.append(
                f"<h2>{e(table)} <small>{e(plural(rows, 'row') if rows is not None else 'table missing')}</small></h2>"
            )
            for failure in failures:
                parts.append('<section class="failure">')
                parts.append(
                    f'<h3><code>{e(failure.location)}</code> <span class="check">{e(failure.check)}</span>'
                    f' <span class="count">{e(f"{failure.failing_count} failing")}</span></h3>'
                )
                parts.append(f"<p>{e(failure.description)}</p>")
                if failure.expectation:
                    parts.append(f'<p class="rule">Expectation: {e(failure.expectation)}</p>')
                parts.append(_html_sample(failure))
                if failure.hint:
                    parts.append(f'<p class="hint"><strong>Fix:</strong> {e(failure.hint)}</p>')
                parts.append("</section>")
        if self.skipped:
            parts.append("<h2>Skipped</h2><ul>" + "".join(f"<li>{e(s)}</li>" for s in self.skipped) + "</ul>")
        if self.tables:
            parts.append(
                "<h2>Tables checked</h2><table><tr><th>table</th><th>rows</th></tr>"
                + "".join(f"<tr><td>{e(t)}</td><td>{e(str(n))}</td></tr>" for t, n in self.tables.items())
                + "</table>"
            )
        parts.append("</body></html>")
        return escaped("\n".join(parts) + "\n")


def _html_sample(failure: ValidationFailure) -> str:
    rows = [jsonable_row(r) for r in failure.sample]
    if not rows:
        return ""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{e(_show(row.get(c)))}</td>" for c in columns) + "</tr>" for row in rows)
    more = failure.failing_count - len(rows)
    tail = f'<p class="more">… and {e(str(more))} more</p>' if more > 0 else ""
    return f'<table class="sample"><tr>{head}</tr>{body}</table>{tail}'


_CSS = (
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2933;max-width:70rem}"
    "h1{font-size:1.5rem}h2{margin-top:2rem;border-bottom:1px solid #d9e2ec}h2 small{font-weight:normal;color:#627d98}"
    "h3{font-size:1rem;margin:0 0 .4rem}.failure{border-left:4px solid #d64545;padding:.4rem 1rem;margin:1rem 0;"
    "background:#fff5f5}.check{background:#eee;border-radius:3px;padding:0 .3rem;font-weight:normal;font-size:.85rem}"
    ".count{color:#d64545;font-weight:normal}.rule{color:#52606d}.hint{color:#1f2933}table{border-collapse:collapse}"
    "td,th{border:1px solid #d9e2ec;padding:.2rem .5rem;text-align:left;font-size:.9rem}th{background:#f0f4f8}"
    ".summary{color:#334e68}.more{color:#627d98;font-size:.9rem}"
)


def plural(count: int, noun: str) -> str:
    """``1 row`` / ``2 rows``, ``1 currency`` / ``2 currencies``, ``1 problem`` / ``2 problems``."""
    if count == 1:
        return f"{count} {noun}"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return f"{count} {noun[:-1]}ies"
    return f"{count} {noun}es" if noun.endswith(("s", "x", "ch", "sh")) else f"{count} {noun}s"


def jsonable(value: Any) -> Any:
    """A JSON-safe scalar: dates as ISO text, Decimals as exact text, NaN/NA as None, numpy scalars as Python."""
    if value is None:
        return None
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)  # 1000.5000 → 1000.5: engine decimals carry a fixed scale; never 1E-18
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    item = getattr(value, "item", None)  # numpy / pandas scalars
    if callable(item):
        try:
            return jsonable(item())
        except (TypeError, ValueError):
            pass
    try:
        if value != value:  # pandas NA / NaT
            return None
    except (TypeError, ValueError):
        return None
    return str(value)


def jsonable_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): jsonable(v) for k, v in row.items()}


def _full(value: Any) -> str:
    value = jsonable(value)
    return "(empty)" if value is None else str(value)


def _show(value: Any) -> str:
    return shorten(_full(value))


def shorten(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """``text``, or its first ``limit`` characters and how long it is: ``AAAA… (1,048,576 characters)``."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def examples(values: list[Any], *, complete: bool, limit: int = EXAMPLES_IN_DESCRIPTION) -> str:
    """``I1 ×2, I7`` — the first few distinct offending values; repeat counts only when ``values`` holds every
    offending value (``complete``), since counts of a sample would mislead."""
    counts = Counter(_full(v) for v in values)  # count whole values; cut them only for display
    shown = [f"{shorten(v)} ×{n}" if n > 1 and complete else shorten(v) for v, n in list(counts.items())[:limit]]
    if len(counts) > limit:
        shown.append("…")
    return ", ".join(shown)
