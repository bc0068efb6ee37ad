"""An audience's part of the ledger (``report.audiences``, data-contract.md v1.1 §4): the typed tables filtered to the
customers the audience's filter selects — on Ibis expressions, so the same filter runs on DuckDB, Postgres and Spark.

What belongs to a customer follows the contract's keys: the customers themselves and every table with a
``customer_id`` (invoices, promises, agency placements, unapplied cash), every table keyed to one of their invoices
(payments, adjustments, disputes) and agency collections on their placements. Reference tables (FX rates, the agency
list) are kept whole. The loan book and ``gl_balances`` are not per customer: an audience's ledger leaves them out,
and says why (:attr:`AudienceLedger.left_out`), where the main pack would show them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace

import ibis
import ibis.expr.types as ir

from collections_mi.config.audiences import AudienceConfig
from collections_mi.config.params import Params
from collections_mi.core.contract import TABLES
from collections_mi.core.errors import ConfigError
from collections_mi.core.printable import escaped

#: contract tables that are not per customer → what an audience pack says in their place
NOT_PER_CUSTOMER = {
    "loans": "the loan book (loans) is not per customer, so audience packs leave it out",
    "loan_cash_flows": "the loan book (loan_cash_flows) is not per customer, so audience packs leave it out",
    "gl_balances": "gl_balances (the general ledger) is not per customer, so audience packs leave it out",
}
#: contract tables every audience keeps whole: they describe no customer's business
REFERENCE_TABLES = ("fx_rates", "agencies")
#: how many of a column's values an "no customer matches" message lists
VALUES_SHOWN = 12


@dataclass(frozen=True)
class AudienceLedger:
    """One audience's part of a ledger: its typed tables (what :func:`collections_mi.metrics.book.open_book` takes)
    and what it is."""

    name: str
    config: AudienceConfig[str]
    #: contract table → the audience's rows (tables the ledger has that are not per customer are absent)
    typed: dict[str, ir.Table]
    #: tables the ledger has but the audience leaves out → why (not per customer)
    left_out: dict[str, str]
    customers: int
    customers_in_ledger: int
    #: the whole ledger's typed tables and the audience's customer ids (to materialise the part: :func:`materialised`)
    whole: Mapping[str, ir.Table] = field(repr=False, default_factory=dict)
    ids: ir.Table | None = field(repr=False, default=None)

    def scope(self) -> str:
        """What the audience's pack covers, in words (its index page and its email)."""
        held = [words for table, words in _OWN_TABLES.items() if table in self.typed]
        covered = ", ".join(held[:-1]) + f" and {held[-1]}" if len(held) > 1 else held[0]
        sentence = (
            f"Audience {self.name}: the {self.customers:,} of {self.customers_in_ledger:,} customers with "
            f"{self.config.describe()} — their {covered}."
        )
        missing = [words for table, words in _LEFT_OUT_WORDS.items() if table in self.left_out]
        if "unapplied_cash" in self.typed:  # a receipt without a customer belongs to no audience
            missing.append("unidentified cash (receipts without a customer)")
        if missing:
            left_out = ", ".join(missing[:-1]) + f" and {missing[-1]}" if len(missing) > 1 else missing[0]
            sentence += (
                f" {left_out[0].upper()}{left_out[1:]} {'is' if len(missing) == 1 else 'are'} not per customer: left "
                "out of this pack (the main pack shows them)."
            )
        return sentence


#: the tables an audience's scope sentence names, in words
_OWN_TABLES = {
    "invoices": "invoices",
    "payments": "payments",
    "adjustments": "adjustments",
    "promises": "promises to pay",
    "disputes": "disputes",
    "unapplied_cash": "unapplied cash",
    "agency_placements": "agency placements",
}
_LEFT_OUT_WORDS = {
    "loans": "the loan book (watch-list reserves)",
    "gl_balances": "the general ledger balances (gl_balances: the GL reconciliation lines)",
}


def check_audience_columns(raw: Mapping[str, ir.Table], params: Params, where: str = "the customers table") -> None:
    """Every audience's filter names a column the customers table has (its raw view: the contract's names of mapped
    columns, other columns by their own name); else a :class:`ConfigError` naming the key and listing the columns.
    Without a customers table there is nothing to check here (validation reports the missing table)."""
    customers = raw.get("customers")
    if customers is None:
        return
    columns = list(customers.columns)
    for name, audience in params.report.audiences.items():
        for column in audience.filter:
            if column not in columns:
                near = [c for c in columns if c.lower() == column.lower()]
                raise ConfigError(
                    f"report.audiences.{name}.filter.{escaped(column, one_line=True)}: {where} has no column "
                    f"{escaped(column, one_line=True)!r}; its columns: {', '.join(columns)}",
                    hint=(f"spell it {near[0]!r} (capitals count)" if near else "filter on one of those columns")
                    + " — a column mapped by source.tables.customers.columns goes by its contract name",
                )


def _selected(customers: ir.Table, audience: AudienceConfig[str]) -> ir.BooleanValue:
    conditions = [customers[column].isin(list(values)) for column, values in audience.filter.items()]
    condition = conditions[0]
    for more in conditions[1:]:
        condition = condition & more
    return condition


def audience_ledger(
    raw: Mapping[str, ir.Table], typed: Mapping[str, ir.Table], name: str, audience: AudienceConfig[str]
) -> AudienceLedger:
    """The part of the ledger (``raw`` and ``typed`` views, as :class:`~collections_mi.sources.ledger.Ledger` holds
    them) that belongs to audience ``name``'s customers. A filter that matches no customer is a
    :class:`ConfigError` naming the audience and the values (an empty pack is never what was meant)."""
    customers_raw = raw["customers"]
    chosen = customers_raw.filter(_selected(customers_raw, audience))
    counts = customers_raw.aggregate(
        # not a cast of the condition to an integer: Postgres cannot cast boolean to bigint
        total=customers_raw.count(),
        matched=ibis.ifelse(_selected(customers_raw, audience), 1, 0).sum(),
    ).to_pyarrow()
    total = int(counts.column("total")[0].as_py() or 0)
    matched = int(counts.column("matched")[0].as_py() or 0)
    if matched == 0:
        raise ConfigError(
            f"report.audiences.{name}.filter: no customer has {escaped(audience.describe(), one_line=True)} "
            f"(the customers table holds {total:,} customers){_values_there(customers_raw, audience)}",
            hint="write the values exactly as the customers table holds them (capitals and spaces count), or "
            f"remove the audience {name}",
        )
    ids = chosen.select("customer_id")
    typed_part, left_out = _part_of(typed, ids, lambda table: table)
    return AudienceLedger(
        name=name,
        config=audience,
        typed=typed_part,
        left_out=left_out,
        customers=matched,
        customers_in_ledger=total,
        whole=typed,
        ids=ids,
    )


@contextmanager
def materialised(audience: AudienceLedger) -> Iterator[AudienceLedger]:
    """``audience`` with its part of the ledger materialised once in the engine (temporary tables: its customer ids,
    then each table filtered through the materialised keys), released on exit. Every query of its Book then reads
    the audience's rows, not the whole ledger through a semi-join: the compute takes half the time."""
    if audience.ids is None:
        raise ValueError("materialised() takes an AudienceLedger built by audience_ledger()")
    with ExitStack() as releases:

        def keep(table: ir.Table) -> ir.Table:
            cached = table.cache()
            releases.callback(cached.release)
            return cached

        typed, _ = _part_of(audience.whole, keep(audience.ids), keep)
        yield replace(audience, typed=typed)


def _part_of(
    typed: Mapping[str, ir.Table], ids: ir.Table, keep: Callable[[ir.Table], ir.Table]
) -> tuple[dict[str, ir.Table], dict[str, str]]:
    """The tables of ``typed`` filtered to the customers ``ids`` (each passed through ``keep``), and the tables left
    out → why."""
    tables: dict[str, ir.Table] = {}
    left_out: dict[str, str] = {}
    # customers, invoices and placements first: payments, adjustments and collections follow their keys
    order = sorted(typed, key=lambda t: ("customer_id" not in {c.name for c in TABLES[t].columns}, t))
    for table_name in order:
        table = typed[table_name]
        keys = {c.name for c in TABLES[table_name].columns}
        if table_name in NOT_PER_CUSTOMER:
            left_out[table_name] = NOT_PER_CUSTOMER[table_name]
        elif table_name in REFERENCE_TABLES:
            tables[table_name] = table
        elif "customer_id" in keys:
            tables[table_name] = keep(table.filter(table.customer_id.isin(ids.customer_id)))
        elif "invoice_id" in keys:
            tables[table_name] = keep(table.filter(table.invoice_id.isin(tables["invoices"].invoice_id)))
        elif "placement_id" in keys:
            tables[table_name] = keep(table.filter(table.placement_id.isin(tables["agency_placements"].placement_id)))
        else:  # a contract table added without saying whose it is: never silently whole, never silently empty
            raise RuntimeError(f"{table_name}: the audience filter does not know whose rows this table holds")
    return {t: tables[t] for t in typed if t in tables}, left_out


def _values_there(customers: ir.Table, audience: AudienceConfig[str]) -> str:
    """The end of the no-match message: "; region values there: EMEA, North America" — the values of the
    filter's first column (at most :data:`VALUES_SHOWN`)."""
    column = next(iter(audience.filter))
    values = customers.select(value=customers[column]).distinct().order_by("value").limit(VALUES_SHOWN + 1)
    found = [v for v in values.to_pyarrow().column("value").to_pylist() if v is not None]
    if not found:
        return f"; its {column} column is empty"
    shown = ", ".join(escaped(str(v), one_line=True) for v in found[:VALUES_SHOWN])
    return f"; {column} values there: {shown}" + (", …" if len(found) > VALUES_SHOWN else "")
