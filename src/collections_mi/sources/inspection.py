"""``collections-mi inspect``: propose the ``source`` mapping (data contract §1.1) for a folder of ERP exports.

Pure logic: :func:`propose` takes :class:`FileSample` objects (a file's name, header and a few sample rows as
text, plus the encoding and delimiter it was read with) and returns a :class:`Proposal`: which file feeds which
contract table, which header feeds which contract column, the CSV dialect (decimal, thousands, date format) as
sniffed from the sample values, ``values`` maps for yes/no columns, and what could not be decided and why.
:func:`render_yaml` and :func:`render_summary` turn it into the params text and a short human summary.
Reading the files is :mod:`collections_mi.sources.inspection_io` (small, separate).

Nothing here guesses silently: an ambiguous date format (01/02/2026), an ambiguous decimal separator (1.234) or
an unmapped required column is reported and left as a ``# TODO`` in the YAML.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from collections_mi.core.contract import TABLES
from collections_mi.core.periods import month_end
from collections_mi.sources.export_synonyms import NAME_HINTS, SYNONYMS

_AGING_BUCKET = re.compile(
    r"^(current|older|<?\s*\d+\s*(month|months|days?)|\d+\s*-\s*\d+(\s*days)?|over\s*\d+|"
    r"\d+\+|>\s*\d+|1\s*month|\d+\s*months?)$",
    re.IGNORECASE,
)
#: headers that hold what is still owed, not what was invoiced: never the contract's `amount`
_BALANCE_WORDS = ("outstanding", "amountdue", "openbalance", "balance", "residual", "invoiceamountdue", "due")

#: tables inspect proposes (a folder of exports rarely holds the others; they map by their contract names)
TABLE_ORDER: tuple[str, ...] = tuple(
    t
    for t in (
        "customers",
        "invoices",
        "payments",
        "adjustments",
        "disputes",
        "unapplied_cash",
        "promises",
        "fx_rates",
        "gl_balances",
    )
    if t in TABLES
)
REQUIRED_TABLES = ("customers", "invoices", "payments")

DATE_FORMATS = (
    "%Y-%m-%d",
    "%d.%m.%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%d.%m.%y",
    "%m/%d/%y",
    "%d/%m/%y",
)
_DATE_SHAPE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_YES = {"yes", "y", "true", "t", "1", "x", "ja", "j", "oui", "si", "sí"}
_NO = {"no", "n", "false", "f", "0", "", "nein", "non"}


def norm(text: str) -> str:
    """Case, space, underscore and punctuation-insensitive form of a header ("Invoice No." → "invoiceno")."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


@dataclass(frozen=True)
class FileSample:
    """What inspect read from one file: header and up to a few dozen rows, all as text."""

    name: str
    kind: str  # "csv" | "parquet"
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    encoding: str | None = None  # csv only: "utf-8" | "cp1252"
    delimiter: str | None = None  # csv only
    #: csv only: lines above the header row (a report title, company name, date range)
    preamble: int = 0

    def column(self, header: str) -> list[str]:
        i = self.header.index(header)
        return [row[i].strip() for row in self.rows if i < len(row)]


@dataclass
class ColumnMatch:
    contract: str
    header: str
    how: str  # "exact" | "normalised" | "synonym" | "same as <col>"


@dataclass
class Dialect:
    """A CSV dialect in the contract's ``csv`` keys. While sniffing one file, ``decimal`` and ``date_format`` are
    None when its sample holds no evidence, and ``encoding`` is "ascii" when any encoding reads it."""

    delimiter: str = ","
    decimal: str | None = "."
    thousands: str | None = None
    date_format: str | None = None  # None: ISO (the default) or undecided (see problems)
    encoding: str = "utf-8"
    #: formats that all read the sample's dates when more than one does (01/02/2026): undecided
    date_candidates: tuple[str, ...] = ()
    date_example: str = ""

    def as_mapping(self, *, every_key: bool = False) -> dict[str, str]:
        """The ``csv`` keys; ``every_key``: thousands "" (none) too, so a table's csv does not inherit source.csv's."""
        out = {"delimiter": self.delimiter, "decimal": self.decimal or "."}
        if self.thousands or every_key:
            out["thousands"] = self.thousands or ""
        if self.date_format and (every_key or self.date_format != "%Y-%m-%d"):
            out["date_format"] = self.date_format
        out["encoding"] = self.encoding
        return out

    def non_default(self) -> dict[str, str]:
        full = self.as_mapping()
        defaults = {"delimiter": ",", "decimal": ".", "encoding": "utf-8"}
        return {k: v for k, v in full.items() if defaults.get(k) != v}


@dataclass
class TableProposal:
    table: str
    file: FileSample
    columns: list[ColumnMatch]
    missing_required: dict[str, list[str]]  # contract column → candidate headers
    values: dict[str, dict[str, bool]] = field(default_factory=dict)
    dialect: Dialect | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Proposal:
    folder: str
    as_of: dt.date | None
    as_of_note: str
    tables: dict[str, TableProposal]
    dialect: Dialect | None  # source.csv (None: no CSV file, or all defaults)
    unused: dict[str, str]  # file name → why it feeds no table
    missing_tables: dict[str, str]  # required table → why nothing feeds it
    problems: list[str]  # dialect questions inspect refused to guess
    todo: list[str] = field(default_factory=list)
    reporting_currency: str | None = None  # the one currency every sampled invoice is in


# ---------------------------------------------------------------------------------------------------------------
# Header matching
# ---------------------------------------------------------------------------------------------------------------
def _score(table: str, column: str, header: str) -> tuple[int, int, str] | None:
    """How well ``header`` names ``table.column``: (level, rank) — smaller is better — and how; None: not at all."""
    if header == column:
        return (0, 0, "exact")
    if norm(header) == norm(column):
        return (1, 0, "normalised")
    for rank, synonym in enumerate(SYNONYMS.get(table, {}).get(column, [])):
        if norm(header) == norm(synonym):
            return (2, rank, "synonym")
    return None


def _candidates(table: str, column: str, headers: tuple[str, ...]) -> list[str]:
    """Headers that share a word with the contract column or its synonyms (for a TODO's hint)."""
    words = {w for w in re.split(r"[_\W]+", column.casefold()) if len(w) > 2}
    for synonym in SYNONYMS.get(table, {}).get(column, []):
        words |= {w for w in re.split(r"\W+", synonym.casefold()) if len(w) > 2}
    words -= {"the", "and", "for", "local", "currency", "number"}
    found = []
    for header in headers:
        header_words = {w for w in re.split(r"\W+", header.casefold()) if w}
        if header_words & words:
            found.append(header)
    return found[:5]


def match_columns(table: str, headers: tuple[str, ...]) -> tuple[list[ColumnMatch], dict[str, list[str]]]:
    """Best header for each contract column of ``table`` (each header used once); unmapped required columns with
    candidate headers. Balance columns ("Outstanding Amount", "Amount Due") never feed an ``amount``."""
    spec = TABLES[table]
    pairs = []
    for column in spec.columns:
        for header in headers:
            scored = _score(table, column.name, header)
            if scored is None:
                continue
            if column.type == "money" and scored[0] == 2 and any(w in norm(header) for w in _BALANCE_WORDS):
                continue
            pairs.append((scored[0], scored[1], 0 if column.required else 1, column.name, header, scored[2]))
    pairs.sort()
    used_headers: set[str] = set()
    chosen: dict[str, ColumnMatch] = {}
    for _level, _rank, _req, contract, header, how in pairs:
        if contract in chosen or header in used_headers:
            continue
        chosen[contract] = ColumnMatch(contract, header, how)
        used_headers.add(header)
    # systems that key customers by their name (Xero, QuickBooks, Odoo exports): one column is id and name
    if table == "customers":
        if "customer_id" not in chosen and "name" in chosen:
            chosen["customer_id"] = ColumnMatch("customer_id", chosen["name"].header, "same as name")
        elif "name" not in chosen and "customer_id" in chosen:
            chosen["name"] = ColumnMatch("name", chosen["customer_id"].header, "same as customer_id")
    ordered = [chosen[c.name] for c in spec.columns if c.name in chosen]
    missing = {
        c.name: _candidates(table, c.name, tuple(h for h in headers if h not in used_headers))
        for c in spec.columns
        if c.required and c.name not in chosen
    }
    return ordered, missing


# ---------------------------------------------------------------------------------------------------------------
# Dialect sniffing from sample values
# ---------------------------------------------------------------------------------------------------------------
def date_formats(values: list[str]) -> list[str]:
    """The candidate formats that read every non-empty value (an empty list: not dates)."""
    values = [v for v in values if v]
    if not values or not all(_DATE_SHAPE.match(v) for v in values):
        return []
    fits = []
    for fmt in DATE_FORMATS:
        try:
            for v in values:
                dt.datetime.strptime(v, fmt)
        except ValueError:
            continue
        fits.append(fmt)
    return fits


def _date_value(value: str, fmt: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value, fmt).date()
    except ValueError:
        return None


_NUMBER_SHAPES = {
    # (decimal, thousands): pattern of a value that can only be read that way
    (",", "."): re.compile(r"^-?\d{1,3}(\.\d{3})+,\d+-?$"),
    (".", ","): re.compile(r"^-?\d{1,3}(,\d{3})+\.\d+-?$"),
}


def number_votes(values: list[str]) -> Counter[str]:
    """Votes for the decimal separator from money-like values: "1.234,56" and "12,5" say comma; "1,234.56" and
    "12.50" say point; "1.234" or "1,234" (three digits after one separator) say nothing."""
    votes: Counter[str] = Counter()
    for raw in values:
        v = raw.strip().replace(" ", "").lstrip("+").rstrip("-")
        v = v[1:] if v.startswith("-") else v
        if not v or not re.fullmatch(r"[\d.,]+", v):
            continue
        if _NUMBER_SHAPES[(",", ".")].match(v):
            votes[","] += 1
        elif _NUMBER_SHAPES[(".", ",")].match(v):
            votes["."] += 1
        elif re.fullmatch(r"\d+,\d{1,2}|\d+,\d{4,}", v):
            votes[","] += 1
        elif re.fullmatch(r"\d+\.\d{1,2}|\d+\.\d{4,}", v):
            votes["."] += 1
    return votes


def _thousands_seen(values: list[str], decimal: str) -> bool:
    sep = "." if decimal == "," else ","
    return any(re.fullmatch(rf"-?\d{{1,3}}(\{sep}\d{{3}})+(\{decimal}\d+)?-?", v.strip()) for v in values)


def sniff_dialect(sample: FileSample, matches: list[ColumnMatch], table: str | None, problems: list[str]) -> Dialect:
    """Decimal, thousands and date format of one CSV file from its sample values; questions it cannot settle are
    appended to ``problems`` (naming the file and the values) and left unset."""
    dialect = Dialect(delimiter=sample.delimiter or ",", decimal=None, encoding=sample.encoding or "utf-8")
    # dates: every column whose values all look like dates must share one format
    date_columns = {h: date_formats(sample.column(h)) for h in sample.header}
    date_columns = {h: f for h, f in date_columns.items() if f}
    if date_columns:
        common = [f for f in DATE_FORMATS if all(f in fits for fits in date_columns.values())]
        four_digit = [f for f in common if "%y" not in f]
        common = four_digit or common
        if len(common) == 1:
            dialect.date_format = common[0]
        elif not common:
            problems.append(
                f"{sample.name}: its date columns ({', '.join(date_columns)}) use different formats; "
                "set tables.<table>.csv.date_format by hand"
            )
        else:
            dialect.date_candidates = tuple(common)
            dialect.date_example = next(v for h in date_columns for v in sample.column(h) if v)
    # money: vote on the values of the columns mapped to money/decimal contract columns, else on every column
    money_headers = []
    if table:
        types = {c.name: c.type for c in TABLES[table].columns}
        money_headers = [m.header for m in matches if types.get(m.contract) in ("money", "decimal")]
    headers = money_headers or [h for h in sample.header if h not in date_columns]
    values = [v for h in headers for v in sample.column(h)]
    votes = number_votes(values)
    if votes["."] and votes[","]:
        problems.append(
            f"{sample.name}: money values use both a decimal point and a decimal comma "
            f"({votes['.']} vs {votes[',']} sample values); set csv.decimal by hand"
        )
    elif votes[","]:
        dialect.decimal = ","
    elif votes["."]:
        dialect.decimal = "."
    if dialect.decimal == "." and _thousands_seen(values, "."):
        dialect.thousands = ","
    return dialect


def _majority(values: Sequence[str | None], prefer: str | None) -> str | None:
    counted = Counter(v for v in values if v is not None)
    if not counted:
        return None
    return max(counted, key=lambda v: (counted[v], v == prefer))


def merge_dialects(dialects: dict[str, Dialect], first: str | None) -> tuple[Dialect, dict[str, Dialect]]:
    """One ``source.csv`` for what most files show, and the full dialect of each table that differs from it.
    A file without evidence (no money or date value, ASCII text) takes the common value."""
    prefer = dialects.get(first) if first else None

    def pick(attr: str) -> str | None:
        """The value of ``attr`` most files show (``first``'s on a tie)."""
        return _majority([getattr(d, attr) for d in dialects.values()], getattr(prefer, attr) if prefer else None)

    encodings = [d.encoding for d in dialects.values() if d.encoding != "ascii"]
    common = Dialect(
        delimiter=pick("delimiter") or ",",
        decimal=pick("decimal") or ".",
        date_format=pick("date_format"),
        encoding=_majority(encodings, prefer.encoding if prefer else None) or "utf-8",
    )
    common.thousands = (
        "."
        if common.decimal == ","
        else ("," if any(d.thousands == "," for d in dialects.values() if d.decimal in (None, ".")) else None)
    )
    resolved = {}
    for table, d in dialects.items():
        own = Dialect(
            delimiter=d.delimiter,
            decimal=d.decimal or common.decimal,
            date_format=d.date_format or common.date_format,
            encoding=common.encoding if d.encoding == "ascii" else d.encoding,
        )
        own.thousands = (
            "." if own.decimal == "," else (d.thousands or (common.thousands if d.decimal is None else None))
        )
        if own.as_mapping() != common.as_mapping():
            resolved[table] = own
    return common, resolved


def yes_no_values(values: list[str]) -> dict[str, bool] | None:
    """A ``values`` map for a bool column whose sample values are all yes/no words (None: they are not)."""
    seen = sorted(set(values))
    if not seen or not all(v.casefold() in _YES | _NO for v in seen):
        return None
    if not any(v.casefold() in _YES for v in seen) and not any(v for v in seen):
        return None
    mapping = {v: v.casefold() in _YES for v in seen if v}
    if all(v.casefold() in ("true", "false") for v in mapping):
        return None  # the contract's own spelling: nothing to map
    return mapping


# ---------------------------------------------------------------------------------------------------------------
# Files → tables
# ---------------------------------------------------------------------------------------------------------------
def _name_hint(table: str, file_name: str) -> int:
    stem = norm(file_name.rsplit(".", 1)[0])
    if norm(table) == stem or stem == norm(table.rstrip("s")):
        return 3
    return sum(h in stem for h in NAME_HINTS.get(table, []))


def why_not(table: str, sample: FileSample, missing: dict[str, list[str]]) -> str:
    """Plain words for why ``sample`` cannot feed ``table``."""
    bucket_cols = [h for h in sample.header if _AGING_BUCKET.match(h.strip())]
    words = {
        "invoice_id": "invoice number",
        "customer_id": "customer",
        "invoice_date": "invoice date",
        "due_date": "due date",
        "amount": "amount",
        "payment_id": "payment number",
        "payment_date": "payment date",
        "name": "customer name",
    }
    lacking = ", ".join(words.get(c, c) for c in missing)
    reason = f"no {lacking} column" if lacking else "no matching columns"
    if len(bucket_cols) >= 2:
        reason += (
            f" — it is an aged summary (one row per customer, amounts by age band: "
            f"{', '.join(bucket_cols[:4])}), not a line-item ledger; export the detail report "
            "(one row per invoice) instead"
        )
    return reason


def assign_tables(
    samples: list[FileSample],
) -> tuple[dict[str, tuple[FileSample, list[ColumnMatch], dict[str, list[str]]]], dict[str, str]]:
    """Which file feeds which table: every (file, table) pair is scored by the share of the table's required
    columns its header maps and by its file name; the best pairs win, one file per table and one table per file.
    Returns the assignments and, for each file left over, why it feeds no table."""
    scored = []
    for sample in samples:
        for table in TABLE_ORDER:
            matches, missing = match_columns(table, sample.header)
            required = TABLES[table].required_columns
            share = (len(required) - len(missing)) / len(required)
            hint = _name_hint(table, sample.name)
            if share < 1 and hint == 0:
                continue
            if share <= 0.5:
                continue
            scored.append(
                (-(share == 1), -hint, -share, TABLE_ORDER.index(table), sample.name, table, sample, matches, missing)
            )
    scored.sort(key=lambda s: s[:5])
    assigned: dict[str, tuple[FileSample, list[ColumnMatch], dict[str, list[str]]]] = {}
    used: set[str] = set()
    for *_key, name, table, sample, matches, missing in scored:
        if table in assigned or name in used:
            continue
        assigned[table] = (sample, matches, missing)
        used.add(name)
    unused = {}
    for sample in samples:
        if sample.name in used:
            continue
        buckets = sum(bool(_AGING_BUCKET.match(h.strip())) for h in sample.header) >= 2
        table = (
            "invoices"
            if buckets
            else max(
                ("invoices", "payments", "customers"),
                key=lambda t: (_name_hint(t, sample.name), -len(match_columns(t, sample.header)[1])),
            )
        )
        reason = why_not(table, sample, match_columns(table, sample.header)[1])
        if table in assigned and not match_columns(table, sample.header)[1]:
            reason = f"{assigned[table][0].name} was chosen for {table}"
        unused[sample.name] = f"cannot feed {table}: {reason}"
    return assigned, unused


def propose(
    folder: str, samples: list[FileSample], *, as_of: dt.date | None = None, as_of_note: str = "from --as-of"
) -> Proposal:
    """The mapping proposal for ``samples`` (read from ``folder``, as the user named it)."""
    problems: list[str] = []
    assigned, unused = assign_tables(samples)
    tables: dict[str, TableProposal] = {}
    for table in TABLE_ORDER:
        if table not in assigned:
            continue
        sample, matches, missing = assigned[table]
        proposal = TableProposal(table, sample, matches, missing)
        if sample.kind == "csv":
            proposal.dialect = sniff_dialect(sample, matches, table, problems)
        types = {c.name: c.type for c in TABLES[table].columns}
        for m in matches:
            if types[m.contract] == "bool":
                mapping = yes_no_values(sample.column(m.header))
                if mapping:
                    proposal.values[m.contract] = mapping
            if types[m.contract] == "money" and any(w in norm(m.header) for w in _BALANCE_WORDS):
                proposal.notes.append(
                    f"{m.header!r} looks like a balance; {table}.{m.contract} must be the original amount"
                )
        balance_headers = [
            h
            for h in sample.header
            if norm(h) in {"outstandingamount", "amountdue", "openbalance", "invoiceamountdue", "balance"}
        ]
        if table == "invoices" and balance_headers:
            proposal.notes.append(
                f"{', '.join(repr(h) for h in balance_headers)} (what is still owed) is not used: "
                "balances are computed from amounts, payments and adjustments"
            )
        tables[table] = proposal
    missing_tables = {}
    for table in REQUIRED_TABLES:
        if table not in tables:
            extra = " (it may have no rows, but the file must exist)" if table == "payments" else ""
            missing_tables[table] = f"no file in the folder looks like {table}{extra}"
    # one source.csv for the dialect most CSV tables share; tables that differ get their own csv
    sniffed = {t: tp.dialect for t, tp in tables.items() if tp.dialect is not None}
    common = None
    if sniffed:
        common, own = merge_dialects(sniffed, "invoices" if "invoices" in sniffed else None)
        for table, tp in tables.items():
            d = sniffed.get(table)
            if d is not None and d.date_candidates:
                readings = " or ".join(f'"{f}"' for f in d.date_candidates)
                if common.date_format in d.date_candidates:
                    tp.notes.append(
                        f"dates such as {d.date_example!r} could be {readings}; the other files' dates "
                        f"say {common.date_format!r}"
                    )
                else:
                    problems.append(
                        f"{tp.file.name}: dates such as {d.date_example!r} can be read as {readings} "
                        "(day and month are both 12 or less in every sample row); inspect does not "
                        "guess: set csv.date_format"
                    )
            tp.dialect = own.get(table)
    for name, count in ((s.name, s.preamble) for s in samples if s.preamble):
        problems.append(
            f"{name}: the header row is not the first line: {count} line(s) above it (a report title or "
            "date range) must be deleted, or the report exported without its header"
        )
    currency = None
    invoices = tables.get("invoices")
    if invoices is not None:
        header = next((m.header for m in invoices.columns if m.contract == "currency"), None)
        codes = {v.upper() for v in invoices.file.column(header) if v} if header else set()
        if len(codes) == 1 and re.fullmatch(r"[A-Z]{3}", next(iter(codes))):
            currency = next(iter(codes))
    note = ""
    if as_of is None:
        as_of, note = _as_of_from_invoices(tables.get("invoices"), common)
    else:
        note = as_of_note
    return Proposal(folder, as_of, note, tables, common, unused, missing_tables, problems, reporting_currency=currency)


def _as_of_from_invoices(invoices: TableProposal | None, common: Dialect | None) -> tuple[dt.date | None, str]:
    if invoices is None:
        return None, "no invoices file to take it from"
    header = next((m.header for m in invoices.columns if m.contract == "invoice_date"), None)
    if header is None:
        return None, "the invoices file has no invoice date column"
    values = [v for v in invoices.file.column(header) if v]
    dialect = invoices.dialect or common
    fmt = dialect.date_format if dialect else "%Y-%m-%d"
    fmt = fmt or ("%Y-%m-%d" if date_formats(values) == ["%Y-%m-%d"] else None)
    if invoices.file.kind == "parquet":
        fmt = "%Y-%m-%d"
    if fmt is None:
        return None, "the invoice dates' format is ambiguous"
    days = [d for d in (_date_value(v[:10] if invoices.file.kind == "parquet" else v, fmt) for v in values) if d]
    if not days:
        return None, f"no readable date in {header!r}"
    latest = max(days)
    return month_end(latest), (
        f"month-end of the latest invoice date in the sample rows ({latest.isoformat()}); "
        "change it to report another month"
    )


# ---------------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------------
def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _flow(mapping: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {_q(v)}" for k, v in mapping.items()) + "}"


def render_yaml(proposal: Proposal, *, command: str) -> str:
    """The params text: loadable by ``load_params`` (as_of and source), with ``# TODO`` comments for what a person
    must decide."""
    out = [
        f"# Proposed by `{command}`.",
        "# Review every line; search for TODO. Then: collections-mi validate --params <this file>",
    ]
    todo = []
    if proposal.as_of is not None:
        out.append(f"as_of: {proposal.as_of.isoformat()}   # {proposal.as_of_note}")
    else:
        out.append(f"# TODO as_of: set the reporting date (YYYY-MM-DD, a month-end): {proposal.as_of_note}")
        todo.append("as_of")
    if proposal.reporting_currency:
        out.append(
            f"reporting_currency: {proposal.reporting_currency}   # every sampled invoice is in "
            f"{proposal.reporting_currency}; other currencies need fx_rates"
        )
    out.append('# report: {company: "Your Company Ltd"}   # optional: the name on the pack\'s title line and email')
    out += ["source:", "  kind: files", f"  location: {_q(proposal.folder)}"]
    for problem in proposal.problems:
        out.append(f"  # TODO {problem}")
        todo.append(problem)
    if proposal.dialect is not None and proposal.dialect.non_default():
        out.append(f"  csv: {_flow(proposal.dialect.as_mapping())}")
    out.append("  tables:")
    for table, tp in proposal.tables.items():
        out.append(f"    {table}:")
        out.append(f"      file: {_q(tp.file.name)}")
        if tp.dialect is not None:
            out.append(f"      csv: {_flow(tp.dialect.as_mapping(every_key=True))}")
        out.append("      columns:")
        for m in tp.columns:
            comment = "" if m.how in ("exact", "normalised") else f"   # {m.how}"
            out.append(f"        {m.contract}: {_q(m.header)}{comment}")
        for column, candidates in tp.missing_required.items():
            hint = f"candidates: {', '.join(_q(c) for c in candidates)}" if candidates else "no candidate header"
            out.append(f"        # TODO {column} (required): no header matched; {hint}")
            todo.append(f"{table}.{column}")
        if not tp.columns:
            out[-1] = "      columns: {}"
        if tp.values:
            out.append("      values:")
            for column, mapping in tp.values.items():
                items = ", ".join(f"{_q(k)}: {'true' if v else 'false'}" for k, v in mapping.items())
                out.append(f"        {column}: {{{items}}}")
        for note in tp.notes:
            out.append(f"      # note: {note}")
    for table, why in proposal.missing_tables.items():
        out.append(f"    # TODO {table} (required table): {why}; export it and add tables.{table}.file")
        todo.append(table)
    if proposal.unused:
        out.append("# Files not used:")
        for name, why in proposal.unused.items():
            out.append(f"#   {name}: {why}")
    proposal.todo = todo
    return "\n".join(out) + "\n"


def render_summary(proposal: Proposal) -> str:
    """A few lines for a person (stderr)."""
    lines = []
    for table, tp in proposal.tables.items():
        mapped = len(tp.columns)
        missing = (
            f"; {len(tp.missing_required)} required column(s) unmapped: {', '.join(tp.missing_required)}"
            if tp.missing_required
            else ""
        )
        lines.append(f"{table:<12} ← {tp.file.name} ({mapped} column(s) mapped{missing})")
    for table, why in proposal.missing_tables.items():
        lines.append(f"{table:<12} ← nothing: {why}")
    for name, why in proposal.unused.items():
        lines.append(f"not used: {name}: {why}")
    for problem in proposal.problems:
        lines.append(f"refused to guess: {problem}")
    if proposal.dialect is not None:
        lines.append("csv: " + ", ".join(f"{k} {v!r}" for k, v in proposal.dialect.as_mapping().items()))
    lines.append(f"as_of: {proposal.as_of.isoformat() if proposal.as_of else 'TODO'} ({proposal.as_of_note})")
    count = len(proposal.todo)
    lines.append(f"{count} TODO(s) to review" if count else "no TODO: review the mapping, then run validate")
    return "\n".join(lines) + "\n"
