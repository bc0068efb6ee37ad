"""``report.audiences`` (data-contract.md v1.1 §4): named slices of the pack, each computed on the part of the ledger
that belongs to the customers its filter selects, published in ``<pack>/audiences/<name>/`` with its own email.

```yaml
report:
  audiences:
    emea: {filter: {region: EMEA}, recipients: [emea-head@example.com]}
    key-accounts: {filter: {segment: [Enterprise, Public]}}
```

The audience's name is a folder name (lower-case letters, digits, ``-`` and ``_``); its filter maps customers columns
to a value or a list of values (several columns: a customer must match each); its recipients are validated like
``email.recipients`` (in :mod:`collections_mi.config.params`, which holds the address rules). Whether the filter's
columns exist and match a customer is checked against the ledger (``collections_mi.sources.audiences``)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

#: an audience's name: its folder under audiences/ — the same on every file system (no capitals, which a
#: case-insensitive disk would merge), never ".", ".." or hidden
AUDIENCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: the folder of the audience packs inside a period's pack: <pack>/audiences/<name>/
AUDIENCES_DIR = "audiences"
#: the most recipients one email may have (RFC 5321 §4.5.3.1.8: a server must accept 100), as for email.recipients
MAX_RECIPIENTS = 100
#: the most values one filter column may list
MAX_FILTER_VALUES = 1000
#: the longest filter value (text) and column name
MAX_FILTER_TEXT = 1024


def _audience_name(name: str) -> str:
    if not AUDIENCE_NAME.match(name):
        raise ValueError(
            f"{name!r} cannot name an audience: an audience's name is its folder name — 1 to 64 lower-case letters, "
            "digits, '-' or '_', starting with a letter or digit (e.g. emea, north-america, key_accounts)"
        )
    return name


def _column_name(name: str) -> str:
    if not name.strip() or len(name) > MAX_FILTER_TEXT:
        raise ValueError(f"{name!r} is not a column name: give a column of the customers table, e.g. region")
    return name.strip()


def _filter_values(value: Any) -> tuple[str, ...]:
    """A value or a list of values → their text, as the customers table holds it (``1`` → ``"1"``)."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError("give at least one value (an empty list matches no customer)")
    if len(values) > MAX_FILTER_VALUES:
        raise ValueError(f"{len(values):,} values; a filter column lists at most {MAX_FILTER_VALUES:,}")
    texts = []
    for item in values:
        if isinstance(item, bool):
            raise ValueError(
                f"YAML reads an unquoted {str(item).lower()} (or yes, no, on, off) as a yes/no value, not text: "
                "quote the value as the customers table writes it, e.g. region: 'NO'"
            )
        if not isinstance(item, (str, int, Decimal)):
            raise ValueError(
                f"{item!r} is not a value to match: give the text the customers table holds, e.g. EMEA (a list "
                "for several values)"
            )
        text = str(item).strip()
        if not text or len(text) > MAX_FILTER_TEXT:
            raise ValueError(f"{item!r}: a filter value is 1 to {MAX_FILTER_TEXT} characters of text")
        texts.append(text)
    return tuple(dict.fromkeys(texts))


AudienceName = Annotated[str, AfterValidator(_audience_name)]
FilterColumn = Annotated[str, AfterValidator(_column_name)]
FilterValues = Annotated[tuple[str, ...], BeforeValidator(_filter_values)]


#: an e-mail address as params validate it (``collections_mi.config.params.EmailAddress``, which holds the rules)
Address = TypeVar("Address")


class AudienceConfig(BaseModel, Generic[Address]):
    """``report.audiences.<name>``: which customers belong to the audience and who receives its email. Params use it
    as ``AudienceConfig[EmailAddress]``, so recipients are validated exactly like ``email.recipients``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    #: customers column → the values it may hold (text, compared with the column's trimmed text)
    filter: Annotated[dict[FilterColumn, FilterValues], Field(min_length=1, max_length=20)]
    #: the To of the audience's email.eml (`collections-mi send --audience NAME` sends to them)
    recipients: Annotated[list[Address], Field(max_length=MAX_RECIPIENTS)] = Field(default_factory=list)

    def describe(self) -> str:
        """The filter in words: "region = EMEA", "segment in Enterprise, Public and region = EMEA"."""
        parts = [
            f"{column} = {values[0]}" if len(values) == 1 else f"{column} in {', '.join(values)}"
            for column, values in self.filter.items()
        ]
        return " and ".join(parts)
