"""Text from the data, made safe to show: control characters escaped before a message reaches a terminal or a
report file.

A ledger value is shown in error messages as it is (``customer_id=C7``). Raw, an ANSI/OSC escape sequence in it
(``\\x1b]0;pwned\\x07`` retitles the terminal window, ``\\x1b[31m`` colours everything after it, ``\\r`` or
``\\x08`` overwrite what was printed) would act on the user's terminal instead of being read. :func:`escaped` shows
every such character as its Python escape, e.g. ``\\x1b``; line feeds and tabs, which messages are made of, stay.
Standard library only: the CLI imports it on its error path.
"""

from __future__ import annotations

import re

#: C0 controls but tab and line feed, DEL, the C1 controls (0x9b is CSI, 0x9d OSC on some terminals), and the
#: Unicode bidirectional overrides and isolates, which reorder how the text around them is displayed
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escaped(text: str) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``, ``\\r``→``\\x0d``, ``\\u202e``)."""
    return _CONTROL.sub(_escape, text)
