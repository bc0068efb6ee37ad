"""Text from the data or a file, made safe to show: what does not belong in plain text named, and escaped before a
message reaches a terminal, a report file or a page.

A ledger value is shown in error messages as it is (``customer_id=C7``). Raw, an ANSI/OSC escape sequence in it
(``\\x1b]0;pwned\\x07`` retitles the terminal window, ``\\x1b[31m`` colours everything after it, ``\\r`` or
``\\x08`` overwrite what was printed) would act on the user's terminal instead of being read. :func:`escaped` shows
every such character as its Python escape, e.g. ``\\x1b``; line feeds and tabs, which messages are made of, stay
unless the text is to stay on one line (a name, a key). :func:`character_problem` says what is wrong with one
character, for the params' checks of one-line text. One definition for both, below.
Standard library only: the CLI imports it on its error path.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

#: line breaks YAML or a mail header would take as the end of a line
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
#: Unicode bidirectional embeddings, overrides and isolates: they reorder how the text around them is displayed
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def character_problem(char: str, *, allow_tab: bool = False) -> str | None:
    """What is wrong with ``char`` in plain one-line text ("a line break", "a control character"…), or None."""
    code = ord(char)
    if char in LINE_BREAKS:
        return "a line break"
    if char == "\t":
        return None if allow_tab else "a tab"
    if code < 0x20 or 0x7F <= code < 0xA0:
        return "a control character"
    if char in BIDI_CONTROLS:
        return "a bidirectional-text control"
    if 0xD800 <= code < 0xE000:
        return "an unpaired surrogate"
    return None


def text_problem(text: str, *, allow_tab: bool = False) -> str | None:
    """The first character that does not belong in plain one-line text, described for a message; or None."""
    for position, char in enumerate(text, start=1):
        problem = character_problem(char, allow_tab=allow_tab)
        if problem is not None:
            return f"contains {problem} (character U+{ord(char):04X} at position {position})"
    return None


#: every character :func:`character_problem` names: C0 controls (tab and line feed among them), DEL, the C1
#: controls (0x9b is CSI, 0x9d OSC on some terminals), the Unicode line and paragraph separators, the bidirectional
#: controls and unpaired surrogates
_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
#: the same but line feeds and tabs, which a multi-line message is made of
_MULTI_LINE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
#: the short spellings of the two characters only one-line text escapes
_SHORT = {"\n": "\\n", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    return _SHORT.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def escaped(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``, ``\\r``→``\\x0d``, ``\\u202e``);
    with ``one_line`` line feeds and tabs too (``\\n``, ``\\t``), for a name quoted inside a message."""
    return (_ONE_LINE if one_line else _MULTI_LINE).sub(_escape, text)


def as_written(value: Any, limit: int = 80) -> str:
    """A value as the user wrote it in YAML: 1.5, not Decimal('1.5'); text quoted (controls escaped by repr); a
    long value cut to ``limit`` characters with its length."""
    shown = (
        str(value) if isinstance(value, (Decimal, int, float, dt.date)) and not isinstance(value, bool) else repr(value)
    )
    if len(shown) <= limit:
        return shown
    size = f"{len(value):,} characters" if isinstance(value, str) else f"{len(shown):,} characters written out"
    return f"{shown[:limit]}… ({size})"
