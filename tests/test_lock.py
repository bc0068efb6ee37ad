"""The committed dependency lock (requirements/*.txt, written by `make lock`) is complete and agrees with pyproject.

``make install``/``make test`` install from it with ``--require-hashes``: every package pinned exactly, with hashes,
the same version in the three files, and every bound of pyproject.toml met — a change of pyproject.toml without
`make lock` fails here instead of installing whatever is newest that day. No package index is written into it (pip's
own configuration says where packages come from).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from conftest import ROOT

LOCK = ROOT / "requirements"
FILES = {"base": [], "dev": ["dev"], "warehouse": ["dev", "warehouse"]}
_ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)(?P<rest>(?:\s*\\\n\s+--hash=sha256:"
    r"[0-9a-f]{64})*)",
    re.MULTILINE,
)


def locked(name: str) -> dict[str, tuple[Version, int]]:
    """Package → (pinned version, number of hashes) of requirements/<name>.txt."""
    text = (LOCK / f"{name}.txt").read_text(encoding="utf-8")
    return {
        canonicalize_name(m["name"]): (Version(m["version"]), m["rest"].count("--hash=sha256:"))
        for m in _ENTRY.finditer(text)
    }


def wanted(extras: list[str]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        found += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return found


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_line_of_the_lock_is_an_exact_pin_with_hashes(name: str) -> None:
    text = (LOCK / f"{name}.txt").read_text(encoding="utf-8")
    requirement_lines = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    pins = locked(name)
    assert len(pins) == len(requirement_lines) > 100, [
        line for line in requirement_lines if not _ENTRY.match(line + "\n")
    ][:5]
    assert all(hashes >= 1 for _, hashes in pins.values()), [p for p, (_, h) in pins.items() if not h]
    for option in ("--index-url", "--extra-index-url", "--find-links", "--trusted-host", "file://", "/opt/"):
        assert option not in text, f"requirements/{name}.txt names a package source ({option})"
    assert "setuptools" in pins and "wheel" in pins, "the build backend is locked too (--no-build-isolation)"


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_lock_meets_every_bound_of_pyproject(name: str) -> None:
    pins = locked(name)
    for requirement in wanted(FILES[name]):
        key = canonicalize_name(requirement.name)
        assert key in pins, f"{requirement.name} (pyproject.toml) is not in requirements/{name}.txt: run make lock"
        version = pins[key][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements/{name}.txt pins {requirement.name}=={version}, outside pyproject's {requirement}: "
            "run make lock"
        )
    # the known breakages stay excluded (pyproject.toml's comments say why)
    assert pins["sqlglot"][0] < Version("30.18")
    if name == "warehouse":
        assert pins["pyspark"][0] < Version("4.1")


def test_the_three_files_pin_the_same_versions() -> None:
    everything = locked("warehouse")
    for name in ("base", "dev"):
        pins = locked(name)
        assert {p: v for p, (v, _) in pins.items()} == {p: everything[p][0] for p in pins}, name
        assert set(pins) < set(everything)
    assert set(locked("base")) < set(locked("dev"))


def test_version_diff_lists_what_moved(tmp_path: Path) -> None:
    """What `make upgrade-check` prints: the packages whose version differs from the lock, new or gone."""
    newest = (LOCK / "warehouse.txt").read_text(encoding="utf-8")
    duckdb = f"duckdb=={locked('warehouse')['duckdb'][0]} "
    assert duckdb in newest
    newest = newest.replace(duckdb, "duckdb==99.0 ")
    newest = re.sub(r"(?m)^xlsxwriter==.*$", "", newest) + "\nbrand-new==1.0\n"
    (tmp_path / "newest.txt").write_text(newest, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, str(LOCK / "version_diff.py"), str(LOCK / "warehouse.txt"), str(tmp_path / "newest.txt")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == (
        f"versions: 3 package(s) differ between the lock ({LOCK / 'warehouse.txt'}) and the newest allowed:"
    )
    assert lines[1:] == [
        "  brand-new   (not in the lock) -> 1.0",
        f"  duckdb      {duckdb[8:-1]} -> 99.0",
        f"  xlsxwriter  {locked('warehouse')['xlsxwriter'][0]} -> (no longer needed)",
    ]
