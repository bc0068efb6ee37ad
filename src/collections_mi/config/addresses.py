"""E-mail addresses as params take them (``email.sender``, ``email.recipients``, an audience's ``recipients``) and
as the SMTP envelope needs them: one definition of what an address is, with the reason when it is not."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated

from pydantic import AfterValidator

from collections_mi.core.errors import ConfigError
from collections_mi.core.printable import as_written, text_problem

#: an address as it travels in SMTP: a local part, one @, a domain; no spaces, quotes, brackets or separators
_ADDRESS = re.compile(r"^(?P<local>[^\s@<>()\[\],;:\\\"]+)@(?P<domain>[^\s@<>()\[\],;:\\\"]+)$")
#: ``Display Name <address>``: the name without <, >, quotes or list separators
_NAMED_ADDRESS = re.compile(r"^(?P<name>[^<>\",;]*?)\s*<(?P<address>[^<>]*)>$")


def address_problem(text: str) -> str | None:
    """Why ``text`` is not an e-mail address (``ar@example.com`` or ``Accounts Receivable <ar@example.com>``), or
    None. RFC 5321 §4.5.3.1's limits: the address at most 254 characters, its local part 64, its domain 255; a
    display name at most 200."""
    problem = text_problem(text)
    if problem is not None:
        return problem
    named = _NAMED_ADDRESS.match(text.strip())
    address = named.group("address") if named else text.strip()
    match = _ADDRESS.match(address)
    if match is None or (named is not None and len(named.group("name")) > 200):
        return f'{as_written(text)} is not an e-mail address such as ar@example.com or "Accounts <ar@example.com>"'
    for part, length, limit in (
        ("address", len(address), 254),
        ("local part (before @)", len(match["local"]), 64),
        ("domain", len(match["domain"]), 255),
    ):
        if length > limit:
            return f"the {part} is {length:,} characters long; at most {limit} (RFC 5321)"
    return None


def checked_addresses(addresses: Sequence[str], key: str) -> list[str]:
    """``addresses`` stripped, each an e-mail address (:func:`address_problem`); otherwise a
    :class:`ConfigError` naming ``key`` (e.g. ``email.sender``): never a header with a line break."""
    checked = []
    for number, address in enumerate(addresses):
        problem = address_problem(address)
        if problem is not None:
            where = key if len(addresses) == 1 else f"{key}, address {number + 1}"
            raise ConfigError(
                f"{where}: {problem}", hint="give e-mail addresses such as ar@example.com, on one line each"
            )
        checked.append(address.strip())
    return checked


def bare_address(text: str) -> str:
    """``Accounts <ar@example.com>`` → ``ar@example.com`` (the SMTP envelope's address)."""
    named = _NAMED_ADDRESS.match(text.strip())
    return named.group("address") if named else text.strip()


def _address(value: str) -> str:
    problem = address_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value.strip()


EmailAddress = Annotated[str, AfterValidator(_address)]
