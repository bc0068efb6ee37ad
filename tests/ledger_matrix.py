"""Variant ledgers for the optional-data matrix (shared/data-contract.md §1: every optional table and column may be
absent, present with no rows, or present with only nulls, and the pack still runs).

From one contract-form ledger folder (CSV or Parquet; the demo by default) :func:`variants` lists, and
:func:`write_variant` writes, ledgers that lack one thing each:

- ``minimal`` — required tables and required columns only (+ ``fx_rates`` if the ledger has any non-reporting
  currency; as minimal drops ``invoices.currency`` every amount is then read as the reporting currency);
- ``drop_column:<table>.<column>`` — per optional contract column;
- ``drop_table:<table>`` — per optional table, grouped tables together (``drop_table:agency`` drops agencies,
  agency_placements and agency_collections; ``drop_table:loans`` drops loans and loan_cash_flows);
- ``empty_table:<table>`` — header only, per optional table and for ``payments`` (required, may have no rows);
  a table whose rows other tables reference empties those too (else the ledger would have orphans);
- ``null_column:<table>.<column>`` — the column present, every cell empty;
- ``all_empty`` — every optional table header-only and every optional column null;
- ``as_of:*`` — the full ledger as of the day before the first invoice, the month-end before the first agency
  placement and the month-end before the first loan snapshot.

The lists come from :data:`collections_mi.core.contract.TABLES` (required flags, groups), so a column or table added to
the contract is covered without editing this file. Each :class:`Variant` also says which *inputs* it leaves
without data (``missing``: ``"table"`` or ``"table.column"``) — the test matches those against the KPIs' declared
inputs. Files are copied cell for cell as text (CSV) or Arrow (Parquet): nothing is re-parsed or re-formatted.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from collections_mi.core.contract import TABLES

#: child table → the table its rows reference (data-contract.md §2 arrows between optional tables). Emptying or
#: dropping a parent empties the children too, so a variant never fails validation for orphans.
REFERENCES: dict[str, str] = {
    "agency_placements": "agencies",
    "agency_collections": "agency_placements",
    "loan_cash_flows": "loans",
}

#: date column per table that decides whether a row exists "as of D" (for the as-of variants' ``missing``)
DATE_COLUMNS: dict[str, str] = {
    "agency_placements": "placed_date",
    "agency_collections": "collection_date",
    "loans": "as_of_date",
    "loan_cash_flows": "as_of_date",
}


# ------------------------------------------------------------------------------------------ reading / writing


@dataclass
class Frame:
    """One table as text: header and rows (CSV), or an Arrow table (Parquet)."""

    header: list[str]
    rows: list[list[str]] | None = None
    arrow: object | None = None  # pyarrow.Table when the source is Parquet

    def column(self, name: str) -> list[str | None]:
        if self.arrow is not None:
            return [None if v is None else str(v) for v in self.arrow.column(name).to_pylist()]
        index = self.header.index(name)
        return [row[index] if row[index] != "" else None for row in self.rows]

    def without(self, columns: set[str]) -> Frame:
        keep = [c for c in self.header if c not in columns]
        if self.arrow is not None:
            return Frame(keep, arrow=self.arrow.select(keep))
        index = [self.header.index(c) for c in keep]
        return Frame(keep, rows=[[row[i] for i in index] for row in self.rows])

    def nulled(self, columns: set[str]) -> Frame:
        if self.arrow is not None:
            import pyarrow as pa

            table = self.arrow
            for name in columns & set(self.header):
                position = table.column_names.index(name)
                field_ = table.schema.field(position)
                table = table.set_column(position, field_, pa.nulls(table.num_rows, type=field_.type))
            return Frame(self.header, arrow=table)
        index = {self.header.index(c) for c in columns & set(self.header)}
        return Frame(self.header, rows=[["" if i in index else v for i, v in enumerate(row)] for row in self.rows])

    def emptied(self) -> Frame:
        if self.arrow is not None:
            return Frame(self.header, arrow=self.arrow.slice(0, 0))
        return Frame(self.header, rows=[])


def read_ledger(folder: Path) -> tuple[dict[str, Frame], str]:
    """Every ``<table>.csv`` / ``<table>.parquet`` in ``folder`` (Parquet wins, as in the contract) and the format."""
    frames: dict[str, Frame] = {}
    formats = set()
    names = {p.stem for p in folder.iterdir() if p.suffix in (".csv", ".parquet")}
    for name in sorted(names):
        parquet, text = folder / f"{name}.parquet", folder / f"{name}.csv"
        if parquet.exists():
            import pyarrow.parquet as pq

            table = pq.read_table(parquet)
            frames[name] = Frame(list(table.column_names), arrow=table)
            formats.add("parquet")
        else:
            with text.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.reader(handle)
                header = next(reader)
                frames[name] = Frame(header, rows=list(reader))
            formats.add("csv")
    if len(formats) > 1:
        raise ValueError(f"{folder}: mixed CSV and Parquet tables are not supported by the matrix generator")
    return frames, formats.pop() if formats else "csv"


def write_ledger(frames: dict[str, Frame], folder: Path, fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(frame.arrow, folder / f"{name}.parquet")
        else:
            with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(frame.header)
                writer.writerows(frame.rows)
    return folder


# ------------------------------------------------------------------------------------------ the contract's lists


def optional_tables() -> list[str]:
    return [name for name, table in TABLES.items() if not table.required]


def optional_columns() -> list[tuple[str, str]]:
    return [(name, c.name) for name, table in TABLES.items() for c in table.columns if not c.required]


def table_groups() -> dict[str, list[str]]:
    """Optional tables dropped together: a contract group (agency, loans) or the table alone."""
    groups: dict[str, list[str]] = {}
    for name in optional_tables():
        groups.setdefault(TABLES[name].group or name, []).append(name)
    return groups


def dependants(table: str) -> list[str]:
    """``table`` and every table whose rows reference it, transitively (parents first)."""
    out = [table]
    for child, parent in REFERENCES.items():
        if parent == table:
            out += [t for t in dependants(child) if t not in out]
    return out


def month_end_before(day: dt.date) -> dt.date:
    """The last month-end strictly before ``day``."""
    return day.replace(day=1) - dt.timedelta(days=1)


# ------------------------------------------------------------------------------------------ variants


@dataclass(frozen=True)
class Variant:
    name: str
    #: inputs the variant leaves without data: "table" (absent / no rows) or "table.column" (absent / all null)
    missing: frozenset[str]
    #: how the variant's tables are made from the source's (None = the source folder itself is used)
    transform: Callable[[dict[str, Frame]], dict[str, Frame]] | None = field(default=None, compare=False)
    #: as_of for this variant's params (None = the base as_of)
    as_of: dt.date | None = None
    note: str = ""

    @property
    def kind(self) -> str:
        return self.name.split(":", 1)[0]

    @property
    def id(self) -> str:  # pytest id
        return self.name


def _non_reporting_currencies(frames: dict[str, Frame], reporting: str) -> set[str]:
    currencies: set[str] = set()
    for table in ("invoices",):
        if table in frames and "currency" in frames[table].header:
            currencies |= {c for c in frames[table].column("currency") if c}
    return currencies - {reporting}


def _column_missing(table: str, column: str) -> str:
    return f"{table}.{column}"


def variants(source: Path, reporting_currency: str = "USD") -> list[Variant]:
    """Every variant of the ledger in ``source``, in a stable order."""
    frames, _ = read_ledger(source)
    present = [t for t in optional_tables() if t in frames]
    foreign = _non_reporting_currencies(frames, reporting_currency)
    out: list[Variant] = []

    # --- minimal ---
    def minimal(fr: dict[str, Frame]) -> dict[str, Frame]:
        keep = {name: fr[name] for name, table in TABLES.items() if table.required and name in fr}
        if foreign and "fx_rates" in fr:
            keep["fx_rates"] = fr["fx_rates"]
        return {name: f.without(set(f.header) - set(TABLES[name].required_columns)) for name, f in keep.items()}

    all_optional_columns = {_column_missing(t, c) for t, c in optional_columns()}
    out.append(
        Variant(
            "minimal",
            frozenset(set(present) - ({"fx_rates"} if foreign else set())) | all_optional_columns,
            minimal,
            note=f"required tables/columns only; invoices.currency dropped, so amounts read as {reporting_currency}",
        )
    )

    # --- drop_column / null_column per optional column of a present table ---
    for table, column in optional_columns():
        if table not in frames or column not in frames[table].header:
            continue
        missing = frozenset({_column_missing(table, column)})
        out.append(
            Variant(
                f"drop_column:{table}.{column}", missing, lambda fr, t=table, c=column: {**fr, t: fr[t].without({c})}
            )
        )
    for table, column in optional_columns():
        if table not in frames or column not in frames[table].header:
            continue
        missing = frozenset({_column_missing(table, column)})
        out.append(
            Variant(
                f"null_column:{table}.{column}", missing, lambda fr, t=table, c=column: {**fr, t: fr[t].nulled({c})}
            )
        )

    # --- drop_table per optional table group ---
    for group, tables in table_groups().items():
        tables = [t for t in tables if t in frames]
        if not tables:
            continue
        if "fx_rates" in tables and foreign:
            continue  # required when a currency ≠ reporting: dropping it is a validation error, not a variant
        drop = {d for t in tables for d in dependants(t) if d in frames}
        out.append(
            Variant(
                f"drop_table:{group}",
                frozenset(drop),
                lambda fr, d=frozenset(drop): {n: f for n, f in fr.items() if n not in d},
            )
        )

    # --- empty_table per optional table, and payments ---
    for table in [*present, "payments"]:
        if table == "fx_rates" and foreign:
            continue  # as above: rates are needed for the non-reporting currencies
        empty = [t for t in dependants(table) if t in frames]
        out.append(
            Variant(
                f"empty_table:{table}",
                frozenset(empty),
                lambda fr, e=tuple(empty): {n: (f.emptied() if n in e else f) for n, f in fr.items()},
                note="" if len(empty) == 1 else f"also empties {', '.join(empty[1:])} (they reference it)",
            )
        )

    # --- all_empty: optional tables header-only, optional columns null (so fx_rates is not needed: every
    #     invoice is in the reporting currency once invoices.currency is null) ---
    def all_empty(fr: dict[str, Frame]) -> dict[str, Frame]:
        result = {}
        for name, f in fr.items():
            if name in TABLES and not TABLES[name].required:
                f = f.emptied()
            if name in TABLES:
                f = f.nulled({c.name for c in TABLES[name].columns if not c.required})
            result[name] = f
        return result

    out.append(Variant("all_empty", frozenset(present) | all_optional_columns, all_empty))

    # --- as-of variants on the full ledger ---
    first_invoice = min(dt.date.fromisoformat(d[:10]) for d in frames["invoices"].column("invoice_date") if d)
    dates = [("as_of:day_before_first_invoice", first_invoice - dt.timedelta(days=1))]
    if "agency_placements" in frames and frames["agency_placements"].column("placed_date"):
        first = min(dt.date.fromisoformat(d[:10]) for d in frames["agency_placements"].column("placed_date") if d)
        dates.append(("as_of:month_end_before_first_placement", month_end_before(first)))
    if "loans" in frames and frames["loans"].column("as_of_date"):
        first = min(dt.date.fromisoformat(d[:10]) for d in frames["loans"].column("as_of_date") if d)
        dates.append(("as_of:month_end_before_first_loan_snapshot", month_end_before(first)))
    for name, day in dates:
        out.append(Variant(name, frozenset(missing_as_of(frames, day)), None, as_of=day, note=str(day)))
    return out


def missing_as_of(frames: dict[str, Frame], day: dt.date) -> set[str]:
    """Optional dated tables with no row dated ≤ ``day`` (at ``day`` they are tables with no rows)."""
    missing = set()
    for table, column in DATE_COLUMNS.items():
        if table in frames and not any(
            d and dt.date.fromisoformat(d[:10]) <= day for d in frames[table].column(column)
        ):
            missing |= {t for t in dependants(table) if t in frames}
    return missing


def write_variant(source: Path, variant: Variant, target: Path) -> Path:
    """Write ``variant`` of the ledger in ``source`` into ``target`` (a new folder); as-of variants copy it as is."""
    frames, fmt = read_ledger(source)
    if variant.transform is None:
        shutil.copytree(source, target)
        return target
    return write_ledger(variant.transform(frames), target, fmt)


def main() -> None:  # python tests/ledger_matrix.py SOURCE TARGET — write every variant for a look by hand
    import sys

    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    for variant in variants(source):
        folder = target / variant.name.replace(":", "__")
        write_variant(source, variant, folder)
        print(f"{variant.name:55s} as_of={variant.as_of or '-'} missing={sorted(variant.missing)} {variant.note}")


if __name__ == "__main__":
    main()
