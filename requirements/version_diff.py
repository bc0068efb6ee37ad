"""What differs between two pip-compile outputs: ``python requirements/version_diff.py LOCK NEWEST``.

Prints one line per package whose pinned version differs (``duckdb  2.0.1 -> 2.1.0``), is new or is gone, then a
count; ``make upgrade-check`` shows it for the lock against the newest versions pyproject.toml allows. Reads both
files, writes nothing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(path: Path) -> dict[str, str]:
    """Package (normalised name, PEP 503) → pinned version, from a requirements file's ``name==version`` lines."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def differences(locked: dict[str, str], newest: dict[str, str]) -> list[str]:
    changed = sorted(name for name in locked.keys() | newest.keys() if locked.get(name) != newest.get(name))
    width = max((len(name) for name in changed), default=0)
    return [
        f"  {name:<{width}}  {locked.get(name) or '(not in the lock)'} -> {newest.get(name) or '(no longer needed)'}"
        for name in changed
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    lock, newest = Path(argv[1]), Path(argv[2])
    lines = differences(pins(lock), pins(newest))
    if not lines:
        print(f"versions: the newest allowed are exactly the lock's ({lock})")
        return 0
    print(f"versions: {len(lines)} package(s) differ between the lock ({lock}) and the newest allowed:")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
