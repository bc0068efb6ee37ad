"""Params: ``params/<YYYY-MM>.yaml`` → a typed, strict :class:`Params` object.

Unknown keys, wrong types, impossible dates and rates outside [0, 1] are rejected with a
:class:`~collections_mi.errors.ConfigError` naming the key. Defaults are those of shared/metrics.md.
Numbers in YAML are read as exact decimals (``0.005`` stays ``Decimal('0.005')``).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from collections_mi.currencies import ISO_4217
from collections_mi.errors import ConfigError

Rate = Annotated[Decimal, Field(ge=0, le=1)]
RISK_GRADES = ("pass", "special_mention", "substandard", "doubtful", "loss")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SourceConfig(_Strict):
    """Where the ledger is. ``files``: a folder of CSV/Parquet; ``duckdb``: a .duckdb file; ``ibis``: an Ibis URL
    (``postgres://user@host/db``, ``pyspark://?spark.master=…``; tables in ``schema``); ``spark``: a folder or URI of
    ``<table>.parquet`` files read by Spark (the session from Spark's own configuration, else ``local[*]``)."""

    kind: Literal["files", "duckdb", "ibis", "spark"] = "files"
    location: str
    schema_: str | None = Field(default=None, alias="schema")


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
    "current": Decimal("0.005"), "1-30": Decimal("0.02"), "31-60": Decimal("0.08"),
    "61-90": Decimal("0.2"), "91-120": Decimal("0.5"), "120+": Decimal("1.0"),
}


class WriteOffCandidatesConfig(_Strict):
    """Which open items are proposed for write-off approval (an extension of metrics.md; any rule qualifies)."""

    min_days_past_due: Annotated[int, Field(ge=1)] = 180
    no_payment_days: Annotated[int, Field(ge=1)] = 120
    disputed_days: Annotated[int, Field(ge=1)] = 90


class AllowanceConfig(_Strict):
    method: Literal["aging_rates", "roll_rate"] = "aging_rates"
    rates: dict[str, Rate] | None = None
    lookback_months: Annotated[int, Field(ge=1, le=60)] = 12
    overlay: Annotated[Decimal, Field(ge=0, le=10)] = Decimal("1.0")
    write_off_candidates: WriteOffCandidatesConfig = Field(default_factory=WriteOffCandidatesConfig)


class WatchlistConfig(_Strict):
    general_rates: dict[Literal["pass", "special_mention", "substandard", "doubtful", "loss"], Rate] = Field(
        default_factory=lambda: {
            "pass": Decimal("0.01"), "special_mention": Decimal("0.05"), "substandard": Decimal("0.15"),
            "doubtful": Decimal("0.5"), "loss": Decimal("1.0"),
        }
    )

    @field_validator("general_rates")
    @classmethod
    def _all_grades(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        missing = [g for g in RISK_GRADES if g not in rates]
        if missing:
            raise ValueError(f"give a rate for every risk grade; missing: {', '.join(missing)}")
        return rates


class ReportConfig(_Strict):
    """Presentation choices (an extension of the contract; all optional)."""

    company: str = "Demo Co"
    top_customers: Annotated[int, Field(ge=1, le=500)] = 15
    trend_months: Annotated[int, Field(ge=2, le=60)] = 13


class SmtpConfig(_Strict):
    """SMTP server for `collections-mi send`. The password is never here: $COLLECTIONS_MI_SMTP_PASSWORD only."""

    host: str = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    user: str | None = None
    security: Literal["starttls", "ssl", "none"] = "starttls"
    timeout_seconds: Annotated[int, Field(ge=1, le=600)] = 30


class EmailConfig(_Strict):
    sender: str = "collections-mi@localhost"
    recipients: list[str] = Field(default_factory=list)
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
            if labels != list(DEFAULT_ALLOWANCE_RATES):
                raise ValueError(
                    "allowance.rates: the aging buckets are not the default ones, so give a rate for each "
                    f"bucket: {', '.join(labels)}"
                )
            return self
        missing = [b for b in labels if b not in rates]
        extra = [b for b in rates if b not in labels]
        if missing or extra:
            raise ValueError(
                "allowance.rates: keys must be the aging bucket labels "
                f"{labels}; missing {missing or 'none'}, unknown {extra or 'none'}"
            )
        return self

    @property
    def period(self) -> str:
        """The pack's period, ``YYYY-MM`` of as_of."""
        return f"{self.as_of:%Y-%m}"

    @property
    def allowance_rates(self) -> dict[str, Decimal]:
        return dict(self.allowance.rates) if self.allowance.rates is not None else dict(DEFAULT_ALLOWANCE_RATES)


class _DecimalLoader(yaml.SafeLoader):
    """SafeLoader that reads floats as exact Decimals and leaves dates as text for strict parsing."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node).replace("_", ""))


def _date_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)
_DecimalLoader.add_constructor("tag:yaml.org,2002:timestamp", _date_text)


def _key_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if not str(p).startswith("function-")) or "(top level)"


def parse_params(data: Any, *, origin: str = "params") -> Params:
    """Validate a mapping (already parsed YAML) into :class:`Params`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping of keys at the top level, got {type(data).__name__}",
                          hint="see README.md § Params for an example")
    try:
        return Params.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = _key_path(err["loc"])
            if err["type"] == "extra_forbidden":
                lines.append(f"  {key}: unknown key (check spelling; see README.md § Params)")
            elif err["type"] == "missing":
                lines.append(f"  {key}: required key is missing")
            else:
                given = err.get("input")
                shown = "" if isinstance(given, dict) else f" (got {_shown(given)})"
                lines.append(f"  {key}: {err['msg']}{shown}")
        raise ConfigError(f"{origin}: invalid params\n" + "\n".join(lines),
                          hint="correct the keys named above; defaults are documented in README.md § Params") from None


def _shown(value: Any) -> str:
    """A value as the user wrote it in YAML: 1.5, not Decimal('1.5'); text quoted."""
    return str(value) if isinstance(value, (Decimal, int, float, dt.date)) and not isinstance(value, bool) else repr(value)


_PERIOD_FILE = re.compile(r"^(\d{4})-(\d{2})\.ya?ml$")


def load_params(path: str | Path) -> Params:
    """Read and validate a params YAML file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path}", hint="pass --params params/<YYYY-MM>.yaml")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: the params file is not UTF-8 text: line {line} holds the byte "
                          f"0x{raw[exc.start]:02X} (the file was probably saved as Windows-1252 / Latin-1)",
                          hint="save the params file as UTF-8 (any code editor: Save with Encoding › UTF-8)") from None
    try:
        data = yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - SafeLoader subclass
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
            raise ConfigError(f"source.location {location!r} leaves {base}",
                              hint="use a path inside the project or the params folder, or an explicit absolute path")
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
    return data
