"""The result of one section's computation: typed KPIs, typed tables and the conventions in force.

A section declares what it publishes (:mod:`collections_mi.metrics.published`): a :class:`SectionKpis` dataclass
whose fields are its KPI ids and a :class:`SectionTables` dataclass whose fields are its tables. Each table field
declares the file it is published as (``tables/<file>.csv``, the Excel sheet, the history table) with
:func:`published`; a KPI or table that needs optional contract data says so with ``needs`` (data-contract.md §1).
A table the ledger cannot give holds :class:`Unavailable` in its field, so ``result.tables.by_segment`` is either
the frame or the reason, never a missing key. Persistence, Excel and history iterate the fields
(:meth:`SectionTables.published`), so they stay generic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import pandas as pd

from collections_mi.config.params import Params
from collections_mi.core.values import shared_values

KpiValue = Decimal | int | None
#: what one output (a table or KPI id) needs: (table, column) pairs of the data contract, column None = the table
#: with rows
Needs = tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class Unavailable:
    """A table (or KPI) the ledger cannot give, and why: shown as "Not available: <reason>" where it would stand."""

    reason: str

    def __str__(self) -> str:
        return f"Not available: {self.reason}."


#: a published table: the frame, or why the ledger cannot give it
Table = pd.DataFrame | Unavailable


@dataclass(frozen=True)
class FirstRows:
    """The first rows of a table and how many rows it has: what a page shows of a long list."""

    frame: pd.DataFrame
    rows: int


class TableReader(Protocol):
    """Reads a published table (by its published name) that :meth:`SectionTables.read_when_used` has not read yet:
    whole, or only its first rows."""

    def __call__(self, file: str) -> pd.DataFrame: ...

    def first_rows(self, file: str, count: int) -> FirstRows: ...

    def keeps(self, file: str) -> bool:
        """Whether a table once read is kept (else it is read again each time it is used)."""
        ...


@dataclass(frozen=True)
class Declared:
    """What a KPI or table field declares about itself (read with :meth:`SectionKpis.declared` /
    :meth:`SectionTables.declared`)."""

    #: the table's published name: tables/<file>.csv, its Excel sheet and its history table (None for a KPI)
    file: str | None = None
    #: optional contract data it needs; without it the output is left out, with the reason
    needs: Needs = ()
    #: when it needs them (None: always), e.g. only with params.allowance.method roll_rate
    when: Callable[[Params], bool] | None = None
    #: the column that identifies a row and the value a restatement compares row by row (keyed tables only)
    key: str | None = None
    measure: str | None = None

    def needs_under(self, params: Params) -> Needs:
        """``needs`` if they apply under ``params``, else ()."""
        return self.needs if self.when is None or self.when(params) else ()


_DECLARED = "collections_mi.declared"
#: where a :class:`SectionTables` made by :meth:`SectionTables.read_when_used` keeps the tables not read yet
_UNREAD = "_collections_mi_unread"


def published(
    file: str,
    *,
    needs: Needs = (),
    when: Callable[[Params], bool] | None = None,
    key: str | None = None,
    measure: str | None = None,
) -> dict[str, Declared]:
    """The metadata of a table field: ``field(metadata=published("aging_by_segment", needs=...))``."""
    return {_DECLARED: Declared(file, needs, when, key, measure)}


def needing(needs: Needs, when: Callable[[Params], bool] | None = None) -> dict[str, Declared]:
    """The metadata of a KPI field that needs optional contract data: ``field(metadata=needing(ADJUSTMENTS))``."""
    return {_DECLARED: Declared(None, needs, when)}


def _declarations(cls: type) -> dict[str, Declared]:
    return {f.name: f.metadata.get(_DECLARED, Declared()) for f in dataclasses.fields(cls)}


SelfKpis = TypeVar("SelfKpis", bound="SectionKpis")
SelfTables = TypeVar("SelfTables", bound="SectionTables")


@dataclass
class SectionKpis:
    """A section's KPIs: each field one KPI id, its value exact (Decimal / int) or None when the ledger cannot give
    it (kpis.json omits it, pages show why). Field order is kpis.json's order."""

    @classmethod
    def ids(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def declared(cls) -> dict[str, Declared]:
        """KPI id → what it declares (``needs``)."""
        return _declarations(cls)

    @classmethod
    def none(cls: type[SelfKpis]) -> SelfKpis:
        """Every KPI not available."""
        return cls.from_values({})

    @classmethod
    def from_values(cls: type[SelfKpis], values: Mapping[str, Any]) -> SelfKpis:
        """The KPIs from ``values`` (kpis.json); a KPI it lacks is None."""
        return cls(**{kpi: values.get(kpi) for kpi in cls.ids()})

    def items(self) -> list[tuple[str, KpiValue]]:
        """(KPI id, value) in declared order."""
        return [(kpi, getattr(self, kpi)) for kpi in self.ids()]

    def value(self, kpi: str) -> KpiValue:
        """The value of KPI ``kpi`` (for generic code that holds an id, such as a tile's)."""
        if kpi not in self.ids():
            raise KeyError(f"{type(self).__name__} has no KPI {kpi!r}")
        value: KpiValue = getattr(self, kpi)
        return value


@dataclass
class SectionTables:
    """A section's tables: each field one table — a frame, or :class:`Unavailable` — declaring its published name.
    Field order is the order of tables/, the workbook's sheets and the history."""

    @classmethod
    def declared(cls) -> dict[str, Declared]:
        """Field name → what it declares (published file, needs, row key)."""
        return _declarations(cls)

    @classmethod
    def files(cls) -> dict[str, str]:
        """Field name → published name (tables/<name>.csv)."""
        files = {}
        for name, declared in cls.declared().items():
            if declared.file is None:
                raise TypeError(f"{cls.__name__}.{name} declares no published name: field(metadata=published(...))")
            files[name] = declared.file
        return files

    @classmethod
    def from_published(
        cls: type[SelfTables], frames: Mapping[str, pd.DataFrame], reasons: Mapping[str, str]
    ) -> SelfTables:
        """The tables from ``frames`` (published name → frame, as tables/ holds them); a table not among them is
        :class:`Unavailable` with its recorded reason."""
        return cls(
            **{
                name: frames[file] if file in frames else _not_written(file, reasons)
                for name, file in cls.files().items()
            }
        )

    @classmethod
    def read_when_used(
        cls: type[SelfTables],
        read: TableReader,
        files: Collection[str],
        reasons: Mapping[str, str],
    ) -> SelfTables:
        """The tables of the published names ``files``, each read by ``read(published name)`` the first time it is
        used, then kept (unless ``read.keeps`` says otherwise: then read each time); a table not among ``files`` is
        :class:`Unavailable` with its recorded reason. A page that never shows a section's long lists does not hold
        them: at 10M invoices the DSO page's kernel read 450,000 promises (189 MB as Python objects) and every aging
        table only to show a few of them."""
        tables = cls.__new__(cls)
        unread: dict[str, str] = {}
        for name, file in cls.files().items():
            if file in files:
                unread[name] = file
            else:
                tables.__dict__[name] = _not_written(file, reasons)
        tables.__dict__[_UNREAD] = (unread, read)
        return tables

    if not TYPE_CHECKING:  # mypy keeps checking attribute names: only the declared fields exist

        def __getattr__(self, name: str) -> Any:
            """A table of :meth:`read_when_used` not read yet: read now (called only when ``name`` is not set)."""
            unread, read = self.__dict__.get(_UNREAD, ({}, None))
            file = unread.get(name)
            if file is None:
                if name in self.__dict__:  # read and kept meanwhile by another thread
                    return self.__dict__[name]
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            table = read(file)
            if read.keeps(file):
                # kept first, then no longer unread: another thread looking in between finds it in one of the two
                # places (and `pop`, not `del`: that thread may have read and kept it too)
                setattr(self, name, table)
                unread.pop(name, None)
            return table

    def at_rest(self: SelfTables, reader: TableReader) -> SelfTables:
        """These tables as :meth:`read_when_used` gives them from ``reader``, which holds them in a compact form
        (the pack's :class:`~collections_mi.store.history.TablesAtRest`): the frames themselves are let go."""
        files = self.available_files()
        reasons = {
            file: table.reason
            for name, file in self.files().items()
            if name not in files and isinstance(table := self.__dict__.get(name), Unavailable)
        }
        return self.read_when_used(reader, list(files.values()), reasons)

    def available_files(self) -> dict[str, str]:
        """Field name → published name of each table that is not :class:`Unavailable`, in declared order, reading
        none."""
        unread = self.__dict__.get(_UNREAD, ({}, None))[0]
        available = {}
        for name, file in self.files().items():
            if name in self.__dict__:
                if not isinstance(self.__dict__[name], Unavailable):
                    available[name] = file
            elif name in unread:
                available[name] = file
        return available

    def first_rows(self, name: str, count: int) -> FirstRows | Unavailable:
        """The first ``count`` rows of the table ``name`` (a field name) and how many it has — of a table
        :meth:`read_when_used` has not read yet, only those rows are read (a page shows the first rows of a list of
        750,000 forecast items without holding them)."""
        files = self.files()
        if name not in files:
            raise AttributeError(f"{type(self).__name__!r} object has no table {name!r}")
        unread, read = self.__dict__.get(_UNREAD, ({}, None))
        if name in unread and name not in self.__dict__:
            return read.first_rows(files[name], count)
        table = getattr(self, name)
        if isinstance(table, Unavailable):
            return table
        return FirstRows(table.head(count), len(table))

    @classmethod
    def none_available(cls: type[SelfTables], reason: str) -> SelfTables:
        """Every table not available, for ``reason``."""
        return cls(**{name: Unavailable(reason) for name in cls.files()})

    def with_shared_values(self: SelfTables) -> SelfTables:
        """These tables with each object column's equal cells as one object
        (:func:`~collections_mi.core.values.shared_values`): the same values in less memory, which a pack holds
        from compute through its workbook, email and history."""
        return dataclasses.replace(
            self,
            **{
                name: _frame_with_shared_values(table)
                for name in self.files()
                if isinstance(table := getattr(self, name), pd.DataFrame)
            },
        )

    def published(self) -> dict[str, pd.DataFrame]:
        """Published name → frame, for every table available, in declared order."""
        return {file: getattr(self, name) for name, file in self.available_files().items()}


def _not_written(file: str, reasons: Mapping[str, str]) -> Unavailable:
    """A table not among those written: its recorded reason."""
    return Unavailable(reasons.get(file, f"{file} was not computed"))


def _frame_with_shared_values(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :func:`shared_values` in each object column: a new frame whose object columns are all new
    arrays (``frame`` is left as it is). A column kept from ``frame`` would keep its whole block alive — pandas holds
    a frame's object columns in one two-dimensional array — and with it every object the sharing meant to free."""
    if not frame.columns.is_unique:
        return frame
    columns = {}
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position]
        if pd.api.types.is_object_dtype(values.dtype):
            values = pd.Series(shared_values(values.tolist()), index=frame.index, dtype="object", name=column)
        columns[column] = values
    return pd.DataFrame(columns, index=frame.index, columns=frame.columns)


KpisT = TypeVar("KpisT", bound=SectionKpis)
TablesT = TypeVar("TablesT", bound=SectionTables)


@dataclass
class SectionResult(Generic[KpisT, TablesT]):
    """What a metrics module returns: everything the notebook, kpis.json, tables/ and the email show."""

    section: str
    kpis: KpisT
    tables: TablesT
    #: plain-language statements of the conventions used, shown beside the numbers
    conventions: dict[str, str] = field(default_factory=dict)
    #: KPI ids and tables (published names) left out because the ledger lacks what they need → the reason
    #: (data-contract.md §1), in the order they were left out
    unavailable: dict[str, str] = field(default_factory=dict)

    @classmethod
    def nothing_at(
        cls,
        section: str,
        kpis: type[KpisT],
        tables: type[TablesT],
        reason: str,
        conventions: dict[str, str] | None = None,
    ) -> SectionResult[KpisT, TablesT]:
        """A section whose tables exist but hold nothing for the as-of date: every KPI and table not available."""
        result = cls(section, kpis.none(), tables.none_available(reason), dict(conventions or {}))
        result.omit([*kpis.ids(), *tables.files()], reason)
        return result

    def omit(self, names: Iterable[str], reason: str) -> None:
        """Leave out the KPIs (ids) and tables (field names) ``names`` and record why."""
        kpi_ids, files = self.kpis.ids(), self.tables.files()
        for name in names:
            if name not in kpi_ids and name not in files:
                raise KeyError(f"the {self.section} section has no KPI or table {name!r}")
            if name in kpi_ids:
                setattr(self.kpis, name, None)  # the id stays (pages show "–"); kpis.json leaves it out
                self.unavailable[name] = reason
            if name in files:
                setattr(self.tables, name, Unavailable(reason))
                self.unavailable[files[name]] = reason
