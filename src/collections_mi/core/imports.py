"""Imports a run never uses and pays for anyway."""

from __future__ import annotations

import sys

#: ``rfc3987_syntax`` compiles 38 lark grammars when it is imported — 1.2 s of CPU on this machine. jsonschema
#: imports it, if installed, only to check the JSON-schema formats "iri" and "iri-reference"; it is installed
#: because jupyter-events asks for ``jsonschema[format-nongpl]``, and jsonschema comes in with nbformat, which the
#: pack, every notebook worker (papermill) and the HTML export import. No schema they validate uses those formats
#: (nbformat's notebook schema has none), so every pack paid 1.2 s per process for checks it never makes.
UNUSED_SLOW_IMPORTS = ("rfc3987_syntax",)


def skip_unused_slow_imports() -> None:
    """Make this process's ``import rfc3987_syntax`` fail as if it were not installed (jsonschema then leaves the
    two IRI formats unchecked). A module already imported stays as it is; call this before nbformat or jsonschema
    are imported — the command line does so first thing, the notebook workers before papermill."""
    for name in UNUSED_SLOW_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None in sys.modules: "not importable"
