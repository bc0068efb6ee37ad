"""Params: ``params/<YYYY-MM>.yaml`` → a typed, strict :class:`Params` object.

Unknown keys, wrong types, impossible dates and rates outside [0, 1] are rejected with a
:class:`~collections_mi.core.errors.ConfigError` naming the key. Defaults are those of shared/metrics.md.
Numbers in YAML are read as exact decimals (``0.005`` stays ``Decimal('0.005')``).

The file is read by a bounded loader (:mod:`collections_mi.config.yaml_loader`: no duplicate keys, anchors, aliases or
tags; at most 1 MiB), and params text is plain text: every key and text value is at most :data:`MAX_TEXT`
characters (less where noted: :data:`TEXT_LIMITS`) and holds no line break, tab, control character or Unicode
bidirectional control (a tab only as a CSV delimiter).
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from collections_mi.config.addresses import EmailAddress
from collections_mi.config.audiences import AudienceConfig, AudienceName
from collections_mi.config.targets import TARGET_KPIS, Targets
from collections_mi.config.yaml_loader import MAX_BYTES, YamlRefused, load_yaml
from collections_mi.core.contract import RISK_GRADES, TABLES, RiskGrade
from collections_mi.core.currencies import ISO_4217
from collections_mi.core.errors import ConfigError
from collections_mi.core.printable import as_written, escaped, text_problem

Rate = Annotated[Decimal, Field(ge=0, le=1)]

#: the longest text any params key or value may hold (Linux's PATH_MAX: a source.location path)
MAX_TEXT = 4096
#: tighter limits, by what the text is (characters); see README.md § Params
TEXT_LIMITS = {
    "report.company": 200,
    "source names (table, column, values)": 1024,
    "source.schema": 255,
    "csv date_format / encoding": 100,
    "email.smtp.host": 253,  # a DNS name (RFC 1035)
    "email.smtp.user": 256,
    "e-mail address": 254,  # RFC 5321 §4.5.3.1: local part 64, domain 255, a path 256 with its <>
    "e-mail display name": 200,
}
#: how many recipients one email may have (RFC 5321 §4.5.3.1.8: a server must accept 100)
MAX_RECIPIENTS = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


#: the strptime codes a ``date_format`` may use: those Python and DuckDB read alike
DATE_FORMAT_CODES = frozenset("dmYybBaAjHIMSfp%")
#: thousands separators a CSV may use ("" = none)
THOUSANDS_SEPARATORS = ("", ",", ".", " ", "'", "\u00a0", "\u202f")


@dataclass(frozen=True)
class CsvDialect:
    """How one CSV file is written (data-contract.md §1.1); the defaults are §1's."""

    delimiter: str = ","
    decimal: str = "."
    thousands: str = ""
    date_format: str = "%Y-%m-%d"
    encoding: str = "utf-8"

    @property
    def is_default(self) -> bool:
        return self == CsvDialect()

    @property
    def utf8(self) -> bool:
        return codecs.lookup(self.encoding).name in ("utf-8", "utf-8-sig")

    @property
    def iso_dates(self) -> bool:
        return self.date_format == "%Y-%m-%d"

    @property
    def plain_numbers(self) -> bool:
        return self.decimal == "." and not self.thousands

    def number(self, text: str) -> str:
        """A contract number (``1234.56``) written in this dialect (``1.234,56``)."""
        whole, _, fraction = text.partition(".")
        if self.thousands and len(whole) > 3:
            groups: list[str] = []
            while len(whole) > 3:
                whole, tail = whole[:-3], whole[-3:]
                groups.insert(0, tail)
            whole = self.thousands.join([whole, *groups])
        return whole + (self.decimal + fraction if fraction else "")

    def date_layout(self) -> str:
        """``date_format`` for a person: ``%d.%m.%Y`` → ``DD.MM.YYYY``."""
        words = {"%d": "DD", "%m": "MM", "%Y": "YYYY", "%y": "YY", "%b": "Mon", "%B": "Month", "%%": "%"}
        return re.sub(r"%.", lambda m: words.get(m.group(0), m.group(0)), self.date_format)


class CsvConfig(_Strict):
    """``source.csv`` / ``source.tables.<t>.csv``: how the CSV files are written. A key left out inherits (from
    ``source.csv``, then §1's defaults: ``,`` separated, ``.`` decimals, no thousands separator, ISO dates, UTF-8)."""

    delimiter: str | None = None
    decimal: Literal[".", ","] | None = None
    thousands: str | None = None
    date_format: Annotated[str, Field(max_length=100)] | None = None
    encoding: Annotated[str, Field(max_length=100)] | None = None

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 1 or value in '"\r\n'):
            raise ValueError(f'the delimiter is one character such as ; or , or a tab ("\\t"), got {value!r}')
        return value

    @field_validator("thousands")
    @classmethod
    def _separator(cls, value: str | None) -> str | None:
        if value is not None and value not in THOUSANDS_SEPARATORS:
            raise ValueError(
                f"thousands is one of {', '.join(repr(s) for s in THOUSANDS_SEPARATORS)} ('' = none), got {value!r}"
            )
        return value

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str | None) -> str | None:
        if value is None:
            return value
        unknown = sorted(set(re.findall(r"%(.)", value)) - DATE_FORMAT_CODES)
        if unknown:
            raise ValueError(
                f"{value!r} uses %{', %'.join(unknown)}; a date_format uses the strptime codes "
                "%d %m %Y %y %b %B %a %A %j %H %I %M %S %f %p, e.g. %d.%m.%Y"
            )
        sample = dt.datetime(2026, 10, 31)
        try:
            back = dt.datetime.strptime(sample.strftime(value), value)
        except ValueError:
            back = None
        if back is None or back.date() != sample.date():
            raise ValueError(f"{value!r} does not give back a whole date (day, month and year), e.g. %d.%m.%Y")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError(
                    f"{value!r} is not a text encoding Python knows (e.g. utf-8, cp1252, latin-1, utf-16)"
                ) from None
        return value


def _text_key(value: Any) -> Any:
    """A key of ``values``: the source's value as text. YAML reads unquoted Yes/No/On/Off/True/False as booleans,
    which would lose how the source writes them."""
    if isinstance(value, bool) or value is None:
        raise ValueError(
            f"the source value {value!r} must be quoted text: YAML reads unquoted Yes/No/On/Off/true/"
            'false as a boolean (write "Yes": true)'
        )
    return str(value) if isinstance(value, (int, Decimal)) else value


SourceText = Annotated[str, BeforeValidator(_text_key), Field(max_length=1024)]
#: a table or column name in the source (a CSV header may hold spaces and any letters)
SourceName = Annotated[str, Field(min_length=1, max_length=1024)]
#: a file inside the source folder
SourcePath = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class TableSourceConfig(_Strict):
    """``source.tables.<t>``: where one contract table is in the source and what its columns are called there."""

    #: files: the file in the source folder (default ``<table>.parquet``, else ``<table>.csv``)
    file: SourcePath | None = None
    #: duckdb / ibis / spark: the source's table (spark: ``<table>.parquet`` under the location)
    table: SourceName | None = None
    csv: CsvConfig | None = None

    @field_validator("file")
    @classmethod
    def _inside_folder(cls, value: str | None) -> str | None:
        if value is None:
            return value
        path = PurePath(value.replace("\\", "/"))
        if path.is_absolute() or value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value) or ".." in path.parts:
            raise ValueError(
                f'{value!r} must be a file inside source.location (a name such as "Sales Invoice.csv", '
                "no absolute path and no ..)"
            )
        return value

    @property
    def columns_map(self) -> dict[str, str]:
        """contract column → the source's column, for the columns mapped."""
        columns = getattr(self, "columns", None)
        return {k: v for k, v in columns.model_dump().items() if v is not None} if columns is not None else {}

    @property
    def values_map(self) -> dict[str, dict[str, Any]]:
        """contract column → {source value: contract value}."""
        values = getattr(self, "values", None)
        return {k: dict(v) for k, v in values.model_dump().items() if v} if values is not None else {}


def _table_models() -> type[BaseModel]:
    """``source.tables``: one optional entry per contract table, whose ``columns`` and ``values`` accept only that
    table's contract columns (extra keys are rejected by name like every other params key)."""
    config = ConfigDict(extra="forbid", frozen=True)
    tables: dict[str, Any] = {}
    for name, spec in TABLES.items():
        # (type, default) of each field, built at run time: Any to the type checker
        column_fields: dict[str, Any] = {c.name: (SourceName | None, None) for c in spec.columns}
        value_fields: dict[str, Any] = {
            c.name: ((dict[SourceText, bool] if c.type == "bool" else dict[SourceText, SourceName]) | None, None)
            for c in spec.columns
            if c.type in ("string", "bool")
        }
        columns = create_model(f"{name}_columns", __config__=config, **column_fields)
        values = create_model(f"{name}_values", __config__=config, **value_fields)
        model = create_model(
            f"{name}_source",
            __base__=TableSourceConfig,
            columns=(columns, Field(default_factory=columns)),
            values=(values, Field(default_factory=values)),
        )
        tables[name] = (model | None, None)
    return create_model("SourceTables", __config__=config, **tables)


SourceTables = _table_models()


class SourceConfig(_Strict):
    """Where the ledger is. ``files``: a folder of CSV/Parquet; ``duckdb``: a .duckdb file; ``ibis``: an Ibis URL
    (``postgres://user@host/db``, ``pyspark://?spark.master=…``; tables in ``schema``); ``spark``: a folder or URI of
    ``<table>.parquet`` files read by Spark (the session from Spark's own configuration, else ``local[*]``).

    ``csv`` and ``tables`` read a system's own export (data-contract.md §1.1): its file or table names, column
    names, values, and the CSV dialect."""

    kind: Literal["files", "duckdb", "ibis", "spark"] = "files"
    location: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    schema_: Annotated[str, Field(max_length=255)] | None = Field(default=None, alias="schema")
    csv: CsvConfig | None = None
    tables: SourceTables = Field(default_factory=SourceTables)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _fits_the_kind(self) -> SourceConfig:
        if self.csv is not None and self.kind != "files":
            raise ValueError(
                f"source.csv: CSV files are read only with source.kind files (this source is {self.kind}); remove it"
            )
        for name in TABLES:
            entry = self.table_config(name)
            if entry is None:
                continue
            if entry.file is not None and self.kind != "files":
                raise ValueError(
                    f"source.tables.{name}.file: a file is named only with source.kind files; with "
                    f"{self.kind} name the source's table with source.tables.{name}.table"
                )
            if entry.table is not None and self.kind == "files":
                raise ValueError(
                    f"source.tables.{name}.table: with source.kind files name the file with source.tables.{name}.file"
                )
            if entry.csv is not None and self.kind != "files":
                raise ValueError(f"source.tables.{name}.csv: CSV files are read only with source.kind files")
            dialect = self.csv_for(name)
            if dialect.thousands and dialect.thousands == dialect.decimal:
                raise ValueError(
                    f"source.tables.{name}: the thousands separator and the decimal mark are both {dialect.decimal!r}"
                )
        if self.csv is not None:
            dialect = self.csv_for(None)
            if dialect.thousands and dialect.thousands == dialect.decimal:
                raise ValueError(
                    f"source.csv: the thousands separator and the decimal mark are both {dialect.decimal!r}"
                )
        return self

    def table_config(self, table: str) -> TableSourceConfig | None:
        return getattr(self.tables, table)

    def csv_for(self, table: str | None) -> CsvDialect:
        """The CSV dialect of ``table``'s file: §1's defaults, then ``source.csv``, then ``tables.<t>.csv``."""
        settings: dict[str, str] = {}
        entry = self.table_config(table) if table is not None else None
        for layer in (self.csv, entry.csv if entry is not None else None):
            if layer is not None:
                settings.update({k: v for k, v in layer.model_dump().items() if v is not None})
        return CsvDialect(**settings)

    def columns_for(self, table: str) -> dict[str, str]:
        entry = self.table_config(table)
        return entry.columns_map if entry is not None else {}

    def values_for(self, table: str) -> dict[str, dict[str, Any]]:
        entry = self.table_config(table)
        return entry.values_map if entry is not None else {}


class AgingConfig(_Strict):
    basis: Literal["due_date", "invoice_date"] = "due_date"
    buckets: list[Annotated[int, Field(gt=0)]] = Field(default_factory=lambda: [30, 60, 90, 120])

    @field_validator("buckets")
    @classmethod
    def _increasing(cls, bounds: list[int]) -> list[int]:
        if not bounds:
            raise ValueError("give at least one bucket bound, e.g. [30, 60, 90, 120]")
        if any(b <= a for a, b in zip(bounds, bounds[1:])):
            raise ValueError(f"bucket bounds must be strictly increasing, got {bounds}")
        return bounds

    @property
    def labels(self) -> list[str]:
        """Bucket labels in order, e.g. current, 1-30, 31-60, 61-90, 91-120, 120+."""
        return bucket_labels(self.basis, self.buckets)


def bucket_labels(basis: str, bounds: list[int]) -> list[str]:
    first = ["current"] if basis == "due_date" else []
    lower = 1 if basis == "due_date" else 0
    labels = list(first)
    for bound in bounds:
        labels.append(f"{lower}-{bound}")
        lower = bound + 1
    labels.append(f"{bounds[-1]}+")
    return labels


class DsoConfig(_Strict):
    window_months: Annotated[int, Field(ge=1, le=24)] = 3
    countback_month_days: Literal["actual", 30] = "actual"


class CeiConfig(_Strict):
    sales: Literal["window_total", "monthly_average"] = "window_total"


DEFAULT_ALLOWANCE_RATES: dict[str, Decimal] = {
    "current": Decimal("0.005"),
    "1-30": Decimal("0.02"),
    "31-60": Decimal("0.08"),
    "61-90": Decimal("0.2"),
    "91-120": Decimal("0.5"),
    "120+": Decimal("1.0"),
}


class WriteOffCandidatesConfig(_Strict):
    """Which open items are proposed for write-off approval (an extension of metrics.md; any rule qualifies)."""

    min_days_past_due: Annotated[int, Field(ge=1)] = 180
    no_payment_days: Annotated[int, Field(ge=1)] = 120
    disputed_days: Annotated[int, Field(ge=1)] = 90


@dataclass(frozen=True)
class QualitativeScope:
    """Which items a qualitative factor covers: every item (``all``), the items of some aging buckets, or the items
    of customers in some segments."""

    kind: Literal["all", "bucket", "segment"]
    values: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "all":
            return "all items"
        return f"{self.kind} {', '.join(self.values)}"


def _scope(value: Any) -> QualitativeScope:
    """``all``, ``{bucket: 91-120}``, ``{bucket: [91-120, 120+]}``, ``{segment: Retail}`` (or a list)."""
    if isinstance(value, QualitativeScope):
        return value
    if value == "all":
        return QualitativeScope("all")
    if isinstance(value, dict) and len(value) == 1:
        ((key, chosen),) = value.items()
        if key in ("bucket", "segment"):
            chosen = [chosen] if isinstance(chosen, str) else chosen
            if (
                isinstance(chosen, list)
                and chosen
                and all(isinstance(v, str) and v.strip() and len(v) <= 200 for v in chosen)
            ):
                return QualitativeScope(key, tuple(dict.fromkeys(v.strip() for v in chosen)))
            raise ValueError(f"{key}: give one {key} or a list of them (non-empty text)")
    raise ValueError("write `all`, `{bucket: <label or list of labels>}` or `{segment: <name or list of names>}`")


def _scope_as_written(scope: QualitativeScope) -> Any:
    return "all" if scope.kind == "all" else {scope.kind: list(scope.values)}


NonBlank = Annotated[str, Field(min_length=1, max_length=2000)]


class QualitativeFactor(_Strict):
    """One entry of the qualitative-factor register (metrics.md v1.1): the allowance of the items in ``scope`` is
    multiplied by 1 + (the adjustment_pct of every factor covering them) / 100."""

    factor: Annotated[str, Field(min_length=1, max_length=200)]
    scope: Annotated[QualitativeScope, BeforeValidator(_scope), PlainSerializer(_scope_as_written)] = QualitativeScope(
        "all"
    )
    adjustment_pct: Annotated[Decimal, Field(ge=-100, le=1000)]
    rationale: NonBlank
    approved_by: Annotated[str, Field(min_length=1, max_length=200)]

    @field_validator("factor", "rationale", "approved_by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty: the register says what each factor is, why, and who approved it")
        return value.strip()


class AllowanceConfig(_Strict):
    method: Literal["aging_rates", "roll_rate", "vintage"] = "aging_rates"
    rates: dict[str, Rate] | None = None
    lookback_months: Annotated[int, Field(ge=1, le=60)] = 12
    overlay: Annotated[Decimal, Field(ge=0, le=10)] = Decimal("1.0")
    write_off_candidates: WriteOffCandidatesConfig = Field(default_factory=WriteOffCandidatesConfig)
    #: v1.1 qualitative-factor register, applied in order to the method's allowance
    qualitative: Annotated[list[QualitativeFactor], Field(max_length=50)] = Field(default_factory=list)

    @field_validator("qualitative")
    @classmethod
    def _unique_factors(cls, factors: list[QualitativeFactor]) -> list[QualitativeFactor]:
        names = [f.factor for f in factors]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"each factor once: {', '.join(repeated)} "
                f"{'appears' if len(repeated) == 1 else 'appear'} more than once"
            )
        return factors


def _general_rates() -> dict[RiskGrade, Decimal]:
    """The default general reserve rate of each risk grade."""
    return {
        "pass": Decimal("0.01"),
        "special_mention": Decimal("0.05"),
        "substandard": Decimal("0.15"),
        "doubtful": Decimal("0.5"),
        "loss": Decimal("1.0"),
    }


class WatchlistConfig(_Strict):
    general_rates: dict[RiskGrade, Rate] = Field(default_factory=_general_rates)

    @field_validator("general_rates")
    @classmethod
    def _all_grades(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        missing = [g for g in RISK_GRADES if g not in rates]
        if missing:
            raise ValueError(f"give a rate for every risk grade; missing: {', '.join(missing)}")
        return rates


class ReportConfig(_Strict):
    """Presentation choices (an extension of the contract; all optional)."""

    #: shown in the pack's title line and the email (none: "Collections MI · 2026-10")
    company: Annotated[str, Field(max_length=200)] = ""
    top_customers: Annotated[int, Field(ge=1, le=500)] = 15
    trend_months: Annotated[int, Field(ge=2, le=60)] = 13
    #: KPI id → {target, amber, red} (config/targets.py); the status beside the KPI on the index, email and PDF
    targets: Targets = Field(default_factory=Targets)  # type: ignore[valid-type]
    audiences: dict[AudienceName, AudienceConfig[EmailAddress]] = Field(default_factory=dict)  # config/audiences.py


class SmtpConfig(_Strict):
    """SMTP server for `collections-mi send`. The password is never here: $COLLECTIONS_MI_SMTP_PASSWORD only."""

    host: Annotated[str, Field(min_length=1, max_length=253)] = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    user: Annotated[str, Field(max_length=256)] | None = None
    security: Literal["starttls", "ssl", "none"] = "starttls"
    timeout_seconds: Annotated[int, Field(ge=1, le=600)] = 30


class EmailConfig(_Strict):
    """``email.sender`` is the From header (and the SMTP envelope sender); ``recipients`` the To header."""

    sender: EmailAddress = "collections-mi@localhost"
    recipients: Annotated[list[EmailAddress], Field(max_length=MAX_RECIPIENTS)] = Field(default_factory=list)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)


class Params(_Strict):
    as_of: dt.date
    reporting_currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    source: SourceConfig
    aging: AgingConfig = Field(default_factory=AgingConfig)
    dso: DsoConfig = Field(default_factory=DsoConfig)
    cei: CeiConfig = Field(default_factory=CeiConfig)
    allowance: AllowanceConfig = Field(default_factory=AllowanceConfig)
    watchlist: WatchlistConfig = Field(default_factory=WatchlistConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    email: EmailConfig = Field(default_factory=EmailConfig)

    @field_validator("reporting_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if value not in ISO_4217:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP)")
        return value

    @field_validator("as_of", mode="before")
    @classmethod
    def _real_date(cls, value: Any) -> Any:
        if isinstance(value, dt.datetime):
            raise ValueError("as_of must be a date (YYYY-MM-DD), not a timestamp")
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                raise ValueError(f"{value!r} is not a calendar date in the form YYYY-MM-DD") from None
        return value

    @model_validator(mode="after")
    def _allowance_rates_match_buckets(self) -> Params:
        labels = self.aging.labels
        rates = self.allowance.rates
        if rates is None:
            self._qualitative_buckets_exist(labels)
            if labels != list(DEFAULT_ALLOWANCE_RATES):
                raise ValueError(
                    "allowance.rates: the aging buckets are not the default ones, so give a rate for each "
                    f"bucket: {', '.join(labels)}"
                )
            return self
        self._qualitative_buckets_exist(labels)
        missing = [b for b in labels if b not in rates]
        extra = [b for b in rates if b not in labels]
        if missing or extra:
            raise ValueError(
                "allowance.rates: keys must be the aging bucket labels "
                f"{labels}; missing {missing or 'none'}, unknown {extra or 'none'}"
            )
        return self

    def _qualitative_buckets_exist(self, labels: list[str]) -> None:
        for position, factor in enumerate(self.allowance.qualitative):
            unknown = [v for v in factor.scope.values if factor.scope.kind == "bucket" and v not in labels]
            if unknown:
                raise ValueError(
                    f"allowance.qualitative.{position}.scope.bucket: {', '.join(unknown)} is not an aging bucket; "
                    f"the buckets are {', '.join(labels)}"
                )

    @property
    def period(self) -> str:
        """The pack's period, ``YYYY-MM`` of as_of."""
        return f"{self.as_of:%Y-%m}"

    @property
    def allowance_rates(self) -> dict[str, Decimal]:
        return dict(self.allowance.rates) if self.allowance.rates is not None else dict(DEFAULT_ALLOWANCE_RATES)


def _key_path(loc: tuple[Any, ...]) -> str:
    if loc and loc[-1] == "[key]":  # a mapping's key is wrong: name the mapping (the key is in the message)
        loc = loc[:-2]
    return ".".join(str(p) for p in loc if not str(p).startswith("function-")) or "(top level)"


def parse_params(data: Any, *, origin: str = "params") -> Params:
    """Validate a mapping (already parsed YAML) into :class:`Params`."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{origin}: expected a mapping of keys at the top level, got {type(data).__name__}",
            hint="see README.md § Params for an example",
        )
    problems = [f"  {key}: {problem}" for key, problem in _text_problems(data, ())]
    if problems:
        raise ConfigError(
            f"{origin}: invalid params\n"
            + "\n".join(problems[:20])
            + (f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""),
            hint="params text is plain text on one line, of bounded length: remove the characters "
            "named above or shorten the text",
        )
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = _key_path(err["loc"])
            if err["type"] == "extra_forbidden":
                lines.append(f"  {key}: unknown key ({_unknown_key_help(err['loc'])})")
            elif err["type"] == "missing":
                lines.append(f"  {key}: required key is missing")
            else:
                given = err.get("input")
                shown = "" if isinstance(given, dict) else f" (got {as_written(given)})"
                lines.append(f"  {key}: {err['msg']}{shown}")
        if len(lines) > 20:
            lines[20:] = [f"  … and {len(lines) - 20} more"]
        raise ConfigError(
            f"{origin}: invalid params\n" + "\n".join(lines),
            hint="correct the keys named above; defaults are documented in README.md § Params",
        ) from None


#: the keys whose text may hold a tab: a CSV delimiter
_TAB_ALLOWED = re.compile(r"^source(\.tables\.[^.]+)?\.csv\.delimiter$")


def _text_problems(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(key, problem) for every key and text in raw params that is too long or not plain one-line text."""
    key = ".".join(escaped(p, one_line=True) for p in path) or "(top level)"
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            yield key, f"is {len(value):,} characters long; text in params is at most {MAX_TEXT:,} characters"
            return
        problem = text_problem(value, allow_tab=bool(_TAB_ALLOWED.match(".".join(path))))
        if problem is not None:
            yield key, problem
    elif isinstance(value, dict):
        for name, item in value.items():
            if isinstance(name, str):
                problem = (
                    f"a key is {len(name):,} characters long; at most {MAX_TEXT:,}"
                    if len(name) > MAX_TEXT
                    else text_problem(name)
                )
                if problem is not None:
                    yield key, problem.replace("contains", f"the key {escaped(name[:40], one_line=True)!r} contains", 1)
                    continue
            yield from _text_problems(item, (*path, str(name)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _text_problems(item, (*path, str(index)))


def _unknown_key_help(loc: tuple[Any, ...]) -> str:
    """What may stand where an unknown key was found: under ``source.tables``, the contract's names."""
    parts = [str(p) for p in loc]
    if parts[:2] == ["report", "targets"]:
        return f"not a KPI id of kpis.json: {', '.join(TARGET_KPIS)}" if len(parts) == 3 else "give target, amber, red"
    if parts[:2] == ["source", "tables"]:
        if len(parts) == 3:
            return f"not a table of the data contract: {', '.join(TABLES)}"
        table = TABLES.get(parts[2])
        if table is not None and len(parts) == 5 and parts[3] == "columns":
            return f"not a column of {table.name} in the data contract: {', '.join(c.name for c in table.columns)}"
        if table is not None and len(parts) == 5 and parts[3] == "values":
            mapped = [c.name for c in table.columns if c.type in ("string", "bool")]
            return f"values maps the text and yes/no columns of {table.name}: {', '.join(mapped)}"
        if table is not None and len(parts) == 4:
            return "a table's source says file, table, columns, values or csv"
    return "check spelling; see README.md § Params"


_PERIOD_FILE = re.compile(r"^(\d{4})-(\d{2})\.ya?ml$")


def load_params(path: str | Path) -> Params:
    """Read and validate a params YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path}", hint="pass --params params/<YYYY-MM>.yaml")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ConfigError(
            f"{path}: the file is {size:,} bytes; params files are at most {MAX_BYTES:,} bytes",
            hint="a params file is a few kB of settings: check that this is the right file",
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: the params file is not UTF-8 text: line {line} holds the byte "
            f"0x{raw[exc.start]:02X} (the file was probably saved as Windows-1252 / Latin-1)",
            hint="save the params file as UTF-8 (any code editor: Save with Encoding › UTF-8)",
        ) from None
    try:
        data = load_yaml(text)
    except YamlRefused as exc:
        raise ConfigError(f"{path}: {exc.message}", hint=exc.hint) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    params = parse_params(data, origin=str(path))
    named = _PERIOD_FILE.match(path.name)
    if named and f"{named.group(1)}-{named.group(2)}" != params.period:
        raise ConfigError(
            f"{path}: as_of {params.as_of} is in period {params.period}, but the file is named for "
            f"{named.group(1)}-{named.group(2)}",
            hint="fix as_of or rename the file to params/<YYYY-MM>.yaml of as_of",
        )
    return params


def resolve_location(location: str, params_path: str | Path | None) -> Path:
    """A ``files``/``duckdb``/``spark`` location: absolute, or relative to the working directory, or to the params file.

    A relative path must stay inside the folder it is relative to (no ``../`` escapes): a params file cannot point
    the pack at an arbitrary place on the machine without saying so with an explicit absolute path."""
    candidate = Path(location).expanduser()
    if candidate.is_absolute():
        return candidate
    bases = [Path.cwd().resolve()]
    if params_path is not None:
        bases.append(Path(params_path).resolve().parent)
    tried = []
    for base in bases:
        path = (base / candidate).resolve()
        if not path.is_relative_to(base):
            raise ConfigError(
                f"source.location {location!r} leaves {base}",
                hint="use a path inside the project or the params folder, or an explicit absolute path",
            )
        tried.append(path)
        if path.exists():
            return path
    return tried[0]


def redact_url(url: str) -> str:
    """A connection URL without its password (user:secret@host → user:***@host)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
    return url


def params_to_jsonable(params: Params) -> dict[str, Any]:
    """Params as a JSON-ready mapping (decimals as strings), for run.json: secrets in a source URL are redacted."""
    data = params.model_dump(mode="json", by_alias=True)
    data["source"]["location"] = redact_url(data["source"]["location"])
    data["source"] = _without_nulls(data["source"])  # the export's mapping as written, not every table's None
    data["report"]["targets"] = _without_nulls(data["report"]["targets"])  # the KPIs with a target only
    return data


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _without_nulls(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in kept.items() if v != {}}
    return value


#: the frozen params of a pack run, in its folder: what its notebooks read (never the live params file)
FROZEN_PARAMS = "params.yaml"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def frozen_params(params: Params, params_path: str | Path | None) -> dict[str, Any]:
    """The params exactly as validated, as a mapping :func:`parse_params` reads back to the same :class:`Params`;
    a ``files``/``duckdb``/local ``spark`` location made absolute (from wherever it is read), a URL's password
    redacted."""
    data = params_to_jsonable(params)
    location = params.source.location
    if params.source.kind != "ibis" and not _URL.match(location):
        data["source"]["location"] = str(resolve_location(location, params_path))
    return data


class _PlainDumper(yaml.SafeDumper):
    """SafeDumper that never writes an anchor or alias (the params loader refuses them), even for a value that
    appears twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_frozen_params(params: Params, params_path: str | Path | None, folder: Path) -> Path:
    """``folder/params.yaml``: :func:`frozen_params` as YAML, checked to load back to the same values."""
    target = folder / FROZEN_PARAMS
    data = frozen_params(params, params_path)
    source = escaped(str(params_path), one_line=True)
    target.write_text(
        f"# The params of this run as validated at its start (from {source}); the notebooks read\n"
        "# this copy, never the live file. Written by collections_mi: editing it changes nothing already published.\n"
        + yaml.dump(data, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True, width=1000),
        encoding="utf-8",
    )
    again = load_params(target)
    unchanged = {"source": {"location"}}
    if again.model_dump(exclude=unchanged) != params.model_dump(exclude=unchanged):
        raise RuntimeError(f"{target}: the frozen params do not read back to the validated ones")
    return target
